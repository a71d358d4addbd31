"""Unit tests of course.gradients (finite differences, safe calls, random graphs) and course.diagnose."""
import warnings

import numpy as np
import pytest

import course
from course import gradients
from course.checks import CheckFailed
from course.diagnose import diagnose_array, diagnose_shape
from course.hints import KINDS


# --------------------------------------------------------------------------- numerical_gradient

def test_central_difference_is_exact_for_quadratics_and_second_order_for_cubics():
    x = np.array([[0.5, -1.0, 2.0], [1.5, 0.3, -0.25]])
    quadratic = course.numerical_gradient(lambda v: np.sum(3 * v ** 2 - v), x, 1e-3)
    assert np.allclose(quadratic, 6 * x - 1, rtol=0, atol=1e-9)
    eps = 1e-2
    cubic = course.numerical_gradient(lambda v: np.sum(v ** 3), x, eps)
    # a central difference of v**3 is 3v**2 + eps**2 exactly; a forward one would add 3 v eps
    assert np.allclose(cubic, 3 * x ** 2 + eps ** 2, rtol=0, atol=1e-9)
    assert not np.allclose(cubic, 3 * x ** 2 + 3 * x * eps + eps ** 2, rtol=0, atol=1e-6)


def test_result_is_float64_with_the_shape_of_x():
    for shape in [(), (3,), (2, 3), (2, 1, 2)]:
        x = np.ones(shape)
        grad = course.numerical_gradient(lambda v: float(np.sum(v)), x)
        assert grad.shape == shape and grad.dtype == np.float64
        assert np.allclose(grad, 1.0)


def test_perturbs_in_place_so_a_closure_sees_it_and_restores_every_entry_exactly():
    x = np.random.default_rng(0).uniform(-2, 2, (3, 4))
    original = x.copy()
    grad = course.numerical_gradient(lambda _ignored: float(np.sum(np.sin(x))), x, 1e-5)
    assert np.allclose(grad, np.cos(original), atol=1e-9)
    assert np.array_equal(x, original)  # bitwise: restored, not "+eps then -eps"


def test_restores_the_entry_when_f_raises():
    x = np.array([1.0, 2.0, 3.0])
    calls = []

    def f(v):
        calls.append(v.copy())
        if len(calls) == 3:
            raise RuntimeError("boom")
        return float(np.sum(v))

    with pytest.raises(RuntimeError):
        course.numerical_gradient(f, x, 0.5)
    assert np.array_equal(x, [1.0, 2.0, 3.0])
    assert calls[2][1] == 2.5  # the failing call saw the perturbed entry, which was then restored


def test_non_float64_input_is_copied_not_changed():
    x = np.array([1, 2, 3])
    grad = course.numerical_gradient(lambda v: float(np.sum(v ** 2)), x, 1e-4)
    assert np.allclose(grad, [2, 4, 6], atol=1e-6)
    assert x.dtype.kind == "i" and np.array_equal(x, [1, 2, 3])
    assert np.isclose(float(course.numerical_gradient(lambda v: float(v) ** 2, 3.0)), 6.0)


def test_eps_must_be_positive():
    with pytest.raises(ValueError):
        course.numerical_gradient(lambda v: 0.0, np.ones(2), 0.0)


def test_numerical_gradients_of_a_parameter_dict():
    params = {"W": np.array([[1.0, -2.0]]), "b": np.array([[0.5]])}
    keep = {k: v.copy() for k, v in params.items()}
    loss = lambda: float(np.sum((params["W"] * 3.0 + params["b"]) ** 2))
    grads = course.numerical_gradients(loss, params)
    z = keep["W"] * 3.0 + keep["b"]
    assert np.allclose(grads["W"], 6 * z, atol=1e-7)
    assert np.allclose(grads["b"], 2 * z.sum(), atol=1e-7)
    assert all(np.array_equal(params[k], keep[k]) for k in params)


# --------------------------------------------------------------------------- relative_error, close_enough

def test_relative_error_is_the_worst_entry_symmetric_and_floored():
    a, b = np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 4.0])
    assert course.relative_error(a, b) == pytest.approx(1 / 7)
    assert course.relative_error(b, a) == course.relative_error(a, b)
    assert course.relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert course.relative_error(0.0, 1e-13) == pytest.approx(1e-13 / 1e-12)
    assert course.relative_error(0.0, 1e-13, floor=1e-20) == pytest.approx(1.0)
    assert course.relative_error(np.array([]), np.array([])) == 0.0
    assert isinstance(course.relative_error(1, 2), float)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert course.relative_error([0.0, 1.0], [0.0, 1.0]) == 0.0


