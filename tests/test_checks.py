"""Unit tests of the array and number checks: the student package `course` (values, diagnose,
calls, slopes, hints) and the grader's reference computations and random graphs
(`grader.hidden.references`, `grader.hidden.graphs`)."""
import ast
import importlib
import pkgutil
import warnings

import numpy as np
import pytest

import course
from course import CheckFailed, Mistakes, check_array, check_number, check_shape, check_unchanged
from course.diagnose import diagnose_array, diagnose_shape
from course.hints import KINDS, describe
from grader.hidden import references
from grader.hidden.graphs import ARITHMETIC, evaluate_graph, numpy_gradients, random_graph, tensor_code
from grader.hidden.references import central_gradient as numerical_gradient
from grader.hidden.references import central_gradients as numerical_gradients
from grader.hidden.references import largest_relative_error as relative_error

ANSWERS = ("numerical_gradient", "numerical_gradients", "relative_error", "check_gradient")


# --------------------------------------------------------------------------- what the student package holds

def test_the_student_package_exports_no_answers():
    # Students write numerical_gradient and relative_error themselves: the package they import
    # must not hand them over, neither at the top nor in any submodule.
    modules = [course] + [importlib.import_module(f"course.{info.name}")
                          for info in pkgutil.iter_modules(course.__path__)]
    assert len(modules) > 5
    for module in modules:
        present = [name for name in ANSWERS if hasattr(module, name)]
        assert present == [], f"{module.__name__} exports {present}"
    assert set(ANSWERS).isdisjoint(course.__all__)
    # ... while the grader has the references, under names no exercise uses (hidden tests
    # star-import them; under nbval that import runs in the notebook's own namespace)
    assert not set(ANSWERS) & set(dir(references))
    assert all(callable(getattr(references, name))
               for name in ("central_gradient", "central_gradients", "largest_relative_error"))


# --------------------------------------------------------------------------- references.numerical_gradient

def test_central_difference_is_exact_for_quadratics_and_second_order_for_cubics():
    x = np.array([[0.5, -1.0, 2.0], [1.5, 0.3, -0.25]])
    quadratic = numerical_gradient(lambda v: np.sum(3 * v ** 2 - v), x, 1e-3)
    assert np.allclose(quadratic, 6 * x - 1, rtol=0, atol=1e-9)
    eps = 1e-2
    cubic = numerical_gradient(lambda v: np.sum(v ** 3), x, eps)
    # a central difference of v**3 is 3v**2 + eps**2 exactly; a forward one would add 3 v eps
    assert np.allclose(cubic, 3 * x ** 2 + eps ** 2, rtol=0, atol=1e-9)
    assert not np.allclose(cubic, 3 * x ** 2 + 3 * x * eps + eps ** 2, rtol=0, atol=1e-6)


def test_result_is_float64_with_the_shape_of_x():
    for shape in [(), (3,), (2, 3), (2, 1, 2)]:
        x = np.ones(shape)
        grad = numerical_gradient(lambda v: float(np.sum(v)), x)
        assert grad.shape == shape and grad.dtype == np.float64
        assert np.allclose(grad, 1.0)


def test_perturbs_in_place_so_a_closure_sees_it_and_restores_every_entry_exactly():
    x = np.random.default_rng(0).uniform(-2, 2, (3, 4))
    original = x.copy()
    grad = numerical_gradient(lambda _ignored: float(np.sum(np.sin(x))), x, 1e-5)
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
        numerical_gradient(f, x, 0.5)
    assert np.array_equal(x, [1.0, 2.0, 3.0])
    assert calls[2][1] == 2.5  # the failing call saw the perturbed entry, which was then restored


def test_non_float64_input_is_copied_not_changed():
    x = np.array([1, 2, 3])
    grad = numerical_gradient(lambda v: float(np.sum(v ** 2)), x, 1e-4)
    assert np.allclose(grad, [2, 4, 6], atol=1e-6)
    assert x.dtype.kind == "i" and np.array_equal(x, [1, 2, 3])
    assert np.isclose(float(numerical_gradient(lambda v: float(v) ** 2, 3.0)), 6.0)


