"""What the repair did to each notebook: a file per notebook for the instructor's tools,
and a note at the top of the autograded notebook for the TA in the formgrader.

    grading_status/<assignment>/repairs/<student>/<notebook>.json
        {"repairs": [what was done], "review": [what a person should look at]}
"""
import json
import re

import nbformat

NOTE_TAG = "grader-repair-note"


def folder(course, assignment, student):
    return course.status(assignment) / "repairs" / student


def save(course, assignment, student, notebook, repairs, review):
    """Write the notebook's record, or remove an old one when nothing was repaired."""
    path = folder(course, assignment, student) / f"{notebook}.json"
    if not repairs and not review:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"repairs": repairs, "review": review}, indent=1))


def load(course, assignment, student) -> dict:
    """{notebook: {"repairs": [...], "review": [...]}} of one student (unreadable files skipped)."""
    found = {}
    for path in sorted(folder(course, assignment, student).glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            found[path.stem] = {key: [str(item) for item in data.get(key, [])] for key in ("repairs", "review")}
    return found


def clear(course, assignment, student):
    for path in folder(course, assignment, student).glob("*.json"):
        path.unlink()


def _plain(text) -> str:
    """Markdown that shows the text as it is: no HTML, no links, no formatting from it."""
    return re.sub(r"([\\`*_\[\]<>&#|!~])", r"\\\1", str(text))


def note_cell(repairs, review):
    """A markdown cell for the top of the autograded notebook: what was moved where."""
    lines = ["**Repaired before grading.** The grader found this notebook damaged (cells copied, "
             "pasted twice or saved by another editor) and repaired it; cell numbers are those of the "
             "notebook as handed in.", ""]
    lines += [f"- {_plain(item)}" for item in repairs]
    if review:
        lines += ["", "**For the grader to look at:**", ""] + [f"- {_plain(item)}" for item in review]
    cell = nbformat.v4.new_markdown_cell("\n".join(lines))
    cell.metadata["tags"] = [NOTE_TAG]
    return cell
