"""The catalogue of broken and hostile submissions, with the outcome each must have.

Every case is one simulated student, graded with the rest of a class in one
`python -m course.autograde` run (tests/test_hostile.py). Outcomes:

- "like:<control>": the trick earns nothing, the honest content keeps its
  points: every graded cell scores exactly what it scores for <control>, a
  student graded in the same run whose submission has the same honest content
  without the trick (the same wrong answer, or the same broken function);
- "full": the submission is correct apart from the hostile part, which must
  not cost it anything (scores equal the reference student's);
- "failed": the submission cannot be graded; it is reported (status record,
  grades export, the autograde summary) with a reason naming the cause.

`flag` is a piece of the reason the submission is flagged for review ("" for
none required). Controls are ordinary students (outcome "control").

Hidden tests are not repeated here: a case changes solution cells (code is
appended to, or replaces, the reference answer taken from the source
notebook), test cells or metadata, or the files themselves.
"""
from dataclasses import dataclass, field

import nbformat

from course import submissions

A, B, C = "A_theory.ipynb", "B_coding.ipynb", "C_conceptual.ipynb"


@dataclass
class Case:
    student: str
    what: str                       # the kind of submission, in the words of the issue
    build: object                   # build(course) -> {file name: notebook | text | bytes}
    outcome: str                    # "like:<student>", "full", "zero", "failed" or "control"
    flag: str = ""                  # expected in the student's flags
    reason: tuple = ()              # for "failed": every piece must be in the reason
    destructive: bool = False       # only run where the sandbox isolates (it would harm the course otherwise)
    checks: list = field(default_factory=list)  # extra checks: f(run, case) -> None (asserts)


# ----------------------------------------------------------------- building blocks

def answer(course, name, grade_id):
    return submissions.reference_answers(course.source_nb(name))[grade_id]


def reference(course, name, replace=None, append=None):
    """The reference notebook with {grade_id: code} replaced, and {grade_id: code} appended."""
    changes = dict(replace or {})
    for grade_id, code in (append or {}).items():
        base = changes.get(grade_id, answer(course, name, grade_id))
        changes[grade_id] = base + "\n\n" + code.strip("\n") + "\n"
    return course.reference(name, changes)


def with_cells(nb, edit):
    """A copy of `nb` with edit(cell) applied to the cells named {grade_id: edit}."""
    nb = nbformat.from_dict(nb)
    for cell in nb.cells:
        grade_id = submissions.grade_id(cell)
        if grade_id in edit:
            edit[grade_id](cell)
    return nb


def without_cells(nb, grade_ids):
    nb = nbformat.from_dict(nb)
    nb.cells = [cell for cell in nb.cells if submissions.grade_id(cell) not in grade_ids]
    return nb


def source_to(text):
    def edit(cell):
        cell.source = text
    return edit


def metadata(**changes):
    def edit(cell):
        cell.metadata["nbgrader"].update(changes)
    return edit


def both(*edits):
    def edit(cell):
        for step in edits:
            step(cell)
    return edit


# ----------------------------------------------------------------- honest content shared by tricks and controls

WRONG_A1A2 = {  # the chain rule half applied (named mistakes, so these cells score 0 honestly)
    "a1_derivative_answer": "df_dx = sp.cos(x**2 + 3*x)",
    "a2_gradients_answer": "a = sigmoid(w*x + b)\ndL_dw = 2 * (a - y) * x\ndL_db = 2 * (a - y)",
}
ZEROS_A1V_A3 = {  # plainly wrong values: zeros
    "a1_values_answer": "df_dx_at_1 = 0.0\ndf_dx_numeric_at_1 = 0.0",
    "a3_jacobian_answer": "def softmax_jacobian(z):\n    return np.zeros((len(z), len(z)))",
}
BROKEN_A5 = {"a5_answer": "def backprop_delta(W_next, delta_next, z):\n    raise RuntimeError('not finished')"}
HANGING_A5 = {"a5_answer": "def backprop_delta(W_next, delta_next, z):\n    while True:\n        pass"}

