"""Flags for review: what a person should look at, never a change of score.

Nothing here protects a grade (the boundary and the sandbox do that); it tells the
instructor where a student tried something, or where grading itself had trouble:

- the student's own code uses means of gaming (reading course files, talking to
  the kernel's machinery, rewriting frames or the grader's helper, catching
  KeyboardInterrupt, objects that claim to equal anything), by a static scan;
- test or read-only cells edited, their metadata changed, test cells deleted
  (nbgrader restored them before grading); a test cell that only lost its metadata
  (copied into a new notebook) is found by its text, not counted as deleted;
- what the repair of a damaged notebook (grader/repair) left for a person to decide;
- what happened while grading (`grading_status/<assignment>/events/`): a kernel
  that ignored interrupts, capped output, errors of the hidden tests themselves.

Any JSON a student or a broken tool can produce is read without failing.
"""
import json
import re

import nbformat

from grader.repair import record as repair_record

from . import records

#: (pattern, flag): each names the means, not an accusation.
SUSPICIOUS = [
    (r"(\.\./|[\"']\.\.[\"']|\bsource/|\bgradebook\b|\bautograded\b|\bsubmitted/|\brelease/|/proc/|/run/grader|"
     r"\b(walk|glob|listdir|scandir|iglob)\s*\(\s*[\"']/)",
     "reaches for files outside the notebook's folder (course files, other processes)"),
    (r"\bos\s*\.\s*_exit\b|\bos\s*\.\s*abort\b|\bos\s*\.\s*kill\b|\bsignal\s*\.\s*(signal|pthread_kill|alarm|setitimer)\b",
     "stops the kernel or changes its signals"),
    (r"\bos\s*\.\s*(fork|forkpty|spawn\w*|exec\w*|system|popen)\b|\bsubprocess\b|\bmultiprocessing\b",
     "starts processes"),
    (r"except\s*\(?[^:\n]*\b(KeyboardInterrupt|BaseException)\b", "catches KeyboardInterrupt (defeats the time limit)"),
    (r"__grader_agent__|\braw_input\b|\binput_transformers|\bast_transformers|\bevents\s*\.\s*(register|callbacks)|"
     r"\baddaudithook\b|\bsession\s*\.\s*send\b|\bclear_output\b|\bupdate_display\b|"
     r"get_ipython\s*\(\s*\)\s*\.\s*(kernel|display_pub|displayhook|run_cell|events|user_ns)",
     "talks to the kernel's machinery or to the grader's helper in it"),
    (r"^\s*(np|numpy|sp|sympy|course|math|builtins)(\s*\.\s*\w+)+\s*=(?!=)|\bsetattr\s*\(\s*(np|numpy|sp|sympy|course|math)\b",
     "replaces a function of numpy, sympy or the checking library"),
    (r"\bctypes\b|\bgc\s*\.\s*get_referr|\bsys\s*\.\s*_getframe\b|\bf_back\b|\bf_locals\b|\bsys\s*\.\s*settrace\b|"
     r"\bsys\s*\.\s*setprofile\b|\b__code__\b|\binspect\s*\.\s*(currentframe|stack)\b|\bsys\s*\.\s*modules\b|__builtins__",
     "inspects or rewrites frames, code objects or modules"),
    (r"def\s+__(?:eq|ne|lt|le|gt|ge|bool)__\s*\([^)]*\)[^:\n]*:\s*(?:#[^\n]*\s*)*return\s+(?:True|False)\b",
     "defines a comparison that always answers the same (an object that pretends to be a value?)"),
    (r"class\s+\w+\s*\(\s*(float|int|complex|np\.ndarray|numpy\.ndarray)\s*\)",
     "subclasses a number or array type (an object that pretends to be a value?)"),
]
_COMPILED = [(re.compile(pattern, re.MULTILINE), flag) for pattern, flag in SUSPICIOUS]


def _text(source) -> str:
    if isinstance(source, list):
        return "".join(s for s in source if isinstance(s, str))
    return source if isinstance(source, str) else ""


def _meta(cell) -> dict:
    meta = cell.get("metadata") if isinstance(cell, dict) else None
    nbgrader = meta.get("nbgrader") if isinstance(meta, dict) else None
    return nbgrader if isinstance(nbgrader, dict) else {}


def _cells(nb) -> list:
    cells = nb.get("cells") if isinstance(nb, dict) else None
    return [c for c in cells if isinstance(c, dict)] if isinstance(cells, list) else []


def scan_code(source) -> list:
    """The flags a piece of student code raises."""
    text = _text(source)
    return [flag for pattern, flag in _COMPILED if pattern.search(text)]


