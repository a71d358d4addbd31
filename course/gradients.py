"""Numerical tools for checking gradients, and safe calls into a student's code.

Everything here is generic machinery that hidden tests combine with the
expected answers they build themselves:

- `numerical_gradient(f, x, eps)`: central differences of a scalar function of
  an array, in float64, restoring every entry it perturbs (even if `f` raises);
- `numerical_gradients(loss, params, eps)`: the same for every array of a dict
  of parameters that a no-argument `loss()` reads;
- `relative_error(a, b, floor)`: the largest entrywise relative difference;
- `attempt` / `without_warnings` / `substitute`: call a student's function so
  that an exception or a warning becomes a `CheckFailed` (never stderr), and
  swap names in a namespace for the duration of a check;
- random computation graphs (`random_graph`, `evaluate_graph`,
  `graph_gradient_errors`): the graph is a list of named operations; the
  caller supplies what each name means for a NumPy array and for a student's
  tensor, so this file holds no formula of any exercise.
"""
import contextlib
import warnings
from dataclasses import dataclass, field

import numpy as np

from .checks import CheckFailed
from .diagnose import _as_float_array, diagnose_array, diagnose_shape
from .hints import describe, first_match, record


# --------------------------------------------------------------------------- finite differences

def numerical_gradient(f, x, eps=1e-6):
    """Central-difference gradient of the scalar function `f` at the array `x`.

    A float64 ndarray `x` is perturbed in place (so `f` may read it through a
    closure instead of its argument) and each entry is restored to its exact
    original value before the next one is perturbed, also when `f` raises.
    Any other `x` (a number, a list, an integer array) is first copied to a
    new float64 array, which is what `f` then receives.
    """
    if not (isinstance(x, np.ndarray) and x.dtype == np.float64):
        x = np.array(x, dtype=np.float64)
    eps = float(eps)
    if not eps > 0:
        raise ValueError("eps must be positive")
    grad = np.zeros(x.shape, dtype=np.float64)
    for index in np.ndindex(x.shape):
        original = x[index]
        try:
            x[index] = original + eps
            f_plus = float(f(x))
            x[index] = original - eps
            f_minus = float(f(x))
        finally:
            x[index] = original
        grad[index] = (f_plus - f_minus) / (2.0 * eps)
    return grad


def numerical_gradients(loss, params, eps=1e-6):
    """{name: central-difference gradient of `loss()` w.r.t. params[name]}.

    `loss` takes no argument and reads the arrays of `params` (a dict of
    float64 arrays), which are perturbed in place and restored.
    """
    return {name: numerical_gradient(lambda _: loss(), array, eps) for name, array in params.items()}


