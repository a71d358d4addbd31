"""Grade a class in parallel with nbgrader's own converter, and record every outcome.

- `jobs` worker processes (`pool.py`), each grading many students in-process with
  nbgrader's `Autograde` (no command-line start per student), with kernels
  forked from the worker's sandboxed zygote.
- Every outcome is recorded (`records.py`): "graded", or "failed" with a reason and
  the notebooks that were graded. Never a silent zero.
- One bad notebook costs only itself: the worker grades a student's other
  notebooks on their own when nbgrader dropped them all.
- Incremental: a record keeps hashes of the submission and of the source; an
  unchanged student is skipped unless `force`.
- Gaming attempts are flagged for review (`review.py`); flags never change a score.
- Safe beside another driver on the same course (a shard started twice): a student is graded
  only under this driver's claim (`claims.py`), and one that another driver graded since this
  run looked is left as that driver recorded it.
- A failure that was the grader's, not the submission's (a worker killed, the gradebook away
  for longer than the retries wait) is recorded `transient`: the next run grades it again.
"""
import datetime
import hashlib
import sys
import time
from pathlib import Path

from grader.paths import Course
from grader.repair import record as repair_record

from . import records, review
from .claims import Claims
from .pool import Pool
from .reasons import failure_reason

IGNORED = {".ipynb_checkpoints", "__pycache__", "feedback"}


