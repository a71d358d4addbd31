"""Guess the kind of mistake behind a wrong array, from its relation to the right one.

The relations are general (a constant factor, a sign, a transpose), so this
file holds no answer: it is handed both arrays by a hidden test and only says
which mistake kind from `course.hints.KINDS` fits, or None.
"""
import numpy as np


def _proportional(wrong, right, factor, rtol=1e-6):
    with np.errstate(all="ignore"):
        return bool(np.allclose(wrong, factor * right, rtol=rtol, atol=1e-12))


def diagnose_array(wrong, right, m=None):
    """The mistake kind that turns `right` into `wrong`, or None if none is recognised."""
    wrong, right = np.asarray(wrong, dtype=float), np.asarray(right, dtype=float)
    if wrong.shape != right.shape:
        if wrong.T.shape == right.shape:
            return "transposed"
        return "wrong_shape"
    if not np.all(np.isfinite(wrong)):
        return "not_finite"
    if not np.any(right):
        return None
    if _proportional(wrong, right, -1.0):
        return "sign_error"
    if right.ndim == 2 and right.shape[0] == right.shape[1] and _proportional(wrong, right.T, 1.0):
        return "transposed"
    for factor in (2.0, 0.5):
        if _proportional(wrong, right, factor):
            return "factor_of_two"
    if m:
        if _proportional(wrong, right, float(m)):
            return "missing_mean"
        if _proportional(wrong, right, 1.0 / m):
            return "extra_mean"
    return None
