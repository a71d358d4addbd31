"""Unit tests of course.extra_checks: exact constants, several variants per kind, unchanged inputs."""
import numpy as np
import pytest
import sympy as sp

from course import CheckFailed, check_number
from course.extra_checks import Mistakes, check_exact, check_unchanged
from course.hints import describe

LOG2 = sp.log(2)


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


def test_mistakes_allow_one_kind_several_times_and_work_with_check_number():
    mistakes = Mistakes([("wrong_step", 1.0), ("wrong_step", 2.0), ("sign_error", -5.0)])
    assert [kind for kind, _ in mistakes.items()] == ["wrong_step", "wrong_step", "sign_error"]
    with pytest.raises(CheckFailed, match="step"):
        check_number("v", 2.0, 5.0, mistakes=mistakes)
    with pytest.raises(ValueError):
        Mistakes([("no_such_kind", 1.0)])


def test_check_unchanged_names_the_argument_and_the_mistake():
    before = {"z": np.array([1.0, -1.0])}
    check_unchanged("f", before, {"z": np.array([1.0, -1.0])})
    with pytest.raises(CheckFailed, match="changed its argument z") as raised:
        check_unchanged("f", before, {"z": np.array([1.0, 0.0])})
    assert describe("mutates_input") in str(raised.value)


def test_check_unchanged_treats_nan_as_equal_to_itself():
    before = {"z": np.array([np.nan, 1.0])}
    check_unchanged("f", before, {"z": np.array([np.nan, 1.0])})


def test_mistakes_work_with_check_expression_and_check_array():
    from course import check_array, check_expression
    p = sp.Symbol("p", real=True)
    entropy = -p * sp.log(p) - (1 - p) * sp.log(1 - p)
    mistakes = Mistakes([("log_base", entropy / sp.log(2)), ("log_base", entropy / sp.log(10))])
    with pytest.raises(CheckFailed, match="natural logarithms"):
        check_expression("H", entropy / sp.log(10), entropy, [p], mistakes=mistakes, domains={p: (0.01, 0.99)})
    with pytest.raises(CheckFailed, match="layers"):
        check_array("b", [0.25, 0.0625], [1.0, 0.25],
                    mistakes=Mistakes([("off_by_one_layers", [4.0, 1.0]), ("off_by_one_layers", [0.25, 0.0625])]))
