"""`make feedback`: feedback HTML that shows a student their work and scores, and nothing secret.

    python -m course.feedback tutorial08 [--student S]     (run from the course root)

nbgrader's own feedback renders the autograded notebook as it is, and that
notebook holds the hidden tests (restored before grading), their tracebacks
(whose failing line may hold the expected value) and the mark schemes of the
prompts (restored with the read-only cells). `SealFeedback`, a preprocessor
that `nbgrader_config.py` adds to `nbgrader generate_feedback` (so the
formgrader's button seals too), rewrites the notebook before it is rendered:

- test cells: the hidden-test region becomes the line "# hidden tests ran here";
  outputs are reduced to one line per failure: the message of a
  `course.CheckFailed` / `AssertionError` (written for the student, with the
  hint), "did not finish in time" for a timeout, and only the exception's type
  with a generic sentence for anything else; no traceback, no printed output;
- every cell: mark scheme regions are removed;
- the machine-readable hint outputs (`course.hints.HINT_MIME`) are dropped
  (their sentence is already in the failure message).

The student's own cells (their code, its outputs) and the score of every
graded cell are kept. After nbgrader has written the files, this command
checks each one: any line of a hidden test or a mark scheme found in it (that
the student could not see anyway) and the file is deleted and reported, and
the command fails.
"""
import argparse
import html
import re
import subprocess
import sys
import os
from pathlib import Path

import nbformat
from nbconvert.preprocessors import Preprocessor
from nbformat.v4 import new_output
from traitlets import Bool, Unicode

from .hints import HINT_MIME

HIDDEN_BEGIN, HIDDEN_END = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"
SCHEME_BEGIN, SCHEME_END = "BEGIN MARK SCHEME", "END MARK SCHEME"
SOLUTION_BEGIN, SOLUTION_END = "BEGIN SOLUTION", "END SOLUTION"
MESSAGE_ERRORS = {"CheckFailed", "AssertionError", "IntegrityError"}
TIMEOUT_ERRORS = {"CellTimeoutError", "TimeoutError", "TimedOut"}
MIN_SECRET_LENGTH = 6
MIN_EMBEDDED_LENGTH = 20
# a source line as a traceback shows it: "----> 5 code" or "      5 code"
TRACEBACK_PREFIX = re.compile(r"^(-*>\s*)?\d+\s+")


# ----------------------------------------------------------------- regions

def split_regions(source, begin, end):
    """(kept lines, removed lines, whether a region was found) for `begin`/`end` marker lines."""
    kept, removed, inside, found = [], [], False, False
    for line in source.splitlines():
        upper = line.upper()
        if begin in upper:
            inside, found = True, True
            continue
        if end in upper and inside:
            inside = False
            continue
        (removed if inside else kept).append(line)
    return kept, removed, found


def without_region(source, begin, end, placeholder=None):
    lines, region = [], False
    inside = False
    for line in source.splitlines():
        upper = line.upper()
        if begin in upper:
            inside = region = True
            if placeholder is not None:
                indent = line[:len(line) - len(line.lstrip())]
                lines.append(indent + placeholder)
            continue
        if end in upper and inside:
            inside = False
            continue
        if not inside:
            lines.append(line)
    return "\n".join(lines), region


def _meta(cell):
    return (cell.get("metadata") or {}).get("nbgrader") or {}


def is_test_cell(cell):
    meta = _meta(cell)
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


# ----------------------------------------------------------------- sealing one notebook

def sealed_error(output, visible_text=""):
    """One error output that says what failed without a traceback or a hidden value."""
    ename = output.get("ename") or "Error"
    evalue = (output.get("evalue") or "").strip()
    if ename in MESSAGE_ERRORS:
        message = evalue or "a hidden check failed."
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


def _is_hint(output):
    return HINT_MIME in (output.get("data") or {})


def seal_cell(cell, visible_text=""):
    """Seal one cell in place (see the module docstring); returns the cell."""
    source = cell.get("source", "")
    if isinstance(source, list):
        source = "".join(source)
    source, _ = without_region(source, SCHEME_BEGIN, SCHEME_END)
    source, hidden = without_region(source, HIDDEN_BEGIN, HIDDEN_END, placeholder="# hidden tests ran here")
    cell["source"] = source
    if cell.get("cell_type") != "code":
        return cell
    outputs = cell.get("outputs", [])
    if is_test_cell(cell) or hidden:
        cell["outputs"] = [sealed_error(o, visible_text) for o in outputs if o.get("output_type") == "error"]
    else:
        cell["outputs"] = [o for o in outputs if not _is_hint(o)]
    return cell


def seal_notebook(nb, visible_text=""):
    for cell in nb.cells:
        seal_cell(cell, visible_text)
    return nb


class SealFeedback(Preprocessor):
    """nbconvert preprocessor: seal the autograded notebook before nbgrader renders feedback.

    `release_text` (set from the course's release notebooks when empty) is what
    students were shown: names from it may be repeated in a NameError message.
    """

    enabled = Bool(True).tag(config=True)  # nbconvert preprocessors are off unless enabled
    release_text = Unicode("").tag(config=True)

    def preprocess(self, nb, resources):
        visible = self.release_text or _release_text_for(resources)
        return seal_notebook(nb, visible), resources


