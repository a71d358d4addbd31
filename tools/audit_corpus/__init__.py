"""Curated answers for the grader audit (`tools/grader_audit.py`).

`right_answers.RIGHT_ANSWERS` and `mistakes.MISTAKES` map a source notebook's
file name to a list of entries, each replacing ONE solution cell (by its
grade_id) of the reference solution:

    RIGHT_ANSWERS = {notebook: [(grade_id, label, code), ...]}
    MISTAKES      = {notebook: [(grade_id, label, code, expected hint kind), ...]}

A right answer must keep full marks on every test cell; a mistake must lose
points in a test cell its cell reaches AND show its hint kind there (the
`course.hints.HINT_MIME` record). These are test data, not course material:
wrong answers may live here, never in `course/`.
"""