def relative_error(a, b, floor=1e-12):
    """max over entries of |a - b| / max(|a| + |b|, floor); 0.0 for empty arrays."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    with np.errstate(all="ignore"):
        ratio = np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), floor)
    if ratio.size == 0:
        return 0.0
    return float(np.max(ratio))


def close_enough(a, b, rtol=1e-5, atol=1e-8):
    """Same shape and |a - b| <= atol + rtol |b| everywhere (nan never passes)."""
    try:
        a = np.asarray(a, dtype=np.float64)
        b = np.asarray(b, dtype=np.float64)
    except Exception:
        return False
    if a.shape != b.shape:
        return False
    with np.errstate(all="ignore"):
        return bool(np.all(np.abs(a - b) <= atol + rtol * np.abs(b)))


def check_gradient(name, student, expected, m=None, mistakes=None, rtol=1e-5, atol=1e-8):
    """Pass silently if `student` matches `expected`; otherwise fail naming the likely mistake.

    The student's value is converted with np.asarray(..., dtype=float) first.
    `mistakes` ({kind: wrong array}, built by the hidden test) is tried before
    the generic `diagnose_array` (shape, sign, factor 2, m, 1/m, transpose...).
    The message names the kind and the expected shape, never a value.
    """
    expected = np.asarray(expected, dtype=np.float64)
    array = _as_float_array(student)
    if array is None:
        fail(f"{name} should be an array of numbers (got a {type(student).__name__}).")
    kind = first_match(array, mistakes or {}, lambda got, wrong: close_enough(got, wrong, rtol, atol))
    if array.shape != expected.shape:
        fail(f"{name} has shape {array.shape}, expected {expected.shape}.",
             kind or diagnose_shape(array, expected), name)
    if not np.all(np.isfinite(array)):
        fail(f"{name} holds nan or inf.", "not_finite", name)
    if close_enough(array, expected, rtol, atol):
        return
    fail(f"{name} is not correct.", kind or diagnose_array(array, expected, m=m), name)


# --------------------------------------------------------------------------- calling student code

def _short(error):
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= 200 else text[:197] + "..."


def fail(message, kind=None, check=None):
    """Raise CheckFailed with `message`, adding (and recording) the hint of `kind` if given."""
    if kind is None:
        raise CheckFailed(message)
    record(check or message, kind)
    raise CheckFailed(f"{message} Hint: {describe(kind)}")


def _call(description, function, args, kwargs):
    """Call `function`; an exception (other than a nested CheckFailed) becomes a CheckFailed."""
    try:
        return function(*args, **kwargs)
    except CheckFailed:
        raise
    except NotImplementedError:
        raise CheckFailed(f"{description}: not implemented yet.") from None
    except Exception as error:
        raise CheckFailed(f"{description} raised {_short(error)}") from None


def attempt(description, function, *args, **kwargs):
    """Call `function`, with NumPy and Python warnings silenced; an exception becomes a CheckFailed.

    `description` names the call for the student ("softmax(Z)"). A
    `CheckFailed` raised inside (by a nested check) passes through unchanged.
    """
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return _call(description, function, args, kwargs)


def without_warnings(description, kind, function, *args, **kwargs):
    """Call `function`; any warning it emits (e.g. overflow in exp) fails the check with `kind`'s hint.

    NumPy floating-point problems (except underflow to zero, which is harmless)
    are turned into warnings for the call and caught, so nothing reaches stderr.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with np.errstate(all="warn", under="ignore"):
            value = _call(description, function, args, kwargs)
    if caught:
        first = caught[0]
        fail(f"{description} emitted a {first.category.__name__} ({first.message}).", kind, description)
    return value


def check_shape(name, value, shape):
    """Fail unless `value` has `shape`, naming the likely mistake (wrong axis, transpose, lost dimension)."""
    array = _as_float_array(value)
    if array is None:
        fail(f"{name} should be an array of numbers (got a {type(value).__name__}).")
    if array.shape != tuple(shape):
        fail(f"{name} has shape {array.shape}, expected {tuple(shape)}.",
             diagnose_shape(array, np.zeros(shape)), name)
    return array


@contextlib.contextmanager
def substitute(namespace, **replacements):
    """Temporarily bind names in `namespace` (e.g. a notebook's globals()), then restore them.

    Lets a check of one function run with trusted versions of the helpers it
    may call, so a mistake elsewhere is not counted twice.
    """
    missing = object()
    saved = {name: namespace.get(name, missing) for name in replacements}
    namespace.update(replacements)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is missing:
                namespace.pop(name, None)
            else:
                namespace[name] = value


def defined_in_notebook(name, function, library_functions=()):
    """Fail unless `function` was written in the notebook, not imported from or delegating to this package.

    A thin wrapper around the library's own tool (`return course.numerical_gradient(...)`)
    is caught too: the names the function's code uses are resolved in its globals
    and closure, and none may lead to one of `library_functions`.
    """
    message = f"{name} must be your own implementation, not one taken from the course package."
    if any(function is other for other in library_functions):
        raise CheckFailed(message)
    module = getattr(function, "__module__", None)
    if module is not None and module.split(".")[0] == "course":
        raise CheckFailed(message)
    if _reaches(function, library_functions):
        raise CheckFailed(message)


def _code_names(code):
    """Every global/attribute name used by a code object and the code objects nested in it."""
    names = set(code.co_names) | set(code.co_freevars)
    for constant in code.co_consts:
        if hasattr(constant, "co_names"):
            names |= _code_names(constant)
    return names


