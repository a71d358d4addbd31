"""nbgrader settings for Tutorial 08. The course directory is the folder of this file."""
import os

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)
here = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.course_id = "backprop"
c.CourseDirectory.root = here
# The SQLite gradebook by default; a PostgreSQL URL here lets several graders share one.
c.CourseDirectory.db_url = os.environ.get("NBGRADER_DB_URL", "sqlite:///" + os.path.join(here, "gradebook.db"))

# A local exchange, so release/submit/collect work without /srv and without root.
c.Exchange.root = os.environ.get("NBGRADER_EXCHANGE", os.path.join(here, "exchange"))

# A student who deletes a test cell gets it back (and its hidden tests with it).
c.OverwriteCells.add_missing_cells = True

# One hanging cell costs this much; functions called by several cells cost it each time.
c.Execute.timeout = 30
c.Execute.interrupt_on_timeout = True

# Student code runs in the sandboxed kernel, hidden tests in the grader (grader/plugins/execute.py,
# docs/sandbox.md). nbgrader's default list with Execute swapped (a test checks it stays in step).
c.Autograde.autograde_preprocessors = [
    "grader.plugins.GradedExecute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
# Submissions as students really hand them in (grader/repair, README "Damaged submissions"): the
# file read in any encoding or nbformat, or refused with a plain reason; then its cells aligned with
# the release notebook (pasted twice, metadata lost, type changed, missing), every repair recorded.
c.Autograde.exporter_class = "grader.plugins.RepairingExporter"
# A test cell whose nbgrader metadata a student edited (turned into a solution cell, say) gets
# that metadata back before nbgrader's OverwriteCells, which would otherwise fail the submission.
c.Autograde.sanitize_preprocessors = [
    "grader.plugins.RepairCells",
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.DeduplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "grader.plugins.RestoreCellMetadata",
    "nbgrader.preprocessors.OverwriteCells",
    "nbgrader.preprocessors.CheckCellMetadata",
]
# Feedback is sealed (grader/plugins/feedback.py): no hidden test, traceback or mark scheme reaches a student.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "grader.plugins.SealFeedback",
    "grader.plugins.MathAsMathML",  # formulas readable offline: MathML instead of MathJax from a CDN
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]

# LMS downloads: "<anything>/<student_id>_<anything>_<file>.ipynb" (documented in README).
c.ZipCollectApp.collector_plugin = "nbgrader.plugins.FileNameCollectorPlugin"
c.FileNameCollectorPlugin.named_regexp = r".*/(?P<student_id>[A-Za-z0-9.\-]+)_[^/]*?(?P<file_id>[ABC]_[a-z]+\.ipynb)$"

# Part C's mark schemes sit in locked prompt cells between "=== BEGIN/END MARK SCHEME ===": the
# release drops them and autograde restores them from the gradebook, so graders see each one in
# the formgrader just above the student's free-text answer. (nbgrader would otherwise accept mark
# schemes only in "task" cells; tests/test_part_c.py checks that none is lost or leaked.)
c.ClearMarkScheme.enforce_metadata = False
