"""Parallel autograding (grader.driver): same scores as stock nbgrader, failures named, nothing lost.

The slow tests grade one small class twice: with stock serial `nbgrader
autograde` (through nbgrader_config.py, so with the same sandbox and hidden tests
outside the kernel) in a copy of the course, and with our parallel driver. Every
cell gets the same score; a broken submission is reported with a reason while the
others are graded; an unchanged submission is not graded again (a changed one
is); no student is graded by two workers; nothing of one student's kernel reaches
another's.
"""
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from grader.authoring import submissions
from grader.driver import grading, records
from grader.driver.commands import environment, nbgrader
from grader.driver.reasons import failure_reason
from grader.paths import Course
from grader.reports.gradebook import scores

ASSIGNMENT = "tutorial08"
NB = "C_conceptual.ipynb"  # the quickest notebook keeps the module quick


# ----------------------------------------------------------------- quick unit tests

def test_failure_reason_names_the_notebook_and_the_kind():
    log = ("[INFO] Sanitizing /c/submitted/s/tutorial08/A_theory.ipynb\n"
           "[INFO] Sanitizing /c/submitted/s/tutorial08/B_coding.ipynb\n"
           "[ERROR] There was an error processing assignment: /c/submitted/s/tutorial08\n"
           "[ERROR] Traceback (most recent call last):\n"
           "    json.decoder.JSONDecodeError: Unterminated string starting at: line 1\n"
           "    nbformat.reader.NotJSONError: Notebook does not appear to be JSON\n")
    assert failure_reason(log).startswith("B_coding.ipynb: not a readable notebook (invalid JSON)")
    died = ("[INFO] Autograding /c/autograded/s/tutorial08/A_theory.ipynb\n"
            "[ERROR] There was an error processing assignment: x\n"
            "    nbclient.exceptions.DeadKernelError: Kernel died\n")
    assert failure_reason(died) == "A_theory.ipynb: the kernel died"
    ours = ("[INFO] Autograding /c/autograded/s/tutorial08/C_conceptual.ipynb\n[ERROR] boom\n"
            "grader.plugins.execute.SubmissionNotGradable: the kernel was killed: CPU time limit\n")
    assert failure_reason(ours) == "C_conceptual.ipynb: the kernel was killed: CPU time limit"
    assert failure_reason("[INFO] all fine\n") is None


def test_submission_hash_follows_content_not_time(tmp_path):
    folder = tmp_path / "ann"
    folder.mkdir()
    (folder / "A.ipynb").write_text("{}")
    first = grading.tree_hash(folder)
    os.utime(folder / "A.ipynb", (1, 1))
    assert grading.tree_hash(folder) == first
    (folder / ".ipynb_checkpoints").mkdir()
    (folder / ".ipynb_checkpoints" / "A-checkpoint.ipynb").write_text("{ }")
    assert grading.tree_hash(folder) == first  # nbgrader ignores those
    (folder / "A.ipynb").write_text('{"x": 1}')
    assert grading.tree_hash(folder) != first
    assert grading.tree_hash(tmp_path / "nobody") is None


def test_shards_are_disjoint_and_cover_the_class():
    students = [f"s{i:03d}" for i in range(50)]
    parts = [grading.shard(students, k, 4) for k in range(1, 5)]
    assert sorted(sum(parts, [])) == students and all(parts)
    assert grading.shard(students + ["new"], 2, 4)[:len(parts[1])] == parts[1]  # stable
    with pytest.raises(ValueError):
        grading.shard(students, 5, 4)


# ----------------------------------------------------------------- a class, graded twice

LEAK = "import builtins as _b\n_b._course_leak = 'set by student leaker'\nopen('/tmp/left_behind', 'w').write('x')\n"
PROBE = ("import builtins as _b, os as _os\nprint('LEAK:', getattr(_b, '_course_leak', None), "
         "_os.path.exists('/tmp/left_behind'))\nprint('HISTORY:', get_ipython().history_manager.enabled)\n")


@pytest.fixture(scope="module")
def graded(make_course, tmp_path_factory):
    course = make_course([NB])
    release = course.release_nb(NB)
    first = next(submissions.grade_id(c) for c in release.cells if submissions.is_solution(c) and c.cell_type == "code")
    answers = submissions.reference_answers(course.source_nb(NB))
    course.submit("ref", {NB: course.reference(NB)})
    course.submit("wrong", {NB: course.reference(NB, {first: "pass"})})
    course.submit("blank", {NB: release})
    course.submit("broken", {NB: '{"cells": [ {"cell_type": "code", "sour'})
    course.submit("leaker", {NB: course.reference(NB, {first: LEAK + answers[first]})})
    course.submit("prober", {NB: course.reference(NB, {first: PROBE + answers[first]})})
    stock_root = tmp_path_factory.mktemp("stock") / "course"
    shutil.copytree(course.root, stock_root)
    run = nbgrader(["autograde", ASSIGNMENT, "--force"], stock_root)
    events = []
    found = grading.autograde(course.root, ASSIGNMENT, jobs=3, on_result=events.append)
    return {"course": course, "first": first, "stock": scores(stock_root, ASSIGNMENT), "stock_run": run,
            "ours": scores(course.root, ASSIGNMENT), "records": found, "events": events}


