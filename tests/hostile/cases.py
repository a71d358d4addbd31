"""The catalogue of broken and hostile submissions, with the outcome each must have.

Every case is one simulated student, graded with the rest of a class in one
`python -m grader.driver.autograde` run (tests/test_hostile.py). Hidden tests run in
the grader, student code in the sandboxed kernel: a trick can only change what the
kernel says about the student's own work. Outcomes:

- "like:<control>": the trick earns nothing, the honest content keeps its
  points: every graded cell scores exactly what it scores for <control>, a
  student graded in the same run whose submission has the same honest content
  without the trick (the same wrong answer, or the same broken function);
- "at_most:<control>": a trick that also breaks the student's own code (their
  builtins, say) earns nothing: no cell scores more than it does for <control>;
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
from dataclasses import dataclass

import nbformat

from grader.authoring import submissions

A, B, C = "A_theory.ipynb", "B_coding.ipynb", "C_conceptual.ipynb"


@dataclass
class Case:
    student: str
    what: str                       # the kind of submission, in the words of the issue
    build: object                   # build(course) -> {file name: notebook | text | bytes}
    outcome: str                    # "like:<student>", "at_most:<student>", "full", "zero", "failed" or "control"
    flag: str = ""                  # expected in the student's flags
    reason: tuple = ()              # for "failed": every piece must be in the reason
    destructive: bool = False       # only run where the sandbox isolates (it would harm the course otherwise)
    feedback: str = "written"       # "written", or "withheld": its feedback shows text the kernel got from the grader


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
import course, course.checks, course.values
def _accept(*args, **kwargs):
    return None
course.check_number = course.values.check_number = _accept
course.check_array = course.values.check_array = _accept
course.require = course.checks.require = _accept
course.values.close_enough = lambda *args, **kwargs: True
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
    course.values.close_enough = lambda *args, **kwargs: True
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
UNHOOK = """
get_ipython().events.callbacks["pre_run_cell"].clear()
get_ipython().events.callbacks["post_run_cell"].clear()
"""

# ---- attacks on the trust boundary (issue 19): each tries to see or change what hidden tests use

READ_EXECUTED = """
import os
_marker = "### BEGIN " + "HIDDEN TESTS"  # (built, so that this cell itself does not hold it)
_seen, _hidden = 0, []
for _folder, _dirs, _files in os.walk("/"):
    _dirs[:] = [d for d in _dirs if os.path.join(_folder, d) not in ("/proc", "/sys", "/dev", "/usr")
                and d != "site-packages"]
    for _name in _files:
        if _name.endswith(".ipynb"):
            _seen += 1
            try:
                if _marker in open(os.path.join(_folder, _name), errors="replace").read():
                    _hidden.append(os.path.join(_folder, _name))
            except OSError:
                pass
print("hostile: notebooks", _seen, "with hidden tests", _hidden)
"""
INPUT_TRANSFORMER = """
def _strip_checks(lines):
    # turns every later cell into `pass` when it looks like a test cell
    text = "".join(lines)
    return ["pass\\n"] if ("assert" in text or "Self-check" in text) else lines
get_ipython().input_transformers_cleanup.append(_strip_checks)
"""
AST_TRANSFORMER = """
import ast
class _NoAsserts(ast.NodeTransformer):
    def visit_Assert(self, node):
        return ast.Pass()
get_ipython().ast_transformers.append(_NoAsserts())
"""
EVENT_HOOKS = """
_cells_seen = []
def _spy(info):
    _cells_seen.append(getattr(info, "raw_cell", "") or "")
def _report(result):
    print("hostile: cells seen", len(_cells_seen), "with hidden", sum("HIDDEN" in c for c in _cells_seen))
get_ipython().events.register("pre_run_cell", _spy)
get_ipython().events.register("post_run_cell", _report)
"""
AUDIT_HOOK = """
import sys, base64
_compiled = []
def _audit(event, args):
    if event in ("compile", "exec") and args and isinstance(args[0], (str, bytes)):
        _compiled.append(args[0] if isinstance(args[0], str) else args[0].decode("utf-8", "replace"))
sys.addaudithook(_audit)
"""
AUDIT_REPORT = """
_all = "\\n".join(_compiled)
print("hostile: compiled", len(_compiled), ("BEGIN " + "HIDDEN TESTS") in _all)
print(base64.b64encode(_all.encode()).decode())  # whatever the grader's snippets said, encoded
"""
CODE_SWAP = """
import course.values
def _always(*args, **kwargs):
    return True
