"""Broken and hostile submissions graded with the rest of a class (catalogue: tests/hostile/cases.py).

Two classes are graded, each in ONE run of `python -m grader.driver.autograde` (what
`make autograde` runs), with the real nbgrader, the sandbox and the trust boundary:
Part A with the reference, controls and every trick, and Parts B + C with the cases
that need B or two notebooks. For every case:

- the rest of the class is graded (every student has a status record and a row in
  the grades export; nobody but the failing cases failed);
- a trick earns nothing and the honest content keeps its points: each graded cell
  scores exactly what it scores for the control student with the same honest
  content ("like:"), or what the reference scores ("full");
- a submission that cannot be graded is reported by student and reason in the
  status record, the grades export and the autograde summary, never as a 0.0;
- gaming attempts are flagged for review;
- feedback is written, or withheld when it would show text the grader sent to the
  kernel (a snippet the student's code found and printed).

The fast tests at the end check the pieces (config, static scan, sealing).
"""
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from conftest import ASSIGNMENT, cell_outputs_text
from grader.authoring import submissions
from grader.driver import records, review
from grader.driver.commands import environment
from grader.paths import Course
from grader.plugins import feedback as sealing
from grader.reports import feedback, grades
from grader.reports.gradebook import scores
from grader.sandbox import policy
from hostile.cases import A, B, C, CATALOGUE_A, CATALOGUE_BC

REPO = Path(__file__).resolve().parent.parent
# Shorter limits than the course's, so that the hanging cases cost seconds, not minutes.
TEST_CONFIG = """
# (tests/test_hostile.py) shorter time limits for the catalogue
c.Execute.timeout = 20
c.GradedExecute.short_timeout = 5
"""


def isolated():
    try:
        return policy.effective_mode() == "isolated"
    except policy.SandboxUnavailable:
        return False


