"""Prove the grader: mutation testing of every hidden test, and corpora of right and wrong answers.

    python tools/grader_audit.py [--notebook A_theory.ipynb ...] [--sample N] [--seed S]
                                 [--jobs J] [--json audit/report.json] [--text audit/report.txt]
    python tools/grader_audit.py --list                      # the mutants, no grading
    python tools/grader_audit.py --reach                     # what each solution cell reaches, no grading
    python tools/grader_audit.py --cell a5_answer --mutant "z > 0"   # grade a few again
    python tools/grader_audit.py --rescore audit/report.json # re-summarise after a review

`make grader-audit` runs everything (about 22 min on 2 cores for 825 mutants,
91 right answers and 116 mistakes: A 4 min, B 16 min, C 2 min, one notebook at
a time; tests/test_grader_audit.py grades a sample and the corpora).

For every solution cell of every source notebook the audit

1. makes mutants of the reference solution (`tools/mutants.py`: a flipped sign,
   + for -, a dropped factor, 2 -> 1, > for >=, another axis=, a missing .T,
   = for +=, a forward difference, ...), submits each as a simulated student
   (the reference with that one cell changed), grades it with the real
   grading pipeline (`grader.driver.grading.autograde` in a temporary course:
   the kernel in its sandbox, the hidden tests in the grader) and records
   whether the cell's questions lost points ("killed") or not ("survived");
2. grades the curated right answers of `tools/audit_corpus/right_answers.py`
   (other algebra, loops, other stable formulations, ...): each must keep
   full marks;
3. grades the curated common mistakes of `tools/audit_corpus/mistakes.py`:
   each must lose points and show its hint (the hint's MIME record,
   `course.hints.HINT_MIME`, that the grader writes in a test cell of its
   question; records the kernel writes itself are dropped by the grader).

Survivors that a person judged equivalent to the reference are listed with a
reason each in `tools/equivalent_mutants.json` (keyed by notebook, cell and
the mutant's stable key); they are reported as such, never dropped silently.
The mutation score of a notebook is killed / (mutants - reviewed equivalent).
The goal: >= 95 % on every notebook, every right answer accepted, every
mistake given its hint. The exit code is 0 when the goal is met, 1 if not,
2 if the reference itself does not get full marks (then nothing else means
anything).

Which questions does a mutant of a cell reach? A static data-flow pass over
the notebook (names each statement binds and reads, functions' bodies read
when they are called, in-place updates, the global NumPy generator) gives,
for each solution cell, the later cells its names can reach. A mutant is
killed when a test cell it reaches loses points, or when its notebook cannot
be graded at all. A test cell is two programs: its visible part runs in the
kernel and reads the notebook's names directly; its hidden tests run in the
grader's process, bind nothing in the notebook, and read it only through the
proxy `student` (`grader.hidden`), so what they read are strings:
`student.value("name")`, `student.call("f", ..., trusted={"helper": ref})`
(reads f, and what f reads when it runs, except `helper`, a trusted stub
during the call), `student.map`, and `student.evaluate(code, ...)`, which
reads what `code` reads (parsed when the string can be worked out; see
`HiddenRegion` for what is inferred, and when a hidden test is taken to read
every name).

One kernel for several mutants. A kernel start, the notebook's imports and
every hidden test cost the same whether a notebook carries one mutant or
several, so mutants of solution cells whose reach is disjoint share one
simulated notebook: each is judged only by the test cells it reaches, so
the verdicts stay attributable. Mutants of cells that share a test cell (or
where one cell feeds another) never share a notebook. A notebook that fails
as a whole (a dead kernel) is graded again with one mutant at a time, and a
loss in a test cell that none of its mutants reaches (which would mean the
data-flow pass missed something) does the same. `--solo` turns sharing off;
`--verify K` grades K shared mutants again alone and reports any difference.
Right answers (expected to lose nothing) share notebooks regardless of
reach, one per cell; any loss sends them back to be graded alone. Each
simulated student carries one notebook only: nbgrader drops a student's whole
assignment when one notebook cannot be run, which would blame the others.
Mutants are not run one after another in ONE kernel: a mutant's globals (a
redefined helper, a half-built class, a changed global generator) would
leak into the next one's tests, so each graded notebook still gets a fresh
kernel (from the grading pipeline's workers), shared by the mutants of
independent cells only. A loss at a time limit ("did not finish in time",
KeyboardInterrupt) is confirmed by grading the items of that notebook again,
alone, once: a busy machine must not kill a mutant or fail a right answer.
"""
import argparse
import ast
import builtins
import contextlib
import json
import os
import random
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

TOOLS = Path(__file__).resolve().parent
REPO = TOOLS.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(TOOLS))

import mutants as mutation  # noqa: E402
from course.hints import HINT_MIME  # noqa: E402
from grader.authoring import submissions  # noqa: E402
from grader.driver import grading  # noqa: E402
from grader.driver.commands import nbgrader  # noqa: E402
from grader.plugins import regions  # noqa: E402
from grader.reports import gradebook  # noqa: E402

ASSIGNMENT = "tutorial08"
SOURCE = REPO / "source" / ASSIGNMENT
EQUIVALENT_FILE = TOOLS / "equivalent_mutants.json"
GOAL = 0.95
DEFAULT_TIMEOUT = None   # the course's own Execute.timeout, so a slow mutant is judged as in real grading


# ============================================================================ notebook model

RNG = "<global numpy generator>"
FRESH_GENERATORS = {"default_rng", "Generator", "PCG64", "SeedSequence", "RandomState", "BitGenerator", "Philox", "SFC64", "MT19937"}
EVERYTHING = {"globals", "vars", "locals", "eval", "exec"}


@dataclass
class Statement:
    immediate: set            # names read when the statement runs
    rebinds: dict             # name -> names its value reads later (function bodies); {} otherwise
    inplace: set              # names whose object the statement may change in place
    reads_all: bool = False   # globals()/eval: reads every name
    patterns: set = field(default_factory=set)   # (glob, trusted names): reads of the names matching glob
    hidden: bool = False      # a hidden region (runs in the grader, reads through `student`)


@dataclass
class Cell:
    index: int
    grade_id: str
    kind: str                 # "solution" | "test" | "code" (locked or plain)
    source: str
    points: float = 0.0
    statements: list = field(default_factory=list)
    visible: str = ""         # what the kernel runs (a test cell without its hidden tests)


@dataclass
class NotebookModel:
    name: str
    cells: list
    solutions: dict           # grade_id -> (reference code, regions)
    tests: dict               # grade_id -> points (autograded code cells)
    reach: dict = field(default_factory=dict)       # solution grade_id -> set of cell indices it reaches
    reach_tests: dict = field(default_factory=dict)  # solution grade_id -> set of test grade_ids
    modules: set = field(default_factory=set)        # imported names: their state is not tracked
    writes: dict = field(default_factory=dict)       # solution grade_id -> names it binds

    def cell(self, grade_id):
        return next(c for c in self.cells if c.grade_id == grade_id)


def _names(node, ctx):
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ctx)}


def _uses_global_rng(node):
    for sub in ast.walk(node):
        if isinstance(sub, ast.Attribute) and sub.attr not in FRESH_GENERATORS:
            base = sub.value
            if (isinstance(base, ast.Attribute) and base.attr == "random") or \
                    (isinstance(base, ast.Name) and base.id == "random"):
                return True
    return False


SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)


def _own_nodes(scope):
    """The nodes of a function/class/lambda body that are not inside a nested scope."""
    todo = list(ast.iter_child_nodes(scope))
    while todo:
        node = todo.pop()
        yield node
        if not isinstance(node, SCOPES):
            todo.extend(ast.iter_child_nodes(node))


def _reads(scope):
    """Global names a function or class body reads when it runs (later, at each call):
    its loads minus its parameters and local names, and the same for nested scopes."""
    own = list(_own_nodes(scope))
    params = set()
    if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        a = scope.args
        params = {x.arg for x in a.posonlyargs + a.args + a.kwonlyargs} | {x.arg for x in (a.vararg, a.kwarg) if x}
    declared = {name for node in own if isinstance(node, (ast.Global, ast.Nonlocal)) for name in node.names}
    stores = {n.id for n in own if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del))}
    nested = [n for n in own if isinstance(n, SCOPES)]
    local = set() if isinstance(scope, ast.ClassDef) else (params | stores | {n.name for n in nested if not isinstance(n, ast.Lambda)}) - declared
    reads = {n.id for n in own if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)} - local
    for inner in nested:
        if isinstance(inner, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            # decorators, defaults and bases are evaluated in this scope
            outer = inner.decorator_list + (inner.bases if isinstance(inner, ast.ClassDef) else inner.args.defaults)
            for node in outer:
                reads |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)} - local
        reads |= _reads(inner) - local
    if _uses_global_rng(scope):
        reads.add(RNG)
    return reads


def _target_names(target):
    return _names(target, ast.Store)


def _expr_reads(node, bound):
    """Names an expression reads from outside, minus comprehension and lambda variables."""
    if node is None:
        return set()
    if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
        reads, local = set(), set(bound)
        for i, gen in enumerate(node.generators):
            reads |= _expr_reads(gen.iter, local)
            local |= _target_names(gen.target)
            for cond in gen.ifs:
                reads |= _expr_reads(cond, local)
        parts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        for part in parts:
            reads |= _expr_reads(part, local)
        return reads
    if isinstance(node, ast.Lambda):
        args = {a.arg for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs}
        args |= {a.arg for a in (node.args.vararg, node.args.kwarg) if a}
        defaults = [d for d in node.args.defaults + node.args.kw_defaults if d]
        return set().union(set(), *(_expr_reads(d, bound) for d in defaults)) | _expr_reads(node.body, bound | args)
    if isinstance(node, ast.Name):
        return {node.id} - bound if isinstance(node.ctx, ast.Load) else set()
    reads = set()
    if isinstance(node, ast.Attribute) and node.attr not in FRESH_GENERATORS:
        base = node.value
        if (isinstance(base, ast.Attribute) and base.attr == "random") or (isinstance(base, ast.Name) and base.id == "random"):
            reads.add(RNG)
    for child in ast.iter_child_nodes(node):
        reads |= _expr_reads(child, bound)
    return reads


#: dict literals with string keys seen in the cell being analysed ({name: keys}), for `**name`
_DICT_KEYS = {}


def _substituted(expr):
    """Names that `substitute(globals(), name=value, **dict_literal)` rebinds for a with-block."""
    if not (isinstance(expr, ast.Call) and _call_name_of(expr) == "substitute" and expr.args):
        return set()
    first = expr.args[0]
    if not (isinstance(first, ast.Call) and isinstance(first.func, ast.Name) and first.func.id == "globals"):
        return set()
    names = set()
    for kw in expr.keywords:
        if kw.arg is not None:
            names.add(kw.arg)
        elif isinstance(kw.value, ast.Name) and kw.value.id in _DICT_KEYS:
            names |= _DICT_KEYS[kw.value.id]
        else:
            return set()  # unknown names: assume nothing is shadowed (the safe side)
    return names


