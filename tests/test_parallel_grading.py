"""Parallel autograding (course.grading, course.autograde, course.zygote).

The slow tests grade one small class twice: with stock serial `nbgrader
autograde` in a copy of the course, and with our parallel driver. They prove
that every cell gets the same score, that a broken submission is reported with
a reason while the others are graded, that an unchanged submission is not
graded again (and a changed one is), that no student is graded by two
workers, and that no student's code is visible to another's kernel.
"""
import copy
import json
import os
import re
import shutil
import subprocess
import sys

import jsonschema
import pytest

from course import grading, status, submissions

ASSIGNMENT = "tutorial08"
# One notebook keeps the module quick; the fastest one that exists.
PREFERRED = ["C_conceptual.ipynb", "A_theory.ipynb", "B_coding.ipynb"]


# ----------------------------------------------------------------- quick unit tests

def test_failure_reason_names_the_notebook_and_the_kind():
    log = ("[INFO] Sanitizing /c/submitted/s/tutorial08/A_theory.ipynb\n"
           "[INFO] Sanitizing /c/submitted/s/tutorial08/B_coding.ipynb\n"
           "[ERROR] There was an error processing assignment: /c/submitted/s/tutorial08\n"
           "[ERROR] Traceback (most recent call last):\n"
           "    json.decoder.JSONDecodeError: Unterminated string starting at: line 1\n"
           "    nbformat.reader.NotJSONError: Notebook does not appear to be JSON\n")
    assert grading.failure_reason(log) == "B_coding.ipynb: invalid JSON"
    died = ("[INFO] Autograding /c/autograded/s/tutorial08/A_theory.ipynb\n"
            "[ERROR] There was an error processing assignment: x\n"
            "    nbclient.exceptions.DeadKernelError: Kernel died\n")
    assert grading.failure_reason(died) == "A_theory.ipynb: kernel died"
    hung = ("[INFO] Autograding /c/autograded/s/tutorial08/C_conceptual.ipynb\n"
            "[ERROR] While processing assignment x, the kernel became unresponsive and we could not "
            "interrupt it.\n")
    assert grading.failure_reason(hung) == "C_conceptual.ipynb: timed out"
    assert grading.failure_reason("[INFO] all fine\n") is None


def test_submission_hash_follows_content_not_time(tmp_path):
    folder = tmp_path / "submitted" / "ann" / ASSIGNMENT
    folder.mkdir(parents=True)
    (folder / "A.ipynb").write_text("{}")
    first = grading.submission_hash(tmp_path, ASSIGNMENT, "ann")
    os.utime(folder / "A.ipynb", (1, 1))
    assert grading.submission_hash(tmp_path, ASSIGNMENT, "ann") == first
    (folder / ".ipynb_checkpoints").mkdir()
    (folder / ".ipynb_checkpoints" / "A-checkpoint.ipynb").write_text("{ }")
    assert grading.submission_hash(tmp_path, ASSIGNMENT, "ann") == first  # nbgrader ignores those
    (folder / "A.ipynb").write_text('{"x": 1}')
    assert grading.submission_hash(tmp_path, ASSIGNMENT, "ann") != first
    assert grading.submission_hash(tmp_path, ASSIGNMENT, "nobody") is None


def test_select_students_takes_names_and_globs(tmp_path):
    for student in ("ann", "bob", "bea"):
        (tmp_path / "submitted" / student / ASSIGNMENT).mkdir(parents=True)
    assert grading.select_students(tmp_path, ASSIGNMENT, ["b*"]) == ["bea", "bob"]
    assert grading.select_students(tmp_path, ASSIGNMENT, ["ann", "zed"]) == ["ann"]


def test_shards_are_disjoint_and_cover_the_class():
    students = [f"s{i:03d}" for i in range(50)]
    parts = [grading.shard(students, k, 4) for k in range(1, 5)]
    assert sorted(sum(parts, [])) == students
    assert all(parts)
    assert grading.shard(students + ["new"], 2, 4)[:len(parts[1])] == parts[1]  # stable
    with pytest.raises(ValueError):
        grading.shard(students, 5, 4)


