"""Gaming attempts: keep them from earning points, and flag them for review.

Three sources of evidence, combined by `review()` into `course.status` flags:

1. The guard (`course.guard`, installed by `course.sandbox.SandboxedExecute`). Before the first
   cell it records, inside the kernel, every function and class attribute of
   the checking stack (the `course` package, NumPy, SymPy, `math`, the
   builtins) and the modules in `sys.modules`. Around every graded test cell
   it compares them: what the student replaced (`np.allclose = ...`,
   `course.check_number = ...`, `sp.simplify = ...`, `sys.modules["numpy"] =
   ...`) is put back before the tests run, and a test cell DURING which
   something was replaced (a student function that patches when called)
   scores zero. Both are recorded.
2. A static scan of what the student submitted (`scan_notebook`), compared
   with the release: test cells edited, deleted or turned into other cells,
   points raised, and code that reaches for the grader (reading `source/`,
   writing the gradebook, `os._exit`, forking, catching KeyboardInterrupt,
   objects whose `__eq__` is always true, ...). nbgrader restores test cells
   and their metadata from the gradebook, so these earn nothing; they are
   flagged so that a person looks.
3. Events of the run (`write_evidence`): cells that timed out, outputs that
   were cut, a kernel that ignored interrupts or died.

Flags never change a score; they put the submission on the review list of the
grades export (`course.grades`) and of `make autograde`'s summary.

The grading driver calls, after it has saved the student's status record:

    course.integrity.review(course_root, assignment, student)

and, for a student whose notebook could not be graded, may ask
`failure_reason(course_root, assignment, student)` for the precise reason.
"""
import ast
import json
import re
import secrets
from pathlib import Path

from . import status

EVIDENCE_DIR = "integrity"
GUARD_REMOVED = "the integrity guard was removed"
TAMPERING_MESSAGE = ("the code under test replaced functions of the checking library (numpy, sympy or "
                     "course) while this test ran; the result cannot be trusted, so this cell scores 0 "
                     "and the submission is flagged for review")


# ----------------------------------------------------------------- the in-kernel guard

def new_token():
    return "_course_guard_" + secrets.token_hex(8)


# Run once in the kernel, before the first cell: the guard itself is course/guard.py.
_GUARD_SETUP = "__import__('course.guard', fromlist=['install']).install(%(token)r, %(watch)r, %(quiet)r)\n"

# A check on request (the tests use it; the grader relies on the hooks).
_GUARD_CHECK = r"""
try:
    __import__("sys").modules[%(token)r].result = None
    __import__("sys").modules[%(token)r].check(%(restore)r)
except Exception:
    pass
"""


def guard_setup_code(token, watch=True, quiet=True):
    """Install the guard in the kernel: `watch` the checking stack, `quiet` warnings in graded cells."""
    return _GUARD_SETUP % {"token": token, "watch": bool(watch), "quiet": bool(quiet)}


def graded_cell_id(token, index):
    """The id the grader gives the execute request of graded cell `index`."""
    return f"{token}:{index}"


def guard_check_code(token, restore=True):
    return _GUARD_CHECK % {"token": token, "restore": bool(restore)}


def guard_ready_expression(token):
    return f"__import__('sys').modules[{token!r}].size"


def guard_result_expression(token):
    """The replaced names as JSON; GUARD_REMOVED when the guard's store is gone or did not run."""
    store = f"__import__('sys').modules.get({token!r})"
    return (f"__import__('json').dumps(list(getattr({store}, 'result', None))[:20] "
            f"if getattr({store}, 'result', None) is not None else [{GUARD_REMOVED!r}])")


def guard_log_expression(token):
    """The guard's log ([[cell id, "before" or "after", [replaced names]], ...]) as JSON;
    null when the guard's store is gone."""
    store = f"__import__('sys').modules.get({token!r})"
    return (f"__import__('json').dumps([[str(c), str(p), [str(n)[:200] for n in list(r)[:20]]] "
            f"for c, p, r in getattr({store}, 'log', None)] "
            f"if getattr({store}, 'log', None) is not None else None)")


