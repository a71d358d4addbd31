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
#: Lines that say nothing an instructor can act on (nbgrader's "Please see the the above traceback").
UNHELPFUL = re.compile(r"see the (the )?above traceback|^Traceback \(most recent call last\)|^\[ERROR\] There was an error")
#: "package.module.SomeError: " in front of a message: the class name is not for the instructor.
EXCEPTION = re.compile(r"^(?:[A-Za-z_][\w.]*\.)?[A-Z]\w*(?:Error|Exception|Exit|Warning)\b:?\s*")
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
    precise = re.findall(r"(?:SubmissionNotGradable|NotANotebook): (.+)", after)  # the grader's own words first
    if precise:
        return (where + precise[-1].strip())[:300]
    for pattern, kind in KINDS:
        if pattern.search(after):
            return where + kind
    lines = [line.strip() for line in after.splitlines() if line.strip() and not UNHELPFUL.search(line)]
    exceptions = [line for line in lines if EXCEPTION.match(line)]
    detail = EXCEPTION.sub("", exceptions[-1]).strip() if exceptions else ""
    if not detail:
        detail = lines[0].split("]", 1)[-1].strip() if lines and not exceptions else "no message"
    return (where + f"grading stopped with an error the grader does not know ({detail[:200]}); "
            f"the student's log in grading_status/ has the details")[:300]


def failed_notebook(reason: str | None) -> str | None:
    """The notebook a reason names ('A_theory.ipynb: ...'), if any."""
    named = re.match(r"([^:/]+\.ipynb): ", reason or "")
    return named.group(1) if named else None
