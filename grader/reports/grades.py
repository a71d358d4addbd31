"""`make grades`: the grades of an assignment as CSV, with what happened to each submission.

    python -m grader.reports.grades tutorial08        (run from the course root)

writes `grades/<assignment>_students.csv` (one row per student: the score of
each part, total, max, status, reason) and `grades/<assignment>_questions.csv`
(one row per student and graded cell). `collect()` returns the same rows for
the tests and for `grader.reports.report`.

Where each fact comes from:
- scores: nbgrader's gradebook (its URL from nbgrader_config.py, via grader.paths);
- "failed" and "flagged": the status records of `grader.driver.records`, which are
  authoritative (a submission that could not be run has no gradebook entry or
  a meaningless 0, so its scores are left blank here, not 0);
- "needs manual grading": a gradebook grade still waiting for a grader.
A student with a gradebook submission and no status record is "graded"; a
student on the gradebook's roster with neither is "missing". A failed
submission has no total, and no score (blank, not 0) in the parts whose
notebook could not be graded; the notebooks its status record lists as graded
keep their scores.

Status precedence for a student: failed > flagged > needs manual grading > graded.
"""
import argparse
import csv
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from grader.driver import records as status_records
from grader.paths import Course

GRADED = "graded"
FAILED = "failed"
FLAGGED = "flagged"
MANUAL = "needs manual grading"
MISSING = "missing"

GRADES_DIR = "grades"
EXERCISE_ID = re.compile(r"^([A-Za-z]\d+[a-z]?)_")


def db_url(course_root):
    return Course(course_root).db_url


def exercise_of(grade_id):
    """The exercise a cell belongs to: 'a1_df_dx' -> 'A1'; other ids stand for themselves."""
    match = EXERCISE_ID.match(grade_id or "")
    return match.group(1).upper() if match else grade_id


@dataclass
class Question:
    """One graded cell of the assignment (autograded test, manual answer or task)."""
    notebook: str
    grade_id: str
    max_score: float
    cell_type: str  # "code" or "markdown"

    @property
    def exercise(self):
        return exercise_of(self.grade_id)


@dataclass
class Grades:
    assignment: str
    parts: list                       # notebook names (stems), in order
    part_max: dict                    # {part: max score}
    questions: list                   # [Question], in notebook order
    students: list = field(default_factory=list)   # rows of the students CSV (dicts)
    rows: list = field(default_factory=list)       # rows of the questions CSV (dicts)
    records: dict = field(default_factory=dict)    # {student: status record or None}

    @property
    def max_score(self):
        return sum(self.part_max.values())

    def student_fields(self):
        return ["student", *self.parts, "total", "max", "status", "reason", "manual_pending"]

    question_fields = ["student", "notebook", "grade_id", "score", "max", "status"]


def _cell_order(course_root, assignment, notebook):
    """{grade_id: position} from the source (else release) notebook, for a readable order."""
    import nbformat

    course = Course(course_root)
    for folder in (course.source(assignment), course.release(assignment)):
        path = folder / f"{notebook}.ipynb"
        if path.exists():
            try:
                nb = nbformat.read(str(path), as_version=4)
            except Exception:
                continue
            return {cell.get("metadata", {}).get("nbgrader", {}).get("grade_id"): i
                    for i, cell in enumerate(nb.cells)}
    return {}


def _student_status(record, manual_pending):
    state = (record or {}).get("status", GRADED)
    if state == FAILED:
        return FAILED, record.get("reason") or "could not be graded"
    if state == FLAGGED or (record or {}).get("flags"):
        reasons = [*(record.get("flags") or [])]
        if record.get("reason") and record["reason"] not in reasons:
            reasons.insert(0, record["reason"])
        return FLAGGED, "; ".join(reasons) or "flagged for review"
    if state not in (GRADED, FLAGGED, FAILED):  # e.g. "missing", or a status added later
        return state, record.get("reason", "")
    if manual_pending:
        return MANUAL, f"{manual_pending} cell(s) await a grader"
    return GRADED, ""


def _failed_parts(record, parts):
    """The parts of a failed submission whose scores cannot be trusted.

    The gradebook may hold placeholder grades for a notebook whose grading
    failed; the status record lists the notebooks that were graded (a student's
    other notebooks are graded on their own when one fails), and only those count.
    """
    if (record or {}).get("status") != FAILED:
        return set()
    graded = {Path(name).stem for name in record.get("graded") or []}
    return {part for part in parts if part not in graded}


