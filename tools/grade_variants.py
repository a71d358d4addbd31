"""Grade variants of the reference solution in a throw-away course, and compare with a baseline.

    python tools/grade_variants.py B_coding.ipynb                  # reference and blank
    python tools/grade_variants.py B_coding.ipynb --corpus         # + the audit corpora's entries
    python tools/grade_variants.py B_coding.ipynb --corpus --baseline tests/differential/scores_before.json
    python tools/grade_variants.py A_theory.ipynb --change a5_answer=path/to/code.py

For authors of hidden tests: every variant is one simulated student (the reference
with one solution cell replaced), graded by the real nbgrader pipeline of this
repository (`nbgrader autograde` with nbgrader_config.py). Prints each variant's
per-cell scores and hints; with --baseline, every cell whose score differs from
the recorded one (tests/differential/ holds the scores before the trust boundary).
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
ASSIGNMENT = "tutorial08"
MARKERS = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")
HINT_MIME = "application/vnd.course.hint+json"


def reference_answers(source_nb):
    return {c.metadata.nbgrader.grade_id: "\n".join(l for l in c.source.splitlines() if not MARKERS.match(l))
            for c in source_nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("solution")}


def submission(release_nb, answers):
    nb = nbformat.from_dict(release_nb)
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution") and meta.get("grade_id") in answers:
            cell.source = answers[meta["grade_id"]]
    return nb


def corpus_entries(notebook):
    sys.path.insert(0, str(REPO / "tools"))
    from audit_corpus import mistakes, right_answers
    entries = [("right", e[0], e[1], e[2], None) for e in right_answers.RIGHT_ANSWERS.get(notebook, [])]
    entries += [("mistake", e[0], e[1], e[2], e[3]) for e in mistakes.MISTAKES.get(notebook, [])]
    return entries


def outcomes(path):
    """{grade_id: (error message or '', [hint kinds])} of an autograded notebook's test cells."""
    found = {}
    for cell in nbformat.read(path, as_version=4).cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type != "code" or not meta.get("grade") or meta.get("solution"):
            continue
        errors = [f"{o.get('ename')}: {o.get('evalue')}" for o in cell.outputs if o.output_type == "error"]
        hints = [o.data[HINT_MIME]["kind"] for o in cell.outputs if HINT_MIME in o.get("data", {})]
        found[meta["grade_id"]] = (errors[0][:200] if errors else "", hints)
    return found


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook")
    parser.add_argument("--corpus", action="store_true")
    parser.add_argument("--baseline")
    parser.add_argument("--change", action="append", default=[], help="GRADE_ID=FILE: one more variant")
    parser.add_argument("--keep", action="store_true", help="keep the temporary course")
    options = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="variants-"))
    (root / "source" / ASSIGNMENT).mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", root)
    shutil.copy(REPO / "source" / ASSIGNMENT / options.notebook, root / "source" / ASSIGNMENT)
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    run = lambda *args: subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=root, env=env,
                                       capture_output=True, text=True)
    made = run("generate_assignment", ASSIGNMENT, "--force")
    if made.returncode:
        sys.exit(made.stdout + made.stderr)
    source = nbformat.read(root / "source" / ASSIGNMENT / options.notebook, as_version=4)
    release = nbformat.read(root / "release" / ASSIGNMENT / options.notebook, as_version=4)
    answers = reference_answers(source)
    variants = {"reference": ("reference", None, "reference", {}, None), "blank": ("blank", None, "blank", None, None)}
    if options.corpus:
        for k, (kind, cell, label, code, hint) in enumerate(corpus_entries(options.notebook)):
            variants[f"{kind}-{k:03d}"] = (kind, cell, label, {cell: code}, hint)
    for change in options.change:
        cell, path = change.split("=", 1)
        variants[f"change-{cell}"] = ("change", cell, path, {cell: Path(path).read_text()}, None)
    for student, (kind, cell, label, changes, hint) in variants.items():
        nb = release if changes is None else submission(release, {**answers, **changes})
        folder = root / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / options.notebook)
    graded = run("autograde", ASSIGNMENT, "--force")
    baseline = json.loads(Path(options.baseline).read_text()) if options.baseline else {}
    by_label = {(v.get("kind"), v.get("cell"), v.get("label")): v for v in baseline.values()}
    stem = Path(options.notebook).stem
    differences = 0
    for student, (kind, cell, label, changes, hint) in variants.items():
        path = root / "autograded" / student / ASSIGNMENT / options.notebook
        if not path.exists():
            print(f"{student:14s} {label}: NOT GRADED")
            differences += 1
            continue
        cells = outcomes(path)
        lost = {gid: out for gid, out in cells.items() if out[0]}
        print(f"{student:14s} {kind:8s} {cell or '':26s} {label[:50]}")
        for gid, (error, hints) in lost.items():
            print(f"    loses {gid}: {error[:110]} {hints}")
        if hint and not any(hint in hints for _, hints in cells.values()):
            print(f"    !! expected hint {hint} not shown")
            differences += 1
        old = by_label.get((kind, cell, label))
        if old:
            old_lost = {k.split("/", 1)[1] for k, v in old["cells"].items()
                        if k.startswith(stem + "/") and not k.endswith("_written") and v["score"] < v["max"]}
            if old_lost != set(lost):
                differences += 1
                print(f"    !! baseline lost {sorted(old_lost)}, now {sorted(lost)}")
    print(f"{len(variants)} variants, {differences} difference(s) from what was expected")
    if not options.keep:
        shutil.rmtree(root, ignore_errors=True)
    else:
        print("course kept in", root)
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
