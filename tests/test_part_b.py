"""Round trip of Part B through the real nbgrader: reference → full marks, blank → 0,
and every named common mistake loses its exercise's points and shows its hint.

Mistakes of independent exercises share a simulated student (wrong1 carries one
mistake of every exercise, wrong2 another, ...), so one autograde call grades
five notebooks. Each mistake is a text replacement in the reference solution;
the test first checks that the replaced text exists, so an edit of the notebook
cannot silently turn a mistake into the reference.
"""
import pytest

from conftest import cell_outputs_text
from grader.authoring import submissions
from course.hints import HINT_MIME, KINDS

pytestmark = pytest.mark.slow

NB = "B_coding.ipynb"
STEM = "B_coding"

# (student, solution grade_id, [(old, new), ...], {test grade_id: hint kind}, {test grade_ids that may also fail})
MISTAKES = [
    # ---------------------------------------------------------------- wrong1
    ("wrong1", "b1_sigmoid_answer",
     [("    z = np.asarray(z, dtype=float)\n    e = np.exp(-np.abs(z))  # exponent <= 0: never overflows\n"
       "    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))",
       "    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=float)))")],
     {"b1_sigmoid": "unstable"}, set()),
    ("wrong1", "b1_numerical_answer",
     [("return (f(x + eps) - f(x - eps)) / (2.0 * eps)", "return (f(x + eps) - f(x)) / eps")],
     {"b1_numerical_derivative": "forward_difference"}, set()),
    ("wrong1", "b2_activations_answer",
     [("    shifted = z - np.max(z, axis=0, keepdims=True)", "    shifted = z")],
     {"b2_softmax": "unstable"}, set()),
    ("wrong1", "b2_backward_answer",
     [("    m = X.shape[1]", "    m = 1")],
     {"b2_backward_dW": "missing_mean", "b2_backward_db": "missing_mean"}, set()),
    ("wrong1", "b3_numerical_answer",
     [("        param[index] = original - eps\n        f_minus = f(param)", "        param[index] = original\n        f_minus = f(param)"),
      ("grad[index] = (f_plus - f_minus) / (2.0 * eps)", "grad[index] = (f_plus - f_minus) / eps")],
     {"b3_numerical_gradient": "forward_difference"}, set()),
    ("wrong1", "b3_check_answer",
     [("    for name, param in net.params.items():\n",
       "    for name in (\"W1\", \"W2\"):\n        param = net.params[name]\n")],
     {"b3_gradient_check": "skips_parameters"}, set()),
    ("wrong1", "b4_tensor_answer",
     [(".grad += ", ".grad = ")],
     {"b4_backward": "overwrite_not_accumulate"}, {"b4_accumulate", "b4_broadcast", "b4_random_graphs"}),
    ("wrong1", "b5_flow_answer",
     [("        delta = (W.T @ delta) * local", "        delta = W.T @ delta")],
     {"b5_flow": "missing_mask"}, set()),
    ("wrong1", "b5_plot_answer",
     [("    ax_log.set_yscale(\"log\")\n", "")],
     {"b5_plot": "no_log_panel"}, set()),
    ("wrong1", "b6_train_answer",
     [("        for name in net.params:", "        for name in (\"W1\", \"W2\"):")],
     {"b6_training": "skips_update"}, set()),
    # ---------------------------------------------------------------- wrong2
    ("wrong2", "b1_sigmoid_answer",
     [("    return s * (1.0 - s)", "    return s")],
     {"b1_sigmoid_derivative": "sigma_for_sigma_prime"}, set()),
    ("wrong2", "b1_neuron_answer",
     [("    dL_da = 2.0 * (a - y)", "    dL_da = a - y")],
     {"b1_neuron_grad": "factor_of_two"}, set()),
    ("wrong2", "b2_activations_answer",
     [("    return (np.asarray(z) > 0).astype(float)", "    return np.maximum(0.0, z)")],
     {"b2_relu": "function_for_derivative"}, set()),
    ("wrong2", "b2_backward_answer",
     [("axis=1, keepdims=True", "axis=0, keepdims=True")],
     {"b2_backward_db": "wrong_axis"}, set()),
    ("wrong2", "b3_numerical_answer",
     [("        param[index] = original  # restore exactly\n", "")],
     {"b3_numerical_gradient": "not_restored"}, set()),
    ("wrong2", "b3_check_answer",
     [("numerical_gradient(lambda _: net.loss(X, y), param, eps)",
       "numerical_gradient(lambda _: net.loss(X, y), param.copy(), eps)")],
     {"b3_gradient_check": "perturbs_copy"}, set()),
    ("wrong2", "b4_tensor_answer",
     [("        while grad.ndim > len(shape):\n            grad = grad.sum(axis=0)\n"
       "        for axis, size in enumerate(shape):\n            if size == 1 and grad.shape[axis] != 1:\n"
       "                grad = grad.sum(axis=axis, keepdims=True)\n", ""),
      ("        e = np.exp(-np.abs(self.data))\n        s = np.where(self.data >= 0, 1.0 / (1.0 + e), e / (1.0 + e))",
       "        s = 1.0 / (1.0 + np.exp(-self.data))")],
     {"b4_broadcast": "no_unbroadcast", "b4_forward": "unstable"},
     {"b4_backward", "b4_accumulate", "b4_random_graphs"}),  # number constants broadcast too
    ("wrong2", "b5_flow_answer",
     [("* np.sqrt(2.0 / n_in)", "* 1.0")],
     {"b5_flow": "wrong_init"}, set()),
    ("wrong2", "b5_plot_answer",
     [("        ax.legend()\n", "")],
     {"b5_plot": "missing_legend"}, set()),
    # ---------------------------------------------------------------- wrong3
    ("wrong3", "b1_relerr_answer",
     [("    denominator = np.maximum(np.abs(a) + np.abs(b), 1e-12)", "    denominator = np.abs(a) + np.abs(b)")],
     {"b1_relative_error": "missing_floor"}, set()),
    ("wrong3", "b1_neuron_answer",
     [("    dz_dw = x", "    dz_dw = 1.0")],
     {"b1_neuron_grad": "missing_inner_derivative"}, set()),
    ("wrong3", "b2_activations_answer",
     [("    shifted = z - np.max(z, axis=0, keepdims=True)", "    shifted = z - np.max(z, axis=1, keepdims=True)"),
      ("    return e / np.sum(e, axis=0, keepdims=True)", "    return e / np.sum(e, axis=1, keepdims=True)")],
     {"b2_softmax": "softmax_axis"}, set()),
    ("wrong3", "b2_backward_answer",
     [("    dz1 = da1 * relu_derivative(z1)", "    dz1 = da1")],
     {"b2_backward_dW": "missing_mask", "b2_backward_db": "missing_mask"}, set()),
    ("wrong3", "b3_numerical_answer",
     [("    grad = np.zeros(param.shape, dtype=float)\n", "    param = param.copy()\n    grad = np.zeros(param.shape, dtype=float)\n")],
     {"b3_numerical_gradient": "perturbs_copy"}, set()),
    ("wrong3", "b4_tensor_answer",
     [("        for node in order:\n            if node._parents:  # intermediate results: recomputed from zero on every call\n"
       "                node.grad = np.zeros_like(node.data)\n        self.grad = self.grad + np.ones_like(self.data)\n",
       "        self.grad = np.ones_like(self.data)\n")],
     {"b4_accumulate": "stale_intermediate"}, set()),
    ("wrong3", "b5_flow_answer",
     [("            local = s * (1.0 - s)", "            local = s")],
     {"b5_flow": "sigma_for_sigma_prime"}, set()),
    ("wrong3", "b5_plot_answer",
     [("        ax.set_xlabel(\"layer (input side first)\")\n", ""), ("        ax.set_ylabel(r\"mean $|\\delta|$\")\n", "")],
     {"b5_plot": "missing_labels"}, set()),
    # ---------------------------------------------------------------- wrong4
    ("wrong4", "b1_numerical_answer",
     [("return (f(x + eps) - f(x - eps)) / (2.0 * eps)", "return (f(x + eps) - f(x - eps)) / eps")],
     {"b1_numerical_derivative": "wrong_denominator"}, set()),
    ("wrong4", "b1_relerr_answer",
     [("    return float(np.max(np.abs(a - b) / denominator))", "    return float(np.mean(np.abs(a - b) / denominator))")],
     {"b1_relative_error": "mean_not_max"}, set()),
    ("wrong4", "b2_activations_answer",
     [("    return np.maximum(0.0, z)", "    z[z < 0] = 0\n    return z")],
     {"b2_relu": "mutates_input"}, set()),
    ("wrong4", "b2_backward_answer",
     [("    dW1 = dz1 @ X.T / m", "    dW1 = X @ dz1.T / m"),
      ("    db2 = np.sum(dz2, axis=1, keepdims=True) / m", "    db2 = np.sum(dz2, axis=1) / m")],
     {"b2_backward_dW": "transposed", "b2_backward_db": "dropped_dimension"}, set()),
    ("wrong4", "b3_check_answer",
     [("        worst = max(worst, relative_error(analytical[name], numerical))",
       "        worst = relative_error(analytical[name], numerical)")],
     {"b3_gradient_check": "misses_bug"}, set()),
    ("wrong4", "b4_tensor_answer",
     [("            if node._parents:  # intermediate results: recomputed from zero on every call\n"
       "                node.grad = np.zeros_like(node.data)\n        self.grad = self.grad + np.ones_like(self.data)\n",
       "            node.grad = np.zeros_like(node.data)\n        self.grad = np.ones_like(self.data)\n")],
     {"b4_accumulate": "not_accumulating_across_calls"}, set()),
    ("wrong4", "b5_flow_answer",
     [("    return magnitudes", "    return magnitudes[::-1]")],
     {"b5_flow": "wrong_order_of_layers"}, set()),
    ("wrong4", "b5_plot_answer",
     [("    return fig", "    return ax_log")],
     {"b5_plot": "not_a_figure"}, set()),
    # ---------------------------------------------------------------- wrong5
    ("wrong5", "b1_sigmoid_answer",
     [("    return s * (1.0 - s)", "    return z * (1.0 - z)")],
     {"b1_sigmoid_derivative": "applied_to_input"}, set()),       # caught by the visible check
    ("wrong5", "b1_relerr_answer",
     [("np.maximum(np.abs(a) + np.abs(b), 1e-12)", "np.abs(a) + np.abs(b) + 1e-12")],
     {"b1_relative_error": "wrong_floor"}, set()),
    ("wrong5", "b2_activations_answer",
     [("    return (np.asarray(z) > 0).astype(float)", "    return (np.asarray(z) >= 0).astype(float)")],
     {"b2_relu": "wrong_mask"}, set()),                            # relu'(0) must be 0
    ("wrong5", "b3_numerical_answer",
     [("grad[index] = (f_plus - f_minus) / (2.0 * eps)", "grad[index] = (f_plus - f_minus) / eps")],
     {"b3_numerical_gradient": "wrong_denominator"}, set()),      # caught by the visible check
    ("wrong5", "b4_tensor_answer",
     [("            self.grad += (self.data > 0) * out.grad", "            self.grad = (self.data > 0) * out.grad")],
     {"b4_backward": "overwrite_not_accumulate"}, set()),
    ("wrong5", "b5_plot_answer",
     [("    fig, (ax_linear, ax_log) = plt.subplots(1, 2, figsize=(11, 4), layout=\"constrained\")",
       "    fig, ax_linear = plt.subplots(figsize=(6, 4))\n    ax_log = ax_linear")],
     {"b5_plot": "wrong_panels"}, set()),                          # caught by the visible check
]

