"""Part A (theory) graded by the real nbgrader: reference, blank and common mistakes.

Each simulated student below carries one common mistake of EVERY exercise
(A1..A7 are independent, so the mistakes do not interfere), written as a
replacement for solution cells. For each student the test names every graded
cell that must lose its points and the hint kind it must show; all other cells
must keep full marks, so a mistake costs exactly what it should.
"""
import json

import pytest

from conftest import cell_outputs_text
from grader.authoring import submissions
from course.hints import HINT_MIME, describe

NB = "A_theory.ipynb"
STEM = "A_theory"
pytestmark = pytest.mark.slow

# ---------------------------------------------------------------- the mistakes
# Solution cells are replaced whole, so each replacement defines everything its cell defines.

SOFTMAX_JACOBIAN_UNSTABLE = '''def softmax_jacobian(z):
    s = np.exp(z) / np.sum(np.exp(z))
    return np.diag(s) - np.outer(s, s)'''

SOFTMAX_JACOBIAN_DIAGONAL_ONLY = '''def softmax_jacobian(z):
    e = np.exp(z - np.max(z))
    s = e / e.sum()
    return np.diag(s * (1 - s))'''

CE_GRAD_SIGN = '''def ce_softmax_grad(z, y):
    e = np.exp(z - np.max(z))
    return y - e / e.sum()'''

CE_GRAD_UNSTABLE = '''def ce_softmax_grad(z, y):
    return np.exp(z) / np.sum(np.exp(z)) - y'''

CE_GRAD_MUTATES = '''def ce_softmax_grad(z, y):
    z -= np.max(z)
    e = np.exp(z)
    return e / e.sum() - y'''

A6_OFF_BY_ONE = '''sigmoid_prime_max = 0.25


def vanishing_bound(L):
    return 0.25 ** L


bound_L50 = vanishing_bound(50)'''

A6_SIGMA_MAX = '''sigmoid_prime_max = 0.5


def vanishing_bound(L):
    return 0.25 ** (L - 1)


bound_L50 = vanishing_bound(50)'''

A6_WRONG_MAX = '''sigmoid_prime_max = 1.0


def vanishing_bound(L):
    return 0.25 ** (L - 1)


bound_L50 = vanishing_bound(50)'''

SOFTMAX_JACOBIAN_LOOPS = '''def softmax_jacobian(z):
    top = max(z)
    e = [np.exp(v - top) for v in z]
    s = [v / sum(e) for v in e]
    return [[s[k] * ((1.0 if k == i else 0.0) - s[i]) for i in range(len(s))] for k in range(len(s))]'''

CE_GRAD_LOG_SOFTMAX = '''def ce_softmax_grad(z, y):
    shifted = np.array(z, dtype=float) - np.max(z)
    log_softmax = shifted - np.log(np.sum(np.exp(shifted)))
    return np.exp(log_softmax) - y'''

A6_SYMPY = '''sigmoid_prime_max = float(sp.Rational(1, 4))


def vanishing_bound(L):
    return sp.Rational(1, 4) ** (L - 1)


bound_L50 = float(vanishing_bound(50))'''