def _lines(source):
    return [line.rstrip() for line in _text(source).strip().splitlines()]


def scan_notebook(submitted, release) -> list:
    """Flags for one submitted notebook (any JSON) against its release version."""
    flags = []
    released = {_meta(c).get("grade_id"): c for c in _cells(release) if _meta(c).get("grade_id")}
    by_text = {"\n".join(_lines(c.get("source"))): name for name, c in released.items()}
    present, deleted = set(), 0
    for cell in _cells(submitted):
        grade_id = _meta(cell).get("grade_id")
        if grade_id is None and "\n".join(_lines(cell.get("source"))) in by_text:  # lost its metadata only
            present.add(by_text["\n".join(_lines(cell.get("source")))])
        original = released.get(grade_id) if isinstance(grade_id, str) else None
        if original is not None:
            present.add(grade_id)
            flags.extend(_compare(cell, original, grade_id))
        is_test = original is not None and _meta(original).get("grade") and not _meta(original).get("solution")
        locked = original is not None and _meta(original).get("locked")
        if cell.get("cell_type") == "code" and not is_test and not locked:
            where = grade_id if isinstance(grade_id, str) else "an added cell"
            flags.extend(f"{reason} (cell {where})" for reason in scan_code(cell.get("source")))
    for grade_id, original in released.items():
        if _meta(original).get("grade") and not _meta(original).get("solution") and grade_id not in present:
            deleted += 1
    if deleted:
        flags.append(f"{deleted} test cell(s) deleted (restored before grading)")
    return flags


def _compare(cell, original, grade_id):
    flags = []
    meta, before = _meta(cell), _meta(original)
    is_test = before.get("grade") and not before.get("solution")
    changes = [f"{key} {before.get(key)!r} -> {meta.get(key)!r}" for key in ("grade", "solution", "locked", "task", "points")
               if before.get(key) != meta.get(key) and not (key == "points" and not before.get("grade"))]
    if cell.get("cell_type") != original.get("cell_type"):
        changes.append(f"cell type {original.get('cell_type')} -> {cell.get('cell_type')}")
    if changes:
        flags.append(f"metadata of cell {grade_id} edited ({', '.join(changes)}; restored before grading)")
    if (is_test or before.get("locked")) and _lines(cell.get("source")) != _lines(original.get("source")):
        flags.append(f"{'test' if is_test else 'read-only'} cell {grade_id} edited (restored before grading)")
    return flags


def _read_json(path):
    try:
        return json.loads(path.read_text(errors="replace"))
    except (OSError, ValueError):
        return None


def event_flags(course, assignment, student) -> tuple:
    """(flags, grader problems) from what happened while the student's notebooks were graded."""
    flags, problems = [], []
    for path in sorted((course.status(assignment) / "events" / student).glob("*.json")):
        record = _read_json(path) or {}
        for event in record.get("events", []) if isinstance(record, dict) else []:
            kind = event.get("kind") if isinstance(event, dict) else None
            if kind == "flag":
                flags.append(f"{path.stem}: {event.get('reason')}")
            elif kind == "output_capped":
                flags.append(f"{path.stem}: output flood capped")
            elif kind in ("hidden_test_error", "grader_time_limit", "no_hidden_tests"):
                problems.append(f"{path.stem}: {kind.replace('_', ' ')} in {event.get('cell')}")
    return sorted(set(flags)), sorted(set(problems))


def flag(course, assignment, student, record) -> dict:
    """The record with the student's flags (and the grader's own problems) added; never raises."""
    try:
        flags = []
        release = course.release(assignment)
        for path in sorted(course.submitted(student, assignment).glob("*.ipynb")):
            original = release / path.name
            submitted = _read_json(path)
            if submitted is None or not original.exists():
                continue
            flags += [f"{path.stem}: {f}" for f in scan_notebook(submitted, nbformat.read(original, as_version=4))]
        run_flags, problems = event_flags(course, assignment, student)
        flags += run_flags
        repaired = repair_record.load(course, assignment, student)
        flags += [f"{notebook}: {item}" for notebook, found in repaired.items() for item in found["review"]]
        repairs = [f"{notebook}: {item}" for notebook, found in repaired.items() for item in found["repairs"]]
        extra = {key: value for key, value in (("grader_problems", problems), ("repairs", repairs)) if value}
        if extra:
            record = records.save(course, assignment, student, record["status"], record.get("reason", ""),
                                  **{k: v for k, v in record.items() if k not in ("student", "status", "reason")},
                                  **extra)
        return records.add_flags(course, assignment, student, flags) if flags else record
    except Exception as error:  # noqa: BLE001 (a problem of the review never costs a grade)
        print(f"review of {student} failed: {error!r}")
        return record
