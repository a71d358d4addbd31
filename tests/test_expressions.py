"""Unit tests of the expression checker: right forms pass, wrong forms fail, limits hold."""
import time

import pytest
import sympy as sp

from course import CheckFailed, Verdict, check_expression, compare
from course.expressions import symbolically_equal
from course.hints import describe
from course.timelimit import TimedOut, call_with_timeout

z, x, w, b, y = sp.symbols("z x w b y", real=True)
sigma = 1 / (1 + sp.exp(-z))
sigma_prime = sigma * (1 - sigma)


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


def test_undecided_does_not_fail_a_right_answer(monkeypatch):
    # SymPy "gives up": the numerical agreement stands, the answer is not failed.
    import course.expressions as expressions
    monkeypatch.setattr(expressions, "symbolically_equal", lambda a, b, seconds=5.0: None)
    assert compare(sp.exp(-z) / (1 + sp.exp(-z)) ** 2, sigma_prime, [z]) is Verdict.UNDECIDED
    assert check_expression("sigma_prime", sp.exp(-z) / (1 + sp.exp(-z)) ** 2, sigma_prime, [z]) is Verdict.UNDECIDED
    with pytest.raises(CheckFailed):
        check_expression("sigma_prime", sigma, sigma_prime, [z])


def test_time_limit_holds_on_a_pathological_expression():
    # A large nested expression that SymPy's simplify chews on for a long time.
    pathological = sp.Integer(0)
    for k in range(1, 9):
        pathological += sp.sin(k * x + sp.exp(x / k)) ** k * sp.cos(x ** k) ** (k + 1) / (1 + sp.tanh(x) ** k)
    # The same expression with tanh written out: equal, but SymPy needs well over 30 s to see it.
    other_form = pathological.subs(sp.tanh(x), (sp.exp(2 * x) - 1) / (sp.exp(2 * x) + 1))
    start = time.perf_counter()
    result = symbolically_equal(pathological, other_form, seconds=1.0)
    elapsed = time.perf_counter() - start
    assert result in (True, None)
    # The margin only absorbs a busy machine; without the limit this runs for more than 30 s.
    assert elapsed < 10.0


def test_call_with_timeout_interrupts():
    with pytest.raises(TimedOut):
        call_with_timeout(time.sleep, 0.2, 5)


def test_check_expression_names_the_mistake_without_the_answer():
    df = sp.cos(x**2 + 3*x) * (2*x + 3)
    with pytest.raises(CheckFailed) as failure:
        check_expression("df_dx", sp.cos(x**2 + 3*x), df, [x],
                         mistakes={"missing_inner_derivative": sp.cos(x**2 + 3*x)})
    message = str(failure.value)
    assert describe("missing_inner_derivative") in message
    assert "2*x + 3" not in message and "cos" not in message


def test_check_expression_rejects_strings_and_foreign_symbols():
    with pytest.raises(CheckFailed, match="string"):
        check_expression("f", "x**2", x**2, [x])
    with pytest.raises(CheckFailed, match="depend only on"):
        check_expression("f", x * w, x**2, [x])


def test_restricted_domains_are_sampled_inside():
    p = sp.Symbol("p", real=True)
    entropy = -p * sp.log(p) - (1 - p) * sp.log(1 - p)
    assert compare(-(p * sp.log(p) + (1 - p) * sp.log(1 - p)), entropy, [p], domains={p: (0.01, 0.99)}) is Verdict.PASS
    assert compare(entropy / sp.log(2), entropy, [p], domains={p: (0.01, 0.99)}) is Verdict.FAIL


def test_unknown_mistake_kind_is_an_authoring_error():
    with pytest.raises(ValueError):
        check_expression("f", x, x**2, [x], mistakes={"no_such_kind": x})



def test_constants_are_compared_and_their_mistakes_named():
    assert compare(sp.log(2), sp.log(2), []) is Verdict.PASS
    assert compare(sp.log(2) / sp.log(10), sp.log(2), []) is Verdict.FAIL
    with pytest.raises(CheckFailed, match="natural"):
        check_expression("max_entropy", sp.Integer(1), sp.log(2), [], mistakes={"log_base": sp.Integer(1)})


def test_a_symbol_with_other_assumptions_is_explained():
    plain_x = sp.Symbol("x")  # not real=True like the setup cell's x
    with pytest.raises(CheckFailed, match="setup cell"):
        check_expression("f", plain_x**2, x**2, [x])


def test_check_number_is_relative_for_tiny_values():
    from course import check_number
    with pytest.raises(CheckFailed):
        check_number("bound", 0.0, 0.25**49)
    check_number("bound", 0.25**49 * (1 + 1e-9), 0.25**49)
