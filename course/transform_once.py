"""A grading kernel transforms each cell's input once, not twice.

For every execute request, ipykernel's `do_execute` runs IPython's
`transform_cell` (which tokenizes the whole cell to find magics, `!` commands
and the like) and `should_run_async` (which compiles the result) to decide
whether the cell needs an event loop. An ordinary cell then goes to
`shell.run_cell(code)`, and IPython's `_run_cell` does both again on the same
code. On this course's notebooks the second pass is pure repetition, and the
tokenizer is slow Python.

`install()` runs in the zygote (`course.zygote.KERNEL_PRELOAD`), before any
kernel exists, and wraps the two methods of ipykernel's shell class:

- `transform_cell`: the result of the call made by `do_execute` is kept, and
  handed back to the next call only if that call comes from `_run_cell` with
  the very same string object. Nothing runs between the two (IPython fires its
  `pre_run_cell` hooks later), so it is what the second call would compute.
  Any other call, or a cell that takes the asynchronous path (which passes the
  transformed cell on itself), drops what was kept.
- `should_run_async`: its answer depends only on the transformed text (whether
  it compiles to a coroutine), so the last answer is reused for the same string.
"""
import sys


def install():
    """Wrap ZMQInteractiveShell's transform_cell and should_run_async (idempotent)."""
    from IPython.core.interactiveshell import InteractiveShell
    from ipykernel.ipkernel import IPythonKernel
    from ipykernel.zmqshell import ZMQInteractiveShell

    if getattr(ZMQInteractiveShell, "_transform_once", False):
        return
    transform, should_run_async = ZMQInteractiveShell.transform_cell, ZMQInteractiveShell.should_run_async
    kernel_code = getattr(IPythonKernel.do_execute, "__code__", None)
    run_code = getattr(InteractiveShell._run_cell, "__code__", None)
    kept = {"transformed": None, "async": None}  # (raw cell, result): the kernel is one shell

    def transform_cell(self, raw_cell, _getframe=sys._getframe):
        caller = _getframe(1).f_code
        previous, kept["transformed"] = kept["transformed"], None
        if caller is run_code and previous is not None and previous[0] is raw_cell:
            return previous[1]
        result = transform(self, raw_cell)
        if caller is kernel_code:
            kept["transformed"] = (raw_cell, result)
        return result

    def should_run_async_once(self, raw_cell, *, transformed_cell=None, preprocessing_exc_tuple=None):
        pure = self.autoawait and preprocessing_exc_tuple is None and isinstance(transformed_cell, str)
        previous = kept["async"]
        if pure and previous is not None and previous[0] is transformed_cell:
            answer = previous[1]
        else:
            answer = should_run_async(self, raw_cell, transformed_cell=transformed_cell,
                                      preprocessing_exc_tuple=preprocessing_exc_tuple)
            if pure:
                kept["async"] = (transformed_cell, answer)
        if answer:  # the asynchronous path: IPython will not transform this cell again
            kept["transformed"] = None
        return answer

    ZMQInteractiveShell.transform_cell = transform_cell
    ZMQInteractiveShell.should_run_async = should_run_async_once
    ZMQInteractiveShell._transform_once = True
