"""Is a student's SymPy expression (or exact constant) equal to the expected one?

Two independent looks, as a careful marker would take:

1. numerically, at random points over both signs and several scales
   (a wrong answer almost always differs somewhere), then
2. symbolically, by asking SymPy to reduce the difference to zero under a
   time limit.

PASS: equal numerically and proved. UNDECIDED: equal at every point but SymPy
could not prove it in time, which is never held against a right answer. FAIL:
differs somewhere, or SymPy proves it differs. All of it runs in a forked child
(`limited`): the student's expression never costs the grader more than its limit.
"""
import enum
import math
import signal
import warnings

import numpy as np
import sympy as sp

from course.checks import CheckFailed, fail
from course.hints import Mistakes, first_match

from .limited import Failed, TimedOut, limited

SCALES = (0.1, 0.5, 1.0, 2.0, 5.0)


class Verdict(enum.Enum):
    PASS = "pass"
    UNDECIDED = "undecided"
    FAIL = "fail"


def as_expression(name: str, value, variables) -> sp.Basic:
    """The value as a SymPy expression in `variables` only, or a CheckFailed saying what is wrong.

    Structural checks only (type, symbols): nothing is evaluated here."""
    if isinstance(value, str):
        raise CheckFailed(f"{name} is a string; write a SymPy expression using the given symbols.")
    if value is None or value is Ellipsis:
        raise CheckFailed(f"{name} is not defined yet.")
    if isinstance(value, bool):
        raise CheckFailed(f"{name} should be a SymPy expression, not True or False.")
    if isinstance(value, (int, float, np.integer, np.floating)):
        value = sp.Float(float(value)) if isinstance(value, (float, np.floating)) else sp.Integer(int(value))
    if not isinstance(value, sp.Expr):
        type_name = getattr(value, "type_name", None) or type(value).__name__
        raise CheckFailed(f"{name} is not a SymPy expression (got a {type_name}).")
    unexpected = value.free_symbols - set(variables)
    if unexpected:
        names = ", ".join(sorted(str(s) for s in unexpected))
        if {str(s) for s in unexpected} & {str(v) for v in variables}:
            raise CheckFailed(f"{name} uses a symbol {names} made anew (with other assumptions); "
                              "use the symbols defined in the setup cell.")
        if not variables:
            raise CheckFailed(f"{name} uses symbol(s) {names}; it should be a constant.")
        allowed = ", ".join(str(v) for v in variables)
        raise CheckFailed(f"{name} uses symbol(s) {names}; it should depend only on {allowed}.")
    return value


# ----------------------------------------------------------------- the comparisons (in the child)

def sample_points(variables, n_points=40, domains=None, seed=0):
    """Random points: per variable, both signs and several scales, or a given (low, high) range."""
    rng = np.random.default_rng(seed)
    domains = domains or {}
    if not variables:
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
    function = sp.lambdify(variables, expression, modules=["mpmath"])
    values = []
    for point in points:
        try:
            values.append(complex(function(*[float(v) for v in point])))
        except Exception:  # noqa: BLE001 (undefined there)
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


class _Alarm(Exception):
    pass


def _within(seconds, function, *args):
    """function(*args), or None once `seconds` have passed (the child's main thread: SIGALRM)."""
    def ring(signum, frame):
        raise _Alarm()
    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return function(*args)
    except _Alarm:
        return None
    except Exception:  # noqa: BLE001 (SymPy could not decide)
        return None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _difference_is_zero(a, b):
    difference = sp.sympify(a - b)
    for rewrite in (lambda e: e, lambda e: e.rewrite(sp.exp)):
        if sp.simplify(rewrite(difference)) == 0:
            return True
    return difference.equals(0)


def compare(student, expected, variables, domains=None, seconds=5.0, n_points=40, seed=0):
    """The verdict for a student's expression against the expected one (call it in a child)."""
    points = sample_points(variables, n_points, domains, seed)
    numeric = numerically_equal(student, expected, variables, points)
    if numeric is False:
        return Verdict.FAIL
    symbolic = _within(seconds, _difference_is_zero, student, expected)
    if symbolic is False:
        return Verdict.FAIL
    if symbolic is True:
        return Verdict.PASS
    return Verdict.UNDECIDED if numeric else Verdict.FAIL


