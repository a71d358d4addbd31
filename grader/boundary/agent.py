"""The kernel's half of the trust boundary: answer the grader's requests with data.

The grader sends this file's source to every grading kernel before any student
code runs, and stores an `Agent` as `__grader_agent__` in the notebook's
namespace. It uses the standard library and NumPy only (SymPy objects are
described without importing SymPy), because the grader package itself is not
inside the sandbox.

A hidden test asks for a value, a call of a student's function or a short
snippet's result. The grader starts one `serve()` per test cell and talks to it
over the kernel's stdin channel (`input_request` / `input_reply`, which the
Jupyter protocol signs with the session key): the agent's prompt carries its
reply, the grader's answer carries the next request. A student function may call
a *trusted helper* the grader lends for one call: the stub asks the grader for
the result the same way, so no reference code ever enters the kernel.

Everything here runs beside the student's code and can be replaced by it. That is
fine: whatever comes back is the student's answer, judged as such by the grader,
which decodes it strictly (`grader.boundary.wire`). Nothing here is trusted.
"""
import ast
import base64
import json
import numbers
import sys
import warnings

import numpy as np

MAX_DEPTH = 64
MAX_ITEMS = 1_000_000
MAX_TEXT = 1_000_000
MESSAGE_CHARS = 300


class Budget:
    """How much an encoding may still hold (items), so a huge object is cut short here already."""

    def __init__(self, items=MAX_ITEMS):
        self.items = items

    def spend(self, count=1):
        self.items -= count
        if self.items < 0:
            raise OverflowError("too large")


def _float(value):
    value = float.__float__(value) if isinstance(value, float) else float(value)
    if value != value or value in (float("inf"), float("-inf")):
        return {"t": "float", "v": repr(value)}
    return value


