"""Submissions as they really arrive, made gradable before nbgrader sees them.

- `files.py`: the bytes of a submitted file to a notebook (any encoding, nbformat 3
  or 4, cells a broken tool saved oddly), or a reason in plain words why it is not one.
- `align.py`: the submitted cells matched to the release notebook's cells (by
  grade_id, cell id, the text of locked cells, order), and what was repaired.
- `record.py`: every repair, for the instructor (status files, summary, report) and
  for the TA (a note at the top of the autograded notebook).

Nothing here runs student code; a repair never invents an answer.
"""
