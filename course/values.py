"""Checks of numbers and arrays a student's code returns.

Values are converted with `float()` / `np.asarray(..., dtype=float)` before any
comparison: an object that pretends to be equal to everything earns nothing.
"""
import warnings

import numpy as np

from .checks import CheckFailed
from .diagnose import diagnose_array
from .hints import describe, first_match, record


def as_float(name, value):
    """The student's value as a Python float, or a CheckFailed saying why not."""
    if value is None or value is Ellipsis:
        raise CheckFailed(f"{name} is not defined yet.")
    if isinstance(value, (str, bytes)):
        raise CheckFailed(f"{name} should be a number, not a string.")
    try:
        number = float(value)
    except Exception:
        raise CheckFailed(f"{name} should be a number (got a {type(value).__name__}).") from None
    if type(number) is not float:  # a float subclass could override comparisons
        number = float.__float__(number)
    return number


def as_array(name, value, shape=None):
    """The student's value as a float64 array (of `shape` if given), or a CheckFailed."""
    if value is None or value is Ellipsis:
        raise CheckFailed(f"{name} is not defined yet (got None).")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            array = np.array(np.asarray(value, dtype=float), dtype=np.float64, copy=True)
    except Exception:
        raise CheckFailed(f"{name} should be an array of numbers (got a {type(value).__name__}).") from None
    if shape is not None and array.shape != tuple(shape):
        record(name, "wrong_shape")
        raise CheckFailed(f"{name} has shape {array.shape}, expected {tuple(shape)}. Hint: {describe('wrong_shape')}")
    return array


def close(a, b, rtol=1e-6, atol=1e-9):
    with np.errstate(all="ignore"):
        a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        return a.shape == b.shape and bool(np.all(np.abs(a - b) <= atol + rtol * np.abs(b)))


def _fail(name, kind):
    if kind is None:
        raise CheckFailed(f"{name} is not correct.")
    record(name, kind)
    raise CheckFailed(f"{name} is not correct. Hint: {describe(kind)}")


def check_number(name, student, expected, rtol=1e-6, atol=0.0, mistakes=None):
    """Pass silently, or raise CheckFailed naming the likely mistake.

    The tolerance is relative by default: a tiny expected value (say 3e-30)
    is not matched by 0.0. Give `atol` where the expected value may be 0.
    """
    value = as_float(name, student)
    if not np.isfinite(value):
        _fail(name, "not_finite")
    if close(value, float(expected), rtol, atol):
        return
    _fail(name, first_match(value, mistakes or {}, lambda s, w: close(s, float(w), rtol, atol)))


def check_array(name, student, expected, rtol=1e-6, atol=1e-9, mistakes=None, context=None):
    """Compare arrays; on a mismatch name the mistake from `mistakes` or, failing that, diagnose it.

    `context` is passed to `diagnose_array` (e.g. {"m": batch_size}) so it can
    recognise a missing 1/m.
    """
    expected = np.asarray(expected, dtype=float)
    array = as_array(name, student, expected.shape if expected.ndim else None)
    if array.shape != expected.shape:
        _fail(name, "wrong_shape")
    if not np.all(np.isfinite(array)):
        _fail(name, "not_finite")
    if close(array, expected, rtol, atol):
        return
    kind = first_match(array, mistakes or {}, lambda s, w: close(s, w, rtol, atol))
    _fail(name, kind or diagnose_array(array, expected, **(context or {})))