def _release_text_for(resources):
    try:
        info = resources.get("nbgrader", {})
        root = Path(resources.get("metadata", {}).get("path", ".")).resolve()
        # metadata.path is autograded/<student>/<assignment>: the course root is three levels up
        course_root = root.parents[2]
        path = course_root / "release" / info["assignment"] / f"{info['notebook']}.ipynb"
        return path.read_text(encoding="utf-8")
    except Exception:
        return ""


# ----------------------------------------------------------------- secrets and the leak check

def _normal(text):
    return re.sub(r"\s+", " ", text).strip()


def secret_lines(course_root, assignment):
    """Lines of hidden tests and mark schemes that no student version shows: {line: where}."""
    source = Path(course_root) / "source" / assignment
    release = Path(course_root) / "release" / assignment
    visible = set()
    for path in sorted(release.glob("*.ipynb")):
        for cell in nbformat.read(str(path), as_version=4).cells:
            visible.update(_normal(line) for line in cell.source.splitlines())
    secrets = {}
    for path in sorted(source.glob("*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        for cell in nb.cells:
            grade_id = _meta(cell).get("grade_id") or "?"
            for begin, end, kind in ((HIDDEN_BEGIN, HIDDEN_END, "hidden test"),
                                     (SCHEME_BEGIN, SCHEME_END, "mark scheme")):
                _, removed, _ = split_regions(cell.source, begin, end)
                for line in removed:
                    text = _normal(line)
                    if len(text) >= MIN_SECRET_LENGTH and text not in visible:
                        secrets.setdefault(text, f"{path.stem}:{grade_id} ({kind})")
    return secrets


def _strip_tags(document):
    document = re.sub(r"<(script|style)\b.*?</\1>", " ", document, flags=re.S | re.I)
    return html.unescape(re.sub(r"<[^>]+>", "", document))


def html_text(document):
    """The visible text of an HTML file (tags stripped, entities decoded, whitespace collapsed)."""
    return _normal(_strip_tags(document))


def html_lines(document):
    """The visible text of an HTML file, line by line (each line's whitespace collapsed)."""
    return [_normal(line) for line in _strip_tags(document).splitlines()]


def own_lines(course_root, assignment, student, notebook):
    """Lines the student submitted themselves (a secret line they typed is not a leak)."""
    path = Path(course_root) / "submitted" / student / assignment / f"{notebook}.ipynb"
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception:
        return set()
    return {_normal(line) for cell in nb.cells for line in cell.source.splitlines()}


def leaks(lines, secrets, own=()):
    """The secret lines that occur in `lines` (from html_lines) outside the student's own lines.

    A secret shows when a line of the page is that line (as code, or as a
    traceback shows it: "----> 5 <line>"); a secret of MIN_EMBEDDED_LENGTH
    characters or more also when it is part of a longer line. A line the
    student submitted is theirs even when a hidden test holds the same text.
    """
    own = set(own)
    shown = set()
    for line in lines:
        bare = TRACEBACK_PREFIX.sub("", line)
        if line and line not in own and bare not in own:
            shown.update((line, bare))
    rest = "\n".join(shown)
    return sorted(line for line in secrets if line not in own and (
        line in shown or (len(line) >= MIN_EMBEDDED_LENGTH and line in rest)))


def check_file(course_root, assignment, path, secrets):
    """[(line, where)] of secret lines in one feedback file."""
    student, notebook = Path(path).parent.parent.name, Path(path).stem
    lines = html_lines(Path(path).read_text(encoding="utf-8", errors="replace"))
    mine = own_lines(course_root, assignment, student, notebook)
    return [(line, secrets[line]) for line in leaks(lines, secrets, mine)]


# ----------------------------------------------------------------- the command

def feedback_files(course_root, assignment, student=None):
    root = Path(course_root) / "feedback"
    pattern = f"{student or '*'}/{assignment}/*.html"
    return sorted(root.glob(pattern))


def generate(course_root, assignment, student=None, log=print):
    """Run nbgrader generate_feedback (sealed by nbgrader_config.py), then check every file.

    Returns (written files, {file: [(line, where)]} of files deleted for leaking).
    """
    course_root = Path(course_root).resolve()
    args = [sys.executable, "-m", "nbgrader", "generate_feedback", assignment, "--force"]
    if student:
        args += ["--student", student]
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    run = subprocess.run(args, cwd=course_root, env=env, capture_output=True, text=True)
    if run.returncode != 0:
        log(run.stdout[-3000:] + run.stderr[-3000:])
        raise RuntimeError(f"nbgrader generate_feedback failed (exit {run.returncode})")
    secrets = secret_lines(course_root, assignment)
    written, leaked = [], {}
    for path in feedback_files(course_root, assignment, student):
        found = check_file(course_root, assignment, path, secrets)
        if found:
            leaked[path] = found
            path.unlink()
        else:
            written.append(path)
    return written, leaked


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("assignment")
    parser.add_argument("--student", help="only this student")
    parser.add_argument("--root", default=".", help="course root (default: the current directory)")
    options = parser.parse_args(argv)
    written, leaked = generate(options.root, options.assignment, options.student)
    root = Path(options.root).resolve()
    for path in written:
        print(f"feedback: {path.relative_to(root)}")
    for path, found in leaked.items():
        print(f"WITHHELD {path.relative_to(root)}: it showed {len(found)} secret line(s), "
              f"e.g. from {found[0][1]}", file=sys.stderr)
    print(f"feedback: {len(written)} file(s) written for {options.assignment}"
          + (f", {len(leaked)} withheld" if leaked else ""))
    return 1 if leaked else 0


if __name__ == "__main__":
    sys.exit(main())
