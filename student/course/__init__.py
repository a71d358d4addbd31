"""Self-checks for Tutorial 08 — Backpropagation: what the notebooks' visible tests use.

Generic tools only (comparisons that name a mistake, calls that explain failures,
slopes of the given functions); nothing here answers an exercise.
"""
from .calls import attempt, without_warnings
from .checks import CheckFailed, fail, require
from .hints import Mistakes, describe
from .slopes import estimate_gradient
from .values import (as_array, as_float, check_array, check_number, check_shape, check_unchanged,
                     close_enough)

__all__ = ["CheckFailed", "Mistakes", "as_array", "as_float", "attempt", "check_array", "check_number",
           "check_shape", "check_unchanged", "close_enough", "describe", "estimate_gradient", "fail",
           "require", "without_warnings"]
