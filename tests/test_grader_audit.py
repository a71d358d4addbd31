"""The grader audit: the mutant generator, the data-flow pass, packing, and the audit itself.

Fast unit tests check `tools/mutants.py` and the notebook analysis of
`tools/grader_audit.py`: visible checks read the notebook's names, hidden
tests (run in the grader) read what they ask `student` for, by name or in a
snippet of code, and not the helpers they replace with trusted ones. The slow
tests grade with the real pipeline (kernel in its sandbox, hidden tests in
the grader):

- small notebooks of our own (two exercises, a helper that couples two
  cells, a helper checked with a trusted stand-in, a cell no test reads), to
  prove the harness finds kills, survivors and hints, that the data-flow
  pass misses no loss, and that sharing a notebook between mutants does not
  change a verdict;
- the course's notebooks: a seeded sample of mutants per notebook must reach
  the mutation-score goal, and the curated corpora run in full (every right
  answer keeps full marks, every common mistake gets its hint).

`GRADER_AUDIT_SAMPLE` (mutants per notebook, default 4; 0 for the corpora only) and `GRADER_AUDIT_SEED`
(default 0) set the sample; `make grader-audit` runs every mutant.
"""
import ast
import builtins
import os
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))

import grader_audit  # noqa: E402
import mutants  # noqa: E402
import nbcells  # noqa: E402
from nbcells import locked, md, notebook, solution  # noqa: E402


def keys(source, **kwargs):
    return [m.key for m in mutants.generate(source, **kwargs)]


def afters(source, operator):
    return {m.after for m in mutants.generate(source) if m.operator == operator}


# ====================================================================== the mutator

def test_solution_parts_strips_markers_and_finds_regions():
    raw = "def f(x, eps=1e-5):\n    ### BEGIN SOLUTION\n    y = 2 * x\n    return y\n    ### END SOLUTION\n"
    code, regions = mutants.solution_parts(raw)
    assert code == "def f(x, eps=1e-5):\n    y = 2 * x\n    return y"
    assert regions == [(2, 3)]
    assert mutants.solution_parts("a = 1\nb = 2") == ("a = 1\nb = 2", [(1, 2)])
    two = "### BEGIN SOLUTION\na = 1\n### END SOLUTION\nprint(a)\n### BEGIN SOLUTION\nb = 2\n### END SOLUTION"
    assert mutants.solution_parts(two)[1] == [(1, 1), (3, 3)]


def test_only_student_code_is_mutated():
    raw = "def f(x, eps=1e-5):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION\n"
    code, regions = mutants.solution_parts(raw)
    found = mutants.generate(code, regions)
    assert found and all(m.line == 2 for m in found)        # never the default eps=1e-5
    assert "def f(x, eps=1e-5):" in found[0].source


@pytest.mark.parametrize("source,operator,expected", [
    ("y = a + b", "arith", "a - b"),
    ("y = a - b", "arith", "a + b"),
    ("y = a * b", "arith", "a / b"),
    ("y = a ** 2", "arith", "a * 2"),
    ("y = W @ d", "arith", "W * d"),
    ("y = 2 * a * b", "drop_operand", "2 * a"),
    ("y = 2 * a * b", "drop_operand", "a * b"),
    ("y = a - b", "swap_operands", "b - a"),
    ("def f(a):\n    return a * 3", "negate", "-(a * 3)"),
    ("y = -a", "drop_unary", "y = a"),
    ("y = 2 * x", "constant", "1 * x"),
    ("y = 0.5 * x", "constant", "1.0 * x"),
    ("y = x[1]", "constant", "x[0]"),
    ("h = 1e-05", "constant", "h = 0.0001"),
    ("y = z > 0", "compare_boundary", "z >= 0"),
    ("y = z > 0", "compare_negate", "z <= 0"),
    ("y = a and b", "boolop", "a or b"),
    ("y = np.sum(e, axis=0, keepdims=True)", "axis", "np.sum(e, axis=1, keepdims=True)"),
    ("y = np.sum(e, axis=0, keepdims=True)", "axis", "np.sum(e, keepdims=True)"),
    ("y = np.sum(e, axis=0, keepdims=True)", "bool", "np.sum(e, axis=0, keepdims=False)"),
    ("y = W.T @ d", "drop_transpose", "W @ d"),
    ("g += d", "augassign", "g = d"),
    ("g += d", "augassign", "g -= d"),
    ("y = np.sum(e)", "call_swap", "np.mean(e)"),
    ("y = np.max(e)", "call_swap", "np.min(e)"),
    ("y = np.log(e)", "call_swap", "np.log2(e)"),
    ("y = sp.log(p)", "call_swap", "sp.log(p, 2)"),
    ("y = np.exp(-np.clip(z, -500, 500))", "drop_call", "-z"),
    ("y = z.copy()", "drop_call", "z"),
    ('answer = "B, C, E"', "drop_element", "answer = 'B, E'"),
    ('answer = "B, C, E"', "add_element", "answer = 'A, B, C, E'"),
    ('answer = {"A", "C"}', "drop_element", "{'C'}"),
])
def test_each_operator(source, operator, expected):
    found = [m for m in mutants.generate(source) if m.operator == operator]
    assert any(expected in m.after or expected in m.source for m in found), [m.source for m in found]


