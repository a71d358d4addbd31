"""`make report`: the instructor's report of an assignment, one self-contained HTML file.

    python -m grader.reports.report tutorial08        (run from the course root)

writes `reports/<assignment>.html`: the score distributions (assignment and
each part), the mean score and share of full marks per question, the
misconceptions the hints detected (per exercise and kind), the submissions that
failed or were flagged (with the reason) and the manual grading still to do.
Figures are matplotlib PNGs embedded as base64, so the file can be mailed.

`compute()` returns every figure the report shows, so tests can check them.

Statistics are over the students whose submission was graded (status graded,
flagged or needs manual grading); failed and missing submissions are listed,
not counted as zeros. A cell waiting for a grader counts in no mean until it
is graded.

Misconceptions come from the hint records (`course.hints.HINT_MIME`) in the
autograded notebooks, read only from autograded test cells that the gradebook
knows: those outputs are produced by the instructor's restored tests, so a
student cannot forge them from a solution cell. A record counts only in a cell
that lost points; a misconception is counted once per student (however many
times its hint fired).
"""
import argparse
import base64
import html
import io
import sys
from dataclasses import dataclass, field
from pathlib import Path

from . import grades as grades_module
from .grades import FAILED, FLAGGED, MISSING, exercise_of
from course.hints import HINT_MIME, KINDS
from grader.paths import Course

REPORTS_DIR = "reports"
FULL_MARKS_TOLERANCE = 1e-9


@dataclass
class Report:
    assignment: str
    grades: object                    # grader.reports.grades.Grades
    counted: list                     # students in the statistics
    totals: dict                      # {student: total score}
    part_totals: dict                 # {part: {student: score}}
    questions: list                   # [{notebook, grade_id, exercise, max, n, mean, full_share, pending}]
    hints: list                       # [{student, notebook, grade_id, exercise, check, kind}]
    misconceptions: dict              # {(exercise, kind): number of students}
    by_kind: dict                     # {kind: number of students}
    problems: list                    # [{student, status, reason, notebooks}] failed, then flagged
    repaired: list                    # [{student, repairs}] damaged submissions repaired before grading
    manual: list                      # [{student, notebook, grade_id}] cells awaiting a grader
    status_counts: dict = field(default_factory=dict)
    ignored_hints: list = field(default_factory=list)  # records in cells that earned full marks

    @property
    def failed(self):
        return [p["student"] for p in self.problems if p["status"] == FAILED]

    @property
    def flagged(self):
        return [p["student"] for p in self.problems if p["status"] == FLAGGED]


# ---------------------------------------------------------------- hint records

def hint_records(notebook, known_cells):
    """[(grade_id, check, kind)] from the autograded test cells of one notebook.

    `known_cells` is the set of grade_ids of the notebook's autograded test
    cells in the gradebook; cells the student wrote (solution cells, or cells
    they added with grade metadata) are ignored.
    """
    found = []
    for cell in notebook.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        grade_id = meta.get("grade_id")
        if cell.get("cell_type") != "code" or not meta.get("grade") or meta.get("solution"):
            continue
        if grade_id not in known_cells:
            continue
        for output in cell.get("outputs", []):
            data = output.get("data", {}).get(HINT_MIME) if output.get("output_type") == "display_data" else None
            if isinstance(data, dict) and isinstance(data.get("kind"), str):
                found.append((grade_id, str(data.get("check", "")), data["kind"]))
    return found


def read_hints(course_root, assignment, grades):
    """The fired hints of the graded submissions, one dict per record: (counted, ignored).

    A record counts only where the cell lost points: a hint recorded in a cell
    that earned full marks detected nothing (a test that builds its hint
    message eagerly records it even when the check passes), so it is returned
    in `ignored` for the report to mention instead.
    """
    import nbformat

    known = {}
    for q in grades.questions:
        if q.cell_type == "code":
            known.setdefault(q.notebook, set()).add(q.grade_id)
    score = {(r["student"], r["notebook"], r["grade_id"]): (r["score"], r["max"]) for r in grades.rows}
    hints, ignored = [], []
    for row in grades.students:
        student = row["student"]
        if row["status"] in (FAILED, MISSING):
            continue
        folder = Course(course_root).autograded(student, assignment)
        for part in grades.parts:
            path = folder / f"{part}.ipynb"
            if not path.exists():
                continue
            try:
                notebook = nbformat.read(str(path), as_version=4)
            except Exception:
                continue
            for grade_id, check, kind in hint_records(notebook, known.get(part, set())):
                hint = {"student": student, "notebook": part, "grade_id": grade_id,
                        "exercise": exercise_of(grade_id), "check": check, "kind": kind}
                got, best = score.get((student, part, grade_id), (None, None))
                lost_points = got is not None and got < best - FULL_MARKS_TOLERANCE
                (hints if lost_points else ignored).append(hint)
    return hints, ignored