def _reaches(function, library_functions):
    code = getattr(function, "__code__", None)
    if code is None or not library_functions:
        return False
    names = _code_names(code)
    library_names = {getattr(f, "__name__", "") for f in library_functions}
    scope = dict(getattr(function, "__globals__", {}))
    for cell_name, cell in zip(code.co_freevars, getattr(function, "__closure__", None) or ()):
        try:
            scope[cell_name] = cell.cell_contents
        except ValueError:
            continue
    for used in names:
        value = scope.get(used)
        if any(value is other for other in library_functions):
            return True
        is_course_module = getattr(value, "__name__", "").split(".")[0] == "course" and hasattr(value, "__path__") or \
            getattr(value, "__name__", "").startswith("course.")
        if is_course_module and names & library_names:
            return True
    return False


# --------------------------------------------------------------------------- random computation graphs

BINARY = ("add", "sub", "mul")
WITH_CONSTANT = ("add_const", "radd_const", "sub_const", "rsub_const", "mul_const", "rmul_const", "pow")

ARITHMETIC = {
    "add": lambda x, y: x + y,
    "sub": lambda x, y: x - y,
    "mul": lambda x, y: x * y,
    "neg": lambda x: -x,
    "add_const": lambda x, c: x + c,
    "radd_const": lambda x, c: c + x,
    "sub_const": lambda x, c: x - c,
    "rsub_const": lambda x, c: c - x,
    "mul_const": lambda x, c: x * c,
    "rmul_const": lambda x, c: c * x,
    "pow": lambda x, c: x ** c,
}
"""Operations that mean the same for NumPy arrays and for a tensor class with operator overloading."""

SYMBOLS = {
    "add": "({} + {})", "sub": "({} - {})", "mul": "({} * {})", "neg": "(-{})",
    "add_const": "({} + {c})", "radd_const": "({c} + {})", "sub_const": "({} - {c})",
    "rsub_const": "({c} - {})", "mul_const": "({} * {c})", "rmul_const": "({c} * {})",
    "pow": "({} ** {c})",
}


@dataclass
class Graph:
    """A computation: input arrays, then steps (op name, operand indices, constant).

    Values are numbered inputs first, then one per step; the last step's value
    is the output (a scalar when the last op is a reduction such as "sum").
    """
    inputs: list
    steps: list = field(default_factory=list)

    def describe(self, names="abcdefgh"):
        """A readable formula, e.g. 'sum(sigmoid((a * b)) + a)' (shapes in the input names)."""
        texts = [f"{names[i]}{'' if x.ndim == 0 else list(x.shape)}" for i, x in enumerate(self.inputs)]
        for op, operands, constant in self.steps:
            args = [texts[i] for i in operands]
            if op in SYMBOLS:
                texts.append(SYMBOLS[op].format(*args, c=constant))
            else:
                texts.append(f"{op}({', '.join(args)})")
        return texts[-1]


def evaluate_graph(graph, inputs, ops):
    """Run `graph` on `inputs` (arrays or tensors), with `ops` mapping each op name to a function."""
    values = list(inputs)
    for op, operands, constant in graph.steps:
        args = [values[i] for i in operands]
        if constant is not None:
            args.append(constant)
        values.append(ops[op](*args))
    return values


