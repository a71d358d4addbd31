"""Small constructors for nbgrader cells, for writing or editing source notebooks from Python.

    nb = notebook([md("# Title"), locked("import numpy as np", "setup"),
                   solution("def f(x):\n    ### BEGIN SOLUTION\n    ...\n    ### END SOLUTION", "a1_answer"),
                   tests("assert f(1) == 2", "a1_tests", points=2)])
    nbformat.write(nb, "source/tutorial08/X.ipynb")
"""
import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook


def _meta(grade_id, grade=False, solution=False, locked=False, points=None, task=False):
    meta = {"grade": grade, "solution": solution, "locked": locked, "task": task,
            "grade_id": grade_id, "schema_version": 3}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def md(text):
    """Plain markdown (a prompt)."""
    return new_markdown_cell(text)


def locked(code, grade_id):
    """Read-only code the student runs (setup, provided helpers)."""
    return new_code_cell(code, metadata=_meta(grade_id, locked=True))


def solution(code, grade_id):
    """A code cell the student edits; `### BEGIN/END SOLUTION` marks what is stripped."""
    return new_code_cell(code, metadata=_meta(grade_id, solution=True))


def tests(code, grade_id, points):
    """An autograded test cell; `### BEGIN/END HIDDEN TESTS` marks what only the grader sees."""
    return new_code_cell(code, metadata=_meta(grade_id, grade=True, locked=True, points=points))


def visible_check(code, grade_id):
    """A locked, ungraded self-check the student can run."""
    return locked(code, grade_id)


def manual(text, grade_id, points):
    """A free-text answer graded by hand (markdown solution + grade)."""
    return new_markdown_cell(text, metadata=_meta(grade_id, grade=True, solution=True, points=points))


def task(text, grade_id, points):
    """A manually graded task cell (may hold a mark scheme between BEGIN/END MARK SCHEME)."""
    return new_markdown_cell(text, metadata=_meta(grade_id, task=True, locked=True, points=points))


def notebook(cells):
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.nbformat, nb.nbformat_minor = 4, 5
    return nb


# ----------------------------------------------------------------- editing test cells

def cell_by_id(nb, grade_id):
    for cell in nb.cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
            return cell
    raise KeyError(grade_id)


def set_hidden(nb, grade_id, code):
    """Replace the hidden-test region of a test cell (the markers stay; the visible part is kept)."""
    cell = cell_by_id(nb, grade_id)
    lines = cell.source.splitlines()
    begin = next(i for i, line in enumerate(lines) if "BEGIN HIDDEN TESTS" in line.upper())
    end = next(i for i, line in enumerate(lines) if "END HIDDEN TESTS" in line.upper())
    cell.source = "\n".join(lines[:begin + 1] + code.strip("\n").splitlines() + lines[end:])


def set_visible(nb, grade_id, code):
    """Replace the visible part of a test cell (kept after the hidden region)."""
    cell = cell_by_id(nb, grade_id)
    lines = cell.source.splitlines()
    end = next(i for i, line in enumerate(lines) if "END HIDDEN TESTS" in line.upper())
    begin = next(i for i, line in enumerate(lines) if "BEGIN HIDDEN TESTS" in line.upper())
    cell.source = "\n".join(lines[begin:end + 1] + code.strip("\n").splitlines())
