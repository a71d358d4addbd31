"""`make repair [STUDENT=...]`: the repaired notebooks, written for a look before grading.

    python -m grader.repair ASSIGNMENT [--student S ...]      (run from the course root)

For each submitted notebook: the file is read (grader.repair.files) and its cells
aligned with the release notebook (grader.repair.align), exactly as autograde will
do it, and the result is written to repaired/<student>/<assignment>/<notebook>,
with the note the TA will see at the top. Nothing is graded and submitted/ is not
touched. Notebooks that needed no repair are listed, not written. Exit code 1 when
some file is not a notebook at all.
"""
import argparse
import sys

import nbformat

from grader.paths import Course

from . import align, files, record

FOLDER = "repaired"


def repair_notebook(path, release_path):
    """(notebook or None, repairs, review, reason): one submitted file, repaired as autograde will."""
    try:
        notebook, repairs = files.read_bytes(path.read_bytes())
    except files.NotANotebook as error:
        return None, [], [], str(error)
    review = []
    if release_path.exists():
        notebook, found, review = align.repair(notebook, nbformat.read(str(release_path), as_version=4))
        repairs += found
    if repairs or review:
        notebook.cells.insert(0, record.note_cell(repairs, review))
    return notebook, repairs, review, None


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m grader.repair", description=__doc__.split("\n\n")[0])
    parser.add_argument("assignment")
    parser.add_argument("--student", "-s", action="append", default=[], help="only this student (repeatable)")
    options = parser.parse_args(argv)
    course = Course()
    students = options.student or course.submitted_students(options.assignment)
    refused = written = 0
    for student in students:
        for path in sorted(course.submitted(student, options.assignment).glob("*.ipynb")):
            release = course.release(options.assignment) / path.name
            notebook, repairs, review, reason = repair_notebook(path, release)
            where = f"{student}/{path.name}"
            if reason:
                refused += 1
                print(f"{where}: cannot be graded: {reason}")
            elif repairs or review:
                target = course.root / FOLDER / student / options.assignment / path.name
                target.parent.mkdir(parents=True, exist_ok=True)
                nbformat.write(notebook, str(target))
                written += 1
                print(f"{where}: {len(repairs)} repair(s), {len(review)} for review -> {target.relative_to(course.root)}")
                for line in repairs + [f"REVIEW: {item}" for item in review]:
                    print(f"    {line}")
            else:
                print(f"{where}: nothing to repair")
    print(f"repair: {written} notebook(s) repaired into {FOLDER}/, {refused} not gradable; nothing graded")
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main())