def test_statement_deletion_targets_updates_not_first_definitions():
    src = "def f(p, g):\n    s = p + 1\n    s = s - s.max()\n    p[0] = s\n    g.append(s)\n    return s"
    deleted = afters(src, "delete")
    assert deleted == {"pass"}
    lines = {m.before for m in mutants.generate(src) if m.operator == "delete"}
    assert lines == {"s = s - s.max()", "p[0] = s", "g.append(s)"}


def test_forward_difference_from_a_central_one():
    expression = "def d(f, x, eps=1e-5):\n    return (f(x + eps) - f(x - eps)) / (2 * eps)"
    forward = [m for m in mutants.generate(expression) if m.operator == "central_to_forward"]
    assert len(forward) == 1
    assert "(f(x + eps) - f(x)) / (eps)" in forward[0].source
    in_place = ("def g(f, p, eps=1e-5):\n    old = p[0]\n    p[0] = old + eps\n    up = f(p)\n"
                "    p[0] = old - eps\n    down = f(p)\n    p[0] = old\n    return (up - down) / (2 * eps)")
    forward = [m for m in mutants.generate(in_place) if m.operator == "central_to_forward"]
    assert len(forward) == 1
    assert "p[0] = old\n    down" in forward[0].source and "(up - down) / (eps)" in forward[0].source


def test_mutants_are_valid_distinct_and_keep_the_rest_of_the_text():
    src = ('import numpy as np\n\n'
           'def softmax(z):\n'
           '    """Column-wise, stable."""  # a comment with sigma: σ\n'
           '    shifted = z - np.max(z, axis=0, keepdims=True)\n'
           '    e = np.exp(shifted)\n'
           '    print(f"{e.sum():.2f}")\n'
           '    return e / np.sum(e, axis=0, keepdims=True)\n')
    found = mutants.generate(src)
    assert len(found) > 10
    texts = [m.source for m in found]
    assert len(set(texts)) == len(texts) and src not in texts
    for m in found:
        ast.parse(m.source)
        changed = [line for line in m.diff(src).splitlines() if line.startswith("-") and not line.startswith("---")]
        assert len(changed) == 1, m.diff(src)                       # one line changed, comments kept
        assert "σ" in m.source and '"""Column-wise, stable."""' in m.source
    assert not any("print" in m.before or ":.2f" in m.before for m in found)  # output never mutated


def test_parentheses_keep_the_intended_meaning():
    src = "y = c - x * (a + b)"
    env = {"a": 2.0, "b": 3.0, "c": 100.0, "x": 7.0}
    for m in mutants.generate(src):
        tree = ast.parse(m.source)
        value = eval(compile(ast.Expression(tree.body[0].value), "m", "eval"), {}, dict(env))
        if m.operator == "drop_operand" and m.after == "a + b":
            assert value == 100.0 - 5.0          # c - (a + b), not c - a + b
        if m.operator == "arith" and m.after == "a - b":
            assert value == 100.0 - 7.0 * (2.0 - 3.0)


