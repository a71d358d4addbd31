"""Part C (conceptual) graded by the real nbgrader, and its hand-graded answers.

One temporary course, one autograde of six simulated students:
- ref:    the reference solution (full autograded marks; every free-text answer flagged for a person);
- alt:    other correct forms (loops, np.int64 / float returns, letters as a lower-case list, ...);
- blank:  the student version untouched (0 everywhere, nothing flagged: nbgrader scores an
          untouched answer cell 0 itself);
- wrong1, wrong2, wrong3: the named mistakes, one per exercise per student (exercises are
          independent, so each student carries one mistake of every exercise).
"""
import re

import pytest

from conftest import ASSIGNMENT, RELEASE, SOURCE, cell_outputs_text
from grader.authoring import submissions
from grader.reports import manual_grading
from course.hints import describe

NB = "C_conceptual.ipynb"
STEM = "C_conceptual"

AUTOGRADED = {  # grade_id: points
    "c1_forward": 1, "c1_reverse": 1,
    "c2_batch_normalize": 2, "c2_mean_sigmoid_grad": 1, "c2_effect": 1,
    "c3_statements": 2,
    "c4_gaussian_nll": 1, "c4_kl_divergence": 1, "c4_cross_entropy": 1, "c4_identity": 1,
}
WRITTEN = {"c1_written": 3, "c2_written": 3, "c3_written": 4, "c4_written": 3}
MARK_SCHEME = re.compile(r"^#### === BEGIN MARK SCHEME ===$.*?^#### === END MARK SCHEME ===$", re.S | re.M)


# ---------------------------------------------------------------- simulated students' code
def _fn(signature, body):
    return f"def {signature}:\n" + "\n".join("    " + line for line in body.strip().splitlines())


WRONG = {
    "wrong1": {
        "c1_forward_answer": _fn("forward_mode_passes(n_inputs, n_outputs)", "return n_outputs"),
        "c1_reverse_answer": _fn("reverse_mode_passes(n_inputs, n_outputs)", "return n_inputs"),
        "c2_batch_normalize_answer": _fn("batch_normalize(Z, eps=1e-5)", """
mu = Z.mean(axis=0, keepdims=True)
return (Z - mu) / np.sqrt(Z.var(axis=0, keepdims=True) + eps)"""),
        "c2_mean_sigmoid_grad_answer": _fn("mean_sigmoid_grad(Z)", """
s = 1 / (1 + np.exp(-np.clip(Z, -500, 500)))
return float(np.mean(s))"""),
        "c3_answer": 'C3_true_statements = "BCE"',
        "c4_gaussian_nll_answer": _fn("gaussian_nll(y, yhat, sigma=1.0)",
                                      "return float(np.mean((y - yhat) ** 2 / (2 * sigma**2)))"),
        "c4_kl_answer": _fn("kl_divergence(p, q)", """
m = q > 0
return float(np.sum(q[m] * np.log(q[m] / p[m])))"""),
        "c4_cross_entropy_answer": _fn("cross_entropy(p, q)", "return float(-np.sum(q * np.log(p)))"),
    },
    "wrong2": {
        "c1_forward_answer": _fn("forward_mode_passes(n_inputs, n_outputs)", "return 1"),
        "c1_reverse_answer": _fn("reverse_mode_passes(n_inputs, n_outputs)", "return 1"),
        "c2_batch_normalize_answer": _fn("batch_normalize(Z, eps=1e-5)",
                                         "return (Z - Z.mean()) / np.sqrt(Z.var() + eps)"),
        "c2_mean_sigmoid_grad_answer": _fn("mean_sigmoid_grad(Z)", """
s = 1 / (1 + np.exp(-np.clip(Z, -500, 500)))
return float(np.sum(s * (1 - s)))"""),
        "c3_answer": 'C3_true_statements = "ABCEFH"',
        "c4_gaussian_nll_answer": _fn("gaussian_nll(y, yhat, sigma=1.0)",
                                      "return float(np.sum(0.5 * np.log(2 * np.pi * sigma**2) + (y - yhat) ** 2 / (2 * sigma**2)))"),
        "c4_kl_answer": _fn("kl_divergence(p, q)", "return float(np.sum(p * np.log(p / q)))"),
        "c4_cross_entropy_answer": _fn("cross_entropy(p, q)", """
m = p > 0
return float(-np.sum(p[m] * np.log2(q[m])))"""),
    },
    "wrong3": {
        "c2_batch_normalize_answer": _fn("batch_normalize(Z, eps=1e-5)", """
Z -= Z.mean(axis=1, keepdims=True)
Z /= np.sqrt(Z.var(axis=1, keepdims=True) + eps)
return Z"""),
        "c2_mean_sigmoid_grad_answer": _fn("mean_sigmoid_grad(Z)", """
s = 1 / (1 + np.exp(-Z))
return float(np.mean(s * (1 - s)))"""),
        "c3_answer": 'C3_true_statements = "BCDEFH"',
        "c4_gaussian_nll_answer": _fn("gaussian_nll(y, yhat, sigma=1.0)",
                                      "return float(np.mean(0.5 * np.log(2 * np.pi * sigma) + (y - yhat) ** 2 / (2 * sigma)))"),
        "c4_kl_answer": _fn("kl_divergence(p, q)", """
m = p > 0
return float(np.sum(p[m] * np.log(q[m] / p[m])))"""),
        "c4_cross_entropy_answer": _fn("cross_entropy(p, q)", """
m = p > 0
return float(np.sum(p[m] * np.log(q[m])))"""),
    },
}

