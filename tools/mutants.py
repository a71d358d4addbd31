"""Mutants of a reference solution: small, plausible wrong answers made from the AST.

A grader is only as good as the wrong answers it rejects. `generate(source)`
walks the solution's syntax tree and makes one small change at a time, the
kind of slip a student makes: a flipped sign, + for -, a dropped factor, 2
where 1 belongs, > for >=, another axis=, a missing .T, = for +=, a forward
instead of a central difference, a deleted statement, ...

Each mutant is the whole cell with that one change, made as a text edit of
the original source (so comments and layout survive and the diff shows only
the change). The edit is checked against the mutated syntax tree: a mutant
whose text does not parse to exactly the intended tree is not produced.

Only code a student writes is mutated: with `regions` (1-based inclusive line
ranges, see `solution_parts`) nodes outside them, such as a provided `def`
line or its default arguments, are left alone. Printing, f-strings, asserts,
raise statements and docstrings are never mutated (they do not change what a
grader sees).

Every mutant has a `key` that stays the same when lines move (scope, operator,
the code before and after), so a person's verdict on it ("equivalent,
because ...") can be stored and found again.
"""
import ast
import copy
import difflib
import re
from dataclasses import dataclass, field

SOLUTION_MARKER = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")


@dataclass(frozen=True)
class Mutant:
    operator: str      # which kind of change (see OPERATORS)
    scope: str         # enclosing function/class, "<cell>" at top level
    line: int          # 1-based line of the change in the cell source
    before: str        # the code that changed
    after: str         # what it became
    source: str        # the whole mutated cell
    key: str = field(default="")

    @property
    def description(self):
        return f"line {self.line} in {self.scope}: {self.operator}: `{self.before}` -> `{self.after}`"

    def diff(self, original, name="cell"):
        """A unified diff of the original cell against this mutant."""
        lines = difflib.unified_diff(
            original.splitlines(), self.source.splitlines(),
            f"{name} (reference)", f"{name} (mutant)", n=1, lineterm="")
        return "\n".join(lines)


OPERATORS = {
    "arith": "swap an arithmetic operator (+ for -, * for /, ** for *, @ for *)",
    "drop_operand": "drop one operand of a product, quotient, sum or power",
    "swap_operands": "swap the operands of a non-commutative operation",
    "negate": "flip the sign of a returned or assigned value",
    "drop_unary": "drop a unary minus or a not",
    "constant": "change a number (2 -> 1, 0.5 -> 1, 1 -> 0, n -> n+1, small steps x10)",
    "bool": "flip True/False",
    "compare_boundary": "swap < with <= and > with >=",
    "compare_negate": "negate a comparison (< for >=, == for !=, in for not in)",
    "boolop": "swap and with or",
    "axis": "change or drop an axis= argument",
    "drop_transpose": "drop a .T / transpose",
    "augassign": "turn += into = (or += into -=, *= into /=)",
    "central_to_forward": "a forward instead of a central difference",
    "call_swap": "call a sibling function (sum/mean, max/min, sin/cos, zeros/ones, log base)",
    "drop_call": "drop a wrapping call (abs, sqrt, exp, log, clip, copy)",
    "delete": "delete a statement that updates state",
    "drop_element": "drop one element of a literal collection of answers (or one letter of a letter list)",
    "add_element": "add a letter to a multiple-choice answer written as a letter list",
}

BINOP_SWAPS = {
    ast.Add: [ast.Sub], ast.Sub: [ast.Add], ast.Mult: [ast.Div], ast.Div: [ast.Mult],
    ast.FloorDiv: [ast.Div], ast.MatMult: [ast.Mult], ast.Pow: [ast.Mult],
}
DROP_LEFT = (ast.Mult, ast.MatMult, ast.Add)          # keep the right operand
DROP_RIGHT = (ast.Mult, ast.MatMult, ast.Add, ast.Sub, ast.Div, ast.FloorDiv, ast.Pow)
SWAP_OPERANDS = (ast.Sub, ast.Div, ast.MatMult, ast.Pow, ast.FloorDiv)
AUG_SWAPS = {ast.Add: [ast.Sub], ast.Sub: [ast.Add], ast.Mult: [ast.Div], ast.Div: [ast.Mult]}
COMPARE_BOUNDARY = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt}
COMPARE_NEGATE = {ast.Lt: ast.GtE, ast.LtE: ast.Gt, ast.Gt: ast.LtE, ast.GtE: ast.Lt,
                  ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
                  ast.In: ast.NotIn, ast.NotIn: ast.In}
