"""Which sandbox the grading kernels get, and what the sandbox lets them see.

Modes (`COURSE_SANDBOX`, default `auto`):

isolated  bubblewrap (Debian's `bwrap`, the sandbox Flatpak uses) builds a file
          system that holds the system, Python, the virtual environment and the
          student package, read-only, and nothing of the course; no network, its
          own PIDs, an unprivileged user. Works as root and, where the machine
          allows unprivileged user namespaces, as any user.
limits    no isolation: resource limits and the no-process filter only. The
          kernel could read the course files. Only when asked for by name.
off       plain kernels, as nbgrader starts them (debugging only).
auto      isolated if bubblewrap works here, otherwise grading stops with the
          reason and what to do (never a silent fall back to less protection).
"""
import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

MODES = ("auto", "isolated", "limits", "off")


class SandboxUnavailable(RuntimeError):
    """Isolation was asked for (or is the default) and cannot be had on this machine."""


def requested_mode() -> str:
    mode = os.environ.get("COURSE_SANDBOX", "auto") or "auto"
    if mode not in MODES:
        raise ValueError(f"COURSE_SANDBOX must be one of {', '.join(MODES)}, not {mode!r}")
    return mode


def effective_mode() -> str:
    """The mode kernels get: `auto` becomes `isolated`, or SandboxUnavailable says why it cannot."""
    mode = requested_mode()
    if mode in ("limits", "off"):
        return mode
    works, reason = bwrap_works()
    if not works:
        raise SandboxUnavailable(
            f"the grading sandbox needs bubblewrap: {reason}. Install it with "
            f"`sudo tools/install_sandbox.sh` (Debian: apt-get install bubblewrap), or grade without "
            f"isolation, at your own risk, with COURSE_SANDBOX=limits.")
    return "isolated"


def bwrap_path():
    return shutil.which("bwrap") or ("/usr/bin/bwrap" if os.path.exists("/usr/bin/bwrap") else None)


@functools.lru_cache(maxsize=1)
def bwrap_works():
    """(True, "") if bubblewrap can build a sandbox here, else (False, why not)."""
    path = bwrap_path()
    if path is None:
        return False, "`bwrap` is not installed"
    probe = [path, "--unshare-all", "--unshare-user", "--die-with-parent", "--cap-add", "ALL",
             *system_binds(), "--proc", "/proc", "--dev", "/dev", "--", "/bin/true"]
    try:
        run = subprocess.run(probe, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return False, f"bwrap could not run ({error})"
    if run.returncode != 0:
        return False, f"bwrap could not create a sandbox ({run.stderr.strip()[:200]})"
    return True, ""


#: System files a kernel needs; the rest of /etc (shadow files, keys, the grader's settings) stays out.
ETC_FILES = ["passwd", "group", "nsswitch.conf", "hosts", "host.conf", "ld.so.cache", "ld.so.conf",
             "ld.so.conf.d", "localtime", "timezone", "mime.types", "alternatives", "fonts"]


def system_binds():
    """bwrap arguments for the read-only system: /usr and its companions, a few files of /etc."""
    args = []
    for path in ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for name in ETC_FILES:
        path = f"/etc/{name}"
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    return args


def python_trees():
    """The folders a kernel's Python needs: the interpreter's installation, the virtual environment,
    and the student package's folder if it is installed from a checkout (editable)."""
    trees = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix)}
    interpreter = Path(os.path.realpath(sys.executable)).parent.parent
    trees.add(str(interpreter))
    try:
        import course
        package = Path(course.__file__).resolve().parent.parent
        if not any(str(package).startswith(tree + os.sep) for tree in trees):
            trees.add(str(package))
    except ImportError:
        pass
    ordered = sorted(trees, key=len)
    return [t for i, t in enumerate(ordered) if not any(t.startswith(o + os.sep) for o in ordered[:i])]


def trees_under_tmp():
    """The Python trees inside /tmp (a checkout cloned there): a kernel's fresh /tmp must keep them."""
    return [tree for tree in python_trees() if tree == "/tmp" or tree.startswith("/tmp/")]


def matplotlib_cache():
    """The grader's Matplotlib cache folder (its font list spares every sandbox a rebuild), or None."""
    folder = os.environ.get("MPLCONFIGDIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "matplotlib")
    return folder if os.path.isdir(folder) else None
