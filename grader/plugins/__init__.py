"""nbgrader plugins, named in nbgrader_config.py: each one preprocessor, each one idea.

- `GradedExecute` (autograde): student code in the sandbox, hidden tests in the grader.
- `RepairingExporter`, `RepairCells` (autograde's reading and first sanitizing step):
  damaged submissions (cells pasted twice, metadata lost, other editors) made gradable.
- `RestoreCellMetadata` (autograde's sanitizing): edited nbgrader metadata put back.
- `SealFeedback` (generate_feedback): no hidden test, traceback or mark scheme in feedback.
- `MathAsMathML` (generate_feedback): formulas typeset without internet (MathML, no CDN).
"""


def __getattr__(name):  # nbgrader names these by path; import them only when it asks
    if name == "GradedExecute":
        from .execute import GradedExecute as found
    elif name in ("RepairingExporter", "RepairCells"):
        from . import repair
        found = getattr(repair, name)
    elif name == "RestoreCellMetadata":
        from .metadata import RestoreCellMetadata as found
    elif name == "MathAsMathML":
        from .mathml import MathAsMathML as found
    elif name == "SealFeedback":
        from .feedback import SealFeedback as found
    else:
        raise AttributeError(name)
    return found
