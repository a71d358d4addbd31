"""The kinds of mistake a check can name, in words that never give the answer away.

A check builds the likely wrong answers itself and passes them in as
`{kind: wrong_value}` (or `Mistakes([(kind, wrong), ...])` when one kind has
several variants); when the student's value matches one, the student is told the
kind in the words of `KINDS`. Every hint that fires is also recorded (`record`)
so that the class report can count misconceptions.
"""
from typing import Any, Callable, Iterable

HINT_MIME = "application/vnd.course.hint+json"

KINDS = {
    # Part A (theory)
    "swapped_composition": "Inner and outer are swapped: the inner function acts on x first, the outer one on its result.",
    "exact_for_numeric": "This is the exact derivative, not the finite-difference estimate that was asked for.",
    "missing_off_diagonal": "Only the same-index (diagonal) entries are filled in: the different-index entries are not zero.",
    "float_for_exact": "A decimal approximation was given where an exact SymPy value is asked for (sp.Rational, sp.log, ...).",
    "z_for_p": "That is a value of z; the question asks for the value of p = sigma(z).",
    "approximation": "Tiny entries are off by far more than rounding: this looks like an estimate (a finite "
                     "difference); the exact derivative, from its formula, is asked for.",
    # calculus
    "missing_inner_derivative": "The chain rule is only half applied: the derivative of the inner function is missing.",
    "missing_outer_derivative": "The chain rule is only half applied: the outer function was not differentiated.",
    "missing_chain_factor": "One factor of the chain rule is missing: go through every link from the loss down to this variable.",
    "extra_factor": "There is one factor too many: check each link of the chain rule once.",
    "sign_error": "The sign is wrong: check each minus sign along the chain.",
    "factor_of_two": "Off by a factor of 2: check the derivative of the square.",
    "function_for_derivative": "This is the function itself, not its derivative.",
    "sigma_for_sigma_prime": "This uses the sigmoid where its derivative belongs.",
    "wrong_variable": "This is the derivative with respect to another variable.",
    "same_index_for_different": "The same-index and different-index cases are swapped or mixed up.",
    "log_base": "Use natural logarithms (sp.log / np.log), not another base.",
    "not_simplified_value": "The value is right in form but not evaluated as asked (a number was expected).",
    "wrong_point": "The derivative is evaluated at the wrong point.",
    "forward_difference": "This looks like a one-sided (forward) difference; a central difference is asked for.",
    "wrong_step": "The finite-difference step is not the one asked for.",
    "off_by_one_layers": "Off by one in the number of layers the product runs over.",
    "wrong_maximum": "That is not where (or what) the maximum is: set the derivative to zero.",
    # linear algebra and arrays
    "transposed": "The matrix is used transposed (or the product is in the wrong order).",
    "missing_transpose": "A transpose is missing: match the shapes of the product.",
    "elementwise_vs_matrix": "Elementwise and matrix products are mixed up.",
    "wrong_mask": "The activation's derivative is wrong: check which entries let the gradient through.",
    "missing_mask": "The activation's derivative is missing from the recurrence.",
    "missing_mean": "Off by the batch size: the loss is the MEAN over the batch (divide by m).",
    "extra_mean": "Divided by the batch size once too often.",
    "wrong_axis": "Reduced over the wrong axis (or over every axis): find the axis that runs over the examples; "
                  "biases collect the gradient over the examples, a softmax normalises each example on its own.",
    "wrong_shape": "The shape is not the one asked for.",
    "mutates_input": "The function changed one of its input arrays; work on copies.",
    "unstable": "Not numerically stable for large inputs: shift by the maximum (or clip) before exponentiating.",
    "not_finite": "The result holds nan or inf.",
    "skips_parameters": "Not every parameter is checked: the biases count too.",
    "not_restored": "The parameters are changed afterwards: restore every entry you perturb.",
    "skips_update": "A parameter never changes: every entry of net.params takes a step, biases included.",
    "overwrite_not_accumulate": "Gradients are overwritten instead of accumulated (+=): a node used twice loses a contribution.",
    "no_unbroadcast": "A broadcast operand's gradient must be summed back to that operand's shape.",
    "wrong_order": "The nodes are visited in the wrong order: a node's gradient must be complete before it is passed on.",
    "not_accumulating_across_calls": "backward() must add to .grad (like PyTorch), not reset it.",
    "wrong_init": "The initialisation is not the one asked for (He: standard deviation sqrt(2 / fan_in)).",
    "not_deterministic": "The result changes between calls with the same seed: draw from a generator seeded once.",
    "wrong_order_of_layers": "The layers are listed in the wrong order (input side first).",
    # Part B (coding): gradients, gradient checks, autograd, plots
    "dropped_dimension": "A dimension of size 1 is lost: the result must keep the parameter's shape.",
    "constant_factor": "Off by a constant factor: check each factor of the chain rule and the scaling of the loss.",
    "missing_floor": "When both values are zero the ratio is 0/0: the denominator needs a small floor.",
    "asymmetric_error": "The relative error must treat its two arguments alike (swapping them must not change it).",
    "mean_not_max": "Report the largest entrywise error, not an average: one bad entry must show.",
    "missing_abs": "Negative entries are not handled: the denominator must add the sizes of the entries, whatever their signs.",
    "wrong_floor": "The floor of the denominator is not the one asked for: check its value and that it is a lower bound, not an offset.",
    "wrong_denominator": "The difference quotient is divided by the wrong distance: how far apart are the two points?",
    "applied_to_input": "The derivative formula is applied to the input z where the activation belongs.",
    "softmax_axis": "Normalised over the wrong axis: each column (one example) must sum to 1.",
    "perturbs_copy": "The perturbation never reaches the loss: change the entries of the given array itself (in place), then restore them.",
    "stale_intermediate": "A second backward() counts earlier contributions again: gradients left in intermediate nodes by an earlier call flow down a second time.",
    "false_alarm": "A correct network is reported as wrong: compare each analytical entry with the numerical one for the same parameter and entry.",
    "misses_bug": "A network whose gradients are wrong is reported as correct.",
    "wrong_generator": "The random numbers are not drawn as the prompt prescribes (generator, seed, order of the draws), so the results cannot be checked.",
    "not_a_figure": "Return the matplotlib Figure object (for example the one plt.subplots gives you).",
    "wrong_panels": "The figure should have exactly two panels (axes).",
    "no_log_panel": "One panel should have a logarithmic y-axis and the other a linear one.",
    "missing_labels": "Every panel needs a label on both axes.",
    "missing_legend": "Every panel needs a legend naming each curve.",
    "wrong_plot_data": "The curves do not show the given magnitudes: one curve per entry of results, in each panel.",
    # probability and information
    "swapped_arguments": "The two arguments are swapped.",
    "kl_direction": "The KL divergence is in the wrong direction.",
    "zero_log_zero": "Terms with p = 0 must contribute 0 (0·log 0 = 0), not nan.",
    "missing_constant": "A constant term is missing.",
    "sum_not_mean": "A sum is used where the mean is asked for (or the reverse).",
    "wrong_normalisation_axis": "Normalised over the wrong axis: each feature is normalised over the batch.",
    "biased_variance": "The variance estimate differs from the one asked for.",
    "swapped_modes": "Forward and reverse mode are swapped.",
    # Part C (conceptual)
    "constant_passes": "The number of passes should depend on the sizes: ask what ONE pass of this mode gives you (one row or one column of the Jacobian?).",
    "whole_batch_normalised": "One mean and one variance were used for the whole array: every feature gets its own statistics.",
    "variance_for_std": "Divided by the variance where its square root (the standard deviation) belongs.",
    "sigma_not_variance": "sigma and sigma squared are mixed up: the Gaussian's variance is sigma squared.",
    "picked_false_statement": "At least one letter you chose is a false statement: ask whether it holds for every network and every training run.",
    "missed_true_statement": "Your choice misses at least one true statement.",
    "gradient_is_approximate": "Backpropagation gives the exact gradient (up to rounding), as a gradient check confirms: the difficulty lies elsewhere.",
}


