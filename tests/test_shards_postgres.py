"""Shards side by side on one real PostgreSQL gradebook, dispatched by GNU parallel, with faults.

One small class (Part C only, six students) is graded once with the SQLite gradebook by one
driver: the reference. Each scenario below copies that class into a fresh course folder (the
storage every machine would share), gives it a fresh PostgreSQL database cloned from one where
the assignment was generated, runs `--shard K/N` drivers at once through `parallel`, injects its
fault, reruns what an instructor would rerun, and then requires that:
- every cell of every student scores what the SQLite run gave it;
- every student has a "graded" record and an autograded notebook in the shared folder;
- no student was graded by two processes at once (the workers' logs of every driver);
- the database password appears in no file of the course and in no output.

The server is Debian's (tools/install_postgres.sh installs it on a fresh machine as root; the
tests skip, naming that script, only where it cannot be installed), started by tools/pg_local.py.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from grader.authoring import submissions
from grader.driver import grading, records
from grader.driver.commands import environment
from grader import paths
from grader.paths import Course
from grader.reports.gradebook import scores

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))
import pg_local  # noqa: E402

ASSIGNMENT = "tutorial08"
NB = "C_conceptual.ipynb"
FIRST = "c1_forward_answer"
SLOW = "slowpoke"  # sleeps in its kernel, and is graded first (the largest submission): a fault lands mid-student
PROBE = "import os\nprint('ENVIRONMENT:', sorted(os.environ.items()))\n"
REPORTS = f"""
import runpy, sys
for module in ("grader.reports.grades", "grader.reports.feedback", "grader.reports.report"):
    sys.argv = [module, "{ASSIGNMENT}"]  # one interpreter for the three: `make grades feedback report`
    try:
        runpy.run_module(module, run_name="__main__")
    except SystemExit as end:
        assert end.code in (0, None), (module, end.code)