def test_schema_checked_once_validates_like_jsonschema():
    shim = grading._SchemaCheckedOnce(jsonschema)
    schema = {"type": "object", "properties": {"points": {"type": "number", "minimum": 0},
                                               "ids": {"type": "array"}},
              "required": ["points"]}
    # twice each: metadata found valid once is remembered, and what only looks the
    # same (True and 1, a tuple and a list) must not pass for it
    instances = [{"points": 2}, {"points": -1}, {}, {"points": "two"}, {"points": 1, "ids": [1]},
                 {"points": True, "ids": [1]}, {"points": 1, "ids": (1,)}, {"points": 2.0}]
    for instance in instances + instances:
        try:
            jsonschema.validate(instance, schema)
            expected = None
        except jsonschema.ValidationError as error:
            expected = error.message
        try:
            shim.validate(instance, schema)
            got = None
        except jsonschema.ValidationError as error:
            got = error.message
        assert got == expected
    schema["required"].append("ids")  # the same schema object, edited: validated anew
    with pytest.raises(jsonschema.ValidationError):
        shim.validate({"points": 2}, schema)
    with pytest.raises(jsonschema.SchemaError):
        shim.validate({}, {"type": 12})


def test_schema_checked_once_remembers_by_content_not_by_object():
    # nbgrader reads its schema from its JSON file for every notebook: an equal
    # schema in a new object must find the metadata already found valid
    checked = []

    class Counting(jsonschema.Draft7Validator):
        def iter_errors(self, instance, *args, **kwargs):
            checked.append(dict(instance))
            return super().iter_errors(instance, *args, **kwargs)

    shim = grading._SchemaCheckedOnce(jsonschema)
    schema = {"type": "object", "properties": {"points": {"type": "number"}}}
    metadata = {"points": 2}
    for _ in range(3):
        shim.validate(dict(metadata), copy.deepcopy(schema), Counting)
    assert checked == [metadata]
    # another schema (same keys, another content) validates anew and can fail
    stricter = {"type": "object", "properties": {"points": {"type": "number", "maximum": 1}}}
    with pytest.raises(jsonschema.ValidationError):
        shim.validate(dict(metadata), stricter, Counting)
    assert len(checked) == 2


def test_kernel_client_retries_a_refused_connection_soon():
    # A forked kernel binds its ports a moment after the client connects: zmq
    # retries a refused connection after RECONNECT_IVL, 100 ms unless set.
    import zmq
    from course.kernel_client import GraderClient
    client = GraderClient()
    client.load_connection_info({"transport": "tcp", "ip": "127.0.0.1", "shell_port": 1,
                                 "iopub_port": 2, "stdin_port": 3, "control_port": 4,
                                 "hb_port": 5, "key": "", "signature_scheme": "hmac-sha256"})
    sockets = [client.connect_shell(), client.connect_iopub(), client.connect_control()]
    try:
        for sock in sockets:
            assert sock.getsockopt(zmq.RECONNECT_IVL) == GraderClient.reconnect_interval_ms < 100
    finally:
        for sock in sockets:
            sock.close(linger=0)


def test_shutdown_notices_the_kernel_exit_between_jupyter_clients_polls(monkeypatch):
    # jupyter_client checks every 0.1 s whether a kernel asked to shut down has exited
    import asyncio
    from course.sandbox import SandboxedKernelManager
    km = SandboxedKernelManager()
    answers = iter([True, True, False])

    async def is_alive():
        return next(answers)

    pauses = []
    real_sleep = asyncio.sleep

    async def sleep(seconds, *args):
        pauses.append(seconds)
        await real_sleep(0)

    monkeypatch.setattr(km, "_async_is_alive", is_alive)
    monkeypatch.setattr(asyncio, "sleep", sleep)
    asyncio.run(km._async_wait())
    assert pauses == [km.exit_poll_interval] * 2 and km.exit_poll_interval < 0.1


