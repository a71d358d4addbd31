"""Sealed feedback: what a student receives shows their work and scores, never a hidden test.

A class of three students is graded on all three notebooks (the reference,
the blank release, and a student with wrong answers everywhere, so that every
hidden test fails somewhere), then `python -m grader.reports.feedback` writes the
feedback. Every generated HTML file is grepped for every line of every hidden
test and every mark scheme of every source notebook (lines that the student
version shows anyway are not secrets); none may appear. The feedback must
still show the student's own code, each graded cell's score, the message of a
failed check with its hint, and "# hidden tests ran here" where tests ran.
"""
import base64
import codecs
import html
import subprocess
import sys

import pytest

from conftest import ASSIGNMENT
from grader.driver.commands import environment
from grader.paths import Course
from grader.reports import feedback, leaks

pytestmark = pytest.mark.slow

NOTEBOOKS = ["A_theory.ipynb", "B_coding.ipynb", "C_conceptual.ipynb"]

# "wrong": every solution cell keeps the reference but a few values are broken, so that
# hidden tests fail with CheckFailed messages (and their hints) in each part.
WRONG = {
    "A_theory.ipynb": {
        "a1_derivative_answer": "df_dx = sp.cos(x**2 + 3*x)",
        "a1_values_answer": "df_dx_at_1 = float(np.cos(4.0))\ndf_dx_numeric_at_1 = 0.0",
        "a2_sigma_prime_answer": "sigma_prime = sigmoid(z)\nsigma_prime_at_10 = 1.0",
        "a4_symbolic_answer": "dL_dz_i = y_i - yhat_i",
        "a6_answer": "sigmoid_prime_max = 0.5\n\ndef vanishing_bound(L):\n    return 0.5 ** L\n\nbound_L50 = 0.5 ** 50",
    },
    "B_coding.ipynb": {
        "b1_relerr_answer": "def relative_error(a, b):\n    import numpy as np\n    a, b = np.asarray(a, float), np.asarray(b, float)\n"
                            "    return float(np.mean(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), 1e-12)))",
        "b1_numerical_answer": "def numerical_derivative(f, x, eps=1e-5):\n    return (f(x + eps) - f(x)) / eps",
    },
    "C_conceptual.ipynb": {
        "c1_forward_answer": "def forward_mode_passes(n_inputs, n_outputs):\n    return n_outputs",
        "c3_answer": 'C3_true_statements = "A"',
    },
}


def run_feedback(root):
    return subprocess.run([sys.executable, "-m", "grader.reports.feedback", ASSIGNMENT], cwd=root,
                          env=environment(), capture_output=True, text=True)


@pytest.fixture(scope="module")
def graded(make_course):
    course = make_course(NOTEBOOKS)
    course.submit("ref", {name: course.reference(name) for name in NOTEBOOKS})
    course.submit("blank", {name: course.release_nb(name) for name in NOTEBOOKS})
    course.submit("wrong", {name: course.reference(name, WRONG[name]) for name in NOTEBOOKS})
    course.autograde()
    run = run_feedback(course.root)
    files = sorted((course.root / "feedback").glob(f"*/{ASSIGNMENT}/*.html"))
    return course, run, files


def test_feedback_is_written_for_every_student_and_notebook(graded):
    course, run, files = graded
    assert run.returncode == 0, run.stdout + run.stderr
    assert {(p.parent.parent.name, p.name) for p in files} == {
        (student, name.replace(".ipynb", ".html")) for student in ("ref", "blank", "wrong") for name in NOTEBOOKS}
    for path in files:
        assert f"feedback/{path.parent.parent.name}/{ASSIGNMENT}/{path.name}" in run.stdout


def test_no_hidden_test_or_mark_scheme_line_in_any_feedback(graded):
    course, _, files = graded
    secrets = leaks.secret_lines(Course(course.root), ASSIGNMENT)
    kinds = {where.rsplit("(", 1)[1] for where in secrets.values()}
    assert len(secrets) > 100 and kinds == {"hidden test)", "mark scheme)"}, (len(secrets), kinds)
    for path in files:
        # the text a reader sees, line by line; the student's own submitted lines are theirs
        # the page's text, line by line, without the lines the student submitted (theirs); a
        # secret line shows as a line of its own (code, or "----> 5 <line>" in a traceback) or,
        # if long enough not to be a coincidence, inside a longer line
        mine = feedback.own_lines(Course(course.root), ASSIGNMENT, path.parent.parent.name, path.stem)
        shown = set()
        for line in leaks.visible_lines(path.read_text(encoding="utf-8")):
            bare = leaks.TRACEBACK_PREFIX.sub("", line)
            if line and line not in mine and bare not in mine:
                shown.update((line, bare))
        text = "\n".join(shown)
        found = [(line, secrets[line]) for line in secrets if line not in mine
                 and (line in shown or (len(line) >= leaks.MIN_EMBEDDED_LENGTH and line in text))]
        assert not found, f"{path.relative_to(course.root)} shows {len(found)} secret lines, e.g. {found[:3]}"


