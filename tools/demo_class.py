"""The simulated class of `make demo`: who submits what, and how the graders mark free text.

Each student starts from the reference solution (read from source/ at run time)
and changes a few solution cells in the way a real student might get them
wrong. A change is a text substitution in one solution cell, so the demo keeps
working when a reference answer is reworded elsewhere — and fails loudly when
the text it expects is gone.
"""
from pathlib import Path

import nbformat

from grader.authoring import damage, submissions
from grader.reports import manual_grading

# student: {notebook: {grade_id of a solution cell: [(text in the reference, replacement)]}}
MISTAKES = {
    "demo-ada": {},  # the reference solution
    "demo-chen": {
        "A_theory": {
            "a1_derivative_answer": [(" * (2*x + 3)", "")],              # forgot the inner derivative
            "a2_gradients_answer": [("dL_dw = 2 * ", "dL_dw = ")],        # lost the factor 2
        },
        "B_coding": {
            "b2_backward_answer": [("dW2 = dz2 @ a1.T / m", "dW2 = dz2 @ a1.T")],  # missing 1/m
        },
        "C_conceptual": {
            "c4_kl_answer": [("np.log(p[mask] / q[mask])", "np.log(q[mask] / p[mask])")],
        },
    },
    "demo-dana": {
        "A_theory": {
            "a6_answer": [("** (L - 1)", "** L")],                         # one layer too many
        },
        "B_coding": {
            "b4_tensor_answer": [("self.grad +=", "self.grad ="), ("other.grad +=", "other.grad =")],
        },
        "C_conceptual": {
            "c2_batch_normalize_answer": [("axis=1", "axis=0")],          # normalised over features
        },
    },
}
BLANK = "demo-ben"               # hands in the release untouched
BROKEN = "demo-eli"              # one notebook is not valid JSON (a bad save)
PARTIAL = "demo-finn"            # hands in Part A only
DAMAGED = "demo-gus"             # right answers, damaged notebooks: repaired, then full marks like demo-ada


def _apply(answer, substitutions, where):
    for old, new in substitutions:
        if old not in answer:
            raise ValueError(f"demo_class: {where} no longer contains {old!r}")
        answer = answer.replace(old, new)
    return answer


def _student_notebooks(release, source, changes):
    notebooks = {}
    for path in sorted(Path(release).glob("*.ipynb")):
        released, reference = submissions.read(path), submissions.read(Path(source) / path.name)
        answers = submissions.reference_answers(reference)
        edits = {gid: _apply(answers[gid], subs, f"{path.stem}/{gid}")
                 for gid, subs in changes.get(path.stem, {}).items()}
        notebooks[path.name] = submissions.reference(released, reference, edits)
    return notebooks


def build(release, source):
    """{student: {file name: notebook or raw bytes}} for the whole simulated class."""
    students = {name: _student_notebooks(release, source, changes) for name, changes in MISTAKES.items()}
    students[BLANK] = {p.name: submissions.read(p) for p in sorted(Path(release).glob("*.ipynb"))}
    broken = _student_notebooks(release, source, {})
    first = sorted(broken)[0]
    broken[first] = nbformat.writes(broken[first])[:500].encode()  # cut off mid-file
    students[BROKEN] = broken
    partial = _student_notebooks(release, source, {})
    students[PARTIAL] = {name: nb for name, nb in partial.items() if name.startswith("A_")}
    students[DAMAGED] = _damaged(_student_notebooks(release, source, {}))
    return students


def _damaged(notebooks):
    """Part A copied cell by cell into a new notebook, a test cell of B pasted twice, C saved by Colab."""
    damaged = dict(notebooks)
    damaged["A_theory.ipynb"] = damage.into_new_notebook(notebooks["A_theory.ipynb"])
    damaged["B_coding.ipynb"] = damage.paste_twice(notebooks["B_coding.ipynb"], "b1_sigmoid")
    damaged["C_conceptual.ipynb"] = damage.as_colab(notebooks["C_conceptual.ipynb"])
    return damaged


def grade_free_text(course_root, assignment):
    """The simulated graders: full marks for the reference student, half marks for the others."""
    url = manual_grading.db_url(course_root)
    maxima = {(nb, gid): top for nb, cells in manual_grading.manual_cells(url, assignment).items()
              for gid, top in cells.items()}
    scores = {}
    for student, notebook, grade_id in manual_grading.needs_manual_grading(url, assignment):
        if (notebook, grade_id) not in maxima:
            continue  # an autograded cell of a submission that could not be run: not for a person
        top = maxima[(notebook, grade_id)]
        score = top if student == "demo-ada" else round(top / 2)
        scores[(student, notebook, grade_id)] = (score, "simulated grader: demo mark")
    manual_grading.set_manual_scores(url, assignment, scores)
    print(f"  {len(scores)} free-text answers marked")