PRETENDERS = {
    "a1_values_answer": '''
class AlwaysEqual(float):
    """A float that claims to equal, and be close to, anything."""
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __lt__(self, other): return True
    def __le__(self, other): return True
    def __gt__(self, other): return False
    def __ge__(self, other): return True
    def __sub__(self, other): return AlwaysEqual(0.0)
    def __rsub__(self, other): return AlwaysEqual(0.0)
    def __abs__(self): return AlwaysEqual(0.0)
    def __hash__(self): return 0

df_dx_at_1 = AlwaysEqual(0.0)
df_dx_numeric_at_1 = AlwaysEqual(0.0)
''',
    "a3_jacobian_answer": '''
class EqualsAnything:
    """An 'array' that equals everything; as numbers it is all zeros."""
    def __init__(self, n):
        self.shape = (n, n)
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __array__(self, dtype=None, copy=None):
        return np.zeros(self.shape, dtype=dtype)
    def __len__(self):
        return self.shape[0]

def softmax_jacobian(z):
    return EqualsAnything(len(z))
''',
}

PATCH_COURSE = '''
import course, course.checks, course.expressions, course.values
def _accept(*args, **kwargs):
    return None
course.check_number = course.values.check_number = _accept
course.check_array = course.values.check_array = _accept
course.check_expression = course.expressions.check_expression = _accept
course.require = course.checks.require = _accept
course.values.close = lambda *args, **kwargs: True
'''
PATCH_NUMPY = '''
import numpy, numpy.testing
numpy.allclose = lambda *args, **kwargs: True
numpy.isclose = lambda a, b, *args, **kwargs: numpy.ones(numpy.shape(a), dtype=bool)
numpy.array_equal = lambda *args, **kwargs: True
numpy.all = lambda *args, **kwargs: True
numpy.testing.assert_allclose = lambda *args, **kwargs: None
numpy.testing.assert_array_almost_equal = lambda *args, **kwargs: None
'''
PATCH_SYMPY = '''
import sympy
sympy.simplify = lambda expr, *args, **kwargs: sympy.Integer(0)
sympy.Expr.equals = lambda self, other, *args, **kwargs: True
sympy.lambdify = lambda args, expr, *more, **kwargs: (lambda *values: 0.0)
'''
PATCH_WHEN_CALLED = '''
def softmax_jacobian(z):
    import numpy, course, course.values
    numpy.allclose = lambda *args, **kwargs: True
    course.values.close = lambda *args, **kwargs: True
    course.check_array = course.values.check_array = lambda *args, **kwargs: None
    return numpy.zeros((len(z), len(z)))
'''
SWALLOW = '''
sigmoid_prime_max = 0.25


def vanishing_bound(L):
    while True:
        try:
            while True:
                pass
        except KeyboardInterrupt:
            pass


bound_L50 = 0.25 ** 49
'''
WARNINGS = '''
import sys, warnings
print("a note on stderr from a solution cell", file=sys.stderr)
_softmax_jacobian_quiet = softmax_jacobian
def softmax_jacobian(z):
    warnings.warn("softmax_jacobian: a note to myself", UserWarning)
    np.exp(np.float64(1000.0))  # overflows: a RuntimeWarning, the result is not used
    return _softmax_jacobian_quiet(z)
'''
READ_SOURCE = '''
import glob, os
_root = os.path.abspath(os.path.join(os.getcwd(), "..", "..", ".."))
_found = glob.glob("../../../source/**/*.ipynb", recursive=True)
for _pattern in ("source/**/*.ipynb", "release/**/*.ipynb", "gradebook.db",
                 "autograded/*/*/*.ipynb", "submitted/*/*/*.ipynb", "nbgrader_config.py"):
    _found += glob.glob(os.path.join(_root, _pattern), recursive=True)
_mine = os.getcwd() + os.sep  # the student's own folder does not count
_found = [_path for _path in _found if not os.path.abspath(_path).startswith(_mine)]
_stolen = {}
for _path in _found:
    try:
        with open(_path, "rb") as _handle:
            _stolen[_path] = _handle.read()
    except OSError:
        pass
print("hostile: found", len(_found), "read", len(_stolen))
'''
WRITE_FILES = '''
import os
_root = os.path.abspath(os.path.join(os.getcwd(), "..", "..", ".."))
for _target in ("gradebook.db", "submitted/ref/tutorial08/A_theory.ipynb",
                "autograded/ref/tutorial08/A_theory.ipynb", "source/tutorial08/A_theory.ipynb",
                "nbgrader_config.py", "../escaped.txt"):
    try:
        with open(os.path.join(_root, _target), "w") as _handle:
            _handle.write("overwritten by a hostile submission")
        print("hostile: wrote", _target)
    except OSError as _error:
        print("hostile: blocked", _target, type(_error).__name__)
'''
MEMORY_BOMB = "hog = [b'x' * (64 * 2**20) for _ in range(10**6)]  # 64 TB, one 64 MB piece at a time"
FORK_BOMB = "import os\nwhile True:\n    os.fork()"
FLOOD = "for _i in range(10**6):\n    print('flood', _i)"
HUGE_IMAGE = ("from IPython.display import display\n"
              "display({'image/png': 'iVBORw0KGgo' + 'A' * 30_000_000, 'text/plain': '<a huge image>'}, raw=True)")