def test_feedback_shows_scores_messages_and_own_code(graded):
    course, _, files = graded
    by_name = {(p.parent.parent.name, p.stem): " ".join(leaks.visible_lines(p.read_text(encoding="utf-8")))
               for p in files}
    wrong_a = by_name[("wrong", "A_theory")]
    assert "df_dx = sp.cos(x**2 + 3*x)" in wrong_a  # the student's own code
    assert "# hidden tests ran here" in wrong_a
    assert "Score: 0.0 / 1.0" in wrong_a or "Score: 0 / 1" in wrong_a  # a1_df_dx (1 point) lost its points
    assert "The chain rule is only half applied" in wrong_a  # the hint of the failed check
    assert "Traceback" not in wrong_a and "----&gt;" not in wrong_a and "---->" not in wrong_a
    blank_b = by_name[("blank", "B_coding")]
    assert "NotImplementedError" in blank_b
    ref_c = by_name[("ref", "C_conceptual")]
    assert "MARK SCHEME" not in ref_c.upper()


def test_sealing_is_part_of_nbgrader_generate_feedback(graded):
    """The formgrader's own button (plain `nbgrader generate_feedback`) seals too."""
    course, _, _ = graded
    run = subprocess.run([sys.executable, "-m", "nbgrader", "generate_feedback", ASSIGNMENT, "--force",
                          "--student", "wrong"], cwd=course.root, env=environment(), capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    secrets = leaks.secret_lines(Course(course.root), ASSIGNMENT)
    for path in sorted((course.root / "feedback" / "wrong").rglob("*.html")):
        assert not feedback.check_file(Course(course.root), ASSIGNMENT, path, secrets), path


def test_a_leaking_file_is_detected(graded):
    """The safety net: a feedback file that shows a secret line is found (and withheld by the CLI)."""
    course, _, _ = graded
    secrets = leaks.secret_lines(Course(course.root), ASSIGNMENT)
    line = max(secrets, key=len)
    target = course.root / "feedback" / "ref" / ASSIGNMENT / "A_theory.html"
    original = target.read_text(encoding="utf-8")
    encodings = {"plain": line, "base64": base64.b64encode(line.encode()).decode(),
                 "urlsafe base64": base64.urlsafe_b64encode(line.encode()).decode().rstrip("="),
                 "hex": line.encode().hex(), "rot13": codecs.encode(line, "rot13"), "reversed": line[::-1],
                 "inside a longer printed line": f"my notes: {line} (found it)"}
    try:
        for name, shown in encodings.items():
            target.write_text(original.replace("</body>", f"<pre>{html.escape(shown)}</pre></body>"), encoding="utf-8")
            found = feedback.check_file(Course(course.root), ASSIGNMENT, target, secrets)
            assert line in [secret for secret, _ in found], (name, found)
    finally:
        target.write_text(original, encoding="utf-8")


def test_snippets_the_grader_sent_to_a_kernel_count_as_secrets(graded):
    """Text the kernel saw (a snippet of B's hidden tests) is withheld if the student prints it."""
    course, _, _ = graded
    sent = feedback.sent_lines(Course(course.root), ASSIGNMENT, "ref", "B_coding")
    assert sent, "B's hidden tests send snippets (Tensor graphs) to the kernel"
    line = max(sent, key=len)
    target = course.root / "feedback" / "ref" / ASSIGNMENT / "B_coding.html"
    original = target.read_text(encoding="utf-8")
    try:
        target.write_text(original.replace("</body>", f"<pre>{base64.b64encode(line.encode()).decode()}</pre></body>"),
                          encoding="utf-8")
        found = feedback.check_file(Course(course.root), ASSIGNMENT, target, {})
        assert line in [secret for secret, _ in found], found
    finally:
        target.write_text(original, encoding="utf-8")


def test_feedback_formulas_are_typeset_without_internet(graded):
    """Each formula of the prompts is MathML in the page (a browser draws it offline), none is raw LaTeX."""
    from grader.plugins.mathml import PIECES
    course, _, files = graded
    for path in files:
        release = course.release_nb(path.stem + ".ipynb")
        formulas = sum(1 for cell in release.cells if cell.cell_type == "markdown"
                       for match in PIECES.finditer(cell.source) if match.group("block") or match.group("inline"))
        page = path.read_text(encoding="utf-8")
        assert formulas > 10 and page.count("<math ") >= formulas, (path.name, formulas, page.count("<math "))
        shown = "\n".join(leaks.visible_lines(page))
        assert "$$" not in shown and "\\frac" not in shown and "\\partial" not in shown, path.name