CALL_SWAPS = {
    "sum": ["mean"], "mean": ["sum"], "max": ["min"], "min": ["max"], "amax": ["amin"],
    "amin": ["amax"], "maximum": ["minimum"], "minimum": ["maximum"], "argmax": ["argmin"],
    "argmin": ["argmax"], "sin": ["cos"], "cos": ["sin"], "zeros": ["ones"], "ones": ["zeros"],
    "zeros_like": ["ones_like"], "ones_like": ["zeros_like"], "semilogy": ["plot"],
}
NUMERIC_MODULES = {"np", "numpy", "math"}
SYMBOLIC_MODULES = {"sp", "sympy"}
DROPPABLE_CALLS = {"abs", "sqrt", "exp", "log", "clip", "copy", "transpose", "float64"}
QUIET_CALLS = {"print", "display", "warn", "info", "debug", "warning", "set_title", "set_xlabel",
               "set_ylabel", "title", "xlabel", "ylabel", "suptitle", "grid", "tight_layout", "show"}
COMPOUND = (ast.BinOp, ast.BoolOp, ast.Compare, ast.UnaryOp, ast.IfExp, ast.Lambda, ast.NamedExpr)


def solution_parts(raw):
    """(code, regions): the cell without solution markers (as `course.submissions` builds the
    reference) and the 1-based inclusive line ranges a student writes; no markers: all of it."""
    kept, regions, start = [], [], None
    for line in raw.splitlines():
        match = SOLUTION_MARKER.match(line)
        if match:
            if match.group(1) == "BEGIN":
                start = len(kept) + 1
            elif start is not None:
                if len(kept) >= start:
                    regions.append((start, len(kept)))
                start = None
            continue
        kept.append(line)
    if start is not None and len(kept) >= start:
        regions.append((start, len(kept)))
    code = "\n".join(kept)
    if not regions and not any(SOLUTION_MARKER.match(line) for line in raw.splitlines()):
        regions = [(1, max(1, len(kept)))]
    return code, regions


# ----------------------------------------------------------------------------- the walk

@dataclass
class _Edit:
    path: tuple          # fields/indices from the module to the replaced node
    node: ast.AST        # the original node
    new: ast.AST         # its replacement (ast.Pass() for a deleted statement)
    text: str = None     # replacement text (default: ast.unparse(new))


@dataclass
class _Candidate:
    operator: str
    scope: str
    edits: list
    before: str = None
    after: str = None
    context: tuple = None    # (path, node) of the expression shown for an edited atom


def _child_paths(node):
    for name, value in ast.iter_fields(node):
        if isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, ast.AST):
                    yield (name, i), item
        elif isinstance(value, ast.AST):
            yield (name,), value


def _walk(node, path=(), parents=(), scope=()):
    """Yield (node, path, parents, scope) for every node below `node`."""
    for step, child in _child_paths(node):
        child_path = path + step
        yield child, child_path, parents + (node,), scope
        inner = scope
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            inner = scope + (child.name,)
        yield from _walk(child, child_path, parents + (node,), inner)


def _call_name(call):
    func = call.func
    if isinstance(func, ast.Name):
        return None, func.id
    if isinstance(func, ast.Attribute):
        base = func.value.id if isinstance(func.value, ast.Name) else None
        return base, func.attr
    return None, None


def _is_docstring(node, parents):
    return (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str))


def _quiet(parents, node):
    """Inside something that never changes a grade: print(...), f-strings, assert, raise, docstring."""
    for parent in parents + (node,):
        if isinstance(parent, (ast.JoinedStr, ast.Assert, ast.Raise)):
            return True
        if isinstance(parent, ast.Call) and _call_name(parent)[1] in QUIET_CALLS:
            return True
        if isinstance(parent, ast.Expr) and isinstance(parent.value, ast.Constant):
            return True
    return False