def test_eps_must_be_positive():
    for eps in (0.0, -1e-3):
        with pytest.raises(ValueError):
            numerical_gradient(lambda v: float(np.sum(v)), np.ones(2), eps)


def test_numerical_gradients_of_a_parameter_dict():
    params = {"W": np.array([[1.0, -2.0]]), "b": np.array([[0.5]])}
    keep = {k: v.copy() for k, v in params.items()}
    loss = lambda: float(np.sum((params["W"] * 3.0 + params["b"]) ** 2))
    grads = numerical_gradients(loss, params)
    z = keep["W"] * 3.0 + keep["b"]
    assert np.allclose(grads["W"], 6 * z, atol=1e-7)
    assert np.allclose(grads["b"], 2 * z.sum(), atol=1e-7)
    assert all(np.array_equal(params[k], keep[k]) for k in params)


# --------------------------------------------------------------------------- references.relative_error, close_enough

def test_relative_error_is_the_worst_entry_symmetric_and_floored():
    a, b = np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 4.0])
    assert relative_error(a, b) == pytest.approx(1 / 7)
    assert relative_error(b, a) == relative_error(a, b)
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error(0.0, 1e-13) == pytest.approx(1e-13 / 1e-12)
    assert relative_error(0.0, 1e-13, floor=1e-20) == pytest.approx(1.0)
    assert relative_error(np.array([]), np.array([])) == 0.0
    assert isinstance(relative_error(1, 2), float)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert relative_error([0.0, 1.0], [0.0, 1.0]) == 0.0


def test_close_enough_needs_same_shape_and_finite_values():
    assert course.close_enough([1.0, 2.0], [1.0, 2.0 + 1e-9])
    assert not course.close_enough([1.0, 2.0], [[1.0, 2.0]])
    assert not course.close_enough([np.nan], [np.nan])
    assert not course.close_enough([np.inf], [np.inf])
    assert not course.close_enough(["x"], [1.0])


def test_close_enough_is_the_one_tolerance_rule():
    # |got - expected| <= atol + rtol |expected|: relative to the EXPECTED value, not symmetric
    assert course.close_enough(1.0 + 0.9e-5, 1.0, rtol=1e-5, atol=0.0)
    assert not course.close_enough(1.0 + 1.1e-5, 1.0, rtol=1e-5, atol=0.0)
    assert course.close_enough(0.5e-8, 0.0)  # the default atol covers an expected zero
    assert not course.close_enough(1e-6, 0.0)
    assert course.close_enough(2.0, 1.0, rtol=0.0, atol=1.0) and not course.close_enough(2.0, 1.0, rtol=0.0, atol=0.99)
    assert course.close_enough(1.0, 2.0, rtol=0.6, atol=0.0) and not course.close_enough(2.0, 1.0, rtol=0.6, atol=0.0)


# --------------------------------------------------------------------------- check_array / check_shape

def test_check_array_passes_and_names_mistakes_without_values():
    right = np.array([[0.25, -0.5], [1.5, 2.0]])
    check_array("dW", right + 1e-12, right)
    check_array("dW", right.tolist(), right)  # converted, not type-checked
    with pytest.raises(CheckFailed) as error:
        check_array("dW", 4 * right, right, m=4)
    assert KINDS["missing_mean"] in str(error.value)
    assert "0.25" not in str(error.value) and "1.5" not in str(error.value)
    with pytest.raises(CheckFailed) as error:
        check_array("dW", right + 1.0, right, mistakes={"missing_mask": right + 1.0})
    assert KINDS["missing_mask"] in str(error.value)
    with pytest.raises(CheckFailed) as error:
        check_array("dW", right + [[0, 0], [0, 1]], right)
    assert "Hint" not in str(error.value)


