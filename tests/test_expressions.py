"""Unit tests of the grader's expression checks (`grader.hidden.expressions`) and of `limited`,
the forked child they run in: right forms pass, wrong forms fail, limits hold."""
import os
import sys
import time

import numpy as np
import pytest
import sympy as sp

import grader.hidden as hidden
from course import CheckFailed, Mistakes
from course.hints import describe
from grader.hidden import expressions
from grader.hidden.expressions import Verdict, as_expression, check_exact, check_expression, compare, number
from grader.hidden.limited import Failed, TimedOut, limited

z, x, w, b, y = sp.symbols("z x w b y", real=True)
sigma = 1 / (1 + sp.exp(-z))
sigma_prime = sigma * (1 - sigma)
LOG2 = sp.log(2)


# --------------------------------------------------------------------------- limited

def test_limited_returns_the_result_as_json_data():
    assert limited(lambda a, b: a + b, 2, 3) == 5
    assert limited(lambda: (1, "two", None, {"k": 0.5})) == [1, "two", None, {"k": 0.5}]
    assert limited(lambda: str(sp.diff(sp.sin(x) ** 2, x))) == "2*sin(x)*cos(x)"


def test_limited_runs_in_a_child_whose_changes_stay_there():
    seen = []

    def work():
        seen.append(1)
        return os.getpid()

    assert limited(work) != os.getpid()
    assert seen == []


def test_limited_times_out_quickly_on_a_huge_computation():
    start = time.perf_counter()
    with pytest.raises(TimedOut):
        limited(lambda: int(sp.Integer(2) ** sp.Integer(10 ** 9)), seconds=0.5)
    assert time.perf_counter() - start < 5.0  # the child is killed, not waited for
    assert issubclass(TimedOut, CheckFailed) and issubclass(Failed, CheckFailed)


def test_limited_reports_an_exception_as_failed():
    with pytest.raises(Failed, match="ZeroDivisionError"):
        limited(lambda: 1 / 0)
    with pytest.raises(Failed, match="SystemExit"):
        limited(lambda: sys.exit(3))


def test_limited_stops_a_memory_bomb():
    start = time.perf_counter()
    with pytest.raises(Failed, match="MemoryError"):
        limited(lambda: len(bytearray(1 << 36)), memory_bytes=1 << 28)
    with pytest.raises(Failed, match="MemoryError"):
        limited(lambda: len([0] * (1 << 33)), memory_bytes=1 << 28)
    assert time.perf_counter() - start < 5.0
    assert limited(lambda: len(bytearray(1 << 20)), memory_bytes=1 << 28) == 1 << 20  # a modest need is met


def test_limited_does_not_call_a_dead_child_a_time_out():
    with pytest.raises(Failed):
        limited(lambda: object())


def test_limited_warms_the_parent_once_before_its_first_fork(monkeypatch):
    """The children inherit SymPy's warmed caches: the warm-up runs in the parent, once."""
    module = sys.modules["grader.hidden.limited"]
    calls = []
    monkeypatch.setattr(module, "_warm", False)
    monkeypatch.setattr(module.sp, "simplify", lambda expression, _real=sp.simplify: calls.append(os.getpid())
                        or _real(expression))
    assert limited(lambda: 1) == 1 and limited(lambda: 2) == 2
    assert calls == [os.getpid()]


# --------------------------------------------------------------------------- compare

@pytest.mark.parametrize("form", [
    sigma * (1 - sigma),
    sp.exp(-z) / (1 + sp.exp(-z)) ** 2,
    1 / (4 * sp.cosh(z / 2) ** 2),
    sigma * sigma.subs(z, -z),
    sp.diff(sigma, z),
])
def test_equivalent_forms_of_sigma_prime_pass(form):
    assert compare(form, sigma_prime, [z]) in (Verdict.PASS, Verdict.UNDECIDED)


