"""The grades export and the instructor's report, on a simulated class with known answers.

A small fixture course of its own (two tiny notebooks, three autograded
exercises that name mistakes, one free-text answer graded by hand) is graded
by the real nbgrader, so these tests do not depend on the tutorial's notebooks.

The class:
  ada  reference; status record "graded"; free text graded 2/2     -> graded, 8/8
  ben  mistake #1 of every exercise, plus a forged hint record in a
       solution cell; free text not graded yet                      -> needs manual grading, 0
  cy   mistake #2 of A1 and A2, B1 right; free text graded 1/2      -> graded, 4
  dee  reference but B1 missing the mean; flagged by a grader       -> flagged, 3
  eve  P_one is not valid JSON                                      -> failed
"""
import base64
import csv
import os
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from course.hints import HINT_MIME
from grader.authoring import submissions
from grader.driver import records as status
from grader.driver.commands import nbgrader
from grader.paths import Course
from grader.reports import grades as grades_module
from grader.reports import report as report_module

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))
import nbcells  # noqa: E402  (a module: pytest would collect its `tests` function)

ASSIGNMENT = "quiz"
SETUP = "import sympy as sp\nx = sp.Symbol('x', real=True)"


def hidden(code, before=""):
    return (f"assert True  # visible part\n### BEGIN HIDDEN TESTS\nfrom grader.hidden import *\n"
            f"{before}{code}\n### END HIDDEN TESTS")


def answer(code):
    return f"### BEGIN SOLUTION\n{code}\n### END SOLUTION"


P_ONE = nbcells.notebook([
    nbcells.md("# Part one"),
    nbcells.locked(SETUP, "setup_one"),
    nbcells.md("**A1.** Differentiate $\\sin(x^2)$; call it `df`."),
    nbcells.solution(answer("df = 2*x*sp.cos(x**2)"), "a1_answer"),
    nbcells.tests(hidden("check_expression('df', student.value('df'), 2*_x*sp.cos(_x**2), [_x], mistakes={\n"
                         "    'missing_inner_derivative': sp.cos(_x**2), 'function_for_derivative': sp.sin(_x**2)})",
                         before="_x = sp.Symbol('x', real=True)\n"), "a1_df", points=2),
    nbcells.md("**A2.** $\\sigma'(0)$; call it `value`."),
    nbcells.solution(answer("value = 0.25"), "a2_answer"),
    nbcells.tests(hidden("check_number('value', student.value('value'), 0.25, "
                         "mistakes={'sigma_for_sigma_prime': 0.5, 'sign_error': -0.25})"), "a2_value", points=1),
])

P_TWO = nbcells.notebook([
    nbcells.md("# Part two"),
    nbcells.locked(SETUP, "setup_two"),
    nbcells.md("**B1.** The mean loss of the batch; call it `total`."),
    nbcells.solution(answer("total = 6.0"), "b1_answer"),
    # The record() call mimics a test that builds its hint message eagerly: it fires for every
    # student; only the students who lost the cell's points may count.
    nbcells.tests(hidden("check_number('total', student.value('total'), 6.0, mistakes={'missing_mean': 12.0})",
                         before="from course.hints import record\nrecord('total', 'wrong_point')\n"),
                  "b1_total", points=3),
    nbcells.md("**B1 (b).** Why divide by $m$?"),
    nbcells.manual("The loss is a mean over the batch.", "b1_explain", points=2),
])

FORGED = ("\nfrom IPython.display import display\n"
          f"display({{{HINT_MIME!r}: {{'check': 'df', 'kind': 'sign_error'}}, 'text/plain': ''}}, raw=True)")

CHANGES = {
    "ada": {},
    "ben": {"P_one": {"a1_answer": "df = sp.cos(x**2)" + FORGED, "a2_answer": "value = 0.5"},
            "P_two": {"b1_answer": "total = 12.0"}},
    "cy": {"P_one": {"a1_answer": "df = sp.sin(x**2)", "a2_answer": "value = -0.25"}},
    "dee": {"P_two": {"b1_answer": "total = 12.0"}},
    "eve": {},
}
MANUAL_SCORES = {"ada": 2.0, "cy": 1.0}
FAILED_REASON = "P_one.ipynb is not valid JSON"
FLAG = "identical to another submission"

