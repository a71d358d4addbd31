"""Run a function under a wall-clock limit.

SymPy's simplification can run for minutes on an unlucky expression. A check
must answer in bounded time, so symbolic work goes through `call_with_timeout`.
In the main thread (a Jupyter kernel, pytest) a SIGALRM interrupts the work;
elsewhere the work runs in a daemon thread that is abandoned at the deadline.
"""
import signal
import threading


class TimedOut(Exception):
    """The function did not finish in time."""


def call_with_timeout(function, seconds, *args, **kwargs):
    if threading.current_thread() is threading.main_thread():
        return _call_with_alarm(function, seconds, args, kwargs)
    return _call_in_thread(function, seconds, args, kwargs)


def _call_with_alarm(function, seconds, args, kwargs):
    def on_alarm(signum, frame):
        raise TimedOut(f"gave up after {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return function(*args, **kwargs)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _call_in_thread(function, seconds, args, kwargs):
    outcome = {}

    def target():
        try:
            outcome["value"] = function(*args, **kwargs)
        except BaseException as error:  # handed back to the caller below
            outcome["error"] = error

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise TimedOut(f"gave up after {seconds} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