def test_check_array_tries_the_mistakes_before_the_diagnosis():
    # 2 * right would be diagnosed "factor_of_two"; the hidden test's own variant wins
    right = np.array([1.0, -2.0, 3.0])
    with pytest.raises(CheckFailed) as error:
        check_array("v", 2 * right, right, mistakes={"missing_chain_factor": 2 * right})
    assert KINDS["missing_chain_factor"] in str(error.value) and KINDS["factor_of_two"] not in str(error.value)
    # and a mistake of another shape beats diagnose_shape
    with pytest.raises(CheckFailed) as error:
        check_array("v", right[:2], right, mistakes={"off_by_one_layers": right[:2]})
    assert KINDS["off_by_one_layers"] in str(error.value)


def test_check_array_default_tolerance():
    right = np.array([1.0, 1e-3, 0.0])
    check_array("v", right * (1 + 0.9e-6), right)
    with pytest.raises(CheckFailed):
        check_array("v", right * (1 + 1e-5), right)
    check_array("v", right + [0, 0, 0.9e-9], right)
    with pytest.raises(CheckFailed):
        check_array("v", right + [0, 0, 1e-8], right)


def test_check_array_diagnoses_shapes_and_non_finite_values():
    right = np.ones((4, 1))
    with pytest.raises(CheckFailed) as error:
        check_array("db", np.ones((1, 7)), right)
    assert KINDS["wrong_axis"] in str(error.value) and "(4, 1)" in str(error.value)
    with pytest.raises(CheckFailed) as error:
        check_array("db", np.array([[np.nan], [1], [1], [1]]), right)
    assert KINDS["not_finite"] in str(error.value)
    with pytest.raises(CheckFailed) as error:
        check_array("db", "abc", right)
    assert "array of numbers" in str(error.value)
    with pytest.raises(CheckFailed, match="not defined"):
        check_array("db", None, right)


def test_check_shape():
    assert check_shape("db", [[1.0], [2.0]], (2, 1)).shape == (2, 1)
    with pytest.raises(CheckFailed) as error:
        check_shape("db", np.ones(2), (2, 1))
    assert KINDS["dropped_dimension"] in str(error.value)


# --------------------------------------------------------------------------- check_number, Mistakes, check_unchanged

def test_check_number_is_relative_for_tiny_values():
    with pytest.raises(CheckFailed):
        check_number("bound", 0.0, 0.25 ** 49)
    check_number("bound", 0.25 ** 49 * (1 + 1e-9), 0.25 ** 49)
    check_number("zero", 1e-12, 0.0, atol=1e-9)
    with pytest.raises(CheckFailed, match="not_finite|nan or inf|Hint"):
        check_number("x", float("nan"), 1.0)


def test_check_number_is_not_fooled_by_an_object_equal_to_everything():
    class Anything(float):
        def __eq__(self, other):
            return True

        __hash__ = float.__hash__

    with pytest.raises(CheckFailed):
        check_number("p", Anything(3.0), 0.5)
    with pytest.raises(CheckFailed, match="string"):
        check_number("p", "0.5", 0.5)


def test_mistakes_allow_one_kind_several_times_and_work_with_check_number():
    mistakes = Mistakes([("wrong_step", 1.0), ("wrong_step", 2.0), ("sign_error", -5.0)])
    assert [kind for kind, _ in mistakes.items()] == ["wrong_step", "wrong_step", "sign_error"]
    with pytest.raises(CheckFailed, match="step"):
        check_number("v", 2.0, 5.0, mistakes=mistakes)
    with pytest.raises(CheckFailed) as raised:
        check_number("v", -5.0, 5.0, mistakes=mistakes)
    assert describe("sign_error") in str(raised.value)
    with pytest.raises(ValueError):
        Mistakes([("no_such_kind", 1.0)])


def test_mistakes_work_with_check_array():
    with pytest.raises(CheckFailed, match="layers"):
        check_array("b", [0.25, 0.0625], [1.0, 0.25],
                    mistakes=Mistakes([("off_by_one_layers", [4.0, 1.0]), ("off_by_one_layers", [0.25, 0.0625])]))


