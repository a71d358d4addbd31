"""Self-check for students: run a notebook and say which tests fail (exit 1 if any).

`nbgrader validate` prints failures but exits 0 (nbgrader issue #1908), which
makes it useless in scripts; this runs the notebook the same way and exits
non-zero when a test cell fails or a solution cell is still unanswered.

    python -m course.validate A_theory.ipynb
"""
import argparse
import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def nbgrader_meta(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def first_error(cell):
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return f"{output.get('ename')}: {output.get('evalue')}"
        if output.get("output_type") == "stream" and output.get("name") == "stderr":
            return "wrote to stderr (the grader scores such a cell zero): " + output.get("text", "")[:200]
    return None


def run(path, timeout=120):
    nb = nbformat.read(path, as_version=4)
    os.environ["NBGRADER_EXECUTION"] = "validate"
    client = NotebookClient(nb, timeout=timeout, allow_errors=True,
                            resources={"metadata": {"path": str(Path(path).parent)}})
    client.execute()
    return nb


def problems(nb):
    """[(grade_id, what went wrong)] for unanswered solutions and failing tests."""
    found = []
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        error = first_error(cell) if cell.cell_type == "code" else None
        if not error:
            continue
        if meta.get("solution") and "NotImplementedError" in error:
            found.append((meta.get("grade_id"), "not answered yet"))
        elif meta.get("grade") or meta.get("solution"):
            found.append((meta.get("grade_id"), error))
        else:
            found.append((meta.get("grade_id", "cell"), error))
    return found


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+")
    args = parser.parse_args(argv)
    failed = 0
    for path in args.notebooks:
        found = problems(run(path))
        if found:
            failed += 1
            print(f"{path}: {len(found)} problem(s)")
            for grade_id, what in found:
                print(f"  - {grade_id}: {what.splitlines()[0] if what else what}")
        else:
            print(f"{path}: every visible test passes")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
