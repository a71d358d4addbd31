"""Finish a pip-compile output as requirements.lock, a constraints file for `pip install -c`.

    python tools/lockfile.py requirements.lock requirements.txt

Constraints cannot name editable installs, and the checkout's own path belongs to one
machine: those lines go. A header records the SHA-256 of requirements.txt, so a test can
tell that the lock was made from the requirements as they are.
"""
import hashlib
import sys
from pathlib import Path

HEADER = "# requirements.txt sha256: "


def digest(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def finish(lock, requirements):
    lines, dropping = [], False
    for line in Path(lock).read_text().splitlines():
        if line.startswith(("-e ", "--find-links", HEADER)):
            dropping = True  # the line and the "# via" comments that belong to it
            continue
        if dropping and line.startswith("    #"):
            continue
        dropping = False
        lines.append(line)
    Path(lock).write_text(f"{HEADER}{digest(requirements)}\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    finish(sys.argv[1], sys.argv[2])