def describe(kind: str) -> str:
    """The student-facing sentence for a mistake kind."""
    try:
        return KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown mistake kind {kind!r}; add it to course.hints.KINDS") from None


class Mistakes(list):
    """[(kind, wrong), ...]: like a {kind: wrong} dict, but a kind may appear more than once."""

    def __init__(self, pairs: Iterable = ()):
        pairs = list(pairs.items()) if isinstance(pairs, dict) else list(pairs)
        for kind, _ in pairs:
            describe(kind)  # an unknown kind is an authoring error: fail loudly
        super().__init__(pairs)

    def items(self):
        return list(self)


def first_match(student_value: Any, wrong_answers, same: Callable[[Any, Any], bool]) -> str | None:
    """The kind of the first wrong answer that `same(student_value, wrong)` says matches."""
    for kind, wrong in Mistakes(wrong_answers or {}):
        try:
            if same(student_value, wrong):
                return kind
        except Exception:  # noqa: BLE001 (a variant that cannot be compared does not match)
            continue
    return None


def _display(check: str, kind: str) -> None:
    """Inside a notebook: a display output with the hint's record (what the report counts)."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return
    if get_ipython() is not None:
        display({HINT_MIME: {"check": check, "kind": kind}, "text/plain": ""}, raw=True)


#: Where fired hints go: a display output in a notebook; the grader swaps in its own collector.
recorder: Callable[[str, str], None] = _display


def record(check: str, kind: str) -> None:
    """Leave a machine-readable trace of a fired hint."""
    recorder(check, kind)