def test_keys_are_stable_when_lines_move_and_unique_within_a_cell():
    src = "def f(x):\n    y = 2 * x\n    z = 2 * x\n    return y + z"
    first = keys(src)
    assert len(set(first)) == len(first)
    assert keys("# a comment\n\n" + src) == first
    assert any(k.endswith("#2") for k in first)      # the same change twice is numbered


# ====================================================================== the notebook model

def hidden(code, visible=""):
    """A test cell's source: `visible` (run in the kernel), then hidden tests run by the grader."""
    region = "### BEGIN HIDDEN TESTS\nfrom grader.hidden import *\n" + code.strip("\n") + "\n### END HIDDEN TESTS"
    return (visible.rstrip("\n") + "\n\n" + region) if visible else region


def _toy_notebooks():
    setup = locked("import numpy as np", "setup")
    t1 = notebook([
        md("# Toy 1"), setup,
        solution("def square_grad(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION", "t1_grad_answer"),
        nbcells.tests(hidden("_x = np.array([1.0, -2.0, 3.5])\n"
                             "check_array('square_grad', student.call('square_grad', _x), 2 * _x,\n"
                             "            mistakes={'function_for_derivative': _x**2, 'factor_of_two': _x})",
                             visible="assert np.shape(square_grad(np.zeros(3))) == (3,)"), "t1_grad", points=1),
        solution("def relu_mask(z):\n    ### BEGIN SOLUTION\n    return (z > 0).astype(float)\n    ### END SOLUTION",
                 "t1_mask_answer"),
        nbcells.tests(hidden("_z = np.array([-1.5, 0.5, 2.0, -0.1])\n"
                             "check_array('relu_mask', student.call('relu_mask', _z), (_z > 0).astype(float),\n"
                             "            mistakes={'sign_error': (_z < 0).astype(float)})"), "t1_mask", points=1),
        solution("### BEGIN SOLUTION\nuntested = 3 * 2\n### END SOLUTION", "t1_untested_answer"),
    ])
    t2 = notebook([
        md("# Toy 2"), setup,
        solution("def twice(x):\n    ### BEGIN SOLUTION\n    return x + x\n    ### END SOLUTION", "t2_twice_answer"),
        locked("def quad(x):\n    return twice(twice(x))", "t2_helper"),
        nbcells.tests(hidden("check_number('twice', student.call('twice', 1.5), 3.0)"), "t2_twice", points=1),
        solution("def neg(x):\n    ### BEGIN SOLUTION\n    return -x\n    ### END SOLUTION", "t2_neg_answer"),
        # neg after quad, the provided helper that calls twice: a read of both through a snippet
        nbcells.tests(hidden("check_number('neg(quad(1))', student.evaluate('neg(quad(t))', 'neg(quad(1))', t=1.0), -4.0)"),
                      "t2_neg", points=1),
        # quad with a trusted twice: independent of the student's twice
        nbcells.tests(hidden("check_number('quad(1)', student.call('quad', 1.0, trusted={'twice': lambda v: 2 * v}), 4.0)"),
                      "t2_quad", points=1),
    ])
    return {"T1_toy.ipynb": t1, "T2_toy.ipynb": t2}


def test_reach_follows_names_through_helpers_snippets_and_trusted_stubs():
    t1, t2 = (grader_audit.analyse(nb, name) for name, nb in _toy_notebooks().items())
    assert t1.reach_tests == {"t1_grad_answer": {"t1_grad"}, "t1_mask_answer": {"t1_mask"},
                              "t1_untested_answer": set()}
    # neg's test evaluates neg(quad(t)); quad, a provided helper, calls twice at call time;
    # quad's own test lends it a trusted twice
    assert t2.reach_tests == {"t2_twice_answer": {"t2_twice", "t2_neg"}, "t2_neg_answer": {"t2_neg"}}


