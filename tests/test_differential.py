"""The trust boundary changed where hidden tests run, not what they decide.

`tests/differential/scores_before.json` holds every autograded cell's score of the
simulated demo class and of every entry of the audit corpora (right answers written
differently, common mistakes), as the grader before the change (commit 9670bcf, hidden
tests in the kernel) gave them; `record_before.py` beside it made the file. Here the
same students are graded by the current pipeline in one parallel run, and every cell
must score the same. Each mistake must still show its hint kind, now recorded by the
grader.
"""
import json
import sys
from pathlib import Path

import pytest

from conftest import ASSIGNMENT
from grader.authoring import submissions
from grader.driver import grading
from grader.reports.gradebook import scores

REPO = Path(__file__).resolve().parent.parent
BEFORE = json.loads((REPO / "tests" / "differential" / "scores_before.json").read_text())
NOTEBOOKS = ["A_theory.ipynb", "B_coding.ipynb", "C_conceptual.ipynb"]
#: Cells whose score may differ from before, with the reason (a test that was wrong before).
KNOWN_DIFFERENCES = {}

pytestmark = pytest.mark.slow


def corpus():
    sys.path.insert(0, str(REPO / "tools"))
    from audit_corpus import mistakes, right_answers
    entries = []
    for kind, table in (("right", right_answers.RIGHT_ANSWERS), ("mistake", mistakes.MISTAKES)):
        for notebook, items in table.items():
            entries += [(kind, notebook, item) for item in items]
    return entries


def recorded(kind, cell, label):
    return next(v for v in BEFORE.values() if (v["kind"], v.get("cell"), v.get("label")) == (kind, cell, label))


@pytest.fixture(scope="module")
def graded(make_course):
    sys.path.insert(0, str(REPO / "tools"))
    import demo_class
    course = make_course(NOTEBOOKS)
    students = {}
    for k, (kind, notebook, item) in enumerate(corpus(), start=1):
        student = f"{kind}-{k:04d}"
        course.submit(student, {notebook: course.reference(notebook, {item[0]: item[2]})})
        students[student] = (recorded(kind, item[0], item[1]), notebook, item[3] if kind == "mistake" else None)
    for student, files in demo_class.build(course.root / "release" / ASSIGNMENT,
                                           course.root / "source" / ASSIGNMENT).items():
        submissions.write(course.root, student, ASSIGNMENT, files)
        students[student] = (BEFORE[student], None, None)
    found = grading.autograde(course.root, ASSIGNMENT, jobs=2)
    return course, students, found, scores(course.root, ASSIGNMENT)


def test_every_cell_scores_as_before(graded):
    course, students, found, table = graded
    assert len(students) == len(BEFORE), "the corpora and the demo class are what was recorded"
    differ = {}
    for student, (before, notebook, _) in students.items():
        for key, cell in before["cells"].items():
            stem, grade_id = key.split("/")
            if grade_id.endswith("_written") or (notebook and stem != notebook[:-len(".ipynb")]):
                continue  # hand-graded, or a notebook this student did not submit
            now = table.get(student, {}).get(stem, {}).get(grade_id, (None, None))[0]
            if now != cell["score"] and (stem, grade_id) not in KNOWN_DIFFERENCES:
                differ.setdefault(student, {})[grade_id] = (cell["score"], now)
    assert not differ, f"{len(differ)} students score differently: {dict(list(differ.items())[:5])}"


def test_every_mistake_still_shows_its_hint(graded):
    course, students, found, _ = graded
    missing = []
    for student, (before, notebook, hint) in students.items():
        if hint is None:
            continue
        text = json.dumps(course.autograded_nb(student, notebook).cells)
        if f'"kind": "{hint}"' not in text:
            missing.append((student, before["label"], hint))
    assert not missing, missing


def test_the_demo_class_keeps_its_statuses(graded):
    _, students, found, _ = graded
    for student, (before, notebook, _) in students.items():
        if notebook is None:  # a demo student: graded, or failed for the same kind of reason
            assert found[student]["status"] in ("graded", "flagged") if before["status"] == "graded" \
                else found[student]["status"] == "failed", (student, found[student])