def file_hash(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest() if Path(path).exists() else None


class Run:
    """One class graded in one autograde run, and everything the tests look at afterwards."""

    def __init__(self, course, catalogue):
        self.course, self.root = course, course.root
        self.isolated = isolated()
        self.cases = {case.student: case for case in catalogue if self.isolated or not case.destructive}
        for case in self.cases.values():
            course.submit(case.student, case.build(course))
        with open(self.root / "nbgrader_config.py", "a") as handle:
            handle.write(TEST_CONFIG)
        watched = [self.root / "nbgrader_config.py", *sorted((self.root / "source").rglob("*.ipynb")),
                   *sorted((self.root / "submitted" / "ref").rglob("*.ipynb"))]
        self.before = {path: file_hash(path) for path in watched}
        run = subprocess.run([sys.executable, "-m", "grader.driver.autograde", ASSIGNMENT, "--jobs", "2",
                              "--no-progress"], cwd=self.root, env=environment(), capture_output=True, text=True)
        self.returncode, self.summary = run.returncode, run.stdout + run.stderr
        self.paths = Course(self.root)
        self.records = records.load_all(self.paths, ASSIGNMENT)
        self.scores = scores(self.root, ASSIGNMENT)
        self.export = {row["student"]: row for row in grades.collect(self.root, ASSIGNMENT).students}

    def cell_scores(self, student, notebook):
        return {grade_id: score for grade_id, (score, _) in self.scores[student][notebook].items()}

    def autograded(self, student, name):
        return submissions.read(self.paths.autograded(student, ASSIGNMENT) / name)

    def cell_text(self, student, name, grade_id):
        return cell_outputs_text(self.autograded(student, name), grade_id)

    def error_names(self, student, name, grade_id):
        cell = next(c for c in self.autograded(student, name).cells if submissions.grade_id(c) == grade_id)
        return [o.get("ename") for o in cell.get("outputs", []) if o.get("output_type") == "error"]

    def events(self, student, name):
        path = self.paths.status(ASSIGNMENT) / "events" / student / f"{name[:-len('.ipynb')]}.json"
        return json.loads(path.read_text())["events"]


@pytest.fixture(scope="module")
def run_a(make_course):
    return Run(make_course([A]), CATALOGUE_A)


@pytest.fixture(scope="module")
def run_bc(make_course):
    return Run(make_course([B, C]), CATALOGUE_BC)


def runs(request, which):
    return request.getfixturevalue({"a": "run_a", "bc": "run_bc"}[which])


def case_params():
    return ([pytest.param("a", case.student, id=f"A-{case.student}") for case in CATALOGUE_A]
            + [pytest.param("bc", case.student, id=f"BC-{case.student}") for case in CATALOGUE_BC])


def notebooks_of(run):
    return [name[:-len(".ipynb")] for name in run.paths.release_notebooks(ASSIGNMENT)]


# ----------------------------------------------------------------- the whole class

@pytest.mark.slow
@pytest.mark.parametrize("which", ["a", "bc"])
def test_the_rest_of_the_class_is_graded(request, which):
    run = runs(request, which)
    failing = {s for s, case in run.cases.items() if case.outcome == "failed"}
    assert run.returncode == (1 if failing else 0), run.summary[-3000:]
    for student in run.cases:
        assert student in run.records, f"{student}: no status record (lost silently)\n{run.summary[-2000:]}"
        assert student in run.export, f"{student}: missing from the grades export"
        record = run.records[student]
        assert not record.get("grader_problems"), (student, record["grader_problems"])
        if student in failing:
            continue
        assert record["status"] in ("graded", "flagged"), (student, record)
        assert record.get("notebooks") in (None, []), (student, record)
        assert set(run.scores[student]) == set(notebooks_of(run)), (student, run.scores[student])


# ----------------------------------------------------------------- each case

@pytest.mark.slow
@pytest.mark.parametrize("which, student", case_params())
def test_outcome(request, which, student):
    run = runs(request, which)
    if student not in run.cases:
        pytest.skip("destructive case: runs only where the sandbox isolates kernels")
    case, record = run.cases[student], run.records[student]
    if case.outcome in ("control", "full") or case.outcome.startswith("like:"):
        control = "ref" if case.outcome in ("control", "full") else case.outcome.split(":", 1)[1]
        for notebook in notebooks_of(run):
            got, want = run.cell_scores(student, notebook), run.cell_scores(control, notebook)
            if case.outcome == "control" and student != "ref":
                continue  # a control is whatever it is; it is graded, that is all
            differ = {g: (got.get(g), want.get(g)) for g in want if got.get(g) != want.get(g)}
            assert not differ, f"{student} ({case.what}): cells scored unlike {control}: {differ}"
        if student == "ref":
            for notebook in notebooks_of(run):
                lost = {g: s for g, (s, m) in run.scores["ref"][notebook].items() if s != m
                        and not g.endswith("_written")}
                assert not lost, f"the reference loses points: {lost}"
    elif case.outcome.startswith("at_most:"):
        control = case.outcome.split(":", 1)[1]
        for notebook in notebooks_of(run):
            got, bound = run.cell_scores(student, notebook), run.cell_scores(control, notebook)
            more = {g: (got.get(g), bound[g]) for g in bound if (got.get(g) or 0) > (bound[g] or 0)}
            assert not more, f"{student} ({case.what}): cells scored more than {control}: {more}"
    elif case.outcome == "zero":  # graded, and no autograded cell earns a point
        for notebook in notebooks_of(run):
            earned = {g: s for g, s in run.cell_scores(student, notebook).items() if s}
            assert not earned, f"{student} ({case.what}): cells earned points: {earned}"
    else:
        assert case.outcome == "failed"
        assert record["status"] == "failed", (student, record)
        for piece in case.reason:
            assert piece.lower() in record["reason"].lower(), (student, record["reason"], piece)
        row = run.export[student]
        assert row["status"] == "failed" and row["reason"] == record["reason"], row
        assert row["total"] is None, f"{student}: a failed submission must not be exported as a score: {row}"
        line = next((l for l in run.summary.splitlines() if l.startswith(student + " ")), "")
        assert "failed" in line and record["reason"][:60] in line, (student, run.summary[-2000:])


@pytest.mark.slow
@pytest.mark.parametrize("which, student", case_params())
def test_flags(request, which, student):
    run = runs(request, which)
    if student not in run.cases:
        pytest.skip("destructive case: runs only where the sandbox isolates kernels")
    case, record = run.cases[student], run.records[student]
    flags = record.get("flags") or []
    if case.flag:
        assert any(case.flag in flag for flag in flags), f"{student}: no flag with {case.flag!r}: {flags}"
        if record["status"] != "failed":
            assert record["status"] == "flagged"
            row = run.export[student]
            assert row["status"] == "flagged" and case.flag in row["reason"], row
            line = next((l for l in run.summary.splitlines() if l.startswith(student + " ")), "")
            assert "flagged" in line, (student, run.summary[-2000:])
    elif case.outcome == "control":
        assert not flags, f"{student}: an honest submission is flagged: {flags}"


# ----------------------------------------------------------------- what the tricks saw

@pytest.mark.slow
def test_the_kernel_never_saw_a_hidden_test(run_a):
    found = run_a.cell_text("read_executed", A, "a1_composition_answer")
    assert "with hidden tests []" in found, found[-500:]
    seen = run_a.cell_text("event_hooks", A, "a7_maxima_answer")
    assert "with hidden 0" in seen, seen[-500:]
    compiled = run_a.cell_text("audit_hook", A, "a7_maxima_answer")
    assert "hostile: compiled" in compiled and "False" in compiled, compiled[-500:]


@pytest.mark.slow
def test_the_sandbox_kept_the_course_the_grader_and_the_network_out_of_reach(run_a):
    text = run_a.cell_text("read_source", A, "a1_composition_answer")
    assert "hostile: found" in text, text[-500:]
    if not run_a.isolated:
        pytest.skip("without isolation the kernel runs as the grader and can read the course (docs/sandbox.md)")
    assert "hostile: found 0 read 0" in text, text[-500:]
    written = run_a.cell_text("write_files", A, "a1_composition_answer")
    assert "hostile: blocked submitted/ref" in written, written  # whatever it wrote went to its own /tmp-like root
    for path, digest in run_a.before.items():
        assert file_hash(path) == digest, f"{path} was changed"
    assert not (run_a.root.parent / "escaped.txt").exists()
    proc = run_a.cell_text("proc_snoop", A, "a1_composition_answer")
    assert "'2/mem': 'PermissionError'" in proc and "'2/environ': 'PermissionError'" in proc, proc
    assert "hostile: reached []" in run_a.cell_text("network", A, "a1_composition_answer")


@pytest.mark.slow
def test_a_killed_zygote_costs_no_one_else_anything(run_a):
    # killing it is possible (same user inside the sandbox), and ends that kernel's sandbox; the
    # grader starts another zygote, and every other student of the class is graded in full
    assert "killed" in run_a.records["kill_zygote"]["reason"]
    assert all(run_a.records[s]["status"] != "failed" for s, c in run_a.cases.items() if c.outcome != "failed")
    assert run_a.cell_scores("ref", "A_theory") == {g: m for g, (_, m) in run_a.scores["ref"]["A_theory"].items()}


@pytest.mark.slow
def test_edited_metadata_restored(run_a):
    release = submissions.read(run_a.paths.release(ASSIGNMENT) / A)
    points = {submissions.grade_id(c): float(c.metadata["nbgrader"]["points"]) for c in release.cells
              if c.metadata.get("nbgrader", {}).get("points") is not None}
    for student in ("metadata", "ref"):
        got = {g: m for g, (_, m) in run_a.scores[student]["A_theory"].items()}
        assert got == points, f"{student}: max points differ from the release"


@pytest.mark.slow
def test_limits_stop_bombs_and_hangs(run_a):
    assert "MemoryError" in run_a.error_names("memory_bomb", A, "a5_answer")
    forked = run_a.error_names("fork_bomb", A, "a5_answer")
    assert "PermissionError" in forked or "BlockingIOError" in forked, forked
    timeouts = [e for e in run_a.events("loop_a5", A) if e["kind"] == "timeout"]
    assert len(timeouts) >= 2, timeouts
    assert sum(1 for e in timeouts if e["seconds"] > 5) <= 2, f"every later hang should be short: {timeouts}"


@pytest.mark.slow
def test_output_flood_is_capped(run_a):
    path = run_a.paths.autograded("flood", ASSIGNMENT) / A
    assert path.stat().st_size < 3_000_000, path.stat().st_size
    flood = run_a.cell_text("flood", A, "a4_grad_answer")
    assert "output truncated" in flood.lower(), flood[-300:]  # ours (bytes), or nbgrader's LimitOutput (lines)
    image = run_a.cell_text("flood", A, "a4_symbolic_answer")
    assert "removed: larger than" in image, image[-300:]
    grown = run_a.autograded("display_updates", A)
    assert (run_a.paths.autograded("display_updates", ASSIGNMENT) / A).stat().st_size < 3_000_000
    assert "small" in cell_outputs_text(grown, "a1_composition_answer")  # the record keeps the first display


@pytest.mark.slow
def test_forged_scores_and_hints_count_for_nothing(run_a):
    nb = run_a.autograded("forged_outputs", A)
    for cell in nb.cells:
        if submissions.grade_id(cell) in ("a3_softmax_jacobian", "a3_jacobian_large_logits"):
            kinds = [o.output_type for o in cell.get("outputs", [])]
            assert "execute_result" not in kinds, kinds  # a kernel's result never passes for a score
            assert kinds[0] == "error", kinds            # the grader's verdict comes first


@pytest.mark.slow
def test_rest_of_a_submission_is_graded(run_bc):
    """A notebook missing or renamed costs that notebook only: C is graded as usual."""
    for student in ("missing_nb", "renamed_nb"):
        assert run_bc.cell_scores(student, "C_conceptual") == run_bc.cell_scores("ref", "C_conceptual")
        assert run_bc.records[student]["notebooks"] == [B], run_bc.records[student]


@pytest.mark.slow
@pytest.mark.parametrize("student", ["invalid_json", "os_exit_b"])
def test_a_notebook_that_fails_costs_only_itself(run_bc, student):
    """nbgrader drops all of a student's notebooks when one fails; we grade the others alone."""
    record = run_bc.records[student]
    assert record["status"] == "failed" and record["graded"] == [C], record
    assert record["notebooks"] == [B], record
    assert run_bc.cell_scores(student, "C_conceptual") == run_bc.cell_scores("ref", "C_conceptual")
    row, ref_row = run_bc.export[student], run_bc.export["ref"]
    assert row["C_conceptual"] == ref_row["C_conceptual"] and row["B_coding"] is None, row
    assert row["total"] is None, row
    line = next((l for l in run_bc.summary.splitlines() if l.startswith(student + " ")), "")
    assert f"graded: {C}" in line, run_bc.summary[-2000:]


@pytest.mark.slow
@pytest.mark.parametrize("which", ["a", "bc"])
def test_feedback_of_the_catalogue_is_sealed(request, which):
    run = runs(request, which)
    written, withheld = feedback.generate(run.root, ASSIGNMENT, log=lambda *a: None)
    expected = {s for s, c in run.cases.items() if c.feedback == "withheld"}
    assert {p.parent.parent.name for p in withheld} == expected, {str(p): f[:2] for p, f in withheld.items()}
    graded = {(s, name[:-len(".ipynb")]) for s, r in run.records.items() for name in r.get("graded") or []}
    assert {(p.parent.parent.name, p.stem) for p in [*written, *withheld]} == graded  # one file each


# ----------------------------------------------------------------- fast: the pieces

def test_config_swaps_execute_and_adds_only_the_repair_and_metadata_steps():
    from nbgrader.converters import Autograde
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(REPO)).load_config()
    configured = [name.rsplit(".", 1)[1] for name in config.Autograde.autograde_preprocessors]
    default = [cls.__name__ for cls in Autograde.class_traits()["autograde_preprocessors"].default()]
    assert configured == ["GradedExecute" if name == "Execute" else name for name in default]
    sanitize = [name.rsplit(".", 1)[1] for name in config.Autograde.sanitize_preprocessors]
    default = [cls.__name__ for cls in Autograde.class_traits()["sanitize_preprocessors"].default()]
    assert [name for name in sanitize if name not in ("RepairCells", "RestoreCellMetadata")] == default
    assert sanitize.index("RestoreCellMetadata") == sanitize.index("OverwriteCells") - 1
    assert sanitize[0] == "RepairCells", "damaged notebooks are aligned before nbgrader's own steps"
    assert config.Autograde.exporter_class == "grader.plugins.RepairingExporter"
    assert "grader.plugins.GradedExecute" in config.Autograde.autograde_preprocessors
    assert "grader.plugins.SealFeedback" in list(config.GenerateFeedback.preprocessors)


