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


#: name -> ({distribution: version it was tested with}, what it does)
SPEEDUPS = {
    "skip_iri_parsers": ({"jsonschema": "4.26.0", "rfc3987-syntax": "1.1.0"}, _skip_iri_parsers),
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