def parse_guard_log(answer, token):
    """{(cell id, phase): [replaced names]} from the kernel's reply; None if the log is gone or unreadable."""
    if answer is None:
        return None
    try:
        value = json.loads(ast.literal_eval(answer))  # the repr of json.dumps' str
        entries = {}
        for cell_id, phase, changed in value:
            if isinstance(cell_id, str) and cell_id.startswith(token + ":"):
                entries.setdefault((cell_id, phase), []).extend(changed)
        return entries
    except Exception:
        return None


def parse_guard_result(answer):
    """The list of replaced names from the kernel's reply ([] if none, a note if unreadable)."""
    if answer is None:
        return []
    try:
        text = ast.literal_eval(answer)  # the repr of a str, produced by json.dumps
        value = json.loads(text)
    except Exception:
        return ["the integrity guard's answer was unreadable"]
    if not isinstance(value, list):
        return ["the integrity guard's answer was unreadable"]
    return [str(item)[:200] for item in value]


# ----------------------------------------------------------------- evidence of a run

def evidence_folder(course_root, assignment, student):
    return status.folder(course_root, assignment) / EVIDENCE_DIR / student


def write_evidence(course_root, assignment, student, notebook, record):
    folder = evidence_folder(course_root, assignment, student)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{notebook}.json").write_text(json.dumps(record, indent=1, sort_keys=True))


def read_evidence(course_root, assignment, student, since=None):
    """{notebook: record} written by the sandbox while this student was last graded.

    `since` (epoch seconds) drops older records: those of a notebook that this
    time failed before its code ran. By default it is taken from the student's
    status record (when the last grading started).
    """
    if since is None:
        since = last_grading_started(course_root, assignment, student)
    folder = evidence_folder(course_root, assignment, student)
    found = {}
    for path in sorted(folder.glob("*.json")) if folder.exists() else []:
        try:
            record = json.loads(path.read_text())
        except ValueError:
            continue
        if since is None or record.get("time", 0) >= since:
            found[path.stem] = record
    return found


def last_grading_started(course_root, assignment, student):
    """Epoch seconds when the last recorded grading of the student began (None if unknown)."""
    import datetime

    record = status.load(course_root, assignment, student) or {}
    try:
        ended = datetime.datetime.fromisoformat(record["graded_at"]).timestamp()
    except (KeyError, TypeError, ValueError):
        return None
    return ended - float(record.get("seconds") or 0) - 5.0


def clear_evidence(course_root, assignment, student):
    folder = evidence_folder(course_root, assignment, student)
    for path in folder.glob("*.json") if folder.exists() else []:
        path.unlink()


# ----------------------------------------------------------------- static scan of a submission