# ----------------------------------------------------------------- one graded class

def _solution_ids(nb):
    return [submissions.grade_id(c) for c in nb.cells
            if submissions.is_solution(c) and c.cell_type == "code"]


@pytest.fixture(scope="module")
def graded(make_course, tmp_path_factory):
    """A small class graded by stock nbgrader (in a copy) and by us (jobs=3)."""
    from conftest import SOURCE
    available = [name for name in PREFERRED if (SOURCE / name).exists()]
    if not available:
        pytest.skip("no notebook in source/")
    name = available[0]
    course = make_course([name])
    release = course.release_nb(name)
    ids = _solution_ids(release)
    answers = submissions.reference_answers(course.source_nb(name))
    first = ids[0]
    leak = ("import builtins as _b\n_b._course_leak = 'set by student leaker'\n")
    probe = ("import builtins as _b\nprint('LEAK:', getattr(_b, '_course_leak', None))\n"
             "print('HISTORY FILE:', get_ipython().history_manager.enabled)\n"
             "import sys as _s\nprint('LAZY IMPORTS:', [m for m in ('numpy.f2py', 'sympy.physics.units') "
             "if m not in _s.modules])\n"
             "print('GUARD COMPARED ALL:', [vars(_m)['compared_all'] for _m in list(_s.modules.values()) "
             "if isinstance(_m, type(_s)) and 'compared_all' in vars(_m)])\n")
    course.submit("ref", {name: course.reference(name)})
    course.submit("wrong", {name: course.reference(name, {first: "pass"})})
    course.submit("blank", {name: release})
    course.submit("broken", {name: '{"cells": [ {"cell_type": "code", "sour'})
    course.submit("leaker", {name: course.reference(name, {first: leak + answers[first]})})
    course.submit("prober", {name: course.reference(name, {first: probe + answers[first]})})

    stock_root = tmp_path_factory.mktemp("stock") / "course"
    shutil.copytree(course.root, stock_root)
    run = grading.nbgrader(["autograde", ASSIGNMENT, "--force"], stock_root)
    stock = grading.scores(stock_root, ASSIGNMENT)

    events = []
    records = grading.autograde(course.root, ASSIGNMENT, jobs=3, on_result=events.append)
    ours = grading.scores(course.root, ASSIGNMENT)
    return {"course": course, "name": name, "first": first, "stock": stock, "stock_run": run,
            "stock_root": stock_root, "ours": ours, "records": records, "events": events}


@pytest.mark.slow
def test_same_score_for_every_cell_as_stock_nbgrader(graded):
    stock, ours = graded["stock"], graded["ours"]
    assert set(stock) == set(ours) == {"ref", "wrong", "blank", "broken", "leaker", "prober"}
    for student in stock:
        assert ours[student] == stock[student], student
    nb = graded["name"][:-len(".ipynb")]
    total = {s: sum(score or 0 for score, _ in ours[s][nb].values()) for s in ours}
    assert total["ref"] > total["wrong"] and total["blank"] == 0  # mixed grades, not all zero
    assert graded["stock_run"].returncode == 1  # stock only says "something failed"


@pytest.mark.slow
def test_broken_submission_is_failed_with_a_reason_and_the_others_graded(graded):
    records, name = graded["records"], graded["name"]
    assert records["broken"]["status"] == "failed"
    assert records["broken"]["reason"] == f"{name}: invalid JSON"
    assert records["broken"]["notebooks"] == [name]
    saved = status.load(graded["course"].root, ASSIGNMENT, "broken")
    assert saved["reason"] == records["broken"]["reason"]
    for student in ("ref", "wrong", "blank", "leaker", "prober"):
        # "leaker" patches builtins: the integrity review may flag it (graded all the same)
        assert records[student]["status"] in ("graded", "flagged"), records[student]
        assert records[student]["graded"] == [name]
        assert records[student]["hash"] == grading.submission_hash(graded["course"].root, ASSIGNMENT, student)
    log = (graded["course"].root / records["broken"]["log"]).read_text()
    assert "JSONDecodeError" in log


