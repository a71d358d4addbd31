"""Comparing numbers and arrays, and naming the mistake when they differ.

Every value is converted with `float()` / `np.asarray(..., dtype=float)` before
it is compared: an object that claims to equal everything earns nothing. One
tolerance rule everywhere: |got - expected| <= atol + rtol * |expected|.
"""
import warnings

import numpy as np

from .checks import CheckFailed, fail
from .diagnose import diagnose_array, diagnose_shape
from .hints import first_match


def _named(name) -> None:
    if not isinstance(name, str):  # the message names the value: as_float("df_dx", df_dx)
        raise TypeError(f"the first argument is the name used in messages (a str), not {type(name).__name__}")


def as_float(name: str, value) -> float:
    """The value as a Python float, or a CheckFailed saying why it is not a number."""
    _named(name)
    if value is None or value is Ellipsis:
        raise CheckFailed(f"{name} is not defined yet.")
    if isinstance(value, (str, bytes)):
        raise CheckFailed(f"{name} should be a number, not a string.")
    try:
        number = float(value)
    except Exception:  # noqa: BLE001 (whatever it is, it is not a number)
        raise CheckFailed(f"{name} should be a number (got a {_type_name(value)}).") from None
    return float.__float__(number)  # a float subclass could override comparisons


def as_array(name: str, value) -> np.ndarray:
    """The value as a new float64 array, or a CheckFailed saying why it is not an array of numbers."""
    _named(name)
    if value is None or value is Ellipsis:
        raise CheckFailed(f"{name} is not defined yet (got None).")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.array(np.asarray(value, dtype=float), dtype=np.float64, copy=True)
    except Exception:  # noqa: BLE001
        raise CheckFailed(f"{name} should be an array of numbers (got a {_type_name(value)}).") from None


def _type_name(value) -> str:
    return getattr(value, "type_name", None) or type(value).__name__


def close_enough(got, expected, rtol: float = 1e-5, atol: float = 1e-8) -> bool:
    """Same shape and |got - expected| <= atol + rtol |expected| everywhere (nan never passes)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got, expected = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    except Exception:  # noqa: BLE001
        return False
    if got.shape != expected.shape:
        return False
    with np.errstate(all="ignore"):
        return bool(np.all(np.abs(got - expected) <= atol + rtol * np.abs(expected)))


def check_number(name: str, student, expected, rtol: float = 1e-6, atol: float = 0.0, mistakes=None) -> None:
    """Pass silently, or fail naming the likely mistake (the first of `mistakes` that matches).

    The tolerance is relative by default: a tiny expected value (say 3e-30) is not
    matched by 0.0. Give `atol` where the expected value may be 0.
    """
    value = as_float(name, student)
    if not np.isfinite(value):
        fail(f"{name} is not correct.", "not_finite", name)
    if close_enough(value, float(expected), rtol, atol):
        return
    kind = first_match(value, mistakes, lambda s, wrong: close_enough(s, float(wrong), rtol, atol))
    fail(f"{name} is not correct.", kind, name)


def check_array(name: str, student, expected, rtol: float = 1e-6, atol: float = 1e-9, mistakes=None,
                m: int | None = None) -> None:
    """Pass silently if `student` matches `expected`; otherwise fail naming the likely mistake.

    `mistakes` ({kind: wrong array}) are tried first, then `diagnose_array` (shape,
    sign, factor 2, transpose, a missing or extra 1/m with `m` the batch size). The
    message names the kind and the expected shape, never a value.
    """
    expected = np.asarray(expected, dtype=np.float64)
    array = as_array(name, student)
    kind = first_match(array, mistakes, lambda got, wrong: close_enough(got, wrong, rtol, atol))
    if array.shape != expected.shape:
        fail(f"{name} has shape {array.shape}, expected {expected.shape}.",
             kind or diagnose_shape(array, expected), name)
    if not np.all(np.isfinite(array)):
        fail(f"{name} holds nan or inf.", "not_finite", name)
    if close_enough(array, expected, rtol, atol):
        return
    fail(f"{name} is not correct.", kind or diagnose_array(array, expected, m=m), name)


def check_shape(name: str, value, shape) -> np.ndarray:
    """The value as an array of `shape`, or fail naming the likely mistake (axis, transpose...)."""
    array = as_array(name, value)
    if array.shape != tuple(shape):
        fail(f"{name} has shape {array.shape}, expected {tuple(shape)}.",
             diagnose_shape(array, np.zeros(shape)), name)
    return array


def check_unchanged(name: str, before: dict, after: dict) -> None:
    """Fail with `mutates_input` unless each array in `after` equals its copy in `before`."""
    for argument, original in before.items():
        if not np.array_equal(np.asarray(after[argument]), np.asarray(original), equal_nan=True):
            fail(f"{name} changed its argument {argument}.", "mutates_input", name)