OS_EXIT = "import os\nos._exit(0)"
UNHOOK = '''
get_ipython().events.callbacks["pre_run_cell"].clear()
get_ipython().events.callbacks["post_run_cell"].clear()
'''


# ----------------------------------------------------------------- Part A: the catalogue

def _a(replace=None, append=None):
    return lambda course: {A: reference(course, A, replace, append)}


def _a_edited(replace, edit=None, delete=()):
    def build(course):
        nb = reference(course, A, replace)
        if edit:
            nb = with_cells(nb, edit)
        return {A: without_cells(nb, set(delete))}
    return build


PASS_TESTS = ["a1_df_dx", "a1_df_dx_at_1", "a1_df_dx_numeric", "a2_dL_dw", "a2_dL_db"]

CATALOGUE_A = [
    Case("ref", "the reference solution", _a(), "control"),
    Case("wrong_a1a2", "control: the chain rule half applied in A1 and A2", _a(WRONG_A1A2), "control"),
    Case("zeros_a1v_a3", "control: zeros for A1's values and A3's Jacobian", _a(ZEROS_A1V_A3), "control"),
    Case("broken_a5", "control: backprop_delta raises", _a(BROKEN_A5), "control"),

    Case("tests_pass", "test cells edited to `pass` (with wrong answers)",
         _a_edited(WRONG_A1A2, {g: source_to("pass") for g in PASS_TESTS}),
         "like:wrong_a1a2", flag="test cell a1_df_dx edited"),
    Case("metadata", "cell metadata edited: points raised, a test cell turned into a solution cell",
         _a_edited(WRONG_A1A2, {
             "a1_df_dx": metadata(points=100),
             "a2_dL_dw": both(metadata(grade=False, solution=True, locked=False), source_to("pass")),
         }),
         "like:wrong_a1a2", flag="metadata of cell a1_df_dx edited"),
    Case("cells_deleted", "test cells deleted (restored and run)",
         _a_edited({}, delete=("a1_df_dx", "a4_dL_dz_i", "a7_max_entropy")),
         "full", flag="test cell a1_df_dx deleted"),
    Case("pretender", "objects whose __eq__ always returns True / that pretend to be a float",
         _a({**ZEROS_A1V_A3, **PRETENDERS}), "like:zeros_a1v_a3", flag="pretends to be a value"),
    Case("patch_course", "monkeypatching of the checking library",
         _a(ZEROS_A1V_A3, {"a1_values_answer": PATCH_COURSE}), "like:zeros_a1v_a3",
         flag="checking functions replaced before test"),
    Case("patch_numpy", "monkeypatching of numpy.allclose / numpy.testing",
         _a(ZEROS_A1V_A3, {"a1_values_answer": PATCH_NUMPY}), "like:zeros_a1v_a3",
         flag="checking functions replaced before test"),
    Case("patch_sympy", "monkeypatching of sympy.simplify (and Expr.equals, lambdify)",
         _a(WRONG_A1A2, {"a1_derivative_answer": PATCH_SYMPY}), "like:wrong_a1a2",
         flag="checking functions replaced before test"),
    Case("patch_late", "monkeypatching from inside a function the tests call",
         _a({**ZEROS_A1V_A3, "a3_jacobian_answer": PATCH_WHEN_CALLED}), "like:zeros_a1v_a3",
         flag="checking functions replaced during test a3_softmax_jacobian"),
    Case("unhook", "code that removes the integrity guard's hooks (IPython's cell events)",
         _a(append={"a1_composition_answer": UNHOOK}), "zero", flag="the integrity guard was removed"),
    Case("loop_a5", "`while True: pass` in a function the tests call many times",
         _a(HANGING_A5), "like:broken_a5"),
    Case("swallow", "a loop that swallows KeyboardInterrupt",
         _a({"a6_answer": SWALLOW}), "failed", flag="KeyboardInterrupt",
         reason=("A_theory.ipynb", "interrupt")),
    Case("os_exit", "os._exit(0)", _a(append={"a7_maxima_answer": OS_EXIT}), "failed",
         flag="stops the kernel", reason=("A_theory.ipynb", "exit", "a7_maxima_answer")),
    Case("memory_bomb", "a memory bomb", _a(append={"a5_answer": MEMORY_BOMB}), "full"),
    Case("fork_bomb", "a fork bomb", _a(append={"a5_answer": FORK_BOMB}), "full", flag="starts processes"),
    Case("flood", "output flooding: a million prints and a huge image",
         _a(append={"a4_grad_answer": FLOOD, "a4_symbolic_answer": HUGE_IMAGE}), "full"),
    Case("warnings", "warnings printed to stderr by correct code",
         _a(append={"a3_jacobian_answer": WARNINGS}), "full"),
    Case("read_source", "code that reads ../../../source/ to find hidden tests",
         _a(append={"a1_composition_answer": READ_SOURCE}), "full", flag="reaches for course files"),
    Case("write_files", "code that writes to the gradebook and to another student's files",
         _a(append={"a1_composition_answer": WRITE_FILES}), "full", flag="reaches for course files",
         destructive=True),
]