EXPECTED_MISCONCEPTIONS = {
    ("A1", "function_for_derivative"): 1,
    ("A1", "missing_inner_derivative"): 1,
    ("A2", "sigma_for_sigma_prime"): 1,
    ("A2", "sign_error"): 1,
    ("B1", "missing_mean"): 2,
    ("B1", "wrong_point"): 2,  # ben and dee lost b1_total; ada's and cy's records are ignored
}
# (mean, share with full marks, number of scores, cells awaiting a grader) over ada, ben, cy, dee
EXPECTED_QUESTIONS = {
    ("P_one", "a1_df"): (1.0, 0.5, 4, 0),
    ("P_one", "a2_value"): (0.5, 0.5, 4, 0),
    ("P_two", "b1_total"): (1.5, 0.5, 4, 0),
    ("P_two", "b1_explain"): (1.5, 0.5, 2, 2),
}
EXPECTED_STUDENTS = {  # status, P_one, P_two, total
    "ada": ("graded", "3", "5", "8"),
    "ben": ("needs manual grading", "0", "0", "0"),
    "cy": ("graded", "0", "4", "4"),
    "dee": ("flagged", "3", "0", "3"),
    "eve": ("failed", "", "", ""),
}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """The fixture course, released, submitted, autograded once and partly hand-graded."""
    saved_url = os.environ.pop("NBGRADER_DB_URL", None)
    root = tmp_path_factory.mktemp("report_course")
    (root / "nbgrader_config.py").write_bytes((REPO / "nbgrader_config.py").read_bytes())
    source = root / "source" / ASSIGNMENT
    source.mkdir(parents=True)
    import nbformat
    nbformat.write(P_ONE, str(source / "P_one.ipynb"))
    nbformat.write(P_TWO, str(source / "P_two.ipynb"))
    run = nbgrader(["generate_assignment", ASSIGNMENT, "--force"], root)
    assert run.returncode == 0, run.stdout + run.stderr

    for student, changes in CHANGES.items():
        nbs = {}
        for part in ("P_one", "P_two"):
            release = submissions.read(root / "release" / ASSIGNMENT / f"{part}.ipynb")
            src = submissions.read(source / f"{part}.ipynb")
            nbs[f"{part}.ipynb"] = submissions.reference(release, src, changes.get(part))
        if student == "eve":
            nbs["P_one.ipynb"] = '{"cells": [ this is not json'
        submissions.write(root, student, ASSIGNMENT, nbs)

    # One nbgrader process for the whole class (eve's failure makes it exit 1).
    run = nbgrader(["autograde", ASSIGNMENT, "--force"], root)
    log = run.stdout + run.stderr
    for student in CHANGES:
        assert (root / "autograded" / student / ASSIGNMENT / "P_one.ipynb").exists() == (student != "eve"), log
    paths = Course(root)
    status.save(paths, ASSIGNMENT, "ada", "graded")
    status.save(paths, ASSIGNMENT, "eve", "failed", FAILED_REASON, notebooks=["P_one.ipynb"])
    status.add_flags(paths, ASSIGNMENT, "dee", [FLAG])

    from nbgrader.api import Gradebook
    with Gradebook(grades_module.db_url(root)) as gb:
        for student, score in MANUAL_SCORES.items():
            grade = gb.find_grade("b1_explain", "P_two", ASSIGNMENT, student)
            grade.manual_score = score
            grade.needs_manual_grade = False
        gb.db.commit()
    yield root
    if saved_url is not None:
        os.environ["NBGRADER_DB_URL"] = saved_url


@pytest.fixture(scope="module")
def computed(course):
    return report_module.compute(course, ASSIGNMENT)


@pytest.mark.slow
def test_grades_csv_has_one_row_per_student_with_statuses(course, capsys):
    assert grades_module.main([ASSIGNMENT, "--course-root", str(course)]) == 0
    printed = capsys.readouterr().out
    path = course / "grades" / f"{ASSIGNMENT}_students.csv"
    assert str(path) in printed
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["student"] for r in rows] == sorted(EXPECTED_STUDENTS)
    assert list(rows[0]) == ["student", "P_one", "P_two", "total", "max", "status", "reason", "manual_pending"]
    by_student = {r["student"]: r for r in rows}
    for student, (state, p_one, p_two, total) in EXPECTED_STUDENTS.items():
        row = by_student[student]
        assert row["status"] == state, row
        assert (row["P_one"], row["P_two"], row["total"], row["max"]) == (p_one, p_two, total, "8"), row
    assert by_student["eve"]["reason"] == FAILED_REASON
    assert FLAG in by_student["dee"]["reason"]
    assert [by_student[s]["manual_pending"] for s in sorted(by_student)] == ["0", "1", "0", "1", "0"]