# ---------------------------------------------------------------- the figures

def compute(course_root, assignment):
    """Everything the report shows, as plain data."""
    grades = grades_module.collect(course_root, assignment)
    counted = [row["student"] for row in grades.students if row["status"] not in (FAILED, MISSING)]
    counted_set = set(counted)
    by_student = {row["student"]: row for row in grades.students}
    totals = {s: by_student[s]["total"] for s in counted}
    part_totals = {part: {s: by_student[s][part] for s in counted} for part in grades.parts}

    questions = []
    for q in grades.questions:
        rows = [r for r in grades.rows if r["grade_id"] == q.grade_id and r["notebook"] == q.notebook
                and r["student"] in counted_set]
        scored = [r["score"] for r in rows if r["score"] is not None and r["status"] != grades_module.MANUAL]
        n = len(scored)
        questions.append({
            "notebook": q.notebook, "grade_id": q.grade_id, "exercise": q.exercise, "max": q.max_score,
            "n": n, "mean": sum(scored) / n if n else None,
            "full_share": sum(s >= q.max_score - FULL_MARKS_TOLERANCE for s in scored) / n if n else None,
            "pending": sum(r["status"] == grades_module.MANUAL for r in rows),
        })

    hints, ignored_hints = read_hints(course_root, assignment, grades)
    students_per = {}
    students_per_kind = {}
    for h in hints:
        students_per.setdefault((h["exercise"], h["kind"]), set()).add(h["student"])
        students_per_kind.setdefault(h["kind"], set()).add(h["student"])
    misconceptions = {key: len(students_per[key]) for key in sorted(students_per)}
    by_kind = dict(sorted(((k, len(v)) for k, v in students_per_kind.items()), key=lambda kv: (-kv[1], kv[0])))

    problems = []
    for state in (FAILED, FLAGGED):
        for row in grades.students:
            if row["status"] == state:
                record = grades.records.get(row["student"]) or {}
                problems.append({"student": row["student"], "status": state, "reason": row["reason"],
                                 "notebooks": list(record.get("notebooks") or []) if state == FAILED else []})

    repaired = [{"student": student, "repairs": list(record.get("repairs"))}
                for student, record in sorted(grades.records.items()) if record and record.get("repairs")]
    manual = [{"student": r["student"], "notebook": r["notebook"], "grade_id": r["grade_id"]}
              for r in grades.rows if r["status"] == grades_module.MANUAL]
    status_counts = {}
    for row in grades.students:
        status_counts[row["status"]] = status_counts.get(row["status"], 0) + 1
    return Report(assignment, grades, counted, totals, part_totals, questions, hints,
                  misconceptions, by_kind, problems, repaired, manual, status_counts, ignored_hints)


# ---------------------------------------------------------------- plotting

def _png(figure):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _histogram(axes, values, maximum, title):
    import numpy as np

    values = [v for v in values if v is not None]
    top = maximum if maximum and maximum > 0 else max(values + [1.0])
    bins = np.linspace(0, top, min(int(np.ceil(top)), 20) + 1) if top >= 1 else np.linspace(0, top, 11)
    axes.hist(values, bins=bins, color="#4c78a8", edgecolor="white")
    axes.set_xlim(0, top)
    axes.set_title(title, fontsize=10)
    axes.set_xlabel("score")
    axes.set_ylabel("students")
    axes.yaxis.get_major_locator().set_params(integer=True)
    if values:
        mean = sum(values) / len(values)
        axes.axvline(mean, color="#e45756", linestyle="--", label=f"mean {mean:.2f}")
        axes.legend(fontsize=7, loc="best", framealpha=0.8)