@pytest.mark.slow
def test_each_student_is_graded_by_exactly_one_worker(graded):
    events, records = graded["events"], graded["records"]
    graded_students = [e["student"] for e in events]
    assert sorted(graded_students) == sorted(records)  # each once
    assert {r["worker"] for r in records.values()} <= {0, 1, 2}
    logs = graded["course"].root / status.STATUS_DIR / ASSIGNMENT / grading.LOG_DIR
    seen = {}
    for path in sorted(logs.glob("worker-*.log")):
        for student in set(re.findall(r"Sanitizing \S+/submitted/([^/]+)/", path.read_text())):
            seen.setdefault(student, []).append(path.name)
    assert all(len(workers) == 1 for workers in seen.values()), seen
    assert set(seen) == set(records)
    for student, record in records.items():
        assert seen[student] == [f"worker-{record['worker']}.log"]


def _probed(graded):
    """What the prober submission's first solution cell printed in its grading kernel."""
    from conftest import cell_outputs_text
    return cell_outputs_text(graded["course"].autograded_nb("prober", graded["name"]), graded["first"])


@pytest.mark.slow
def test_no_student_code_reaches_another_students_kernel(graded):
    assert "LEAK: None" in _probed(graded)
    if os.environ.get("COURSE_ZYGOTE", "1") != "0":
        assert sum(r.get("kernels_forked", 0) for r in graded["records"].values()) > 0


@pytest.mark.slow
def test_kernels_keep_no_history_file(graded):
    # SandboxedExecute.kernel_history: no SQLite history (a file, a thread, a write per cell)
    assert "HISTORY FILE: False" in _probed(graded)


@pytest.mark.slow
def test_kernels_find_what_numpy_and_sympy_import_lazily_already_imported(graded):
    # zygote.DEFAULT_PRELOAD: lambdify's `from numpy import *` and simplify's units
    # import are done once in the zygote, not in every kernel that uses them
    if os.environ.get("COURSE_ZYGOTE", "1") == "0":
        pytest.skip("no zygote")
    assert "LAZY IMPORTS: []" in _probed(graded)


@pytest.mark.slow
def test_kernels_verify_the_inherited_guard_snapshot_without_comparing_everything(graded):
    # course.guard: no watched namespace changed between the zygote's snapshot and the
    # guard's install, which the dict version tags show without comparing every attribute
    if os.environ.get("COURSE_ZYGOTE", "1") == "0":
        pytest.skip("no zygote")
    probed = _probed(graded)
    assert "GUARD COMPARED ALL: [False]" in probed, probed


def test_a_forked_kernel_ends_with_its_exit_code_without_running_exit_functions(tmp_path, forked_kernel):
    # course.zygote: ipykernel's exit often waits for a thread that never ends, and
    # the grader would wait with it
    ran = tmp_path / "exit-function-ran"
    kernel, client = forked_kernel("hang_at_exit", (
        "import atexit, os, time\n\n"
        "def register():  # in the zygote: an exit function that would leave a file, then hang\n"
        "    zygote = os.getpid()\n"
        "    def at_exit():\n"
        "        if os.getpid() != zygote:\n"
        f"            open({str(ran)!r}, 'w').close()\n"
        "            time.sleep(60)\n"
        "    atexit.register(at_exit)\n"), "register")
    client.shutdown()
    assert kernel.wait(timeout=30) == 0  # not still sleeping, not stopped with a signal
    assert not ran.exists()


