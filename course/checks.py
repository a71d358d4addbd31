"""The one way a check fails: a `CheckFailed` whose message is safe to show.

Every check in this package raises `CheckFailed` with a message written for the
student. The message may name the kind of mistake, never the expected answer.
Feedback sealing (see `course.feedback`) shows only this message, not the
traceback, so a failing line that holds an expected value is never shown.
"""


class CheckFailed(AssertionError):
    """A check failed; the message says why, without giving the answer away."""


def require(condition, message, hint=None, check=None):
    """Fail with `message` unless `condition` holds.

    With `hint` (a kind from `course.hints.KINDS`) the failure also names the
    mistake and records it for the report; nothing is recorded when it holds.
    """
    if condition:
        return
    if hint is not None:
        from .hints import describe, record
        record(check or message.split()[0], hint)
        message = f"{message} Hint: {describe(hint)}"
    raise CheckFailed(message)
