"""`make feedback`: nbgrader's feedback, sealed (grader.plugins.feedback), then checked for leaks.

    python -m grader.reports.feedback tutorial08 [--student S]     (from the course root)

After nbgrader has written the HTML files, each is searched for any line of a
hidden test or a mark scheme, plainly or encoded (grader.reports.leaks); a file
that shows one is deleted and reported, and the command fails.
"""
import argparse
import json
import subprocess
import sys
from pathlib import Path

import nbformat

from grader.driver.commands import environment
from grader.paths import Course

from . import leaks


def own_lines(course, assignment, student, notebook) -> set:
    """Lines the student submitted themselves."""
    try:
        nb = nbformat.read(str(course.submitted(student, assignment) / f"{notebook}.ipynb"), as_version=4)
    except Exception:  # noqa: BLE001 (an unreadable submission: nothing is theirs)
        return set()
    return {leaks.normal(line) for cell in nb.cells for line in cell.source.splitlines()}


def sent_lines(course, assignment, student, notebook, visible=frozenset()) -> dict:
    """{line: where} of the snippets the grader sent to this notebook's kernel (hidden-test text too),
    except lines the release shows anyway (`visible`)."""
    try:
        record = json.loads((course.status(assignment) / "events" / student / f"{notebook}.json").read_text())
    except (OSError, ValueError):
        return {}
    found = {}
    for code in record.get("sent_code", []) if isinstance(record, dict) else []:
        for line in str(code).splitlines():
            text = leaks.normal(line)
            if len(text) >= leaks.MIN_SECRET_LENGTH and text not in visible:
                found[text] = f"{notebook} (a snippet the grader ran in the kernel)"
    return found


def check_file(course, assignment, path, secrets, visible=frozenset()) -> list:
    """[(line, where)] of secret lines one feedback file shows (`visible`: the release's lines)."""
    student, notebook = Path(path).parent.parent.name, Path(path).stem
    secrets = {**sent_lines(course, assignment, student, notebook, visible), **secrets}
    lines = leaks.visible_lines(Path(path).read_text(encoding="utf-8", errors="replace"))
    return [(line, secrets[line]) for line in leaks.leaks(lines, secrets, own_lines(course, assignment, student, notebook))]


def files(course, assignment, student=None) -> list:
    return sorted(course.root.glob(f"{course.dirs.feedback_directory}/{student or '*'}/{assignment}/*.html"))


def generate(course_root, assignment, student=None, log=print):
    """nbgrader generate_feedback, then the check: (files written, {file: [(line, where)]} withheld)."""
    course = Course(course_root)
    args = [sys.executable, "-m", "nbgrader", "generate_feedback", assignment, "--force"]
    if student:
        args += ["--student", student]
    run = subprocess.run(args, cwd=course.root, env=environment(), capture_output=True, text=True)
    if run.returncode != 0:
        log(run.stdout[-3000:] + run.stderr[-3000:])
        raise RuntimeError(f"nbgrader generate_feedback failed (exit {run.returncode})")
    secrets, visible = leaks.secret_lines(course, assignment), leaks.release_lines(course, assignment)
    written, withheld = [], {}
    for path in files(course, assignment, student):
        found = check_file(course, assignment, path, secrets, visible)
        if found:
            withheld[path] = found
            path.unlink()
        else:
            written.append(path)
    return written, withheld


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("assignment")
    parser.add_argument("--student", help="only this student")
    options = parser.parse_args(argv)
    written, withheld = generate(".", options.assignment, options.student)
    root = Path.cwd()
    for path in written:
        print(f"feedback: {path.relative_to(root)}")
    for path, found in withheld.items():
        print(f"WITHHELD {path.relative_to(root)}: it showed {len(found)} secret line(s), e.g. from {found[0][1]}",
              file=sys.stderr)
    print(f"feedback: {len(written)} file(s) written for {options.assignment}"
          + (f", {len(withheld)} withheld" if withheld else ""))
    return 1 if withheld else 0


if __name__ == "__main__":
    sys.exit(main())
