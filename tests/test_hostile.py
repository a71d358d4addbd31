"""Broken and hostile submissions graded with the rest of a class (catalogue: tests/hostile/cases.py).

Two classes are graded, each in ONE run of `python -m course.autograde` (what
`make autograde` runs), with the real nbgrader and the sandbox of
course/sandbox.py: Part A with the reference, controls and every trick, and
Parts B + C with the cases that need B (sigmoid, a float pretender) or two
notebooks (invalid JSON, a missing or renamed notebook). For every case:

- the rest of the class is graded (every student has a status record and a
  row in the grades export; nobody but the failing cases failed);
- a trick earns nothing and the honest content keeps its points: each graded
  cell scores exactly what it scores for the control student with the same
  honest content ("like:"), or what the reference scores ("full");
- a submission that cannot be graded is reported by student and reason in the
  status record, the grades export and the autograde summary, never as a 0.0;
- gaming attempts are flagged for review.

The fast tests at the end check the pieces (config, static scan, sealing,
the kernel sandbox) without grading a class.
"""
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from conftest import ASSIGNMENT, cell_outputs_text
from course import feedback, grades, grading, integrity, sandbox, status, submissions
from hostile.cases import A, B, C, CATALOGUE_A, CATALOGUE_BC

REPO = Path(__file__).resolve().parent.parent
# Shorter limits than the course's, so that the hanging cases cost seconds, not minutes.
TEST_CONFIG = """
# (tests/test_hostile.py) shorter time limits for the catalogue
c.Execute.timeout = 20
c.SandboxedExecute.short_timeout = 5
"""


def isolated():
    """True where the sandbox isolates kernels (root with namespaces, as in CI)."""
    mode = sandbox.requested_mode()
    if mode in ("limits", "off"):
        return False
    return sandbox.isolation_problem("course-sandbox") is None


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
        watched = [self.root / "gradebook.db", self.root / "nbgrader_config.py",
                   *sorted((self.root / "source").rglob("*.ipynb")),
                   *sorted((self.root / "submitted" / "ref").rglob("*.ipynb"))]
        self.before = {path: file_hash(path) for path in watched if path.name != "gradebook.db"}
        env = dict(os.environ)
        env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
        run = subprocess.run([sys.executable, "-m", "course.autograde", ASSIGNMENT, "--jobs", "2",
                              "--no-progress"], cwd=self.root, env=env, capture_output=True, text=True)
        self.returncode, self.summary = run.returncode, run.stdout + run.stderr
        self.records = status.load_all(self.root, ASSIGNMENT)
        self.scores = grading.scores(self.root, ASSIGNMENT)
        self.export = {row["student"]: row for row in grades.collect(self.root, ASSIGNMENT).students}

    def cell_scores(self, student, notebook):
        return {grade_id: score for grade_id, (score, _) in self.scores[student][notebook].items()}

    def autograded(self, student, name):
        return submissions.read(self.root / "autograded" / student / ASSIGNMENT / name)

    def cell_text(self, student, name, grade_id):
        return cell_outputs_text(self.autograded(student, name), grade_id)

    def error_names(self, student, name, grade_id):
        cell = next(c for c in self.autograded(student, name).cells if submissions.grade_id(c) == grade_id)
        return [o.get("ename") for o in cell.get("outputs", []) if o.get("output_type") == "error"]


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
    return [name[:-len(".ipynb")] for name in sorted(p.name for p in (run.root / "release" / ASSIGNMENT).glob("*.ipynb"))]


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
        pytest.skip("destructive case: runs only where the sandbox isolates kernels (root)")
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
        pytest.skip("destructive case: runs only where the sandbox isolates kernels (root)")
    case, record = run.cases[student], run.records[student]
    flags = record.get("flags") or []
    if case.flag:
        assert any(case.flag in flag for flag in flags), f"{student}: no flag with {case.flag!r}: {flags}"
        if record["status"] != "failed":
            assert record["status"] == "flagged"
            row = run.export[student]
            assert row["status"] == "flagged" and case.flag in row["reason"], row
            line = next((l for l in run.summary.splitlines() if l.startswith(student + " ")), "")
            assert "flagged" in line and case.flag in line, (student, run.summary[-2000:])
    elif case.outcome == "control":
        assert not flags, f"{student}: an honest submission is flagged: {flags}"


