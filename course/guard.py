"""The integrity guard, inside the kernel: the checking stack cannot be patched unseen.

Imported and run in the kernel that executes a submission (the grader side is
`course.sandbox.SandboxedExecute`; flags and evidence are `course.integrity`).

- `snapshot()` records every function and class attribute of the checking
  stack (the `course` package, NumPy, SymPy, mpmath, `math`, the builtins)
  and its modules in `sys.modules`. That walk is the guard's largest cost, so the warm zygote that
  forks the kernels (`course.zygote`) takes it once (`prepare`), before any
  student code exists; a kernel verifies the inherited one instead of taking
  its own (by the dict version tags taken with it: every attribute is
  compared only if one of them moved).
- `install(token, ...)` registers IPython `pre_run_cell` / `post_run_cell`
  hooks. The grader tags each graded cell's execute request with an id that
  starts with the secret `token` (`course.kernel_client`). Before a graded
  cell (unless only graded cells ran since the last check) the hooks check,
  put back what was replaced, and silence warnings (stderr would cost a
  correct cell its points); after it they check again, since a change made
  while the tests ran makes the cell worthless. Every check is logged in
  `sys.modules[token].log`, which the grader reads once, after the last cell.

Everything the checks use is bound when they are made (default arguments,
closures), so replacing a builtin or `operator.is_` later cannot blind them.
"""
import importlib
import operator
import sys
import types
import warnings

WANTED = ["builtins", "math", "operator", "functools", "numpy", "numpy.testing", "numpy.linalg",
          "sympy", "course"]
PREFIXES = ("numpy", "sympy", "course", "mpmath")
SINGLES = ("builtins", "math", "operator", "functools", "cmath", "numbers")
#: names the kernel itself rebinds (ipykernel swaps input() for every request)
INTERACTIVE = {"input", "raw_input", "exit", "quit", "help", "copyright", "credits", "license",
               "display", "get_ipython", "breakpoint"}
#: namespaces written to by ordinary use: IPython adds and removes exit, quit and
#: get_ipython in builtins around every cell; lambdify counts its functions in a
#: module global; every sympy Dummy counts itself in a class attribute
VOLATILE = {"builtins", "sympy.utilities.lambdify", "sympy.core.symbol.Dummy"}
#: class attributes Python itself adds (caches of abc, copyreg, typing)
IGNORED = ("__slotnames__", "__annotations__", "__abstractmethods__", "_abc_impl")

_prepared = None


def watched_modules():
    return {name: module for name, module in list(sys.modules.items())
            if isinstance(module, types.ModuleType)
            and (name in SINGLES or name.split(".")[0] in PREFIXES)}


class Snapshot:
    """What the checking stack looked like, and a way to compare it with now."""

    def __init__(self):
        for name in WANTED:
            try:
                importlib.import_module(name)
            except Exception:
                pass
        self.modules = watched_modules()
        watched = {}     # id(owner) -> (owner, its namespace, its name, {attribute: original value})
        classes = []     # (class, class name, its namespace, attribute names now)
        seen = set()
        for name, module in self.modules.items():
            mine = name.split(".")[0] == "course"
            for key, value in list(vars(module).items()):
                if key.startswith("__") and key not in ("__import__", "__build_class__"):
                    continue
                if name == "builtins" and (key in INTERACTIVE or key.startswith("_")) \
                        and key not in ("__import__", "__build_class__"):
                    continue
                if callable(value) or isinstance(value, types.ModuleType) or (mine and not key.startswith("_")):
                    watched.setdefault(id(module), (module, vars(module), name, {}))[3][key] = value
                if isinstance(value, type) and id(value) not in seen and value.__flags__ & (1 << 9) \
                        and (getattr(value, "__module__", "") or "").split(".")[0] in PREFIXES:
                    # a class defined in Python: its methods and descriptors can be replaced
                    seen.add(id(value))
                    label = value.__module__ + "." + value.__qualname__
                    for attr, item in list(value.__dict__.items()):
                        if attr in ("__dict__", "__weakref__", "__doc__", "__module__"):
                            continue
                        if callable(item) or hasattr(type(item), "__get__"):
                            watched.setdefault(id(value), (value, value.__dict__, label, {}))[3][attr] = item
                    classes.append((value, label, value.__dict__, frozenset(value.__dict__)))
        # One C-level lookup per namespace (itemgetter) and an identity comparison per
        # attribute (map(is_)): no Python loop per attribute.
        groups = []
        for owner, space, label, originals in watched.values():
            keys, values = tuple(originals), tuple(originals.values())
            getter = operator.itemgetter(*keys) if len(keys) > 1 else (lambda d, k=keys[0]: (d[k],))
            groups.append((owner, space, label, keys, values, getter))
        self.groups, self.classes = tuple(groups), tuple(classes)
        self.size = sum(len(group[3]) for group in groups)
        # Namespaces that ordinary use writes to (VOLATILE) would move their tags at
        # nearly every check: they are compared on every check instead, tags left out.
        self.volatile = tuple(group for group in groups if group[2] in VOLATILE)
        self.volatile_classes = tuple(entry for entry in classes if entry[1] in VOLATILE)
        self.read_tags = tag_reader([group[1] for group in groups if group[2] not in VOLATILE]
                                    + [entry[2] for entry in classes if entry[1] not in VOLATILE])
        self.tags = self.read_tags() if self.read_tags is not None else None  # as taken


