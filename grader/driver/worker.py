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
import sys
import time

LOCK_RETRIES = 3


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


def serve(assignment):
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
        with Gradebook(app.coursedir.db_url, app.coursedir.course_id) as gb:
            gb.find_assignment(assignment)
    except MissingEntry:
        send({"type": "fatal", "message": f"assignment '{assignment}' is not in the gradebook: "
                                          f"run `make release` (nbgrader generate_assignment) first"})
        return 2
    send({"type": "ready", "pid": os.getpid()})

    def grade(student, notebook_id="*"):
        """One nbgrader Autograde run (all notebooks, or one); again while the gradebook is locked."""
        app.coursedir.student_id, app.coursedir.notebook_id = student, notebook_id
        for attempt in range(LOCK_RETRIES + 1):
            converter = Autograde(coursedir=app.coursedir, parent=app)
            converter.force = True
            result = capture_log(converter)
            text = result.get("log", "") + result.get("error", "")
            if result["success"] or "database is locked" not in text or attempt == LOCK_RETRIES:
                break
            app.log.warning("database is locked while grading %s: retrying", student)
            time.sleep(1 + attempt)
        app.coursedir.notebook_id = "*"
        return result

    from grader.paths import Course
    from .reasons import failed_notebook, failure_reason
    course = Course(os.getcwd(), config=app.config)
    for line in sys.stdin:
        student = json.loads(line)["student"]
        started = time.perf_counter()
        result = grade(student)
        if not result["success"]:
            # nbgrader drops all of a student's notebooks when one fails: grade the others alone
            result["retried"] = {}
            failed = failed_notebook(failure_reason(result.get("log", ""), result.get("error", "")))
            submitted = course.submitted(student, assignment)
            if failed:
                for name in course.release_notebooks(assignment):
                    if name != failed and (submitted / name).is_file():
                        again = grade(student, name[:-len(".ipynb")])
                        result["retried"][name] = {key: again.get(key, "") for key in ("success", "log", "error")}
        result.update(type="result", student=student, seconds=time.perf_counter() - started, pid=os.getpid())
        send(result)
    close_sandboxes()
    return 0


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1]))
