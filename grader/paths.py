"""Where the course keeps things: nbgrader's `CourseDirectory`, read from `nbgrader_config.py`.

Every folder name and the gradebook URL come from here (and so from the one
configuration nbgrader itself reads), never from a string written out elsewhere.
"""
import functools
import os
from pathlib import Path

#: Our own records (status per student, grading logs, events), beside nbgrader's folders.
STATUS_FOLDER = "grading_status"


@functools.lru_cache(maxsize=8)
def _config(root: str):
    from traitlets.config.loader import PyFileConfigLoader
    path = Path(root) / "nbgrader_config.py"
    if not path.exists():
        from traitlets.config import Config
        return Config()
    return PyFileConfigLoader(path.name, path=str(path.parent)).load_config()


class Course:
    """The folders of one course root (the folder holding nbgrader_config.py)."""

    def __init__(self, root=None, config=None):
        from nbgrader.coursedir import CourseDirectory
        root = str(Path(root or os.getcwd()).resolve())
        self.config = config if config is not None else _config(root)
        self.dirs = CourseDirectory(config=self.config)
        self.dirs.root = root
        self.root = Path(self.dirs.root)

    @property
    def db_url(self) -> str:
        return self.dirs.db_url

    def _path(self, step, student, assignment) -> Path:
        return Path(self.dirs.format_path(step, student or ".", assignment))

    def source(self, assignment) -> Path:
        return self._path(self.dirs.source_directory, ".", assignment)

    def release(self, assignment) -> Path:
        return self._path(self.dirs.release_directory, ".", assignment)

    def submitted(self, student, assignment) -> Path:
        return self._path(self.dirs.submitted_directory, student, assignment)

    def autograded(self, student, assignment) -> Path:
        return self._path(self.dirs.autograded_directory, student, assignment)

    def feedback(self, student, assignment) -> Path:
        return self._path(self.dirs.feedback_directory, student, assignment)

    def submitted_root(self) -> Path:
        return self.root / self.dirs.submitted_directory

    def status(self, assignment) -> Path:
        return self.root / STATUS_FOLDER / assignment

    def release_notebooks(self, assignment) -> list:
        return sorted(p.name for p in self.release(assignment).glob("*.ipynb"))

    def submitted_students(self, assignment) -> list:
        return sorted(p.parent.name for p in self.submitted_root().glob(f"*/{assignment}") if p.is_dir())


def course_of(config) -> Course:
    """The course an nbgrader plugin works for, from the configuration nbgrader gave it."""
    from nbgrader.coursedir import CourseDirectory
    return Course(CourseDirectory(config=config).root, config=config)
