"""Run symbolic work on a student's expression in a forked child, killed at a time limit.

SymPy evaluates as it builds: `2**(10**90)`, a tower of `exp`s or an unlucky
`simplify` can run for hours inside C code that no signal interrupts. The
grader therefore never computes with a student's expression in its own process:
`limited(function, *args)` forks, computes there (the child sees the arguments
through the fork, nothing is serialised on the way in), and hands back a small
JSON result; the child is killed when it overruns its time or memory.

A child inherits the parent's state, SymPy's caches and lazily imported modules
included, and whatever it computes is thrown away with it. So before the first
fork the parent does a little symbolic work of its own, on trusted expressions,
so that a child finds SymPy already warm (docs/scaling.md).
"""
import json
import os
import resource
import select
import signal
import time

import sympy as sp

from course.checks import CheckFailed


class TimedOut(CheckFailed):
    """The computation did not finish in time."""


class Failed(CheckFailed):
    """The computation raised (or ran out of memory); the message says with what."""


def limited(function, *args, seconds: float = 10.0, memory_bytes: int = 1 << 30):
    """function(*args) computed in a child process; its result must be JSON data."""
    _warm_up_once()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: compute, write, leave without running any exit handler
        code = 0
        try:
            os.close(read_end)
            _cap_memory(memory_bytes)
            try:
                outcome = {"ok": function(*args)}
            except BaseException as error:  # noqa: BLE001 (reported to the parent)
                outcome = {"error": f"{type(error).__name__}: {error}"[:500]}
            data = json.dumps(outcome).encode()
            while data:
                data = data[os.write(write_end, data):]
        except BaseException:  # noqa: BLE001
            code = 1
        os._exit(code)
    os.close(write_end)
    try:
        data = _read_until(read_end, time.monotonic() + seconds)
    finally:
        os.close(read_end)
        if data is None:
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    if data is None:
        raise TimedOut(f"A value took more than {seconds:g} s to evaluate (is it unusually large?).")
    if not data:
        raise Failed("A value could not be evaluated (the work ended without a result).")
    outcome = json.loads(data)
    if "error" in outcome:
        raise Failed(f"A value could not be evaluated ({outcome['error'][:150]}).")
    return outcome["ok"]


_warm = False


def _warm_up_once():
    """What a first symbolic check costs (imports, caches), paid once in the parent on expressions
    of our own: simplify with a rewrite, equals, and lambdify to mpmath, as the checks use them."""
    global _warm
    if _warm:
        return
    _warm = True
    x = sp.Symbol("x", real=True)
    expression = sp.sin(x) ** 2 + sp.cos(x) ** 2 + sp.exp(x) / (1 + sp.exp(-x)) - sp.tanh(x) * x ** 3
    sp.simplify(expression.rewrite(sp.exp))
    (expression - expression).equals(0)
    sp.lambdify([x], expression, modules=["mpmath"])(0.5)


def _cap_memory(extra):
    """The child may grow by `extra` bytes of address space beyond what it inherited."""
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[0])
    limit = pages * os.sysconf("SC_PAGE_SIZE") + extra
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _read_until(fd, deadline):
    """Everything the child writes before it closes the pipe; None if the deadline passes first."""
    chunks = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            return None
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