def test_check_unchanged_names_the_argument_and_the_mistake():
    before = {"z": np.array([1.0, -1.0])}
    check_unchanged("f", before, {"z": np.array([1.0, -1.0])})
    with pytest.raises(CheckFailed, match="changed its argument z") as raised:
        check_unchanged("f", before, {"z": np.array([1.0, 0.0])})
    assert describe("mutates_input") in str(raised.value)


def test_check_unchanged_treats_nan_as_equal_to_itself():
    check_unchanged("f", {"z": np.array([np.nan, 1.0])}, {"z": np.array([np.nan, 1.0])})
    with pytest.raises(CheckFailed):
        check_unchanged("f", {"z": np.array([np.nan, 1.0])}, {"z": np.array([np.nan, 2.0])})


# --------------------------------------------------------------------------- attempt / without_warnings

def test_attempt_silences_warnings_and_returns_the_value():
    def noisy():
        np.exp(np.array([1000.0]))
        warnings.warn("careful")
        return 7

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert course.attempt("noisy()", noisy) == 7
        assert course.attempt("add(2, 3)", lambda a, b=0: a + b, 2, b=3) == 5


def test_attempt_lets_the_students_exception_through_with_a_note_naming_the_call():
    def students_softmax(z):
        return z / 0

    with pytest.raises(ZeroDivisionError) as raised:
        course.attempt("softmax(Z)", students_softmax, 1.0)
    assert not isinstance(raised.value, CheckFailed)
    assert any("softmax(Z)" in note for note in getattr(raised.value, "__notes__", []))
    assert raised.traceback[-1].name == "students_softmax"  # the student's own line is in the traceback


def test_attempt_not_implemented_and_nested_checks():
    def todo():
        raise NotImplementedError()

    with pytest.raises(CheckFailed, match=r"^g\(\): not implemented yet\.$"):
        course.attempt("g()", todo)
    with pytest.raises(CheckFailed, match="^inner$") as raised:
        course.attempt("h()", lambda: course.fail("inner"))
    assert not getattr(raised.value, "__notes__", None)  # a nested check passes through unchanged


def test_without_warnings_fails_on_overflow_with_the_hint_and_nothing_escapes():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(CheckFailed) as error:
            course.without_warnings("naive(z)", "unstable", lambda z: 1 / (1 + np.exp(-z)), np.array([-1000.0]))
        assert KINDS["unstable"] in str(error.value) and "RuntimeWarning" in str(error.value)
        assert "naive(z)" in str(error.value)
        # underflow to zero is harmless and allowed
        assert course.without_warnings("exp", "unstable", np.exp, np.array([-1000.0]))[0] == 0.0
        # the student's own exception is theirs (no longer a CheckFailed)
        with pytest.raises(ValueError):
            course.without_warnings("bad", "unstable", lambda: int("x"))
        with pytest.raises(CheckFailed, match="not implemented yet"):
            course.without_warnings("todo", "unstable", lambda: (_ for _ in ()).throw(NotImplementedError()))


# --------------------------------------------------------------------------- course.estimate_gradient

def test_estimate_gradient_is_accurate_on_smooth_functions():
    rng = np.random.default_rng(4)
    x = rng.uniform(-2, 2, (3, 4))
    got = course.estimate_gradient(lambda v: float(np.sum(np.sin(v) * np.exp(v / 2))), x)
    want = np.cos(x) * np.exp(x / 2) + np.sin(x) * np.exp(x / 2) / 2
    assert np.allclose(got, want, rtol=0, atol=1e-8)
    w = rng.standard_normal((4, 2))
    got = course.estimate_gradient(lambda v: float(np.sum(np.tanh(v @ w))), x)
    assert np.allclose(got, (1 - np.tanh(x @ w) ** 2) @ w.T, rtol=0, atol=1e-8)


def test_estimate_gradient_is_not_the_central_difference_with_the_same_step():
    # The five-point stencil is exact for quartics; a central difference with step h is off by 4 x h**2.
    x = np.array([0.7, -1.3, 2.0])
    got = course.estimate_gradient(lambda v: float(np.sum(v ** 4)), x, step=1e-3)
    assert np.allclose(got, 4 * x ** 3, rtol=0, atol=1e-8)
    central = numerical_gradient(lambda v: float(np.sum(v ** 4)), x.copy(), 1e-3)
    assert not np.allclose(central, 4 * x ** 3, rtol=0, atol=1e-6)