def _in_default_or_decorator(path):
    return any(step in ("defaults", "kw_defaults", "decorator_list", "annotation", "returns")
               for step in path if isinstance(step, str))


def _number_variants(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return []
    if isinstance(value, int):
        if value == 0:
            return [1]
        if value == 1:
            return [0, 2]
        if value == 2:
            return [1, 3]
        return [value + 1, value - 1]
    if value == 0.0:
        return [1.0]
    if 0 < abs(value) < 0.01:  # a step or a tolerance
        return [value * 10, value / 10]
    if value == 1.0:
        return [0.0, 2.0]
    if value == 0.5:
        return [1.0, 0.25]
    return [1.0, value * 2]


def _reassigned(scope_body_nodes, name, before_line):
    """Was `name` bound (assigned or a parameter) before `before_line` in this scope?"""
    for node in scope_body_nodes:
        if isinstance(node, ast.arg) and node.arg == name:
            return True
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and node.id == name \
                and node.lineno < before_line:
            return True
    return False


def _candidates(tree):
    scopes = {}  # scope tuple -> nodes directly inside (for reassignment tests)
    for node, path, parents, scope in _walk(tree):
        scopes.setdefault(scope, []).append(node)

    for node, path, parents, scope in _walk(tree):
        if _in_default_or_decorator(path) or _quiet(parents, node):
            continue
        scope_name = ".".join(scope) or "<cell>"

        def cand(operator, new, target=node, target_path=path, text=None):
            context = None
            if isinstance(target, (ast.Constant, ast.Name, ast.Attribute, ast.Subscript)):
                context = _enclosing_expression(target_path, parents if target is node else parents + (node,))
            return _Candidate(operator, scope_name, [_Edit(target_path, target, new, text)], context=context)

        if isinstance(node, ast.BinOp):
            for op in BINOP_SWAPS.get(type(node.op), []):
                yield cand("arith", ast.BinOp(node.left, op(), node.right))
            if isinstance(node.op, DROP_LEFT):
                yield cand("drop_operand", node.right)
            if isinstance(node.op, DROP_RIGHT):
                yield cand("drop_operand", node.left)
            if isinstance(node.op, SWAP_OPERANDS):
                yield cand("swap_operands", ast.BinOp(node.right, node.op, node.left))
            yield from _central_to_forward(node, path, parents, scope_name, tree)

        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.Not)):
            yield cand("drop_unary", node.operand)

        elif isinstance(node, ast.Constant):
            if isinstance(node.value, str):
                if not scope and isinstance(parents[-1], ast.Assign):
                    for operator, text in _letter_variants(node.value):
                        yield cand(operator, ast.Constant(text))
            elif isinstance(node.value, bool):
                yield cand("bool", ast.Constant(not node.value))
            else:
                for value in _number_variants(node.value):
                    yield cand("constant", ast.Constant(value))

        elif isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                for table, name in ((COMPARE_BOUNDARY, "compare_boundary"), (COMPARE_NEGATE, "compare_negate")):
                    if type(op) in table:
                        ops = list(node.ops)
                        ops[i] = table[type(op)]()
                        yield cand(name, ast.Compare(node.left, ops, node.comparators))

        elif isinstance(node, ast.BoolOp):
            other = ast.Or() if isinstance(node.op, ast.And) else ast.And()
            yield cand("boolop", ast.BoolOp(other, node.values))

        elif isinstance(node, ast.Attribute) and node.attr == "T" and isinstance(node.ctx, ast.Load):
            yield cand("drop_transpose", node.value)

        elif isinstance(node, ast.Call):
            yield from _call_mutants(node, cand)

        elif isinstance(node, (ast.Set, ast.List, ast.Tuple)) and isinstance(getattr(node, "ctx", ast.Load()), ast.Load):
            if len(node.elts) >= 1 and all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
                for i in range(len(node.elts)):
                    elts = node.elts[:i] + node.elts[i + 1:]
                    if isinstance(node, ast.Set) and not elts:
                        new = ast.Call(ast.Name("set", ast.Load()), [], [])
                    else:
                        new = type(node)(elts) if isinstance(node, ast.Set) else type(node)(elts, ast.Load())
                    yield cand("drop_element", new)

        elif isinstance(node, ast.AugAssign):
            yield cand("augassign", ast.Assign([node.target], node.value), text=None)
            for op in AUG_SWAPS.get(type(node.op), []):
                yield cand("augassign", ast.AugAssign(node.target, op(), node.value))

        if isinstance(node, ast.Return) and node.value is not None and _negatable(node.value):
            yield cand("negate", ast.UnaryOp(ast.USub(), node.value), target=node.value,
                       target_path=path + ("value",))
        if isinstance(node, ast.Assign) and not scope and _negatable(node.value):
            yield cand("negate", ast.UnaryOp(ast.USub(), node.value), target=node.value,
                       target_path=path + ("value",))

        if isinstance(node, ast.stmt) and _deletable(node, scopes.get(scope, [])):
            yield cand("delete", ast.Pass())