STUDENTS = sorted({student for student, *_ in MISTAKES})
EXERCISES = ["b1", "b2", "b3", "b4", "b5"]


def mutate(code, replacements):
    for old, new in replacements:
        assert old in code, f"mistake no longer applies: {old!r} not in the reference"
        code = code.replace(old, new)
    return code


@pytest.fixture(scope="module")
def graded(make_course):
    course = make_course([NB])
    answers = submissions.reference_answers(course.source_nb(NB))
    course.submit("reference", {NB: course.reference(NB)})
    course.submit("blank", {NB: course.release_nb(NB)})
    for student in STUDENTS:
        changes = {}
        for who, solution_id, replacements, _, _ in MISTAKES:
            if who == student:
                changes[solution_id] = mutate(changes.get(solution_id, answers[solution_id]), replacements)
        course.submit(student, {NB: course.reference(NB, changes)})
    scores = course.autograde()
    failed = {s: r for s, r in course.status.items() if r["status"] != "graded"}
    assert not failed, failed
    return course, scores


def graded_cells(course):
    return {submissions.grade_id(cell): cell for cell in course.source_nb(NB).cells
            if cell.get("metadata", {}).get("nbgrader", {}).get("grade")}


def test_every_exercise_has_two_named_mistakes():
    for exercise in EXERCISES:
        kinds = {(kind, test) for _, solution_id, _, fails, _ in MISTAKES if solution_id.startswith(exercise)
                 for test, kind in fails.items()}
        assert len({kind for kind, _ in kinds}) >= 2, exercise
    for *_, fails, _ in MISTAKES:
        assert set(fails.values()) <= set(KINDS)