# Other correct forms, which must earn full marks.
ALT = {
    "c1_forward_answer": _fn("forward_mode_passes(n_inputs, n_outputs)", "return n_inputs * 1.0"),
    "c1_reverse_answer": _fn("reverse_mode_passes(n_inputs, n_outputs)", "return np.int64(n_outputs)"),
    "c2_batch_normalize_answer": _fn("batch_normalize(Z, eps=1e-5)", """
out = np.zeros(np.shape(Z))
for i, row in enumerate(np.asarray(Z, dtype=float)):
    mu = sum(row) / len(row)
    var = sum((x - mu) ** 2 for x in row) / len(row)
    out[i] = (row - mu) / (np.sqrt(var) + eps)   # eps outside the root: also accepted
return out"""),
    "c2_mean_sigmoid_grad_answer": _fn("mean_sigmoid_grad(Z)", """
e = np.exp(-np.abs(np.asarray(Z, dtype=float)))
return (e / (1 + e) ** 2).mean()"""),
    "c3_answer": 'C3_true_statements = ["h", "f", "E", "c", "b"]',
    "c4_gaussian_nll_answer": _fn("gaussian_nll(y, yhat, sigma=1.0)", """
var = sigma * sigma
r = np.ravel(np.asarray(y, dtype=float) - np.asarray(yhat, dtype=float))
return np.average(np.log(2 * np.pi * var) / 2 + r * r / (2 * var))"""),
    "c4_kl_answer": _fn("kl_divergence(p, q)", """
import math
total = 0.0
for pk, qk in zip(p, q):
    if pk > 0:
        total += pk * math.log(pk / qk)
return total"""),
    "c4_cross_entropy_answer": _fn("cross_entropy(p, q)", """
p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
return -np.sum(np.where(p > 0, p * np.log(np.where(p > 0, q, 1.0)), 0.0))"""),
}

# (student, test cell) -> mistake kind whose hint must show; None: lost through an earlier mistake.
EXPECTED_FAILURES = {
    "wrong1": {
        "c1_forward": "swapped_modes", "c1_reverse": "swapped_modes",
        "c2_batch_normalize": "wrong_normalisation_axis", "c2_mean_sigmoid_grad": "sigma_for_sigma_prime",
        "c2_effect": None,
        "c3_statements": "missed_true_statement",
        "c4_gaussian_nll": "missing_constant", "c4_kl_divergence": "kl_direction",
        "c4_cross_entropy": "swapped_arguments", "c4_identity": None,
    },
    "wrong2": {
        "c1_forward": "constant_passes", "c1_reverse": "constant_passes",
        "c2_batch_normalize": "whole_batch_normalised", "c2_mean_sigmoid_grad": "sum_not_mean",
        "c2_effect": None,
        "c3_statements": "gradient_is_approximate",
        "c4_gaussian_nll": "sum_not_mean", "c4_kl_divergence": "zero_log_zero",
        "c4_cross_entropy": "log_base", "c4_identity": None,
    },
    "wrong3": {
        "c2_batch_normalize": "mutates_input", "c2_mean_sigmoid_grad": "unstable",
        "c3_statements": "picked_false_statement",
        "c4_gaussian_nll": "sigma_not_variance", "c4_kl_divergence": "sign_error",
        "c4_cross_entropy": "sign_error", "c4_identity": None,
    },
}
MISTAKES = [(student, gid, kind) for student, cells in EXPECTED_FAILURES.items()
            for gid, kind in cells.items() if kind is not None]


def _cells_with(nb, text):
    return [cell for cell in nb.cells if text in cell.source]


