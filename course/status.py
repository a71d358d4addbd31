"""What happened to each submission, kept beside the gradebook.

nbgrader records scores but not why a submission has none: a notebook that
could not be run is dropped and later exported as a plain 0.0. The grading
pipeline writes one small JSON file per student here so that summaries,
the grades export and the report can say "failed: <reason>" instead.

status: "graded" | "failed" | "flagged" | "missing"
"""
import json
from pathlib import Path

STATUS_DIR = "grading_status"


def folder(course_root, assignment):
    return Path(course_root) / STATUS_DIR / assignment


def save(course_root, assignment, student, status, reason="", **details):
    path = folder(course_root, assignment) / f"{student}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"student": student, "status": status, "reason": reason, **details}
    path.write_text(json.dumps(record, indent=1, sort_keys=True))
    return record


def load_all(course_root, assignment):
    """{student: record} for every student with a status file."""
    records = {}
    for path in sorted(folder(course_root, assignment).glob("*.json")):
        record = json.loads(path.read_text())
        records[record["student"]] = record
    return records
