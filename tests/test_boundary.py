"""The trust boundary: what crosses it, its limits, and a kernel that misbehaves mid-request.

Unit tests of the wire format (grader.boundary.wire, sympy_tree) and of the proxy
against a real sandboxed kernel (grader.boundary.kernel_student), as it is used
while grading: the agent installed before any student code, requests over stdin.
"""
import json
import os
import time

import numpy as np
import pytest
import sympy as sp
from jupyter_core.utils import run_sync

from course.checks import CheckFailed
from grader.boundary import agent, wire
from grader.boundary.kernel_student import KernelGone, KernelStudent
from grader.plugins.execute import INSTALL_AGENT
from grader.sandbox.manager import SandboxKernelManager


def crossed(value):
    """`value` as the grader gets it back from the kernel's agent."""
    return wire.decode(wire.parse(json.dumps(agent.encode(value))))


# ---------------------------------------------------------------- every type that crosses

X, Y = sp.symbols("x y", real=True)


@pytest.mark.parametrize("value", [
    None, True, False, 0, -7, 2**80, 1.5, -0.0, 1e-300, "text", "", [1, [2.5, "a"]], (1, (2, None)),
    {"a": 1, 2: [3], (1, 2): "t"}, {1, "b"}, 1 + 2j,
    np.float64(0.25), np.int32(-3), np.bool_(True), np.complex128(1 - 1j),
    np.arange(6.0).reshape(2, 3), np.array([], dtype=float), np.array([[True, False]]),
    np.arange(4, dtype=np.int8), np.array([1.5, -2.5], dtype=np.float32),
    sp.sin(X**2 + 3 * X) * (2 * X + 3), sp.Rational(1, 2), sp.log(2), sp.pi, sp.E, sp.oo, -sp.oo,
    1 / (1 + sp.exp(-X)), sp.Piecewise((X, X > 0), (0, True)), sp.Heaviside(X), sp.Abs(X - Y),
    sp.Float("0.1", 30), sp.Max(X, 0), sp.sqrt(X**2 + 1),
])
def test_values_cross_unchanged(value):
    back = crossed(value)
    if isinstance(value, np.ndarray):
        assert back.dtype == value.dtype and back.shape == value.shape and np.array_equal(back, value)
    elif isinstance(value, sp.Basic):
        assert back == value and back.free_symbols == value.free_symbols
    else:
        assert type(back) in (type(value), float, complex) and back == value  # NumPy's float64 and complex128 are Python numbers


def test_special_floats_and_big_endian_arrays_cross():
    assert np.isnan(crossed(float("nan"))) and crossed(float("inf")) == float("inf")
    back = crossed(np.array([1.0, 2.0], dtype=">f8"))
    assert back.dtype == np.float64 and back.tolist() == [1.0, 2.0]
    assert crossed(np.array([1, "a"], dtype=object)).tolist() == [1, "a"]


def test_other_objects_arrive_as_their_type_name_only():
    class Tensor:
        def __float__(self):
            raise AssertionError("never called on the grader's side")
    back = crossed(Tensor())
    assert isinstance(back, wire.Opaque) and back.type_name == "Tensor"
    with pytest.raises(TypeError):
        float(back)
    with pytest.raises(CheckFailed, match="got a Tensor"):
        from course.values import as_float
        as_float("x", back)


def test_other_numbers_and_array_likes_cross_as_float_and_array_would_make_them():
    from decimal import Decimal
    from fractions import Fraction

    class Column:
        def __array__(self, dtype=None, copy=None):
            return np.array([1.0, 2.0])
    assert crossed(Fraction(1, 4)) == 0.25 and crossed(Decimal("1.5")) == 1.5
    assert crossed(Column()).tolist() == [1.0, 2.0]


def test_a_float_subclass_crosses_as_its_value():
    class AlwaysEqual(float):
        def __eq__(self, other):
            return True
    back = crossed(AlwaysEqual(3.0))
    assert type(back) is float and back == 3.0 and back != 4.0


# ---------------------------------------------------------------- what is refused

@pytest.mark.parametrize("data, reason", [
    ({"t": "ndarray", "dtype": "<f8", "shape": [3], "data": "AAAA"}, "does not fit"),
    ({"t": "ndarray", "dtype": "|O", "shape": [1], "data": ""}, "not accepted"),
    ({"t": "ndarray", "dtype": "<U3", "shape": [1], "data": ""}, "not accepted"),
    ({"t": "ndarray", "dtype": "<f8", "shape": [-1], "data": ""}, "shape"),
    ({"t": "pickle", "v": "gASV"}, "form"),
    ({"t": "sympy", "v": ["Apply", "Derivative", [["Symbol", "x", {}], ["Symbol", "x", {}]]]}, "sp.diff"),
    ({"t": "sympy", "v": ["Apply", "exec", []]}, "does not accept"),
    ({"t": "sympy", "v": ["Symbol", "x) or __import__('os').system('id') or (x", {}]}, "unusual name"),
    ({"t": "sympy", "v": ["Symbol", "lambda", {}]}, "unusual name"),
    ({"t": "sympy", "v": ["Symbol", "x", {"real": "yes"}]}, "assumptions"),
    ({"t": "sympy", "v": ["Integer", "1" * 200]}, "digits"),
    ({"t": "sympy", "v": ["Rational", "1", "0"]}, "denominator 0"),
    ({"t": "sympy", "v": ["Atom", "Function"]}, "does not accept"),
    ({"t": "dict", "v": [[[1, 2], 3]]}, "key"),
    ({"t": "int", "v": "9" * 5000}, "too large"),
])
def test_malformed_or_dangerous_data_is_refused(data, reason):
    with pytest.raises(wire.BadAnswer, match=reason):
        wire.decode(data)


