"""Damaged submissions are repaired and graded, never failed for their form (grader/repair).

The corpus is built from the reference answers (grader/authoring/damage.py): each kind
of damage students and editors cause, some combinations, and files that are not
notebooks at all. A repaired notebook must score exactly what the same answers score
undamaged, cell by cell, with the repair recorded; an ambiguous one goes to manual
review; a file that is not a notebook fails alone, with a reason in plain words.
"""
import json
import random

import nbformat
import pytest

from grader.authoring import damage, submissions
from grader.driver import records, review
from grader.paths import Course as Paths
from grader.repair import align, files, record
from tests.conftest import ASSIGNMENT, RELEASE, SOURCE


def reference(name):
    release = submissions.read(RELEASE / name)
    return release, submissions.reference(release, submissions.read(SOURCE / name))


def answers(nb, release):
    """{grade_id: (type, text)} of the answer cells, as compared by the repair."""
    wanted = {align.grade_id(c) for c in release.cells if align.is_answer(c)}
    found = {}
    for cell in nb.cells:
        name = align.grade_id(cell)
        if name in wanted:
            assert name not in found, f"{name} is in the repaired notebook twice"
            found[name] = (cell.cell_type, align.normal(cell.source))
    return found


def repaired(damaged, release):
    """(notebook, repairs, review) as the grader makes them, from a notebook or a file's bytes."""
    notebook, read = files.read_bytes(damaged) if isinstance(damaged, bytes) else (nbformat.from_dict(damaged), [])
    fixed, repairs, to_review = align.repair(notebook, release)
    return fixed, read + repairs, to_review


def stub(release, name):
    return next(c.source for c in release.cells if align.grade_id(c) == name)


# ---- the alignment, notebook by notebook (no grading: fast)


def a_corpus():
    release, ref = reference("A_theory.ipynb")
    tests_only = [align.grade_id(c) for c in release.cells if align.grade_id(c) and not align.is_answer(c)]
    return release, ref, {
        "test cell pasted twice": damage.paste_twice(ref, "a1_df_dx"),
        "answer cell pasted twice": damage.paste_twice(ref, "a2_gradients_answer"),
        "answer pasted, the empty copy below": damage.paste_twice(
            ref, "a2_gradients_answer", copy_source=stub(release, "a2_gradients_answer")),
        "answer pasted, the empty copy above": damage.paste_twice(
            ref, "a3_jacobian_answer", copy_source=stub(release, "a3_jacobian_answer"), below=False),
        "metadata lost, ids kept": damage.without_metadata(ref),
        "copied into a new notebook": damage.into_new_notebook(ref),
        "answers and prompts copied, no test cells": damage.into_new_notebook(ref, skip=tests_only),
        "answer cell turned into markdown": damage.retype(ref, "a3_jacobian_answer"),
        "new notebook with a test cell pasted twice": damage.into_new_notebook(damage.paste_twice(ref, "a1_df_dx")),
        "one answer's metadata lost and another pasted twice": damage.paste_twice(
            damage.without_metadata(ref, names=["a4_grad_answer"]), "a5_answer"),
        "nbformat 3": damage.as_nbformat3(ref),
        "classic Notebook 6": damage.as_classic_notebook(ref),
        "VS Code": damage.as_vscode(ref),
        "Colab": damage.as_colab(ref),
        "Colab, nbgrader metadata dropped": damage.as_colab(ref, keep_nbgrader=False),
        "UTF-16": damage.as_encoding(ref, "utf-16"),
        "UTF-8 with a byte-order mark": damage.as_encoding(ref, "utf-8-sig"),
    }


A_RELEASE, A_REF, A_CORPUS = a_corpus()


@pytest.mark.parametrize("kind", sorted(A_CORPUS))
def test_a_damaged_notebook_gets_its_answers_back_where_they_belong(kind):
    fixed, repairs, to_review = repaired(A_CORPUS[kind], A_RELEASE)
    assert answers(fixed, A_RELEASE) == answers(A_REF, A_RELEASE)
    assert to_review == []
    every = [align.grade_id(c) for c in A_RELEASE.cells if align.grade_id(c)]
    assert [align.grade_id(c) for c in fixed.cells if align.grade_id(c)] == every, "each cell once, in order"
    nbformat.validate(fixed)