def test_cosh_form_needs_more_than_simplify():
    # The reason the checker does not stop at sp.simplify(a - b) == 0.
    form = 1 / (4 * sp.cosh(z / 2) ** 2)
    assert sp.simplify(form - sigma_prime) != 0
    assert compare(form, sigma_prime, [z]) is Verdict.PASS


@pytest.mark.parametrize("wrong", [
    sigma,                      # the function, not its derivative
    sigma * (1 + sigma),        # sign slip
    sp.exp(-z) / (1 + sp.exp(-z)),
    sigma_prime + 1e-6,         # close, but not equal
    -sigma_prime,
])
def test_wrong_forms_of_sigma_prime_fail(wrong):
    assert compare(wrong, sigma_prime, [z]) is Verdict.FAIL


def test_a_difference_only_at_large_scale_is_caught():
    # Equal near 0, different for |x| > 3: the scales of the random points matter.
    wrong = sp.Piecewise((x**2, sp.Abs(x) < 3), (x**2 + 1, True))
    assert compare(wrong, x**2, [x]) is Verdict.FAIL


def test_a_difference_only_for_negative_inputs_is_caught():
    assert compare(sp.Abs(x), x, [x]) is Verdict.FAIL


def test_restricted_domains_are_sampled_inside():
    p = sp.Symbol("p", real=True)
    entropy = -p * sp.log(p) - (1 - p) * sp.log(1 - p)
    assert compare(-(p * sp.log(p) + (1 - p) * sp.log(1 - p)), entropy, [p], domains={p: (0.01, 0.99)}) is Verdict.PASS
    assert compare(entropy / sp.log(2), entropy, [p], domains={p: (0.01, 0.99)}) is Verdict.FAIL


def test_constants_are_compared_and_their_mistakes_named():
    assert compare(sp.log(2), sp.log(2), []) is Verdict.PASS
    assert compare(sp.log(2) / sp.log(10), sp.log(2), []) is Verdict.FAIL
    with pytest.raises(CheckFailed, match="natural"):
        check_expression("max_entropy", sp.Integer(1), sp.log(2), [], mistakes={"log_base": sp.Integer(1)})


# --------------------------------------------------------------------------- SymPy's time limit, undecided

def _sympy_never_finishes(a, b):
    time.sleep(30)
    return True


def test_undecided_does_not_fail_a_right_answer(monkeypatch):
    # SymPy "gives up" (here: runs out of its time): the numerical agreement stands, the answer is not failed.
    monkeypatch.setattr(expressions, "_difference_is_zero", _sympy_never_finishes)
    right = sp.exp(-z) / (1 + sp.exp(-z)) ** 2
    start = time.perf_counter()
    assert compare(right, sigma_prime, [z], seconds=0.3) is Verdict.UNDECIDED
    assert check_expression("sigma_prime", right, sigma_prime, [z], seconds=0.3) is Verdict.UNDECIDED
    assert check_expression("sigma_prime", lambda: right, sigma_prime, [z], seconds=0.3) is Verdict.UNDECIDED
    with pytest.raises(CheckFailed):
        check_expression("sigma_prime", sigma, sigma_prime, [z], seconds=0.3)
    assert time.perf_counter() - start < 10.0


def test_time_limit_holds_on_a_pathological_expression():
    # A large nested expression that SymPy's simplify chews on for a long time.
    pathological = sp.Integer(0)
    for k in range(1, 9):
        pathological += sp.sin(k * x + sp.exp(x / k)) ** k * sp.cos(x ** k) ** (k + 1) / (1 + sp.tanh(x) ** k)
    # The same expression with tanh written out: equal, but SymPy needs well over 30 s to see it.
    other_form = pathological.subs(sp.tanh(x), (sp.exp(2 * x) - 1) / (sp.exp(2 * x) + 1))
    start = time.perf_counter()
    assert expressions._within(1.0, expressions._difference_is_zero, pathological, other_form) in (True, None)
    assert check_expression("f", pathological, other_form, [x], seconds=1.0) in (Verdict.PASS, Verdict.UNDECIDED)
    # The margin only absorbs a busy machine; without the limit this runs for more than 30 s.
    assert time.perf_counter() - start < 15.0