STUDENTS = {
    # student: ({solution grade_id: code}, {test grade_id: hint kind that must show})
    "wrong1": (
        {
            "a1_derivative_answer": "df_dx = sp.cos(x**2 + 3*x)",
            "a2_gradients_answer": "a = sigmoid(w*x + b)\n"
                                   "dL_dw = 2 * (a - y) * a * (1 - a)\n"
                                   "dL_db = 2 * (a - y) * a * (1 - a)",
            "a3_symbolic_answer": "dyk_dzk = -yhat_k * yhat_i\ndyk_dzi = yhat_k * (1 - yhat_k)",
            "a4_symbolic_answer": "dL_dz_i = y_i - yhat_i",
            "a4_grad_answer": CE_GRAD_SIGN,
            "a5_answer": "def backprop_delta(W_next, delta_next, z):\n"
                         "    return (W_next @ delta_next) * (z > 0)",
            "a6_answer": A6_OFF_BY_ONE,
            "a7_entropy_answer": "binary_entropy = -p * sp.log(p, 2) - (1 - p) * sp.log(1 - p, 2)",
        },
        {
            "a1_df_dx": "missing_inner_derivative",
            "a1_df_dx_at_1": "missing_inner_derivative",   # computed from the wrong df_dx
            "a2_dL_dw": "missing_chain_factor",
            "a3_dyk_dzk": "same_index_for_different",
            "a3_dyk_dzi": "same_index_for_different",
            "a4_dL_dz_i": "sign_error",
            "a4_ce_softmax_grad": "sign_error",
            "a4_large_logits": "sign_error",
            "a5_backprop_delta": "missing_transpose",
            "a5_relu_at_zero": None,                        # W_next @ delta_next fails on its 2x3 W_next
            "a6_vanishing_bound": "off_by_one_layers",
            "a6_bound_L50": "off_by_one_layers",
            "a7_binary_entropy": "log_base",
            "a7_max_entropy": "log_base",                   # H(1/2) in bits
        },
    ),
    "wrong2": (
        {
            "a1_derivative_answer": "df_dx = -sp.cos(x**2 + 3*x) * (2*x + 3)",
            "a1_values_answer": "df_dx_at_1 = float(df_dx.subs(x, 1))\n"
                                "f_num = sp.lambdify(x, f)\n"
                                "df_dx_numeric_at_1 = float((f_num(1 + 1e-3) - f_num(1)) / 1e-3)",
            "a2_gradients_answer": "a = sigmoid(w*x + b)\n"
                                   "dL_dw = (a - y) * a * (1 - a) * x\n"
                                   "dL_db = (a - y) * a * (1 - a)",
            "a3_jacobian_answer": SOFTMAX_JACOBIAN_UNSTABLE,
            "a4_grad_answer": CE_GRAD_UNSTABLE,
            "a5_answer": "def backprop_delta(W_next, delta_next, z):\n"
                         "    return W_next.T @ delta_next",
            "a6_answer": A6_SIGMA_MAX,
            "a7_maxima_answer": "p_max_sigma_prime = sp.Rational(1, 4)\n"
                                "p_max_entropy = sp.Rational(1, 2)\n"
                                "max_entropy = 0.6931471805599453",
        },
        {
            "a1_df_dx": "sign_error",
            "a1_df_dx_at_1": "sign_error",
            "a1_df_dx_numeric": "forward_difference",
            "a2_dL_dw": "factor_of_two",
            "a2_dL_db": "factor_of_two",
            "a3_jacobian_large_logits": "unstable",
            "a4_large_logits": "unstable",
            "a5_backprop_delta": "missing_mask",
            "a5_relu_at_zero": "missing_mask",
            "a6_sigmoid_prime_max": "function_for_derivative",
            "a7_p_max_sigma_prime": "wrong_maximum",
            "a7_max_entropy": "float_for_exact",
        },
    ),
    "wrong3": (
        {
            "a1_composition_answer": "inner = sp.sin(x)\nouter = u**2 + 3*u",
            "a1_values_answer": "df_dx_at_1 = float(df_dx.subs(x, 1))\n"
                                "f_num = sp.lambdify(x, f)\n"
                                "h = 1e-5\n"
                                "df_dx_numeric_at_1 = float((f_num(1 + h) - f_num(1 - h)) / (2 * h))",
            "a2_gradients_answer": "a = sigmoid(w*x + b)\n"
                                   "dL_dw = 2 * (a - y) * a * x\n"
                                   "dL_db = 2 * (a - y) * a",
            "a2_sigma_prime_answer": "sigma_prime = sigmoid(z)\n"
                                     "sigma_prime_at_10 = float(sigma_prime.subs(z, 10))",
            "a3_symbolic_answer": "dyk_dzk = yhat_k * (yhat_k - 1)\ndyk_dzi = -yhat_k * yhat_i",
            "a3_jacobian_answer": SOFTMAX_JACOBIAN_DIAGONAL_ONLY,
            "a4_symbolic_answer": "dL_dz_i = -y_i / yhat_i",
            "a4_grad_answer": CE_GRAD_MUTATES,
            "a5_answer": "def backprop_delta(W_next, delta_next, z):\n"
                         "    return (W_next.T @ delta_next) * (z >= 0)",
            "a6_answer": A6_WRONG_MAX,
            "a7_entropy_answer": "binary_entropy = p * sp.log(p) + (1 - p) * sp.log(1 - p)",
            "a7_maxima_answer": "p_max_sigma_prime = 0\n"
                                "p_max_entropy = 0.5\n"
                                "max_entropy = sp.log(2)",
        },
        {
            "a1_composition": "swapped_composition",
            "a1_df_dx_numeric": "wrong_step",
            "a2_dL_dw": "sigma_for_sigma_prime",
            "a2_dL_db": "sigma_for_sigma_prime",
            "a2_sigma_prime": "sigma_for_sigma_prime",
            "a2_sigma_prime_at_10": "sigma_for_sigma_prime",
            "a3_dyk_dzk": "sign_error",
            "a3_softmax_jacobian": "missing_off_diagonal",
            "a3_jacobian_large_logits": "missing_off_diagonal",
            "a4_dL_dz_i": "missing_chain_factor",
            "a4_ce_softmax_grad": "mutates_input",
            "a5_relu_at_zero": "wrong_mask",
            "a6_sigmoid_prime_max": "wrong_maximum",
            "a7_binary_entropy": "sign_error",
            "a7_p_max_sigma_prime": "z_for_p",
            # p_max_entropy = 0.5 is exactly one half: accepted
        },
    ),
    # wrong4 answers everything else in OTHER correct forms, which must keep full marks.
    "wrong4": (
        {
            "a1_composition_answer": "inner = x * (x + 3)\nouter = sp.sin(u)",
            "a1_derivative_answer": "df_dx = (3 + 2*x) * sp.cos(x * (x + 3))",
            "a1_values_answer": "import math\n"
                                "df_dx_at_1 = 5 * math.cos(4)\n"
                                "step = 0.001\n"
                                "df_dx_numeric_at_1 = (math.sin((1 + step)**2 + 3*(1 + step))\n"
                                "                      - math.sin((1 - step)**2 + 3*(1 - step))) / (2 * step)",
            "a2_gradients_answer": "L = (sigmoid(w*x + b) - y)**2\n"
                                   "dL_dw = sp.diff(L, w)\n"
                                   "dL_db = sp.diff(L, b)",
            "a2_sigma_prime_answer": "sigma_prime = 1 / (4 * sp.cosh(z / 2)**2)\n"
                                     "sigma_prime_at_10 = np.exp(-10) / (1 + np.exp(-10))**2",
            "a3_symbolic_answer": "dyk_dzk = yhat_k - yhat_k**2\ndyk_dzi = -(yhat_i * yhat_k)",
            "a3_jacobian_answer": SOFTMAX_JACOBIAN_LOOPS,
            "a4_symbolic_answer": "dL_dz_i = -(y_i - yhat_i)",
            "a4_grad_answer": CE_GRAD_LOG_SOFTMAX,
            "a5_answer": "def backprop_delta(W_next, delta_next, z):\n"
                         "    z[z <= 0] = 0\n"
                         "    return (W_next.T @ delta_next) * z",
            "a6_answer": A6_SYMPY,
            "a7_entropy_answer": "binary_entropy = -(p * sp.log(p) + (1 - p) * sp.log(1 - p))",
            "a7_maxima_answer": "p_max_sigma_prime = 0.5\n"
                                "p_max_entropy = sp.S.Half\n"
                                "max_entropy = sp.log(4) / 2",
        },
        {
            "a5_backprop_delta": "function_for_derivative",   # the activation used as the mask
            "a5_relu_at_zero": "function_for_derivative",
            "a5_inputs_unchanged": "mutates_input",
        },
    ),
}