def test_close_enough_needs_same_shape_and_finite_values():
    assert course.close_enough([1.0, 2.0], [1.0, 2.0 + 1e-9])
    assert not course.close_enough([1.0, 2.0], [[1.0, 2.0]])
    assert not course.close_enough([np.nan], [np.nan])
    assert not course.close_enough(["x"], [1.0])


# --------------------------------------------------------------------------- check_gradient / check_shape

def test_check_gradient_passes_and_names_mistakes_without_values():
    right = np.array([[0.25, -0.5], [1.5, 2.0]])
    course.check_gradient("dW", right + 1e-12, right)
    with pytest.raises(CheckFailed) as error:
        course.check_gradient("dW", 4 * right, right, m=4)
    assert KINDS["missing_mean"] in str(error.value)
    assert "0.25" not in str(error.value) and "1.5" not in str(error.value)
    with pytest.raises(CheckFailed) as error:
        course.check_gradient("dW", right + 1.0, right, mistakes={"missing_mask": right + 1.0})
    assert KINDS["missing_mask"] in str(error.value)
    with pytest.raises(CheckFailed) as error:
        course.check_gradient("dW", right + [[0, 0], [0, 1]], right)
    assert "Hint" not in str(error.value)


def test_check_gradient_diagnoses_shapes_and_non_finite_values():
    right = np.ones((4, 1))
    with pytest.raises(CheckFailed) as error:
        course.check_gradient("db", np.ones((1, 7)), right)
    assert KINDS["wrong_axis"] in str(error.value) and "(4, 1)" in str(error.value)
    with pytest.raises(CheckFailed) as error:
        course.check_gradient("db", np.array([[np.nan], [1], [1], [1]]), right)
    assert KINDS["not_finite"] in str(error.value)
    with pytest.raises(CheckFailed) as error:
        course.check_gradient("db", "abc", right)
    assert "array of numbers" in str(error.value)


def test_check_shape():
    assert course.check_shape("db", [[1.0], [2.0]], (2, 1)).shape == (2, 1)
    with pytest.raises(CheckFailed) as error:
        course.check_shape("db", np.ones(2), (2, 1))
    assert KINDS["dropped_dimension"] in str(error.value)


# --------------------------------------------------------------------------- attempt / without_warnings / substitute

def test_attempt_turns_exceptions_into_check_failures_and_silences_warnings():
    def noisy():
        np.exp(np.array([1000.0]))
        warnings.warn("careful")
        return 7

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert course.attempt("noisy()", noisy) == 7
    with pytest.raises(CheckFailed, match=r"f\(\) raised ZeroDivisionError"):
        course.attempt("f()", lambda: 1 / 0)
    with pytest.raises(CheckFailed, match="not implemented yet"):
        course.attempt("g()", lambda: (_ for _ in ()).throw(NotImplementedError()))
    with pytest.raises(CheckFailed, match="^inner$"):
        course.attempt("h()", lambda: (_ for _ in ()).throw(CheckFailed("inner")))


def test_without_warnings_fails_on_overflow_with_the_hint_and_nothing_escapes():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(CheckFailed) as error:
            course.without_warnings("naive(z)", "unstable", lambda z: 1 / (1 + np.exp(-z)), np.array([-1000.0]))
        assert KINDS["unstable"] in str(error.value) and "RuntimeWarning" in str(error.value)
        # underflow to zero is harmless and allowed
        assert course.without_warnings("exp", "unstable", np.exp, np.array([-1000.0]))[0] == 0.0
        with pytest.raises(CheckFailed, match="raised ValueError"):
            course.without_warnings("bad", "unstable", lambda: int("x"))


def test_substitute_replaces_and_restores_names_even_on_error():
    namespace = {"f": 1}
    with course.substitute(namespace, f=2, g=3):
        assert namespace == {"f": 2, "g": 3}
    assert namespace == {"f": 1}
    with pytest.raises(KeyError):
        with course.substitute(namespace, f=5):
            raise KeyError("x")
    assert namespace == {"f": 1}


def test_defined_in_notebook_rejects_the_library_functions():
    def mine(a, b):
        return 0.0

    course.defined_in_notebook("relative_error", mine, [course.relative_error])
    with pytest.raises(CheckFailed):
        course.defined_in_notebook("relative_error", course.relative_error, [course.relative_error])
    with pytest.raises(CheckFailed):
        course.defined_in_notebook("numerical_gradient", gradients.numerical_gradient)


# --------------------------------------------------------------------------- random graphs

def _sigmoid(t):
    return np.exp(-np.logaddexp(0.0, -np.asarray(t, dtype=float)))


NUMPY_OPS = {"relu": lambda v: np.maximum(v, 0.0), "sigmoid": _sigmoid, "sum": np.sum}
TENSOR_OPS = {"relu": lambda t: t.relu(), "sigmoid": lambda t: t.sigmoid(), "sum": lambda t: t.sum()}


