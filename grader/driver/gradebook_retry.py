"""When the gradebook is briefly unreachable, wait and try again, for a bounded time.

A shared PostgreSQL gradebook can restart (an upgrade, a fail-over) while shards are grading,
and a SQLite file can be locked by another worker. Either way nbgrader fails the student with
the driver's message in its log; the worker grades that student again after a pause, and gives
up after GRADER_DB_RETRY_SECONDS (default 120) of waiting in all. A student that still failed
is recorded as failed with `transient` set, so that the next run grades it again rather than
taking the failure as the submission's own.
"""
import os
import time

# What SQLite, psycopg2 and libpq say when the database is busy, restarting or gone for a moment.
# A wrong password or a missing database is not here: waiting would not help.
TRANSIENT = (
    "database is locked",
    "Connection refused",
    "server closed the connection unexpectedly",
    "terminating connection due to administrator command",
    "the database system is shutting down",
    "the database system is starting up",
    "the database system is in recovery mode",
    "could not connect to server",
    "no connection to the server",
    "connection already closed",
    "SSL SYSCALL error: EOF detected",
)


def is_transient(text: str) -> bool:
    return any(marker in text for marker in TRANSIENT)


def budget() -> float:
    return float(os.environ.get("GRADER_DB_RETRY_SECONDS", "120"))


def pauses(total=None):
    """The pauses between attempts: 1, 2, 4, 8, then 15 s, until `total` seconds are spent."""
    total, spent, pause = budget() if total is None else total, 0.0, 1.0
    while spent + pause <= total:
        yield pause
        spent += pause
        pause = min(pause * 2, 15.0)


def call(action, is_failure, log=None):
    """action() again after each pause while is_failure(result) says the gradebook was away."""
    result = action()
    for pause in pauses():
        if not is_failure(result):
            break
        if log:
            log(pause)
        time.sleep(pause)
        result = action()
    return result