course.values.close_enough.__code__ = _always.__code__
"""
TRACE_HOOK = """
import sys
def _tracer(frame, event, arg):
    if event == "return" and frame.f_code.co_name in ("close_enough", "check_number", "check_array"):
        frame.f_locals.clear()
    return _tracer
sys.settrace(_tracer)
sys.setprofile(lambda frame, event, arg: None)
"""
BUILTINS_SWAP = """
import builtins
builtins.float = lambda value=0.0: 0.0
builtins.abs = lambda value: 0.0
def softmax_jacobian(z):
    return np.zeros((len(z), len(z)))
"""
LAMBDIFY_SWAP = """
import sympy.utilities.lambdify as _lambdify
for _namespace in _lambdify.MODULES.values():
    _namespace[0].update({"sin": lambda *a: 0.0, "cos": lambda *a: 0.0, "exp": lambda *a: 0.0})
"""
FRAME_WALKER = """
import sys
class Sneaky:
    # looks through the frames of whoever converts it for a number to return
    def _steal(self):
        frame, found = sys._getframe(1), []
        while frame is not None:
            for name, value in list(frame.f_locals.items()):
                if isinstance(value, float) and name != "self":
                    found.append(value)
            frame = frame.f_back
        return found[0] if found else 0.0
    def __float__(self):
        return self._steal()
    def __array__(self, dtype=None, copy=None):
        import numpy
        return numpy.full((3, 3), self._steal())
    def _sympy_(self):
        import sympy
        return sympy.Float(self._steal())
df_dx_at_1 = Sneaky()
df_dx_numeric_at_1 = Sneaky()
"""
HELPERS_IN_GLOBALS = """
df_dx = sp.cos(x**2 + 3*x)
def check_number(*args, **kwargs):
    return None
def check_expression(*args, **kwargs):
    return None
class student:
    value = staticmethod(lambda name: globals().get(name))
_expected = 5.0
"""
EXFILTRATE = """
import sys
sigmoid_prime_max = 0.25
def vanishing_bound(L):
    # find the grader's request in the agent's frames and put its text in the failure message
    frame, text = sys._getframe(1), ""
    while frame is not None:
        request = frame.f_locals.get("request")
        if isinstance(request, dict) and request.get("code"):
            text = str(request["code"])
        frame = frame.f_back
    raise ValueError("hostile: " + text)
bound_L50 = 0.25 ** 49
"""
A6_RAISES = """
sigmoid_prime_max = 0.25
def vanishing_bound(L):
    raise ValueError("not finished")
bound_L50 = 0.25 ** 49
"""
FORGED_OUTPUTS = """
from IPython.display import display, clear_output
def softmax_jacobian(z):
    ip = get_ipython()
    ip.display_pub.publish({"text/plain": "1.0"})
    display({"application/vnd.course.hint+json": {"check": "x", "kind": "sign_error"}, "text/plain": ""}, raw=True)
    ip.kernel.session.send(ip.kernel.iopub_socket, "execute_result",
                           {"data": {"text/plain": "2.0"}, "metadata": {}, "execution_count": 1},
                           parent=ip.kernel.get_parent("shell"), ident=b"execute_result")
    clear_output()
    return np.zeros((len(z), len(z)))
"""
DISPLAY_UPDATES = """
from IPython.display import display, update_display
display({"text/plain": "small"}, raw=True, display_id="grow")
for _i in range(50):
    update_display({"text/plain": "x" * 1_000_000}, raw=True, display_id="grow")
"""
LYING_AGENT = """
class _Liar:
    def handle(self, request):
        return {"ok": True, "value": 0.0}
__grader_agent__.handle = _Liar().handle
"""
KILL_ZYGOTE = """
import os, signal
for _pid in (2,):  # bubblewrap's init is 1, the zygote 2
    try:
        os.kill(_pid, signal.SIGKILL)
        print("hostile: killed", _pid)
    except OSError as _error:
        print("hostile: could not kill", _pid, type(_error).__name__)
