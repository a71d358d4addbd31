"""Autograde a class in parallel and read the scores back.

`autograde` grades every submitted student (or the ones named) with nbgrader's
own `Autograde` converter, in `jobs` worker processes:

- Sharded by student: a student is handed to exactly one worker, once; a
  worker grades its students one after the other (nbgrader races when two
  processes grade the same student).
- Few fixed costs: a worker imports nbgrader and loads the course's
  `nbgrader_config.py` once (the normal way: `AutogradeApp.initialize` in the
  course root), then grades many students in-process. Kernels are started by
  nbgrader's Execute preprocessor (the course's SandboxedExecute) as usual;
  the process itself is forked from a warm *zygote* that has imported
  ipykernel, NumPy, SymPy and Matplotlib but never ran student code, and that
  enters the course sandbox before it becomes the kernel (`course.zygote`).
  Each notebook still runs in a fresh process. The cell-metadata schema is
  checked once per worker instead of once per cell.
- Safe with the SQLite gradebook: every SQLite connection waits for a lock
  (busy timeout) instead of failing, and a student whose grading still hit
  "database is locked" is graded again.
- Every outcome is recorded with `course.status`: "graded", or "failed" with a
  reason ("A_theory.ipynb: invalid JSON", "kernel died", "timed out", "not
  submitted") and the notebooks without a grade. Never a silent zero.
- One bad notebook costs only itself: nbgrader drops all of a student's
  notebooks when one of them fails, so the worker then grades the student's
  other notebooks one at a time; the record lists which ones were graded.
- Incremental: each record keeps a hash of the submission and of the source
  assignment; with `force=False` an unchanged student is skipped.

`scores` reads the gradebook through nbgrader's API.
"""
import copy
import datetime
import fnmatch
import hashlib
import json
import os
import re
import selectors
import subprocess
import sys
import time
from pathlib import Path

from . import status

LOG_DIR = "logs"
#: Files nbgrader never reads from a submission (CourseDirectory.ignore).
IGNORED = {".ipynb_checkpoints", "__pycache__", "feedback"}
LOCK_RETRIES = 3


# --------------------------------------------------------------------------
# Small helpers used by the tests and other tools
# --------------------------------------------------------------------------

def _env():
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def nbgrader(args, course_root, **kwargs):
    """Run one nbgrader command in the course directory (venv's bin first on PATH)."""
    return subprocess.run(
        [sys.executable, "-m", "nbgrader", *args], cwd=course_root, env=_env(),
        capture_output=True, text=True, **kwargs,
    )


def release_notebooks(course_root, assignment):
    return sorted(p.name for p in (Path(course_root) / "release" / assignment).glob("*.ipynb"))


def submitted_students(course_root, assignment):
    root = Path(course_root) / "submitted"
    return sorted(p.parent.name for p in root.glob(f"*/{assignment}") if p.is_dir())


def select_students(course_root, assignment, patterns):
    """Submitted students matching any of the names or glob patterns."""
    everyone = submitted_students(course_root, assignment)
    chosen = [s for s in everyone if any(fnmatch.fnmatchcase(s, p) for p in patterns)]
    return chosen


def shard(students, index, count):
    """The students of shard `index` (1-based) of `count`: disjoint shards that cover everyone.

    A student's shard depends on the name only (CRC-32), so it stays the same
    when other students are added or removed.
    """
    import zlib
    if not 1 <= index <= count:
        raise ValueError(f"shard {index}/{count}: the index must be between 1 and {count}")
    return [s for s in students if zlib.crc32(s.encode()) % count == index - 1]