# --------------------------------------------------------------------------- check_expression

def test_check_expression_passes_a_right_answer():
    assert check_expression("sigma_prime", sp.diff(sigma, z), sigma_prime, [z]) is Verdict.PASS


def test_check_expression_names_the_mistake_without_the_answer():
    df = sp.cos(x**2 + 3*x) * (2*x + 3)
    with pytest.raises(CheckFailed) as failure:
        check_expression("df_dx", sp.cos(x**2 + 3*x), df, [x],
                         mistakes={"missing_inner_derivative": sp.cos(x**2 + 3*x)})
    message = str(failure.value)
    assert describe("missing_inner_derivative") in message
    assert "2*x + 3" not in message and "cos" not in message


def test_check_expression_with_a_function_that_builds_the_expression():
    u = sp.Symbol("u", real=True)
    outer, inner = sp.sin(u), x**2 + 3*x
    expected = sp.diff(sp.sin(x**2 + 3*x), x)
    assert check_expression("df_dx", lambda: sp.diff(outer.subs(u, inner), x), expected, [x]) is Verdict.PASS
    with pytest.raises(CheckFailed) as failure:
        check_expression("df_dx", lambda: sp.diff(outer, u).subs(u, inner), expected, [x],
                         mistakes={"missing_inner_derivative": sp.cos(inner)})
    assert describe("missing_inner_derivative") in str(failure.value)


def test_the_function_runs_in_the_child_only():
    calls = []

    def build():
        calls.append(1)
        return x**2

    assert check_expression("f", build, x**2, [x]) is Verdict.PASS
    assert calls == []  # built in the forked child: nothing it does reaches the grader

    def broken():
        raise KeyError("u")

    with pytest.raises(CheckFailed, match="could not be evaluated.*KeyError"):
        check_expression("f", broken, x**2, [x])


def test_check_expression_rejects_strings_and_foreign_symbols():
    with pytest.raises(CheckFailed, match="string"):
        check_expression("f", "x**2", x**2, [x])
    with pytest.raises(CheckFailed, match="depend only on"):
        check_expression("f", x * w, x**2, [x])
    with pytest.raises(CheckFailed, match="not defined"):
        check_expression("f", None, x**2, [x])
    with pytest.raises(CheckFailed, match="not True or False"):
        check_expression("f", True, x**2, [x])


def test_a_built_expression_gets_the_same_structural_checks():
    with pytest.raises(CheckFailed, match="string"):
        check_expression("f", lambda: "x**2", x**2, [x])
    with pytest.raises(CheckFailed, match="setup cell"):
        check_expression("f", lambda: sp.Symbol("x") ** 2, x**2, [x])


def test_a_symbol_with_other_assumptions_is_explained():
    plain_x = sp.Symbol("x")  # not real=True like the setup cell's x
    with pytest.raises(CheckFailed, match="setup cell"):
        check_expression("f", plain_x**2, x**2, [x])


def test_as_expression_checks_structure_only():
    assert as_expression("f", 3, []) == sp.Integer(3)
    assert as_expression("f", 0.5, []) == sp.Float(0.5)
    assert as_expression("f", x * w, [x, w]) == x * w
    with pytest.raises(CheckFailed, match="should be a constant"):
        as_expression("f", x, [])
    with pytest.raises(CheckFailed, match="not a SymPy expression"):
        as_expression("f", [x], [x])


def test_unknown_mistake_kind_is_an_authoring_error():
    with pytest.raises(ValueError):
        check_expression("f", x, x**2, [x], mistakes={"no_such_kind": x})