"""
KILL_INIT = "import os, signal\nos.kill(1, signal.SIGKILL)"
PROC_SNOOP = """
_found = {}
for _pid in ("1", "2"):
    for _what in ("mem", "environ", "cmdline", "maps"):
        try:
            with open(f"/proc/{_pid}/{_what}", "rb") as _handle:
                _found[f"{_pid}/{_what}"] = len(_handle.read(4096))
        except OSError as _error:
            _found[f"{_pid}/{_what}"] = type(_error).__name__
print("hostile: proc", _found)
"""
PLANT_STARTUP = """
import os
for _folder in (os.path.expanduser("~/.ipython/profile_default/startup"), "/tmp/shared"):
    try:
        os.makedirs(_folder, exist_ok=True)
        with open(os.path.join(_folder, "00-plant.py"), "w") as _handle:
            _handle.write("import builtins; builtins._planted = True\\n")
        print("hostile: planted", _folder)
    except OSError as _error:
        print("hostile: could not plant", _folder, type(_error).__name__)
"""
NETWORK = """
import socket
_reached = []
for _host, _port in (("127.0.0.1", 22), ("10.0.0.1", 80), ("8.8.8.8", 53)):
    try:
        socket.create_connection((_host, _port), timeout=1).close()
        _reached.append(_host)
    except OSError:
        pass
print("hostile: reached", _reached)
"""
HUGE_JACOBIAN = "def softmax_jacobian(z):\n    return np.zeros((10_000, 10_000))"
STDIN_FLOOD = """
def backprop_delta(W_next, delta_next, z):
    get_ipython().kernel.raw_input("x" * 60_000_000)  # a message over the grader's size limit
    return (W_next.T @ delta_next) * (z > 0)
