"""Every package is pinned: requirements.txt (what we use) and requirements.lock (everything they need).

`make lock` regenerates the lock with pip-tools; `make venv` installs with it as constraints.
These tests fail when the lock was not made from requirements.txt as it is, or when the
environment holds a package or version the lock does not pin.
"""
import re
from importlib import metadata
from pathlib import Path

from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;#]+)")
OURS = {"backprop-grader", "backprop-checks"}
NOT_PINNED = {"pip", "setuptools", "wheel"}  # the installer's own tools (pip-tools leaves them out)


def pins(path):
    found = {}
    for line in Path(path).read_text().splitlines():
        match = PIN.match(line.strip())
        if match:
            found[canonicalize_name(match.group(1))] = match.group(2)
    return found


def test_the_lock_was_made_from_the_requirements_as_they_are():
    import sys
    sys.path.insert(0, str(REPO / "tools"))
    from lockfile import HEADER, digest
    first = (REPO / "requirements.lock").read_text().splitlines()[0]
    assert first == HEADER + digest(REPO / "requirements.txt"), "requirements.txt changed: run `make lock`"
    direct, locked = pins(REPO / "requirements.txt"), pins(REPO / "requirements.lock")
    differ = {name: (version, locked.get(name)) for name, version in direct.items() if locked.get(name) != version}
    assert not differ, differ


def test_every_installed_package_is_pinned_by_the_lock():
    locked = pins(REPO / "requirements.lock")
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    loose = {name: version for name, version in installed.items()
             if name not in OURS | NOT_PINNED and locked.get(name) != version}
    assert not loose, f"installed but not pinned (or pinned otherwise) by requirements.lock: {loose}"
