"""Is a student's SymPy expression equal to the expected one?

Two independent looks, as a careful marker would take:

1. numerically, at random points over both signs and several scales
   (a wrong answer almost always differs somewhere), then
2. symbolically, by asking SymPy to reduce the difference to zero under a
   time limit.

The outcome is PASS (equal numerically and proved), UNDECIDED (equal at every
point but SymPy could not prove it in time, which is not held against a right
answer) or FAIL (differs at some point, or SymPy proves it differs).
"""
import enum
import math
import warnings

import numpy as np
import sympy as sp

from .checks import CheckFailed
from .hints import describe, first_match, record
from .timelimit import TimedOut, call_with_timeout

SCALES = (0.1, 0.5, 1.0, 2.0, 5.0)


class Verdict(enum.Enum):
    PASS = "pass"
    UNDECIDED = "undecided"
    FAIL = "fail"


def sample_points(variables, n_points=40, domains=None, seed=0):
    """Random points: per variable, both signs and several scales, or a given (low, high) range."""
    rng = np.random.default_rng(seed)
    domains = domains or {}
    if not variables:  # a constant: one "point" with no coordinates
        return np.zeros((1, 0))
    columns = []
    for variable in variables:
        if variable in domains:
            low, high = domains[variable]
            columns.append(rng.uniform(low, high, n_points))
        else:
            magnitudes = rng.uniform(0.2, 1.0, n_points) * rng.choice(SCALES, n_points)
            columns.append(magnitudes * rng.choice([-1.0, 1.0], n_points))
    return np.array(columns).T


def _evaluate(expression, variables, points):
    """The expression's value at each point (complex allowed; nan where undefined)."""
    function = sp.lambdify(variables, expression, modules=["mpmath"])
    values = []
    for point in points:
        try:
            values.append(complex(function(*[float(v) for v in point])))
        except Exception:
            values.append(complex(math.nan, 0.0))
    return np.array(values)


def numerically_equal(a, b, variables, points, rtol=1e-7, atol=1e-10):
    """True/False where enough points are defined for both, None where too few are."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        left, right = _evaluate(a, variables, points), _evaluate(b, variables, points)
    defined = np.isfinite(right)
    if defined.sum() < min(len(points), max(3, len(points) // 4)):
        return None
    left, right = left[defined], right[defined]
    if not np.all(np.isfinite(left)):
        return False
    return bool(np.all(np.abs(left - right) <= atol + rtol * np.abs(right)))


def _difference_is_zero(a, b):
    """Try a few SymPy strategies in turn; True if one proves a == b, False if SymPy finds they differ."""
    difference = sp.sympify(a - b)
    for rewrite in (lambda e: e, lambda e: e.rewrite(sp.exp)):
        if sp.simplify(rewrite(difference)) == 0:
            return True
    return difference.equals(0)


def symbolically_equal(a, b, seconds=5.0):
    """True (proved), False (proved different) or None (could not decide in time)."""
    try:
        return call_with_timeout(_difference_is_zero, seconds, a, b)
    except TimedOut:
        return None
    except Exception:
        return None


def compare(student, expected, variables, domains=None, seconds=5.0, n_points=40, seed=0):
    """The verdict for a student's expression against the expected one."""
    points = sample_points(variables, n_points, domains, seed)
    numeric = numerically_equal(student, expected, variables, points)
    if numeric is False:
        return Verdict.FAIL
    symbolic = symbolically_equal(student, expected, seconds)
    if symbolic is False:
        return Verdict.FAIL
    if symbolic is True and numeric is True:
        return Verdict.PASS
    if symbolic is True:  # too few points were defined, but SymPy proved it
        return Verdict.PASS
    return Verdict.UNDECIDED if numeric else Verdict.FAIL


def as_expression(name, value, variables):
    """The student's value as a SymPy expression, or a CheckFailed saying what is wrong with it."""
    if isinstance(value, str):
        raise CheckFailed(f"{name} is a string; write a SymPy expression using the given symbols.")
    if value is None or value is Ellipsis:
        raise CheckFailed(f"{name} is not defined yet.")
    try:
        expression = sp.sympify(value, strict=True)
    except Exception:
        raise CheckFailed(f"{name} is not a SymPy expression (got a {type(value).__name__}).") from None
    if not isinstance(expression, sp.Basic):
        raise CheckFailed(f"{name} is not a SymPy expression (got a {type(value).__name__}).")
    unexpected = expression.free_symbols - set(variables)
    if unexpected:
        names = ", ".join(sorted(str(s) for s in unexpected))
        if {str(s) for s in unexpected} & {str(v) for v in variables}:
            raise CheckFailed(f"{name} uses a symbol {names} made anew (with other assumptions); "
                              "use the symbols defined in the setup cell.")
        if not variables:
            raise CheckFailed(f"{name} uses symbol(s) {names}; it should be a constant.")
        allowed = ", ".join(str(v) for v in variables)
        raise CheckFailed(f"{name} uses symbol(s) {names}; it should depend only on {allowed}.")
    return expression


def check_expression(name, student, expected, variables, mistakes=None, domains=None, seconds=5.0):
    """Pass silently, or raise CheckFailed naming the likely mistake.

    `mistakes` maps a kind from `course.hints.KINDS` to the wrong expression a
    student with that misconception would write (built in the hidden test).
    Returns the verdict (PASS or UNDECIDED) so a test can report it.
    """
    variables = list(variables)
    student = as_expression(name, student, variables)
    verdict = compare(student, expected, variables, domains, seconds)
    if verdict is not Verdict.FAIL:
        return verdict
    points = sample_points(variables, 40, domains, seed=1)
    kind = first_match(
        student, mistakes or {},
        lambda s, wrong: numerically_equal(s, wrong, variables, points) is True,
    )
    if kind is None:
        raise CheckFailed(f"{name} is not correct.")
    record(name, kind)
    raise CheckFailed(f"{name} is not correct. Hint: {describe(kind)}")