@pytest.mark.parametrize("code, flag", [
    ("open('../../../source/tutorial08/A_theory.ipynb').read()", "reaches for files"),
    ("open('/proc/2/mem', 'rb')", "reaches for files"),
    ("import os\nos._exit(0)", "stops the kernel"),
    ("import os\nwhile True:\n    os.fork()", "starts processes"),
    ("try:\n    pass\nexcept KeyboardInterrupt:\n    pass", "KeyboardInterrupt"),
    ("np.allclose = lambda *a, **k: True", "replaces a function"),
    ("numpy.testing.assert_allclose = print", "replaces a function"),
    ("sp.simplify = lambda e: 0", "replaces a function"),
    ("setattr(course, 'check_number', print)", "replaces a function"),
    ("get_ipython().input_transformers_cleanup.append(f)", "kernel's machinery"),
    ("__grader_agent__.handle = lambda r: {}", "kernel's machinery"),
    ("import sys\nsys.addaudithook(print)", "kernel's machinery"),
    ("f.__code__ = g.__code__", "frames, code objects"),
    ("class X:\n    def __eq__(self, other):\n        return True", "pretends to be a value"),
    ("class X:\n    def __lt__(self, other): return True", "pretends to be a value"),
    ("class Y(float):\n    pass", "pretends to be a value"),
])
def test_static_scan_names_the_means(code, flag):
    assert any(flag in found for found in review.scan_code(code)), review.scan_code(code)


