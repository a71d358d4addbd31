"""Bounds on what a kernel can put into a notebook, and the outputs of a graded cell.

A kernel can print without end, display huge images, or update old displays; the
grader keeps its own memory and the notebook bounded:

- per cell: stdout/stderr up to `max_stream_bytes`, rich outputs up to `max_outputs`
  of at most `max_rich_bytes` each;
- per notebook: `max_notebook_bytes` of outputs in all;
- display updates (`update_display_data`) and `clear_output` from a graded cell are
  ignored (the notebook is a record, not a live view).

A graded cell's outputs are then arranged so that only the grader decides its
score (nbgrader scores the first error, stderr stream or execute_result it finds):
the kernel's execute_result becomes a plain display, its stderr becomes stdout,
hint records the kernel made are dropped; the grader's verdict comes first.
"""
import json

from nbformat.v4 import new_output

from course.hints import HINT_MIME


def size_of(value) -> int:
    return len(value) if isinstance(value, str) else len(json.dumps(value))


def megabytes(count: int) -> str:
    return f"{count / 1e6:.1f} MB"


def note(text: str):
    return new_output("stream", name="stdout", text=text + "\n")


def is_hint(output) -> bool:
    return HINT_MIME in (output.get("data") or {})


def kernel_outputs_of_graded_cell(outputs):
    """What the kernel wrote in a graded cell, made unable to decide the score."""
    kept = []
    for output in outputs:
        kind = output.get("output_type")
        if is_hint(output):
            continue
        if kind == "execute_result":
            output = new_output("display_data", data=output.get("data", {}), metadata=output.get("metadata", {}))
        elif kind == "stream" and output.get("name") == "stderr":
            output = new_output("stream", name="stdout", text=output.get("text", ""))
        kept.append(output)
    errors = [o for o in kept if o.get("output_type") == "error"]
    return errors + [o for o in kept if o.get("output_type") != "error"]


def verdict_outputs(message, hints):
    """The grader's outputs for a test cell: the failure (if any) first, then the hint records."""
    outputs = []
    if message is not None:
        outputs.append(new_output("error", ename="CheckFailed", evalue=message,
                                  traceback=[f"CheckFailed: {message}"]))
    for check, kind in hints:
        outputs.append(new_output("display_data", data={HINT_MIME: {"check": check, "kind": kind}, "text/plain": ""}))
    return outputs
