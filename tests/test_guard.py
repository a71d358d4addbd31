"""The in-kernel integrity guard (course/guard.py), in this process and in an IPython shell."""
import os
import sys

import numpy
import pytest
import sympy

from course import guard, integrity


@pytest.fixture
def store():
    token = integrity.new_token()
    guard.install(token, watch=True, quiet=True)
    yield sys.modules[token]
    del sys.modules[token]


def test_the_fast_path_is_in_use_and_still_sees_every_kind_of_change(store):
    assert guard.Snapshot().read_tags is not None, "dict version tags unreadable: every check compares everything"
    assert store.check(True) == []
    original = numpy.allclose
    try:
        vars(numpy)["allclose"] = lambda *args, **kwargs: True   # behind the module's back
        assert store.check(True) == ["numpy.allclose"] and numpy.allclose is original
        sympy.Symbol.equals = lambda *args: True                  # added to a class
        assert store.check(True) == ["sympy.core.symbol.Symbol.equals (added)"]
        assert "equals" not in vars(sympy.Symbol)
        sys.modules["numpy"] = None
        assert store.check(True) == ["sys.modules['numpy']"] and sys.modules["numpy"] is numpy
        assert store.check(True) == []
    finally:
        numpy.allclose = original
        sys.modules["numpy"] = numpy


def test_the_fast_path_works_with_everything_a_kernel_preloads():
    import importlib
    from course import zygote
    for name in zygote.KERNEL_PRELOAD + zygote.DEFAULT_PRELOAD:  # ctypes classes among them
        importlib.import_module(name.partition(":")[0])
    assert guard.Snapshot().read_tags is not None


def test_ordinary_churn_keeps_the_fast_path_and_a_replaced_builtin_is_still_seen(store):
    import builtins
    x = sympy.Symbol("x")
    sympy.lambdify(x, sympy.Dummy() + x)  # lambdify's and Dummy's first use
    assert store.check(True) == []
    full = store.counts["full"]
    original = builtins.abs
    try:
        for _ in range(3):  # what IPython does around every cell: add and remove names
            builtins.get_ipython = None
            del builtins.get_ipython
            sympy.lambdify(x, sympy.Dummy() + x)  # a counter in a module, one in a class
            assert store.check(True) == []
        assert store.counts["full"] == full, "ordinary use cost a full comparison"
        builtins.abs = lambda x: 0
        assert store.check(True) == ["builtins.abs"] and builtins.abs is original
        assert store.counts["full"] == full
    finally:
        builtins.abs = original


def _install_in_a_fork_of_a_prepared_process(before=""):
    """(inherited, compared every attribute) of guard.install in a fork, after running `before`."""
    guard.prepare()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # as in a kernel forked by the zygote
        try:
            exec(before, {})
            token = integrity.new_token()
            guard.install(token)
            store = sys.modules[token]
            os.write(write, f"{store.inherited} {store.compared_all}".encode())
        finally:
            os._exit(0)
    os.close(write)
    answer = os.read(read, 100).decode()
    os.waitpid(pid, 0)
    guard._prepared = None
    return answer


def test_a_fork_of_a_prepared_process_inherits_the_snapshot_without_comparing_everything():
    # no watched namespace's tag moved since the snapshot: only the volatile ones compared
    assert _install_in_a_fork_of_a_prepared_process() == "True False"


def test_a_fork_changed_before_install_does_not_inherit_the_snapshot():
    changed = "import numpy\nnumpy.allclose = len\n"
    assert _install_in_a_fork_of_a_prepared_process(changed) == "False True"
    # a tag that moved without a change: everything compared, the snapshot still inherited
    undone = "import numpy\nnumpy._course_probe = 1\ndel numpy._course_probe\n"
    assert _install_in_a_fork_of_a_prepared_process(undone) == "True True"


def test_hooks_check_only_tagged_cells_and_log_what_they_saw():
    from IPython.core.interactiveshell import InteractiveShell
    shell = InteractiveShell.instance()
    token = integrity.new_token()
    original = numpy.allclose
    try:
        guard.install(token)
        log = sys.modules[token].log
        tag = integrity.graded_cell_id(token, 3)
        shell.run_cell("import numpy; _saved = numpy.allclose; numpy.allclose = len")  # student code
        assert log == []
        shell.run_cell("assert numpy.allclose is _saved", cell_id=tag)                  # a test cell
        assert log == [[tag, "before", ["numpy.allclose"]], [tag, "after", []]]
        result = shell.run_cell("numpy.allclose = len", cell_id=tag)                   # patched during it
        assert result.success and log[-1] == [tag, "after", ["numpy.allclose"]]
        assert len(log) == 3, "no check before a test cell that follows a test cell"
        shell.run_cell("numpy.allclose = len", cell_id=token + "x:1")                  # not our id
        assert len(log) == 3
    finally:
        shell.events.callbacks["pre_run_cell"].clear()
        shell.events.callbacks["post_run_cell"].clear()
        numpy.allclose = original
        del sys.modules[token]
        InteractiveShell.clear_instance()
