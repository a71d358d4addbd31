"""The one way a check fails: `CheckFailed`, with a message written for the student.

A message may name the kind of mistake (a hint from `course.hints`), never the
expected answer. Sealed feedback shows this message and nothing else of a failure.
"""


class CheckFailed(AssertionError):
    """A check failed; the message says why, without giving the answer away."""


def fail(message: str, hint: str | None = None, check: str | None = None) -> None:
    """Raise CheckFailed with `message`; with `hint` (a kind of `course.hints.KINDS`) the message
    also names the mistake, and the hint is recorded for the class report under `check`."""
    if hint is not None:
        from .hints import describe, record
        record(check or message.split()[0], hint)
        message = f"{message} Hint: {describe(hint)}"
    raise CheckFailed(message)


def require(condition: object, message: str, hint: str | None = None, check: str | None = None) -> None:
    """`fail(message, hint, check)` unless `condition` holds."""
    if not condition:
        fail(message, hint, check)