def tree_hash(folder: Path) -> str | None:
    """SHA-256 of the file names and contents under `folder` (what nbgrader would read)."""
    if not folder.is_dir():
        return None
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if path.is_dir() or IGNORED & set(relative.parts) or path.suffix == ".pyc":
            continue
        digest.update(str(relative).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def default_jobs() -> int:
    import os
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def shard(students, index: int, count: int):
    """Shard `index` (1-based) of `count`: disjoint, covering everyone, stable when students join."""
    import zlib
    if not 1 <= index <= count:
        raise ValueError(f"shard {index}/{count}: the index must be between 1 and {count}")
    return [s for s in students if zlib.crc32(s.encode()) % count == index - 1]


def autograde(course_root, assignment, students=None, force=True, jobs=None, progress=False,
              on_result=None, log=None, tag="") -> dict:
    """Grade `students` (default: everyone submitted); {student: status record}.

    progress  True for a tqdm bar on stderr (done / failed / remaining, elapsed, estimate),
              or a callable that gets {student, record, done, failed, total} per student.
    tag       in the workers' log names, for drivers that share a status folder (shards).
    """
    course = Course(course_root)
    say = log or ((lambda message: print(message, file=sys.stderr)) if progress else (lambda m: None))
    students = list(dict.fromkeys(course.submitted_students(assignment) if students is None else students))
    jobs = default_jobs() if not jobs else max(1, int(jobs))
    source_hash = tree_hash(course.source(assignment))
    found, todo = {}, []
    for student in students:
        digest = tree_hash(course.submitted(student, assignment))
        old = records.load(course, assignment, student)
        if not force and _unchanged(course, assignment, old, digest, source_hash):
            found[student] = old
        elif digest is None:
            found[student] = _save(course, assignment, student, old, None, source_hash, "failed",
                                   "nothing submitted", notebooks=course.release_notebooks(assignment))
        else:
            todo.append((student, digest, old))
    if not todo:
        say(f"autograde: nothing to do ({len(found)} unchanged; force regrades them)")
        return found

    def expected_cost(item):  # longest first, so that no straggler is left at the end
        student, _, old = item
        if old and old.get("seconds"):
            return old["seconds"]
        return sum(p.stat().st_size for p in course.submitted(student, assignment).rglob("*.ipynb")) / 1e5
    todo.sort(key=expected_cost, reverse=True)

    log_dir = course.status(assignment) / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    pending = {student: (digest, old) for student, digest, old in todo}
    claims = Claims(course.status(assignment) / "claims")

    def claim(student):
        """True: grade it; False: another driver is grading it; a record: another driver graded it."""
        if not claims.take(student):
            return False
        now = records.load(course, assignment, student)
        if now != pending[student][1] and now and now.get("hash") == pending[student][0]:
            claims.release(student)
            return now
        for path in (course.status(assignment) / "events" / student).glob("*.json"):
            path.unlink()  # what happened last time is not this time's evidence
        repair_record.clear(course, assignment, student)
        return True

    pool = Pool(course.root, assignment, min(jobs, len(todo)), log_dir, claim=claim, tag=tag)
    bar = _Progress(progress, len(todo), on_result)
    elsewhere = 0
    started = time.perf_counter()
    try:
        pool.start()
        for event in pool.run([student for student, _, _ in todo]):
            if event["type"] == "fatal":
                raise RuntimeError(event["message"])
            if event["type"] == "elsewhere":
                found[event["student"]], elsewhere = event["outcome"], elsewhere + 1
                bar.skip(event["student"], event["outcome"])
                continue
            if event["type"] != "result":
                continue
            student = event["student"]
            digest, old = pending.pop(student)
            event["worker_log"] = pool.log_name(event["worker"]) if event.get("worker") is not None else None
            record = _record(course, assignment, student, event, digest, old, source_hash, log_dir)
            found[student] = review.flag(course, assignment, student, record)
            claims.release(student)  # only now: its record is saved
            bar.update(student, found[student])
    except KeyboardInterrupt:
        pool.terminate()
        raise
    finally:
        pool.close()
        claims.release_all()
        bar.close()
    graded = [found[s] for s, _, _ in todo]
    failed = sum(1 for r in graded if r["status"] == "failed")
    say(f"autograde: {len(graded) - failed - elsewhere} graded, {failed} failed, {len(students) - len(todo)} "
        f"unchanged or not submitted, {elsewhere} graded meanwhile by another driver, "
        f"in {time.perf_counter() - started:.1f} s with {pool.size} worker(s)")
    return {student: found[student] for student in students}


def _unchanged(course, assignment, old, digest, source_hash):
    if not old or digest is None or old.get("hash") != digest or old.get("source_hash") != source_hash:
        return False
    if old.get("transient"):
        return False  # the grader failed, not the submission: grade it again
    if old["status"] == "failed":
        return True  # the same input fails the same way; force regrades it
    graded = course.autograded(old["student"], assignment)
    return all((graded / name).exists() for name in old.get("graded", []))


def _save(course, assignment, student, old, digest, source_hash, state, reason="", **details):
    details.update(hash=digest, source_hash=source_hash,
                   graded_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
    if old and old.get("flags") and old.get("hash") == digest:  # a flag belongs to its submission
        details["flags"] = old["flags"]
        state = "flagged" if state == "graded" else state
    return records.save(course, assignment, student, state, reason, **details)


def _record(course, assignment, student, result, digest, old, source_hash, log_dir):
    """graded / failed, from what nbgrader wrote and logged."""
    log_text = result.get("log", "") + ("\n" + result["error"] if result.get("error") else "")
    retried = result.get("retried") or {}
    (log_dir / f"{student}.log").write_text(log_text + "".join(
        f"\n---- {name} graded on its own ----\n{again['log']}\n{again['error']}" for name, again in retried.items()))
    expected = course.release_notebooks(assignment)
    graded_dir, submitted_dir = course.autograded(student, assignment), course.submitted(student, assignment)
    graded = [name for name in expected if (graded_dir / name).exists()]
    missing = [name for name in expected if name not in graded]
    details = dict(graded=graded, notebooks=missing, seconds=round(result.get("seconds", 0.0), 2),
                   worker=result.get("worker"), worker_log=result.get("worker_log"),
                   log=str((log_dir / f"{student}.log").relative_to(course.root)))
    if result.get("success") and not missing:
        return _save(course, assignment, student, old, digest, source_hash, "graded", **details)
    reasons = []
    if not result.get("success"):
        reasons.append(failure_reason(log_text, result.get("error", "")))
    for name, again in retried.items():
        if not again["success"]:
            reasons.append(failure_reason(again["log"], again["error"]) or f"{name}: not graded")
    absent = [name for name in missing if not (submitted_dir / name).exists()]
    if absent:
        others = sorted(p.name for p in submitted_dir.glob("*.ipynb") if p.name not in expected)
        reasons.append("; ".join(f"{name}: not submitted" for name in absent)
                       + (f" (found {', '.join(others)})" if others else ""))
    reason = "; ".join(r for r in reasons if r) or "not graded (see the log)"
    if result.get("transient") or any(again.get("transient") for again in retried.values()):
        details["transient"] = True
        reason = "the grader failed (rerun to grade again): " + (result.get("error") or reason).splitlines()[0]
    return _save(course, assignment, student, old, digest, source_hash, "failed", reason, **details)


class _Progress:
    """A tqdm bar (done, failed, remaining, elapsed, estimate) and/or per-student callbacks."""

    def __init__(self, progress, total, on_result=None):
        self.callbacks = [f for f in (progress, on_result) if callable(f)]
        self.bar, self.done, self.failed, self.total = None, 0, 0, total
        if progress is True:
            from tqdm import tqdm
            self.bar = tqdm(total=total, unit="student", dynamic_ncols=True, file=sys.stderr, desc="autograde",
                            mininterval=0.2, bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} "
                                                        "[{elapsed}<{remaining}{postfix}]")
            self._postfix()
            self.bar.refresh()

    def _postfix(self):
        left = self.total - self.done - self.failed
        self.bar.set_postfix_str(f"done {self.done}, failed {self.failed}, remaining {left}", refresh=False)

    def update(self, student, record):
        if record["status"] == "failed":
            self.failed += 1
        else:
            self.done += 1
        if self.bar is not None:
            if record["status"] == "failed":
                self.bar.write(f"  failed: {student}: {record['reason']}")
            self._postfix()
            self.bar.update(1)
        for callback in self.callbacks:
            callback({"student": student, "record": record, "done": self.done, "failed": self.failed,
                      "total": self.total})

    def skip(self, student, record):
        """A student another driver graded meanwhile: not this run's to count."""
        self.total -= 1
        if self.bar is not None:
            self.bar.total = self.total
            self.bar.refresh()
        for callback in self.callbacks:
            callback({"student": student, "record": record, "elsewhere": True, "done": self.done,
                      "failed": self.failed, "total": self.total})

    def close(self):
        if self.bar is not None:
            self.bar.close()
