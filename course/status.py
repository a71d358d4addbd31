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


def load(course_root, assignment, student):
    path = folder(course_root, assignment) / f"{student}.json"
    return json.loads(path.read_text()) if path.exists() else None


def add_flag(course_root, assignment, student, reason):
    """Mark a submission for review (a gaming attempt, say) without changing its score."""
    record = load(course_root, assignment, student) or {"student": student, "status": "graded", "reason": ""}
    flags = sorted(set(record.get("flags", [])) | {reason})
    details = {k: v for k, v in record.items() if k not in ("student", "status", "reason", "flags")}
    status = "flagged" if record["status"] == "graded" else record["status"]
    return save(course_root, assignment, student, status, record["reason"], flags=flags, **details)