# ----------------------------------------------------------------- what each trick leaves behind

@pytest.mark.slow
def test_sandbox_kept_course_files_out_of_reach(run_a):
    text = run_a.cell_text("read_source", A, "a1_composition_answer")
    assert "hostile: found" in text, text[-500:]
    if not run_a.isolated:
        pytest.skip("without root the kernel runs as the grader and can read the course (docs/sandbox.md)")
    assert "hostile: found 0 read 0" in text, text[-500:]
    written = run_a.cell_text("write_files", A, "a1_composition_answer")
    assert "hostile: blocked gradebook.db" in written and "hostile: wrote" not in written, written
    for path, digest in run_a.before.items():
        assert file_hash(path) == digest, f"{path} was changed"
    assert not (run_a.root.parent / "escaped.txt").exists()
    ref_scores = run_a.scores["ref"][A.split(".")[0]]
    assert all(score == points for score, points in ref_scores.values()), ref_scores


@pytest.mark.slow
def test_checking_stack_restored_and_tampering_scored_zero(run_a):
    text = run_a.cell_text("patch_late", A, "a3_softmax_jacobian")
    assert "IntegrityError" in text or "replaced functions of the checking library" in text, text[-800:]
    evidence = integrity.read_evidence(run_a.root, ASSIGNMENT, "patch_numpy")
    replaced = [name for event in evidence["A_theory"]["events"] if event["kind"] == "tampering"
                for name in event["changed"]]
    assert "numpy.allclose" in replaced and "numpy.testing.assert_allclose" in replaced, replaced


@pytest.mark.slow
def test_edited_metadata_restored(run_a):
    release = submissions.read(run_a.root / "release" / ASSIGNMENT / A)
    points = {submissions.grade_id(c): float(c.metadata["nbgrader"]["points"]) for c in release.cells
              if c.metadata.get("nbgrader", {}).get("points") is not None}
    for student in ("metadata", "ref"):
        got = {g: m for g, (_, m) in run_a.scores[student]["A_theory"].items()}
        assert got == points, f"{student}: max points differ from the release"


@pytest.mark.slow
def test_limits_stop_bombs_and_hangs(run_a):
    assert "MemoryError" in run_a.error_names("memory_bomb", A, "a5_answer")
    forked = run_a.error_names("fork_bomb", A, "a5_answer")
    assert "PermissionError" in forked or "BlockingIOError" in forked, forked[-500:]
    events = integrity.read_evidence(run_a.root, ASSIGNMENT, "loop_a5")["A_theory"]["events"]
    timeouts = [e for e in events if e["kind"] == "timeout"]
    assert len(timeouts) >= 2, events
    assert sum(1 for e in timeouts if e["seconds"] > 5) <= 2, f"every later hang should be short: {timeouts}"


@pytest.mark.slow
def test_output_flood_is_capped(run_a):
    path = run_a.root / "autograded" / "flood" / ASSIGNMENT / A
    assert path.stat().st_size < 3_000_000, path.stat().st_size
    flood = run_a.cell_text("flood", A, "a4_grad_answer")
    assert "output truncated" in flood or "Output truncated" in flood, flood[-300:]
    image = run_a.cell_text("flood", A, "a4_symbolic_answer")
    assert "removed: larger than" in image, image[-300:]


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
def test_feedback_of_the_catalogue_is_sealed(run_a):
    written, leaked = feedback.generate(run_a.root, ASSIGNMENT, log=lambda *a: None)
    assert not leaked, {str(p): found[:3] for p, found in leaked.items()}
    graded = {s for s, r in run_a.records.items() if r.get("graded")}
    assert {p.parent.parent.name for p in written} == graded


# ----------------------------------------------------------------- fast: the pieces

