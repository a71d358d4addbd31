"""Damaged submissions made gradable before nbgrader's own steps see them (grader/repair).

- `RepairingExporter` (autograde's exporter): reads a submitted file however it was
  saved (another encoding, nbformat 3, cells a broken tool wrote oddly), or stops
  that notebook with a reason in plain words (`NotANotebook`).
- `RepairCells` (first of autograde's sanitizing steps): aligns the cells with the
  release notebook (a cell pasted twice, an answer without its metadata, a changed
  cell type, a missing cell), records what it did, and puts a note at the top for
  the TA. nbgrader's OverwriteCells then restores read-only and test cells as usual.
"""
import nbformat
from nbconvert.exporters import NotebookExporter
from nbgrader.preprocessors import NbGraderPreprocessor

from grader.repair import align, files, record


class RepairingExporter(NotebookExporter):
    """nbconvert's notebook exporter, reading the file with grader.repair.files."""

    def from_file(self, file_stream, resources=None, **kw):
        data = file_stream.buffer.read() if hasattr(file_stream, "buffer") else file_stream.read().encode()
        notebook, repairs = files.read_bytes(data)
        resources = resources if resources is not None else {}
        resources["file_repairs"] = repairs
        return self.from_notebook_node(notebook, resources, **kw)


class RepairCells(NbGraderPreprocessor):
    """Align a submitted notebook with its release notebook; record and show every repair."""

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        course = self._course()
        release = course.release(info["assignment"]) / f"{info['notebook']}.ipynb"
        repairs, review = list(resources.get("file_repairs", [])), []
        if release.exists():
            nb, found, review = align.repair(nb, nbformat.read(str(release), as_version=4))
            repairs += found
        else:
            self.log.warning("No release notebook %s: cells not aligned", release)
        if info.get("student"):
            record.save(course, info["assignment"], info["student"], info["notebook"], repairs, review)
        if repairs or review:
            self.log.warning("Repaired %s: %s", info["notebook"], "; ".join(repairs + review))
            nb.cells.insert(0, record.note_cell(repairs, review))
        return nb, resources

    def _course(self):
        from grader.paths import course_of
        return course_of(self.config)
