"""Calling a student's function so that whatever goes wrong becomes a readable failure."""
import warnings

import numpy as np

from .checks import CheckFailed, fail


def _call(description, function, args, kwargs):
    try:
        return function(*args, **kwargs)
    except CheckFailed:
        raise
    except NotImplementedError:
        raise CheckFailed(f"{description}: not implemented yet.") from None


def attempt(description: str, function, *args, **kwargs):
    """function(*args, **kwargs) with warnings silenced; an exception stays the student's own, with
    their line in its traceback, but `description` says which call it was."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            return _call(description, function, args, kwargs)
        except CheckFailed:
            raise
        except Exception as error:
            error.add_note(f"(while running {description})")
            raise


def without_warnings(description: str, hint: str, function, *args, **kwargs):
    """function(*args, **kwargs); any warning it emits (an overflow in exp, say) fails with `hint`."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with np.errstate(all="warn", under="ignore"):
            try:
                value = _call(description, function, args, kwargs)
            except CheckFailed:
                raise
            except Exception as error:
                error.add_note(f"(while running {description})")
                raise
    if caught:
        first = caught[0]
        fail(f"{description} emitted a {first.category.__name__} ({first.message}).", hint, description)
    return value
