"""Scores as nbgrader's gradebook holds them (its own API, its URL from nbgrader_config.py)."""
from grader.paths import Course


def scores(course_root, assignment) -> dict:
    """{student: {notebook: {grade_id: (score, max_score)}}}."""
    from nbgrader.api import Gradebook
    table = {}
    with Gradebook(Course(course_root).db_url) as gb:
        for submission in gb.assignment_submissions(assignment):
            notebooks = table.setdefault(submission.student_id, {})
            for nb in submission.notebooks:
                notebooks[nb.name] = {g.name: (g.score, g.max_score) for g in nb.grades}
    return table