def collect(course_root, assignment):
    """Read the gradebook and the status records; return a `Grades` with every row."""
    from nbgrader.api import Gradebook, MissingEntry

    course_root = Path(course_root)
    records = status_records.load_all(Course(course_root), assignment)
    with Gradebook(db_url(course_root)) as gb:
        try:
            source = gb.find_assignment(assignment)
        except MissingEntry:
            raise SystemExit(f"{assignment}: not in the gradebook (run `make release` first)") from None
        questions, part_max = [], {}
        for nb in sorted(source.notebooks, key=lambda n: n.name):
            order = _cell_order(course_root, assignment, nb.name)
            cells = [*nb.grade_cells, *nb.task_cells]
            cells.sort(key=lambda c: (order.get(c.name, len(order)), c.name))
            for cell in cells:
                questions.append(Question(nb.name, cell.name, float(cell.max_score), cell.cell_type))
            part_max[nb.name] = sum(float(c.max_score) for c in cells)
        parts = list(part_max)

        # {student: {(notebook, grade_id): Grade facts}}
        submitted = {}
        for submission in gb.assignment_submissions(assignment):
            table = submitted.setdefault(submission.student_id, {})
            for nb in submission.notebooks:
                for grade in nb.grades:
                    table[(nb.name, grade.name)] = {
                        "score": grade.score, "auto": grade.auto_score, "manual": grade.manual_score,
                        "needs_manual": bool(grade.needs_manual_grade),
                    }
        roster = {student.id for student in gb.students}

    grades = Grades(assignment, parts, part_max, questions)
    for student in sorted(set(submitted) | set(records) | roster):
        record = records.get(student)
        table = submitted.get(student)
        if record is None and table is None:
            record = {"student": student, "status": MISSING, "reason": "no submission"}
        grades.records[student] = record
        failed = _failed_parts(record, parts)
        absent = (record or {}).get("status") == MISSING
        part_score = {part: None if part in failed or absent else 0.0 for part in parts}
        manual_pending = 0
        question_rows = []
        for q in questions:
            grade = (table or {}).get((q.notebook, q.grade_id))
            score, state = None, GRADED
            if q.notebook in failed:
                state = FAILED
            elif absent:
                state = MISSING
            elif grade is None:
                state = MISSING  # graded notebook without this cell: should not happen
            elif grade["needs_manual"]:
                state = MANUAL
                manual_pending += 1
                if grade["manual"] is not None or grade["auto"] is not None:
                    score = float(grade["score"])
            else:
                score = float(grade["score"])
            if score is not None and part_score[q.notebook] is not None:
                part_score[q.notebook] += score
            question_rows.append({"student": student, "notebook": q.notebook, "grade_id": q.grade_id,
                                  "score": score, "max": q.max_score, "status": state})
        state, reason = _student_status(record, manual_pending)
        if state == FLAGGED:
            for row in question_rows:
                if row["status"] == GRADED:
                    row["status"] = FLAGGED
        known = [s for s in part_score.values() if s is not None]
        total = sum(known) if len(known) == len(parts) else None
        grades.students.append({"student": student, **part_score, "total": total,
                                "max": grades.max_score, "status": state, "reason": reason,
                                "manual_pending": manual_pending})
        grades.rows.extend(question_rows)
    return grades


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    return value


def write_csv(grades, folder):
    """Write the two CSV files into `folder`; return their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    students = folder / f"{grades.assignment}_students.csv"
    questions = folder / f"{grades.assignment}_questions.csv"
    for path, fields, rows in ((students, grades.student_fields(), grades.students),
                               (questions, grades.question_fields, grades.rows)):
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            for row in rows:
                writer.writerow({key: _cell(row[key]) for key in fields})
    return students, questions


def main(argv=None):
    parser = argparse.ArgumentParser(description="Export the grades of an assignment as CSV.")
    parser.add_argument("assignment", nargs="?", default="tutorial08")
    parser.add_argument("--course-root", default=".", help="the course directory (default: here)")
    parser.add_argument("--out", default=None, help=f"output folder (default: <course-root>/{GRADES_DIR})")
    args = parser.parse_args(argv)
    root = Path(args.course_root)
    grades = collect(root, args.assignment)
    paths = write_csv(grades, args.out or root / GRADES_DIR)
    counts = {}
    for row in grades.students:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    summary = ", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "no students"
    print(f"grades: {len(grades.students)} students ({summary})")
    for path in paths:
        print(f"  {path.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