def test_what_was_repaired_is_said_and_summed_up():
    _, repairs, _ = repaired(A_CORPUS["copied into a new notebook"], A_RELEASE)
    assert any(r.startswith("13 answer cell(s) without their nbgrader metadata were found by their place")
               for r in repairs), repairs
    assert "27 read-only or test cell(s) without their nbgrader metadata were found by their text and given it back" \
        in repairs
    assert len(repairs) == 2, "a summary per kind of repair, not a line per cell"
    _, repairs, _ = repaired(A_CORPUS["test cell pasted twice"], A_RELEASE)
    assert repairs == ["cell a1_df_dx was there 2 times: cell #10 keeps its place; 1 identical copy removed"]
    _, repairs, _ = repaired(A_CORPUS["UTF-16"], A_RELEASE)
    assert repairs == ["the file was saved as UTF-16; read as such"]
    assert repaired(A_REF, A_RELEASE)[1:] == ([], []), "an undamaged notebook is left as it is"


@pytest.mark.parametrize("name", ["B_coding.ipynb", "C_conceptual.ipynb"])
def test_b_and_c_copied_into_a_new_notebook(name):
    release, ref = reference(name)
    for damaged in (damage.into_new_notebook(ref), damage.without_metadata(ref, keep_ids=False)):
        fixed, _, to_review = repaired(damaged, release)
        assert answers(fixed, release) == answers(ref, release) and to_review == []


def test_a_written_answer_turned_into_code_is_markdown_again():
    release, ref = reference("C_conceptual.ipynb")
    fixed, repairs, _ = repaired(damage.retype(ref, "c2_written", "code"), release)
    assert answers(fixed, release) == answers(ref, release)
    assert repairs == ["cell c2_written was turned into a code cell: its type (markdown) is restored"]


def test_two_different_pasted_answers_keep_the_last_and_ask_for_a_look():
    damaged = damage.paste_twice(A_REF, "a2_gradients_answer", copy_source="dL_dw = 0  # first try", below=False)
    fixed, _, to_review = repaired(damaged, A_RELEASE)
    assert answers(fixed, A_RELEASE) == answers(A_REF, A_RELEASE)
    assert "dL_dw = 0  # first try" in [c.source for c in fixed.cells], "the other copy is kept"
    assert len(to_review) == 1 and "a2_gradients_answer" in to_review[0]


def test_an_answer_with_two_candidates_is_not_picked_but_kept_for_review():
    damaged = damage.without_metadata(
        damage.insert_scratch(A_REF, "a1_derivative_answer", ["df_dx = 0  # scratch"]), keep_ids=False)
    fixed, repairs, to_review = repaired(damaged, A_RELEASE)
    got, want = answers(fixed, A_RELEASE), answers(A_REF, A_RELEASE)
    assert got["a1_derivative_answer"] == answers(A_RELEASE, A_RELEASE)["a1_derivative_answer"], "put back empty"
    assert {k: v for k, v in got.items() if k != "a1_derivative_answer"} == \
        {k: v for k, v in want.items() if k != "a1_derivative_answer"}
    texts = [align.normal(c.source) for c in fixed.cells]
    assert want["a1_derivative_answer"][1] in texts and "df_dx = 0  # scratch" in texts, "both candidates kept"
    assert len(to_review) == 1 and "a1_derivative_answer" in to_review[0] and "none was picked" in to_review[0]


def test_nothing_the_student_wrote_is_lost():
    """Every text of the damaged notebook that is not the release's is still in the repaired one."""
    released = {align.normal(c.source) for c in A_RELEASE.cells}
    for kind, damaged in A_CORPUS.items():
        notebook = files.read_bytes(damaged)[0] if isinstance(damaged, bytes) else damaged
        written = {align.normal(c.source) for c in notebook.cells} - released
        fixed, _, _ = repaired(damaged, A_RELEASE)
        assert written <= {align.normal(c.source) for c in fixed.cells}, kind


# ---- files that are not notebooks


NOT_NOTEBOOKS = {
    "empty": (b"", "an empty file"),
    "zip": (b"PK\x03\x04" + bytes(100), "not a notebook: the file is a zip archive"),
    "binary": (bytes(range(256)) * 8, "not a notebook: the file is binary data"),
    "pdf": (b"%PDF-1.7\n...", "not a notebook: the file is a PDF document"),
    "web page": (b"<!DOCTYPE html><html><body>notebook</body></html>", "the file is a web page"),
    "python script": (b"import numpy as np\nprint(1)\n", "the file is text, not a notebook's JSON"),
    "json list": (b"[1, 2, 3]", "the file is JSON, but a list, not a notebook"),
    "json object": (b'{"name": "A_theory"}', "the file is JSON, but an object without cells"),
    "cut short": (nbformat.writes(A_REF).encode()[:4000], "cut short or damaged (invalid JSON at line"),
}