"""
RETRIED = "the gradebook is locked or unreachable while grading"  # the worker's warning before it waits
GENERATED = ("autograded", "grading_status", "feedback", "reports", "grades", "gradebook.db")

pytestmark = pytest.mark.slow


def _tools_or_skip():
    if pg_local.binaries() is None or shutil.which("parallel") is None:
        if os.geteuid() == 0:
            run = subprocess.run([str(REPO / "tools" / "install_postgres.sh")], capture_output=True, text=True)
            assert run.returncode == 0, run.stdout + run.stderr
        else:
            pytest.skip("PostgreSQL server or GNU parallel missing and not root: run tools/install_postgres.sh "
                        "as root (or apt-get install postgresql parallel)")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    _tools_or_skip()
    server = pg_local.Server.create()
    server.start()
    pgpass = pg_local.write_pgpass(tmp_path_factory.mktemp("secrets") / "pgpass", server)
    yield {"server": server, "pgpass": pgpass}
    server.remove()


@pytest.fixture(scope="module")
def reference(make_course):
    """The class, graded once with SQLite by one driver: the scores every scenario must equal."""
    course = make_course([NB])
    answers = submissions.reference_answers(course.source_nb(NB))
    padding = "\n".join(f"# {'padding so that this is the largest submission, graded first':<70}"
                        for _ in range(300))
    course.submit("ref", {NB: course.reference(NB)})
    course.submit("wrong", {NB: course.reference(NB, {FIRST: "def forward_mode_passes(n_inputs, n_outputs):\n"
                                                              "    return n_outputs\n"})})
    course.submit("blank", {NB: course.release_nb(NB)})
    course.submit(SLOW, {NB: course.reference(NB, {FIRST: "import time\ntime.sleep(2.5)\n" + padding + "\n"
                                                        + answers[FIRST]})})
    course.submit("prober", {NB: course.reference(NB, {FIRST: PROBE + answers[FIRST]})})
    course.submit("late", {NB: course.reference(NB, {FIRST: "pass"})})
    found = grading.autograde(course.root, ASSIGNMENT, jobs=2)
    assert all(r["status"] == "graded" for r in found.values()), found
    return {"root": course.root, "scores": scores(course.root, ASSIGNMENT), "students": sorted(found)}


@pytest.fixture(scope="module")
def template(server, reference):
    """A database holding the generated assignment, cloned for each scenario (CREATE ... TEMPLATE)."""
    url = server["server"].create_database("template_gradebook")
    run = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", ASSIGNMENT, "--force"],
                         cwd=reference["root"], env=_env(server, url), capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    return "template_gradebook"


def _env(server, url):
    return dict(environment(), NBGRADER_DB_URL=url, PGPASSFILE=str(server["pgpass"]), GRADER_DB_RETRY_SECONDS="60")


class Scenario:
    """A copy of the class in its own course folder, with its own PostgreSQL database."""

    def __init__(self, root, server, template, reference, name):
        self.root, self.server, self.reference = Path(root).resolve(), server, reference
        shutil.copytree(reference["root"], self.root, ignore=shutil.ignore_patterns(*GENERATED))
        server["server"].admin(f'DROP DATABASE IF EXISTS "{name}"')
        server["server"].admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        self.url = server["server"].url(name)
        self.env = _env(server, self.url)
        self.outputs = []

    def parallel(self, shards, count, timeout=300):
        """GNU parallel starts one driver per item of `shards` at once (a shard may appear twice)."""
        command = ["parallel", "--will-cite", "--jobs", "0", "--tag", "--line-buffer",
                   f"{sys.executable} -m grader.driver.autograde {ASSIGNMENT} --shard {{}}/{count} "
                   f"--jobs 1 --no-progress", ":::", *map(str, shards)]
        return subprocess.Popen(command, cwd=self.root, env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)

    def finish(self, process, timeout=300):
        output, _ = process.communicate(timeout=timeout)
        self.outputs.append(output)
        return output

    def run(self, args, timeout=300):
        run = subprocess.run([sys.executable, *args], cwd=self.root, env=self.env, capture_output=True, text=True,
                             timeout=timeout)
        self.outputs.append(run.stdout + run.stderr)
        return run

    def status(self):
        return Course(self.root).status(ASSIGNMENT)

    def wait_for_log(self, pattern, timeout=120):
        """The worker log (any driver's) that shows `pattern`, once one does."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for path in self.status().glob("logs/worker-*.log"):
                if re.search(pattern, path.read_text(errors="replace")):
                    return path
            time.sleep(0.2)
        raise AssertionError(f"no worker log shows {pattern!r} within {timeout} s")

    def gradings(self):
        """{student: how many times a worker started grading it}, over every driver's worker logs."""
        counts = {}
        for path in self.status().glob("logs/worker-*.log"):
            for student in re.findall(r"Sanitizing \S+/submitted/([^/]+)/", path.read_text(errors="replace")):
                counts[student] = counts.get(student, 0) + 1
        return counts

    def scores(self):
        """The scores in this scenario's PostgreSQL gradebook (nbgrader_config.py reads the URL from the
        environment, as on a grading machine)."""
        saved = {k: os.environ.get(k) for k in ("NBGRADER_DB_URL", "PGPASSFILE", "PATH")}
        os.environ.update({k: self.env[k] for k in saved})
        paths._config.cache_clear()  # the configuration as read with this environment
        try:
            return scores(self.root, ASSIGNMENT)
        finally:
            for key, value in saved.items():
                if value is None:
                    del os.environ[key]
                else:
                    os.environ[key] = value
            paths._config.cache_clear()

    def check_complete(self):
        """Same scores as SQLite, cell by cell; a graded record and an autograded notebook each."""
        ours, expected = self.scores(), self.reference["scores"]
        assert sorted(ours) == sorted(expected)
        for student in expected:
            assert ours[student] == expected[student], student
        found = records.load_all(Course(self.root), ASSIGNMENT)
        assert sorted(found) == self.reference["students"]
        for student, record in found.items():
            assert record["status"] == "graded" and not record.get("transient"), record
            assert (Course(self.root).autograded(student, ASSIGNMENT) / NB).exists(), student

    def check_no_password(self):
        secret = self.server["server"].password
        assert len(secret) >= 20
        for output in self.outputs:
            assert secret not in output
        for path in self.root.rglob("*"):
            if path.is_file():
                assert secret.encode() not in path.read_bytes(), path
        assert secret not in self.server["server"].log.read_text(errors="replace")


@pytest.fixture
def scenario(tmp_path, server, template, reference, request):
    made = []

    def make():
        name = re.sub(r"\W", "_", request.node.name)[:50] + f"_{len(made)}"
        made.append(Scenario(tmp_path / f"course{len(made)}", server, template, reference, name))
        return made[-1]
    yield make
    for each in made:
        each.check_no_password()


def _driver_pids(shard_text):
    """The process ids of the drivers running `--shard shard_text`."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"grader.driver.autograde" in cmdline and shard_text.encode() in cmdline:
                pids.append(int(entry.name))
    return pids


def _workers_alive(root):
    """Grading workers still running in `root` (a killed driver must take its workers with it)."""
    alive = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if b"grader.driver.worker" in (entry / "cmdline").read_bytes() and \
                        Path(os.readlink(entry / "cwd")) == root:
                    alive.append(int(entry.name))
            except OSError:
                continue
    return alive


# ----------------------------------------------------------------- the tests

def test_round_trip_through_postgresql(server, template, reference, scenario):
    """What nbgrader stored in PostgreSQL reads back as it does from SQLite, and grading writes it."""
    import sqlalchemy
    course = scenario()
    cells = "SELECT b.name, g.max_score FROM grade_cells g JOIN base_cell b ON b.id = g.id ORDER BY b.name"
    # libpq reads the password from PGPASSFILE: the URL has none
    with sqlalchemy.create_engine(course.url, connect_args={"passfile": str(server["pgpass"])}).connect() as pg:
        in_pg = pg.execute(sqlalchemy.text(cells)).all()
        assert pg.execute(sqlalchemy.text("SELECT count(*) FROM student")).scalar() == 0
    with sqlalchemy.create_engine(f"sqlite:///{reference['root'] / 'gradebook.db'}").connect() as lite:
        assert in_pg == lite.execute(sqlalchemy.text(cells)).all() and in_pg
    run = course.run(["-m", "grader.driver.autograde", ASSIGNMENT, "--student", "ref", "--no-progress"])
    assert run.returncode == 0, run.stdout + run.stderr
    assert course.scores() == {"ref": reference["scores"]["ref"]}


def test_three_shards_side_by_side_grade_like_sqlite_and_feed_the_reports(scenario):
    """(Two shards side by side run in three of the fault tests below, with the same checks.)"""
    course = scenario()
    output = course.finish(course.parallel([1, 2, 3], 3))
    course.check_complete()
    assert set(course.gradings().values()) == {1}, course.gradings()
    assert len(list(course.status().glob("logs/worker-shard*.log"))) == 3, output
    # the machine that makes feedback and reports reads the shared folder and the database
    run = course.run(["-c", REPORTS])
    assert run.returncode == 0, run.stdout + run.stderr
    assert sorted(p.name for p in (course.root / "feedback").iterdir()) == course.reference["students"]
    prober = (course.root / "autograded" / "prober" / ASSIGNMENT / NB).read_text()
    assert "ENVIRONMENT:" in prober and "PGPASSFILE" not in prober and "NBGRADER_DB_URL" not in prober


def test_the_same_shard_started_twice_grades_no_one_twice(scenario):
    course = scenario()
    output = course.finish(course.parallel([1, 1, 2], 2))
    course.check_complete()
    assert set(course.gradings().values()) == {1}, (course.gradings(), output)
    # the drivers of shard 1 split its students between them; each reports the other's
    assert "graded meanwhile by another driver" in output or "unchanged, skipped" in output, output


def test_a_worker_killed_mid_student_is_replaced_and_the_student_graded_again(scenario):
    course = scenario()
    driver = subprocess.Popen([sys.executable, "-m", "grader.driver.autograde", ASSIGNMENT, "--jobs", "1",
                               "--no-progress"], cwd=course.root, env=course.env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    course.wait_for_log(rf"Autograding \S+/autograded/{SLOW}/")
    (worker,) = _workers_alive(course.root)
    os.kill(worker, signal.SIGKILL)
    output, _ = driver.communicate(timeout=300)
    course.outputs.append(output)
    assert driver.returncode == 0, output
    course.check_complete()
    counts = course.gradings()
    assert counts.pop(SLOW) == 2 and set(counts.values()) == {1}, course.gradings()
    rerun = course.run(["-m", "grader.driver.autograde", ASSIGNMENT, "--no-progress"])
    assert "unchanged, skipped" in rerun.stdout and course.gradings()[SLOW] == 2, rerun.stdout


def test_a_killed_shard_loses_only_its_unfinished_students_and_a_rerun_grades_them(scenario):
    course = scenario()
    shard = next(k for k in (1, 2) if SLOW in grading.shard(course.reference["students"], k, 2))
    dispatch = course.parallel([1, 2], 2)
    course.wait_for_log(rf"Autograding \S+/autograded/{SLOW}/")
    (driver,) = _driver_pids(f"{shard}/2")
    os.kill(driver, signal.SIGKILL)  # the machine is gone: the driver, and with it its workers
    course.finish(dispatch)
    deadline = time.monotonic() + 10
    while _workers_alive(course.root) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _workers_alive(course.root) == []
    assert records.load(Course(course.root), ASSIGNMENT, SLOW) is None  # it was lost mid-student
    course.finish(course.parallel([shard], 2))  # the instructor runs that shard again
    course.check_complete()


def test_the_database_restarted_while_shards_run(scenario, server):
    course = scenario()
    dispatch = course.parallel([1, 2], 2)
    course.wait_for_log(r"Autograding ")
    pg = server["server"]
    restarted = threading.Event()

    def restart():
        pg.stop("fast")  # every connection is cut
        try:  # down until it has cost a student an attempt: the fault lands, whatever the timing
            course.wait_for_log(RETRIED, timeout=60)
            time.sleep(2)
        finally:
            pg.start()
            restarted.set()
    threading.Thread(target=restart).start()
    output = course.finish(dispatch)
    assert restarted.wait(60)
    course.wait_for_log(RETRIED, timeout=1)
    rerun = course.finish(course.parallel([1, 2], 2))  # regrades whatever the retries could not save
    course.check_complete()
    assert set(course.gradings().values()) <= {1, 2}, (course.gradings(), output, rerun)