def _model(*cells):
    built = []
    for kind, code, gid in cells:
        maker = {"solution": solution, "test": lambda c, g: nbcells.tests(c, g, points=1), "code": locked}[kind]
        built.append(maker(code, gid))
    return grader_audit.analyse(notebook(built), "x.ipynb")


def test_reach_understands_trusted_helpers_globals_rng_and_loop_variables():
    model = _model(
        ("code", "import numpy as np", "setup"),
        ("solution", "def helper(v):\n    return v + 1", "s_helper"),
        ("solution", "def main(v):\n    return helper(v) * 2", "s_main"),
        ("test", hidden("check_number('main(1)', student.call('main', 1, trusted={'helper': lambda v: v + 1}), 4)"),
         "t_main"),
        ("test", "for _name in ['helper']:\n    assert globals()[_name](1) == 2", "t_helper"),   # visible only
        ("solution", "np.random.seed(1)\nnoise = 3", "s_seed"),
        ("test", "_draw = np.random.rand()\n_k = 0\nfor _k in range(3):\n    pass", "t_rng"),
        ("test", "for _k in range(2):\n    assert _k < 5", "t_loop"),
    )
    assert model.reach_tests["s_main"] == {"t_main"}
    assert model.reach_tests["s_helper"] == {"t_helper"}     # main's check runs with a trusted helper
    assert model.reach_tests["s_seed"] == {"t_rng"}          # the global generator, not the loop variable


def _region(code):
    (stmt,) = grader_audit.analyse_hidden("from grader.hidden import *\n" + code)
    plain = {r for r in stmt.immediate if isinstance(r, str)}
    shadowed = {r[0]: set(r[1]) for r in stmt.immediate if isinstance(r, tuple)}
    return plain, shadowed, stmt


@pytest.mark.parametrize("code,plain,shadowed", [
    # value, call and map name what they read
    ("check_number('a', student.value('a'), 1.0)", {"a"}, {}),
    ("student.call('f', 1.0, label='f(1)')\nstudent.map('g', [(1,), (2,)])", {"f", "g"}, {}),
    # trusted helpers: a literal, a name bound to one, a dict merged from two
    ("student.call('f', 1.0, trusted={'h': abs})", set(), {"f": {"h"}}),
    ("_t = {'h': abs, 'k': abs}\nstudent.call('f', trusted=_t)", set(), {"f": {"h", "k"}}),
    ("_a = {'h': abs}\nstudent.call('f', trusted={**_a, 'k': abs})", set(), {"f": {"h", "k"}}),
    # unsure what is substituted: nothing is (the safe side)
    ("_t = {'h': abs} if 1 else {'k': abs}\nstudent.call('f', trusted=_t)", {"f"}, {}),
    # the name from a literal loop
    ("for _n in ['p', 'q']:\n    student.value(_n)", {"p", "q"}, {}),
    # snippets: what the code reads, minus the inputs and what it binds itself
    ("student.evaluate('g(x) + y', 'label', x=1)", {"g", "y"}, {}),
    ("student.evaluate('import numpy as _np\\ndef _k(v):\\n    return helper(v)\\n_k(2)', 'l')", {"helper"}, {}),
    ("student.evaluate('[vanishing_bound(L) for L in Ls]', 'l', Ls=[1, 2])", {"vanishing_bound"}, {}),
    ("student.evaluate('f(t)', 'l', {'f': abs}, t=1)", set(), {"f": {"f"}}),   # trusted by position: f stands in
    # code in a variable, chosen by a condition, joined with +, formatted from a literal loop
    ("_CODE = 'f(t)'\nfor _t in (1, 2):\n    student.evaluate(_CODE, 'l', t=_t)", {"f"}, {}),
    ("_c = 'f(t)' if 1 else 'g(t)'\nstudent.evaluate('import math\\n' + _c, 'l', t=1)", {"f", "g"}, {}),
    ("for _op, _x in [('relu', 1), ('sigmoid', 2)]:\n    student.evaluate(f'T(a).{_op}() + {_op}(a)', 'l', a=_x)",
     {"T", "relu", "sigmoid"}, {}),
    # a helper of the hidden tests: each call with its own code and inputs
    ("def _run(code, **inputs):\n    return student.evaluate('import numpy as _np\\n' + code, 'l', **inputs)\n"
     "_run('f(x)', x=1)\n_run('g(y)')", {"f", "g", "y"}, {}),
    ("def _run(label, code='h(z)', **inputs):\n    return student.evaluate(code, label, **inputs)\n"
     "_run(label='l', code='f(x)', x=1)\n_run('l')", {"f", "h", "z"}, {}),
    # a code writer of grader.hidden: the class it is told to use
    ("student.evaluate(tensor_code(_g), 'l')", {"Tensor"}, {}),
    ("_snippet = 'import numpy as _np\\n' + tensor_code(_g, tensor='Node')\nstudent.evaluate(_snippet, 'l')", {"Node"}, {}),
    # the hidden tests' own names are the grader's, never the notebook's
    ("_x = np.ones(3)\nsquare_grad(_x)\ncheck_array('x', _x, _x)", set(), {}),
])
def test_hidden_regions_read_through_the_student_proxy(code, plain, shadowed):
    got_plain, got_shadowed, stmt = _region(code)
    assert not stmt.reads_all and not stmt.rebinds
    builtin = set(dir(builtins))
    assert got_plain - builtin - {f"x{i}" for i in range(32)} == plain
    assert {k: v for k, v in got_shadowed.items() if k not in builtin} == shadowed


