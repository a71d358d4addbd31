"""Authoring and testing helpers: simulated submissions built from the source notebooks."""