def random_graph(seed, numpy_ops, unary=("relu", "sigmoid"), reduce="sum", n_inputs=3, n_steps=6,
                 shape=(3,), kinks=None, margin=1e-3, tries=100):
    """A random graph with a reused node and scalar-array broadcasting.

    Inputs: at least one scalar (shape ()) and at least one array of `shape`,
    entries of magnitude 0.3 to 1.5 with random signs. Each step applies a
    random operation to the previous value (and, for binary ones, to a random
    earlier value, possibly the same one), so values are reused; inputs not
    yet used are combined in first. The graph ends with an intermediate value
    used a second time, then `reduce`.

    `numpy_ops` must give every op name (including `unary` and `reduce`) a
    NumPy meaning; it is used to redraw graphs in which an op listed in
    `kinks` ({op name: kink location}) gets an input within `margin` of its
    kink, where finite differences are meaningless.
    """
    ops = {**ARITHMETIC, **numpy_ops}
    kinks = kinks or {}
    for attempt_number in range(tries):
        rng = np.random.default_rng([seed, attempt_number])
        shapes = [(), tuple(shape)] + [((), tuple(shape))[int(rng.integers(2))] for _ in range(n_inputs - 2)]
        shapes = [shapes[i] for i in rng.permutation(len(shapes))]
        inputs = [rng.uniform(0.3, 1.5, size=s) * rng.choice([-1.0, 1.0], size=s) for s in shapes]
        inputs = [np.array(x, dtype=np.float64) for x in inputs]
        graph = Graph(inputs)
        unused = list(range(1, n_inputs))
        current = 0
        choices = list(BINARY) * 2 + list(WITH_CONSTANT) + ["neg"] + list(unary) * 2
        for step in range(n_steps):
            count = n_inputs + step
            if unused:
                op, operands, constant = str(rng.choice(BINARY)), (current, unused.pop(0)), None
            else:
                op = str(rng.choice(choices))
                constant = None
                if op in BINARY:
                    operands = (current, int(rng.integers(count)))
                else:
                    operands = (current,)
                    if op == "pow":
                        constant = int(rng.choice([2, 3]))
                    elif op in WITH_CONSTANT:
                        constant = float(rng.choice([-1.5, -0.5, 0.5, 2.0]))
            graph.steps.append((op, operands, constant))
            current = count
        # reuse an intermediate value (not the last) once more, then reduce
        earlier = int(rng.integers(n_inputs, n_inputs + n_steps - 1))
        graph.steps.append(("mul" if rng.integers(2) else "add", (current, earlier), None))
        graph.steps.append((reduce, (n_inputs + n_steps,), None))
        if not _near_kink(graph, ops, kinks, margin):
            return graph
    raise RuntimeError("could not draw a graph away from the kinks")


def _near_kink(graph, ops, kinks, margin):
    with np.errstate(all="ignore"):
        values = evaluate_graph(graph, graph.inputs, ops)
    for op, operands, _ in graph.steps:
        if op in kinks and np.any(np.abs(np.asarray(values[operands[0]]) - kinks[op]) < margin):
            return True
    return not all(np.all(np.isfinite(np.asarray(v, dtype=float))) for v in values)


def numpy_graph_gradients(graph, numpy_ops, eps=1e-6):
    """Central-difference gradients of the graph's output w.r.t. each input."""
    ops = {**ARITHMETIC, **numpy_ops}
    inputs = [x.copy() for x in graph.inputs]

    def output(_):
        with np.errstate(all="ignore"):
            return float(evaluate_graph(graph, inputs, ops)[-1])

    return [numerical_gradient(output, x, eps) for x in inputs]


def tensor_graph_gradients(graph, tensor_class, tensor_ops):
    """Build the graph from fresh `tensor_class(input)` leaves, call backward() on the output,
    and return (output value, [leaf .grad as float64 arrays]).

    Exceptions propagate: callers wrap this in `attempt`.
    """
    ops = {**ARITHMETIC, **tensor_ops}
    leaves = [tensor_class(x.copy()) for x in graph.inputs]
    values = evaluate_graph(graph, leaves, ops)
    values[-1].backward()
    return (np.asarray(values[-1].data, dtype=np.float64),
            [np.asarray(leaf.grad, dtype=np.float64) for leaf in leaves])


def graph_gradient_errors(graph, tensor_class, tensor_ops, numpy_ops, eps=1e-6, rtol=1e-5, atol=1e-7):
    """Compare a tensor class on `graph` with NumPy finite differences.

    Returns a list of problems, each (input index, what): "value" (the output
    differs), "shape" (a gradient's shape is not its input's) or "gradient"
    (the values differ). An empty list means the tensor class agrees.
    """
    expected_out = evaluate_graph(graph, graph.inputs, {**ARITHMETIC, **numpy_ops})[-1]
    expected = numpy_graph_gradients(graph, numpy_ops, eps)
    value, grads = tensor_graph_gradients(graph, tensor_class, tensor_ops)
    problems = []
    if not close_enough(value, expected_out, 1e-9, 1e-12):
        problems.append((None, "value"))
    for index, (got, want) in enumerate(zip(grads, expected)):
        if got.shape != want.shape:
            problems.append((index, "shape"))
        elif not close_enough(got, want, rtol, atol):
            problems.append((index, "gradient"))
    return problems