def encode(value, budget=None, depth=0):
    """`value` as JSON-ready data (see grader.boundary.wire for the format)."""
    budget = budget or Budget()
    budget.spend()
    if depth > MAX_DEPTH:
        return {"t": "toolarge", "type": type(value).__name__}
    if value is None or type(value) is bool:
        return value
    if isinstance(value, int):
        number = int.__int__(value)
        if abs(number) <= 2**53:
            return number
        try:
            return {"t": "int", "v": int.__repr__(number)}
        except ValueError:  # more digits than Python will print
            return {"t": "toolarge", "type": "int"}
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, complex):
        return {"t": "complex", "re": _float(value.real), "im": _float(value.imag)}
    if isinstance(value, str):
        text = str.__str__(value)
        budget.spend(len(text) // 64)
        return text if len(text) <= MAX_TEXT else {"t": "toolarge", "type": "str"}
    if isinstance(value, np.ndarray):
        return _array(value, budget, depth)
    if isinstance(value, np.generic):
        return _scalar(value)
    if isinstance(value, (list, tuple)):
        items = [encode(item, budget, depth + 1) for item in value]
        return items if type(value) is list or isinstance(value, list) else {"t": "tuple", "v": items}
    if isinstance(value, dict):
        return {"t": "dict", "v": [[encode(k, budget, depth + 1), encode(v, budget, depth + 1)]
                                   for k, v in value.items()]}
    if isinstance(value, (set, frozenset)):
        return {"t": "set", "v": [encode(item, budget, depth + 1) for item in value]}
    sympy = sys.modules.get("sympy")
    if sympy is not None and isinstance(value, sympy.Basic):
        return {"t": "sympy", "v": _sympy(value, budget, depth)}
    return _converted(value, budget, depth)


def _converted(value, budget, depth):
    """Another number type (Fraction, Decimal, a framework's scalar) as its float, an array-like
    as its array: what float() and np.asarray() would make of it on this side."""
    kind = type(value)
    try:
        if isinstance(value, numbers.Number) or hasattr(kind, "__float__"):
            return {"t": "number", "type": kind.__name__[:100], "v": _float(float(value))}
        if hasattr(kind, "__array__"):
            array = np.asarray(value)
            if array.dtype.kind in "biufc":
                return _array(array, budget, depth)
    except Exception:  # noqa: BLE001 (then it is known by its type only)
        pass
    return {"t": "object", "type": kind.__name__[:100]}


def _array(array, budget, depth):
    if array.dtype.kind in "biufc":
        data = np.asarray(array, order="C")
        budget.spend(data.size)
        if data.dtype.byteorder == ">":
            data = data.astype(data.dtype.newbyteorder("<"))
        return {"t": "ndarray", "dtype": data.dtype.str, "shape": list(data.shape),
                "data": base64.b64encode(data.tobytes()).decode("ascii")}
    if array.dtype.kind == "O":
        budget.spend(array.size)
        return {"t": "objarray", "shape": list(array.shape),
                "v": [encode(item, budget, depth + 1) for item in array.ravel().tolist()]}
    return {"t": "object", "type": f"ndarray of {array.dtype}"}


def _scalar(value):
    if value.dtype.kind not in "biufc":
        return {"t": "object", "type": type(value).__name__}
    data = np.asarray(value)
    data = data.astype(data.dtype.newbyteorder("<"))
    return {"t": "npscalar", "dtype": data.dtype.str, "data": base64.b64encode(data.tobytes()).decode("ascii")}


def _sympy(expr, budget, depth):
    """A SymPy tree as nested lists: [kind, ...] with the class name of every function node."""
    budget.spend()
    if depth > MAX_DEPTH:
        raise OverflowError("too deep")
    name = type(expr).__name__
    if expr.is_Symbol:
        given = getattr(expr, "_assumptions_orig", None)  # the assumptions the symbol was made with
        given = dict(given if given is not None else getattr(expr, "_assumptions0", ()))
        assumptions = {k: v for k, v in given.items() if isinstance(v, bool)}
        return ["Symbol", str(expr.name), assumptions]
    if expr.is_Integer:
        return ["Integer", str(int(expr))]
    if expr.is_Rational:
        return ["Rational", str(int(expr.p)), str(int(expr.q))]
    if expr.is_Float:
        sign, mantissa, exponent, bits = expr._mpf_
        return ["Float", int(sign), str(int(mantissa)), int(exponent), int(bits), int(expr._prec)]
    if not expr.args:
        return ["Atom", name]
    return ["Apply", name, [_sympy(arg, budget, depth + 1) for arg in expr.args]]


def decode(data):
    """The grader's arguments (plain data from a trusted side) as Python and NumPy values."""
    if isinstance(data, list):
        return [decode(item) for item in data]
    if not isinstance(data, dict):
        return data
    kind = data.get("t")
    if kind == "float":
        return float(data["v"])
    if kind == "tuple":
        return tuple(decode(item) for item in data["v"])
    if kind == "dict":
        return {decode(k): decode(v) for k, v in data["v"]}
    if kind == "ndarray":
        raw = base64.b64decode(data["data"])
        return np.frombuffer(raw, dtype=np.dtype(data["dtype"])).reshape(data["shape"]).copy()
    if kind == "npscalar":
        return np.frombuffer(base64.b64decode(data["data"]), dtype=np.dtype(data["dtype"]))[0]
    if kind == "int":
        return int(data["v"])
    if kind == "complex":
        return complex(decode(data["re"]), decode(data["im"]))
    raise ValueError(f"cannot decode {kind!r}")


def _describe_error(error):
    message = str(error) if not isinstance(error, KeyboardInterrupt) else ""
    return {"type": type(error).__name__[:100], "message": message[:MESSAGE_CHARS],
            "not_implemented": isinstance(error, NotImplementedError),
            "interrupted": isinstance(error, KeyboardInterrupt)}


class TrustedHelperFailed(Exception):
    """The grader's helper could not answer (wrong arguments, or called outside its call)."""


class Agent:
    """Answers requests about the notebook's namespace `user_ns`, through `ask(prompt) -> text`."""

    def __init__(self, user_ns, ask=None):
        self.user_ns = user_ns
        self.ask = ask

    # ---- the loop the grader starts once per test cell

    def serve(self):
        reply = {"ready": True}
        while True:
            text = self.ask(json.dumps({"reply": reply}))
            if text == "done":
                return
            try:
                reply = self.handle(json.loads(text))
            except KeyboardInterrupt as error:
                reply = {"ok": False, "error": _describe_error(error)}
            except BaseException as error:  # noqa: BLE001 (the student's exception is the answer)
                reply = {"ok": False, "error": _describe_error(error)}

    def handle(self, request):
        op = request.get("op")
        if op == "value":
            if request["name"] not in self.user_ns:
                return {"ok": False, "error": {"type": "NameError", "message": request["name"], "undefined": True}}
            return self._encoded(self.user_ns[request["name"]])
        if op in ("call", "evaluate"):
            return self._run(request)
        return {"ok": False, "error": {"type": "ValueError", "message": f"unknown request {op!r}"}}

    def _encoded(self, value, **extra):
        try:
            return {"ok": True, "value": encode(value), **extra}
        except OverflowError:
            return {"ok": True, "value": {"t": "toolarge", "type": type(value).__name__[:100]}, **extra}

    # ---- calls and snippets

    def _run(self, request):
        if request["op"] == "call" and request["name"] not in self.user_ns:
            return {"ok": False, "error": {"type": "NameError", "message": request["name"], "undefined": True}}
        args = decode(request.get("args", []))
        kwargs = decode(request.get("kwargs", {"t": "dict", "v": []}))
        saved = self._lend(request.get("trusted", []))
        caught = []
        try:
            with warnings.catch_warnings(record=True) as caught:
                record = request.get("warnings") == "record"
                warnings.simplefilter("always" if record else "ignore")
                with np.errstate(**({"all": "warn", "under": "ignore"} if record else {"all": "ignore"})):
                    if request["op"] == "call":
                        value = self.user_ns[request["name"]](*args, **kwargs)
                    else:
                        value = self._evaluate(request["code"], kwargs)
        except BaseException as error:  # noqa: BLE001 (the student's exception is the answer)
            return {"ok": False, "error": _describe_error(error)}
        finally:
            self._give_back(saved)
        noted = [{"category": w.category.__name__[:100], "message": str(w.message)[:MESSAGE_CHARS]}
                 for w in (caught or [])[:5]]
        extra = {"warnings": noted}
        if request.get("return_args"):
            extra["args"] = encode(args)
        return self._encoded(value, **extra)

    def _evaluate(self, code, inputs):
        """Run `code` in a copy of the notebook's namespace; the value of its last expression."""
        namespace = dict(self.user_ns)
        namespace.update(inputs)
        tree = ast.parse(code)
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        exec(compile(tree, "<grader snippet>", "exec"), namespace)
        if last is None:
            return None
        return eval(compile(ast.Expression(last.value), "<grader snippet>", "eval"), namespace)

    def _lend(self, names):
        missing = object()
        saved = {name: self.user_ns.get(name, missing) for name in names}
        for name in names:
            self.user_ns[name] = self._stub(name)
        return saved, missing

    def _give_back(self, saved):
        saved, missing = saved
        for name, value in saved.items():
            if value is missing:
                self.user_ns.pop(name, None)
            else:
                self.user_ns[name] = value

    def _stub(self, name):
        agent = self

        def trusted_helper(*args, **kwargs):
            answer = json.loads(agent.ask(json.dumps(
                {"stub": name, "args": encode(list(args)), "kwargs": encode(kwargs)})))
            if not answer.get("ok"):
                raise TrustedHelperFailed(answer.get("error", "the helper could not answer"))
            return decode(answer["value"])

        trusted_helper.__name__ = trusted_helper.__qualname__ = name
        return trusted_helper


def install(shell):
    """In a grading kernel: an Agent for the notebook's namespace, talking over stdin."""
    agent = Agent(shell.user_ns, ask=shell.kernel.raw_input)
    shell.user_ns["__grader_agent__"] = agent
    shell.user_ns_hidden["__grader_agent__"] = agent
    return "ready"