EXERCISES = ["a1", "a2", "a3", "a4", "a5", "a6", "a7"]


# ---------------------------------------------------------------- grading, once

@pytest.fixture(scope="module")
def graded(make_course):
    course = make_course([NB])
    course.submit("reference", {NB: course.reference(NB)})
    course.submit("blank", {NB: course.release_nb(NB)})
    for student, (changes, _) in STUDENTS.items():
        course.submit(student, {NB: course.reference(NB, changes)})
    course.autograde()
    return course


def graded_cells(course):
    return {submissions.grade_id(cell): cell.metadata["nbgrader"]["points"]
            for cell in course.source_nb(NB).cells
            if cell.get("metadata", {}).get("nbgrader", {}).get("grade")}


def recorded_hints(nb, grade_id):
    """The hint kinds a graded cell recorded (HINT_MIME display outputs)."""
    for cell in nb.cells:
        if submissions.grade_id(cell) == grade_id:
            return [out["data"][HINT_MIME]["kind"] for out in cell.get("outputs", [])
                    if HINT_MIME in out.get("data", {})]
    raise KeyError(grade_id)


# ---------------------------------------------------------------- the notebook itself

def test_every_graded_cell_has_points_and_every_exercise_is_graded(graded):
    cells = graded_cells(graded)
    assert all(points and points > 0 for points in cells.values())
    assert {grade_id.split("_")[0] for grade_id in cells} == set(EXERCISES)


