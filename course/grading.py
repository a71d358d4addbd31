"""Autograde a class and read the scores back.

`autograde` runs nbgrader on every submitted student and records, per
student, whether each notebook was graded (see `course.status`). `scores`
reads the gradebook through nbgrader's API.
"""
import os
import subprocess
import sys
from pathlib import Path

from . import status


def nbgrader(args, course_root, **kwargs):
    """Run one nbgrader command in the course directory (venv's bin first on PATH)."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return subprocess.run(
        [sys.executable, "-m", "nbgrader", *args], cwd=course_root, env=env,
        capture_output=True, text=True, **kwargs,
    )


def release_notebooks(course_root, assignment):
    return sorted(p.name for p in (Path(course_root) / "release" / assignment).glob("*.ipynb"))


def submitted_students(course_root, assignment):
    root = Path(course_root) / "submitted"
    return sorted(p.parent.name for p in root.glob(f"*/{assignment}") if p.is_dir())


def autograde(course_root, assignment, students=None, force=True):
    """Grade the given students (default: all submitted); return {student: status record}."""
    students = students or submitted_students(course_root, assignment)
    records = {}
    for student in students:
        args = ["autograde", assignment, "--student", student] + (["--force"] if force else [])
        run = nbgrader(args, course_root)
        records[student] = record_outcome(course_root, assignment, student, run.stdout + run.stderr)
    return records


def record_outcome(course_root, assignment, student, log):
    """Compare what was submitted with what was autograded and save the student's status."""
    expected = release_notebooks(course_root, assignment)
    graded = Path(course_root) / "autograded" / student / assignment
    missing = [name for name in expected if not (graded / name).exists()]
    if not missing:
        return status.save(course_root, assignment, student, "graded")
    reason = failure_reason(log) or "not graded"
    return status.save(course_root, assignment, student, "failed", reason, notebooks=missing)


def failure_reason(log):
    """The first line of nbgrader's log that says why a notebook failed."""
    for line in log.splitlines():
        if "[ERROR]" in line and "There was an error" not in line:
            return line.split("[ERROR]", 1)[1].strip()[:300]
    return None


def scores(course_root, assignment):
    """{student: {notebook: {grade_id: (score, max_score)}}} from the gradebook."""
    from nbgrader.api import Gradebook

    url = "sqlite:///" + str(Path(course_root) / "gradebook.db")
    table = {}
    with Gradebook(os.environ.get("NBGRADER_DB_URL", url)) as gb:
        for submission in gb.assignment_submissions(assignment):
            notebooks = table.setdefault(submission.student_id, {})
            for nb in submission.notebooks:
                notebooks[nb.name] = {g.name: (g.score, g.max_score) for g in nb.grades}
    return table