@pytest.mark.parametrize("code", [
    "_s = student\n_s.value('a')",                          # the proxy handed on
    "getattr(student, 'value')('a')",
    "student.evaluate(make_code(), 'l')",                     # code from an unknown function
    "student.evaluate(FORMULAS['add'], 'l')",                 # text from outside the region
    "student.value(_name_from_elsewhere)",
    "student.evaluate('eval(text)', 'l', text='a')",         # the snippet reads through eval
])
def test_hidden_regions_that_may_read_anything(code):
    assert _region(code)[2].reads_all


def test_names_glued_to_unknown_text_are_patterns():
    model = _model(
        ("code", "import numpy as np", "setup"),
        ("solution", "w0, w1 = 1.0, 2.0", "s_w"),
        ("solution", "v = 3.0", "s_v"),
        ("test", hidden("for _i in range(2):\n    student.value(f'w{_i}')"), "t_w"),
    )
    assert model.reach_tests == {"s_w": {"t_w"}, "s_v": set()}


def test_the_code_writers_table_covers_what_they_write():
    from grader.hidden import random_graph, tensor_code
    ops = {"relu": lambda v: np.maximum(v, 0.0), "sigmoid": lambda v: 1 / (1 + np.exp(-v)), "sum": np.sum}
    call = ast.parse("tensor_code(g)").body[0].value
    named = ast.parse("tensor_code(g, 'Node')").body[0].value
    for seed in range(12):
        graph = random_graph(seed, ops, n_inputs=2 + seed % 3, n_steps=4 + seed % 4, shape=(2,))
        for node, name in ((call, "Tensor"), (named, "Node")):
            reads, changed, everything = grader_audit.snippet_flow(tensor_code(graph, name))
            assert not everything and name in reads
            assert reads - set(dir(builtins)) <= grader_audit.CODE_WRITERS["tensor_code"](node)


def test_course_notebooks_reach_what_their_hidden_tests_ask_for():
    """Every hidden test of the course reads something, and never everything (which would make
    every earlier change share its test cell)."""
    for path in sorted(grader_audit.SOURCE.glob("*.ipynb")):
        model = grader_audit.analyse(nbformat.read(str(path), as_version=4), path.name)
        for cell in model.cells:
            if cell.kind != "test":
                continue
            hidden_parts = [s for s in cell.statements if s.hidden]
            assert hidden_parts, (path.name, cell.grade_id)
            assert not any(s.reads_all for s in hidden_parts), (path.name, cell.grade_id)
            assert any(s.immediate or s.patterns for s in hidden_parts), (path.name, cell.grade_id)
        reached = set().union(*model.reach_tests.values())
        assert reached == set(model.tests), (path.name, set(model.tests) - reached)


