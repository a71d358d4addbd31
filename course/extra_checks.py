"""Checks the core modules leave out: exact constants, several wrong variants per kind, mutation.

- `Mistakes`: wrong variants as (kind, wrong) pairs, so that several variants can
  share one kind (a log in base 2 OR base 10 is the same mistake). It can be
  passed wherever a `{kind: wrong}` mapping is accepted (check_expression,
  check_number, check_array, check_exact).
- `check_exact`: a constant that must be given exactly (a SymPy number such as
  a Rational or a logarithm). A float is accepted only if it IS the value (0.5
  is exactly one half); a decimal approximation fails with its own hint.
  (`check_expression` with no variables has no points to compare mistakes at.)
- `check_unchanged`: the student's function left its array arguments alone.

Finite differences and quiet calls into student code live in `course.gradients`.

Nothing here is an answer: the expected values and the wrong variants are built
inside the hidden tests and handed in.
"""
import numpy as np
import sympy as sp

from .checks import CheckFailed
from .expressions import as_expression
from .hints import describe, first_match, record
from .timelimit import call_with_timeout


class Mistakes(list):
    """[(kind, wrong), ...]: like a {kind: wrong} dict, but a kind may appear more than once."""

    def __init__(self, pairs=()):
        pairs = list(pairs.items()) if isinstance(pairs, dict) else list(pairs)
        for pair in pairs:
            describe(pair[0])  # an unknown kind is an authoring error: fail loudly
        super().__init__(pairs)

    def items(self):
        return list(self)


def _fail(name, kind=None, message=None):
    """Raise CheckFailed for `name`, with the hint of `kind` (recorded) if there is one."""
    text = message or f"{name} is not correct."
    if kind is None:
        raise CheckFailed(text)
    record(name, kind)
    raise CheckFailed(f"{text} Hint: {describe(kind)}")


def check_unchanged(name, before, after):
    """Fail with `mutates_input` unless each array in `after` equals its copy in `before`.

    `before` and `after` map an argument name to an array; `before` holds copies
    taken before the student's function was called.
    """
    for argument, original in before.items():
        if not np.array_equal(np.asarray(after[argument]), original, equal_nan=True):
            _fail(name, "mutates_input", f"{name} changed its argument {argument}.")


def _exact(expression):
    """The expression with every Float replaced by the rational it stands for exactly."""
    return expression.xreplace({f: sp.Rational(f) for f in expression.atoms(sp.Float)})


def _number(expression, digits=50):
    return complex(sp.N(expression, digits))


def _close(a, b, rtol):
    return abs(a - b) <= rtol * max(1.0, abs(b))


def _exactly_equal(a, b, seconds):
    """True when a == b: proved by SymPy, or (if SymPy gives up) equal to 40 digits."""
    try:
        if call_with_timeout(lambda: sp.simplify(a - b) == 0, seconds):
            return True
    except Exception:
        pass
    return abs(_number(a - b)) < 1e-40 * max(1.0, abs(_number(b)))


def check_exact(name, student, expected, mistakes=None, seconds=5.0, rtol=1e-9):
    """Pass silently if `student` is exactly `expected` (a constant); else raise CheckFailed.

    `mistakes` maps kinds to wrong constants (a dict or `Mistakes`), matched to
    `rtol`. A decimal that only approximates the value fails with the hint
    `float_for_exact`.
    """
    try:
        symbolic = sp.sympify(student, strict=True)
    except Exception:
        symbolic = None
    if isinstance(symbolic, sp.Basic) and symbolic.free_symbols:
        names = ", ".join(sorted(str(s) for s in symbolic.free_symbols))
        raise CheckFailed(f"{name} should be a number, but it still contains the symbol(s) {names}.")
    expression = as_expression(name, student, [])
    exact = _exact(expression)
    try:
        value = _number(exact)
    except Exception:
        raise CheckFailed(f"{name} should be a number (a SymPy value without symbols).") from None
    target = _number(expected)
    if not _close(value, target, rtol):
        kind = first_match(value, mistakes or {}, lambda s, wrong: _close(s, _number(_exact(sp.sympify(wrong))), rtol))
        _fail(name, kind)
    if _exactly_equal(exact, sp.sympify(expected), seconds):
        return
    _fail(name, "float_for_exact" if expression.atoms(sp.Float) else None)