# (pattern, flag) over the code a student wrote; each names the means, not an accusation
SUSPICIOUS = [
    (r"(\.\./|[\"']\.\.[\"']|\bsource/|\bgradebook\b|\bautograded\b|\bsubmitted/|\brelease/|\bfeedback/)",
     "reaches for course files outside the notebook (source/, gradebook, other submissions)"),
    (r"\bos\s*\.\s*_exit\b|\bos\s*\.\s*abort\b|\bos\s*\.\s*kill\b|\bsignal\s*\.\s*(signal|pthread_kill|alarm|setitimer)\b",
     "stops the kernel or changes its signals"),
    (r"\bos\s*\.\s*(fork|forkpty|spawn\w*|exec\w*|system|popen)\b|\bsubprocess\b|\bmultiprocessing\b",
     "starts processes"),
    (r"except\s*\(?[^:\n]*\b(KeyboardInterrupt|BaseException)\b",
     "catches KeyboardInterrupt (defeats the time limit)"),
    (r"^\s*(np|numpy|sp|sympy|course|math|builtins|checks|values|expressions|hints|npt|testing)"
     r"(\s*\.\s*\w+)+\s*=(?!=)",
     "replaces a function of numpy, sympy or the checking library"),
    (r"\bsetattr\s*\(\s*(np|numpy|sp|sympy|course|math|builtins|__builtins__)\b|\bsys\s*\.\s*modules\b|"
     r"\bimport\s+builtins\b|__builtins__|\bimportlib\s*\.\s*reload\b",
     "patches modules or builtins"),
    (r"def\s+__(?:eq|ne|lt|le|gt|ge|bool)__\s*\([^)]*\)[^:\n]*:\s*(?:#[^\n]*\s*)*return\s+(?:True|False)\b",
     "defines a comparison that always answers the same (an object that pretends to be a value?)"),
    (r"class\s+\w+\s*\(\s*(float|int|complex|np\.ndarray|numpy\.ndarray|sp\.\w+|sympy\.\w+)\s*\)",
     "subclasses a number or array type (an object that pretends to be a value?)"),
    (r"\bctypes\b|\bgc\s*\.\s*get_referr|\bsys\s*\.\s*_getframe\b|\bf_back\b|\bf_locals\b|\bsys\s*\.\s*settrace\b|"
     r"\b__code__\b|\binspect\s*\.\s*(currentframe|stack)\b",
     "inspects or rewrites the grader's frames and objects"),
    (r"get_ipython\s*\(\s*\)\s*\.\s*(kernel|display_pub|displayhook|events|run_cell|ex|user_ns)\b|\bsession\s*\.\s*send\b|"
     r"\bclear_output\b|\biopub\b",
     "talks to the kernel's machinery (forged outputs?)"),
]
_COMPILED = [(re.compile(pattern, re.MULTILINE), flag) for pattern, flag in SUSPICIOUS]


def _meta(cell):
    return (cell.get("metadata") or {}).get("nbgrader") or {}


def _lines(source):
    if isinstance(source, list):
        source = "".join(source)
    return [line.rstrip() for line in (source or "").strip().splitlines()]


def scan_code(source):
    """The flags a piece of student code raises (a list of short reasons)."""
    if isinstance(source, list):
        source = "".join(source)
    return [flag for pattern, flag in _COMPILED if pattern.search(source or "")]


def scan_notebook(submitted, release):
    """Flags for one submitted notebook (nbformat node or dict) against its release version."""
    flags = []
    released = {_meta(c).get("grade_id"): c for c in release.get("cells", []) if _meta(c).get("grade_id")}
    present = {}
    for cell in submitted.get("cells", []):
        meta = _meta(cell)
        grade_id = meta.get("grade_id")
        original = released.get(grade_id) if grade_id else None
        if grade_id:
            present[grade_id] = cell
        if original is not None:
            flags.extend(_compare_cell(cell, original, grade_id))
        is_test = original is not None and _meta(original).get("grade") and not _meta(original).get("solution")
        if cell.get("cell_type") == "code" and not is_test and not (original is not None and _meta(original).get("locked")):
            where = grade_id or "an added cell"
            flags.extend(f"{reason} (cell {where})" for reason in scan_code(cell.get("source")))
    for grade_id, original in released.items():
        meta = _meta(original)
        if meta.get("grade") and not meta.get("solution") and grade_id not in present:
            flags.append(f"test cell {grade_id} deleted (restored before grading)")
    return flags


def _compare_cell(cell, original, grade_id):
    flags = []
    meta, before = _meta(cell), _meta(original)
    is_test = before.get("grade") and not before.get("solution")
    changes = [f"{key} {before.get(key)!r} -> {meta.get(key)!r}"
               for key in ("grade", "solution", "locked", "task", "points")
               if before.get(key) != meta.get(key) and not (key == "points" and not before.get("grade"))]
    if cell.get("cell_type") != original.get("cell_type"):
        changes.append(f"cell type {original.get('cell_type')} -> {cell.get('cell_type')}")
    if changes:
        flags.append(f"metadata of cell {grade_id} edited ({', '.join(changes)}; restored before grading)")
    if (is_test or before.get("locked")) and _lines(cell.get("source")) != _lines(original.get("source")):
        kind = "test" if is_test else "read-only"
        flags.append(f"{kind} cell {grade_id} edited (restored before grading)")
    return flags