def test_mistakes_work_with_check_expression():
    p = sp.Symbol("p", real=True)
    entropy = -p * sp.log(p) - (1 - p) * sp.log(1 - p)
    mistakes = Mistakes([("log_base", entropy / sp.log(2)), ("log_base", entropy / sp.log(10))])
    with pytest.raises(CheckFailed, match="natural logarithms"):
        check_expression("H", entropy / sp.log(10), entropy, [p], mistakes=mistakes, domains={p: (0.01, 0.99)})


# --------------------------------------------------------------------------- check_exact

@pytest.mark.parametrize("value", [sp.Rational(1, 2), 0.5, np.float64(0.5), sp.Float(0.5), sp.S.Half,
                                   1 / (1 + sp.exp(0)), sp.solve(sp.Symbol("q") * 2 - 1)[0]])
def test_exact_half_in_any_exact_form_passes(value):
    check_exact("p", value, sp.Rational(1, 2))


@pytest.mark.parametrize("value", [LOG2, sp.log(4) / 2, -sp.log(sp.Rational(1, 2)), sp.log(8) / 3])
def test_exact_log2_in_any_exact_form_passes(value):
    check_exact("H", value, LOG2)


@pytest.mark.parametrize("value,kind", [
    (0.6931471805599453, "float_for_exact"),  # the float nearest ln 2 is still not ln 2
    (sp.Float(0.6931471805599453, 30), "float_for_exact"),
    (1, "log_base"),
    (LOG2 / sp.log(10), "log_base"),
    (sp.Rational(1, 4), "wrong_maximum"),
])
def test_exact_wrong_values_name_their_mistake(value, kind):
    mistakes = Mistakes([("log_base", 1), ("log_base", LOG2 / sp.log(10)), ("wrong_maximum", sp.Rational(1, 4))])
    with pytest.raises(CheckFailed, match="Hint") as raised:
        check_exact("H", value, LOG2, mistakes=mistakes)
    assert describe(kind) in str(raised.value)
    assert "0.693" not in str(raised.value) and "log(2)" not in str(raised.value)


@pytest.mark.parametrize("value,message", [
    (0.69, "not correct.$"),
    ("1/2", "string"),
    (sp.Symbol("p"), "still contains the symbol"),
    (None, "not defined"),
])
def test_exact_rejects_without_a_hint_it_cannot_name(value, message):
    with pytest.raises(CheckFailed, match=message):
        check_exact("H", value, LOG2)


def test_exact_is_not_fooled_by_an_object_equal_to_everything():
    class Anything(float):
        def __eq__(self, other):
            return True

        __hash__ = float.__hash__

    with pytest.raises(CheckFailed):
        check_exact("p", Anything(3.0), sp.Rational(1, 2))


# --------------------------------------------------------------------------- SymPy numbers in the grader

def test_number_evaluates_a_sympy_number_in_a_child():
    assert number("p", sp.sqrt(2)) == pytest.approx(2 ** 0.5)
    assert isinstance(number("p", sp.Rational(1, 4)), float)
    assert number("p", 0.25) == 0.25  # anything else is left as it is
    with pytest.raises(CheckFailed, match="contains the symbol"):
        number("p", x + 1)
    with pytest.raises(CheckFailed, match="can be evaluated"):
        number("p", sp.I)


def test_the_graders_check_number_and_as_float_take_sympy_numbers():
    hidden.check_number("p", sp.Rational(1, 3), 1 / 3)
    hidden.check_number("p", 1 / 3, 1 / 3)
    with pytest.raises(CheckFailed):
        hidden.check_number("p", sp.Rational(1, 4), 1 / 3)
    with pytest.raises(CheckFailed, match="step"):
        hidden.check_number("p", sp.Integer(2), 5.0, mistakes=Mistakes([("wrong_step", 2.0)]))
    with pytest.raises(CheckFailed, match="contains the symbol"):
        hidden.check_number("p", x, 1.0)
    assert hidden.as_float("p", sp.log(2)) == pytest.approx(0.6931471805599453)
    with pytest.raises(CheckFailed, match="not defined"):
        hidden.as_float("p", None)
