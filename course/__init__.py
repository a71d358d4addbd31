"""Checking tools for Tutorial 08 — Backpropagation.

Notebooks' tests import from here. Nothing here is an answer to an exercise:
expected values and wrong variants are built inside the hidden tests.
"""
from .checks import CheckFailed, require
from .expressions import Verdict, check_expression, compare
from .values import as_array, as_float, check_array, check_number

__all__ = [
    "CheckFailed", "require", "Verdict", "check_expression", "compare",
    "as_array", "as_float", "check_array", "check_number",
]
