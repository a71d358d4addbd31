"""Shared fixtures: a throw-away course directory graded by the real nbgrader."""
import shutil
from pathlib import Path

import pytest

from grader.authoring import submissions
from grader.driver import grading
from grader.driver.commands import nbgrader
from grader.reports.gradebook import scores

REPO = Path(__file__).resolve().parent.parent
ASSIGNMENT = "tutorial08"
SOURCE = REPO / "source" / ASSIGNMENT
RELEASE = REPO / "release" / ASSIGNMENT


class Course:
    """A temporary copy of the course: source, config, and its own release and gradebook."""

    def __init__(self, root, notebooks=None):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / "nbgrader_config.py", self.root)
        source = self.root / "source" / ASSIGNMENT
        source.mkdir(parents=True)
        for path in sorted(SOURCE.glob("*.ipynb")):
            if notebooks is None or path.name in notebooks:
                shutil.copy(path, source)
        run = nbgrader(["generate_assignment", ASSIGNMENT, "--force"], self.root)
        assert run.returncode == 0, run.stdout + run.stderr

    def source_nb(self, name):
        return submissions.read(self.root / "source" / ASSIGNMENT / name)

    def release_nb(self, name):
        return submissions.read(self.root / "release" / ASSIGNMENT / name)

    def reference(self, name, changes=None):
        """The reference solution of notebook `name`, with {grade_id: code} changes."""
        return submissions.reference(self.release_nb(name), self.source_nb(name), changes)

    def submit(self, student, notebooks):
        submissions.write(self.root, student, ASSIGNMENT, notebooks)

    def autograde(self):
        self.status = grading.autograde(self.root, ASSIGNMENT)
        self.scores = scores(self.root, ASSIGNMENT)
        return self.scores

    def autograded_nb(self, student, name):
        return submissions.read(self.root / "autograded" / student / ASSIGNMENT / name)


@pytest.fixture(scope="module")
def make_course(tmp_path_factory):
    def make(notebooks=None):
        return Course(tmp_path_factory.mktemp("course"), notebooks)
    return make


def cell_outputs_text(nb, grade_id):
    """Everything a graded cell printed or raised, as one string (for hint assertions)."""
    for cell in nb.cells:
        if submissions.grade_id(cell) == grade_id:
            parts = []
            for out in cell.get("outputs", []):
                parts.append(out.get("text", ""))
                parts.append(out.get("evalue", ""))
                parts.append(str(out.get("data", {}).get("text/plain", "")))
            return "\n".join(parts)
    raise KeyError(grade_id)


def kernel_outputs(client, code):
    """(status, outputs) of running `code` with a kernel client: what a notebook would keep
    of the cell, in order, with consecutive chunks of one stream joined (how text is split
    into messages depends on timing)."""
    seen = []

    def keep(msg):
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            if seen and seen[-1][:2] == ("stream", content["name"]):
                seen[-1] = ("stream", content["name"], seen[-1][2] + content["text"])
            else:
                seen.append((kind, content["name"], content["text"]))
        elif kind in ("execute_result", "display_data"):
            seen.append((kind, content["data"].get("text/plain")))
        elif kind == "error":
            seen.append((kind, content["ename"]))

    reply = client.execute_interactive(code, timeout=60, output_hook=keep)
    return reply["content"]["status"], seen


# Notebook fixtures under tests/ are inputs to graders, not notebooks to run with nbval.
collect_ignore_glob = ["*/*.ipynb", "*.ipynb"]
