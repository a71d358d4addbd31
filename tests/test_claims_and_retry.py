"""The pieces that make drivers safe beside each other, without a class to grade (seconds).

- a claim excludes a second driver, and goes with the process that held it, however it died;
- gradebook retries are bounded, and only for errors that waiting can cure;
- a failure that was the grader's is regraded by the next run; the submission's own is not;
- a record is never left half written.
"""
import json
import signal
import subprocess
import sys
import time

from grader.driver import gradebook_retry, grading, records
from grader.driver.claims import Claims
from grader.paths import Course

HOLD = """
import sys, time
sys.path[:0] = {path!r}
from pathlib import Path
from grader.driver.claims import Claims
assert Claims(Path({folder!r})).take("ada")
print("held", flush=True)
time.sleep(60)
"""


def test_a_claim_excludes_another_driver_until_released(tmp_path):
    first, second = Claims(tmp_path), Claims(tmp_path)
    assert first.take("ada") and first.take("ada")  # taking one's own claim again is fine
    assert not second.take("ada") and second.take("ben")
    first.release("ada")
    assert second.take("ada")
    second.release_all()
    assert first.take("ada") and first.take("ben")


def test_a_claim_goes_with_a_killed_process(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLD.format(path=sys.path, folder=str(tmp_path))],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    claims = Claims(tmp_path)
    assert not claims.take("ada")
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert claims.take("ada")


def test_retries_are_bounded_and_only_for_what_waiting_cures(monkeypatch):
    assert sum(gradebook_retry.pauses(120)) <= 120 and list(gradebook_retry.pauses(0)) == []
    assert list(gradebook_retry.pauses(30)) == [1, 2, 4, 8, 15]
    for message in ("(psycopg2.OperationalError) server closed the connection unexpectedly",
                    'connection to server at "127.0.0.1", port 5432 failed: Connection refused',
                    "FATAL:  terminating connection due to administrator command",
                    "FATAL:  the database system is starting up",
                    "(sqlite3.OperationalError) database is locked"):
        assert gradebook_retry.is_transient(message), message
    for message in ('FATAL:  password authentication failed for user "grader"',
                    'FATAL:  database "gradebook" does not exist', "NotJSONError: Notebook does not appear"):
        assert not gradebook_retry.is_transient(message), message
    monkeypatch.setenv("GRADER_DB_RETRY_SECONDS", "3")
    monkeypatch.setattr(time, "sleep", lambda seconds: None)
    attempts = []
    assert gradebook_retry.call(lambda: attempts.append(1) or len(attempts), lambda n: True) == 3  # 1 + pauses 1, 2
    attempts.clear()
    assert gradebook_retry.call(lambda: attempts.append(1) or len(attempts), lambda n: n < 2) == 2


def _course(tmp_path):
    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\n")
    folder = tmp_path / "submitted" / "ada" / "tutorial08"
    folder.mkdir(parents=True)
    (folder / "A.ipynb").write_text("{}")
    return Course(tmp_path)


def test_a_grader_failure_is_regraded_and_a_submission_failure_is_not(tmp_path):
    course = _course(tmp_path)
    digest = grading.tree_hash(course.submitted("ada", "tutorial08"))
    own = records.save(course, "tutorial08", "ada", "failed", "A.ipynb: the kernel died", hash=digest,
                       source_hash=None)
    assert grading._unchanged(course, "tutorial08", own, digest, None)
    grader = records.save(course, "tutorial08", "ada", "failed", "the grader failed", hash=digest,
                          source_hash=None, transient=True)
    assert not grading._unchanged(course, "tutorial08", grader, digest, None)


def test_a_record_is_replaced_whole(tmp_path):
    course = _course(tmp_path)
    records.save(course, "tutorial08", "ada", "graded", hash="x")
    records.save(course, "tutorial08", "ada", "failed", "why", hash="y")
    folder = course.status("tutorial08")
    assert [p.name for p in folder.iterdir()] == ["ada.json"]  # no temporary file left behind
    assert json.loads((folder / "ada.json").read_text())["status"] == "failed"
