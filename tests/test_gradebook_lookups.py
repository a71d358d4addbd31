"""course.gradebook_lookups: nbgrader's per-cell lookups answered from one read per notebook.

Every lookup OverwriteCells and SaveAutoGrades make must give what nbgrader's own
Gradebook gives: the same row, or MissingEntry.
"""
import itertools

import pytest
from nbgrader.api import Gradebook, MissingEntry

from course import gradebook_lookups
from course.gradebook_lookups import BatchedGradebook

pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")  # nbgrader's add_submission

NAMES = ["answer", "test", "essay", "only_source", "nowhere"]


@pytest.fixture
def db_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    with Gradebook(url) as gb:
        gb.add_assignment("hw")
        for notebook in ("one", "two"):
            gb.add_notebook(notebook, "hw")
            # an autograded answer: a grade cell and a solution cell of the same name
            gb.add_grade_cell("answer", notebook, "hw", max_score=2, cell_type="code")
            gb.add_solution_cell("answer", notebook, "hw")
            gb.add_grade_cell("test", notebook, "hw", max_score=3, cell_type="code")
            gb.add_task_cell("essay", notebook, "hw", max_score=1, cell_type="markdown")
            for name in ("answer", "test", "essay", "only_source"):
                gb.add_source_cell(name, notebook, "hw", cell_type="code", source=f"# {name}",
                                   checksum=f"sum-{notebook}-{name}", locked=name == "test")
        for student in ("ada", "bob"):
            gb.add_student(student)
            gb.add_submission("hw", student)
    return url


def _answer(lookup, *args):
    try:
        found = lookup(*args)
    except MissingEntry:
        return "MissingEntry"
    return (type(found).__name__, found.id)


def test_every_lookup_gives_what_nbgraders_gives(db_url):
    answers = {}
    for kind, cls in (("stock", Gradebook), ("batched", BatchedGradebook)):
        with cls(db_url) as gb:
            table = {}
            for name, notebook in itertools.product(NAMES, ("one", "two", "absent")):
                table[("source", name, notebook)] = _answer(gb.find_source_cell, name, notebook, "hw")
                table[("graded", name, notebook)] = _answer(gb.find_graded_cell, name, notebook, "hw")
                for student in ("ada", "bob", "nobody"):
                    for what in ("grade", "comment"):
                        table[(what, name, notebook, student)] = _answer(
                            getattr(gb, f"find_{what}"), name, notebook, "hw", student)
            answers[kind] = table
    assert answers["batched"] == answers["stock"]
    found = {value for value in answers["stock"].values() if value != "MissingEntry"}
    assert {kind for kind, _ in found} == {"SourceCell", "GradeCell", "TaskCell", "Grade", "Comment"}


def test_one_read_per_notebook_and_writes_kept_across_commits(db_url):
    from sqlalchemy import event
    statements = []

    def record(connection, cursor, statement, *args):
        statements.append(statement)

    with BatchedGradebook(db_url) as gb:
        engine = gb.db.get_bind()
        event.listen(engine, "before_cursor_execute", record)
        try:
            for name in ("answer", "test", "essay"):  # what SaveAutoGrades does, cell by cell
                grade = gb.find_grade(name, "one", "hw", "ada")
                grade.auto_score = 1.0
                gb.db.commit()
                gb.find_source_cell(name, "one", "hw")
                assert gb.find_graded_cell(name, "one", "hw").max_score > 0
        finally:
            event.remove(engine, "before_cursor_execute", record)
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    # the notebook: itself and four kinds of cells; the submission: itself, grades and
    # comments (each of a cell kind and of a task); nothing per cell
    assert len(reads) <= 10, reads
    with Gradebook(db_url) as gb:
        assert [gb.find_grade(n, "one", "hw", "ada").auto_score for n in ("answer", "test", "essay")] == [1.0] * 3


def test_install_makes_the_two_preprocessors_use_it():
    from nbgrader.preprocessors import overwritecells, saveautogrades
    saved = overwritecells.Gradebook, saveautogrades.Gradebook
    try:
        gradebook_lookups.install()
        assert overwritecells.Gradebook is BatchedGradebook
        assert saveautogrades.Gradebook is BatchedGradebook
    finally:
        overwritecells.Gradebook, saveautogrades.Gradebook = saved
