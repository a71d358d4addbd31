"""Build student submissions from the release and the source notebooks.

Used by the demo, the tests and the grader audit: a "reference" submission is
the student version with every solution cell filled in from the source; a
"wrong" one replaces chosen solution cells (by grade_id) with other code.
"""
import re
from pathlib import Path

import nbformat

SOLUTION_MARKERS = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")


def read(path):
    return nbformat.read(str(path), as_version=4)


def grade_id(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def is_solution(cell):
    return bool(cell.get("metadata", {}).get("nbgrader", {}).get("solution"))


def reference_answers(source_nb):
    """{grade_id: source of the solution cell without the solution markers}."""
    answers = {}
    for cell in source_nb.cells:
        if is_solution(cell):
            lines = [line for line in cell.source.splitlines() if not SOLUTION_MARKERS.match(line)]
            answers[grade_id(cell)] = "\n".join(lines)
    return answers


def fill(release_nb, answers):
    """A copy of the student version with the given solution cells replaced."""
    nb = nbformat.from_dict(release_nb)
    unknown = set(answers) - {grade_id(cell) for cell in nb.cells if is_solution(cell)}
    if unknown:
        raise KeyError(f"no solution cell with grade_id {sorted(unknown)}")
    for cell in nb.cells:
        if is_solution(cell) and grade_id(cell) in answers:
            cell.source = answers[grade_id(cell)]
    return nb


def reference(release_nb, source_nb, changes=None):
    """The reference solution, with `changes` {grade_id: code} applied on top."""
    return fill(release_nb, {**reference_answers(source_nb), **(changes or {})})


def write(course_root, student, assignment, notebooks):
    """Place {file name: notebook or raw text/bytes} in submitted/<student>/<assignment>/."""
    from grader.paths import Course
    folder = Course(course_root).submitted(student, assignment)
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in notebooks.items():
        target = folder / name
        if isinstance(content, bytes):
            target.write_bytes(content)
        elif isinstance(content, str):
            target.write_text(content)
        else:
            nbformat.write(content, str(target))
    return folder