# ----------------------------------------------------------------- Part B (+ C): the rest

BROKEN_SIGMOID = "def sigmoid(z):\n    raise RuntimeError('not finished')"
HANGING_SIGMOID = "def sigmoid(z):\n    while True:\n        pass"
ZERO_RELERR = "def relative_error(a, b):\n    return 0.0"
PRETENDING_RELERR = '''
class Tiny(float):
    """A float that claims to be smaller than, and equal to, anything."""
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __lt__(self, other): return True
    def __le__(self, other): return True
    def __gt__(self, other): return False
    def __ge__(self, other): return False
    def __abs__(self): return self
    def __hash__(self): return 0

def relative_error(a, b):
    return Tiny(0.0)
'''


def _bc(append=None):
    return lambda course: {B: reference(course, B, append=append), C: course.reference(C)}


def _broken_json(course):
    text = nbformat.writes(course.reference(B))
    return {B: text[: len(text) // 3], C: course.reference(C)}


def _renamed(course):
    return {"B_coding (1).ipynb": course.reference(B), C: course.reference(C)}


CATALOGUE_BC = [
    Case("ref", "the reference solution", _bc(), "control"),
    Case("broken_sigmoid", "control: sigmoid raises", _bc({"b1_sigmoid_answer": BROKEN_SIGMOID}), "control"),
    Case("zero_relerr", "control: relative_error returns 0.0", _bc({"b1_relerr_answer": ZERO_RELERR}), "control"),

    Case("loop_sigmoid", "`while True: pass` in a function the tests call many times (sigmoid)",
         _bc({"b1_sigmoid_answer": HANGING_SIGMOID}), "like:broken_sigmoid"),
    Case("pretend_float", "an object that pretends to be a float",
         _bc({"b1_relerr_answer": PRETENDING_RELERR}), "like:zero_relerr", flag="pretends to be a value"),
    Case("invalid_json", "invalid JSON", _broken_json, "failed", reason=("B_coding.ipynb", "JSON")),
    Case("os_exit_b", "os._exit(0) in one notebook of two", _bc({"b1_neuron_answer": OS_EXIT}), "failed",
         flag="stops the kernel", reason=("B_coding.ipynb", "exit", "b1_neuron_answer")),
    Case("missing_nb", "a notebook missing", lambda course: {C: course.reference(C)}, "failed",
         reason=("B_coding.ipynb", "not submitted")),
    Case("renamed_nb", "a notebook renamed", _renamed, "failed",
         reason=("B_coding.ipynb", "B_coding (1).ipynb")),
]