# ---------------------------------------------------------------- quick structural checks (no nbgrader run)
@pytest.fixture(scope="module")
def source_nb():
    return submissions.read(SOURCE / NB)


def test_every_question_has_a_hand_graded_answer_and_a_mark_scheme(source_nb):
    meta = {submissions.grade_id(c): c.metadata.get("nbgrader", {}) for c in source_nb.cells}
    for gid, points in WRITTEN.items():
        cell = next(c for c in source_nb.cells if submissions.grade_id(c) == gid)
        assert cell.cell_type == "markdown", gid
        assert meta[gid]["grade"] and meta[gid]["solution"] and meta[gid]["points"] == points, gid
    for gid, points in AUTOGRADED.items():
        assert meta[gid]["grade"] and meta[gid]["locked"] and meta[gid]["points"] == points, gid
        cell = next(c for c in source_nb.cells if submissions.grade_id(c) == gid)
        assert "### BEGIN HIDDEN TESTS" in cell.source, gid
    # Each mark scheme sits in a LOCKED markdown cell with a grade_id: nbgrader keeps its full text in
    # the gradebook and puts it back at autograde, so graders see it (see the round trip below).
    holders = _cells_with(source_nb, "BEGIN MARK SCHEME")
    assert [submissions.grade_id(c) for c in holders] == ["c1_prompt", "c2_prompt", "c3_prompt", "c4_prompt"]
    for cell in holders:
        assert cell.cell_type == "markdown" and meta[submissions.grade_id(cell)]["locked"]
        assert not meta[submissions.grade_id(cell)].get("grade"), "a mark scheme cell must not carry points"
        assert len(MARK_SCHEME.findall(cell.source)) == 1
        assert "Loses marks" in cell.source  # the misconceptions graders look for


def test_source_notebook_is_output_free(source_nb):
    assert source_nb.nbformat == 4 and source_nb.nbformat_minor == 5
    assert all(not c.get("outputs") for c in source_nb.cells if c.cell_type == "code")


# ---------------------------------------------------------------- the round trip through nbgrader
@pytest.fixture(scope="module")
def course(make_course):
    course = make_course([NB])
    release = course.release_nb(NB)
    course.submit("ref", {NB: course.reference(NB)})
    course.submit("alt", {NB: course.reference(NB, ALT)})
    course.submit("blank", {NB: release})
    for student, changes in WRONG.items():
        course.submit(student, {NB: course.reference(NB, changes)})
    course.autograde()
    return course


def _score(course, student, gid):
    return course.scores[student][STEM][gid]


@pytest.mark.slow
@pytest.mark.parametrize("student", ["ref", "alt"])
def test_correct_forms_get_full_autograded_marks(course, student):
    assert course.status[student]["status"] == "graded"
    for gid, points in AUTOGRADED.items():
        assert _score(course, student, gid) == (points, points), (student, gid, cell_outputs_text(
            course.autograded_nb(student, NB), gid))


@pytest.mark.slow
def test_blank_gets_zero_everywhere(course):
    assert course.status["blank"]["status"] == "graded"
    for gid, points in {**AUTOGRADED, **WRITTEN}.items():
        assert _score(course, "blank", gid) == (0, points), gid


@pytest.mark.slow
def test_free_text_answers_wait_for_a_grader(course):
    flagged = manual_grading.needs_manual_grading(manual_grading.db_url(course.root), ASSIGNMENT)
    for student in ["ref", "alt", "wrong1", "wrong2", "wrong3"]:
        assert sorted(g for s, n, g in flagged if s == student and n == STEM) == sorted(WRITTEN), student
    # An untouched "YOUR ANSWER HERE" is scored 0 by nbgrader and not put in front of a grader.
    assert not [f for f in flagged if f[0] == "blank"]
    # No autograded cell needs a person.
    assert not [f for f in flagged if f[2] in AUTOGRADED]
    assert manual_grading.manual_cells(manual_grading.db_url(course.root), ASSIGNMENT) == {
        STEM: {gid: float(points) for gid, points in WRITTEN.items()}}


@pytest.mark.slow
@pytest.mark.parametrize("student", sorted(EXPECTED_FAILURES))
def test_each_mistake_loses_exactly_its_points(course, student):
    assert course.status[student]["status"] == "graded"
    for gid, points in AUTOGRADED.items():
        expected = 0 if gid in EXPECTED_FAILURES[student] else points
        assert _score(course, student, gid) == (expected, points), (student, gid)


