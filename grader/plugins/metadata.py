"""`RestoreCellMetadata`: a test cell whose nbgrader metadata a student edited gets it back.

nbgrader's OverwriteCells restores a test cell's source, points and lock, but not
its grade/solution/task flags: a test cell turned into a solution cell (or the
reverse) fails nbgrader's checksum check, and the whole submission with it.
Placed before OverwriteCells, this makes every cell the gradebook knows (by
grade_id) what the release made it.
"""
from nbgrader.api import Gradebook, GradeCell, MissingEntry, SolutionCell, SourceCell, TaskCell
from nbgrader.preprocessors import NbGraderPreprocessor


def notebook_cells(gradebook, notebook, assignment):
    """{"source" | "grade" | "solution" | "task": {name: cell}} of a source notebook (one query per kind)."""
    book = gradebook.find_notebook(notebook, assignment)
    kinds = {"source": SourceCell, "grade": GradeCell, "solution": SolutionCell, "task": TaskCell}
    return {kind: {c.name: c for c in gradebook.db.query(cls).filter(cls.notebook_id == book.id)}
            for kind, cls in kinds.items()}


class RestoreCellMetadata(NbGraderPreprocessor):
    """Autograde's sanitizing step: the nbgrader flags of every known cell, as released."""

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gb:
            try:
                cells = notebook_cells(gb, info["notebook"], info["assignment"])
            except MissingEntry:
                return nb, resources
        sources, grades, tasks, solutions = cells["source"], cells["grade"], cells["task"], set(cells["solution"])
        for cell in nb.cells:
            meta = cell.get("metadata", {}).get("nbgrader")
            grade_id = (meta or {}).get("grade_id")
            if not grade_id or grade_id not in sources:
                continue
            grade, task = grades.get(grade_id), tasks.get(grade_id)
            restored = {"grade": grade is not None, "solution": grade_id in solutions,
                        "task": task is not None, "locked": bool(sources[grade_id].locked)}
            scored = grade if grade is not None else task
            if scored is not None:
                restored["points"] = float(scored.max_score)
            changed = sorted(k for k, v in restored.items() if meta.get(k) != v)
            if scored is None and "points" in meta:
                del meta["points"]
            if changed:
                self.log.warning("Restored nbgrader metadata (%s) of cell %s", ", ".join(changed), grade_id)
                meta.update(restored)
        return nb, resources