def test_packing_never_shares_a_test_cell_between_changes():
    model = grader_audit.analyse(_toy_notebooks()["T2_toy.ipynb"], "T2_toy.ipynb")
    items = grader_audit.mutant_items(model)
    items += [grader_audit.Item("right", "T2_toy.ipynb", "t2_neg_answer", "r", "def neg(x):\n    return 0 - x")]
    batches = grader_audit.pack(model, items)
    assert sorted(id(i) for b in batches for i in b) == sorted(id(i) for i in items)
    for batch in batches:
        assert len({i.cell for i in batch}) == len(batch)
        for a in batch:
            for b in batch:
                if a is not b and not (a.kind == b.kind == "right"):
                    assert not (grader_audit.footprint(model, a) & grader_audit.footprint(model, b))


def _graded(model, errors):
    """An autograded notebook of `model`'s test cells, with {test grade_id: error message} as outputs."""
    from nbformat.v4 import new_output
    cells = []
    for gid in model.tests:
        cell = nbcells.tests("pass", gid, points=1)
        if gid in errors:
            cell.outputs = [new_output("error", ename="CheckFailed", evalue=errors[gid], traceback=[])]
        cells.append(cell)
    return notebook(cells)


def test_judging_confirms_time_limits_and_returns_losses_nobody_reaches():
    model = _model(
        ("code", "import numpy as np", "setup"),
        ("solution", "a = 1", "s_a"), ("test", hidden("student.value('a')"), "t_a"),
        ("solution", "b = 2", "s_b"), ("test", hidden("student.value('b')"), "t_b"),
        ("solution", "c = 3", "s_c"), ("test", "pass", "t_none"),
    )

    class Graded:
        nb = None

        def graded_nb(self, student, nb_name):
            return self.nb

    course = Graded()
    grader = grader_audit.Grader(course, {"x.ipynb": model}, jobs=1, log=lambda message: None)
    item = lambda gid: grader_audit.Item("mutant", "x.ipynb", gid, gid, "")   # noqa: E731
    timeout = {"t_a": "CheckFailed: a was stopped: it did not finish in time."}
    table = {"t_a": (0.0, 1.0), "t_b": (1.0, 1.0), "t_none": (1.0, 1.0)}
    course.nb = _graded(model, timeout)
    a, b = item("s_a"), item("s_b")
    assert grader._judge("st", "x.ipynb", [a, b], table) == [a]      # the suspect, graded again alone
    assert b.graded and not b.killed                                 # the other verdict stands
    assert grader._judge("st", "x.ipynb", [a], table) == []          # the same again: confirmed
    assert a.killed and a.lost == {"t_a": [0.0, 1.0]} and grader.rechecked == 1
    # a loss no item reaches: graded again alone; alone, it is reported
    course.nb = _graded(model, {"t_none": "CheckFailed: something"})
    table = {"t_a": (1.0, 1.0), "t_b": (1.0, 1.0), "t_none": (0.0, 1.0)}
    a, b = item("s_a"), item("s_b")
    assert grader._judge("st", "x.ipynb", [a, b], table) == [a, b]
    assert grader._judge("st", "x.ipynb", [a], table) == [] and a.unattributed == ["t_none"]
    # a notebook that could not be graded: the shared items alone, then the failure is the verdict
    course.nb = None
    assert grader._judge("st", "x.ipynb", [a, b], table) == [a, b]
    assert grader._judge("st", "x.ipynb", [b], table, "the kernel died") == [] and b.killed
    assert "the kernel died" in b.failure


def test_corpus_entries_name_real_cells_and_known_hints():
    from audit_corpus import mistakes, right_answers
    from course.hints import KINDS
    for corpus in (right_answers.RIGHT_ANSWERS, mistakes.MISTAKES):
        for nb_name, entries in corpus.items():
            model = grader_audit.analyse(nbformat.read(str(grader_audit.SOURCE / nb_name), as_version=4), nb_name)
            labels = set()
            for entry in entries:
                assert entry[0] in model.solutions, (nb_name, entry[:2])
                ast.parse(entry[2])
                assert (entry[0], entry[1]) not in labels
                labels.add((entry[0], entry[1]))
                if corpus is mistakes.MISTAKES:
                    assert entry[3] in KINDS, entry[:2]


