"""Why a submission could not be graded, in words an instructor can act on, from nbgrader's log."""
import os
import re

KINDS = [
    (re.compile(r"NotJSONError|JSONDecodeError|does not appear to be JSON|UnicodeDecodeError"),
     "not a readable notebook (invalid JSON): ask the student for the file again"),
    (re.compile(r"DeadKernelError|Kernel died|kernel died"), "the kernel died"),
    (re.compile(r"UnresponsiveKernelError|kernel became unresponsive|CellTimeoutError|TimeoutError|Timeout waiting"),
     "timed out"),
    (re.compile(r"Kernel didn't respond|Kernel died before replying"), "the kernel did not start"),
    (re.compile(r"ValidationError|Notebook JSON is invalid|is not valid under"), "not a valid notebook format"),
    (re.compile(r"SchemaTooOldError|SchemaTooNewError|metadata format"), "nbgrader metadata of another version"),
    (re.compile(r"MissingEntry|No assignment with ID"), "the assignment is not in the gradebook"),
]
NOTEBOOK = re.compile(r"\] (?:Sanitizing|Autograding|Converting notebook) (\S+\.ipynb)")


def failure_reason(log: str, error: str = "") -> str | None:
    """'<notebook>: <what went wrong>' from nbgrader's log, or None if it reports no error."""
    text = log + "\n" + error
    cut = text.find("[ERROR]")
    if cut < 0 and not error:
        return None
    before = text[:cut] if cut >= 0 else text
    notebooks = NOTEBOOK.findall(before)
    where = os.path.basename(notebooks[-1]) + ": " if notebooks else ""
    after = text[cut:] if cut >= 0 else error
    precise = re.findall(r"SubmissionNotGradable: (.+)", after)  # the grader's own words come first
    if precise:
        return (where + precise[-1].strip())[:300]
    for pattern, kind in KINDS:
        if pattern.search(after):
            return where + kind
    lines = [line.strip() for line in after.splitlines() if line.strip()]
    exceptions = [line for line in lines if re.match(r"^[A-Za-z_.]+(Error|Exception)\b", line)]
    detail = exceptions[-1] if exceptions else lines[0].split("]", 1)[-1].strip() if lines else "error"
    return (where + detail)[:300]


def failed_notebook(reason: str | None) -> str | None:
    """The notebook a reason names ('A_theory.ipynb: ...'), if any."""
    named = re.match(r"([^:/]+\.ipynb): ", reason or "")
    return named.group(1) if named else None
