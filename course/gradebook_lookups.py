"""nbgrader's per-cell gradebook lookups, answered from one read per notebook.

While it grades a notebook, nbgrader's OverwriteCells asks the gradebook for
every cell's source cell and graded cell, and SaveAutoGrades for every graded
cell's grade and every answer's comment: one query with up to seven joins each,
several per cell. `BatchedGradebook` answers the same questions from
the notebook's cells and the submission's grades and comments, read once per
Gradebook (each preprocessor opens its own). It gives the same objects, in the
same order of preference (a grade cell before a task cell of the same name, a
solution cell before a task cell), and raises MissingEntry where nbgrader does.

`install()` makes those two preprocessors use it; the grading workers call it.
"""
from nbgrader import api
from nbgrader.api import Comment, Grade, GradeCell, MissingEntry, SolutionCell, SourceCell, TaskCell


def notebook_cells(gradebook, notebook, assignment):
    """{"source" | "grade" | "solution" | "task": {name: cell}} of a source notebook.

    One query per kind, each cell with all its columns. (Notebook.grade_cells
    and its siblings load the cells' common columns only, and then one query
    per cell for the rest, such as a grade cell's points.) MissingEntry if the
    notebook is not in the gradebook.
    """
    book = gradebook.find_notebook(notebook, assignment)
    kinds = {"source": SourceCell, "grade": GradeCell, "solution": SolutionCell, "task": TaskCell}
    return {kind: {c.name: c for c in gradebook.db.query(cls).filter(cls.notebook_id == book.id)}
            for kind, cls in kinds.items()}


class BatchedGradebook(api.Gradebook):

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # SaveAutoGrades commits after every cell; by default that would expire every
        # object read so far, and the next use of each would read it again. No one
        # else writes these rows meanwhile: a student is graded by one worker.
        self.db().expire_on_commit = False

    def _notebook_cells(self, notebook, assignment):
        """{kind: {name: cell}} of a source notebook, read once."""
        cache = self.__dict__.setdefault("_course_cells", {})
        key = (notebook, assignment)
        if key not in cache:
            cache[key] = notebook_cells(self, notebook, assignment)
        return cache[key]

    def _submitted(self, notebook, assignment, student):
        """{kind: {cell name: Grade or Comment}} of one submitted notebook, read once."""
        cache = self.__dict__.setdefault("_course_submitted", {})
        key = (notebook, assignment, student)
        if key not in cache:
            submitted = self.find_submission_notebook(notebook, assignment, student)

            def by_name(record, cell_class):
                rows = self.db.query(record, cell_class.name)\
                    .join(cell_class, cell_class.id == record.cell_id)\
                    .filter(record.notebook_id == submitted.id)
                return {name: row for row, name in rows}

            cache[key] = {"grade": by_name(Grade, GradeCell), "task grade": by_name(Grade, TaskCell),
                          "comment": by_name(Comment, SolutionCell),
                          "task comment": by_name(Comment, TaskCell)}
        return cache[key]

    def find_source_cell(self, name, notebook, assignment):
        try:
            return self._notebook_cells(notebook, assignment)["source"][name]
        except (KeyError, MissingEntry):
            raise MissingEntry(f"No such source cell: {assignment}/{notebook}/{name}") from None

    def find_graded_cell(self, name, notebook, assignment):
        try:
            cells = self._notebook_cells(notebook, assignment)
        except MissingEntry:
            cells = {"grade": {}, "task": {}}
        found = cells["grade"].get(name) or cells["task"].get(name)
        if found is None:
            raise MissingEntry(f"No such grade cell: {assignment}/{notebook}/{name}")
        return found

    def find_grade(self, grade_cell, notebook, assignment, student):
        return self._record("grade", grade_cell, notebook, assignment, student)

    def find_comment(self, solution_cell, notebook, assignment, student):
        return self._record("comment", solution_cell, notebook, assignment, student)

    def _record(self, kind, name, notebook, assignment, student):
        try:
            records = self._submitted(notebook, assignment, student)
        except MissingEntry:
            records = {kind: {}, f"task {kind}": {}}
        found = records[kind].get(name) or records[f"task {kind}"].get(name)
        if found is None:
            raise MissingEntry(f"No such {kind}: {assignment}/{notebook}/{name} for {student}")
        return found


def install():
    """OverwriteCells and SaveAutoGrades open a BatchedGradebook (in this process)."""
    from nbgrader.preprocessors import overwritecells, saveautogrades
    overwritecells.Gradebook = saveautogrades.Gradebook = BatchedGradebook