@pytest.mark.parametrize("kind", sorted(NOT_NOTEBOOKS))
def test_a_file_that_is_not_a_notebook_gets_a_plain_reason(kind):
    data, reason = NOT_NOTEBOOKS[kind]
    with pytest.raises(files.NotANotebook) as raised:
        files.read_bytes(data)
    assert reason in str(raised.value)
    assert "Error" not in str(raised.value) and "Traceback" not in str(raised.value)


def test_other_encodings_are_read():
    text = nbformat.writes(A_REF)
    for codec in ("utf-16-le", "utf-16-be", "utf-32", "cp1252"):
        notebook, repairs = files.read_bytes(text.encode(codec, errors="replace"))
        assert len(notebook.cells) == len(A_REF.cells) and len(repairs) == 1, codec


KEYS = ["cells", "source", "metadata", "nbgrader", "grade_id", "cell_type", "id", "nbformat", "worksheets", "outputs"]


def random_json(rng, depth=0):
    makers = [lambda: None, lambda: True, lambda: rng.randint(-3, 3), lambda: "x" * rng.randrange(3),
              lambda: 1.5, lambda: "code", lambda: "markdown",
              lambda: [random_json(rng, depth + 1) for _ in range(rng.randrange(4))],
              lambda: {rng.choice(KEYS): random_json(rng, depth + 1) for _ in range(rng.randrange(5))}]
    return makers[rng.randrange(len(makers) if depth < 3 else 7)]()


def odd_notebooks(count=300):
    """Notebook-shaped JSON with every field replaced at random (seeded: the same on every run)."""
    rng = random.Random(8)
    base = json.loads(nbformat.writes(A_REF))
    for _ in range(count):
        data = json.loads(json.dumps(base))
        for _ in range(rng.randrange(1, 6)):
            cells = data.get("cells") if isinstance(data.get("cells"), list) else []
            cell = rng.choice(cells) if cells else data
            target = rng.choice([data, cell, cell.get("metadata", {}) if isinstance(cell, dict) else {}])
            if isinstance(target, dict) and target:
                target[rng.choice(list(target) + ["nbgrader", "source"])] = random_json(rng)
            elif isinstance(data.get("cells"), list):
                data["cells"].insert(rng.randrange(len(data["cells"]) + 1), random_json(rng))
        yield data


def test_any_json_is_repaired_or_refused_with_a_reason_and_the_review_never_crashes():
    refused = 0
    for data in odd_notebooks():
        try:
            fixed, _, _ = repaired(json.dumps(data).encode(), A_RELEASE)
            nbformat.validate(fixed)
        except files.NotANotebook as error:
            refused += 1
            assert str(error)
        assert isinstance(review.scan_notebook(data, A_RELEASE), list)
    assert refused < 300, "most odd notebooks are still notebooks"


# ---- graded for real: scores equal the undamaged answers', cell by cell


GRADED = sorted(A_CORPUS)  # every kind of damage, graded for real


@pytest.fixture(scope="module")
def graded(make_course):
    course = make_course(["A_theory.ipynb"])
    course.submit("undamaged", {"A_theory.ipynb": A_REF})
    students = {}
    for number, kind in enumerate(GRADED):
        students[kind] = f"damaged{number:02d}"
        content = A_CORPUS[kind]
        course.submit(students[kind], {"A_theory.ipynb": content if isinstance(content, bytes) else
                                       nbformat.writes(content)})
    ambiguous = damage.without_metadata(
        damage.insert_scratch(A_REF, "a1_derivative_answer", ["df_dx = 0  # scratch"]), keep_ids=False)
    course.submit("ambiguous", {"A_theory.ipynb": ambiguous})
    for kind in ("zip", "empty", "json list"):
        course.submit(f"notanotebook_{kind.replace(' ', '_')}", {"A_theory.ipynb": NOT_NOTEBOOKS[kind][0]})
    course.autograde()
    return course, students


def cell_scores(course, student):
    return course.scores.get(student, {}).get("A_theory", {})


def test_each_damaged_submission_scores_what_the_same_answers_score_undamaged(graded):
    course, students = graded
    full = cell_scores(course, "undamaged")
    assert full and all(score > 0 for score, _ in full.values())
    for kind, student in students.items():
        assert course.status[student]["status"] in ("graded", "flagged"), (kind, course.status[student])
        assert cell_scores(course, student) == full, kind


def test_every_repair_is_recorded_for_the_instructor_and_shown_to_the_ta(graded):
    course, students = graded
    paths = Paths(course.root)
    student = students["copied into a new notebook"]
    found = record.load(paths, ASSIGNMENT, student)["A_theory"]
    assert any("found by their place" in r for r in found["repairs"])
    assert any("found by their place" in r for r in course.status[student]["repairs"])
    top = course.autograded_nb(student, "A_theory.ipynb").cells[0]
    assert record.NOTE_TAG in top.metadata.get("tags", []) and "found by their place" in top.source
    assert "repairs" not in course.status["undamaged"]
    assert record.NOTE_TAG not in course.autograded_nb("undamaged", "A_theory.ipynb").cells[0].metadata.get("tags", [])


