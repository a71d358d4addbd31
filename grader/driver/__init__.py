"""Grading a class: `python -m grader.driver.autograde` (the CLI), its worker pool, the status records."""
