"""The one way a check fails: a `CheckFailed` whose message is safe to show.

Every check in this package raises `CheckFailed` with a message written for the
student. The message may name the kind of mistake, never the expected answer.
Feedback sealing (see `course.feedback`) shows only this message, not the
traceback, so a failing line that holds an expected value is never shown.
"""


class CheckFailed(AssertionError):
    """A check failed; the message says why, without giving the answer away."""


def require(condition, message):
    """Fail with `message` unless `condition` holds."""
    if not condition:
        raise CheckFailed(message)
