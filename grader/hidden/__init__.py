"""The hidden-test library: what `### BEGIN HIDDEN TESTS` regions import.

    from grader.hidden import *

gives `np`, `sp`, `student` (the notebook's work, as data: `student.value`,
`student.call`, `student.evaluate`), the checks (`check_number`, `check_array`,
`check_expression`, `check_exact`, ...) and reference computations. Hidden tests
run in the grader's process (never in the student's kernel), so everything here
may hold answers; nothing here may run a student's code.
"""
import numpy as np
import sympy as sp

from course.checks import CheckFailed, fail, require
from course.hints import Mistakes, describe
from course.values import as_array, check_array, check_shape, check_unchanged, close_enough
from course import values as _values

from .current import student
from .expressions import Verdict, as_expression, check_exact, check_expression, number
from .graphs import ARITHMETIC, Graph, evaluate_graph, numpy_gradients, random_graph, tensor_code
from .limited import limited
from .references import central_gradient, central_gradients, largest_relative_error


def as_float(name, value):
    """The student's value as a float (a SymPy number is evaluated in a child process)."""
    return _values.as_float(name, number(name, value))


def check_number(name, student_value, expected, rtol=1e-6, atol=0.0, mistakes=None):
    """`course.values.check_number`, with a SymPy number evaluated safely first."""
    _values.check_number(name, number(name, student_value), expected, rtol=rtol, atol=atol, mistakes=mistakes)


__all__ = ["np", "sp", "student", "CheckFailed", "fail", "require", "Mistakes", "describe",
           "as_array", "as_float", "check_array", "check_number", "check_shape", "check_unchanged",
           "close_enough", "Verdict", "as_expression", "check_exact", "check_expression", "limited",
           "ARITHMETIC", "Graph", "evaluate_graph", "numpy_gradients", "random_graph", "tensor_code",
           "central_gradient", "central_gradients", "largest_relative_error"]
