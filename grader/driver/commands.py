"""Running nbgrader's own commands from Python, with this environment's tools first on PATH."""
import os
import subprocess
import sys
from pathlib import Path


def environment() -> dict:
    """os.environ with the interpreter's bin/ first on PATH (nbgrader runs `alembic`)."""
    return dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))


def nbgrader(args, course_root, **kwargs) -> subprocess.CompletedProcess:
    """One nbgrader command in the course directory."""
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course_root, env=environment(),
                          capture_output=True, text=True, **kwargs)
