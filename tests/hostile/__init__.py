"""Broken and hostile submissions (the catalogue graded by tests/test_hostile.py)."""