def test_static_scan_leaves_honest_code_alone():
    honest = [
        "df_dx = sp.cos(x**2 + 3*x) * (2*x + 3)",
        "def softmax_jacobian(z):\n    e = np.exp(z - np.max(z))\n    s = e / e.sum()\n    return np.diag(s) - np.outer(s, s)",
        "x == y  # compare\nresult = np.allclose(a, b)",
        "class Tensor:\n    def __add__(self, other):\n        return Tensor(self.data + other.data)",
        "class Tensor:\n    def __eq__(self, other):\n        return np.array_equal(self.data, other.data)",
        "for i in range(10):\n    try:\n        v = f(i)\n    except ValueError:\n        pass",
    ]
    for code in honest:
        assert review.scan_code(code) == [], (code, review.scan_code(code))


@pytest.mark.parametrize("damaged", [
    {"cells": "not a list"}, {"cells": [None, 3, "x", {"cell_type": "code", "source": 7}]},
    {"cells": [{"cell_type": "code", "source": ["a", 1, None], "metadata": {"nbgrader": "grade"}}]},
    [], "text", {"cells": [{"metadata": {"nbgrader": {"grade_id": ["a list"]}}, "source": "x"}]},
])
def test_the_review_never_fails_on_odd_json(damaged):
    release = nbformat.v4.new_notebook()
    assert isinstance(review.scan_notebook(damaged, release), list)