def _enclosing_expression(path, parents):
    """(path, node) of the nearest expression around an atom, so its change reads in context."""
    steps = list(path)
    for parent in reversed(parents):
        # drop the steps that led from `parent` to its child
        while steps and not isinstance(steps[-1], str):
            steps.pop()
        if steps:
            steps.pop()
        if isinstance(parent, (ast.expr, ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Return)):
            return tuple(steps), parent
        if not isinstance(parent, ast.keyword):
            return None
    return None


LETTER_LIST = re.compile(r"^\s*[A-Za-z](?:\s*[,;/ ]\s*[A-Za-z])*\s*$")


def _letter_variants(text):
    """A multiple-choice answer written as letters ("B, C, E" or "BCE"): drop or add one letter."""
    if LETTER_LIST.match(text):
        letters = re.findall(r"[A-Za-z]", text)
        separator = re.search(r"[A-Za-z](\s*[,;/ ]\s*)[A-Za-z]", text)
        separator = separator.group(1) if separator else ""
    elif re.fullmatch(r"[A-Z]{2,10}", text.strip()):
        letters, separator = list(text.strip()), ""
    else:
        return []
    if len(set(letters)) != len(letters):
        return []
    upper = letters[0].isupper()
    variants = [("drop_element", separator.join(letters[:i] + letters[i + 1:])) for i in range(len(letters))]
    top = max(ord(letter.upper()) for letter in letters)
    for code in range(ord("A"), min(top + 1, ord("J")) + 1):
        letter = chr(code) if upper else chr(code).lower()
        if letter not in letters:
            added = sorted(letters + [letter], key=str.upper)
            variants.append(("add_element", separator.join(added)))
    return variants


def _negatable(value):
    if isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.USub):
        return False
    return isinstance(value, (ast.BinOp, ast.Call, ast.Name, ast.Attribute, ast.Subscript))


def _deletable(stmt, scope_nodes):
    """Statements whose deletion is a plausible slip, not a NameError: updates of state."""
    if isinstance(stmt, ast.AugAssign):
        return True
    if isinstance(stmt, ast.Expr):
        return isinstance(stmt.value, ast.Call) and _call_name(stmt.value)[1] not in QUIET_CALLS
    if isinstance(stmt, ast.Assign):
        for target in stmt.targets:
            if isinstance(target, (ast.Attribute, ast.Subscript)):
                return True
            if isinstance(target, ast.Name) and _reassigned(scope_nodes, target.id, stmt.lineno):
                return True
    return False


