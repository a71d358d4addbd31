"""SymPy expressions rebuilt on the grader's side from the tree the kernel's agent sent.

A node is ["Symbol", name, assumptions], ["Integer", digits], ["Rational", p, q],
["Float", sign, mantissa, exponent, bits, precision], ["Atom", class name] or
["Apply", class name, [children]]. Only the classes below are rebuilt, each with
`evaluate=False` so that nothing is computed while rebuilding (a huge power
stays a power); names are checked so that a symbol can never smuggle code into
`lambdify`; numbers are bounded. Everything else is refused with a reason a
student can act on.
"""
import sympy as sp

#: Classes an answer may contain, by the name the agent sends.
APPLY = {cls.__name__: cls for cls in [
    sp.Add, sp.Mul, sp.Pow, sp.exp, sp.log, sp.sin, sp.cos, sp.tan, sp.cot, sp.sec, sp.csc,
    sp.asin, sp.acos, sp.atan, sp.acot, sp.atan2, sp.sinh, sp.cosh, sp.tanh, sp.coth, sp.sech,
    sp.csch, sp.asinh, sp.acosh, sp.atanh, sp.Abs, sp.sign, sp.Max, sp.Min, sp.Heaviside,
    sp.Piecewise, sp.floor, sp.ceiling, sp.re, sp.im, sp.conjugate, sp.erf, sp.erfc,
    sp.gamma, sp.factorial, sp.LambertW, sp.Mod, sp.DiracDelta,
    sp.StrictLessThan, sp.LessThan, sp.StrictGreaterThan, sp.GreaterThan, sp.Equality,
    sp.Unequality, sp.And, sp.Or, sp.Not]}
APPLY["ExprCondPair"] = sp.functions.elementary.piecewise.ExprCondPair
#: Constants, by class name.
ATOMS = {"Pi": sp.pi, "Exp1": sp.E, "EulerGamma": sp.EulerGamma, "Catalan": sp.Catalan,
         "GoldenRatio": sp.GoldenRatio, "ImaginaryUnit": sp.I, "Infinity": sp.oo,
         "NegativeInfinity": -sp.oo, "ComplexInfinity": sp.zoo, "NaN": sp.nan,
         "BooleanTrue": sp.true, "BooleanFalse": sp.false}
#: Classes that mean "not worked out": named in the refusal.
UNEVALUATED = {"Derivative": "write the derivative out (sp.diff computes it)",
               "Integral": "write the integral out", "Subs": "substitute (call .subs(...).doit())",
               "Limit": "work the limit out", "Sum": "write the sum out", "Lambda": "give an expression, not a Lambda"}
NO_EVALUATE = {"ExprCondPair"}


def rebuild(node, count, depth, limits):
    """The SymPy expression a tree describes (limits.error for anything refused)."""
    count.sympy_nodes += 1
    count.spend()
    if count.sympy_nodes > limits.nodes or depth > limits.depth:
        raise limits.error("the expression is too large to check")
    if not isinstance(node, list) or not node or not isinstance(node[0], str):
        raise limits.error("the expression has a form the grader does not know")
    kind = node[0]
    if kind == "Symbol":
        return _symbol(node, limits)
    if kind == "Integer":
        return sp.Integer(_digits(node[1], limits))
    if kind == "Rational":
        p, q = _digits(node[1], limits), _digits(node[2], limits)
        if q == 0:
            raise limits.error("the expression has a fraction with denominator 0")
        return sp.Rational(p, q)
    if kind == "Float":
        return _float(node, limits)
    if kind == "Atom":
        if node[1] not in ATOMS:
            raise limits.error(f"the expression contains {node[1]!s:.40}, which the grader does not accept")
        return ATOMS[node[1]]
    if kind == "Apply":
        name, children = node[1], node[2]
        cls = APPLY.get(name)
        if cls is None:
            advice = UNEVALUATED.get(name)
            raise limits.error(f"the expression contains {name!s:.40}"
                               + (f": {advice}" if advice else ", which the grader does not accept"))
        if not isinstance(children, list):
            raise limits.error("the expression has a form the grader does not know")
        args = [rebuild(child, count, depth + 1, limits) for child in children]
        try:
            return cls(*args) if name in NO_EVALUATE else cls(*args, evaluate=False)
        except (TypeError, ValueError) as error:
            raise limits.error(f"the expression has a malformed {name}") from error
    raise limits.error("the expression has a form the grader does not know")


def _symbol(node, limits):
    name, assumptions = node[1], node[2]
    if not isinstance(name, str) or not limits.symbol_name.match(name) or name in limits.keywords:
        raise limits.error("the expression has a symbol with an unusual name")
    if not isinstance(assumptions, dict) or not all(
            key in limits.assumptions and isinstance(value, bool) for key, value in assumptions.items()):
        raise limits.error("the expression has a symbol with unusual assumptions")
    try:
        return sp.Symbol(name, **assumptions)
    except Exception as error:  # contradictory assumptions
        raise limits.error("the expression has a symbol with contradictory assumptions") from error


def _digits(text, limits):
    if not isinstance(text, str) or not text.lstrip("-").isdigit() or len(text) > limits.digits + 1:
        raise limits.error(f"the expression has a number with more than {limits.digits} digits")
    return int(text)


def _float(node, limits):
    _, sign, mantissa, exponent, bits, precision = node
    if sign not in (0, 1) or not isinstance(exponent, int) or abs(exponent) > 10**6 \
            or not isinstance(precision, int) or not 1 <= precision <= limits.float_bits:
        raise limits.error("the expression has a malformed decimal number")
    mantissa = _digits(mantissa, _FloatDigits)
    if mantissa < 0 or mantissa.bit_length() > limits.float_bits:
        raise limits.error("the expression has a malformed decimal number")
    if mantissa == 0:
        return sp.Float(0)
    return sp.Float._new((sign, mantissa, exponent, mantissa.bit_length()), precision)


class _FloatDigits:
    digits = 1300
    error = ValueError
