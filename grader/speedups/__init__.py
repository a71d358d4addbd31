"""Every change the grader makes to a third-party library's behaviour, in one place.

Each speed-up names the exact versions it was written and tested for; on any
other version the stock code runs and the log says so. `GRADER_SPEEDUPS=0`
turns them all off. Each has a differential test (tests/test_speedups.py): the
same results with and without it.
"""
import logging
import os
import sys
from importlib import metadata

log = logging.getLogger("grader.speedups")


def _skip_iri_parsers():
    """jsonschema imports `rfc3987_syntax` (when installed: jupyter_events brings it) for its "iri"
    format checker, building 38 parsers on import: about 2 s of CPU in every process that
    validates a notebook. No schema here checks IRIs, so the import is marked unavailable."""
    sys.modules.setdefault("rfc3987_syntax", None)


def _kernel_ready_on_idle():
    """jupyter_client's `wait_for_ready` waits until IOPub has been silent for 0.2 s, and zmq
    retries a refused connection after 100 ms (a forked kernel binds its ports just after the
    client connects): the grader's client is ready on the kernel's idle and retries after 5 ms
    (grader/sandbox/client.py)."""
    from grader.sandbox.client import GraderClient
    GraderClient.quick = True


def _kernel_exit_noticed_soon():
    """jupyter_client looks every 0.1 s whether a kernel it asked to shut down has gone; the
    sandbox's kernel manager looks every 5 ms."""
    from grader.sandbox.manager import SandboxKernelManager
    SandboxKernelManager.exit_poll_interval = 0.005


#: name -> ({distribution: version it was tested with}, what it does)
SPEEDUPS = {
    "skip_iri_parsers": ({"jsonschema": "4.26.0", "rfc3987-syntax": "1.1.0"}, _skip_iri_parsers),
    "kernel_ready_on_idle": ({"jupyter_client": "8.10.0", "pyzmq": "27.3.0"}, _kernel_ready_on_idle),
    "kernel_exit_noticed_soon": ({"jupyter_client": "8.10.0"}, _kernel_exit_noticed_soon),
}


def enabled() -> bool:
    return os.environ.get("GRADER_SPEEDUPS", "1") not in ("0", "false", "no", "off")


def _version(distribution):
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def install() -> dict:
    """Apply every speed-up whose versions match; {name: "on" | reason it is off}."""
    state = {}
    for name, (versions, apply) in SPEEDUPS.items():
        if not enabled():
            state[name] = "off (GRADER_SPEEDUPS=0)"
            continue
        found = {dist: _version(dist) for dist in versions}
        wrong = {d: v for d, v in found.items() if v != versions[d]}
        if wrong:
            state[name] = "off: written for " + ", ".join(f"{d} {versions[d]}" for d in wrong) + \
                          ", found " + ", ".join(f"{d} {v}" for d, v in wrong.items())
            log.warning("speed-up %s %s", name, state[name])
            continue
        apply()
        state[name] = "on"
    return state