# ----------------------------------------------------------------- restoring edited metadata

def _restore_metadata_class():
    from nbgrader.preprocessors import NbGraderPreprocessor

    class RestoreCellMetadata(NbGraderPreprocessor):
        """Autograde sanitizing step: put back the nbgrader metadata the gradebook knows.

        nbgrader's OverwriteCells restores a test cell's source, points and lock,
        but not its grade/solution/task flags; a test cell a student turned into
        a solution cell then fails the checksum check and the whole submission
        cannot be graded. Placed before OverwriteCells, this makes every cell
        the gradebook knows (by grade_id) what the release made it.
        """

        def preprocess(self, nb, resources):
            from nbgrader.api import Gradebook, MissingEntry
            from .gradebook_lookups import notebook_cells

            info = resources["nbgrader"]
            notebook, assignment = info["notebook"], info["assignment"]
            with Gradebook(info["db_url"]) as gb:
                try:  # the notebook's cells in one go, not four queries per cell
                    cells = notebook_cells(gb, notebook, assignment)
                except MissingEntry:
                    return nb, resources
                sources, grades, tasks = cells["source"], cells["grade"], cells["task"]
                solutions = set(cells["solution"])
                for cell in nb.cells:
                    meta = cell.get("metadata", {}).get("nbgrader")
                    grade_id = (meta or {}).get("grade_id")
                    if not grade_id or grade_id not in sources:
                        continue
                    grade, task = grades.get(grade_id), tasks.get(grade_id)
                    restored = {"grade": grade is not None, "solution": grade_id in solutions,
                                "task": task is not None, "locked": bool(sources[grade_id].locked)}
                    scored = grade if grade is not None else task
                    if scored is not None:
                        restored["points"] = float(scored.max_score)
                    changed = sorted(k for k, v in restored.items() if meta.get(k) != v)
                    if scored is None and "points" in meta:
                        del meta["points"]
                    if changed:
                        self.log.warning("Restored nbgrader metadata (%s) of cell %s", ", ".join(changed), grade_id)
                        meta.update(restored)
            return nb, resources

    return RestoreCellMetadata


def __getattr__(name):  # nbgrader is imported only when nbgrader asks for the preprocessor
    if name == "RestoreCellMetadata":
        cls = _restore_metadata_class()
        globals()[name] = cls
        return cls
    raise AttributeError(name)


# ----------------------------------------------------------------- problems with the files

def inspect_files(course_root, assignment, student):
    """Problems with the submitted files themselves: {notebook name: reason}.

    Missing notebooks (with a guess when another file looks like a renamed
    copy), unreadable or invalid JSON, notebooks that nbformat cannot read.
    """
    import nbformat

    release = Path(course_root) / "release" / assignment
    folder = Path(course_root) / "submitted" / student / assignment
    expected = sorted(p.name for p in release.glob("*.ipynb"))
    present = sorted(p.name for p in folder.glob("*.ipynb")) if folder.exists() else []
    extra = [name for name in present if name not in expected]
    problems = {}
    for name in expected:
        path = folder / name
        if not path.exists():
            stem = name[:-len(".ipynb")]
            similar = [e for e in extra if stem.lower() in e.lower() or _same_cells(folder / e, release / name)]
            reason = f"{name} was not submitted"
            if similar:
                reason += f" (found {', '.join(similar)}: renamed? rename it to {name} and grade again)"
            problems[name] = reason
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            problems[name] = f"{name} cannot be read ({type(error).__name__})"
            continue
        try:
            json.loads(text)
        except ValueError as error:
            problems[name] = f"{name} is not valid JSON (line {error.lineno}, column {error.colno}): the file is damaged"
            continue
        try:
            nbformat.reads(text, as_version=4)
        except Exception as error:
            problems[name] = f"{name} is not a readable notebook ({type(error).__name__})"
    return problems