class _Tensor:
    """A minimal correct autograd for testing the graph machinery (tests only, not in course/)."""

    mode = "right"

    def __init__(self, data, parents=()):
        self.data = np.array(data, dtype=float)
        self.grad = np.zeros_like(self.data)
        self.parents, self.back = parents, lambda: None

    def _give(self, node, value):
        if self.mode == "no_unbroadcast":
            node.grad = node.grad + value
            return
        while value.ndim > node.data.ndim:
            value = value.sum(axis=0)
        if self.mode == "overwrite":
            node.grad = np.array(value)
        else:
            node.grad = node.grad + value

    def _lift(self, other):
        return other if isinstance(other, _Tensor) else type(self)(other)

    def __add__(self, other):
        other = self._lift(other)
        out = type(self)(self.data + other.data, (self, other))
        out.back = lambda: (self._give(self, out.grad), self._give(other, out.grad))
        return out

    def __mul__(self, other):
        other = self._lift(other)
        out = type(self)(self.data * other.data, (self, other))
        out.back = lambda: (self._give(self, other.data * out.grad), self._give(other, self.data * out.grad))
        return out

    def __pow__(self, n):
        out = type(self)(self.data ** n, (self,))
        out.back = lambda: self._give(self, n * self.data ** (n - 1) * out.grad)
        return out

    def __neg__(self):
        return self * -1.0

    def __sub__(self, other):
        return self + (-self._lift(other))

    def __radd__(self, other):
        return self + other

    def __rsub__(self, other):
        return self._lift(other) + (-self)

    def __rmul__(self, other):
        return self * other

    def relu(self):
        out = type(self)(np.maximum(self.data, 0.0), (self,))
        out.back = lambda: self._give(self, (self.data > 0) * out.grad)
        return out

    def sigmoid(self):
        s = _sigmoid(self.data)
        out = type(self)(s, (self,))
        out.back = lambda: self._give(self, s * (1 - s) * out.grad)
        return out

    def sum(self):
        out = type(self)(np.sum(self.data), (self,))
        out.back = lambda: self._give(self, np.ones_like(self.data) * out.grad)
        return out

    def backward(self):
        order, seen = [], set()

        def visit(node):
            if id(node) not in seen:
                seen.add(id(node))
                for parent in node.parents:
                    visit(parent)
                order.append(node)
        visit(self)
        self.grad = np.ones_like(self.data)
        for node in reversed(order):
            node.back()


class _Overwrite(_Tensor):
    mode = "overwrite"


class _NoUnbroadcast(_Tensor):
    mode = "no_unbroadcast"


def _uses(graph):
    counts = {}
    for _, operands, _ in graph.steps:
        for index in operands:
            counts[index] = counts.get(index, 0) + 1
    return counts


def test_random_graphs_are_deterministic_broadcasting_and_reuse_a_node():
    for seed in range(12):
        graph = course.random_graph(seed, NUMPY_OPS, kinks={"relu": 0.0}, shape=(2, 3))
        again = course.random_graph(seed, NUMPY_OPS, kinks={"relu": 0.0}, shape=(2, 3))
        assert graph.steps == again.steps and all(np.array_equal(a, b) for a, b in zip(graph.inputs, again.inputs))
        shapes = {x.shape for x in graph.inputs}
        assert shapes == {(), (2, 3)}
        uses = _uses(graph)
        n_inputs = len(graph.inputs)
        assert all(uses.get(i, 0) >= 1 for i in range(n_inputs)), "every input is used"
        assert any(count >= 2 for index, count in uses.items() if index >= n_inputs), "an intermediate node is reused"
        assert graph.steps[-1][0] == "sum"
        assert "sum(" in graph.describe()
    assert course.random_graph(1, NUMPY_OPS).steps != course.random_graph(2, NUMPY_OPS).steps


def test_random_graphs_stay_away_from_kinks():
    for seed in range(20):
        graph = course.random_graph(seed, NUMPY_OPS, kinks={"relu": 0.0}, margin=0.05)
        values = gradients.evaluate_graph(graph, graph.inputs, {**course.ARITHMETIC, **NUMPY_OPS})
        for op, operands, _ in graph.steps:
            if op == "relu":
                assert np.min(np.abs(values[operands[0]])) >= 0.05