@pytest.mark.slow
def test_questions_csv_one_row_per_student_and_question(course):
    grades_module.main([ASSIGNMENT, "--course-root", str(course)])
    with open(course / "grades" / f"{ASSIGNMENT}_questions.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["student", "notebook", "grade_id", "score", "max", "status"]
    assert len(rows) == len(EXPECTED_STUDENTS) * len(EXPECTED_QUESTIONS)
    cell = {(r["student"], r["notebook"], r["grade_id"]): r for r in rows}
    assert [r["grade_id"] for r in rows if r["student"] == "ada"] == ["a1_df", "a2_value", "b1_total", "b1_explain"]
    assert cell[("ada", "P_two", "b1_explain")]["score"] == "2"
    assert cell[("ben", "P_two", "b1_explain")]["status"] == "needs manual grading"
    assert cell[("ben", "P_two", "b1_explain")]["score"] == ""
    assert cell[("ben", "P_one", "a1_df")]["status"] == "graded"
    assert cell[("dee", "P_two", "b1_total")]["status"] == "flagged"
    # eve's whole submission failed: no score anywhere, nothing waits for a grader
    for (notebook, grade_id) in EXPECTED_QUESTIONS:
        assert cell[("eve", notebook, grade_id)]["status"] == "failed"
        assert cell[("eve", notebook, grade_id)]["score"] == ""


@pytest.mark.slow
def test_misconceptions_counted_per_exercise_and_kind(computed):
    assert computed.misconceptions == EXPECTED_MISCONCEPTIONS
    assert computed.by_kind["missing_mean"] == 2
    # ben's solution cell displayed a forged record: solution cells are never read
    forged = [h for h in computed.hints if h["student"] == "ben" and h["kind"] == "sign_error"]
    assert forged == []
    assert {h["grade_id"] for h in computed.hints} == {"a1_df", "a2_value", "b1_total"}
    assert sorted((h["student"], h["kind"]) for h in computed.ignored_hints) == [
        ("ada", "wrong_point"), ("cy", "wrong_point")]


@pytest.mark.slow
def test_means_per_question(computed):
    got = {(q["notebook"], q["grade_id"]): (q["mean"], q["full_share"], q["n"], q["pending"])
           for q in computed.questions}
    assert list(got) == list(EXPECTED_QUESTIONS)  # notebook order
    for key, expected in EXPECTED_QUESTIONS.items():
        assert got[key] == pytest.approx(expected), key
    assert computed.totals == pytest.approx({"ada": 8.0, "ben": 0.0, "cy": 4.0, "dee": 3.0})


@pytest.mark.slow
def test_failed_flagged_and_manual_lists(computed):
    assert computed.failed == ["eve"]
    assert computed.flagged == ["dee"]
    eve = computed.problems[0]
    assert eve["reason"] == FAILED_REASON and eve["notebooks"] == ["P_one.ipynb"]
    assert sorted((m["student"], m["grade_id"]) for m in computed.manual) == [
        ("ben", "b1_explain"), ("dee", "b1_explain")]
    assert "eve" not in computed.counted


def test_hint_records_read_only_known_test_cells():
    """Fast: which cells of an autograded notebook count as hint records."""
    import nbformat

    def with_hint(cell, kind):
        cell.outputs = [nbformat.v4.new_output("display_data", data={HINT_MIME: {"check": "f", "kind": kind},
                                                                     "text/plain": ""})]
        return cell

    nb = nbcells.notebook([
        with_hint(nbcells.tests("check()", "a1_f", points=1), "sign_error"),
        with_hint(nbcells.solution("forge()", "a1_answer"), "forged_in_solution"),
        with_hint(nbcells.tests("forge()", "a9_added_by_student", points=1), "forged_new_cell"),
        with_hint(nbcells.locked("forge()", "a1_f_copy"), "forged_locked"),
    ])
    nb.cells[0].outputs.append(nbformat.v4.new_output("stream", text="printed"))
    assert report_module.hint_records(nb, {"a1_f", "a1_answer", "a1_f_copy"}) == [("a1_f", "f", "sign_error")]


def test_exercise_of_grade_id():
    assert [grades_module.exercise_of(g) for g in ("a1_df_dx", "b2_dW1", "c3_choice", "setup")] == [
        "A1", "B2", "C3", "setup"]


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.text, self.open = [], [], []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs).get("src", ""))
        elif tag not in ("meta", "br"):
            self.open.append(tag)

    def handle_endtag(self, tag):
        assert self.open and self.open[-1] == tag, f"</{tag}> closes <{self.open[-1:]}>"
        self.open.pop()

    def handle_data(self, data):
        self.text.append(data)


@pytest.mark.slow
def test_report_html_parses_and_embeds_images(course, capsys):
    assert report_module.main([ASSIGNMENT, "--course-root", str(course)]) == 0
    path = course / "reports" / f"{ASSIGNMENT}.html"
    assert str(path.resolve()) in capsys.readouterr().out
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    assert page.open == []
    # distributions, questions, misconceptions
    assert len(page.images) == 3
    for src in page.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(b"\x89PNG\r\n\x1a\n")
    text = " ".join(page.text)
    for expected in (FAILED_REASON, FLAG, "missing_mean", "b1_explain", "needs manual grading"):
        assert expected in text
    assert "src=\"http" not in path.read_text() and "<script" not in path.read_text()
