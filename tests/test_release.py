"""The committed student version is what `make release` makes, and it gives nothing away."""
import re

import pytest

from conftest import RELEASE, SOURCE, Course
from grader.authoring import submissions

SOURCE_NOTEBOOKS = sorted(p.name for p in SOURCE.glob("*.ipynb"))
REGION = re.compile(r"(BEGIN|END) (SOLUTION|HIDDEN TESTS|MARK SCHEME)")


def split_regions(text):
    """(lines inside, lines outside) the solution, hidden-test and mark-scheme regions of a cell."""
    inside, secret, public = False, [], []
    for line in text.splitlines():
        if REGION.search(line):
            inside = "BEGIN" in line
            continue
        (secret if inside else public).append(line.strip())
    return secret, public


def secret_lines(source_nb):
    """Distinctive lines that only the source may hold: not also outside a region somewhere."""
    public, secret = set(), set()
    for cell in source_nb.cells:
        inside, outside = split_regions(cell.source)
        secret |= set(inside)
        public |= set(outside) | {line.split("  # ")[0].strip() for line in outside}  # code without its comment
    return {line for line in secret - public
            if len(line) >= 12 and " " in line and not line.startswith("#")}


@pytest.fixture(scope="module")
def fresh_release(tmp_path_factory):
    return Course(tmp_path_factory.mktemp("release"))


def test_every_source_notebook_is_released():
    assert SOURCE_NOTEBOOKS, "no source notebooks"
    assert sorted(p.name for p in RELEASE.glob("*.ipynb")) == SOURCE_NOTEBOOKS


@pytest.mark.parametrize("name", SOURCE_NOTEBOOKS)
def test_committed_release_is_in_sync_with_source(fresh_release, name):
    committed, regenerated = submissions.read(RELEASE / name), fresh_release.release_nb(name)
    assert len(committed.cells) == len(regenerated.cells), "run `make release` and commit release/"
    for old, new in zip(committed.cells, regenerated.cells):
        assert old.source == new.source, "run `make release` and commit release/"
        assert old.metadata.get("nbgrader") == new.metadata.get("nbgrader"), "run `make release`"


@pytest.mark.parametrize("name", SOURCE_NOTEBOOKS)
def test_release_holds_no_solution_hidden_test_or_mark_scheme(name):
    released = RELEASE.joinpath(name).read_text()
    for marker in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "BEGIN MARK SCHEME"):
        assert marker not in released
    leaked = [line for line in secret_lines(submissions.read(SOURCE / name)) if line in released]
    assert not leaked, f"{name} leaks: {leaked[:5]}"


@pytest.mark.parametrize("name", SOURCE_NOTEBOOKS)
def test_release_is_output_free(name):
    for cell in submissions.read(RELEASE / name).cells:
        assert not cell.get("outputs") and not cell.get("execution_count")


@pytest.mark.parametrize("name", SOURCE_NOTEBOOKS)
def test_source_is_output_free(name):
    for cell in submissions.read(SOURCE / name).cells:
        assert not cell.get("outputs") and not cell.get("execution_count")