def test_every_submission_was_graded(graded):
    assert set(graded.status) == {"reference", "blank", *STUDENTS}
    assert all(record["status"] == "graded" for record in graded.status.values()), graded.status


# ---------------------------------------------------------------- reference and blank

def test_reference_gets_full_marks_on_every_cell(graded):
    scores = graded.scores["reference"][STEM]
    assert set(scores) == set(graded_cells(graded))
    assert {g: s for g, s in scores.items() if s[0] != s[1]} == {}


def test_reference_run_has_no_error_and_no_stderr(graded):
    nb = graded.autograded_nb("reference", NB)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert out.get("output_type") != "error", (submissions.grade_id(cell), out.get("evalue"))
            assert out.get("name") != "stderr", (submissions.grade_id(cell), out.get("text"))


def test_blank_release_gets_zero(graded):
    scores = graded.scores["blank"][STEM]
    assert set(scores) == set(graded_cells(graded))
    assert all(score == 0 for score, _ in scores.values()), scores


# ---------------------------------------------------------------- the common mistakes

MISTAKE_CASES = [(student, grade_id, kind)
                 for student, (_, expected) in STUDENTS.items()
                 for grade_id, kind in expected.items()]


@pytest.mark.parametrize("student,grade_id,kind", MISTAKE_CASES,
                         ids=[f"{s}-{g}-{k}" for s, g, k in MISTAKE_CASES])
def test_mistake_loses_the_cell_and_shows_its_hint(graded, student, grade_id, kind):
    score, max_score = graded.scores[student][STEM][grade_id]
    assert max_score > 0 and score == 0
    if kind is None:
        return
    nb = graded.autograded_nb(student, NB)
    assert describe(kind) in cell_outputs_text(nb, grade_id)
    assert recorded_hints(nb, grade_id) == [kind]


@pytest.mark.parametrize("student", sorted(STUDENTS))
def test_a_mistake_costs_nothing_elsewhere(graded, student):
    _, expected = STUDENTS[student]
    scores = graded.scores[student][STEM]
    lost = {grade_id for grade_id, (score, max_score) in scores.items() if score != max_score}
    assert lost == set(expected)


@pytest.mark.parametrize("student", sorted(STUDENTS))
def test_failing_cells_never_write_to_stderr(graded, student):
    nb = graded.autograded_nb(student, NB)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert out.get("name") != "stderr", (submissions.grade_id(cell), out.get("text"))


def test_every_exercise_has_at_least_two_named_mistakes():
    kinds = {exercise: set() for exercise in EXERCISES}
    for _, expected in STUDENTS.values():
        for grade_id, kind in expected.items():
            if kind:
                kinds[grade_id.split("_")[0]].add(kind)
    assert all(len(found) >= 2 for found in kinds.values()), json.dumps({k: sorted(v) for k, v in kinds.items()})
