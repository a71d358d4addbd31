"""The student package (`course`, what students install) answers no exercise and holds no grader.

Students get the package on their own machines, so it must not do their work: for every
function or class an exercise asks for, every callable of the package is handed in as
that answer (the rest of the notebook is the reference solution) and that exercise's
hidden tests are run against it, the way the grader runs them; none may pass. The
package also imports nothing of the grader and needs only NumPy and SymPy.
"""
import ast
import importlib
import inspect
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import course
from conftest import SOURCE
from grader.boundary.student import LocalStudent
from grader.hidden.current import checking
from grader.plugins import regions

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(SOURCE.glob("*.ipynb"))


def package_callables():
    """{qualified name: object} of every function and class the package defines (but the
    `validate` command: it runs the notebook files it is given, and handed numbers it would
    open file descriptors of the test process itself)."""
    found = {}
    modules = [course] + [importlib.import_module(f"course.{m.name}") for m in pkgutil.iter_modules(course.__path__)
                          if m.name != "validate"]
    for module in modules:
        for name, value in vars(module).items():
            if (inspect.isfunction(value) or inspect.isclass(value)) and value.__module__.startswith("course"):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return found


def meta(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def reference_namespace(nb, folder):
    """The notebook's namespace after its reference solution ran (its test cells left out)."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config
    config = Config()
    config.HistoryManager.enabled = False
    shell = InteractiveShell.instance(config=config)
    shell.reset(new_session=True)
    shell.enable_matplotlib = lambda gui=None: ("agg", "agg")
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        for cell in nb.cells:
            if cell.cell_type == "code" and not (meta(cell).get("grade") and not meta(cell).get("solution")):
                code = "\n".join(l for l in cell.source.splitlines() if "### " not in l)
                assert shell.run_cell(code, silent=True).success, meta(cell).get("grade_id")
    finally:
        os.chdir(cwd)
    return dict(shell.user_ns)


def exercises(nb):
    """{function or class name an exercise asks for: [hidden parts of the test cells that ask for it]}."""
    asked = {}
    for cell in nb.cells:
        if cell.cell_type == "code" and meta(cell).get("solution"):
            tree = ast.parse("\n".join(l for l in cell.source.splitlines() if not l.startswith("%")))
            asked.update({n.name: [] for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))})
    for cell in nb.cells:
        if meta(cell).get("grade") and not meta(cell).get("solution") and cell.cell_type == "code":
            _, hidden, _ = regions.split(cell.source)
            for name in asked:
                if f'"{name}"' in hidden or f"'{name}'" in hidden or f"{name}(" in hidden:
                    asked[name].append((meta(cell)["grade_id"], hidden))
    return {name: tests for name, tests in asked.items() if tests}


def passes(namespace, hidden):
    """True if the hidden tests pass against `namespace` (a notebook's, with one answer swapped)."""
    import matplotlib
    matplotlib.use("Agg")
    student = LocalStudent(namespace)
    try:
        with checking(student, []):
            exec(compile(hidden, "<hidden tests>", "exec"), {"__name__": "hidden"})
        return True
    except (Exception, SystemExit):  # noqa: BLE001 (a failed check, or the callable did not even fit)
        return False


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_callable_of_the_package_passes_an_exercise(path, tmp_path):
    nb = nbformat.read(str(path), as_version=4)
    base = reference_namespace(nb, tmp_path)
    asked = exercises(nb)
    assert asked, "the notebook asks for functions"
    candidates = package_callables()
    passed = []
    for name, tests in asked.items():
        for grade_id, hidden in tests[:1]:  # the first test cell of the exercise: enough to fail
            assert passes(base, hidden), f"the reference fails {grade_id}: the check itself is broken"
            for qualified, candidate in candidates.items():
                if passes({**base, name: candidate}, hidden):
                    passed.append((name, qualified, grade_id))
    assert not passed, f"the student package answers exercises: {passed}"


def test_the_package_holds_no_grader_and_needs_only_numpy_and_sympy():
    root = Path(course.__file__).parent
    for path in root.glob("*.py"):
        tree = ast.parse(path.read_text())
        imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                    for alias in node.names}
        imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                     if isinstance(node, ast.ImportFrom) and node.module and not node.level}
        extra = imported - set(sys.stdlib_module_names) - {"numpy", "sympy", "course", "IPython", "nbformat", "nbclient"}
        assert not extra, f"{path.name} imports {extra}"
        assert "grader" not in imported, path.name
    # IPython (hint records in a notebook) and nbformat/nbclient (course.validate) are optional:
    code = ("import sys; sys.modules['IPython'] = None; sys.modules['nbclient'] = None; "
            "import course; print(sorted(m for m in sys.modules if m.split('.')[0] in ('grader', 'nbgrader')))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0 and run.stdout.strip() == "[]", run.stdout + run.stderr


def test_the_package_builds_as_a_wheel_of_its_own(tmp_path):
    run = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path),
                          str(REPO / "student")], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    wheel = next(tmp_path.glob("backprop_checks-*.whl"))
    import zipfile
    names = zipfile.ZipFile(wheel).namelist()
    assert all(n.startswith(("course/", "backprop_checks-")) for n in names), names
    assert "course/values.py" in names and not any("grader" in n or n.endswith(".ipynb") for n in names)