def test_config_swaps_only_the_execute_preprocessor():
    from nbgrader.converters import Autograde
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(REPO)).load_config()
    configured = [name.rsplit(".", 1)[1] for name in config.Autograde.autograde_preprocessors]
    default = [cls.__name__ for cls in Autograde.class_traits()["autograde_preprocessors"].default()]
    assert configured == ["SandboxedExecute" if name == "Execute" else name for name in default]
    sanitize = [name.rsplit(".", 1)[1] for name in config.Autograde.sanitize_preprocessors]
    default = [cls.__name__ for cls in Autograde.class_traits()["sanitize_preprocessors"].default()]
    assert [name for name in sanitize if name != "RestoreCellMetadata"] == default
    assert sanitize.index("RestoreCellMetadata") == sanitize.index("OverwriteCells") - 1
    assert "course.sandbox.SandboxedExecute" in config.Autograde.autograde_preprocessors
    assert "course.feedback.SealFeedback" in list(config.GenerateFeedback.preprocessors)


@pytest.mark.parametrize("code, flag", [
    ("open('../../../source/tutorial08/A_theory.ipynb').read()", "reaches for course files"),
    ("import os\nos._exit(0)", "stops the kernel"),
    ("import os\nwhile True:\n    os.fork()", "starts processes"),
    ("try:\n    pass\nexcept KeyboardInterrupt:\n    pass", "KeyboardInterrupt"),
    ("np.allclose = lambda *a, **k: True", "replaces a function"),
    ("numpy.testing.assert_allclose = print", "replaces a function"),
    ("sp.simplify = lambda e: 0", "replaces a function"),
    ("setattr(course, 'check_number', print)", "patches modules"),
    ("class X:\n    def __eq__(self, other):\n        return True", "pretends to be a value"),
    ("class X:\n    def __lt__(self, other): return True", "pretends to be a value"),
    ("class Y(float):\n    pass", "pretends to be a value"),
])
def test_static_scan_names_the_means(code, flag):
    assert any(flag in found for found in integrity.scan_code(code)), integrity.scan_code(code)


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
        assert integrity.scan_code(code) == [], (code, integrity.scan_code(code))


def _nb_with(cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    return nb


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
    sealed = feedback.seal_cell(test)
    assert "f(2) == 4" not in sealed.source and "# hidden tests ran here" in sealed.source
    assert "assert f(1) == 2" in sealed.source
    texts = [(o.ename, o.evalue, o.traceback) for o in sealed.outputs]
    assert texts[0][1] == "f is not correct. Hint: the sign." and texts[0][2] == [
        "CheckFailed: f is not correct. Hint: the sign."]
    assert texts[1][0] == "ZeroDivisionError" and "4" not in texts[1][1] and len(sealed.outputs) == 2
    task = nbformat.v4.new_markdown_cell("Explain.\n=== BEGIN MARK SCHEME ===\nsecret scheme\n=== END MARK SCHEME ===\nEnd.")
    assert "secret scheme" not in feedback.seal_cell(task).source


# ----------------------------------------------------------------- fast: the kernel sandbox

PROBE = r'''
import json, os, socket, sys
found = {"uid": os.getuid(), "pid": os.getpid(), "cwd_files": sorted(os.listdir("."))}
for name, path in [("secret", SECRET), ("parent", os.path.abspath("..")), ("repo_source", REPO_SOURCE)]:
    try:
        found[name] = os.listdir(path) if os.path.isdir(path) else open(path).read()
    except OSError as error:
        found[name] = type(error).__name__
try:
    socket.create_connection(("1.1.1.1", 53), timeout=2)
    found["network"] = "open"
except OSError as error:
    found["network"] = type(error).__name__
try:
    os.fork()
    found["fork"] = "allowed"
except OSError as error:
    found["fork"] = type(error).__name__
import resource
found["cpu_limit"] = resource.getrlimit(resource.RLIMIT_CPU)[0]
found["memory_limit"] = resource.getrlimit(resource.RLIMIT_AS)[0]
found["env"] = sorted(os.environ)
print(json.dumps(found))
'''


def run_in_sandboxed_kernel(tmp_path, code, secret_dir=None):
    """Run `code` in a sandboxed kernel whose protected course root is `secret_dir`."""
    import asyncio

    secret_dir = secret_dir or tmp_path / "course"
    work = (tmp_path / "course" if secret_dir == tmp_path / "course" else tmp_path) / "autograded" / "s" / ASSIGNMENT
    work.mkdir(parents=True)
    (work / "mine.txt").write_text("mine")
    secret = secret_dir / "gradebook.db"
    if not secret.exists():
        secret.write_text("grades")

    async def go():
        km = sandbox.SandboxedKernelManager(kernel_name="python3")
        km.protected_paths = [str(secret_dir)]
        await km.start_kernel(cwd=str(work), env=dict(os.environ, SECRET_TOKEN="do-not-pass-on"))
        kc = km.client()
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=60)
            source = (f"SECRET = {str(secret)!r}\nREPO_SOURCE = {str(REPO / 'source')!r}\n") + code
            reply = await kc.execute_interactive(source, timeout=60, output_hook=lambda msg: collected.append(msg))
            return km.sandbox_mode, reply
        finally:
            kc.stop_channels()
            await km.shutdown_kernel(now=True)

    collected = []
    mode, reply = asyncio.run(go())
    text = "".join(m["content"].get("text", "") for m in collected if m["msg_type"] == "stream")
    errors = [m["content"] for m in collected if m["msg_type"] == "error"]
    assert not errors, errors
    return mode, json.loads(text.strip().splitlines()[-1])


