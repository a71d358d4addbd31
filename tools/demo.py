"""`make demo`: a simulated class, end to end, in this course directory.

release → students fetch and submit through the exchange → collect →
autograde (parallel) → manual grades for the free-text answers → sealed
feedback → grades CSV → report, then a table of who got what.

The simulated students are defined in `tools/demo_class.py`: each is the
reference solution with some solution cells replaced (a blank one, a few with
common mistakes, one whose notebook is broken).
"""
import argparse
import shutil
import sys
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))

from grader.authoring import submissions  # noqa: E402
from grader.driver import grading  # noqa: E402
from grader.driver.commands import nbgrader  # noqa: E402
from grader.paths import Course  # noqa: E402
import demo_class  # noqa: E402


def step(message):
    print(f"\n== {message}", flush=True)


def nbgrader_or_die(args):
    run = nbgrader(args, REPO)
    if run.returncode != 0:
        print(run.stdout + run.stderr)
        raise SystemExit(f"nbgrader {' '.join(args)} failed")
    return run


def reset_demo_state(assignment):
    """Remove what an earlier demo left, so every run starts from the same class."""
    course = Course(REPO)
    dirs = course.dirs
    gradebook = Path(dirs.db_url[len("sqlite:///"):]) if dirs.db_url.startswith("sqlite:///") else None
    for path in [gradebook, course.root / dirs.submitted_directory, course.root / dirs.autograded_directory,
                 course.root / dirs.feedback_directory, course.status(assignment).parent, exchange_root()]:
        if path is None:
            continue
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def exchange_root():
    """The exchange nbgrader_config.py sets (a folder of this course, not /srv)."""
    return Path(Course(REPO).config.Exchange.root)


def submit_through_exchange(assignment, student, notebooks, workdir):
    """What a student does: put the notebooks in ./<assignment>/ and `nbgrader submit`."""
    home = workdir / student
    folder = home / assignment
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in notebooks.items():
        if isinstance(content, (bytes, str)):
            (folder / name).write_bytes(content if isinstance(content, bytes) else content.encode())
        else:
            nbformat.write(content, str(folder / name))
    # A student's machine knows the exchange from its own config; here we say it on the command line.
    exchange = ["--course", Course(REPO).dirs.course_id, f"--Exchange.root={exchange_root()}"]
    run = nbgrader(["submit", assignment, "--student", student, *exchange], home)
    if run.returncode != 0:
        raise SystemExit(f"{student}: nbgrader submit failed\n{run.stdout}{run.stderr}")


def main(argv=None):
    parser = argparse.ArgumentParser(description="Run the simulated class end to end.")
    parser.add_argument("assignment", nargs="?", default="tutorial08")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    assignment, started = args.assignment, time.perf_counter()

    step("reset the demo's grading state")
    reset_demo_state(assignment)

    step("release: generate the student version and put it in the exchange")
    nbgrader_or_die(["generate_assignment", assignment, "--force"])
    nbgrader_or_die(["release_assignment", assignment, "--force"])

    step("students submit through the exchange")
    release, source = Course(REPO).release(assignment), Course(REPO).source(assignment)
    workdir = REPO / "demo_class"
    shutil.rmtree(workdir, ignore_errors=True)
    students = demo_class.build(release, source)
    for student, notebooks in students.items():
        submit_through_exchange(assignment, student, notebooks, workdir)
        print(f"  {student}: submitted {', '.join(sorted(notebooks))}")

    step("collect")
    nbgrader_or_die(["collect", assignment, "--update"])

    step("autograde")
    outcome = grading.autograde(REPO, assignment, force=True, jobs=args.jobs)
    for student, record in sorted(outcome.items()):
        if record["status"] != "graded":
            print(f"  {student}: {record['status']} — {record['reason']}")

    step("manual grading of the free-text answers (simulated graders)")
    demo_class.grade_free_text(REPO, assignment)

    step("feedback (sealed: no hidden tests, no tracebacks)")
    run_module("grader.reports.feedback", assignment)

    step("grades")
    run_module("grader.reports.grades", assignment)

    step("who got what")
    print_table(assignment)

    step("report")
    run_module("grader.reports.report", assignment)
    print(f"\ndemo finished in {time.perf_counter() - started:.0f} s")


def run_module(module, assignment):
    import runpy
    saved = sys.argv
    sys.argv = [module, assignment]
    try:
        runpy.run_module(module, run_name="__main__")
    except SystemExit as exit:
        if exit.code not in (0, None):
            print(f"  {module} exited with {exit.code}")
    finally:
        sys.argv = saved


def print_table(assignment):
    """The grades export (`grader.reports.grades`): a part that could not be graded is "-", never 0."""
    from grader.reports import grades

    collected = grades.collect(REPO, assignment)
    parts = collected.parts
    header = f"{'student':<22}" + "".join(f"{p:>15}" for p in parts) + f"{'total':>10}  status"
    print(header)
    print("-" * len(header))
    for row in collected.students:
        cells = [f"{'-' if row[p] is None else format(row[p], '.1f'):>7} / {collected.part_max[p]:<5.0f}"
                 for p in parts]
        total = "-" if row["total"] is None else f"{row['total']:.1f}"
        state = row["status"] + (f" ({row['reason'][:70]})" if row["reason"] else "")
        print(f"{row['student']:<22}" + "".join(cells) + f"{total:>6}/{row['max']:<3.0f}  {state}")


if __name__ == "__main__":
    main()