def _judge(name, build, expected, variables, mistakes, domains, seconds):
    student = build
    if callable(build):
        try:
            student = as_expression(name, build(), variables)
        except CheckFailed as failure:
            return ["invalid", str(failure)]
    verdict = compare(student, expected, variables, domains, seconds)
    kind = None
    if verdict is Verdict.FAIL:
        points = sample_points(variables, 40, domains, seed=1)
        kind = first_match(student, mistakes,
                           lambda s, wrong: numerically_equal(s, wrong, variables, points) is True)
    return [verdict.value, kind]


def check_expression(name, student, expected, variables, mistakes=None, domains=None, seconds=5.0):
    """Pass silently, or fail naming the likely mistake (`mistakes`: {kind: wrong expression}).

    `student` is the expression, or a function that builds it from the student's
    expressions (`lambda: outer.subs(u, inner)`): it is then built in the child too.
    Returns the verdict (PASS or UNDECIDED).
    """
    variables = list(variables)
    mistakes = Mistakes(mistakes or {})  # an unknown kind is the author's error: raised here, not in the child
    if not callable(student):
        as_expression(name, student, variables)
    try:
        verdict, kind = limited(_judge, name, student, expected, variables, mistakes, domains, seconds,
                                seconds=seconds + 20)
    except TimedOut:
        raise CheckFailed(f"{name} could not be checked in time (is it unusually large?).") from None
    except Failed as error:
        raise CheckFailed(f"{name} could not be evaluated ({str(error)[:120]}).") from None
    if verdict == "invalid":
        raise CheckFailed(kind)
    if verdict != Verdict.FAIL.value:
        return Verdict(verdict)
    fail(f"{name} is not correct.", kind, name)


# ----------------------------------------------------------------- exact constants

def _exact(expression):
    """The expression with every Float replaced by the rational it stands for exactly."""
    return expression.xreplace({f: sp.Rational(f) for f in expression.atoms(sp.Float)})


def _number(expression, digits=50):
    return complex(sp.N(expression, digits))


def _close(a, b, rtol):
    return abs(a - b) <= rtol * max(1.0, abs(b))


def _judge_exact(student, expected, mistakes, seconds, rtol):
    exact = _exact(student)
    try:
        value = _number(exact)
    except Exception:  # noqa: BLE001
        return ["not_a_number", None]
    if not _close(value, _number(expected), rtol):
        kind = first_match(value, mistakes, lambda s, wrong: _close(s, _number(_exact(sp.sympify(wrong))), rtol))
        return ["wrong", kind]
    proved = _within(seconds, lambda: sp.simplify(exact - expected) == 0)
    if proved or abs(_number(exact - expected)) < 1e-40 * max(1.0, abs(_number(expected))):
        return ["exact", None]
    return ["approximate", "float_for_exact" if student.atoms(sp.Float) else None]


def check_exact(name, student, expected, mistakes=None, seconds=5.0, rtol=1e-9):
    """Pass silently if `student` is exactly `expected` (a constant); otherwise fail.

    A float is accepted only if it IS the value (0.5 is exactly one half); a decimal
    that only approximates it fails with the hint `float_for_exact`.
    """
    if isinstance(student, sp.Basic) and student.free_symbols:
        names = ", ".join(sorted(str(s) for s in student.free_symbols))
        raise CheckFailed(f"{name} should be a number, but it still contains the symbol(s) {names}.")
    student = as_expression(name, student, [])
    mistakes = Mistakes(mistakes or {})
    try:
        outcome, kind = limited(_judge_exact, student, expected, mistakes, seconds, rtol,
                                seconds=seconds + 20)
    except (TimedOut, Failed):
        raise CheckFailed(f"{name} could not be evaluated in time (is it unusually large?).") from None
    if outcome == "not_a_number":
        raise CheckFailed(f"{name} should be a number (a SymPy value without symbols).")
    if outcome != "exact":
        fail(f"{name} is not correct.", kind, name)


def number(name: str, value) -> float:
    """A student's SymPy number as a float, computed in a child; other values are left as they are."""
    if not isinstance(value, sp.Basic):
        return value
    if value.free_symbols:
        raise CheckFailed(f"{name} should be a number, but it contains the symbol(s) "
                          f"{', '.join(sorted(map(str, value.free_symbols)))}.")
    try:
        return limited(lambda: float(value), seconds=10)
    except (TimedOut, Failed):
        raise CheckFailed(f"{name} should be a number that can be evaluated (got {type(value).__name__}).") from None