def _same_cells(candidate, release_path):
    """True if `candidate` holds most of the release notebook's grade_ids."""
    try:
        ids = {_meta(c).get("grade_id") for c in json.loads(candidate.read_text()).get("cells", [])}
        wanted = {_meta(c).get("grade_id") for c in json.loads(release_path.read_text()).get("cells", [])}
    except (OSError, ValueError, AttributeError):
        return False
    wanted.discard(None)
    return bool(wanted) and len(ids & wanted) >= 0.5 * len(wanted)


def failure_reason(course_root, assignment, student, notebooks=None):
    """The most precise reason known why (some of) a student's notebooks could not be graded, or None."""
    reasons = []
    problems = inspect_files(course_root, assignment, student)
    for name, reason in problems.items():
        if notebooks is None or name in notebooks:
            reasons.append(reason)
    for notebook, record in read_evidence(course_root, assignment, student).items():
        if notebooks is not None and f"{notebook}.ipynb" not in notebooks:
            continue
        for event in record.get("events", []):
            if event.get("kind") == "failed":
                reasons.append(f"{notebook}.ipynb: {event['reason']}")
    return "; ".join(reasons) or None


# ----------------------------------------------------------------- the review

def collect_flags(course_root, assignment, student):
    """Every reason to look at this submission, from the three sources."""
    import nbformat

    flags = []
    release = Path(course_root) / "release" / assignment
    folder = Path(course_root) / "submitted" / student / assignment
    for path in sorted(release.glob("*.ipynb")):
        submitted = folder / path.name
        if not submitted.exists():
            continue
        try:
            mine = json.loads(submitted.read_text(encoding="utf-8"))
            theirs = nbformat.read(str(path), as_version=4)
        except (OSError, ValueError, UnicodeDecodeError):
            continue
        if not isinstance(mine, dict):
            continue
        flags.extend(f"{path.stem}: {flag}" for flag in scan_notebook(mine, theirs))
    for notebook, record in read_evidence(course_root, assignment, student).items():
        for event in record.get("events", []):
            kind = event.get("kind")
            if kind == "tampering":
                names = ", ".join(event.get("changed", [])[:5])
                when = "before" if event.get("before") else "during"
                effect = "restored" if event.get("before") else "cell scored 0"
                flags.append(f"{notebook}: checking functions replaced {when} test {event.get('cell')} "
                             f"({names}; {effect})")
            elif kind == "flag":
                flags.append(f"{notebook}: {event['reason']}")
            elif kind == "process_bomb":
                flags.append(f"{notebook}: started more than {event.get('limit')} processes "
                             f"({event.get('killed')} killed: a fork bomb?)")
            elif kind == "clear_output_ignored":
                flags.append(f"{notebook}: code under test tried to clear the outputs of {event.get('cell')}")
    seen, unique = set(), []
    for flag in flags:
        if flag not in seen:
            seen.add(flag)
            unique.append(flag)
    return unique


def review(course_root, assignment, student):
    """Add the student's flags to their status record (after the grading driver saved it)."""
    flags = collect_flags(course_root, assignment, student)
    for flag in flags:
        status.add_flag(course_root, assignment, student, flag)
    return flags


def run_events(course_root, assignment, student):
    """Timeouts and cut outputs of the last run: {notebook: [event]} (for reports, not flags)."""
    return {nb: [e for e in rec.get("events", []) if e.get("kind") in ("timeout", "output_capped")]
            for nb, rec in read_evidence(course_root, assignment, student).items()}
