"""`SealFeedback`: the notebook a student gets back shows their work and scores, nothing secret.

nbgrader renders the autograded notebook as it is, and that notebook holds the
hidden tests (restored before grading), tracebacks and the mark schemes of the
prompts. nbgrader_config.py adds this preprocessor to `generate_feedback` (the
formgrader's button included), so before anything is rendered:

- test cells: the hidden region becomes "# hidden tests ran here"; outputs become
  one line per failure: the grader's verdict (a hint, never an expected value), a
  visible check's own message, "did not finish in time", or, for anything else,
  only the exception's type with a sentence of advice; no traceback, nothing printed;
- every cell: mark scheme regions are removed; hint records are dropped (their
  sentence is already in the message).

The student's own cells (code and outputs, capped while grading) and the score of
every graded cell are kept. `grader.reports.feedback` then checks every file it
wrote for any line of a hidden test or a mark scheme, also encoded.
"""
import re

from nbconvert.preprocessors import Preprocessor
from nbformat.v4 import new_output
from traitlets import Bool, Unicode

from . import outputs, regions

MESSAGE_ERRORS = {"CheckFailed", "AssertionError"}
TIMEOUT_ERRORS = {"CellTimeoutError", "TimeoutError", "TimedOut"}
PLACEHOLDER = "# hidden tests ran here"


def is_test_cell(cell) -> bool:
    meta = (cell.get("metadata") or {}).get("nbgrader") or {}
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


def sealed_error(output, visible_text=""):
    """One error output that says what failed, without a traceback or a hidden value."""
    ename = str(output.get("ename") or "Error")
    evalue = str(output.get("evalue") or "").strip()
    if ename in MESSAGE_ERRORS:
        message = evalue or "a check failed."
    elif ename in TIMEOUT_ERRORS:
        message = "the test did not finish within the time limit (an endless loop, or very slow code?)."
    elif ename == "NameError" and _visible_name(evalue, visible_text):
        message = f"{evalue}: the test needs it. Define it as the exercise asks (and run your cells)."
    else:
        message = (f"the test stopped with a {ename} inside your code or on its result "
                   f"(check the type, shape and value your code returns).")
    return new_output("error", ename=ename, evalue=message, traceback=[f"{ename}: {message}"])


def _visible_name(evalue, visible_text):
    match = re.fullmatch(r"name '(\w+)' is not defined", evalue)
    return bool(match) and re.search(rf"\b{re.escape(match.group(1))}\b", visible_text) is not None


def seal_cell(cell, visible_text=""):
    source = cell.get("source", "")
    source = "".join(source) if isinstance(source, list) else str(source)
    source, _, _ = regions.split(source, regions.MARK_SCHEME)
    source, _, hidden = regions.split(source, regions.HIDDEN, placeholder=PLACEHOLDER)
    cell["source"] = source
    if cell.get("cell_type") != "code":
        return cell
    found = cell.get("outputs", [])
    if is_test_cell(cell) or hidden:
        cell["outputs"] = [sealed_error(o, visible_text) for o in found if o.get("output_type") == "error"]
    else:
        cell["outputs"] = [o for o in found if not outputs.is_hint(o)]
    return cell


def seal_notebook(nb, visible_text=""):
    for cell in nb.cells:
        seal_cell(cell, visible_text)
    return nb


class SealFeedback(Preprocessor):
    """nbconvert preprocessor: seal the autograded notebook before nbgrader renders feedback."""

    enabled = Bool(True).tag(config=True)  # nbconvert's preprocessors are off unless enabled
    release_text = Unicode("", help="what students were shown (names from it may be repeated in a "
                                    "NameError message); read from the release when empty").tag(config=True)

    def preprocess(self, nb, resources):
        return seal_notebook(nb, self.release_text or self._release_text(resources)), resources

    def _release_text(self, resources):
        try:
            from nbgrader.coursedir import CourseDirectory
            from grader.paths import Course
            info = resources["nbgrader"]
            course = Course(CourseDirectory(config=self.config).root, config=self.config)
            return (course.release(info["assignment"]) / f"{info['notebook']}.ipynb").read_text(encoding="utf-8")
        except Exception:  # noqa: BLE001 (then no name is repeated)
            return ""
