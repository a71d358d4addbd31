"""The source notebooks keep the rules of the trust boundary (fast, static).

- every autograded test cell has a hidden part: the kernel's own verdict (its visible
  checks) can be faked by the student's code, the grader's cannot;
- a hidden part starts by importing the hidden-test library, and reads the notebook only
  through `student`: it runs in the grader, where the notebook's names do not exist;
- the library's star import brings no name that a notebook defines (under nbval the
  hidden parts run in the notebook's own namespace and would replace the student's).
"""
import ast
import builtins

import nbformat
import pytest

import grader.hidden
from conftest import SOURCE
from grader.plugins import regions

NOTEBOOKS = sorted(SOURCE.glob("*.ipynb"))


def meta(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def graded_test_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code" and meta(c).get("grade") and not meta(c).get("solution")]


def bound_names(code):
    """Names a piece of code binds at its top level (assignments, defs, classes, imports)."""
    names = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
    return names


def notebook_names(nb):
    """Names the student's side defines: solution cells and read-only (setup) cells."""
    names = set()
    for cell in nb.cells:
        if cell.cell_type == "code" and not (meta(cell).get("grade") and not meta(cell).get("solution")):
            code = "\n".join(l for l in cell.source.splitlines() if not l.lstrip().startswith(("%", "!")))
            names |= bound_names(code)
    return names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_test_cell_has_a_hidden_part(path):
    nb = nbformat.read(str(path), as_version=4)
    missing = [meta(c)["grade_id"] for c in graded_test_cells(nb) if not regions.split(c.source)[2]]
    assert not missing, f"test cells without hidden tests: {missing}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_hidden_parts_read_the_notebook_only_through_student(path):
    nb = nbformat.read(str(path), as_version=4)
    defined = notebook_names(nb) - set(dir(builtins))
    for cell in graded_test_cells(nb):
        _, hidden, _ = regions.split(cell.source)
        tree = ast.parse(hidden)
        first = tree.body[0] if tree.body else None
        assert isinstance(first, ast.ImportFrom) and first.module == "grader.hidden", \
            f"{meta(cell)['grade_id']}: a hidden part starts with `from grader.hidden import ...`"
        own = bound_names(hidden) | {name for name in grader.hidden.__all__}
        read = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
        leaked = sorted((read & defined) - own)
        assert not leaked, f"{meta(cell)['grade_id']}: the hidden part reads notebook names directly: {leaked}"


def test_the_hidden_library_exports_no_name_a_notebook_defines():
    import types
    exported = {n for n in grader.hidden.__all__ if not isinstance(getattr(grader.hidden, n), types.ModuleType)}
    clashes = {}  # (np and sp are the very modules the notebooks import under those names)
    for path in NOTEBOOKS:
        clash = exported & notebook_names(nbformat.read(str(path), as_version=4))
        if clash:
            clashes[path.stem] = sorted(clash)
    assert not clashes, clashes
