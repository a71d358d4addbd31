"""One grading worker: `python -m grader.driver.worker ASSIGNMENT` (started by the pool).

It loads nbgrader and the course's configuration once (`AutogradeApp.initialize`
in the course root, the normal way), then grades the students it is handed, one
at a time, with nbgrader's own `Autograde` converter. Kernels come from the
worker's zygote (grader.sandbox), started on the first notebook.

Protocol: one JSON object per line. In: {"student": id}. Out: {"type": "ready"},
{"type": "result", "student", "success", "log", "error", "retried", ...} or
{"type": "fatal", "message"}.
"""
import json
import os
import signal
import sys
import time

from . import gradebook_retry


def sqlite_waits_for_locks(seconds=120):
    """Every SQLite connection of this process waits for a lock instead of failing (SQLAlchemy's
    connect event): several workers share one gradebook file."""
    import sqlite3

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "connect")
    def _busy_timeout(connection, _record):
        if isinstance(connection, sqlite3.Connection):
            connection.execute(f"PRAGMA busy_timeout = {int(seconds * 1000)}")


def die_with_parent():
    """SIGKILL this worker when its driver dies (Linux): an orphan would go on writing grades
    that no one records, and would no longer hold the driver's claim on its student."""
    import ctypes
    PR_SET_PDEATHSIG = 1
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the driver died before prctl took effect
        os._exit(1)


def open_gradebook(gradebook_class, url, course_id, assignment):
    """Check that the assignment is in the gradebook, waiting (bounded) while it is unreachable."""
    from sqlalchemy.exc import DBAPIError

    def attempt():
        try:
            with gradebook_class(url, course_id) as gb:
                gb.find_assignment(assignment)
            return None
        except DBAPIError as error:
            return error

    def away(error):
        return error is not None and gradebook_retry.is_transient(str(error))
    error = gradebook_retry.call(attempt, away)
    if error is not None:
        raise error


def serve(assignment):
    die_with_parent()
    # Our protocol goes to the parent over the original stdout; whatever else writes
    # to fd 1 (libraries, nbgrader) ends up in the worker's log.
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)

    def send(message):
        proto.write(json.dumps(message) + "\n")
        proto.flush()

    from grader import speedups
    speedups.install()
    os.environ.setdefault("COURSE_ZYGOTE", "1")  # kernels forked from a warm zygote (grader.sandbox)
    sqlite_waits_for_locks()
    from nbgrader.api import Gradebook, MissingEntry
    from nbgrader.apps.autogradeapp import AutogradeApp
    from nbgrader.converters import Autograde
    from nbgrader.utils import capture_log

    from grader.sandbox import policy
    from grader.sandbox.manager import close_sandboxes

    try:
        policy.effective_mode()
    except policy.SandboxUnavailable as error:
        send({"type": "fatal", "message": str(error)})
        return 2
    app = AutogradeApp()
    app.initialize([assignment])
    app.coursedir.assignment_id = assignment
    app.log.setLevel(app.log_level)  # capture what the command line would show, not every debug record
    app.config.Exporter.optimistic_validation = True  # validate each notebook once, after the last step
    try:
        open_gradebook(Gradebook, app.coursedir.db_url, app.coursedir.course_id, assignment)
    except MissingEntry:
        send({"type": "fatal", "message": f"assignment '{assignment}' is not in the gradebook: "
                                          f"run `make release` (nbgrader generate_assignment) first"})
        return 2
    send({"type": "ready", "pid": os.getpid()})

    def grade(student, notebook_id="*"):
        """One nbgrader Autograde run (all notebooks, or one); again while the gradebook is away."""
        app.coursedir.student_id, app.coursedir.notebook_id = student, notebook_id

        def attempt():
            converter = Autograde(coursedir=app.coursedir, parent=app)
            converter.force = True
            return capture_log(converter)

        def away(result):
            return not result["success"] and gradebook_retry.is_transient(
                result.get("log", "") + result.get("error", ""))

        result = gradebook_retry.call(attempt, away, log=lambda pause: app.log.warning(
            "the gradebook is locked or unreachable while grading %s: again in %g s", student, pause))
        result["transient"] = away(result)
        app.coursedir.notebook_id = "*"
        return result

    from grader.paths import Course
    from .reasons import failed_notebook, failure_reason
    course = Course(os.getcwd(), config=app.config)
    for line in sys.stdin:
        student = json.loads(line)["student"]
        started = time.perf_counter()
        result = grade(student)
        if not result["success"] and not result["transient"]:
            # nbgrader drops all of a student's notebooks when one fails: grade the others alone
            result["retried"] = {}
            failed = failed_notebook(failure_reason(result.get("log", ""), result.get("error", "")))
            submitted = course.submitted(student, assignment)
            if failed:
                for name in course.release_notebooks(assignment):
                    if name != failed and (submitted / name).is_file():
                        again = grade(student, name[:-len(".ipynb")])
                        result["retried"][name] = {key: again.get(key, "") for key in
                                                   ("success", "log", "error", "transient")}
        result.update(type="result", student=student, seconds=time.perf_counter() - started, pid=os.getpid())
        send(result)
    close_sandboxes()
    return 0


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1]))