def tag_reader(spaces):
    """A function returning the version tags of these namespaces' dicts, or None.

    CPython gives every dict a version tag that changes whenever the dict does
    (PEP 509). Reading the tags of the watched namespaces is far cheaper than comparing
    every attribute, so the full comparison runs only when a tag moved. Used only where a probe shows the tag is where it is read
    (CPython 3.11's dict layout: reference count, type, size, then the tag).
    """
    try:
        import ctypes
        import gc
        read = ctypes.c_uint64.from_address
        offset = 3 * ctypes.sizeof(ctypes.c_ssize_t)
        probe = {"key": object()}
        first = read(id(probe) + offset).value
        probe["key"] = object()
        second = read(id(probe) + offset).value
        if sys.implementation.name != "cpython" or first == second or read(id(probe) + offset).value != second:
            return None
        dicts = {}
        for space in spaces:  # a class's namespace is a mappingproxy around its dict
            if type(space) is not dict:  # (a dict subclass for ctypes' classes: same layout)
                inner = [item for item in gc.get_referents(space) if isinstance(item, dict)]
                if len(inner) != 1:
                    return None
                space = inner[0]
            dicts[id(space)] = space
        keep = tuple(dicts.values())  # alive as long as the reader: the addresses stay valid
        addresses = tuple(id(item) + offset for item in keep)
        return lambda keep=keep: [read(address).value for address in addresses]
    except Exception:
        return None


def prepare():
    """Take the snapshot now (in the zygote, before any kernel exists)."""
    global _prepared
    _prepared = Snapshot()
    if _prepared.read_tags is not None:  # setting `_prepared` moved this module's tag
        _prepared.tags = _prepared.read_tags()


def _inherited_or_new():
    """(the zygote's snapshot if it still describes this process exactly, else a new one,
    whether that took comparing every attribute)."""
    snap = _prepared
    if snap is not None:
        now = watched_modules()
        if now.keys() == snap.modules.keys() and all(now[name] is module for name, module in snap.modules.items()):
            # compared with the snapshot as taken: when no namespace's tag moved since
            # (the usual case), only the volatile ones need comparing
            probe = types.SimpleNamespace(result=None)
            if not make_check(snap, probe, since=snap.tags)(False):
                return snap, probe.counts["full"] > 0
    return Snapshot(), True