def test_kernel_runs_when_the_venv_and_course_live_in_the_course_root(tmp_path):
    """`make autograde` in the repository: the protected course root holds `course/` (and
    `.venv`, under make): the kernel must still import them, and still not see the rest."""
    code = PROBE.replace("print(json.dumps(found))", "import course, numpy\n"
                         "found['course'] = os.path.dirname(course.__file__)\n"
                         "found['prefix'] = sys.prefix\nprint(json.dumps(found))")
    had_gradebook = (REPO / "gradebook.db").exists()
    try:
        mode, found = run_in_sandboxed_kernel(tmp_path, code, secret_dir=REPO)
    finally:
        if not had_gradebook:
            (REPO / "gradebook.db").unlink(missing_ok=True)
    assert found["course"] == str(REPO / "course"), found
    assert found["cwd_files"] == ["mine.txt"]
    if not isolated():
        pytest.skip(f"isolation unavailable here ({mode}): the course root is not hidden")
    assert found["repo_source"] == "FileNotFoundError", found
    assert found["secret"] == "FileNotFoundError", found


def test_sandboxed_kernel_limits_and_isolation(tmp_path):
    mode, found = run_in_sandboxed_kernel(tmp_path, PROBE)
    assert found["cwd_files"] == ["mine.txt"]
    assert found["cpu_limit"] > 0 and found["memory_limit"] > 0, found
    assert found["fork"] == "PermissionError", found
    assert "SECRET_TOKEN" not in found["env"], found["env"]
    if not isolated():
        pytest.skip(f"isolation unavailable here ({mode}): only the limits apply")
    assert mode == "isolated"
    assert found["uid"] != 0 and found["uid"] != os.getuid()
    assert found["secret"] == "FileNotFoundError", found
    assert found["repo_source"] == "FileNotFoundError", found
    assert found["parent"] == [ASSIGNMENT], found  # no other student's folder
    assert found["network"] != "open", found
    assert found["pid"] == 2, found


def test_guard_restores_what_was_replaced_and_notices_its_own_removal():
    """The in-kernel guard, run here in-process: it names and puts back replaced functions,
    and a student who deletes its store is reported, not silently unguarded."""
    import builtins
    import numpy as np
    import sympy as sp

    token, namespace = integrity.new_token(), {}
    exec(integrity.guard_setup_code(token), namespace)
    check = integrity.guard_check_code(token, restore=True)
    result = lambda: integrity.parse_guard_result(repr(eval(integrity.guard_result_expression(token), namespace)))
    try:
        exec(check, namespace)
        assert result() == []
        allclose, equals, absolute = np.allclose, sp.Expr.equals, builtins.abs
        np.allclose = lambda *args, **kwargs: True
        sp.Expr.equals = lambda *args: True
        builtins.abs = lambda x: 0
        sp.Basic.always = lambda self: True
        exec(check, namespace)
        changed = result()
        assert np.allclose is allclose and sp.Expr.equals is equals and builtins.abs is absolute
        assert not hasattr(sp.Basic, "always")
        assert {"numpy.allclose", "sympy.core.expr.Expr.equals", "builtins.abs",
                "sympy.core.basic.Basic.always (added)"} <= set(changed), changed
        del sys.modules[token]
        exec(check, namespace)
        assert result() == [integrity.GUARD_REMOVED]
    finally:
        sys.modules.pop(token, None)