def test_seal_cell_keeps_the_message_and_drops_the_rest():
    from nbformat.v4 import new_code_cell, new_output

    test = new_code_cell("assert f(1) == 2\n### BEGIN HIDDEN TESTS\nassert f(2) == 4, 'f is wrong'\n### END HIDDEN TESTS",
                         metadata={"nbgrader": {"grade": True, "solution": False, "locked": True,
                                                "grade_id": "t", "points": 1}})
    test.outputs = [
        new_output("stream", name="stdout", text="expected 4\n"),
        new_output("display_data", data={"application/vnd.course.hint+json": {"kind": "sign_error"}, "text/plain": ""}),
        new_output("error", ename="CheckFailed", evalue="f is not correct. Hint: the sign.",
                   traceback=["Traceback", "----> 3 check_number('f', f(2), 4.0)", "CheckFailed: ..."]),
        new_output("error", ename="ZeroDivisionError", evalue="the secret is 4", traceback=["x = 1 / (4 - 4)"]),
    ]
    sealed = sealing.seal_cell(test)
    assert "f(2) == 4" not in sealed.source and "# hidden tests ran here" in sealed.source
    assert "assert f(1) == 2" in sealed.source
    texts = [(o.ename, o.evalue, o.traceback) for o in sealed.outputs]
    assert texts[0][1] == "f is not correct. Hint: the sign." and texts[0][2] == [
        "CheckFailed: f is not correct. Hint: the sign."]
    assert texts[1][0] == "ZeroDivisionError" and "4" not in texts[1][1] and len(sealed.outputs) == 2
    task = nbformat.v4.new_markdown_cell("Explain.\n=== BEGIN MARK SCHEME ===\nsecret scheme\n=== END MARK SCHEME ===\nEnd.")
    assert "secret scheme" not in sealing.seal_cell(task).source