def test_an_ambiguous_submission_is_graded_for_what_is_certain_and_flagged(graded):
    course, _ = graded
    status = course.status["ambiguous"]
    assert status["status"] == "flagged"
    assert any("none was picked" in flag for flag in status["flags"])
    scores, full = cell_scores(course, "ambiguous"), cell_scores(course, "undamaged")
    assert {k: v for k, v in scores.items() if not k.startswith("a1_df_dx")} == \
        {k: v for k, v in full.items() if not k.startswith("a1_df_dx")}


def test_a_file_that_is_not_a_notebook_fails_alone_with_its_reason(graded):
    course, _ = graded
    for kind in ("zip", "empty", "json list"):
        status = course.status[f"notanotebook_{kind.replace(' ', '_')}"]
        assert status["status"] == "failed"
        assert status["reason"].startswith("A_theory.ipynb: ") and NOT_NOTEBOOKS[kind][1] in status["reason"], status
        assert "Error" not in status["reason"] and "traceback" not in status["reason"]
    assert records.load(Paths(course.root), ASSIGNMENT, "undamaged")["status"] == "graded"


def test_the_summary_and_the_report_list_the_repaired_submissions(graded):
    from grader.driver.autograde import summary
    from grader.reports import report
    course, students = graded
    text = summary(course.status, set(course.status), 1.0, 2)
    assert "repaired before grading" in text and students["copied into a new notebook"] in text
    found = report.compute(course.root, ASSIGNMENT)
    listed = {r["student"] for r in found.repaired}
    assert listed == {student for student, status in course.status.items() if status.get("repairs")}
    assert students["copied into a new notebook"] in listed and students["nbformat 3"] in listed
    assert "undamaged" not in listed and students["VS Code"] not in listed, "nothing to repair there"


def test_make_repair_writes_the_repaired_notebooks_without_grading(graded):
    import subprocess
    import sys
    course, students = graded
    student = students["copied into a new notebook"]
    run = subprocess.run([sys.executable, "-m", "grader.repair", ASSIGNMENT, "--student", student,
                          "--student", "undamaged", "--student", "notanotebook_zip"],
                         cwd=course.root, capture_output=True, text=True)
    assert run.returncode == 1, run.stdout + run.stderr  # the zip is not a notebook
    written = course.root / "repaired" / student / ASSIGNMENT / "A_theory.ipynb"
    notebook = nbformat.read(str(written), as_version=4)
    assert answers(notebook, A_RELEASE) == answers(A_REF, A_RELEASE)
    assert "found by their place" in notebook.cells[0].source
    assert "undamaged/A_theory.ipynb: nothing to repair" in run.stdout
    assert "notanotebook_zip/A_theory.ipynb: cannot be graded: not a notebook: the file is a zip archive" in run.stdout
    assert not (course.root / "repaired" / "undamaged").exists()


def test_the_note_for_the_ta_repeats_nothing_a_student_wrote():
    damaged = damage.paste_twice(A_REF, "a1_df_dx")
    damaged.cells[5].metadata["nbgrader"]["grade_id"] = "<script>alert(1)</script>"
    damaged.metadata["kernelspec"] = "<img src=x onerror=alert(1)>"
    fixed, repairs, to_review = repaired(nbformat.writes(damaged).encode(), A_RELEASE)
    note = record.note_cell(repairs, to_review).source
    assert "carried nbgrader metadata of no released cell" in note
    assert "<script" not in note and "<img" not in note and "alert" not in note
    assert record.note_cell(["a <b>bold</b> [link](x)"], []).source.endswith("a \\<b\\>bold\\</b\\> \\[link\\](x)")


def test_plain_nbgrader_autograde_repairs_the_same_way(graded):
    """The repair is nbgrader configuration, not only our driver: the formgrader's button and
    `nbgrader autograde` grade a damaged notebook too."""
    from grader.driver.commands import nbgrader
    from grader.reports.gradebook import scores
    course, students = graded
    student = students["one answer's metadata lost and another pasted twice"]
    run = nbgrader(["autograde", ASSIGNMENT, "--student", student, "--force"], course.root)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert scores(course.root, ASSIGNMENT)[student]["A_theory"] == cell_scores(course, "undamaged")
    assert "Repaired A_theory" in run.stdout + run.stderr