@pytest.mark.slow
def test_same_score_for_every_cell_as_stock_nbgrader(graded):
    stock, ours = graded["stock"], graded["ours"]
    assert set(stock) == set(ours) == {"ref", "wrong", "blank", "broken", "leaker", "prober"}
    for student in stock:
        assert ours[student] == stock[student], student
    total = {s: sum(score or 0 for score, _ in ours[s][NB[:-6]].values()) for s in ours}
    assert total["ref"] > total["wrong"] > 0 and total["blank"] == 0
    assert graded["stock_run"].returncode == 1  # stock only says "something failed"


@pytest.mark.slow
def test_broken_submission_is_failed_with_a_reason_and_the_others_graded(graded):
    found = graded["records"]
    assert found["broken"]["status"] == "failed"
    assert found["broken"]["reason"].startswith(f"{NB}: a notebook file that is cut short or damaged (invalid JSON at")
    assert found["broken"]["notebooks"] == [NB]
    course = Course(graded["course"].root)
    assert records.load(course, ASSIGNMENT, "broken")["reason"] == found["broken"]["reason"]
    for student in ("ref", "wrong", "blank", "leaker", "prober"):
        assert found[student]["status"] in ("graded", "flagged"), found[student]
        assert found[student]["graded"] == [NB]
        assert found[student]["hash"] == grading.tree_hash(course.submitted(student, ASSIGNMENT))
    assert "NotANotebook: a notebook file that is cut short" in (course.root / found["broken"]["log"]).read_text()


@pytest.mark.slow
def test_each_student_is_graded_by_exactly_one_worker(graded):
    events, found = graded["events"], graded["records"]
    assert sorted(e["student"] for e in events) == sorted(found)
    logs = Course(graded["course"].root).status(ASSIGNMENT) / "logs"
    seen = {}
    for path in sorted(logs.glob("worker-*.log")):
        for student in set(re.findall(r"Sanitizing \S+/submitted/([^/]+)/", path.read_text())):
            seen.setdefault(student, []).append(path.name)
    assert set(seen) == set(found) and all(len(workers) == 1 for workers in seen.values()), seen
    for student, record in found.items():
        assert seen[student] == [f"worker-{record['worker']}.log"]


@pytest.mark.slow
def test_no_student_code_reaches_another_students_kernel(graded):
    from conftest import cell_outputs_text
    probed = cell_outputs_text(graded["course"].autograded_nb("prober", NB), graded["first"])
    assert "LEAK: None False" in probed  # builtins and /tmp of an earlier kernel are gone
    assert "HISTORY: False" in probed   # no SQLite history: a file, a thread, a write per cell


@pytest.mark.slow
def test_kernels_write_plain_python_tracebacks(graded):
    nb = graded["course"].autograded_nb("blank", NB)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.output_type == "error" and o.ename != "CheckFailed"]
    assert errors, "the blank submission should fail its visible checks"
    for error in errors:
        text = re.sub(r"\x1b\[[0-9;]*m", "", "".join(error.traceback))
        assert text.startswith("Traceback (most recent call last):"), text[:200]
        assert error.ename in text and "---->" not in text


@pytest.mark.slow
def test_rerun_skips_unchanged_and_regrades_a_changed_submission(graded):
    course = graded["course"]
    paths = Course(course.root)
    before = records.load_all(paths, ASSIGNMENT)
    records.add_flags(paths, ASSIGNMENT, "ref", ["looked at the tests"])
    events = []
    found = grading.autograde(course.root, ASSIGNMENT, force=False, on_result=events.append)
    assert events == []  # nothing changed: nothing graded
    assert found["ref"]["status"] == "flagged" and found["broken"]["status"] == "failed"

    course.submit("wrong", {NB: course.reference(NB)})  # fixed the mistake
    events = []
    found = grading.autograde(course.root, ASSIGNMENT, force=False, on_result=events.append)
    assert [e["student"] for e in events] == ["wrong"]
    assert found["wrong"]["hash"] != before["wrong"]["hash"]
    table = scores(course.root, ASSIGNMENT)
    assert table["wrong"][NB[:-6]] == table["ref"][NB[:-6]]

    # force regrades; a flag survives while its submission is unchanged
    found = grading.autograde(course.root, ASSIGNMENT, students=["ref"], force=True)
    assert found["ref"]["status"] == "flagged" and found["ref"]["flags"] == ["looked at the tests"]
    course.submit("ref", {NB: course.reference(NB, {graded["first"]: "pass"})})
    found = grading.autograde(course.root, ASSIGNMENT, students=["ref"], force=True)
    assert found["ref"]["status"] == "graded" and "flags" not in found["ref"]


@pytest.mark.slow
def test_cli_reports_failures_and_exit_code(graded):
    course = graded["course"]
    run = subprocess.run([sys.executable, "-m", "grader.driver.autograde", ASSIGNMENT, "--no-progress"],
                         cwd=course.root, env=environment(), capture_output=True, text=True, timeout=300)
    assert run.returncode == 1, run.stdout + run.stderr  # "broken" is still failed
    assert "invalid JSON" in run.stdout and "unchanged" in run.stdout
    run = subprocess.run([sys.executable, "-m", "grader.driver.autograde", ASSIGNMENT, "--student", "r*",
                          "--force", "--no-progress", "--jobs", "1"],
                         cwd=course.root, env=environment(), capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr  # only "ref" matches
    assert "graded 1 in" in run.stdout
    record = json.loads((Course(course.root).status(ASSIGNMENT) / "ref.json").read_text())
    assert record["status"] == "graded"