def test_reference_gets_full_marks_on_every_cell(graded):
    course, scores = graded
    cells = scores["reference"][STEM]
    assert set(cells) >= set(graded_cells(course))
    assert sum(maximum for _, maximum in cells.values()) == 43  # the points table of tests/test_points.py
    assert {gid: score for gid, (score, maximum) in cells.items() if score != maximum} == {}


def test_blank_release_gets_zero(graded):
    _, scores = graded
    assert {gid: score for gid, (score, _) in scores["blank"][STEM].items() if score} == {}


@pytest.mark.parametrize("student", STUDENTS)
def test_each_mistake_loses_its_points_and_shows_its_hint(graded, student):
    course, scores = graded
    nb = course.autograded_nb(student, NB)
    expected, allowed = {}, set()
    for who, _, _, fails, may_fail in MISTAKES:
        if who == student:
            expected.update(fails)
            allowed |= may_fail
    cells = scores[student][STEM]
    for test_id, kind in expected.items():
        score, maximum = cells[test_id]
        assert score == 0 < maximum, (test_id, score)
        text = cell_outputs_text(nb, test_id)
        assert KINDS[kind] in text, (test_id, kind, text[-600:])
    lost_elsewhere = {gid: s for gid, (s, m) in cells.items()
                      if s != m and gid not in expected and gid not in allowed}
    assert lost_elsewhere == {}, "a mistake cost points in an unrelated cell"