def test_estimate_gradient_never_modifies_its_argument():
    x = np.random.default_rng(5).uniform(-1, 1, (2, 3))
    original = x.copy()
    seen = []

    def f(v):
        seen.append(v is x)
        v[...] = 0.0  # even a function that scribbles on what it gets cannot reach x
        return 0.0

    course.estimate_gradient(f, x)
    assert np.array_equal(x, original) and seen and not any(seen)
    # a closure that reads x therefore sees no change at all (a true slope here would be 2x)
    assert np.allclose(course.estimate_gradient(lambda _: float(np.sum(x ** 2)), x), 0.0, rtol=0, atol=1e-10)
    assert np.array_equal(x, original)


def test_estimate_gradient_shapes_and_types():
    for shape in [(), (3,), (2, 1, 2)]:
        grad = course.estimate_gradient(lambda v: float(np.sum(2 * v)), np.ones(shape))
        assert grad.shape == shape and grad.dtype == np.float64 and np.allclose(grad, 2.0)
    ints = np.array([1, 2, 3])
    assert np.allclose(course.estimate_gradient(lambda v: float(np.sum(v ** 2)), ints), [2, 4, 6], atol=1e-8)
    assert ints.dtype.kind == "i" and np.array_equal(ints, [1, 2, 3])


# --------------------------------------------------------------------------- random graphs

def _sigmoid(t):
    return np.exp(-np.logaddexp(0.0, -np.asarray(t, dtype=float)))


NUMPY_OPS = {"relu": lambda v: np.maximum(v, 0.0), "sigmoid": _sigmoid, "sum": np.sum}


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


def _run_tensor_code(graph, tensor_class):
    """What a kernel does with `tensor_code(graph)`: run it with Tensor and x0, x1, ... defined and
    give back the value of its last line, (output data, [leaf grads])."""
    namespace = {"Tensor": tensor_class, **{f"x{i}": x for i, x in enumerate(graph.inputs)}}
    tree = ast.parse(tensor_code(graph))
    last = tree.body.pop()
    assert isinstance(last, ast.Expr), "the snippet's value is its last line"
    exec(compile(tree, "<tensor_code>", "exec"), namespace)
    return eval(compile(ast.Expression(last.value), "<tensor_code>", "eval"), namespace)


def _problems(graph, tensor_class, rtol=1e-5, atol=1e-7):
    """[(input index or None, "value" | "shape" | "gradient")]: where the tensor class disagrees with NumPy."""
    expected_out = evaluate_graph(graph, graph.inputs, NUMPY_OPS)[-1]
    expected = numpy_gradients(graph, NUMPY_OPS)
    value, grads = _run_tensor_code(graph, tensor_class)
    problems = []
    if not course.close_enough(value, expected_out, 1e-9, 1e-12):
        problems.append((None, "value"))
    for index, (got, want) in enumerate(zip(grads, expected)):
        got = np.asarray(got, dtype=float)
        if got.shape != want.shape:
            problems.append((index, "shape"))
        elif not course.close_enough(got, want, rtol, atol):
            problems.append((index, "gradient"))
    return problems


def _uses(graph):
    counts = {}
    for _, operands, _ in graph.steps:
        for index in operands:
            counts[index] = counts.get(index, 0) + 1
    return counts


def test_random_graphs_are_deterministic_broadcasting_and_reuse_a_node():
    for seed in range(12):
        graph = random_graph(seed, NUMPY_OPS, kinks={"relu": 0.0}, shape=(2, 3))
        again = random_graph(seed, NUMPY_OPS, kinks={"relu": 0.0}, shape=(2, 3))
        assert graph.steps == again.steps and all(np.array_equal(a, b) for a, b in zip(graph.inputs, again.inputs))
        shapes = {x.shape for x in graph.inputs}
        assert shapes == {(), (2, 3)}
        uses = _uses(graph)
        n_inputs = len(graph.inputs)
        assert all(uses.get(i, 0) >= 1 for i in range(n_inputs)), "every input is used"
        assert any(count >= 2 for index, count in uses.items() if index >= n_inputs), "an intermediate node is reused"
        assert graph.steps[-1][0] == "sum"
        assert "sum(" in graph.describe()
    assert random_graph(1, NUMPY_OPS).steps != random_graph(2, NUMPY_OPS).steps


