"""Guess the kind of mistake behind a wrong array, from its relation to the right one.

The relations are general (a shape that is the transpose or the reduction over
another axis, a constant factor such as 2, m or 1/m, a sign, entries that are
not finite), so this file holds no answer: a hidden test hands it both arrays
and it only says which mistake kind from `course.hints.KINDS` fits, or None.
It never reports values, so its verdict is safe to show to a student.
"""
import warnings

import numpy as np


def _as_float_array(value):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.asarray(value, dtype=float)
    except Exception:
        return None


def _proportional(wrong, right, factor, rtol=1e-6, atol=1e-12):
    """wrong == factor * right entrywise (within a tolerance relative to the scale of right)."""
    if wrong.shape != right.shape:
        return False
    with np.errstate(all="ignore"):
        scale = float(np.max(np.abs(right))) if right.size else 0.0
        return bool(np.allclose(wrong, factor * right, rtol=rtol, atol=atol + 1e-9 * abs(factor) * scale))


def best_factor(wrong, right):
    """The least-squares c with wrong ≈ c·right, if that fit is (nearly) exact; else None."""
    with np.errstate(all="ignore"):
        denominator = float(np.sum(right * right))
        if not np.isfinite(denominator) or denominator == 0.0:
            return None
        factor = float(np.sum(wrong * right)) / denominator
    if not np.isfinite(factor) or factor == 0.0:
        return None
    return factor if _proportional(wrong, right, factor, rtol=1e-5) else None


def _reduced_axes(shape):
    """Positions of size-1 axes (where a keepdims reduction left its mark)."""
    return {axis for axis, size in enumerate(shape) if size == 1}


def diagnose_shape(wrong, right):
    """The mistake kind behind a shape mismatch ("transposed", "wrong_axis", "dropped_dimension", "wrong_shape")."""
    if wrong.ndim == 2 and right.ndim == 2 and wrong.shape == right.shape[::-1]:
        if wrong.shape[0] != 1 and wrong.shape[1] != 1:
            return "transposed"
        # a row where a column is expected: a transpose if the values are the same, otherwise
        # (different lengths or values) a reduction over the other axis
        if wrong.size == right.size and np.allclose(wrong.T, right, equal_nan=False):
            return "transposed"
        return "wrong_axis"
    if wrong.size == right.size and np.squeeze(wrong).shape == np.squeeze(right).shape:
        return "dropped_dimension"
    if right.size > 1 and wrong.size == 1:
        return "wrong_axis"  # reduced over every axis
    if _reduced_axes(right.shape) and wrong.ndim == right.ndim and _reduced_axes(wrong.shape) - _reduced_axes(right.shape):
        return "wrong_axis"  # reduced, but over another axis
    if right.ndim == 2 and 1 in right.shape and wrong.ndim == 1 and wrong.size != right.size:
        return "wrong_axis"  # reduced over the other axis without keepdims
    return "wrong_shape"


def diagnose_array(wrong, right, m=None, factors=True):
    """The mistake kind that turns `right` into `wrong`, or None if none is recognised.

    `m` (a batch size) lets it recognise a missing or extra 1/m. With
    `factors` true, any other constant factor is reported as "constant_factor".
    """
    wrong, right = _as_float_array(wrong), _as_float_array(right)
    if wrong is None:
        return "wrong_shape"
    if right is None:
        return None
    if wrong.shape != right.shape:
        return diagnose_shape(wrong, right)
    if not np.all(np.isfinite(wrong)):
        return "not_finite"
    if not np.any(right):
        return None
    if _proportional(wrong, right, -1.0):
        return "sign_error"
    if right.ndim == 2 and right.shape[0] == right.shape[1] and _proportional(wrong, right.T, 1.0):
        return "transposed"
    if m and float(m) not in (1.0, 2.0):
        if _proportional(wrong, right, float(m)):
            return "missing_mean"
        if _proportional(wrong, right, 1.0 / float(m)):
            return "extra_mean"
    for factor in (2.0, 0.5):
        if _proportional(wrong, right, factor):
            return "factor_of_two"
    if factors:
        factor = best_factor(wrong, right)
        if factor is not None and not np.isclose(factor, 1.0):
            return "sign_error" if np.isclose(factor, -1.0) else "constant_factor"
    return None