def make_check(snap, store, since=None):
    """check(restore) -> [what was replaced]; puts it back if `restore`.

    The first check compares only what moved since the tags `since` (default: now)."""
    missing = object()
    modules, groups, classes, read_tags = snap.modules, snap.groups, snap.classes, snap.read_tags
    volatile, volatile_classes = snap.volatile, snap.volatile_classes
    tags = [None if read_tags is None else (read_tags() if since is None else since)]
    counts = store.counts = {"full": 0}  # checks that compared everything (tests read it)

    def check(restore, sys_modules=sys.modules, is_=operator.is_, all=all, map=map, zip=zip,
              set=set, any=any, setattr=setattr, delattr=delattr, callable=callable,
              hasattr=hasattr, type=type, Exception=Exception, KeyError=KeyError):
        changed = []
        for name, module in modules.items():
            if sys_modules.get(name, module) is not module:
                changed.append("sys.modules[%r]" % name)
                if restore:
                    sys_modules[name] = module
        # no watched namespace's tag moved: only the volatile ones need comparing
        fast = read_tags is not None and tags[0] is not None and read_tags() == tags[0]
        counts["full"] += not fast
        stuck = False  # something that could not be put back
        for owner, space, label, keys, values, getter in (volatile if fast else groups):
            try:
                if all(map(is_, getter(space), values)):
                    continue
            except KeyError:
                pass
            for key, value in zip(keys, values):
                if space.get(key, missing) is not value:
                    changed.append(label + "." + key)
                    if restore:
                        try:
                            setattr(owner, key, value)
                        except Exception:
                            stuck = True
        for cls, label, space, keys in (volatile_classes if fast else classes):
            if keys == space.keys():
                continue
            for key in set(space) - keys:
                if key in IGNORED or key.startswith("_abc_"):
                    continue
                item = space[key]
                inherited = any(key in base.__dict__ for base in cls.__mro__[1:])
                if not (callable(item) or hasattr(type(item), "__get__") or inherited):
                    continue
                changed.append(label + "." + key + " (added)")
                if restore:
                    try:
                        delattr(cls, key)
                    except Exception:
                        stuck = True
        if read_tags is not None and not fast and not stuck and (restore or not changed):
            tags[0] = read_tags()  # what is there now (restored) is the new reference
        store.result = changed
        return changed

    return check


def install(token, watch=True, quiet=True):
    """Set the guard up in this kernel under `sys.modules[token]`; returns the number of attributes watched."""
    store = types.ModuleType(token)
    store.result, store.log = [], []
    if watch:
        snap, store.compared_all = _inherited_or_new()
        store.modules, store.size, store.inherited = dict(snap.modules), snap.size, snap is _prepared
        store.check = check = make_check(snap, store)
    else:
        store.modules, store.size, check = {}, 0, None
    try:
        from IPython import get_ipython
        shell = get_ipython()
    except Exception:
        shell = None
    if shell is not None:  # outside IPython (tests) there are no cells to hook
        before_cell, after_cell = _hooks(shell, token, check, store.log, quiet)
        shell.events.register("pre_run_cell", before_cell)
        shell.events.register("post_run_cell", after_cell)
    sys.modules[token] = store
    return store.size


def _hooks(shell, token, check, log, quiet):
    """IPython's pre_run_cell and post_run_cell callbacks for this token."""
    state = {"checked": False, "filters": None}
    prefix = token + ":"

    def graded(info, str=str, isinstance=isinstance, getattr=getattr):
        cell_id = getattr(info, "cell_id", None)
        return cell_id if isinstance(cell_id, str) and cell_id.startswith(prefix) else None

    def before_cell(info, list=list, Exception=Exception):
        try:
            cell_id = graded(info)
            if cell_id is None:
                state["checked"] = False
                if state["filters"] is not None:  # student code warns as usual
                    warnings.filters[:] = state["filters"]
                    warnings._filters_mutated()
                    state["filters"] = None
                return
            if check is not None and not state["checked"]:
                log.append([cell_id, "before", check(True)])
            if quiet and state["filters"] is None:
                state["filters"] = list(warnings.filters)
                warnings.simplefilter("ignore")
            # our after-hook last, after any hook the student's code registered
            hooks = shell.events.callbacks["post_run_cell"]
            if hooks and hooks[-1] is not after_cell and after_cell in hooks:
                hooks.remove(after_cell)
                hooks.append(after_cell)
        except Exception:
            pass

    def after_cell(result, getattr=getattr, Exception=Exception):
        try:
            cell_id = graded(getattr(result, "info", None))
            if cell_id is not None and check is not None:
                log.append([cell_id, "after", check(True)])
                state["checked"] = True
        except Exception:
            pass

    return before_cell, after_cell