def test_sizes_and_depth_are_bounded():
    deep = 1
    for _ in range(wire.MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(wire.BadAnswer, match="deeply"):
        wire.decode(deep)
    with pytest.raises(wire.BadAnswer, match="too large"):
        wire.decode([0] * (wire.MAX_ITEMS + 1))
    with pytest.raises(wire.BadAnswer, match="too large"):
        wire.parse("x" * (wire.MAX_TEXT + 1))
    with pytest.raises(wire.BadAnswer, match="not readable"):
        wire.parse("{")
    tree = ["Symbol", "x", {}]
    for _ in range(wire.MAX_SYMPY_NODES + 1):
        tree = ["Apply", "Add", [tree, ["Integer", "1"]]]
    with pytest.raises(wire.BadAnswer):
        wire.decode({"t": "sympy", "v": tree})


def test_expressions_are_rebuilt_without_evaluating_them():
    power = {"t": "sympy", "v": ["Apply", "Pow", [["Integer", "9" * 50], ["Integer", "9" * 50]]]}
    started = time.perf_counter()
    value = wire.decode(power)
    assert isinstance(value, sp.Pow) and time.perf_counter() - started < 1.0


# ---------------------------------------------------------------- the proxy, against a sandboxed kernel

class Kernel:
    """A sandboxed kernel with the agent installed, as GradedExecute sets it up."""

    def __init__(self, zygote=True):
        """Forked from the zygote, as the driver's workers start kernels; or (zygote=False) a fresh
        interpreter in a sandbox of its own, as a plain `nbgrader autograde` does."""
        saved = os.environ.get("COURSE_ZYGOTE")
        os.environ["COURSE_ZYGOTE"] = "1" if zygote else "0"
        try:
            self.km = SandboxKernelManager(kernel_name="python3")
            run_sync(self.km.start_kernel)()
        finally:
            if saved is None:
                os.environ.pop("COURSE_ZYGOTE", None)
            else:
                os.environ["COURSE_ZYGOTE"] = saved
        self.client = self.km.client()
        self.client.start_channels()
        run_sync(self.client.wait_for_ready)(timeout=120)
        assert self.run(INSTALL_AGENT, silent=True)["status"] == "ok"
        self.student = KernelStudent(self.km.get_connection_info(), is_alive=run_sync(self.km.is_alive),
                                     interrupt=run_sync(self.km.interrupt_kernel))

    def run(self, code, silent=False):
        reply = run_sync(self.client.execute_interactive)(code, silent=silent, timeout=60)
        return reply["content"]

    def close(self):
        self.student.close()
        self.client.stop_channels()
        run_sync(self.km.shutdown_kernel)(now=True)


@pytest.fixture
def kernel():
    started = Kernel()
    yield started
    started.close()


@pytest.fixture(params=["zygote", "fresh"])
def either_kernel(request):
    started = Kernel(zygote=request.param == "zygote")
    yield started
    started.close()


def cell(kernel, seconds=10):
    kernel.student.begin(seconds)
    return kernel.student


@pytest.mark.slow
def test_values_calls_and_snippets(kernel):
    kernel.run("import numpy as np, sympy as sp\nx = sp.Symbol('x', real=True)\nexpr = sp.sin(x)**2\n"
               "def scale(a, factor=2.0):\n    return a * factor\n"
               "class Tensor:\n    def __init__(self, data):\n        self.data = np.asarray(data, dtype=float)\n"
               "    def __mul__(self, other):\n        return Tensor(self.data * other)\n")
    student = cell(kernel)
    assert student.value("expr") == sp.sin(sp.Symbol("x", real=True)) ** 2
    assert np.array_equal(student.call("scale", np.arange(3.0), factor=3.0), [0.0, 3.0, 6.0])
    assert student.evaluate("(Tensor([1.0, 2.0]) * k).data", "a snippet", k=2.0).tolist() == [2.0, 4.0]
    assert isinstance(student.evaluate("Tensor([1.0])", "an object"), wire.Opaque)
    with pytest.raises(CheckFailed, match="nope is not defined"):
        student.value("nope")
    with pytest.raises(CheckFailed, match=r"scale\(\.\.\.\) raised TypeError"):
        student.call("scale", "a", "b")
    student.end()
    # the notebook's namespace is as it was: the snippet ran in a copy
    assert kernel.run("assert 'k' not in globals()")["status"] == "ok"


@pytest.mark.slow
def test_arguments_after_the_call_and_warnings(kernel):
    kernel.run("import numpy as np\ndef mutate(a):\n    a[0] = 99.0\n    return a.sum()\n"
               "def noisy(z):\n    return np.exp(z)\n")
    student = cell(kernel)
    total, (after,) = student.call("mutate", np.zeros(3), return_args=True)
    assert total == 99.0 and after.tolist() == [99.0, 0.0, 0.0]
    assert np.isinf(student.call("noisy", np.array([1000.0]))[0])  # ignored unless asked for
    with pytest.raises(CheckFailed, match="RuntimeWarning.*Hint: Not numerically stable"):
        student.call("noisy", np.array([1000.0]), warning_hint="unstable")
    student.end()


@pytest.mark.slow
def test_trusted_helpers_answer_from_the_grader_and_only_during_their_call(kernel):
    kernel.run("import numpy as np\n"
               "def sigmoid(z):\n    return 0 * z\n"
               "def uses(z):\n    global kept\n    kept = sigmoid\n    return sigmoid(z) * 2\n"
               "def later(z):\n    return kept(z)\n")
    student = cell(kernel)
    reference = lambda z: 1 / (1 + np.exp(-np.asarray(z, dtype=float)))  # noqa: E731
    got = student.call("uses", np.array([0.0, 2.0]), trusted={"sigmoid": reference})
    assert np.allclose(got, 2 * reference(np.array([0.0, 2.0])))
    # the student's own sigmoid is back, and the stub kept for later does not answer any more
    assert student.call("sigmoid", np.array([1.0])).tolist() == [0.0]
    with pytest.raises(CheckFailed, match="TrustedHelperFailed"):
        student.call("later", np.array([1.0]))
    student.end()


@pytest.mark.slow
def test_a_function_that_hangs_costs_its_cell_only(either_kernel):
    kernel = either_kernel
    kernel.run("def hang():\n    while True:\n        pass\n")
    student = cell(kernel, seconds=2)
    started = time.perf_counter()
    with pytest.raises(CheckFailed, match="did not finish in time"):
        student.call("hang")
    with pytest.raises(CheckFailed, match="did not finish in time"):  # the cell's time is used up
        student.value("hang")
    student.end()
    assert time.perf_counter() - started < 10
    student = cell(kernel)  # the next cell works again
    assert student.evaluate("1 + 1", "next cell") == 2
    student.end()


@pytest.mark.slow
def test_a_loop_that_swallows_interrupts_ends_the_notebook(kernel):
    kernel.run("def stubborn():\n    while True:\n        try:\n            while True:\n                pass\n"
               "        except KeyboardInterrupt:\n            pass\n")
    student = cell(kernel, seconds=1)
    with pytest.raises(KernelGone, match="KeyboardInterrupt"):
        student.call("stubborn")


@pytest.mark.slow
def test_a_kernel_that_dies_mid_request(kernel):
    kernel.run("import os\ndef die():\n    os._exit(3)\n")
    student = cell(kernel)
    with pytest.raises(KernelGone, match="died"):
        student.call("die")


@pytest.mark.slow
def test_replies_too_large_never_reach_the_grader(kernel):
    kernel.run("import numpy as np\ndef huge():\n    return np.zeros(8_000_000)\n"
               "def flood():\n    return get_ipython().kernel.raw_input('{\"reply\": \"' + 'x' * 60_000_000 + '\"}')\n")
    student = cell(kernel, seconds=5)
    value = student.call("huge")  # 64 MB of data: the agent sends its type only
    assert isinstance(value, wire.Opaque) and value.too_large
    with pytest.raises(CheckFailed, match="did not finish"):
        student.call("flood")  # a 60 MB message: dropped by ZeroMQ (MAXMSGSIZE), as if none came
    student.end()
    student = cell(kernel)  # the grader connects anew; the next cell is checked as usual
    assert student.evaluate("2 + 2", "next cell") == 4
    student.end()


@pytest.mark.slow
def test_the_students_own_input_and_a_replaced_agent(kernel):
    kernel.run("def asks():\n    try:\n        return input('name? ')\n    except EOFError:\n        return 'eof'\n")
    student = cell(kernel)
    assert student.call("asks") == "eof"
    student.end()
    kernel.run("__grader_agent__ = None")
    student = cell(kernel)
    with pytest.raises(CheckFailed, match="stopped answering"):
        student.value("asks")
    student.end()


@pytest.mark.slow
def test_a_lying_agent_can_only_lie_about_its_own_answer(kernel):
    kernel.run("class Liar:\n    def handle(self, request):\n        return {'ok': True, 'value': 42}\n"
               "__grader_agent__.handle = Liar().handle\n")
    student = cell(kernel)
    assert student.value("anything") == 42  # data, judged as the student's answer
    student.end()