def test_first_use_of_numpy_and_sympy_imports_nothing_after_the_preload():
    from course import zygote
    code = (
        "import importlib, sys\n"
        "import matplotlib; matplotlib.use('agg')\n"
        f"for name in {zygote.DEFAULT_PRELOAD!r}:\n"
        "    module, _, call = name.partition(':')\n"
        "    module = importlib.import_module(module)\n"
        "    call and getattr(module, call)()\n"
        "import io, sympy, matplotlib.pyplot as plt\n"
        "before = set(sys.modules)\n"
        "x = sympy.Symbol('x')\n"
        "sympy.lambdify(x, sympy.sin(x) ** 2, 'numpy')(0.5)\n"
        "sympy.simplify(sympy.sin(x) ** 2 + sympy.cos(x) ** 2)\n"
        "plt.plot([0, 1]); plt.savefig(io.BytesIO(), format='png')\n"
        "print(sorted(set(sys.modules) - before))\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "[]", run.stdout


@pytest.mark.slow
def test_kernels_write_plain_python_tracebacks(graded):
    # SandboxedExecute.traceback_mode: Python's own traceback (where, the failing line, the
    # error), not IPython's context view, which costs the kernel far more time per error
    nb = graded["course"].autograded_nb("blank", graded["name"])
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.output_type == "error"]
    assert errors, "the blank submission should fail its tests"
    for error in errors:
        text = re.sub(r"\x1b\[[0-9;]*m", "", "".join(error.traceback))
        assert text.startswith("Traceback (most recent call last):"), text[:200]
        assert error.ename in text and "---->" not in text


@pytest.mark.slow
def test_rerun_skips_unchanged_and_regrades_a_changed_submission(graded):
    course, name, first = graded["course"], graded["name"], graded["first"]
    before = status.load_all(course.root, ASSIGNMENT)
    status.add_flag(course.root, ASSIGNMENT, "ref", "looked at the tests")

    events = []
    records = grading.autograde(course.root, ASSIGNMENT, force=False, on_result=events.append)
    assert events == []  # nothing changed: nothing graded
    assert records["ref"]["status"] == "flagged"
    assert records["broken"]["status"] == "failed"  # still failed, not regraded

    course.submit("wrong", {name: course.reference(name)})  # fixed the mistake
    events = []
    records = grading.autograde(course.root, ASSIGNMENT, force=False, on_result=events.append)
    assert [e["student"] for e in events] == ["wrong"]
    assert records["wrong"]["hash"] != before["wrong"]["hash"]
    nb = name[:-len(".ipynb")]
    scores = grading.scores(course.root, ASSIGNMENT)
    assert scores["wrong"][nb] == scores["ref"][nb]

    # force regrades everyone; a flag survives while its submission is unchanged
    events = []
    records = grading.autograde(course.root, ASSIGNMENT, students=["ref"], force=True,
                                on_result=events.append)
    assert [e["student"] for e in events] == ["ref"]
    assert records["ref"]["status"] == "flagged" and records["ref"]["flags"] == ["looked at the tests"]
    course.submit("ref", {name: course.reference(name, {first: "pass"})})
    records = grading.autograde(course.root, ASSIGNMENT, students=["ref"], force=True)
    assert records["ref"]["status"] == "graded" and "flags" not in records["ref"]


@pytest.mark.slow
def test_cli_reports_failures_and_exit_code(graded):
    course = graded["course"]
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    run = subprocess.run([sys.executable, "-m", "course.autograde", ASSIGNMENT, "--no-progress"],
                         cwd=course.root, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 1, run.stdout + run.stderr  # "broken" is still failed
    assert "invalid JSON" in run.stdout and "unchanged" in run.stdout
    run = subprocess.run([sys.executable, "-m", "course.autograde", ASSIGNMENT, "--student", "ref",
                          "--force", "--no-progress", "--jobs", "1"],
                         cwd=course.root, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr  # only "ref" was asked for
    assert "graded 1 in" in run.stdout
    record = json.loads((course.root / status.STATUS_DIR / ASSIGNMENT / "ref.json").read_text())
    assert record["status"] == "graded"