def distribution_figure(report):
    from matplotlib.figure import Figure

    grades = report.grades
    panels = [("assignment", list(report.totals.values()), grades.max_score)]
    panels += [(part, list(report.part_totals[part].values()), grades.part_max[part]) for part in grades.parts]
    columns = min(len(panels), 2)
    rows = (len(panels) + columns - 1) // columns
    figure = Figure(figsize=(5.0 * columns, 3.0 * rows), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for ax, (title, values, maximum) in zip(axes, panels):
        _histogram(ax, values, maximum, f"{title} (max {maximum:g})")
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    return _png(figure)


def questions_figure(report):
    from matplotlib.figure import Figure

    items = [q for q in report.questions if q["n"]]
    if not items:
        return None
    labels = [f"{q['notebook']} · {q['grade_id']}" for q in items]
    figure = Figure(figsize=(8, 0.32 * len(items) + 1.2), layout="constrained")
    ax = figure.subplots()
    positions = range(len(items))
    ax.barh([p + 0.2 for p in positions], [q["mean"] / q["max"] if q["max"] else 0 for q in items],
            height=0.4, color="#4c78a8", label="mean score / max")
    ax.barh([p - 0.2 for p in positions], [q["full_share"] for q in items],
            height=0.4, color="#72b7b2", label="share with full marks")
    ax.set_yticks(list(positions), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("fraction")
    ax.legend(fontsize=8, loc="lower right")
    return _png(figure)


def misconceptions_figure(report):
    from matplotlib.figure import Figure

    if not report.misconceptions:
        return None
    keys = list(report.misconceptions)
    exercises = sorted({exercise for exercise, _ in keys})
    palette = ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#eeca3b", "#b279a2", "#ff9da6", "#9d755d"]
    colour = {ex: palette[i % len(palette)] for i, ex in enumerate(exercises)}
    figure = Figure(figsize=(8, 0.3 * len(keys) + 1.2), layout="constrained")
    ax = figure.subplots()
    ax.barh(range(len(keys)), [report.misconceptions[k] for k in keys],
            color=[colour[ex] for ex, _ in keys])
    ax.set_yticks(range(len(keys)), [f"{ex} · {kind}" for ex, kind in keys], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("students")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_title("misconceptions detected by the hints (per exercise and kind)", fontsize=10)
    return _png(figure)


# ---------------------------------------------------------------- HTML

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 60em;
       color: #222; line-height: 1.4; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; border-bottom: 1px solid #ddd; padding-bottom: .2em; margin-top: 2em; }
table { border-collapse: collapse; margin: .5em 0; font-size: .92em; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; } .muted { color: #777; }
.failed { color: #b00020; font-weight: 600; } .flagged { color: #a15c00; font-weight: 600; }
"""


def _e(value):
    return html.escape(str(value), quote=True)


def _num(value, digits=2):
    return "–" if value is None else f"{value:.{digits}f}"


def _img(data, alt):
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{data}">' if data else ""


def _table(headers, rows, numeric=()):
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="num">{_e(v)}</td>' if i in numeric else f"<td>{v}</td>" for i, v in enumerate(row))
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def render(report):
    """The report as one HTML string (images embedded)."""
    g = report.grades
    out = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
           f"<title>Report: {_e(report.assignment)}</title><style>{CSS}</style></head><body>"]
    out.append(f"<h1>Instructor's report: {_e(report.assignment)}</h1>")
    counts = ", ".join(f"{n} {_e(state)}" for state, n in sorted(report.status_counts.items()))
    out.append(f"<p>{len(g.students)} students ({counts or 'none'}). Statistics cover the "
               f"{len(report.counted)} graded submissions; failed and missing ones are listed below, "
               f"not counted as zeros. Maximum score {g.max_score:g}.</p>")

    out.append("<h2>Score distribution</h2>")
    if report.counted:
        out.append(_img(distribution_figure(report), "histograms of the scores"))
        totals = [t for t in report.totals.values() if t is not None]
        if totals:
            out.append(f"<p>Assignment mean {sum(totals) / len(totals):.2f} / {g.max_score:g} "
                       f"over {len(totals)} students.</p>")
        if report.manual:
            out.append("<p class='muted'>Scores are provisional while manual grading is outstanding "
                       "(ungraded cells count 0 in the totals).</p>")
    else:
        out.append("<p class='muted'>No graded submission yet.</p>")

    out.append("<h2>Per question</h2>")
    out.append(_img(questions_figure(report), "mean score and full-mark share per question"))
    out.append(_table(
        ["part", "question", "exercise", "max", "graded", "mean", "full marks", "awaiting grader"],
        [[_e(q["notebook"]), _e(q["grade_id"]), _e(q["exercise"]), f"{q['max']:g}", q["n"],
          _num(q["mean"]), "–" if q["full_share"] is None else f"{100 * q['full_share']:.0f}%", q["pending"]]
         for q in report.questions],
        numeric={3, 4, 5, 6, 7}))

    out.append("<h2>Misconceptions detected</h2>")
    if report.misconceptions:
        out.append(f"<p>Number of students for whom a hint fired ({len(report.hints)} hint records "
                   f"in all). A hint names the kind of mistake the student's answer matches.</p>")
        out.append(_img(misconceptions_figure(report), "misconceptions per exercise and kind"))
        out.append(_table(
            ["exercise", "kind", "students", "what the student was told"],
            [[_e(ex), f"<code>{_e(kind)}</code>", n, _e(KINDS.get(kind, ""))]
             for (ex, kind), n in report.misconceptions.items()],
            numeric={2}))
        out.append("<p>Per kind, all exercises together:</p>")
        out.append(_table(["kind", "students"],
                          [[f"<code>{_e(k)}</code>", n] for k, n in report.by_kind.items()], numeric={1}))
    else:
        out.append("<p class='muted'>No hint fired.</p>")
    if report.ignored_hints:
        cells = sorted({(h["notebook"], h["grade_id"]) for h in report.ignored_hints})
        out.append(f"<p class='muted'>{len(report.ignored_hints)} hint records in cells that earned full marks "
                   f"were not counted (a test that records its hint even when the check passes?): "
                   f"{_e(', '.join(f'{nb}/{gid}' for nb, gid in cells))}.</p>")

    out.append("<h2>Failed and flagged submissions</h2>")
    if report.problems:
        out.append(_table(
            ["student", "status", "reason", "notebooks"],
            [[_e(p["student"]), f"<span class='{_e(p['status'])}'>{_e(p['status'])}</span>", _e(p["reason"]),
              _e(", ".join(p["notebooks"]))] for p in report.problems]))
    else:
        out.append("<p class='muted'>Every submission was graded; none is flagged.</p>")

    out.append("<h2>Damaged submissions repaired before grading</h2>")
    if report.repaired:
        out.append("<p>Cells pasted twice, metadata lost, another editor's format: each notebook was repaired "
                   "and graded; the TA sees the same note at the top of it in the formgrader.</p>")
        out.append(_table(["student", "what was repaired"],
                          [[_e(r["student"]), "<br>".join(_e(item) for item in r["repairs"])] for r in report.repaired]))
    else:
        out.append("<p class='muted'>No submission needed a repair.</p>")

    out.append("<h2>Manual grading outstanding</h2>")
    if report.manual:
        per_question = {}
        for m in report.manual:
            per_question.setdefault((m["notebook"], m["grade_id"]), []).append(m["student"])
        out.append(f"<p>{len(report.manual)} cells in {len({m['student'] for m in report.manual})} "
                   f"submissions await a grader (Formgrader → Manual Grading).</p>")
        out.append(_table(["part", "question", "cells", "students"],
                          [[_e(nb), _e(gid), len(st), _e(", ".join(st))]
                           for (nb, gid), st in per_question.items()], numeric={2}))
    else:
        out.append("<p class='muted'>Nothing left to grade by hand.</p>")

    out.append(f"<p class='muted'>Grades per student: <code>make grades</code> "
               f"(grades/{_e(report.assignment)}_students.csv).</p></body></html>")
    return "\n".join(out)


def write(course_root, assignment, out=None):
    report = compute(course_root, assignment)
    path = Path(out) if out else Path(course_root) / REPORTS_DIR / f"{assignment}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(report), encoding="utf-8")
    return path, report


def main(argv=None):
    parser = argparse.ArgumentParser(description="Write the instructor's report of an assignment.")
    parser.add_argument("assignment", nargs="?", default="tutorial08")
    parser.add_argument("--course-root", default=".", help="the course directory (default: here)")
    parser.add_argument("--out", default=None, help="output file (default: reports/<assignment>.html)")
    args = parser.parse_args(argv)
    path, report = write(args.course_root, args.assignment, args.out)
    print(f"report: {path.resolve()}")
    print(f"  {len(report.grades.students)} students, {len(report.failed)} failed, {len(report.flagged)} flagged, "
          f"{len(report.manual)} cells awaiting manual grading, {len(report.hints)} hint records")
    return 0


if __name__ == "__main__":
    sys.exit(main())