def test_graph_gradient_errors_accepts_a_correct_tensor_and_flags_broken_ones():
    graphs = [course.random_graph(seed, NUMPY_OPS, kinks={"relu": 0.0}, shape=(3,) if seed % 2 else (2, 3))
              for seed in range(10)]
    for graph in graphs:
        assert course.graph_gradient_errors(graph, _Tensor, TENSOR_OPS, NUMPY_OPS) == []
    overwrite = [course.graph_gradient_errors(g, _Overwrite, TENSOR_OPS, NUMPY_OPS) for g in graphs]
    assert sum(bool(p) for p in overwrite) >= 8
    assert all(what == "gradient" for problems in overwrite for _, what in problems)
    shape_problems = [course.graph_gradient_errors(g, _NoUnbroadcast, TENSOR_OPS, NUMPY_OPS) for g in graphs]
    assert all(any(what == "shape" for _, what in problems) for problems in shape_problems)


def test_graph_gradient_errors_reports_a_wrong_forward_value():
    class _WrongSigmoid(_Tensor):
        def sigmoid(self):
            out = super().sigmoid()
            out.data = out.data + 0.1
            return out

    graph = next(g for g in (course.random_graph(s, NUMPY_OPS) for s in range(50))
                 if any(op == "sigmoid" for op, _, _ in g.steps))
    problems = course.graph_gradient_errors(graph, _WrongSigmoid, TENSOR_OPS, NUMPY_OPS)
    assert (None, "value") in problems


# --------------------------------------------------------------------------- diagnose

@pytest.mark.parametrize("make_wrong, kind", [
    (lambda r: -r, "sign_error"),
    (lambda r: 2 * r, "factor_of_two"),
    (lambda r: 0.5 * r, "factor_of_two"),
    (lambda r: 7 * r, "missing_mean"),
    (lambda r: r / 7, "extra_mean"),
    (lambda r: 3.3 * r, "constant_factor"),
    (lambda r: -2.5 * r, "constant_factor"),
    (lambda r: np.where(r > 0, np.inf, r), "not_finite"),
])
def test_diagnose_recognises_factors_signs_and_non_finite(make_wrong, kind):
    right = np.random.default_rng(1).uniform(0.1, 1.0, (4, 5)) * np.array([1, -1, 1, -1, 1])
    assert diagnose_array(make_wrong(right), right, m=7) == kind


def test_diagnose_shapes():
    rng = np.random.default_rng(2)
    square, dz = rng.standard_normal((3, 3)), rng.standard_normal((4, 7))
    bias = dz.sum(axis=1, keepdims=True) / 7
    assert diagnose_array(square.T, square) == "transposed"
    assert diagnose_array(rng.standard_normal((5, 4)), rng.standard_normal((4, 5))) == "transposed"
    assert diagnose_array(dz.sum(axis=0, keepdims=True) / 7, bias) == "wrong_axis"
    assert diagnose_array(dz.sum(axis=0) / 7, bias) == "wrong_axis"
    assert diagnose_array(dz.sum() / 7, bias) == "wrong_axis"
    assert diagnose_array(bias.ravel(), bias) == "dropped_dimension"
    assert diagnose_array(bias.T, bias) == "transposed"
    assert diagnose_array(rng.standard_normal((2, 6)), bias) == "wrong_shape"
    assert diagnose_shape(np.zeros((1, 4)), np.zeros((4, 1))) in ("transposed", "wrong_axis")


def test_diagnose_stays_silent_when_nothing_fits():
    rng = np.random.default_rng(3)
    right = rng.standard_normal((3, 4))
    assert diagnose_array(right + rng.standard_normal((3, 4)), right) is None
    assert diagnose_array(right, np.zeros((3, 4))) is None
    assert diagnose_array(2 * right, right, factors=False) == "factor_of_two"
    assert diagnose_array(3.3 * right, right, factors=False) is None


def test_every_kind_the_tools_can_name_exists():
    names = {"sign_error", "factor_of_two", "missing_mean", "extra_mean", "constant_factor", "not_finite",
             "transposed", "wrong_axis", "dropped_dimension", "wrong_shape", "unstable", "no_unbroadcast"}
    assert names <= set(KINDS)


def test_a_wrapper_around_the_library_tool_is_not_the_students_own():
    import course
    from course.gradients import defined_in_notebook, numerical_gradient

    def through_module(f, p, eps=1e-5):
        return course.numerical_gradient(f, p, eps)

    def through_name(f, p, eps=1e-5):
        return numerical_gradient(f, p, eps)

    def own(f, p, eps=1e-5):
        g = np.zeros_like(p)
        for i in np.ndindex(p.shape):
            old = p[i]; p[i] = old + eps; up = f(p); p[i] = old - eps; down = f(p); p[i] = old
            g[i] = (up - down) / (2 * eps)
        return g

    for wrapper in (through_module, through_name, numerical_gradient):
        with pytest.raises(course.CheckFailed):
            defined_in_notebook("numerical_gradient", wrapper, [course.numerical_gradient])
    defined_in_notebook("numerical_gradient", own, [course.numerical_gradient])