def test_reviewed_equivalent_mutants_have_reasons_and_exist():
    reviewed = grader_audit.load_equivalent()
    generated = {}
    for nb_name in reviewed:
        model = grader_audit.analyse(nbformat.read(str(grader_audit.SOURCE / nb_name), as_version=4), nb_name)
        generated[nb_name] = {(i.cell, i.label) for i in grader_audit.mutant_items(model)}
    for nb_name, cells in reviewed.items():
        for cell, entries in cells.items():
            for key, reason in entries.items():
                assert isinstance(reason, str) and len(reason.split()) >= 5, (nb_name, cell, key)
                assert (cell, key) in generated[nb_name], f"stale review: {nb_name} {cell} {key}"


# ====================================================================== grading (slow)

TOY_RIGHT = {"T1_toy.ipynb": [("t1_grad_answer", "x + x", "def square_grad(x):\n    return x + x")],
             "T2_toy.ipynb": [("t2_twice_answer", "2 * x", "def twice(x):\n    return 2 * x")]}
TOY_MISTAKES = {"T1_toy.ipynb": [("t1_grad_answer", "the function", "def square_grad(x):\n    return x**2",
                                  "function_for_derivative"),
                                 ("t1_mask_answer", "inverted", "def relu_mask(z):\n    return (z < 0).astype(float)",
                                  "sign_error")]}


@pytest.fixture(scope="module")
def toy_report(tmp_path_factory):
    source = tmp_path_factory.mktemp("toy_source")
    for name, nb in _toy_notebooks().items():
        nbformat.write(nb, str(source / name))
    return grader_audit.run(source, jobs=2, right_answers=TOY_RIGHT, mistakes=TOY_MISTAKES, equivalent={
        "T1_toy.ipynb": {"t1_mask_answer": {"relu_mask | compare_boundary | z > 0 -> z >= 0":
                                            "the hidden test has no z exactly 0 (a weak test, kept as an example)"}}},
        operators={"arith", "compare_boundary"}, verify=2, workdir=tmp_path_factory.mktemp("toy"),
        log=lambda message: None)


@pytest.mark.slow
def test_toy_audit_kills_finds_survivors_and_hints(toy_report):
    report = toy_report
    assert not report["problems"], report["problems"]
    t1 = report["notebooks"]["T1_toy.ipynb"]["cells"]
    assert t1["t1_grad_answer"]["generated"] == t1["t1_grad_answer"]["killed"] > 0
    assert t1["t1_untested_answer"]["killed"] == 0 and t1["t1_untested_answer"]["open"] > 0
    assert {"notebook": "T1_toy.ipynb", "cell": "t1_untested_answer"} in report["untested_cells"]
    assert t1["t1_mask_answer"]["equivalent"] == 1          # the reviewed boundary mutant
    survivors = [s for s in report["survivors"] if s["cell"] == "t1_untested_answer"]
    assert survivors and all(s["diff"].startswith("---") for s in survivors)
    t2 = report["notebooks"]["T2_toy.ipynb"]["cells"]
    assert t2["t2_twice_answer"]["generated"] == t2["t2_twice_answer"]["killed"] > 0
    assert report["goal"]["right_answers_met"] and report["goal"]["mistakes_met"]
    assert not report["goal"]["mutation_score_met"]          # T1 has an untested cell
    assert not report["unattributed"]
    assert report["verify"]["checked"] and not report["verify"]["mismatches"]
    assert "Survivors that need a hidden test" in grader_audit.render(report)


SAMPLE = int(os.environ.get("GRADER_AUDIT_SAMPLE", "4"))
SEED = int(os.environ.get("GRADER_AUDIT_SEED", "0"))


@pytest.fixture(scope="module")
def course_report(tmp_path_factory):
    if not list(grader_audit.SOURCE.glob("*.ipynb")):
        pytest.skip("no source notebooks")
    return grader_audit.run(sample=SAMPLE, seed=SEED, jobs=2, verify=2, workdir=tmp_path_factory.mktemp("audit"),
                            mutations=SAMPLE > 0, log=lambda message: None)


