"""How scores_before.json was made: per-cell scores and hint kinds of the demo class and the
audit corpora, graded by the grader as it was before the trust boundary (commit 9670bcf,
where `course` was still one package with `course.grading`). It cannot run against the
current tree; it is kept so the recorded figures can be reproduced from that commit:

    git worktree add /tmp/before 9670bcf && cd /tmp/before && make venv
    .venv/bin/python <this file> scores_before.json      (REPO below: the worktree)
"""
import json, sys, tempfile, time
from pathlib import Path
REPO = Path("/work/main")
sys.path.insert(0, str(REPO)); sys.path.insert(0, str(REPO / "tools"))
from course import grading, submissions
from course.hints import HINT_MIME
import grader_audit as ga
import demo_class

A = "tutorial08"
root = Path(tempfile.mkdtemp(prefix="baseline-"))
names = ["A_theory.ipynb", "B_coding.ipynb", "C_conceptual.ipynb"]
course = ga.AuditCourse(root, ga.SOURCE, names, None)
rights, mistakes = ga.load_corpora()
students = {}   # student -> description
k = 0
for kind, corpus in (("right", rights), ("mistake", mistakes)):
    for nb, entries in corpus.items():
        for e in entries:
            k += 1
            s = f"{kind}-{k:04d}"
            submissions.write(root, s, A, {nb: course.submission(nb, {e[0]: e[2]})})
            students[s] = {"kind": kind, "notebook": nb, "cell": e[0], "label": e[1]}
for s, files in demo_class.build(root / "release" / A, root / "source" / A).items():
    submissions.write(root, s, A, files)
    students[s] = {"kind": "demo"}
t = time.time()
records = grading.autograde(root, A, students=sorted(students), force=True, jobs=2, progress=False)
print("graded in", time.time() - t, file=sys.stderr)
scores = grading.scores(root, A)
out = {}
for s, desc in students.items():
    cells = {}
    for nb in names:
        p = root / "autograded" / s / A / nb
        table = scores.get(s, {}).get(Path(nb).stem, {})
        hints = {}
        if p.exists():
            for cell in submissions.read(p).cells:
                gid = submissions.grade_id(cell)
                for o in cell.get("outputs", []):
                    d = o.get("data", {})
                    if HINT_MIME in d:
                        r = d[HINT_MIME]
                        r = json.loads(r) if isinstance(r, str) else r
                        hints.setdefault(gid, []).append(r.get("kind"))
        for gid, (sc, mx) in table.items():
            if p.exists():
                cells[f"{Path(nb).stem}/{gid}"] = {"score": sc, "max": mx, "hints": sorted(hints.get(gid, []))}
    out[s] = {**desc, "status": records[s]["status"], "cells": cells}
Path(sys.argv[1]).write_text(json.dumps(out, indent=1, sort_keys=True))
print(root, file=sys.stderr)