def _call_mutants(node, cand):
    base, name = _call_name(node)
    if name is None:
        return
    func = node.func
    # a sibling function
    for other in CALL_SWAPS.get(name, []):
        new_func = ast.Name(other, ast.Load()) if isinstance(func, ast.Name) else ast.Attribute(func.value, other, ast.Load())
        yield cand("call_swap", ast.Call(new_func, node.args, node.keywords))
    if name == "log" and base in NUMERIC_MODULES:
        yield cand("call_swap", ast.Call(ast.Attribute(func.value, "log2", ast.Load()), node.args, node.keywords))
    if name == "log" and base in SYMBOLIC_MODULES and len(node.args) == 1:
        yield cand("call_swap", ast.Call(func, node.args + [ast.Constant(2)], node.keywords))
    # drop a wrapping call
    if name in DROPPABLE_CALLS:
        if isinstance(func, ast.Attribute) and base not in NUMERIC_MODULES | SYMBOLIC_MODULES \
                and name in ("copy", "transpose") and not node.args:
            yield cand("drop_call", func.value)       # x.copy() -> x, x.transpose() -> x
        elif node.args and (base in NUMERIC_MODULES | SYMBOLIC_MODULES or isinstance(func, ast.Name)):
            yield cand("drop_call", node.args[0])     # np.exp(z) -> z, np.clip(z, a, b) -> z
    # axis=
    for i, kw in enumerate(node.keywords):
        if kw.arg == "axis":
            variants = []
            if isinstance(kw.value, ast.Constant) and kw.value.value is None:
                variants = [ast.Constant(0)]
            elif isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, int):
                variants = [ast.Constant({0: 1, 1: 0}.get(kw.value.value, 0))]
            elif isinstance(kw.value, ast.UnaryOp) and isinstance(kw.value.op, ast.USub):
                variants = [ast.Constant(0)]
            for value in variants:
                keywords = list(node.keywords)
                keywords[i] = ast.keyword("axis", value)
                yield cand("axis", ast.Call(func, node.args, keywords))
            keywords = node.keywords[:i] + node.keywords[i + 1:]
            yield cand("axis", ast.Call(func, node.args, keywords))


def _central_to_forward(node, path, parents, scope_name, tree):
    """`(f(x+h) - f(x-h)) / (2*h)` -> `(f(x+h) - f(x)) / h`, also with in-place perturbations."""
    if not isinstance(node.op, ast.Div):
        return
    denominator = node.right
    if not (isinstance(denominator, ast.BinOp) and isinstance(denominator.op, ast.Mult)):
        return
    two = [side for side in (denominator.left, denominator.right)
           if isinstance(side, ast.Constant) and side.value == 2 and not isinstance(side.value, bool)]
    if not two:
        return
    step = denominator.right if two[0] is denominator.left else denominator.left
    step_text = ast.unparse(step)
    # the enclosing scope: the nearest function, else the whole cell
    scope_node, scope_path = tree, ()
    for parent in parents:
        if isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef)):
            scope_node = parent
    if scope_node is not tree:
        for other, other_path, _, _ in _walk(tree):
            if other is scope_node:
                scope_path = other_path
                break
    edits = [_Edit(path + ("right",), denominator, step)]
    for inner, inner_path, _, _ in _walk(scope_node, scope_path):
        if isinstance(inner, ast.BinOp) and isinstance(inner.op, ast.Sub) and ast.unparse(inner.right) == step_text:
            edits.append(_Edit(inner_path, inner, inner.left))
        elif (isinstance(inner, ast.AugAssign) and isinstance(inner.op, ast.Sub) and isinstance(inner.value, ast.BinOp)
              and isinstance(inner.value.op, ast.Mult) and ast.unparse(inner.value) in (f"2 * {step_text}", f"{step_text} * 2")):
            edits.append(_Edit(inner_path + ("value",), inner.value, step))
    if len(edits) > 1:
        yield _Candidate("central_to_forward", scope_name, edits,
                         before=ast.unparse(node), after=ast.unparse(_apply_tree_edit_copy(node, edits[0], path)))


def _apply_tree_edit_copy(node, edit, node_path):
    """`node` with one edit applied (for describing a multi-edit mutant)."""
    clone = copy.deepcopy(node)
    rel = edit.path[len(node_path):]
    _set(clone, rel, edit.new)
    return clone


# ----------------------------------------------------------------------------- applying edits