@pytest.mark.parametrize("student", ["reference", "blank"] + STUDENTS)
def test_no_graded_cell_writes_to_stderr(graded, student):
    course, _ = graded
    nb = course.autograded_nb(student, NB)
    ids = set(graded_cells(course))
    for cell in nb.cells:
        if submissions.grade_id(cell) in ids or student == "reference":
            streams = [o for o in cell.get("outputs", []) if o.get("output_type") == "stream" and o.get("name") == "stderr"]
            assert not streams, (submissions.grade_id(cell), streams[0].get("text", "")[:300])


def test_fired_hints_are_recorded_for_reports(graded):
    course, _ = graded
    nb = course.autograded_nb("wrong1", NB)
    recorded = [out["data"][HINT_MIME]["kind"] for cell in nb.cells for out in cell.get("outputs", [])
                if out.get("output_type") == "display_data" and HINT_MIME in out.get("data", {})]
    assert {"unstable", "forward_difference", "missing_mean", "skips_parameters"} <= set(recorded)


def test_reference_notebook_shows_the_gradient_flow_figure(graded):
    course, _ = graded
    nb = course.autograded_nb("reference", NB)
    demo = next(cell for cell in nb.cells if submissions.grade_id(cell) == "b5_demo")
    assert any("image/png" in out.get("data", {}) for out in demo.get("outputs", []))