@pytest.mark.slow
def test_reference_gets_full_marks_in_the_audit(course_report):
    assert course_report.get("meta"), course_report.get("problems")
    assert not course_report["problems"], course_report["problems"]
    assert not course_report["unattributed"], course_report["unattributed"]


@pytest.mark.slow
def test_shared_notebooks_give_the_verdicts_of_solo_ones(course_report):
    assert not course_report["verify"]["mismatches"], course_report["verify"]["mismatches"]


@pytest.mark.slow
def test_sampled_mutation_score_reaches_the_goal(course_report):
    text = grader_audit.render(course_report)
    for nb_name, nb in course_report["notebooks"].items():
        score = nb["summary"]["score"]
        assert score is None or score >= grader_audit.GOAL, f"{nb_name}: {score:.1%}\n{text}"


@pytest.mark.slow
def test_every_right_answer_keeps_full_marks(course_report):
    bad = [r for r in course_report["right_answers"] if not r["accepted"]]
    assert not bad, "\n".join(f"{r['notebook']} {r['cell']} {r['label']!r}: {r['lost']} {r['messages']}" for r in bad)


# Mistakes a visible check catches first, with a plain message: they lose their points but the
# hidden test's named hint never runs. Each would be an open item for the notebook's owner (pass the
# hint kind to that visible `require`, or diagnose before it); the test fails when a new one appears
# or a listed one is fixed. Empty: every common mistake of the corpus now gets its hint.
KNOWN_UNHINTED = set()


@pytest.mark.slow
def test_every_common_mistake_loses_its_points(course_report):
    kept = [m for m in course_report["mistakes"] if not m["lost_points"]]
    assert not kept, [(m["notebook"], m["cell"], m["label"]) for m in kept]


@pytest.mark.slow
def test_every_common_mistake_gets_its_hint(course_report):
    unhinted = {(m["notebook"], m["cell"], m["label"]) for m in course_report["mistakes"] if not m["hinted"]}
    assert not (KNOWN_UNHINTED - unhinted), f"now hinted, remove from KNOWN_UNHINTED: {KNOWN_UNHINTED - unhinted}"
    bad = [m for m in course_report["mistakes"]
           if not m["hinted"] and (m["notebook"], m["cell"], m["label"]) not in KNOWN_UNHINTED]
    assert not bad, "\n".join(
        f"{m['notebook']} {m['cell']} {m['label']!r}: expected {m['expected_hint']}, lost points {m['lost_points']}, "
        f"hints {sorted({k for _, k in m['hints']})}, {m['messages']}" for m in bad)


@pytest.mark.slow
def test_the_corpora_score_as_before_the_trust_boundary(course_report):
    """Differential (tests/differential/): every right answer and common mistake loses exactly the
    cells it lost with the grader before the trust boundary, which ran hidden tests in the kernel."""
    import json
    before = {}
    for record in json.loads((grader_audit.REPO / "tests" / "differential" / "scores_before.json").read_text()).values():
        if record["kind"] in ("right", "mistake"):
            stem = record["notebook"][:-len(".ipynb")]
            before[record["kind"], record["notebook"], record["cell"], record["label"]] = {
                key.split("/")[1] for key, cell in record["cells"].items()
                if key.startswith(stem + "/") and not key.endswith("_written") and cell["score"] < cell["max"]}
    now = {("right", r["notebook"], r["cell"], r["label"]): set(r["lost"]) for r in course_report["right_answers"]}
    now.update({("mistake", m["notebook"], m["cell"], m["label"]): set(m["lost"]) for m in course_report["mistakes"]})
    # entries added since (issue 21: finite-difference answers, B6) have no "before"; the tests above
    # hold them to the same standard (accepted, or losing points with their hint)
    assert set(before) <= set(now), f"recorded entries are gone from the corpora: {sorted(set(before) - set(now))[:3]}"
    differ = {key: (sorted(before[key]), sorted(now[key])) for key in before if now[key] != before[key]}
    assert not differ, differ