def _call_name_of(call):
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def _shadowed(read, shadow):
    """A read made while the names in `shadow` are rebound to trusted values."""
    if isinstance(read, tuple):
        return (read[0], read[1] | frozenset(shadow))
    return (read, frozenset(shadow))


def _block_reads(stmts, bound, rebinds):
    """Names a block reads before binding them itself (flow-sensitive, in source order).

    `bound` grows with the names the block binds; nested functions and classes
    go into `rebinds` with the names their bodies read later."""
    reads = set()
    for stmt in stmts:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            outer = stmt.decorator_list + (stmt.bases + [k.value for k in stmt.keywords]
                                           if isinstance(stmt, ast.ClassDef)
                                           else stmt.args.defaults + [d for d in stmt.args.kw_defaults if d])
            for node in outer:
                reads |= _expr_reads(node, bound)
            if isinstance(stmt, ast.ClassDef):
                reads |= _reads(stmt) - bound   # a class body runs at once
            rebinds[stmt.name] = _reads(stmt)
            bound.add(stmt.name)
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            for alias in stmt.names:
                name = (alias.asname or alias.name).split(".")[0]
                rebinds[name] = set()
                bound.add(name)
        elif isinstance(stmt, ast.Assign):
            reads |= _expr_reads(stmt.value, bound)
            for target in stmt.targets:
                reads |= _expr_reads(target, bound)  # bases and indices of x[i] = ..., a.b = ...
                names = _target_names(target)
                rebinds.update({n: set() for n in names})
                bound |= names
        elif isinstance(stmt, (ast.AugAssign, ast.AnnAssign)):
            reads |= _expr_reads(stmt.value, bound)
            target = stmt.target
            if isinstance(stmt, ast.AugAssign) and isinstance(target, ast.Name):
                if target.id not in bound:
                    reads.add(target.id)
            else:
                reads |= _expr_reads(target, bound)
            names = _target_names(target)
            rebinds.update({n: set() for n in names})
            bound |= names
        elif isinstance(stmt, (ast.For, ast.AsyncFor)):
            reads |= _expr_reads(stmt.iter, bound)
            names = _target_names(stmt.target)
            rebinds.update({n: set() for n in names})
            inner = set(bound) | names
            reads |= _block_reads(stmt.body, inner, rebinds)
            reads |= _block_reads(stmt.orelse, set(bound), rebinds)
            bound |= names
        elif isinstance(stmt, ast.While):
            reads |= _expr_reads(stmt.test, bound)
            reads |= _block_reads(stmt.body, set(bound), rebinds)
            reads |= _block_reads(stmt.orelse, set(bound), rebinds)
        elif isinstance(stmt, ast.If):
            reads |= _expr_reads(stmt.test, bound)
            left, right = set(bound), set(bound)
            reads |= _block_reads(stmt.body, left, rebinds)
            reads |= _block_reads(stmt.orelse, right, rebinds)
            bound |= left & right
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            shadow = set()
            for item in stmt.items:
                reads |= _expr_reads(item.context_expr, bound)
                shadow |= _substituted(item.context_expr)
                if item.optional_vars is not None:
                    names = _target_names(item.optional_vars)
                    rebinds.update({n: set() for n in names})
                    bound |= names
            body = _block_reads(stmt.body, bound, rebinds)
            if shadow:  # inside `with substitute(globals(), name=trusted)`, `name` is the trusted one
                body = {_shadowed(r, shadow) for r in body}
            reads |= body
        elif isinstance(stmt, ast.Try) or type(stmt).__name__ == "TryStar":
            reads |= _block_reads(stmt.body, set(bound), rebinds)
            for handler in stmt.handlers:
                reads |= _expr_reads(handler.type, bound)
                local = set(bound) | ({handler.name} if handler.name else set())
                reads |= _block_reads(handler.body, local, rebinds)
            reads |= _block_reads(stmt.orelse, set(bound), rebinds)
            reads |= _block_reads(stmt.finalbody, set(bound), rebinds)
        else:  # Expr, Return, Assert, Raise, Delete, Global, Pass, Match, ...
            reads |= _expr_reads(stmt, bound)
            for sub in ast.walk(stmt):
                if isinstance(sub, ast.Name) and isinstance(sub.ctx, (ast.Store, ast.Del)):
                    rebinds[sub.id] = set()
    return reads


def _store_bases(node):
    """Names whose objects a statement may change in place when it runs (an assignment to an
    item or attribute, a method call); function and class bodies run later and are skipped."""
    bases = set()
    todo = [node]
    while todo:
        sub = todo.pop()
        if sub is not node and isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            break
        todo.extend(ast.iter_child_nodes(sub))
        target = None
        if isinstance(sub, (ast.Attribute, ast.Subscript)) and isinstance(sub.ctx, (ast.Store, ast.Del)):
            target = sub
        elif isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute):
            target = sub.func.value
        while isinstance(target, (ast.Attribute, ast.Subscript, ast.Call)):
            target = target.func if isinstance(target, ast.Call) else target.value
        if isinstance(target, ast.Name):
            bases.add(target.id)
    return bases


def _plain(read):
    return read[0] if isinstance(read, tuple) else read


def _dynamic_reads(stmt):
    """Names a statement reads through globals()/vars()/eval: none if globals() only goes to
    `substitute(globals(), ...)` (which rebinds names for a with-block and restores them), else
    the identifiers among its strings, or None (anything) if there are none."""
    handed_over = {id(node.args[0]) for node in ast.walk(stmt) if isinstance(node, ast.Call) and _substituted(node)}
    dynamic = [node for node in ast.walk(stmt) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
               and node.func.id in EVERYTHING and id(node) not in handed_over]
    if not dynamic:
        return set()
    strings = {n.value for n in ast.walk(stmt) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    names = {text for text in strings if text.isidentifier()}
    return names or None


def _strip_magics(code):
    return "\n".join("pass" if line.lstrip().startswith(("%", "!")) else line for line in code.splitlines())


def analyse_statements(code):
    """The data flow of one cell, statement by statement (see `Statement`)."""
    try:
        tree = ast.parse(_strip_magics(code))
    except SyntaxError:
        return [Statement(set(), {}, set(), reads_all=True)]
    _DICT_KEYS.clear()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict) and len(node.targets) == 1 \
                and isinstance(node.targets[0], ast.Name) and node.value.keys \
                and all(isinstance(k, ast.Constant) and isinstance(k.value, str) for k in node.value.keys):
            _DICT_KEYS[node.targets[0].id] = {k.value for k in node.value.keys}
    out = []
    for stmt in tree.body:
        rebinds = {}
        reads = _block_reads([stmt], set(), rebinds)
        deferred = set().union(set(), *rebinds.values())
        inplace = _store_bases(stmt) - set(rebinds)
        if RNG in {_plain(r) for r in reads}:
            inplace.add(RNG)
        reads_all = False
        if {_plain(r) for r in reads | deferred} & EVERYTHING:
            dynamic = _dynamic_reads(stmt)
            if dynamic is None:
                reads_all = True
            else:
                reads |= dynamic
        out.append(Statement(reads, rebinds, inplace, reads_all))
    return out


# ============================================================================ hidden tests (the grader's side)
#
# A test cell's hidden region runs in the grader's process, in a fresh namespace of its own: it
# binds nothing in the notebook, and its names (`np`, `_x`, `check_array`, ...) are the grader's.
# It reaches the notebook only through the proxy `student`:
#
#   student.value("name")                        reads `name`
#   student.call("f", *args, trusted={"h": ref})  calls `f` (reads `f`, and what `f` reads when it
#                                                runs), with the notebook's `h` replaced by a stub
#   student.map("f", calls, trusted=...)         the same, several times
#   student.evaluate(code, label, trusted=..., **inputs)
#                                                runs `code` in a copy of the notebook's namespace
#                                                with `inputs` bound: the names the code reads
#
# So the notebook names a hidden test depends on are STRINGS. They are found by resolving the
# argument to the strings it can be: constants, f-strings and `+` of resolvable parts, `a if c
# else b`, names the region binds (to those, to elements of literal lists/tuples/dicts a loop
# runs over), parameters of the region's own functions (from each call site: a call inside a
# helper is analysed once per call of the helper), the return values of the region's functions.
# Whatever cannot be resolved is a *hole*; its text may hold any identifier found in the string
# constants it is built from (followed through the region's bindings), plus the names a known
# code writer of grader.hidden (`CODE_WRITERS`) emits; an identifier glued to a hole
# (f"x{i}") is a pattern (x*) matched against the names the notebook binds. A hole built from
# anything else (a value from outside the region, a call of an unknown function) may hold any
# name: the test cell then reads everything (safe, but it costs sharing of notebooks).
# `student` used in any other way (passed on, aliased) also reads everything.

STUDENT_OPS = {"value", "call", "map", "evaluate"}
STUDENT_SILENT = {"end"}                     # proxy methods that read nothing
STUDENT_MODULES = {"grader.hidden", "grader.hidden.current"}
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
HOLE = "__ga_hole{}__"
HOLE_TEXT = re.compile(r"__ga_hole\d+__")
MAX_TEMPLATES = 256
MAX_CONTEXTS = 64
#: calls whose value holds no identifier, whatever their arguments (numbers, booleans)
NUMERIC_CALLS = {"len", "range", "int", "float", "abs", "round", "bool", "hash", "id", "ord", "isinstance",
                 "issubclass", "callable", "hasattr", "divmod", "pow", "complex"}
#: calls whose text comes from their arguments
TEXT_CALLS = {"str", "repr", "format", "ascii", "list", "tuple", "sorted", "reversed", "set", "frozenset", "dict",
              "zip", "enumerate", "min", "max", "chr", "iter", "next"}
TEXT_METHODS = {"join", "split", "rsplit", "splitlines", "strip", "lstrip", "rstrip", "replace", "format", "lower",
                "upper", "title", "capitalize", "casefold", "partition", "rpartition", "removeprefix",
                "removesuffix", "center", "ljust", "rjust", "zfill", "expandtabs", "copy", "items", "keys",
                "values", "get", "tolist", "item"}
#: module names whose functions give numbers and arrays (no identifiers in their text)
NUMERIC_MODULES = {"np", "numpy", "math"}


def _tensor_code_names(call):
    """grader.hidden.tensor_code(graph, tensor="Tensor"): `tensor`, and the inputs x0, x1, ...
    (tests/test_grader_audit.py checks this against the code it writes)."""
    tensor = call.args[1] if len(call.args) > 1 else next((k.value for k in call.keywords if k.arg == "tensor"), None)
    if tensor is None:
        name = "Tensor"
    elif isinstance(tensor, ast.Constant) and isinstance(tensor.value, str):
        name = tensor.value
    else:
        return None
    return {name} | {f"x{i}" for i in range(32)}


#: functions of grader.hidden that write code for student.evaluate: {name: call node -> names it may read}
CODE_WRITERS = {"tensor_code": _tensor_code_names}


@dataclass(frozen=True)
class _Hole:
    expr: object      # the expression whose text is unknown