@pytest.mark.slow
@pytest.mark.parametrize("student,grade_id,kind", MISTAKES)
def test_each_mistake_shows_its_hint(course, student, grade_id, kind):
    text = cell_outputs_text(course.autograded_nb(student, NB), grade_id)
    assert describe(kind) in text, (student, grade_id, kind, text[-600:])


@pytest.mark.slow
def test_mark_schemes_absent_from_the_release(course):
    source = course.source_nb(NB)
    schemes = [m for cell in source.cells for m in MARK_SCHEME.findall(cell.source)]
    assert len(schemes) == 4
    releases = [course.release_nb(NB)]
    if (RELEASE / NB).exists():  # the committed student version, when it has been generated
        releases.append(submissions.read(RELEASE / NB))
    for release in releases:
        text = "\n".join(cell.source for cell in release.cells)
        assert "MARK SCHEME" not in text and "Loses marks" not in text and "For graders only" not in text
        for scheme in schemes:  # no line of any mark scheme survives (longer lines only: not "1." etc.)
            for line in scheme.splitlines():
                if len(line.strip()) > 25:
                    assert line.strip() not in text, line
        # nor the model answers of the written questions, nor the hidden tests
        for gid in WRITTEN:
            cell = next(c for c in release.cells if submissions.grade_id(c) == gid)
            assert cell.source.strip() == "YOUR ANSWER HERE", gid
        assert "BEGIN HIDDEN TESTS" not in text and 'set("BCEFH")' not in text


@pytest.mark.slow
@pytest.mark.parametrize("student", ["ref", "wrong1", "blank"])
def test_graders_see_the_mark_schemes(course, student):
    """The formgrader renders the autograded notebook: each mark scheme is back, above its answer."""
    source = {submissions.grade_id(c): c.source for c in course.source_nb(NB).cells}
    graded = course.autograded_nb(student, NB)
    order = [submissions.grade_id(c) for c in graded.cells]
    for n in range(1, 5):
        prompt = next(c for c in graded.cells if submissions.grade_id(c) == f"c{n}_prompt")
        assert MARK_SCHEME.findall(prompt.source) == MARK_SCHEME.findall(source[f"c{n}_prompt"])
        assert order.index(f"c{n}_prompt") < order.index(f"c{n}_written")


@pytest.mark.slow
def test_manual_scores_count_in_the_totals(course):
    """A score set through course.manual_grading lands in the gradebook, like the formgrader's."""
    from nbgrader.api import Gradebook

    url = manual_grading.db_url(course.root)
    student = "wrong3"  # other tests read ref's and blank's flags: grade someone else
    with Gradebook(url) as gb:
        before = gb.find_submission_notebook(STEM, ASSIGNMENT, student).score
    manual_grading.set_manual_score(url, ASSIGNMENT, student, STEM, "c1_written", 2.5, comment="Rows and columns: good.")
    manual_grading.set_manual_scores(url, ASSIGNMENT, {(student, STEM, "c2_written"): 3,
                                                       (student, STEM, "c3_written"): (1, "Only one reason explained.")})
    assert manual_grading.manual_grade(url, ASSIGNMENT, student, STEM, "c1_written") == (2.5, 3.0, "Rows and columns: good.")
    assert manual_grading.manual_grade(url, ASSIGNMENT, student, STEM, "c3_written") == (1.0, 4.0, "Only one reason explained.")
    with Gradebook(url) as gb:
        notebook = gb.find_submission_notebook(STEM, ASSIGNMENT, student)
        assert notebook.score == pytest.approx(before + 6.5)
        assert gb.find_submission(ASSIGNMENT, student).score == pytest.approx(before + 6.5)
    remaining = manual_grading.needs_manual_grading(url, ASSIGNMENT)
    assert [g for s, n, g in remaining if s == student] == ["c4_written"]
    with pytest.raises(ValueError):
        manual_grading.set_manual_score(url, ASSIGNMENT, student, STEM, "c4_written", 4.5)  # max is 4
    with pytest.raises(KeyError):
        manual_grading.set_manual_score(url, ASSIGNMENT, student, STEM, "no_such_cell", 1)
    with pytest.raises(ValueError):  # nothing of a bad batch is written
        manual_grading.set_manual_scores(url, ASSIGNMENT, {(student, STEM, "c1_written"): 1,
                                                           (student, STEM, "c4_written"): 9})
    assert manual_grading.manual_grade(url, ASSIGNMENT, student, STEM, "c1_written")[0] == 2.5
    assert manual_grading.manual_grade(url, ASSIGNMENT, student, STEM, "c4_written")[0] is None