def _set(root, path, new):
    holder = root
    for step in path[:-1]:
        holder = getattr(holder, step) if isinstance(step, str) else holder[step]
    last = path[-1]
    if isinstance(last, str):
        setattr(holder, last, new)
    else:
        holder[last] = new


def _expected_tree(tree, edits):
    clone = copy.deepcopy(tree)
    for edit in edits:
        _set(clone, edit.path, copy.deepcopy(edit.new))
    return clone


def _offsets(source):
    """Byte offset of the start of each 1-based line."""
    data = source.encode("utf-8")
    starts = [0, 0]
    for i, byte in enumerate(data):
        if byte == 0x0A:
            starts.append(i + 1)
    return data, starts


def _span(node, starts):
    return starts[node.lineno] + node.col_offset, starts[node.end_lineno] + node.end_col_offset


def _apply_text(source, edits, parens):
    data, starts = _offsets(source)
    pieces = sorted(((*_span(e.node, starts), e, p) for e, p in zip(edits, parens)), key=lambda t: t[0], reverse=True)
    for start, end, edit, paren in pieces:
        if isinstance(edit.new, ast.stmt):
            ast.fix_missing_locations(ast.copy_location(edit.new, edit.node))
        text = edit.text if edit.text is not None else ast.unparse(edit.new)
        if paren:
            text = f"({text})"
        data = data[:start] + text.encode("utf-8") + data[end:]
    return data.decode("utf-8")


def _same(a, b):
    return ast.dump(a, include_attributes=False) == ast.dump(b, include_attributes=False)


def _realise(source, tree, candidate):
    """The mutated text whose parse is exactly the intended tree, or None."""
    expected = _expected_tree(tree, candidate.edits)
    n = len(candidate.edits)
    needs = [isinstance(e.new, COMPOUND) for e in candidate.edits]
    for parens in ([False] * n, needs, [isinstance(e.new, ast.expr) for e in candidate.edits]):
        try:
            text = _apply_text(source, candidate.edits, parens)
            if _same(ast.parse(text), expected):
                return text
        except (SyntaxError, ValueError):
            continue
    return None


def _short(text, limit=80):
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


# ----------------------------------------------------------------------------- the entry point

def generate(source, regions=None, operators=None):
    """All mutants of `source` (a cell's code), in source order, without duplicates.

    `regions`: 1-based inclusive line ranges that may change (default: all).
    `operators`: restrict to these operator names (default: all of OPERATORS).
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    lines = source.splitlines()

    def inside(node):
        if regions is None:
            return True
        return any(lo <= node.lineno and node.end_lineno <= hi for lo, hi in regions)

    mutants, seen, keys = [], {source}, {}
    for candidate in _candidates(tree):
        if operators is not None and candidate.operator not in operators:
            continue
        if not all(inside(edit.node) for edit in candidate.edits):
            continue
        text = _realise(source, tree, candidate)
        if text is None or text in seen:
            continue
        seen.add(text)
        first = candidate.edits[0].node
        if candidate.before is None and candidate.context is not None:
            context_path, context_node = candidate.context
            edit = candidate.edits[0]
            changed = copy.deepcopy(context_node)
            _set(changed, edit.path[len(context_path):], copy.deepcopy(edit.new))
            before = ast.get_source_segment(source, context_node) or ast.unparse(context_node)
            after = ast.unparse(changed)
        elif candidate.before is None:
            if isinstance(first, ast.stmt) and isinstance(candidate.edits[0].new, ast.Pass):
                before = lines[first.lineno - 1].strip()
                after = "pass"
            else:
                before = ast.get_source_segment(source, first) or ast.unparse(first)
                after = ast.unparse(candidate.edits[0].new)
        else:
            before, after = candidate.before, candidate.after
        before, after = _short(before), _short(after)
        base = f"{candidate.scope} | {candidate.operator} | {before} -> {after}"
        keys[base] = keys.get(base, 0) + 1
        key = base if keys[base] == 1 else f"{base} #{keys[base]}"
        mutants.append(Mutant(candidate.operator, candidate.scope, first.lineno, before, after, text, key))
    mutants.sort(key=lambda m: m.line)
    return mutants