class _Context:
    """One way a function of the region is reached: through call `site`, itself in `parent`."""

    def __init__(self, func, site=None, parent=None):
        self.func, self.site, self.parent = func, site, parent


class _TooMany(Exception):
    pass


class HiddenRegion:
    """The notebook names a hidden region reads through `student` (see the comment above)."""

    def __init__(self, tree):
        self.tree = tree
        self.parents = {}
        for node in ast.walk(tree):
            for child in ast.iter_child_nodes(node):
                self.parents[child] = node
        self.bindings = {}     # name -> [(kind, node, extra)]
        self.functions = {}    # name -> [FunctionDef]
        self.students = {"student"}
        self.writers = {}      # local name -> CODE_WRITERS entry
        self.star = False
        for node in ast.walk(tree):
            self._collect(node)
        for name in list(self.writers):
            if any(kind != "import" for kind, _, _ in self.bindings.get(name, [])):
                del self.writers[name]   # the region rebinds it: not the grader's writer
        self.calls = {}        # function name -> [Call]
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                self.calls.setdefault(node.func.id, []).append(node)

    # ---- what the region binds

    def _bind(self, name, kind, node, extra=None):
        self.bindings.setdefault(name, []).append((kind, node, extra))

    def _bind_target(self, target, kind, value, path=()):
        if isinstance(target, ast.Name):
            self._bind(target.id, kind, value, path)
        elif isinstance(target, (ast.Tuple, ast.List)):
            starred = any(isinstance(e, ast.Starred) for e in target.elts)
            for i, element in enumerate(target.elts):
                if starred:
                    for name in _target_names(element):
                        self._bind(name, "opaque", value)
                else:
                    self._bind_target(element, kind, value, path + (i,))
        else:  # x[i] = ..., a.b = ...: no name is bound
            pass

    def _collect(self, node):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                self._bind_target(target, "assign", node.value)
        elif isinstance(node, (ast.AnnAssign, ast.NamedExpr)) and node.value is not None:
            self._bind_target(node.target, "assign", node.value)
        elif isinstance(node, ast.AugAssign):
            for name in _target_names(node.target):
                self._bind(name, "opaque", node.value)
        elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
            self._bind_target(node.target, "iter", node.iter)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                if item.optional_vars is not None:
                    for name in _target_names(item.optional_vars):
                        self._bind(name, "opaque", item.context_expr)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            self._bind(node.name, "opaque", None)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            if not isinstance(node, ast.Lambda):
                self._bind(node.name, "def", node)
                self.functions.setdefault(node.name, []).append(node)
            a = node.args
            for arg in a.posonlyargs + a.args + a.kwonlyargs + [x for x in (a.vararg, a.kwarg) if x]:
                self._bind(arg.arg, "param", node, arg.arg)
        elif isinstance(node, ast.ClassDef):
            self._bind(node.name, "def", node)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            module = node.module if isinstance(node, ast.ImportFrom) else None
            for alias in node.names:
                if alias.name == "*":
                    if module in STUDENT_MODULES:
                        self.star = True
                        self.writers.update(CODE_WRITERS)
                    continue
                local = (alias.asname or alias.name).split(".")[0]
                self._bind(local, "import", node, (module, alias.name))
                if module in STUDENT_MODULES and alias.name == "student":
                    self.students.add(local)
                if module in STUDENT_MODULES and alias.name in CODE_WRITERS:
                    self.writers[local] = CODE_WRITERS[alias.name]

    def _enclosing(self, node):
        node = self.parents.get(node)
        while node is not None and not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            node = self.parents.get(node)
        return node

    def _params(self, func):
        a = func.args
        return [x.arg for x in a.posonlyargs + a.args + a.kwonlyargs + [x for x in (a.vararg, a.kwarg) if x]]

    # ---- the contexts a piece of code runs in

    def contexts(self, func, depth=0):
        """The ways `func` (None: the region's top level) is reached, one per call site (recursively)."""
        if func is None:
            return [None]
        if isinstance(func, ast.Lambda) or depth > 3:
            return [_Context(func)]
        sites = self.calls.get(func.name, [])
        out = []
        loads = sum(1 for n in ast.walk(self.tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
                    and n.id == func.name)
        if not sites or loads > len(sites):   # never called, or passed on as a value: arguments unknown
            out.append(_Context(func))
        for site in sites:
            for parent in self.contexts(self._enclosing(site), depth + 1):
                out.append(_Context(func, site, parent))
                if len(out) > MAX_CONTEXTS:
                    return [_Context(func)]
        return out

    def _argument(self, ctx, name):
        """The expression passed for parameter `name` of ctx.func at ctx.site: (expr, its context),
        ("kwargs", {name: expr}), or None if unknown."""
        func, site = ctx.func, ctx.site
        if site is None:
            return None
        a = func.args
        positional = [x.arg for x in a.posonlyargs + a.args]
        starred_at = next((i for i, arg in enumerate(site.args) if isinstance(arg, ast.Starred)), len(site.args))
        splat = any(k.arg is None for k in site.keywords)
        if name in positional:
            i = positional.index(name)
            if i < starred_at:
                return site.args[i], ctx.parent
            if starred_at < len(site.args):   # a *args of the call may cover it: unknown
                return None
            keyword = next((k for k in site.keywords if k.arg == name), None)
            if keyword is not None:
                return keyword.value, ctx.parent
            if splat:
                return None
            defaults = a.defaults
            offset = len(positional) - len(defaults)
            if i >= offset:
                return defaults[i - offset], None
            return None
        if name in [x.arg for x in a.kwonlyargs]:
            keyword = next((k for k in site.keywords if k.arg == name), None)
            if keyword is not None:
                return keyword.value, ctx.parent
            if splat:
                return None
            i = [x.arg for x in a.kwonlyargs].index(name)
            default = a.kw_defaults[i]
            return (default, None) if default is not None else None
        if a.kwarg is not None and name == a.kwarg.arg:
            known = set(positional) | {x.arg for x in a.kwonlyargs}
            return "kwargs", {k.arg: k.value for k in site.keywords if k.arg and k.arg not in known}, splat
        return None

    def _inside(self, node, ancestor):
        while node is not None:
            if node is ancestor:
                return True
            node = self.parents.get(node)
        return False

    def _loop(self, name, node):
        """The loop (or comprehension) whose target gives `name` its value where `node` reads it,
        if the loop's body does not bind `name` again; else None."""
        child, parent = node, self.parents.get(node)
        while parent is not None and not isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            if isinstance(parent, (ast.For, ast.AsyncFor)) and child in parent.body \
                    and name in _target_names(parent.target):
                again = [w for kind, w, _ in self.bindings.get(name, []) if kind != "iter" or w is not parent.iter]
                if any(w is not None and self._inside(w, parent) for w in again):
                    return None
                return parent
            if isinstance(parent, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
                for generator in parent.generators:
                    if name in _target_names(generator.target):
                        return generator
            child, parent = parent, self.parents.get(parent)
        return None

    def _values(self, name, ctx, node):
        """(expression, context, path) for every value `name` may have where `node` reads it;
        "opaque" entries are (None, None, None)."""
        out = []
        func = ctx.func if ctx is not None else None
        loop = self._loop(name, node) if node is not None else None
        for kind, where, extra in self.bindings.get(name, []):
            if loop is not None and not (kind == "iter" and where is loop.iter):
                continue
            if kind == "param":
                if where is func and ctx is not None:
                    argument = self._argument(ctx, name)
                    if argument is None or argument[0] == "kwargs":
                        out.append((None, None, None))
                    else:
                        out.append((argument[0], argument[1], ()))
                else:
                    out.append((None, None, None))   # another function's parameter: unknown
            elif kind in ("assign", "iter"):
                home = self._enclosing(where)
                where_ctx = ctx if home is func else (None if home is None else _Context(home))
                out.append((where, where_ctx, extra if kind == "assign" else ("iter", extra)))
            else:
                out.append((None, None, None))
        return out

    # ---- strings

    def resolve(self, expr, ctx, seen=frozenset()):
        """The texts `expr` may have: a list of templates (tuples of str and _Hole)."""
        if isinstance(expr, ast.Constant):
            if isinstance(expr.value, str):
                return [(expr.value,)]
            if isinstance(expr.value, (int, float)) and not isinstance(expr.value, bool):
                return [(str(expr.value),)]
            return [(_Hole(expr),)]
        if isinstance(expr, ast.JoinedStr):
            parts = [[()]]
            for value in expr.values:
                if isinstance(value, ast.Constant):
                    parts.append([(str(value.value),)])
                elif isinstance(value, ast.FormattedValue) and value.conversion == -1 and value.format_spec is None:
                    parts.append(self.resolve(value.value, ctx, seen))
                else:
                    parts.append([(_Hole(value),)])
            return _product(parts)
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
            return _product([self.resolve(expr.left, ctx, seen), self.resolve(expr.right, ctx, seen)])
        if isinstance(expr, ast.IfExp):
            return _union([self.resolve(expr.body, ctx, seen), self.resolve(expr.orelse, ctx, seen)])
        if isinstance(expr, ast.Name) and isinstance(expr.ctx, ast.Load):
            key = (expr.id, id(ctx.func) if ctx else None, id(ctx.site) if ctx else None)
            if key in seen:
                return [(_Hole(expr),)]
            seen = seen | {key}
            values = self._values(expr.id, ctx, expr)
            if not values:
                return [(_Hole(expr),)]
            out = []
            for value, value_ctx, path in values:
                if value is None:
                    out.append([(_Hole(expr),)])
                    continue
                if path and path[0] == "iter":
                    elements = self.elements(value, value_ctx, seen)
                    if elements is None:
                        out.append([(_Hole(expr),)])
                        continue
                    for element, element_ctx in elements:
                        picked = _pick(element, path[1])
                        out.append([(_Hole(expr),)] if picked is None else self.resolve(picked, element_ctx, seen))
                else:
                    picked = _pick(value, path)
                    out.append([(_Hole(expr),)] if picked is None else self.resolve(picked, value_ctx, seen))
            return _union(out)
        if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id in self.functions \
                and expr.func.id not in self.writers:
            out = []
            for func in self.functions[expr.func.id]:
                key = ("call", id(func), id(expr))
                if key in seen:
                    return [(_Hole(expr),)]
                call_ctx = _Context(func, expr, ctx)
                for node in _own_nodes(func):
                    if isinstance(node, ast.Return):
                        out.append([(_Hole(expr),)] if node.value is None
                                   else self.resolve(node.value, call_ctx, seen | {key}))
            return _union(out) if out else [(_Hole(expr),)]
        return [(_Hole(expr),)]

    def elements(self, expr, ctx, seen):
        """[(element expression, context)] of a literal collection a loop runs over, or None."""
        if isinstance(expr, (ast.List, ast.Tuple, ast.Set)):
            if any(isinstance(e, ast.Starred) for e in expr.elts):
                return None
            return [(e, ctx) for e in expr.elts]
        if isinstance(expr, ast.Dict):
            if any(k is None for k in expr.keys):
                return None
            return [(k, ctx) for k in expr.keys]
        if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute) and not expr.args \
                and expr.func.attr in ("items", "keys", "values"):
            base = self._literal(expr.func.value, ctx, seen)
            if not isinstance(base, tuple) or not isinstance(base[0], ast.Dict) or any(k is None for k in base[0].keys):
                return None
            d, d_ctx = base
            if expr.func.attr == "keys":
                return [(k, d_ctx) for k in d.keys]
            if expr.func.attr == "values":
                return [(v, d_ctx) for v in d.values]
            return [(ast.Tuple(elts=[k, v], ctx=ast.Load()), d_ctx) for k, v in zip(d.keys, d.values)]
        if isinstance(expr, ast.Name):
            literal = self._literal(expr, ctx, seen)
            if literal is None:
                return None
            if isinstance(literal, list):
                out = []
                for node, node_ctx in literal:
                    found = self.elements(node, node_ctx, seen)
                    if found is None:
                        return None
                    out.extend(found)
                return out
            return self.elements(literal[0], literal[1], seen)
        return None

    def _literal(self, expr, ctx, seen):
        """The literal(s) a name is bound to: (node, ctx), a list of them, or None."""
        if isinstance(expr, (ast.List, ast.Tuple, ast.Set, ast.Dict)):
            return expr, ctx
        if not isinstance(expr, ast.Name):
            return None
        key = ("literal", expr.id)
        if key in seen:
            return None
        found = []
        for value, value_ctx, path in self._values(expr.id, ctx, expr):
            if value is None or (path and path[0] == "iter"):
                return None
            picked = _pick(value, path)
            if not isinstance(picked, (ast.List, ast.Tuple, ast.Set, ast.Dict)):
                return None
            found.append((picked, value_ctx))
        if not found:
            return None
        return found[0] if len(found) == 1 else found

    def keys(self, expr, ctx, seen=frozenset()):
        """The names a `trusted=` argument certainly substitutes (empty when unsure: the safe side)."""
        if expr is None or (isinstance(expr, ast.Constant) and expr.value is None):
            return set()
        if isinstance(expr, ast.Dict):
            names = set()
            for key, value in zip(expr.keys, expr.values):
                if key is None:
                    names |= self.keys(value, ctx, seen)
                    continue
                try:
                    texts = self.resolve(key, ctx)
                except _TooMany:
                    continue
                if len(texts) == 1 and all(isinstance(p, str) for p in texts[0]):
                    names.add("".join(texts[0]))
            return names
        if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id == "dict" and not expr.args:
            return {k.arg for k in expr.keywords if k.arg}
        if isinstance(expr, ast.Name):
            key = ("keys", expr.id)
            if key in seen:
                return set()
            options = []
            for value, value_ctx, path in self._values(expr.id, ctx, expr):
                picked = _pick(value, path) if value is not None and not (path and path[0] == "iter") else None
                if picked is None:
                    return set()
                options.append(self.keys(picked, value_ctx, seen | {key}))
            return set.intersection(*options) if options else set()
        return set()

    def tokens(self, node, seen=None):
        """Identifiers (and glued patterns such as 'x*') the text of `node` may hold; None: any."""
        seen = set() if seen is None else seen
        if node is None:
            return None
        if isinstance(node, ast.Constant):
            return set(IDENTIFIER.findall(node.value)) if isinstance(node.value, str) else set()
        if isinstance(node, (ast.JoinedStr, ast.BinOp)) and not (isinstance(node, ast.BinOp)
                                                                 and not isinstance(node.op, ast.Add)):
            parts = _skeleton(node)
            out = set(_glued(parts))
            for part in parts:
                found = self.tokens(part.expr if isinstance(part, _Hole) else ast.Constant(part), seen)
                if found is None:
                    return None
                out |= found
            return out
        if isinstance(node, ast.Name):
            if not isinstance(node.ctx, ast.Load) or node.id in seen:
                return set()
            seen.add(node.id)
            if node.id in NUMERIC_MODULES or (node.id not in self.bindings and hasattr(builtins, node.id)):
                return set()
            if node.id not in self.bindings:
                return None                      # from outside the region (a star import): unknown text
            out = set()
            for kind, where, extra in self.bindings[node.id]:
                if kind in ("assign", "iter", "opaque"):
                    found = self.tokens(where, seen) if where is not None else None
                elif kind == "param":
                    found = self._param_tokens(where, extra, seen)
                elif kind == "def":
                    found = set()
                else:  # import
                    module, name = extra
                    found = set() if (name in NUMERIC_MODULES or module in NUMERIC_MODULES) else None
                if found is None:
                    return None
                out |= found
            return out
        if isinstance(node, ast.Call):
            func = node.func
            arguments = list(node.args) + [k.value for k in node.keywords]
            if isinstance(func, ast.Name):
                if func.id in self.writers:
                    return self.writers[func.id](node)
                if func.id in self.functions:
                    key = "def " + func.id
                    if key in seen:
                        return set()
                    seen.add(key)
                    out = set()
                    for definition in self.functions[func.id]:
                        for sub in _own_nodes(definition):
                            if isinstance(sub, ast.Return) and sub.value is not None:
                                found = self.tokens(sub.value, seen)
                                if found is None:
                                    return None
                                out |= found
                    return out
                if func.id in NUMERIC_CALLS and func.id not in self.bindings:
                    return set()
                if func.id in TEXT_CALLS and func.id not in self.bindings:
                    return self._union_tokens(arguments, seen)
                return None
            if isinstance(func, ast.Attribute):
                if isinstance(func.value, ast.Name) and func.value.id in NUMERIC_MODULES:
                    return set()
                if func.attr in TEXT_METHODS:
                    return self._union_tokens([func.value] + arguments, seen)
            return None
        if isinstance(node, (ast.Lambda, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            return set()
        if isinstance(node, ast.Attribute):
            if isinstance(node.value, ast.Name) and node.value.id in NUMERIC_MODULES:
                return set()
            return self.tokens(node.value, seen)
        if isinstance(node, ast.Compare):
            return set()
        return self._union_tokens(list(ast.iter_child_nodes(node)), seen)

    def _union_tokens(self, nodes, seen):
        out = set()
        for sub in nodes:
            found = self.tokens(sub, seen)
            if found is None:
                return None
            out |= found
        return out

    def _param_tokens(self, func, name, seen):
        """Context-free: the text of any argument any call passes for this parameter."""
        a = func.args
        positional = [x.arg for x in a.posonlyargs + a.args]
        sources = []
        if a.vararg is not None and name == a.vararg.arg or a.kwarg is not None and name == a.kwarg.arg:
            for site in self.calls.get(getattr(func, "name", None), []):
                sources.extend(list(site.args) + [k.value for k in site.keywords])
        else:
            if name in positional:
                i = positional.index(name)
                offset = len(positional) - len(a.defaults)
                if i >= offset:
                    sources.append(a.defaults[i - offset])
            else:
                i = [x.arg for x in a.kwonlyargs].index(name)
                if a.kw_defaults[i] is not None:
                    sources.append(a.kw_defaults[i])
            if isinstance(func, ast.Lambda):
                return None
            sites = self.calls.get(func.name, [])
            loads = sum(1 for n in ast.walk(self.tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
                        and n.id == func.name)
            if loads > len(sites):
                return None
            for site in sites:
                if any(isinstance(arg, ast.Starred) for arg in site.args) or any(k.arg is None for k in site.keywords):
                    sources.extend(list(site.args) + [k.value for k in site.keywords])
                    continue
                if name in positional and positional.index(name) < len(site.args):
                    sources.append(site.args[positional.index(name)])
                sources.extend(k.value for k in site.keywords if k.arg == name)
        return self._union_tokens(sources, seen)

    # ---- the reads

    def reads(self):
        """(reads, patterns, inplace, everything): notebook names the region reads (plain, or
        (name, substituted names) while trusted helpers stand in), glob patterns of names,
        names whose objects it may change in place, and whether it may read any name."""
        reads, patterns, inplace = set(), set(), set()
        for node in ast.walk(self.tree):
            if not (isinstance(node, ast.Name) and node.id in self.students and isinstance(node.ctx, ast.Load)):
                continue
            parent = self.parents.get(node)
            grand = self.parents.get(parent)
            if not (isinstance(parent, ast.Attribute) and parent.value is node):
                return set(), set(), set(), True         # student passed on, aliased, ...
            if parent.attr in STUDENT_SILENT:
                continue
            if parent.attr not in STUDENT_OPS or not (isinstance(grand, ast.Call) and grand.func is parent):
                return set(), set(), set(), True
            for ctx in self.contexts(self._enclosing(grand)):
                found = self._request(parent.attr, grand, ctx)
                if found is None:
                    return set(), set(), set(), True
                names, globs, changed, shadow = found
                reads |= {_shadowed(n, shadow) if shadow else n for n in names}
                patterns |= {(g, frozenset(shadow)) for g in globs}
                inplace |= changed
        return reads, patterns, inplace, False

    def _argument_of(self, call, index, keyword):
        if index is not None and len(call.args) > index and \
                not any(isinstance(a, ast.Starred) for a in call.args[:index + 1]):
            return call.args[index]
        return next((k.value for k in call.keywords if k.arg == keyword), None)

    def _request(self, op, call, ctx):
        """What one student.<op>(...) call reads: (names, patterns, in place, trusted) or None (any)."""
        if op == "evaluate":
            code = self._argument_of(call, 0, "code")
            trusted = self._argument_of(call, 2, "trusted")
            inputs = {k.arg for k in call.keywords if k.arg and k.arg not in ("code", "label", "trusted", "warning_hint")}
            for k in call.keywords:
                if k.arg is None and isinstance(k.value, ast.Name) and ctx is not None and ctx.func is not None \
                        and ctx.func.args.kwarg is not None and k.value.id == ctx.func.args.kwarg.arg:
                    passed = self._argument(ctx, k.value.id)
                    if passed is not None and passed[0] == "kwargs":
                        inputs |= set(passed[1])
            if code is None:
                return None
            shadow = self.keys(trusted, ctx)
            found = self._snippet(code, ctx, inputs)
            if found is None:
                return None
            names, globs, changed = found
            return names, globs, changed, shadow
        name = self._argument_of(call, 0, "name")
        trusted = next((k.value for k in call.keywords if k.arg == "trusted"), None)
        if name is None:
            return None
        found = self._names(name, ctx)
        if found is None:
            return None
        return found[0], found[1], set(), self.keys(trusted, ctx)

    def _names(self, expr, ctx):
        """The notebook names a name argument may be: (names, patterns) or None."""
        try:
            templates = self.resolve(expr, ctx)
        except _TooMany:
            templates = [(_Hole(expr),)]
        names, globs = set(), set()
        for template in templates:
            if all(isinstance(p, str) for p in template):
                text = "".join(template)
                names |= {text} if text.isidentifier() else set(IDENTIFIER.findall(text))
                continue
            found = self._template_tokens(template)
            if found is None:
                return None
            names |= {t for t in found if "*" not in t}
            globs |= {t for t in found if "*" in t}
            globs |= set(_glued(list(template)))
        return names, globs

    def _template_tokens(self, template):
        out = set()
        for part in template:
            found = set(IDENTIFIER.findall(part)) if isinstance(part, str) else self.tokens(part.expr)
            if found is None:
                return None
            out |= found
        return out

    def _snippet(self, expr, ctx, inputs):
        """The notebook names a code argument of student.evaluate may read: (names, patterns,
        names changed in place) or None."""
        try:
            templates = self.resolve(expr, ctx)
        except _TooMany:
            templates = [(_Hole(expr),)]
        names, globs, changed = set(), set(), set()
        for template in templates:
            holes = [p for p in template if isinstance(p, _Hole)]
            text = "".join(HOLE.format(holes.index(p)) if isinstance(p, _Hole) else p for p in template)
            extra = set()
            for hole in holes:
                found = self.tokens(hole.expr)
                if found is None:
                    return None
                extra |= found
            try:
                flow = snippet_flow(text, inputs)
            except SyntaxError:
                flow = None
            if flow is None:   # not Python (yet): any identifier of its text
                found = self._template_tokens(template)
                if found is None:
                    return None
                extra |= found
                globs |= set(_glued(list(template)))
            else:
                read, change, everything = flow
                if everything:
                    return None
                for name in read | change:
                    if HOLE_TEXT.search(name):
                        if HOLE_TEXT.sub("", name):   # an identifier glued to a hole: a pattern
                            globs.add(HOLE_TEXT.sub("*", name))
                        continue
                    if name in read:
                        names.add(name)
                    if name in change:
                        changed.add(name)
            names |= {t for t in extra if "*" not in t}
            globs |= {t for t in extra if "*" in t}
        return names, globs, changed


def _product(lists):
    out = [()]
    for options in lists:
        out = [a + b for a in out for b in options]
        if len(out) > MAX_TEMPLATES:
            raise _TooMany()
    return out


def _union(lists):
    out = []
    for options in lists:
        for option in options:
            if option not in out:
                out.append(option)
    if len(out) > MAX_TEMPLATES:
        raise _TooMany()
    return out


def _pick(node, path):
    """The part of a literal that a destructuring target takes (None: not a literal)."""
    for i in path:
        if not isinstance(node, (ast.Tuple, ast.List)) or any(isinstance(e, ast.Starred) for e in node.elts) \
                or i >= len(node.elts):
            return None
        node = node.elts[i]
    return node


def _skeleton(node):
    """A string expression as constant texts and _Holes (f-strings and + only)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        out = []
        for value in node.values:
            out.extend([value.value] if isinstance(value, ast.Constant) else [_Hole(value.value)])
        return out
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _skeleton(node.left) + _skeleton(node.right)
    return [_Hole(node)]


def _glued(parts):
    """Patterns ('x*', '*_grad') of identifiers a constant text forms with an adjacent hole."""
    text = "".join("\0" if isinstance(p, _Hole) else p for p in parts)
    out = set()
    for run in re.findall(r"[A-Za-z0-9_\0]+", text):
        if "\0" in run and run.replace("\0", ""):
            pattern = re.sub("\0+", "*", run)
            if re.match(r"[*A-Za-z_]", pattern):
                out.add(pattern)
    return out


def snippet_flow(code, inputs=()):
    """(names read from the notebook, names changed in place, reads everything) of a snippet run
    by student.evaluate in a copy of the notebook's namespace with `inputs` bound."""
    tree = ast.parse(_strip_magics(code))
    rebinds = {}
    bound = set(inputs)
    reads = _block_reads(tree.body, bound, rebinds)
    local = set(rebinds) | set(inputs)
    deferred = set().union(set(), *rebinds.values())
    reads = {r for r in reads if _plain(r) not in inputs} | {d for d in deferred if _plain(d) not in local}
    plain = {_plain(r) for r in reads}
    changed = set()
    for stmt in tree.body:
        changed |= _store_bases(stmt)
    changed -= local
    if RNG in plain:
        changed.add(RNG)
    if plain & EVERYTHING:
        dynamic = set()
        for stmt in tree.body:
            found = _dynamic_reads(stmt)
            if found is None:
                return set(), set(), True
            dynamic |= found
        plain |= dynamic
    return plain - EVERYTHING, changed, False


def analyse_hidden(code):
    """The data flow of a hidden region, as one statement that binds nothing in the notebook."""
    try:
        tree = ast.parse(_strip_magics(code))
    except SyntaxError:
        return [Statement(set(), {}, set(), reads_all=True)]
    try:
        reads, patterns, inplace, everything = HiddenRegion(tree).reads()
    except (RecursionError, _TooMany):
        reads, patterns, inplace, everything = set(), set(), set(), True
    return [Statement(reads, {}, inplace, everything, patterns=patterns, hidden=True)]


def _cell_kind(cell):
    meta = cell.get("metadata", {}).get("nbgrader", {})
    if cell.cell_type != "code":
        return None
    if meta.get("solution"):
        return "solution"
    if meta.get("grade"):
        return "test"
    return "code"


def analyse(source_nb, name):
    """The notebook's solution cells, autograded test cells, and what each solution cell reaches."""
    cells, solutions, tests = [], {}, {}
    for index, nb_cell in enumerate(source_nb.cells):
        kind = _cell_kind(nb_cell)
        if kind is None:
            continue
        meta = nb_cell.metadata.get("nbgrader", {})
        gid = meta.get("grade_id") or f"cell{index}"
        cell = Cell(index, gid, kind, nb_cell.source, float(meta.get("points") or 0))
        visible, hidden, found = cell.source, "", False
        if kind == "solution":
            code, parts = mutation.solution_parts(nb_cell.source)
            solutions[gid] = (code, parts)
            cell.source = visible = code
        elif kind == "test":
            tests[gid] = cell.points
            # the kernel runs the visible part first; then the grader runs the hidden tests
            visible, hidden, found = regions.split(nb_cell.source)
        cell.statements = analyse_statements(visible) + (analyse_hidden(hidden) if found else [])
        cell.visible = visible
        cells.append(cell)
    model = NotebookModel(name, cells, solutions, tests)
    for cell in cells:
        try:
            tree = ast.parse(_strip_magics(cell.visible))   # the hidden tests' imports are the grader's
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                model.modules |= {(a.asname or a.name).split(".")[0] for a in node.names}
    _expand_patterns(cells)
    for gid in solutions:
        model.writes[gid] = {name for stmt in model.cell(gid).statements for name in stmt.rebinds}
        reached = reach(model, model.cell(gid).index)
        model.reach[gid] = reached
        model.reach_tests[gid] = {c.grade_id for c in cells if c.index in reached and c.kind == "test"}
    return model


def _expand_patterns(cells):
    """Reads of glob patterns (an identifier glued to an unknown part of a hidden test's code,
    'x*'): reads of every name the notebook binds that matches."""
    bound = {name for cell in cells for stmt in cell.statements for name in stmt.rebinds}
    for cell in cells:
        for stmt in cell.statements:
            for glob, shadow in stmt.patterns:
                rx = re.compile(re.escape(glob).replace(r"\*", r"\w*"))
                stmt.immediate |= {_shadowed(n, shadow) if shadow else n for n in bound if rx.fullmatch(n)}


def reach(model, start):
    """Indices of the cells whose behaviour can change when the cell at `start` changes."""
    state = {}   # name -> (tainted, names read later through it)

    def tainted(read, seen):
        name, shadow = read if isinstance(read, tuple) else (read, frozenset())
        if name in seen or name in shadow:
            return False
        seen.add(name)
        flag, deferred = state.get(name, (False, ()))
        return flag or any(tainted((d, shadow), seen) for d in deferred)

    def expands_to_rng(names, seen):
        for name in map(_plain, names):
            if name == RNG:
                return True
            if name in seen:
                continue
            seen.add(name)
            if expands_to_rng(state.get(name, (False, ()))[1], seen):
                return True
        return False

    reached = set()
    for cell in model.cells:
        for stmt in cell.statements:
            if cell.index == start:
                hit = True
            else:
                names = set(state) | stmt.immediate if stmt.reads_all else stmt.immediate
                hit = any(tainted(n, set()) for n in names)
            if hit and cell.index != start:
                reached.add(cell.index)
            for name, deferred in stmt.rebinds.items():
                state[name] = (hit, frozenset(deferred))
            inplace = set(stmt.inplace) - model.modules
            if expands_to_rng(stmt.immediate, set()):
                inplace.add(RNG)
            for name in inplace:
                old = state.get(name, (False, frozenset()))
                state[name] = (old[0] or hit, old[1])
    return reached


# ============================================================================ items to grade

@dataclass
class Item:
    kind: str                 # "mutant" | "right" | "mistake"
    notebook: str
    cell: str                 # grade_id of the solution cell
    label: str                # mutant key, or the corpus entry's label
    code: str                 # the whole solution cell as submitted
    expect: str = None        # mistakes: the hint kind it must get
    mutant: object = None     # mutants: the Mutant
    # outcome
    student: str = None
    shared: int = 1           # how many items shared the notebook
    graded: bool = None
    lost: dict = field(default_factory=dict)       # test grade_id -> [score, max] (reached tests only)
    hints: list = field(default_factory=list)      # [[test grade_id, kind]] in reached tests
    messages: dict = field(default_factory=dict)   # test grade_id -> first line of the error
    unattributed: list = field(default_factory=list)
    failure: str = ""
    rechecked: bool = False   # graded again alone after a loss at a time limit

    @property
    def killed(self):
        return (self.graded is False) or bool(self.lost)


def mutant_items(model, operators=None):
    items = []
    for gid, (code, regions) in model.solutions.items():
        for m in mutation.generate(code, regions, operators):
            items.append(Item("mutant", model.name, gid, m.key, m.source, mutant=m))
    return items


def corpus_items(models, corpus, kind):
    items, problems = [], []
    for nb_name, entries in corpus.items():
        if nb_name not in models:
            continue
        for entry in entries:
            gid, label, code = entry[0], entry[1], entry[2]
            expect = entry[3] if kind == "mistake" else None
            if gid not in models[nb_name].solutions:
                problems.append(f"{nb_name}: corpus entry {label!r} names no solution cell {gid!r}")
                continue
            items.append(Item(kind, nb_name, gid, label, code, expect=expect))
    return items, problems


def load_corpora():
    sys.path.insert(0, str(TOOLS))
    from audit_corpus import mistakes, right_answers
    return right_answers.RIGHT_ANSWERS, mistakes.MISTAKES


def load_equivalent(path=EQUIVALENT_FILE):
    if not Path(path).exists():
        return {}
    data = json.loads(Path(path).read_text())
    return {k: v for k, v in data.items() if not k.startswith("_")}


def sample_mutants(items, per_notebook, seed):
    """A seeded sample of `per_notebook` mutants from each notebook, spread over its cells."""
    rng = random.Random(seed)
    chosen = []
    by_nb = {}
    for item in items:
        by_nb.setdefault(item.notebook, []).append(item)
    for nb_name, nb_items in sorted(by_nb.items()):
        by_cell = {}
        for item in nb_items:
            by_cell.setdefault(item.cell, []).append(item)
        for group in by_cell.values():
            rng.shuffle(group)
        picked, cells = [], sorted(by_cell)
        while len(picked) < per_notebook and any(by_cell.values()):
            for gid in cells:
                if by_cell[gid] and len(picked) < per_notebook:
                    picked.append(by_cell[gid].pop())
        chosen.extend(picked)
    return chosen


# ============================================================================ the temporary course

class AuditCourse:
    """A throw-away course: the source notebooks, the config (shorter cell timeout), a release."""

    def __init__(self, root, source_dir, notebooks, timeout):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        config = (REPO / "nbgrader_config.py").read_text()
        if timeout:
            config += f"\n# grader audit: a mutant that hangs costs this much per cell\nc.Execute.timeout = {int(timeout)}\n"
        (self.root / "nbgrader_config.py").write_text(config)
        source = self.root / "source" / ASSIGNMENT
        source.mkdir(parents=True)
        for name in notebooks:
            shutil.copy(Path(source_dir) / name, source)
        run = nbgrader(["generate_assignment", ASSIGNMENT, "--force"], self.root)
        if run.returncode != 0:
            raise RuntimeError("generate_assignment failed:\n" + run.stdout[-2000:] + run.stderr[-2000:])
        self.source_nbs = {n: submissions.read(source / n) for n in notebooks}
        self.release_nbs = {n: submissions.read(self.root / "release" / ASSIGNMENT / n) for n in notebooks}
        self.rounds = 0

    def submission(self, nb_name, changes):
        return submissions.reference(self.release_nbs[nb_name], self.source_nbs[nb_name], changes)

    def autograde(self, students, jobs, log=None):
        extra = {}
        if log and len(students) >= 20:
            step = max(10, len(students) // 10)

            def progress(event):
                count = event.get("done", 0) + event.get("failed", 0)
                if count and (count % step == 0 or count == event.get("total")):
                    log(f"    graded {count}/{event.get('total')} student(s)")
            extra["progress"] = progress
        return grading.autograde(self.root, ASSIGNMENT, students=students, force=True, jobs=jobs, **extra)

    def graded_nb(self, student, nb_name):
        path = self.root / "autograded" / student / ASSIGNMENT / nb_name
        return submissions.read(path) if path.exists() else None


#: first lines of a test cell's error that mean a time limit (kernel side, or the grader's checks)
TIMEOUT_SIGNS = ("KeyboardInterrupt", "did not finish in time", "took too long", "CellTimeoutError")


def _is_timeout(message):
    return any(sign in (message or "") for sign in TIMEOUT_SIGNS)


def _test_outcomes(nb):
    """{test grade_id: (hint kinds, first error line)} from an autograded notebook."""
    outcomes = {}
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type != "code" or not meta.get("grade") or meta.get("solution"):
            continue
        kinds, message = [], ""
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if HINT_MIME in data:
                record = data[HINT_MIME]
                if isinstance(record, str):
                    with contextlib.suppress(Exception):
                        record = json.loads(record)
                if isinstance(record, dict):
                    kinds.append(record.get("kind"))
            if out.get("output_type") == "error" and not message:
                message = f"{out.get('ename', '')}: {out.get('evalue', '')}".strip()
            if out.get("output_type") == "stream" and out.get("name") == "stderr" and not message:
                message = "stderr: " + out.get("text", "").strip()
        outcomes[meta.get("grade_id")] = (kinds, message.splitlines()[0][:300] if message else "")
    return outcomes


# ============================================================================ packing and grading

def pack(model, items, solo=False):
    """Notebook submissions for one notebook: lists of items, at most one per cell, and only
    cells whose reach is disjoint together. Each batch is filled greedily from the cells with
    the most items left, so the number of notebooks stays close to the largest cell's count."""
    if solo:
        return [[item] for item in items]
    queues = {}
    for item in items:
        queues.setdefault(item.cell, []).append(item)
    prints = {id(item): footprint(model, item) for item in items}

    def clash(a, b):
        if a.cell == b.cell:
            return True
        if a.kind == b.kind == "right":  # expected to lose nothing: any loss is graded again alone
            return False
        return bool(prints[id(a)] & prints[id(b)])

    batches = []
    while any(queues.values()):
        chosen = []
        for gid in sorted((g for g in queues if queues[g]), key=lambda g: (-len(queues[g]), g)):
            candidate = next((item for item in queues[gid] if not any(clash(item, other) for other in chosen)), None)
            if candidate is not None:
                chosen.append(candidate)
                queues[gid].remove(candidate)
        batches.append(chosen)
    return batches


def footprint(model, item):
    """The cells an item's grading depends on: its own cell, the cells its cell reaches, and the
    solution cells whose names its code reads (a right answer may use another exercise's
    function; then that exercise's items must not share its notebook)."""
    cell = model.cell(item.cell)
    cells = model.reach[item.cell] | {cell.index}
    if item.kind != "mutant":   # a mutant reads nothing the reference does not
        try:
            reads = _names(ast.parse(_strip_magics(item.code)), ast.Load)
        except SyntaxError:
            reads = set()
        reads -= _names(ast.parse(_strip_magics(cell.source)), ast.Load)  # already in the cell's reach
        for gid in model.solutions:
            other = model.cell(gid)
            if gid != item.cell and reads & model.writes[gid]:
                cells |= {other.index} | model.reach[gid]
    return cells


class Grader:
    def __init__(self, course, models, jobs, log=print):
        self.course, self.models, self.jobs, self.log = course, models, jobs, log
        self.seconds = 0.0
        self.notebooks_graded = 0
        self.rechecked = 0       # items graded again after a time limit
        self.reference_hints = {}

    def grade(self, items, solo=False):
        """Grade the items (sharing notebooks where safe); retry alone where sharing was not safe."""
        batches = []
        for nb_name, model in self.models.items():
            batches.extend((nb_name, batch) for batch in pack(model, [i for i in items if i.notebook == nb_name], solo))
        retry = self._round(batches)
        if retry:
            self.log(f"  grading {len(retry)} item(s) again, one per notebook")
            left = self._round([(item.notebook, [item]) for item in retry])
            for item in left:  # alone and still not attributable: keep what we saw
                item.failure = item.failure or "loss outside the cell's reach"

    def _round(self, batches):
        if not batches:
            return []
        self.course.rounds += 1
        tag = f"r{self.course.rounds}"
        # One notebook per simulated student: nbgrader drops a student's whole assignment from
        # autograded/ when one of its notebooks cannot be run, which would blame its neighbours.
        order = sorted(self.models)
        students = {}
        for k, (nb_name, batch) in enumerate(batches):
            students[f"{tag}-n{order.index(nb_name)}-{k:05d}"] = {nb_name: batch}
        for student, notebooks in students.items():
            files = {}
            for nb_name, batch in notebooks.items():
                files[nb_name] = self.course.submission(nb_name, {item.cell: item.code for item in batch})
                for item in batch:
                    item.student, item.shared = student, len(batch)
            submissions.write(self.course.root, student, ASSIGNMENT, files)
        start = time.time()
        self.log(f"  round {tag}: {sum(len(b) for _, b in batches)} item(s) in {len(batches)} notebook(s), "
                 f"{len(students)} student(s), {self.jobs} job(s)")
        records = self.course.autograde(sorted(students), self.jobs, self.log) or {}
        self.seconds += time.time() - start
        self.notebooks_graded += len(batches)
        self.log(f"  round {tag}: graded in {time.time() - start:.0f} s")
        scores = gradebook.scores(self.course.root, ASSIGNMENT)
        retry = []
        for student, notebooks in students.items():
            for nb_name, batch in notebooks.items():
                reason = (records.get(student) or {}).get("reason", "")
                retry.extend(self._judge(student, nb_name, batch, scores.get(student, {}).get(Path(nb_name).stem, {}),
                                         reason))
        return retry

    def _judge(self, student, nb_name, batch, table, reason=""):
        model = self.models[nb_name]
        graded = self.course.graded_nb(student, nb_name)
        if graded is None:
            if len(batch) > 1:
                return batch
            batch[0].graded = False
            batch[0].failure = f"the notebook could not be graded: {reason or 'nbgrader removed it'}"
            return []
        outcomes = _test_outcomes(graded)
        lost = {gid: [s, m] for gid, (s, m) in table.items()
                if gid in model.tests and m and (s is None or s < m - 1e-9)}
        reached_any = set()
        for item in batch:
            reached = model.reach_tests[item.cell]
            reached_any |= reached
            item.graded = True
            item.lost = {gid: v for gid, v in lost.items() if gid in reached}
            item.hints = []
            for gid in sorted(reached):
                extra = Counter(outcomes.get(gid, ([], ""))[0]) - self.reference_hints.get(nb_name, {}).get(gid, Counter())
                item.hints.extend([gid, kind] for kind in sorted(extra.elements()))
            item.messages = {gid: outcomes.get(gid, ([], ""))[1] for gid in item.lost}
        timed_out = {gid for gid in lost if _is_timeout(outcomes.get(gid, ([], ""))[1])}
        # A time limit is confirmed by a second grading, alone: a loaded machine (or a request
        # the kernel never saw) must not kill a mutant or fail a right answer. Suspects: the
        # items that reach a cell that timed out (all of them if none does).
        suspects = [item for item in batch if model.reach_tests[item.cell] & timed_out] or batch
        suspects = [item for item in suspects if not item.rechecked] if timed_out else []
        if suspects:
            for item in suspects:
                item.rechecked = True
            self.rechecked += len(suspects)
            self.log(f"  {student} {nb_name}: {', '.join(sorted(timed_out))} lost points at a time limit "
                     f"({outcomes.get(min(timed_out), ([], ''))[1][:100]}): {len(suspects)} item(s) graded again")
            batch = [item for item in batch if item not in suspects]
            retry = suspects
        else:
            retry = []
        doubtful = [item for item in batch if item.kind == "right" and item.lost]
        if doubtful and len(batch) > 1:  # right answers share notebooks optimistically
            return retry + doubtful
        stray = sorted(set(lost) - reached_any)
        if stray and batch:
            if len(batch) > 1 or retry:
                return retry + batch
            batch[0].unattributed = stray
            batch[0].lost.update({gid: lost[gid] for gid in stray})
            batch[0].messages.update({gid: outcomes.get(gid, ([], ""))[1] for gid in stray})
        return retry


def baseline(course, models, jobs, log, attempts=2):
    """Grade the reference. Returns (problems, warnings, hints): problems if it loses any point
    (then nothing else means anything), warnings for hints it fires anyway, and those hints
    ({notebook: {test grade_id: Counter of kinds}}) so they are not credited to a mistake.
    A notebook that loses points at a time limit only is graded again (`attempts` in all)."""
    todo = sorted(models)
    problems, warnings, hints = [], [], {}
    start = time.time()
    for attempt in range(attempts):
        students = {nb_name: f"reference{attempt or ''}-n{sorted(models).index(nb_name)}" for nb_name in todo}
        for nb_name, student in students.items():
            submissions.write(course.root, student, ASSIGNMENT, {nb_name: course.submission(nb_name, {})})
        course.autograde(sorted(students.values()), jobs)   # in parallel
        all_scores = gradebook.scores(course.root, ASSIGNMENT)
        again = []
        for nb_name in todo:
            model, student = models[nb_name], students[nb_name]
            table = all_scores.get(student, {}).get(Path(nb_name).stem, {})
            graded = course.graded_nb(student, nb_name)
            if graded is None:
                problems.append(f"{nb_name}: the reference could not be graded")
                continue
            outcomes = _test_outcomes(graded)
            losses = []
            for gid, points in model.tests.items():
                score = table.get(gid, (None, points))[0]
                if points and (score is None or score < points - 1e-9):
                    losses.append((gid, score, points, outcomes.get(gid, ([], ""))[1]))
            if losses and attempt + 1 < attempts and all(_is_timeout(message) for *_, message in losses):
                log(f"  {nb_name}: the reference lost points at a time limit ({', '.join(g for g, *_ in losses)}): "
                    "graded again")
                again.append(nb_name)
                continue
            problems += [f"{nb_name} {gid}: the reference scores {score} of {points} ({message})"
                         for gid, score, points, message in losses]
            hints[nb_name] = {gid: Counter(kinds) for gid, (kinds, _) in outcomes.items()}
            for gid in model.tests:
                if outcomes.get(gid, ([], ""))[0]:
                    warnings.append(f"{nb_name} {gid}: hint record(s) {sorted(outcomes[gid][0])} appear in the "
                                    "reference's graded notebook (a hint recorded although its check passed)")
        todo = again
        if not todo:
            break
    log(f"  reference graded in {time.time() - start:.0f} s")
    return problems, warnings, hints


# ============================================================================ the report

def summarise(models, mutant_list, rights, mistakes, equivalent, sampled):
    report = {"notebooks": {}, "survivors": [], "equivalent": [], "stale_reviews": [],
              "right_answers": [], "mistakes": [], "untested_cells": [], "unattributed": []}
    reviewed_seen = set()
    totals = dict(generated=0, killed=0, timeouts=0, survived=0, equivalent=0, open=0,
                  right=0, right_ok=0, mistakes=0, mistakes_hinted=0)
    for nb_name, model in models.items():
        reviews = equivalent.get(nb_name, {})
        cells = {}
        for gid in model.solutions:
            cells[gid] = dict(generated=0, killed=0, timeouts=0, survived=0, equivalent=0, open=0,
                              right=0, right_ok=0, mistakes=0, mistakes_hinted=0,
                              reaches=sorted(model.reach_tests[gid]))
            if not model.reach_tests[gid]:
                report["untested_cells"].append({"notebook": nb_name, "cell": gid})
        for item in mutant_list:
            if item.notebook != nb_name:
                continue
            c = cells[item.cell]
            c["generated"] += 1
            reason = reviews.get(item.cell, {}).get(item.label)
            if reason is not None:
                reviewed_seen.add((nb_name, item.cell, item.label))
            if item.unattributed:
                report["unattributed"].append({"notebook": nb_name, "cell": item.cell, "mutant": item.label,
                                               "tests": item.unattributed})
            if item.killed:
                c["killed"] += 1
                if item.lost and all(_is_timeout(m) for m in item.messages.values() if m):
                    c["timeouts"] += 1
                if reason is not None:
                    report["stale_reviews"].append({"notebook": nb_name, "cell": item.cell, "mutant": item.label,
                                                    "why": "listed as equivalent but killed", "reason": reason})
                continue
            c["survived"] += 1
            entry = {"notebook": nb_name, "cell": item.cell, "mutant": item.label,
                     "description": item.mutant.description,
                     "diff": item.mutant.diff(model.solutions[item.cell][0], f"{nb_name}:{item.cell}"),
                     "reaches": sorted(model.reach_tests[item.cell])}
            if reason is not None:
                c["equivalent"] += 1
                entry["reason"] = reason
                report["equivalent"].append(entry)
            else:
                c["open"] += 1
                report["survivors"].append(entry)
        for item in rights + mistakes:
            if item.notebook != nb_name:
                continue
            c = cells[item.cell]
            record = {"notebook": nb_name, "cell": item.cell, "label": item.label, "graded": item.graded,
                      "lost": item.lost, "hints": item.hints, "messages": item.messages}
            if item.kind == "right":
                c["right"] += 1
                ok = bool(item.graded) and not item.lost
                c["right_ok"] += ok
                record["accepted"] = ok
                report["right_answers"].append(record)
            else:
                c["mistakes"] += 1
                kinds = {kind for gid, kind in item.hints if gid in item.lost}  # shown where points were lost
                ok = item.killed and item.expect in kinds
                c["mistakes_hinted"] += ok
                record.update(expected_hint=item.expect, lost_points=item.killed, hinted=ok)
                report["mistakes"].append(record)
        summary = _rollup(cells.values(), totals)
        exercises = {}
        for gid, c in cells.items():
            exercises.setdefault(exercise_of(gid), []).append(c)
        for c in cells.values():
            denominator = c["generated"] - c["equivalent"]
            c["score"] = (c["killed"] / denominator) if denominator else None
        report["notebooks"][nb_name] = {"summary": summary, "cells": cells,
                                        "exercises": {ex: _rollup(group, totals) for ex, group in exercises.items()}}
        for key in totals:
            totals[key] += summary[key]
    for nb_name, by_cell in equivalent.items():
        if nb_name not in models or sampled:
            continue
        for gid, entries in by_cell.items():
            for key, reason in entries.items():
                if (nb_name, gid, key) not in reviewed_seen:
                    report["stale_reviews"].append({"notebook": nb_name, "cell": gid, "mutant": key,
                                                    "why": "no such mutant is generated any more", "reason": reason})
    denominator = totals["generated"] - totals["equivalent"]
    totals["score"] = (totals["killed"] / denominator) if denominator else None
    report["total"] = totals
    scores_ok = all(nb["summary"]["score"] is None or nb["summary"]["score"] >= GOAL for nb in report["notebooks"].values())
    report["goal"] = {
        "mutation_score": GOAL,
        "mutation_score_met": scores_ok,
        "right_answers_met": totals["right_ok"] == totals["right"],
        "mistakes_met": totals["mistakes_hinted"] == totals["mistakes"],
    }
    report["goal"]["met"] = all(v for k, v in report["goal"].items() if k.endswith("_met"))
    return report


def exercise_of(grade_id):
    """'a1_values_answer' -> 'a1': the exercise a cell belongs to (the grade_id's first part)."""
    return grade_id.split("_")[0]


def _rollup(cells, keys):
    summary = {key: sum(c[key] for c in cells) for key in keys}
    denominator = summary["generated"] - summary["equivalent"]
    summary["score"] = (summary["killed"] / denominator) if denominator else None
    return summary


def _pct(value):
    return "  n/a" if value is None else f"{100 * value:5.1f}%"


def render(report):
    lines = []
    meta = report["meta"]
    lines.append(f"Grader audit of {meta['assignment']}: {', '.join(report['notebooks'])}")
    lines.append(f"  {meta['mutants']} mutant(s){' (sample of ' + str(meta['sample']) + ' per notebook, seed ' + str(meta['seed']) + ')' if meta['sample'] else ''}, "
                 f"{meta['right_answers']} right answer(s), {meta['mistakes']} mistake(s); "
                 f"{meta['notebooks_graded']} notebook(s) graded with {meta['jobs']} job(s) in {meta['seconds']:.0f} s "
                 f"(grading {meta['grading_seconds']:.0f} s)")
    lines.append("")
    header = f"{'notebook / exercise / cell':42} {'mut':>4} {'kill':>4} {'surv':>4} {'equiv':>5} {'open':>4} {'score':>6}  {'right':>7}  {'hinted':>7}"
    lines.append(header)
    lines.append("-" * len(header))
    for nb_name, nb in report["notebooks"].items():
        s = nb["summary"]
        lines.append(f"{nb_name:42} {s['generated']:4} {s['killed']:4} {s['survived']:4} {s['equivalent']:5} {s['open']:4} "
                     f"{_pct(s['score']):>6}  {s['right_ok']:3}/{s['right']:<3}  {s['mistakes_hinted']:3}/{s['mistakes']:<3}")
        for ex, e in nb.get("exercises", {}).items():
            lines.append(f"  {ex:40} {e['generated']:4} {e['killed']:4} {e['survived']:4} {e['equivalent']:5} {e['open']:4} "
                         f"{_pct(e['score']):>6}  {e['right_ok']:3}/{e['right']:<3}  {e['mistakes_hinted']:3}/{e['mistakes']:<3}")
            for gid, c in nb["cells"].items():
                if exercise_of(gid) == ex:
                    lines.append(f"    {gid:38} {c['generated']:4} {c['killed']:4} {c['survived']:4} {c['equivalent']:5} "
                                 f"{c['open']:4} {_pct(c['score']):>6}  {c['right_ok']:3}/{c['right']:<3}  "
                                 f"{c['mistakes_hinted']:3}/{c['mistakes']:<3}")
    t = report["total"]
    lines.append("-" * len(header))
    lines.append(f"{'TOTAL':42} {t['generated']:4} {t['killed']:4} {t['survived']:4} {t['equivalent']:5} {t['open']:4} "
                 f"{_pct(t['score']):>6}  {t['right_ok']:3}/{t['right']:<3}  {t['mistakes_hinted']:3}/{t['mistakes']:<3}")
    lines.append(f"Mutants killed only by a time limit (confirmed alone): {t['timeouts']}; "
                 f"items graded again after a time limit: {meta.get('rechecked_after_timeout', 0)}")
    lines.append("")
    if report["survivors"]:
        lines.append(f"Survivors that need a hidden test (or a review as equivalent): {len(report['survivors'])}")
        for s in report["survivors"]:
            lines.append(f"- {s['notebook']} {s['cell']}: {s['description']}")
            lines.append(f"  key: {s['mutant']}")
            lines.extend("    " + line for line in s["diff"].splitlines())
        lines.append("")
    if report["equivalent"]:
        lines.append(f"Survivors reviewed as equivalent: {len(report['equivalent'])}")
        for s in report["equivalent"]:
            lines.append(f"- {s['notebook']} {s['cell']}: {s['description']}")
            lines.append(f"  reason: {s['reason']}")
        lines.append("")
    bad_right = [r for r in report["right_answers"] if not r["accepted"]]
    if bad_right:
        lines.append("Right answers that lost points:")
        for r in bad_right:
            lines.append(f"- {r['notebook']} {r['cell']} {r['label']!r}: lost {r['lost']} {r['messages']}")
        lines.append("")
    bad_mistakes = [m for m in report["mistakes"] if not m["hinted"]]
    if bad_mistakes:
        lines.append("Common mistakes without their hint:")
        for m in bad_mistakes:
            got = sorted({kind for _, kind in m["hints"]})
            lines.append(f"- {m['notebook']} {m['cell']} {m['label']!r}: expected {m['expected_hint']}, "
                         f"lost points: {m['lost_points']}, hints: {got or 'none'} {m['messages']}")
        lines.append("")
    lines.append("Mistakes and the hint each got:")
    for m in report["mistakes"]:
        got = sorted({kind for _, kind in m["hints"]})
        lines.append(f"  {'ok ' if m['hinted'] else 'BAD'} {m['notebook']} {m['cell']} {m['label']!r} -> {', '.join(got) or 'no hint'}")
    lines.append("")
    for title, key in (("Solution cells that no test cell reads", "untested_cells"),
                       ("Reviews that no longer apply", "stale_reviews"),
                       ("Losses outside a cell's reach (data-flow pass missed something)", "unattributed")):
        if report[key]:
            lines.append(f"{title}:")
            for entry in report[key]:
                lines.append("- " + ", ".join(f"{k}={v}" for k, v in entry.items()))
            lines.append("")
    for warning in report.get("warnings", []):
        lines.append(f"WARNING: {warning}")
    for problem in report.get("problems", []):
        lines.append(f"PROBLEM: {problem}")
    g = report["goal"]
    lines.append(f"Goal: mutation score >= {100 * g['mutation_score']:.0f}% on every notebook: "
                 f"{'met' if g['mutation_score_met'] else 'NOT met'}; right answers all accepted: "
                 f"{'yes' if g['right_answers_met'] else 'NO'}; mistakes all hinted: {'yes' if g['mistakes_met'] else 'NO'}")
    return "\n".join(lines)


# ============================================================================ the command

def run(source_dir=SOURCE, notebooks=None, sample=None, seed=0, jobs=2, timeout=DEFAULT_TIMEOUT,
        solo=False, verify=0, corpora=True, mutations=True, workdir=None, keep=False,
        right_answers=None, mistakes=None, equivalent=None, operators=None, cells=None, match=None,
        log=print):
    """Run the audit and return the report (a dict, see `summarise`)."""
    started = time.time()
    source_dir = Path(source_dir)
    names = sorted(p.name for p in source_dir.glob("*.ipynb"))
    if notebooks:
        wanted = {Path(n).name for n in notebooks}
        names = [n for n in names if n in wanted or Path(n).stem in wanted]
    if not names:
        raise SystemExit(f"no source notebooks in {source_dir}")
    if right_answers is None or mistakes is None:
        loaded_right, loaded_mistakes = load_corpora() if corpora else ({}, {})
        right_answers = loaded_right if right_answers is None else right_answers
        mistakes = loaded_mistakes if mistakes is None else mistakes
    if not corpora:
        right_answers, mistakes = {}, {}
    equivalent = load_equivalent() if equivalent is None else equivalent

    tmp = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="grader-audit-"))
    log(f"grader audit: {len(names)} notebook(s), temporary course in {tmp}")
    course = AuditCourse(tmp / "course", source_dir, names, timeout)
    try:
        models = {n: analyse(course.source_nbs[n], n) for n in names}
        problems, warnings, reference_hints = baseline(course, models, jobs, log)
        if problems:  # the reference itself loses points: nothing else would mean anything
            return {"meta": {}, "problems": problems, "goal": {"met": False}}
        mutant_list = []
        if mutations:
            for model in models.values():
                mutant_list.extend(mutant_items(model, operators))
            if cells:
                mutant_list = [i for i in mutant_list if i.cell in cells]
            if match:
                mutant_list = [i for i in mutant_list if any(text in i.label for text in match)]
            if sample:
                mutant_list = sample_mutants(mutant_list, sample, seed)
        rights, problems_r = corpus_items(models, right_answers, "right")
        wrongs, problems_m = corpus_items(models, mistakes, "mistake")
        problems += problems_r + problems_m
        log(f"  {len(mutant_list)} mutant(s), {len(rights)} right answer(s), {len(wrongs)} mistake(s)")
        grader = Grader(course, models, jobs, log)
        grader.reference_hints = reference_hints
        grader.grade(mutant_list + rights + wrongs, solo=solo)
        mismatches = []
        if verify and not solo:
            shared = [i for i in mutant_list if i.shared > 1]
            check = random.Random(seed).sample(shared, min(verify, len(shared)))
            before = {id(i): (i.killed, sorted(i.lost)) for i in check}
            copies = [Item(i.kind, i.notebook, i.cell, i.label, i.code, mutant=i.mutant) for i in check]
            grader.grade(copies, solo=True)
            for original, alone in zip(check, copies):
                if before[id(original)] != (alone.killed, sorted(alone.lost)):
                    mismatches.append({"notebook": original.notebook, "cell": original.cell, "mutant": original.label,
                                       "shared": before[id(original)], "alone": (alone.killed, sorted(alone.lost))})
        report = summarise(models, mutant_list, rights, wrongs, equivalent, sampled=bool(sample or cells or match))
        report["problems"] = problems
        report["warnings"] = warnings
        report["verify"] = {"checked": verify if not solo else 0, "mismatches": mismatches}
        if mismatches:
            report["problems"].append(f"{len(mismatches)} shared verdict(s) differ when graded alone")
            report["goal"]["met"] = False
        if problems:
            report["goal"]["met"] = False
        report["meta"] = {
            "assignment": ASSIGNMENT, "source": str(source_dir), "notebooks_audited": names,
            "mutants": len(mutant_list), "right_answers": len(rights), "mistakes": len(wrongs),
            "sample": sample, "seed": seed, "jobs": jobs, "timeout": timeout, "solo": solo,
            "notebooks_graded": grader.notebooks_graded, "grading_seconds": round(grader.seconds, 1),
            "rechecked_after_timeout": grader.rechecked,
            "seconds": round(time.time() - started, 1),
        }
        report["items"] = [
            {"kind": i.kind, "notebook": i.notebook, "cell": i.cell, "label": i.label, "killed": i.killed,
             "lost": i.lost, "hints": i.hints, "messages": i.messages, "shared": i.shared, "student": i.student,
             "failure": i.failure, **({"unattributed": i.unattributed} if i.unattributed else {}),
             **({"expect": i.expect} if i.expect else {})}
            for i in mutant_list + rights + wrongs]
        return report
    finally:
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)


def rescore(old, source_dir=SOURCE, equivalent=None):
    """The report again from an earlier report's verdicts (no grading), with today's reviews.

    Mutants are regenerated from the source notebooks and matched by key; a verdict whose
    mutant is no longer generated is dropped (the source changed: grade again)."""
    meta = old["meta"]
    names = meta["notebooks_audited"]
    models = {n: analyse(submissions.read(Path(source_dir) / n), n) for n in names}
    by_key = {(i.notebook, i.cell, i.label): i for m in models.values() for i in mutant_items(m)}
    mutant_list, rights, wrongs = [], [], []
    for record in old["items"]:
        if record["kind"] == "mutant":
            item = by_key.get((record["notebook"], record["cell"], record["label"]))
            if item is None:
                continue
            mutant_list.append(item)
        else:
            item = Item(record["kind"], record["notebook"], record["cell"], record["label"], "",
                        expect=record.get("expect"))
            (rights if item.kind == "right" else wrongs).append(item)
        failure = record.get("failure", "")
        item.graded = not failure.startswith("the notebook could not be graded")
        item.lost, item.hints, item.failure = record["lost"], record["hints"], failure
        item.messages, item.shared = record.get("messages", {}), record.get("shared", 1)
        item.unattributed = record.get("unattributed", [])
    equivalent = load_equivalent() if equivalent is None else equivalent
    report = summarise(models, mutant_list, rights, wrongs, equivalent, sampled=bool(meta.get("sample")))
    for key in ("problems", "warnings", "verify", "items"):
        report[key] = old.get(key, [] if key != "verify" else {})
    report["meta"] = {**meta, "rescored": True}
    if report["problems"]:
        report["goal"]["met"] = False
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notebook", action="append", help="audit only this notebook (repeatable)")
    parser.add_argument("--cell", action="append", help="mutate only this solution cell (repeatable)")
    parser.add_argument("--mutant", action="append", help="grade only mutants whose key contains this text (repeatable)")
    parser.add_argument("--sample", type=int, default=None, help="grade N mutants per notebook (seeded)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--timeout", type=int, default=DEFAULT_TIMEOUT,
                        help="seconds per cell (default: the course's nbgrader_config.py)")
    parser.add_argument("--json", default=str(REPO / "audit" / "report.json"))
    parser.add_argument("--text", default=str(REPO / "audit" / "report.txt"))
    parser.add_argument("--source", default=str(SOURCE), help="folder of source notebooks")
    parser.add_argument("--solo", action="store_true", help="one mutant per notebook (no sharing)")
    parser.add_argument("--verify", type=int, default=0, help="grade K shared mutants again alone")
    parser.add_argument("--no-corpus", action="store_true", help="skip the right-answer and mistake corpora")
    parser.add_argument("--corpus-only", action="store_true", help="grade only the corpora")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit (no grading)")
    parser.add_argument("--reach", action="store_true",
                        help="print the test cells each solution cell reaches, and what each hidden test reads "
                             "(the data-flow pass; no grading)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary course")
    parser.add_argument("--rescore", metavar="JSON",
                        help="no grading: summarise the verdicts of an earlier report again (after a review)")
    args = parser.parse_args(argv)

    if args.list:
        for path in sorted(Path(args.source).glob("*.ipynb")):
            if args.notebook and path.name not in args.notebook and path.stem not in args.notebook:
                continue
            model = analyse(submissions.read(path), path.name)
            for item in mutant_items(model):
                print(f"{path.name} {item.cell}: {item.mutant.description}")
        return 0

    if args.reach:
        for path in sorted(Path(args.source).glob("*.ipynb")):
            if args.notebook and path.name not in args.notebook and path.stem not in args.notebook:
                continue
            model = analyse(submissions.read(path), path.name)
            print(path.name)
            for gid in model.solutions:
                print(f"  {gid} -> {', '.join(sorted(model.reach_tests[gid])) or '(no test cell)'}")
            for cell in model.cells:
                for stmt in (s for s in cell.statements if s.hidden):
                    reads = sorted(r if isinstance(r, str) else f"{r[0]} (trusted: {', '.join(sorted(r[1]))})"
                                   for r in stmt.immediate)
                    print(f"  hidden tests of {cell.grade_id} read: "
                          f"{'EVERY NAME' if stmt.reads_all else ', '.join(reads) or 'nothing'}")
        return 0

    if args.rescore:
        report = rescore(json.loads(Path(args.rescore).read_text()), args.source)
    else:
        report = run(args.source, args.notebook, args.sample, args.seed, args.jobs, args.timeout,
                     solo=args.solo, verify=args.verify, corpora=not args.no_corpus,
                     mutations=not args.corpus_only, keep=args.keep, cells=args.cell, match=args.mutant,
                     log=lambda msg: print(msg, file=sys.stderr, flush=True))
    if not report.get("meta"):
        print("\n".join("PROBLEM: " + p for p in report["problems"]))
        return 2
    text = render(report)
    print(text)
    for path, content in ((args.json, json.dumps(report, indent=1, default=str)), (args.text, text + "\n")):
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(content)
    return 0 if report["goal"]["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