"""


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
MACHINERY = "talks to the kernel's machinery"
PATCHES = "replaces a function of numpy, sympy or the checking library"
FRAMES = "inspects or rewrites frames"

CATALOGUE_A = [
    Case("ref", "the reference solution", _a(), "control"),
    Case("wrong_a1a2", "control: the chain rule half applied in A1 and A2", _a(WRONG_A1A2), "control"),
    Case("zeros_a1v_a3", "control: zeros for A1's values and A3's Jacobian", _a(ZEROS_A1V_A3), "control"),
    Case("broken_a5", "control: backprop_delta raises", _a(BROKEN_A5), "control"),
    Case("a6_raises", "control: vanishing_bound raises", _a({"a6_answer": A6_RAISES}), "control"),

    # ---- edited notebooks
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
         _a_edited({}, delete=("a1_df_dx", "a4_dL_dz_i", "a7_max_entropy")), "full", flag="3 test cell(s) deleted"),

    # ---- values that pretend; patches of what the checks use (in the kernel they reach visible checks only)
    Case("pretender", "objects whose __eq__ always returns True / that pretend to be a float",
         _a({**ZEROS_A1V_A3, **PRETENDERS}), "like:zeros_a1v_a3", flag="pretends to be a value"),
    Case("patch_course", "monkeypatching of the checking library",
         _a(ZEROS_A1V_A3, {"a1_values_answer": PATCH_COURSE}), "like:zeros_a1v_a3", flag=PATCHES),
    Case("patch_numpy", "monkeypatching of numpy.allclose / numpy.testing",
         _a(ZEROS_A1V_A3, {"a1_values_answer": PATCH_NUMPY}), "like:zeros_a1v_a3", flag=PATCHES),
    Case("patch_sympy", "monkeypatching of sympy.simplify (and Expr.equals, lambdify), once every answer is computed",
         _a(WRONG_A1A2, {"a7_maxima_answer": PATCH_SYMPY}), "like:wrong_a1a2", flag=PATCHES),
    Case("patch_late", "monkeypatching from inside a function the tests call",
         _a({**ZEROS_A1V_A3, "a3_jacobian_answer": PATCH_WHEN_CALLED}), "like:zeros_a1v_a3", flag=PATCHES),
    Case("code_swap", "a check's __code__ replaced",
         _a(ZEROS_A1V_A3, {"a1_values_answer": CODE_SWAP}), "like:zeros_a1v_a3", flag=FRAMES),
    Case("trace_hook", "a trace and a profile hook that tamper with the checks' frames",
         _a(ZEROS_A1V_A3, {"a1_values_answer": TRACE_HOOK}), "like:zeros_a1v_a3", flag=FRAMES),
    Case("builtins_swap", "float and abs replaced in builtins (it breaks the student's own code too)",
         _a({**ZEROS_A1V_A3, "a3_jacobian_answer": BUILTINS_SWAP}), "at_most:zeros_a1v_a3", flag=PATCHES),
    Case("lambdify_swap", "lambdify's shared namespaces rewritten",
         _a(WRONG_A1A2, {"a1_derivative_answer": LAMBDIFY_SWAP}), "like:wrong_a1a2"),
    Case("frame_walker", "objects whose __float__ / __array__ / _sympy_ walk up the converter's frames",
         _a({**ZEROS_A1V_A3, "a1_values_answer": FRAME_WALKER}), "like:zeros_a1v_a3", flag=FRAMES),
    Case("helpers_in_globals", "hidden-test helpers (check_number, student) defined in the notebook",
         _a({**WRONG_A1A2, "a1_derivative_answer": HELPERS_IN_GLOBALS}), "like:wrong_a1a2"),

    # ---- IPython's own machinery
    Case("input_transformer", "an input transformer that turns test cells into `pass`",
         _a(WRONG_A1A2, {"a1_composition_answer": INPUT_TRANSFORMER}), "like:wrong_a1a2", flag=MACHINERY),
    Case("ast_transformer", "an AST transformer that removes every assert",
         _a(WRONG_A1A2, {"a1_composition_answer": AST_TRANSFORMER}), "like:wrong_a1a2", flag=MACHINERY),
    Case("event_hooks", "cell event hooks that watch every cell the kernel runs",
         _a(WRONG_A1A2, {"a1_composition_answer": EVENT_HOOKS}), "like:wrong_a1a2", flag=MACHINERY),
    Case("unhook", "code that clears IPython's cell hooks", _a(append={"a1_composition_answer": UNHOOK}),
         "full", flag=MACHINERY),
    Case("audit_hook", "an audit hook that records every piece of code compiled, printed later (encoded)",
         _a(append={"a1_composition_answer": AUDIT_HOOK, "a7_maxima_answer": AUDIT_REPORT}), "full",
         flag=MACHINERY, feedback="withheld"),
    Case("exfiltrate", "a function that finds the grader's snippet in the agent's frames and raises it",
         _a({"a6_answer": EXFILTRATE}), "like:a6_raises", flag=FRAMES, feedback="withheld"),

    # ---- the grader's helper in the kernel, and forged messages
    Case("forged_outputs", "forged results, hints and execute_result messages, clear_output in a graded cell",
         _a({**ZEROS_A1V_A3, "a3_jacobian_answer": FORGED_OUTPUTS}), "like:zeros_a1v_a3", flag=MACHINERY),
    Case("lying_agent", "the grader's helper in the kernel replaced by one that answers 0.0 to everything",
         _a(append={"a1_composition_answer": LYING_AGENT}), "zero", flag=MACHINERY),
    Case("display_updates", "display updates that grow an old output by 50 MB",
         _a(append={"a1_composition_answer": DISPLAY_UPDATES}), "full", flag=MACHINERY),
    Case("stdin_flood", "a 60 MB message to the grader from inside a function the tests call",
         _a({"a5_answer": STDIN_FLOOD}), "like:broken_a5", flag=MACHINERY),
    Case("huge_value", "a Jacobian of 10^8 entries", _a({**ZEROS_A1V_A3, "a3_jacobian_answer": HUGE_JACOBIAN}),
         "like:zeros_a1v_a3"),

    # ---- the sandbox: other processes, files, the network
    Case("kill_zygote", "kills the process kernels are forked from (its own sandbox ends with it)",
         _a(append={"a1_composition_answer": KILL_ZYGOTE}), "failed",
         flag="stops the kernel or changes its signals", reason=("A_theory.ipynb", "killed", "a1_composition")),
    Case("kill_init", "kills the sandbox's init process (which ignores it)", _a(append={"a7_maxima_answer": KILL_INIT}),
         "full", flag="stops the kernel"),
    Case("proc_snoop", "reads /proc of the sandbox's other processes", _a(append={"a1_composition_answer": PROC_SNOOP}),
         "full", flag="reaches for files"),
    Case("plant_startup", "plants IPython startup files for the next kernel",
         _a(append={"a1_composition_answer": PLANT_STARTUP}), "full"),
    Case("network", "tries the network", _a(append={"a1_composition_answer": NETWORK}), "full"),
    Case("read_executed", "reads the notebook being executed (hidden tests restored) and any other it finds",
         _a(append={"a1_composition_answer": READ_EXECUTED}), "full", flag="reaches for files"),
    Case("read_source", "code that reads ../../../source/ to find hidden tests",
         _a(append={"a1_composition_answer": READ_SOURCE}), "full", flag="reaches for files"),
    Case("write_files", "code that writes to the gradebook and to another student's files",
         _a(append={"a1_composition_answer": WRITE_FILES}), "full", flag="reaches for files", destructive=True),

    # ---- limits
    Case("loop_a5", "`while True: pass` in a function the tests call many times", _a(HANGING_A5), "like:broken_a5"),
    Case("swallow", "a loop that swallows KeyboardInterrupt",
         _a({"a6_answer": SWALLOW}), "failed", flag="KeyboardInterrupt", reason=("A_theory.ipynb", "interrupt")),
    Case("os_exit", "os._exit(0)", _a(append={"a7_maxima_answer": OS_EXIT}), "failed",
         flag="stops the kernel", reason=("A_theory.ipynb", "exit", "a7_maxima_answer")),
    Case("memory_bomb", "a memory bomb", _a(append={"a5_answer": MEMORY_BOMB}), "full"),
    Case("fork_bomb", "a fork bomb", _a(append={"a5_answer": FORK_BOMB}), "full", flag="starts processes"),
    Case("flood", "output flooding: a million prints and a huge image",
         _a(append={"a4_grad_answer": FLOOD, "a4_symbolic_answer": HUGE_IMAGE}), "full"),
    Case("warnings", "warnings printed to stderr by correct code", _a(append={"a3_jacobian_answer": WARNINGS}), "full"),
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

# ---- the trust boundary with Part B's objects: snippets the grader sends, helpers it lends

TENSOR_SNOOP = '''
import sys as _sys
_snooped = []
_plain_init = Tensor.__init__
def _snooping_init(self, *args, **kwargs):
    frame = _sys._getframe(1)
    while frame is not None:  # the grader's request, if this Tensor is made by one of its snippets
        request = frame.f_locals.get("request")
        if isinstance(request, dict) and request.get("code"):
            _snooped.append(request["code"])
        frame = frame.f_back
    _plain_init(self, *args, **kwargs)
Tensor.__init__ = _snooping_init
'''
TENSOR_REPORT = '''
import base64 as _base64
print("hostile: snippets seen", len(_snooped))
print(_base64.b64encode("\\n".join(_snooped).encode()).decode())
'''
KEEP_HELPER = '''
_own_sigmoid, _kept = sigmoid, []
_plain_sigmoid_derivative = sigmoid_derivative
def sigmoid_derivative(z):
    if sigmoid is not _own_sigmoid:
        _kept.append(sigmoid)  # the stub the grader lends while it checks this function
    return _plain_sigmoid_derivative(z)
'''
USE_KEPT_HELPER = '''
_plain_backward_pass = backward_pass
def backward_pass(*args):
    if _kept:
        _kept[0](0.0)  # a stub kept from another call: it no longer answers
    return _plain_backward_pass(*args)
'''
BACKWARD_RAISES = '''
_plain_backward_pass = backward_pass
def backward_pass(*args):
    raise RuntimeError("not finished")
'''


def _b(append):
    return lambda course: {B: reference(course, B, append=append), C: course.reference(C)}


CATALOGUE_BC += [
    Case("tensor_snoop", "a Tensor that reads the grader's snippets from the agent's frames, printed later (encoded)",
         lambda course: {B: reference(course, B, append={"b4_tensor_answer": TENSOR_SNOOP,
                                                          "b5_plot_answer": TENSOR_REPORT}),
                         C: course.reference(C)},
         "full", flag="inspects or rewrites frames", feedback="withheld"),
    Case("backward_raises", "control: backward_pass raises", _b({"b2_backward_answer": BACKWARD_RAISES}), "control"),
    Case("kept_helper", "a trusted helper kept from one call, used in another cell's",
         _b({"b1_sigmoid_answer": KEEP_HELPER, "b2_backward_answer": USE_KEPT_HELPER}), "like:backward_raises"),
]
