"""What crosses the boundary: plain data, decoded strictly on the grader's side.

The kernel's agent (`agent.py`) turns a student's value into JSON; this module
turns that JSON back into values a hidden test can check. Only these come back:

    None, bool, int, float, complex, str (another number type: its float())
    list, tuple, dict, set of those
    NumPy arrays and scalars of bool, integer, float and complex types (raw bytes, never pickle)
    SymPy expressions, rebuilt here node by node from a whitelist of classes
    Opaque("Tensor"): any other object, known by its type name only

Every limit (text size, depth, item count, digits, array size) is checked while
decoding; data that breaks one is `BadAnswer`, which costs the test its points
and nothing else. No student object, no `eval`, `sympify` of a string or
unpickling ever happens here.
"""
import base64
import binascii
import keyword
import math
import re

import numpy as np

MAX_TEXT = 32_000_000        # characters of one reply
MAX_DEPTH = 100
MAX_ITEMS = 2_000_000        # values, array entries included
MAX_SYMPY_NODES = 5_000
MAX_DIGITS = 100             # of an integer inside a SymPy expression
MAX_FLOAT_BITS = 4_000       # precision of a SymPy Float
DTYPES = {"?", "b", "B", "h", "H", "i", "I", "l", "L", "q", "Q", "e", "f", "d", "g", "F", "D", "G"}
SYMBOL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,49}$")
ASSUMPTIONS = {"real", "positive", "negative", "nonnegative", "nonpositive", "nonzero", "zero",
               "integer", "rational", "irrational", "finite", "infinite", "complex", "commutative",
               "extended_real", "extended_positive", "extended_negative", "extended_nonnegative",
               "extended_nonpositive", "extended_nonzero", "imaginary", "even", "odd", "prime",
               "composite", "algebraic", "transcendental", "hermitian", "antihermitian", "noninteger"}


class BadAnswer(ValueError):
    """The kernel's reply is not a value a check can use; the message is safe to show."""


class Opaque:
    """An object that could not cross the boundary, known by its type name only."""

    def __init__(self, type_name, too_large=False):
        self.type_name = str(type_name)[:100]
        self.too_large = too_large

    def __repr__(self):
        return f"<{'too large: ' if self.too_large else ''}{self.type_name} object>"

    def __float__(self):
        raise TypeError(f"a {self.type_name} object is not a number")

    def __eq__(self, other):
        return isinstance(other, Opaque) and other.type_name == self.type_name

    __hash__ = object.__hash__


class _Count:
    def __init__(self):
        self.items = 0
        self.sympy_nodes = 0

    def spend(self, count=1):
        self.items += count
        if self.items > MAX_ITEMS:
            raise BadAnswer("the value is too large to check")


# ----------------------------------------------------------------- decoding (kernel -> grader)

def decode(data, count=None, depth=0):
    count = count or _Count()
    count.spend()
    if depth > MAX_DEPTH:
        raise BadAnswer("the value is nested too deeply to check")
    if data is None or isinstance(data, (bool, str)):
        return data
    if isinstance(data, int):
        return data
    if isinstance(data, float):
        return data
    if isinstance(data, list):
        return [decode(item, count, depth + 1) for item in data]
    if not isinstance(data, dict):
        raise BadAnswer("the value has a form the grader does not know")
    kind = data.get("t")
    decoder = _DECODERS.get(kind)
    if decoder is None:
        raise BadAnswer("the value has a form the grader does not know")
    try:
        return decoder(data, count, depth)
    except BadAnswer:
        raise
    except (KeyError, TypeError, ValueError, IndexError, OverflowError, binascii.Error) as error:
        raise BadAnswer("the value has a form the grader does not know") from error


def _float(data, count, depth):
    text = data["v"]
    if text not in ("nan", "inf", "-inf"):
        raise BadAnswer("unknown special float")
    return float(text)


def _int(data, count, depth):
    digits = data["v"]
    if not isinstance(digits, str) or len(digits) > 4000 or not re.fullmatch(r"-?\d+", digits):
        raise BadAnswer("an integer too large to check")
    return int(digits)


def _complex(data, count, depth):
    real, imag = decode(data["re"], count, depth + 1), decode(data["im"], count, depth + 1)
    if not all(isinstance(part, (int, float)) and not isinstance(part, bool) for part in (real, imag)):
        raise BadAnswer("a malformed complex number")
    return complex(real, imag)


def _number(data, count, depth):
    value = decode(data["v"], count, depth + 1)
    if not isinstance(value, float):
        raise BadAnswer("a malformed number")
    return value


def _tuple(data, count, depth):
    return tuple(decode(item, count, depth + 1) for item in _list(data["v"]))


def _hashable(value):
    if isinstance(value, tuple):
        return all(_hashable(item) for item in value)
    return value is None or isinstance(value, (bool, int, float, str, complex, np.generic))


