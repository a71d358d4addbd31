"""Checking tools for Tutorial 08 — Backpropagation.

Notebooks' tests import from here. Nothing here is an answer to an exercise:
expected values and wrong variants are built inside the hidden tests.
"""
from .checks import CheckFailed, require
from .expressions import Verdict, check_expression, compare
from .values import as_array, as_float, check_array, check_number
from .diagnose import diagnose_array
from .gradients import (
    ARITHMETIC, Graph, attempt, check_gradient, check_shape, close_enough, defined_in_notebook, fail,
    graph_gradient_errors, numerical_gradient, numerical_gradients, random_graph,
    relative_error, substitute, without_warnings,
)

__all__ = [
    "CheckFailed", "require", "Verdict", "check_expression", "compare",
    "as_array", "as_float", "check_array", "check_number",
    "diagnose_array", "ARITHMETIC", "Graph", "attempt", "check_gradient", "check_shape", "close_enough",
    "defined_in_notebook", "fail", "graph_gradient_errors", "numerical_gradient",
    "numerical_gradients", "random_graph", "relative_error", "substitute", "without_warnings",
]