def test_random_graphs_stay_away_from_kinks():
    for seed in range(20):
        graph = random_graph(seed, NUMPY_OPS, kinks={"relu": 0.0}, margin=0.05)
        values = evaluate_graph(graph, graph.inputs, NUMPY_OPS)
        assert set(ARITHMETIC) >= {op for op, _, _ in graph.steps} - set(NUMPY_OPS)
        for op, operands, _ in graph.steps:
            if op == "relu":
                assert np.min(np.abs(values[operands[0]])) >= 0.05


def test_numpy_gradients_match_a_hand_computed_graph():
    graph = random_graph(3, NUMPY_OPS)
    inputs = [x.copy() for x in graph.inputs]
    grads = numpy_gradients(graph, NUMPY_OPS)
    assert [g.shape for g in grads] == [x.shape for x in graph.inputs]
    assert all(np.array_equal(a, b) for a, b in zip(graph.inputs, inputs)), "the graph's inputs are left alone"
    # the same numbers as a finite difference of evaluate_graph, input by input
    for index, grad in enumerate(grads):
        def output(v, index=index):
            values = list(graph.inputs)
            values[index] = v
            return float(evaluate_graph(graph, values, NUMPY_OPS)[-1])
        assert np.allclose(grad, numerical_gradient(output, graph.inputs[index].copy()), atol=1e-7)


def test_tensor_code_accepts_a_correct_tensor_and_flags_broken_ones():
    graphs = [random_graph(seed, NUMPY_OPS, kinks={"relu": 0.0}, shape=(3,) if seed % 2 else (2, 3))
              for seed in range(10)]
    for graph in graphs:
        assert _problems(graph, _Tensor) == []
    overwrite = [_problems(g, _Overwrite) for g in graphs]
    assert sum(bool(p) for p in overwrite) >= 8
    assert all(what == "gradient" for problems in overwrite for _, what in problems)
    shape_problems = [_problems(g, _NoUnbroadcast) for g in graphs]
    assert all(any(what == "shape" for _, what in problems) for problems in shape_problems)


def test_tensor_code_reports_a_wrong_forward_value():
    class _WrongSigmoid(_Tensor):
        def sigmoid(self):
            out = super().sigmoid()
            out.data = out.data + 0.1
            return out

    graph = next(g for g in (random_graph(s, NUMPY_OPS) for s in range(50))
                 if any(op == "sigmoid" for op, _, _ in g.steps))
    assert (None, "value") in _problems(graph, _WrongSigmoid)


def test_tensor_code_hands_the_tensor_class_copies_of_the_inputs():
    class _Scribbler(_Tensor):
        def __init__(self, data, parents=()):
            super().__init__(data, parents)
            if isinstance(data, np.ndarray) and data.flags.writeable:
                data[...] = 0.0  # a tensor class that writes into the array it was given

    graph = random_graph(7, NUMPY_OPS)
    before = [x.copy() for x in graph.inputs]
    _run_tensor_code(graph, _Scribbler)
    assert all(np.array_equal(a, b) for a, b in zip(graph.inputs, before))
    code = tensor_code(graph)
    assert code.count("Tensor(") == len(graph.inputs) and "backward()" in code


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
             "transposed", "wrong_axis", "dropped_dimension", "wrong_shape", "unstable", "no_unbroadcast",
             "mutates_input", "float_for_exact"}
    assert names <= set(KINDS)
    assert all(describe(kind) == KINDS[kind] for kind in names)
    with pytest.raises(ValueError):
        describe("no_such_kind")