def _dict(data, count, depth):
    result = {}
    for pair in _list(data["v"]):
        key, value = _list(pair)
        key = decode(key, count, depth + 1)
        if not _hashable(key):
            raise BadAnswer("a dict key of a kind the grader does not accept")
        result[key] = decode(value, count, depth + 1)
    return result


def _set(data, count, depth):
    items = [decode(item, count, depth + 1) for item in _list(data["v"])]
    if not all(_hashable(item) for item in items):
        raise BadAnswer("a set item of a kind the grader does not accept")
    return set(items)


def _list(value):
    if not isinstance(value, list):
        raise BadAnswer("the value has a form the grader does not know")
    return value


def _dtype(text):
    dtype = np.dtype(text)
    if dtype.char not in DTYPES or dtype.byteorder == ">":
        raise BadAnswer(f"arrays of type {dtype} are not accepted")
    return dtype


def _ndarray(data, count, depth):
    dtype = _dtype(data["dtype"])
    shape = tuple(_list(data["shape"]))
    if len(shape) > 32 or not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n for n in shape):
        raise BadAnswer("an array with a malformed shape")
    size = math.prod(shape)
    count.spend(size)
    raw = base64.b64decode(data["data"], validate=True)
    if len(raw) != size * dtype.itemsize:
        raise BadAnswer("an array whose data does not fit its shape")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def _npscalar(data, count, depth):
    dtype = _dtype(data["dtype"])
    raw = base64.b64decode(data["data"], validate=True)
    if len(raw) != dtype.itemsize:
        raise BadAnswer("a malformed NumPy scalar")
    return np.frombuffer(raw, dtype=dtype)[0]


def _objarray(data, count, depth):
    shape = tuple(_list(data["shape"]))
    if len(shape) > 32 or not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n for n in shape):
        raise BadAnswer("an array with a malformed shape")
    items = [decode(item, count, depth + 1) for item in _list(data["v"])]
    if len(items) != math.prod(shape):
        raise BadAnswer("an array whose data does not fit its shape")
    array = np.empty(len(items), dtype=object)
    array[:] = items if items else []
    return array.reshape(shape)


def _object(data, count, depth):
    return Opaque(data.get("type", "unknown"))


def _toolarge(data, count, depth):
    return Opaque(data.get("type", "unknown"), too_large=True)


def _sympy(data, count, depth):
    from .sympy_tree import rebuild
    return rebuild(data["v"], count, depth, limits=_SympyLimits)


class _SympyLimits:
    nodes, digits, float_bits, depth = MAX_SYMPY_NODES, MAX_DIGITS, MAX_FLOAT_BITS, MAX_DEPTH
    symbol_name, assumptions, error = SYMBOL_NAME, ASSUMPTIONS, BadAnswer
    keywords = frozenset(keyword.kwlist)


_DECODERS = {"float": _float, "int": _int, "number": _number, "complex": _complex, "tuple": _tuple, "dict": _dict,
             "set": _set, "ndarray": _ndarray, "npscalar": _npscalar, "objarray": _objarray,
             "object": _object, "toolarge": _toolarge, "sympy": _sympy}


def parse(text):
    """A reply's JSON text as data for `decode` (BadAnswer if it is too large or unreadable)."""
    import json
    if not isinstance(text, str) or len(text) > MAX_TEXT:
        raise BadAnswer("the value is too large to check")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise BadAnswer("the kernel's answer is not readable") from error
    return data


# ----------------------------------------------------------------- encoding (grader -> kernel)

def encode(value):
    """A hidden test's argument (numbers, strings, arrays, lists, tuples, dicts) as JSON-ready data."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value if abs(value) <= 2**53 else {"t": "int", "v": str(value)}
    if isinstance(value, float):
        return value if math.isfinite(value) else {"t": "float", "v": repr(value)}
    if isinstance(value, complex):
        return {"t": "complex", "re": encode(value.real), "im": encode(value.imag)}
    if isinstance(value, np.ndarray):
        if value.dtype.char not in DTYPES:
            raise TypeError(f"cannot send an array of {value.dtype} to the kernel")
        data = np.asarray(value.astype(value.dtype.newbyteorder("<")), order="C")
        return {"t": "ndarray", "dtype": data.dtype.str, "shape": list(data.shape),
                "data": base64.b64encode(data.tobytes()).decode("ascii")}
    if isinstance(value, np.generic):
        data = np.asarray(value)
        data = data.astype(data.dtype.newbyteorder("<"))
        return {"t": "npscalar", "dtype": data.dtype.str, "data": base64.b64encode(data.tobytes()).decode("ascii")}
    if isinstance(value, list):
        return [encode(item) for item in value]
    if isinstance(value, tuple):
        return {"t": "tuple", "v": [encode(item) for item in value]}
    if isinstance(value, dict):
        return {"t": "dict", "v": [[encode(k), encode(v)] for k, v in value.items()]}
    raise TypeError(f"cannot send a {type(value).__name__} to the kernel (numbers, strings, arrays, "
                    "lists, tuples and dicts only)")
