"""What happened to each submission, kept beside the gradebook (one JSON file per student).

nbgrader records scores but not why a submission has none: a notebook that could
not be run is dropped and later exported as a plain 0.0. These records let the
summary, the grades export and the report say "failed: <reason>" instead.

status: "graded" | "failed" | "flagged"
"""
import json
import os

from grader.paths import Course


def _file(course: Course, assignment: str, student: str):
    return course.status(assignment) / f"{student}.json"


def save(course: Course, assignment: str, student: str, status: str, reason: str = "", **details) -> dict:
    path = _file(course, assignment, student)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"student": student, "status": status, "reason": reason, **details}
    # Whole or not at all: a driver killed mid-write must not leave half a record for the next run.
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(json.dumps(record, indent=1, sort_keys=True))
    os.replace(partial, path)
    return record


def load(course: Course, assignment: str, student: str) -> dict | None:
    path = _file(course, assignment, student)
    return json.loads(path.read_text()) if path.exists() else None


def load_all(course: Course, assignment: str) -> dict:
    """{student: record} for every student with a record."""
    records = {}
    for path in sorted(course.status(assignment).glob("*.json")):
        record = json.loads(path.read_text())
        records[record["student"]] = record
    return records


def add_flags(course: Course, assignment: str, student: str, reasons) -> dict:
    """Put a submission on the review list (a gaming attempt, say) without changing its score."""
    record = load(course, assignment, student) or {"student": student, "status": "graded", "reason": ""}
    flags = sorted(set(record.get("flags", [])) | set(reasons))
    details = {k: v for k, v in record.items() if k not in ("student", "status", "reason", "flags")}
    status = "flagged" if record["status"] == "graded" and flags else record["status"]
    return save(course, assignment, student, status, record["reason"], flags=flags, **details)
