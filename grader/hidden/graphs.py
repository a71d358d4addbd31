"""Random computation graphs: the grader draws one, the student's Tensor class evaluates it.

A graph is a list of named operations on numbered values (inputs first). The
grader evaluates it with NumPy (and central differences for its gradients); the
student's class evaluates it through `tensor_code`, a short snippet of operators
(`a * b`, `(a + 2.0).relu()`, `y.sum()`) run in the kernel, whose result comes
back as data: the output's value and every leaf's `.grad`.
"""
from dataclasses import dataclass, field

import numpy as np

from .references import central_gradient

BINARY = ("add", "sub", "mul")
WITH_CONSTANT = ("add_const", "radd_const", "sub_const", "rsub_const", "mul_const", "rmul_const", "pow")

ARITHMETIC = {
    "add": lambda x, y: x + y, "sub": lambda x, y: x - y, "mul": lambda x, y: x * y, "neg": lambda x: -x,
    "add_const": lambda x, c: x + c, "radd_const": lambda x, c: c + x,
    "sub_const": lambda x, c: x - c, "rsub_const": lambda x, c: c - x,
    "mul_const": lambda x, c: x * c, "rmul_const": lambda x, c: c * x, "pow": lambda x, c: x ** c,
}
"""Operations that mean the same for NumPy arrays and for a tensor class with operator overloading."""

FORMULAS = {
    "add": "({} + {})", "sub": "({} - {})", "mul": "({} * {})", "neg": "(-{})",
    "add_const": "({} + {c})", "radd_const": "({c} + {})", "sub_const": "({} - {c})",
    "rsub_const": "({c} - {})", "mul_const": "({} * {c})", "rmul_const": "({c} * {})",
    "pow": "({} ** {c})", "relu": "{}.relu()", "sigmoid": "{}.sigmoid()", "sum": "{}.sum()",
}


@dataclass
class Graph:
    """Input arrays, then steps (op name, operand indices, constant); the last value is the output."""
    inputs: list
    steps: list = field(default_factory=list)

    def describe(self, names="abcdefgh"):
        """A readable formula, e.g. 'sum(sigmoid((a * b)) + a)' (shapes in the input names)."""
        texts = [f"{names[i]}{'' if x.ndim == 0 else list(x.shape)}" for i, x in enumerate(self.inputs)]
        for op, operands, constant in self.steps:
            args = [texts[i] for i in operands]
            texts.append(FORMULAS[op].format(*args, c=constant) if op in ARITHMETIC
                         else f"{op}({', '.join(args)})")
        return texts[-1]


def evaluate_graph(graph, inputs, ops):
    """Run `graph` on `inputs`, with `ops` mapping each op name to a NumPy function."""
    values = list(inputs)
    for op, operands, constant in graph.steps:
        args = [values[i] for i in operands] + ([] if constant is None else [constant])
        values.append({**ARITHMETIC, **ops}[op](*args))
    return values


def numpy_gradients(graph, ops, eps=1e-6):
    """Central-difference gradients of the graph's output with respect to each input."""
    inputs = [x.copy() for x in graph.inputs]

    def output(_):
        with np.errstate(all="ignore"):
            return float(evaluate_graph(graph, inputs, ops)[-1])
    return [central_gradient(output, x, eps) for x in inputs]


def tensor_code(graph, tensor="Tensor"):
    """Snippet for `student.evaluate(code, x0=..., x1=...)`: builds the graph from `tensor(x_i)`
    leaves, calls backward() on the output; its value is (output data, [leaf grads])."""
    lines = [f"v{i} = {tensor}(x{i}.copy())" for i in range(len(graph.inputs))]
    count = len(graph.inputs)
    for k, (op, operands, constant) in enumerate(graph.steps):
        lines.append(f"v{count + k} = " + FORMULAS[op].format(*[f"v{i}" for i in operands], c=repr(constant)))
    last = count + len(graph.steps) - 1
    lines.append(f"v{last}.backward()")
    leaves = ", ".join(f"v{i}.grad" for i in range(count))
    lines.append(f"(v{last}.data, [{leaves}])")
    return "\n".join(lines)


def random_graph(seed, numpy_ops, unary=("relu", "sigmoid"), reduce="sum", n_inputs=3, n_steps=6,
                 shape=(3,), kinks=None, margin=1e-3, tries=100):
    """A random graph with a reused node and scalar-array broadcasting.

    Inputs: at least one scalar and one array of `shape`, entries of magnitude 0.3
    to 1.5 with random signs. Each step applies a random operation to the previous
    value (binary ones also to a random earlier value, possibly the same), inputs
    not yet used first. The graph ends by using an intermediate value again, then
    `reduce`. Graphs where an op of `kinks` ({op: kink}) sees an input within
    `margin` of its kink are drawn again (finite differences mean nothing there).
    """
    kinks = kinks or {}
    for attempt in range(tries):
        rng = np.random.default_rng([seed, attempt])
        shapes = [(), tuple(shape)] + [((), tuple(shape))[int(rng.integers(2))] for _ in range(n_inputs - 2)]
        shapes = [shapes[i] for i in rng.permutation(len(shapes))]
        inputs = [np.array(rng.uniform(0.3, 1.5, size=s) * rng.choice([-1.0, 1.0], size=s), dtype=np.float64)
                  for s in shapes]
        graph = Graph(inputs)
        unused, current = list(range(1, n_inputs)), 0
        choices = list(BINARY) * 2 + list(WITH_CONSTANT) + ["neg"] + list(unary) * 2
        for step in range(n_steps):
            count = n_inputs + step
            if unused:
                op, operands, constant = str(rng.choice(BINARY)), (current, unused.pop(0)), None
            else:
                op, constant = str(rng.choice(choices)), None
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
        earlier = int(rng.integers(n_inputs, n_inputs + n_steps - 1))
        graph.steps.append(("mul" if rng.integers(2) else "add", (current, earlier), None))
        graph.steps.append((reduce, (n_inputs + n_steps,), None))
        if not _near_kink(graph, numpy_ops, kinks, margin):
            return graph
    raise RuntimeError("could not draw a graph away from the kinks")


def _near_kink(graph, ops, kinks, margin):
    with np.errstate(all="ignore"):
        values = evaluate_graph(graph, graph.inputs, ops)
    for op, operands, _ in graph.steps:
        if op in kinks and np.any(np.abs(np.asarray(values[operands[0]]) - kinks[op]) < margin):
            return True
    return not all(np.all(np.isfinite(np.asarray(v, dtype=float))) for v in values)
