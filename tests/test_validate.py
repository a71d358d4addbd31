"""`make validate NB=...` (course.validate) exits non-zero exactly when a student has work left."""
import subprocess
import sys

import nbformat
import pytest

from conftest import RELEASE, SOURCE
from grader.authoring import submissions

pytestmark = pytest.mark.slow


def validate(path):
    return subprocess.run([sys.executable, "-m", "course.validate", str(path)],
                          capture_output=True, text=True, timeout=300)


def test_blank_release_fails_and_says_what_is_unanswered(tmp_path):
    run = validate(RELEASE / "A_theory.ipynb")
    assert run.returncode == 1
    assert "a1_composition_answer: not answered yet" in run.stdout


def test_reference_passes(tmp_path):
    nb = submissions.reference(submissions.read(RELEASE / "A_theory.ipynb"), submissions.read(SOURCE / "A_theory.ipynb"))
    nbformat.write(nb, str(tmp_path / "A_theory.ipynb"))
    run = validate(tmp_path / "A_theory.ipynb")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "every visible test passes" in run.stdout


def test_a_wrong_answer_that_fails_a_visible_test_fails(tmp_path):
    release, source = submissions.read(RELEASE / "A_theory.ipynb"), submissions.read(SOURCE / "A_theory.ipynb")
    nb = submissions.reference(release, source, {"a1_composition_answer": "inner = x**2\nouter = sp.sin(u)"})
    nbformat.write(nb, str(tmp_path / "A_theory.ipynb"))
    run = validate(tmp_path / "A_theory.ipynb")
    assert run.returncode == 1
    assert "a1_composition" in run.stdout
