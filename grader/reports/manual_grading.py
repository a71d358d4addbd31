"""Hand-given scores in the nbgrader gradebook, without the formgrader.

The free-text answers of Part C are graded by hand. A grader normally does this
in nbgrader's formgrader (which stores the score in the gradebook); scripts
such as the course demo do the same through these functions, which write the
very fields the formgrader's "save" writes (`manual_score`, the comment's
`manual_comment`, and the `needs_manual_grade` flag).

Nothing here decides a score: the caller passes it in.

    url = db_url(course_root)
    for student, notebook, grade_id in needs_manual_grading(url, "tutorial08"):
        set_manual_score(url, "tutorial08", student, notebook, grade_id, 2, comment="...")
"""
import math
from pathlib import Path


def db_url(course_root):
    """The gradebook URL nbgrader_config.py uses for this course directory."""
    from grader.paths import Course
    return Course(course_root).db_url


def _open(url):
    from nbgrader.api import Gradebook

    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///"):])
        if not path.exists():  # Gradebook() would silently create an empty one
            raise FileNotFoundError(f"no gradebook at {path}")
    return Gradebook(url)


def needs_manual_grading(url, assignment):
    """[(student, notebook, grade_id)] of every grade still flagged for a person, sorted.

    After autograde this lists each free-text answer a student actually wrote
    (an untouched "YOUR ANSWER HERE" cell is scored 0 by nbgrader and not
    flagged), and any cell whose manual score was later cleared.
    """
    with _open(url) as gb:
        flagged = []
        for submission in gb.assignment_submissions(assignment):
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    if grade.needs_manual_grade:
                        flagged.append((submission.student_id, notebook.name, grade.name))
    return sorted(flagged)


def manual_cells(url, assignment):
    """{notebook: {grade_id: max_score}} of the cells graded by hand (free-text answers, tasks)."""
    with _open(url) as gb:
        cells = {}
        for notebook in gb.find_assignment(assignment).notebooks:
            hand_graded = [c for c in notebook.grade_cells if c.cell_type == "markdown"] + list(notebook.task_cells)
            for cell in hand_graded:
                cells.setdefault(notebook.name, {})[cell.name] = float(cell.max_score)
    return cells


def set_manual_score(url, assignment, student, notebook, grade_id, score, comment=None):
    """Record a person's score (and optional comment) for one graded cell of one submission.

    Returns the grade as nbgrader reports it (`Grade.to_dict()`). Raises
    KeyError for an unknown submission or cell and ValueError for a score
    outside [0, max_score].
    """
    from nbgrader.api import MissingEntry

    try:
        score = float(score)
    except (TypeError, ValueError):
        raise ValueError(f"score must be a number, not {score!r}") from None
    with _open(url) as gb:
        try:
            grade = gb.find_grade(grade_id, notebook, assignment, student)
        except MissingEntry:
            raise KeyError(f"no grade {grade_id!r} in {notebook!r} of {assignment!r} for {student!r}") from None
        if not (math.isfinite(score) and 0.0 <= score <= float(grade.max_score)):
            raise ValueError(f"score {score} for {grade_id!r} is outside [0, {float(grade.max_score)}]")
        grade.manual_score = score
        grade.needs_manual_grade = False  # as the formgrader does once a score is saved
        if comment is not None:
            try:
                entry = gb.find_comment(grade_id, notebook, assignment, student)
            except MissingEntry:
                raise KeyError(f"{grade_id!r} takes no comment (not an answer or task cell)") from None
            entry.manual_comment = str(comment)
        gb.db.commit()
        return grade.to_dict()


def set_manual_scores(url, assignment, scores):
    """Record many scores in one gradebook session.

    `scores` maps (student, notebook, grade_id) to a score or to (score, comment).
    Validation is as in `set_manual_score`; nothing is committed if any entry is invalid.
    """
    from nbgrader.api import MissingEntry

    with _open(url) as gb:
        for (student, notebook, grade_id), value in sorted(scores.items()):
            score, comment = value if isinstance(value, tuple) else (value, None)
            try:
                score = float(score)
            except (TypeError, ValueError):
                gb.db.rollback()
                raise ValueError(f"score must be a number, not {score!r}") from None
            try:
                grade = gb.find_grade(grade_id, notebook, assignment, student)
                entry = gb.find_comment(grade_id, notebook, assignment, student) if comment is not None else None
            except MissingEntry:
                gb.db.rollback()
                raise KeyError(f"no grade/comment {grade_id!r} in {notebook!r} for {student!r}") from None
            if not (math.isfinite(score) and 0.0 <= score <= float(grade.max_score)):
                gb.db.rollback()
                raise ValueError(f"score {score} for {student}/{grade_id} is outside [0, {float(grade.max_score)}]")
            grade.manual_score = score
            grade.needs_manual_grade = False
            if entry is not None:
                entry.manual_comment = str(comment)
        gb.db.commit()


def manual_grade(url, assignment, student, notebook, grade_id):
    """(manual_score, max_score, manual_comment or None) as stored for one cell of one submission."""
    from nbgrader.api import MissingEntry

    with _open(url) as gb:
        try:
            grade = gb.find_grade(grade_id, notebook, assignment, student)
        except MissingEntry:
            raise KeyError(f"no grade {grade_id!r} in {notebook!r} of {assignment!r} for {student!r}") from None
        try:
            comment = gb.find_comment(grade_id, notebook, assignment, student).manual_comment
        except MissingEntry:
            comment = None
        return grade.manual_score, float(grade.max_score), comment