def tree_hash(folder):
    """SHA-256 of the file names and contents under `folder` (what nbgrader would read)."""
    digest = hashlib.sha256()
    folder = Path(folder)
    if not folder.is_dir():
        return None
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if path.is_dir() or IGNORED & set(relative.parts) or path.suffix == ".pyc":
            continue
        digest.update(str(relative).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def submission_hash(course_root, assignment, student):
    return tree_hash(Path(course_root) / "submitted" / student / assignment)


def source_hash(course_root, assignment):
    return tree_hash(Path(course_root) / "source" / assignment)


def default_jobs():
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


# --------------------------------------------------------------------------
# The parallel driver
# --------------------------------------------------------------------------

def autograde(course_root, assignment, students=None, force=True, jobs=None, progress=False,
              zygote=None, log=None, on_result=None):
    """Grade `students` (default: all submitted) and return {student: status record}.

    force     grade even when the submission and the source are unchanged since
              the last recorded grading (otherwise such students are skipped and
              their existing record is returned).
    jobs      number of worker processes (default: the number of usable cores).
    progress  True for a tqdm progress bar on stderr (done / failed / remaining,
              elapsed, estimate), or a callable that gets an event dict
              {student, record, done, failed, total} per graded student.
    on_result a callable that gets the same event dict (with or without a bar).
    zygote    fork kernels from a warm process (default: on, unless the
              environment sets COURSE_ZYGOTE=0).
    log       a callable for one-line messages (default: print to stderr when
              `progress` is on, else silent).
    """
    course_root = Path(course_root).resolve()
    say = log or ((lambda message: print(message, file=sys.stderr)) if progress else (lambda m: None))
    if students is None:
        students = submitted_students(course_root, assignment)
    students = list(dict.fromkeys(students))
    jobs = default_jobs() if not jobs else max(1, int(jobs))
    if zygote is None:
        zygote = os.environ.get("COURSE_ZYGOTE", "1") not in ("0", "false", "no", "")

    src_hash = source_hash(course_root, assignment)
    records, todo = {}, []
    for student in students:
        digest = submission_hash(course_root, assignment, student)
        old = status.load(course_root, assignment, student)
        if not force and _unchanged(course_root, assignment, student, old, digest, src_hash):
            records[student] = old
            continue
        if digest is None:
            records[student] = _save(course_root, assignment, student, old, None, src_hash, "failed",
                                     "nothing submitted", notebooks=release_notebooks(course_root, assignment))
            continue
        todo.append((student, digest, old))

    skipped = len(students) - len(todo)
    if not todo:
        say(f"autograde: nothing to do ({len(records)} unchanged; use force to regrade)")
        return records

    # Longest first (last time's duration, else size), so no straggler is left at the end.
    def expected_cost(item):
        student, _, old = item
        if old and old.get("seconds"):
            return old["seconds"]
        folder = course_root / "submitted" / student / assignment
        return sum(p.stat().st_size for p in folder.rglob("*.ipynb")) / 1e5
    todo.sort(key=expected_cost, reverse=True)

    log_dir = status.folder(course_root, assignment) / LOG_DIR
    log_dir.mkdir(parents=True, exist_ok=True)
    pool = _Pool(course_root, assignment, min(jobs, len(todo)), zygote, log_dir)
    bar = _Progress(progress, len(todo), on_result)
    queue = list(todo)
    pending = {student: (digest, old) for student, digest, old in todo}
    started = time.perf_counter()
    try:
        pool.start()
        for event in pool.run([student for student, _, _ in queue]):
            if event["type"] == "fatal":
                raise RuntimeError(event["message"])
            if event["type"] != "result":
                continue
            student = event["student"]
            digest, old = pending.pop(student)
            record = _record(course_root, assignment, student, event, digest, old, src_hash, log_dir)
            record = _review(course_root, assignment, student, record)  # (sandbox helper)
            records[student] = record
            bar.update(student, record)
    except KeyboardInterrupt:
        pool.terminate()
        raise
    finally:
        pool.close()
        bar.close()
    elapsed = time.perf_counter() - started
    for student in students:  # the caller's order
        records[student] = records.pop(student)
    graded = [records[student] for student, _, _ in todo]
    failed = sum(1 for record in graded if record["status"] == "failed")
    say(f"autograde: {len(graded) - failed} graded, {failed} failed, {skipped} unchanged or "
        f"unsubmitted, in {elapsed:.1f} s with {pool.size} worker(s)"
        f"{' and forked kernels' if pool.zygote_kernels else ''}")
    return records


def _unchanged(course_root, assignment, student, old, digest, src_hash):
    if not old or old.get("hash") != digest or old.get("source_hash") != src_hash or digest is None:
        return False
    if old["status"] == "failed":
        return True  # the same input fails the same way; force regrades it
    graded = Path(course_root) / "autograded" / student / assignment
    return all((graded / name).exists() for name in old.get("graded", []))


def _save(course_root, assignment, student, old, digest, src_hash, state, reason="", **details):
    details.update(hash=digest, source_hash=src_hash,
                   graded_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
    # A flag (a gaming attempt, say) belongs to a submission: keep it while that is unchanged.
    if old and old.get("flags") and old.get("hash") == digest:
        details["flags"] = old["flags"]
        if state == "graded":
            state = "flagged"
    return status.save(course_root, assignment, student, state, reason, **details)


def _record(course_root, assignment, student, result, digest, old, src_hash, log_dir):
    """Decide graded/failed from what nbgrader wrote and logged, and save the record."""
    log_text = result.get("log", "") + ("\n" + result["error"] if result.get("error") else "")
    retried = result.get("retried") or {}
    retry_text = "".join(f"\n---- {name} graded on its own ----\n{again['log']}\n{again['error']}"
                         for name, again in retried.items())
    log_path = log_dir / f"{student}.log"
    log_path.write_text(log_text + retry_text)
    expected = release_notebooks(course_root, assignment)
    graded_dir = Path(course_root) / "autograded" / student / assignment
    submitted_dir = Path(course_root) / "submitted" / student / assignment
    graded = [name for name in expected if (graded_dir / name).exists()]
    missing = [name for name in expected if name not in graded]
    details = dict(graded=graded, notebooks=missing, seconds=round(result.get("seconds", 0.0), 2),
                   worker=result.get("worker"), kernels_forked=result.get("zygote_kernels", 0),
                   log=str(log_path.relative_to(course_root)))
    if result.get("success") and not missing:
        return _save(course_root, assignment, student, old, digest, src_hash, "graded", **details)
    reasons = []
    if not result.get("success"):
        reasons.append(failure_reason(log_text, result.get("error", "")))
    for name, again in retried.items():
        if not again["success"]:
            reasons.append(failure_reason(again["log"], again["error"]) or f"{name}: not graded")
    reasons = [reason for reason in reasons if reason]
    absent = [name for name in missing if not (submitted_dir / name).exists()]
    if absent:
        others = sorted(p.name for p in submitted_dir.glob("*.ipynb") if p.name not in expected)
        reasons.append("; ".join(f"{name}: not submitted" for name in absent)
                       + (f" (found {', '.join(others)})" if others else ""))
    reason = "; ".join(reasons) or "not graded (see the log)"
    return _save(course_root, assignment, student, old, digest, src_hash, "failed", reason, **details)


def notebooks_to_retry(course_root, assignment, student, result):
    """After a failed run: the student's other notebooks, to be graded one at a time.

    Only when nbgrader's log names the notebook that failed (an unreadable file,
    a kernel that died...): that one is not run again, and a failure that is
    not about one notebook (the gradebook, say) is not retried at all.
    """
    reason = failure_reason(result.get("log", ""), result.get("error", "")) or ""
    named = re.match(r"([^:/]+\.ipynb): ", reason)
    if not named:
        return []
    submitted = Path(course_root) / "submitted" / student / assignment
    return [name for name in release_notebooks(course_root, assignment)
            if name != named.group(1) and (submitted / name).is_file()]


def _review(course_root, assignment, student, record):
    """(sandbox helper) Flag gaming attempts (course.integrity.review) on the saved record."""
    try:
        from . import integrity
        if integrity.review(course_root, assignment, student):
            return status.load(course_root, assignment, student) or record
    except Exception as error:  # a problem of the review must never cost a grade
        print(f"autograde: integrity review of {student} failed: {error!r}", file=sys.stderr)
    return record


_KINDS = [
    (re.compile(r"NotJSONError|JSONDecodeError|does not appear to be JSON|UnicodeDecodeError"), "invalid JSON"),
    (re.compile(r"DeadKernelError|Kernel died|kernel died"), "kernel died"),
    (re.compile(r"UnresponsiveKernelError|kernel became unresponsive|CellTimeoutError|"
                r"TimeoutError|Timeout waiting"), "timed out"),
    (re.compile(r"Kernel didn't respond|Kernel died before replying"), "kernel did not start"),
    (re.compile(r"ValidationError|Notebook JSON is invalid|is not valid under"), "invalid notebook format"),
    (re.compile(r"SchemaTooOldError|SchemaTooNewError|metadata format"), "nbgrader metadata version"),
    (re.compile(r"MissingEntry|No assignment with ID"), "assignment not in the gradebook"),
]
_NOTEBOOK = re.compile(r"\] (?:Sanitizing|Autograding|Converting notebook) (\S+\.ipynb)")


def failure_reason(log, error=""):
    """'<notebook>: <kind of failure>' from nbgrader's log, or None if it reports no error."""
    text = log + "\n" + error
    cut = text.find("[ERROR]")
    if cut < 0 and not error:
        return None
    before = text[:cut] if cut >= 0 else text
    notebooks = _NOTEBOOK.findall(before)
    where = os.path.basename(notebooks[-1]) + ": " if notebooks else ""
    after = text[cut:] if cut >= 0 else error
    # (sandbox helper) course.sandbox names the cause precisely ("the kernel exited ... while
    # running cell 'a7_maxima_answer'"): prefer its words to the generic kinds below.
    precise = re.findall(r"SubmissionNotGradable: (.+)", after)
    if precise:
        return (where + precise[-1].strip())[:300]
    for pattern, kind in _KINDS:
        if pattern.search(after):
            return where + kind
    lines = [line.strip() for line in after.splitlines() if line.strip()]
    exceptions = [line for line in lines if re.match(r"^[A-Za-z_.]+(Error|Exception)\b", line)]
    detail = exceptions[-1] if exceptions else lines[0].split("]", 1)[-1].strip() if lines else "error"
    return (where + detail)[:300]


class _Progress:
    def __init__(self, progress, total, on_result=None):
        self.callbacks = [f for f in (progress, on_result) if callable(f)]
        self.bar = None
        self.done = self.failed = 0
        self.total = total
        if progress is True:
            from tqdm import tqdm
            self.bar = tqdm(total=total, unit="student", dynamic_ncols=True, file=sys.stderr,
                            desc="autograde", mininterval=0.2,
                            bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} "
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
            callback({"student": student, "record": record, "done": self.done,
                      "failed": self.failed, "total": self.total})

    def close(self):
        if self.bar is not None:
            self.bar.close()


class _Pool:
    """`size` worker processes fed one student at a time over pipes (JSON lines)."""

    def __init__(self, course_root, assignment, size, zygote, log_dir):
        self.course_root, self.assignment, self.size = course_root, assignment, size
        self.zygote, self.log_dir = zygote, log_dir
        self.workers = []
        self.zygote_kernels = 0

    def _spawn(self, index):
        log = open(self.log_dir / f"worker-{index}.log", "w")
        args = [sys.executable, "-m", "course.grading", "--worker", self.assignment,
                "--index", str(index)] + ([] if self.zygote else ["--no-zygote"])
        process = subprocess.Popen(args, cwd=self.course_root, env=_env(), stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=log, start_new_session=True,
                                   text=True, bufsize=1)
        log.close()
        return {"index": index, "process": process, "student": None, "ready": False, "buffer": ""}

    def start(self):
        self.workers = [self._spawn(i) for i in range(self.size)]

    def run(self, queue):
        """Hand out students; yield the workers' messages (results, fatal errors)."""
        queue = list(queue)
        selector = selectors.DefaultSelector()
        for worker in self.workers:
            selector.register(worker["process"].stdout, selectors.EVENT_READ, worker)
        busy = 0
        while queue or busy:
            for key, _ in selector.select(timeout=1.0):
                worker = key.data
                line = worker["process"].stdout.readline()
                if not line:  # the worker died
                    selector.unregister(key.fileobj)
                    worker["process"].wait()
                    if worker["student"] is not None:
                        busy -= 1
                        code = worker["process"].returncode
                        yield {"type": "result", "student": worker["student"], "success": False,
                               "error": f"grading process died (exit code {code}); see "
                                        f"{self.log_dir.name}/worker-{worker['index']}.log",
                               "worker": worker["index"]}
                        worker["student"] = None
                    if not worker["ready"]:
                        yield {"type": "fatal", "message": f"grading worker {worker['index']} could not "
                               f"start; see {self.log_dir / ('worker-%d.log' % worker['index'])}"}
                        return
                    if queue:  # replace it
                        new = self._spawn(worker["index"])
                        self.workers[self.workers.index(worker)] = new
                        selector.register(new["process"].stdout, selectors.EVENT_READ, new)
                    continue
                try:
                    message = json.loads(line)
                except ValueError:  # not ours: keep it for the log
                    sys.stderr.write(f"[worker {worker['index']}] {line}")
                    continue
                if message.get("type") == "fatal":
                    yield message
                    return
                if message.get("type") == "ready":
                    worker["ready"] = True
                    worker["zygote"] = message.get("zygote")
                    busy += self._hand_out(worker, queue)
                elif message.get("type") == "result":
                    busy -= 1
                    worker["student"] = None
                    self.zygote_kernels += message.get("zygote_kernels", 0)
                    message["worker"] = worker["index"]
                    # the next student first: the worker grades while the result is recorded
                    busy += self._hand_out(worker, queue)
                    yield message
            if not selector.get_map():
                break

    @staticmethod
    def _hand_out(worker, queue):
        """Give an idle worker the next student; 1 if it got one."""
        if worker["student"] is not None or not worker["ready"] or not queue:
            return 0
        worker["student"] = queue.pop(0)
        try:
            worker["process"].stdin.write(json.dumps({"student": worker["student"]}) + "\n")
            worker["process"].stdin.flush()
        except OSError:
            pass  # it died: its end of file comes next and reports the student
        return 1

    def terminate(self):
        """Stop now (Ctrl-C): the workers' zygotes and kernels go with them."""
        for worker in self.workers:
            if worker["process"].poll() is None:
                worker["process"].terminate()

    def close(self):
        for worker in self.workers:
            process = worker["process"]
            try:
                process.stdin.close()
            except OSError:
                pass
        deadline = time.monotonic() + 10
        for worker in self.workers:
            process = worker["process"]
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.terminate()
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            process.stdout.close()


# --------------------------------------------------------------------------
# The worker process: `python -m course.grading --worker ASSIGNMENT`
# --------------------------------------------------------------------------

def skip_unused_optional_imports():
    """Keep jsonschema from importing rfc3987_syntax in the grader's own processes.

    jsonschema imports it, when installed (jupyter_events brings it), for its
    "iri" format checker, and it builds 38 parsers on import: about 2 s of CPU
    in every process that validates a notebook. Nothing here checks IRIs.
    """
    sys.modules.setdefault("rfc3987_syntax", None)


def _sqlite_waits_for_locks(seconds=120):
    """Every SQLite connection this process opens waits for a lock instead of failing."""
    import sqlite3

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "connect")
    def _busy_timeout(connection, _record):
        if isinstance(connection, sqlite3.Connection):
            connection.execute(f"PRAGMA busy_timeout = {int(seconds * 1000)}")


class _SchemaCheckedOnce:
    """`jsonschema` as nbgrader's cell-metadata validator uses it, minus repeated work.

    `jsonschema.validate(instance, schema)` first checks the *schema* against
    its meta-schema, every call: nbgrader validates every cell's metadata that
    way, twice per notebook, so the meta-schema check is repeated for every
    cell. This shim checks each schema once and then validates exactly as
    `jsonschema.validate` does (same validator class, same `best_match` error).
    A cell's metadata is the same in every student's copy of a notebook, so
    metadata found valid once is not validated again (an invalid one always is,
    to raise its error). nbgrader reads its schema afresh for every notebook:
    what is remembered belongs to the schema's content, not to the object.
    """

    def __init__(self, module):
        self._module = module
        self._by_object = {}  # (id(schema), cls) -> (a copy of schema, validator, valid set)
        self._by_content = {}  # (schema as JSON text, cls) -> (validator, valid set)

    def _validator(self, schema, cls):
        """(validator, texts of instances found valid) for this schema's content."""
        key = (id(schema), cls)
        entry = self._by_object.get(key)
        # compared with a copy: a schema edited in place, or another one that got
        # the id of a freed one, is looked up by its content again
        if entry is None or entry[0] != schema:
            text = _json_text(schema)
            shared = self._by_content.get((text, cls)) if text is not None else None
            if shared is None:
                klass = cls or self._module.validators.validator_for(schema)
                klass.check_schema(schema)
                shared = klass(copy.deepcopy(schema)), set()
                if text is not None:
                    self._by_content[text, cls] = shared
            if len(self._by_object) > 64:  # nbgrader's discarded schema objects
                self._by_object.clear()
            entry = self._by_object[key] = (copy.deepcopy(schema), *shared)
        return entry[1], entry[2]

    def validate(self, instance, schema, cls=None, *args, **kwargs):
        if args or kwargs:
            return self._module.validate(instance, schema, cls, *args, **kwargs)
        validator, valid = self._validator(schema, cls)
        text = _json_text(instance)
        if text is not None and text in valid:
            return
        error = self._module.exceptions.best_match(validator.iter_errors(instance))
        if error is not None:
            raise error
        if text is not None:
            valid.add(text)

    def __getattr__(self, name):
        return getattr(self._module, name)


def _json_text(value):
    """`value` as canonical JSON text if that text gives back exactly `value`, else None.

    Two values with the same text then validate alike: JSON text tells true from 1
    and 1 from 1.0, and the round trip rules out tuples and values JSON does not
    have."""
    try:
        text = json.dumps(value, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError):
        return None
    return text if json.loads(text) == value else None


def _reuse_gradebook_engine():
    """One SQLAlchemy engine per gradebook URL in this process, its tables checked once.

    nbgrader opens a `Gradebook` a dozen times per notebook, and each one
    creates an engine (so every query is compiled again), lists the tables and
    runs `create_all` (a query per table) before doing its work. The worker
    keeps the first engine for a URL (closing a Gradebook still returns its
    connections) and runs `create_all` once per engine.
    """
    import nbgrader.api as api
    if getattr(api.create_engine, "_course_cached", False):
        return
    engines, checked = {}, set()
    make_engine, create_all = api.create_engine, api.Base.metadata.create_all

    def cached_engine(url, *args, **kwargs):
        key = (str(url), args, tuple(sorted(kwargs.items())))
        if key not in engines:
            engines[key] = make_engine(url, *args, **kwargs)
        return engines[key]

    def create_all_once(bind=None, **kwargs):
        if bind is not None and id(bind) in checked:
            return
        create_all(bind=bind, **kwargs)
        if bind is not None:
            checked.add(id(bind))

    cached_engine._course_cached = True
    api.create_engine = cached_engine
    api.Base.metadata.create_all = create_all_once


def _check_schemas_once():
    import nbgrader.nbgraderformat.common as common
    if not isinstance(common.jsonschema, _SchemaCheckedOnce):
        common.jsonschema = _SchemaCheckedOnce(common.jsonschema)


def _preload_modules(course_root, assignment):
    """What the zygote imports: the usual libraries plus what the source notebooks import."""
    import ast

    import nbformat

    from .zygote import DEFAULT_PRELOAD

    source = Path(course_root) / "source" / assignment
    local = {p.stem for p in source.glob("*.py")} | {p.name for p in source.iterdir() if p.is_dir()} \
        if source.is_dir() else set()
    names = list(DEFAULT_PRELOAD)
    for path in sorted(source.glob("*.ipynb")) if source.is_dir() else []:
        try:
            nb = nbformat.read(str(path), as_version=4)
        except Exception:
            continue
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            code = "\n".join(line for line in cell.source.splitlines()
                             if not line.lstrip().startswith(("%", "!")))
            try:
                tree = ast.parse(code)
            except SyntaxError:
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    found = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    found = [node.module]
                else:
                    continue
                names += [n for n in found if n.split(".")[0] not in local]
    # the integrity guard's snapshot of the checking stack, taken once (course/guard.py)
    names.append("course.guard:prepare")
    return list(dict.fromkeys(names))


def _worker_main(assignment, index, use_zygote):
    # Our protocol goes to the parent over the original stdout; anything else
    # that writes to fd 1 (kernels, libraries) ends up in the worker's log.
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)

    def send(message):
        proto.write(json.dumps(message) + "\n")
        proto.flush()

    course_root = os.getcwd()
    skip_unused_optional_imports()
    _sqlite_waits_for_locks()
    _check_schemas_once()
    _reuse_gradebook_engine()
    from . import gradebook_lookups
    gradebook_lookups.install()  # nbgrader's per-cell gradebook queries, one read per notebook
    from nbgrader.api import Gradebook, MissingEntry
    from nbgrader.apps.autogradeapp import AutogradeApp
    from nbgrader.converters import Autograde
    from nbgrader.utils import capture_log

    app = AutogradeApp()
    app.initialize([assignment])
    app.coursedir.assignment_id = assignment
    # traitlets leaves the logger at DEBUG (only its console handler filters), so
    # capture_log would build hundreds of debug records per notebook that nobody reads:
    # capture what the command line would show
    app.log.setLevel(app.log_level)
    # nbconvert validates the whole notebook after each of nbgrader's ~13 preprocessors;
    # this validates it once, after the last (an invalid result fails all the same)
    app.config.Exporter.optimistic_validation = True
    try:
        with Gradebook(app.coursedir.db_url, app.coursedir.course_id) as gb:
            gb.find_assignment(assignment)
    except MissingEntry:
        send({"type": "fatal", "message": f"assignment '{assignment}' is not in the gradebook: "
                                          f"run `nbgrader generate_assignment {assignment}` first"})
        return 2

    pool = None
    if use_zygote:
        from . import zygote
        pool = zygote.ZygotePool(_preload_modules(course_root, assignment), cwd=course_root,
                                 base_env=dict(os.environ, NBGRADER_EXECUTION="autograde"))
        if not zygote.install(pool):
            app.log.warning("a kernel provisioner is configured: kernels start the usual way")
            pool = None
    send({"type": "ready", "pid": os.getpid(), "zygote": pool is not None})

    def grade(student, notebook_id="*"):
        """One nbgrader Autograde run (all notebooks, or one), again while the gradebook is locked."""
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
        return result, attempt + 1

    for line in sys.stdin:
        request = json.loads(line)
        student = request["student"]
        started = time.perf_counter()
        before = pool.forked if pool else 0
        result, attempts = grade(student)
        if not result["success"]:
            # nbgrader drops all of a student's notebooks when one fails: grade the others alone.
            result["retried"] = {}
            for name in notebooks_to_retry(course_root, assignment, student, result):
                again, tries = grade(student, Path(name).stem)
                attempts += tries
                result["retried"][name] = {key: again.get(key, "") for key in ("success", "log", "error")}
        result.update(type="result", student=student, seconds=time.perf_counter() - started,
                      pid=os.getpid(), attempts=attempts,
                      zygote_kernels=(pool.forked - before) if pool else 0,
                      zygote_notes=pool.notes if pool else [])
        send(result)
    if pool is not None:
        pool.close()
    import resource
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    app.log.info("worker %d: CPU %.1f s in the worker, %.1f s in zygotes and kernels; %s kernels forked, "
                 "%s started the usual way", index, me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime,
                 pool.forked if pool else 0, pool.started_normally if pool else "all")
    return 0


def _main(argv=None):
    import argparse
    parser = argparse.ArgumentParser(description="internal: one grading worker")
    parser.add_argument("--worker", required=True, metavar="ASSIGNMENT")
    parser.add_argument("--index", type=int, default=0)
    parser.add_argument("--no-zygote", action="store_true")
    options = parser.parse_args(argv)
    return _worker_main(options.worker, options.index, not options.no_zygote)


# --------------------------------------------------------------------------
# Reading scores
# --------------------------------------------------------------------------

def scores(course_root, assignment):
    """{student: {notebook: {grade_id: (score, max_score)}}} from the gradebook."""
    from nbgrader.api import Gradebook

    url = "sqlite:///" + str(Path(course_root) / "gradebook.db")
    table = {}
    with Gradebook(os.environ.get("NBGRADER_DB_URL", url)) as gb:
        for submission in gb.assignment_submissions(assignment):
            notebooks = table.setdefault(submission.student_id, {})
            for nb in submission.notebooks:
                notebooks[nb.name] = {g.name: (g.score, g.max_score) for g in nb.grades}
    return table


if __name__ == "__main__":
    sys.exit(_main())
