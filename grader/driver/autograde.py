"""Grade a class in parallel: `python -m grader.driver.autograde ASSIGNMENT [--jobs N] [--student S] [--force]`.

Run it from the course root (the folder with nbgrader_config.py). It grades every
submitted student whose submission (or the assignment's source) changed since the
last run (`--force`: everyone), in N worker processes (default: the number of
cores). One progress bar shows done / failed / remaining, the elapsed time and an
estimate; a summary follows, naming every submission that could not be graded
and why. Exit code 0 when every submission is graded, 1 when any failed (the
others are still graded), 2 on a usage error.
"""
import argparse
import fnmatch
import os
import socket
import sys
import time
from pathlib import Path

from grader.paths import Course

from . import grading


def summary(records, graded_now, elapsed, jobs, elsewhere=()):
    """The end-of-run table: failures (with reasons) and flags, the repaired submissions, then the totals."""
    lines, by_status = [], {}
    for record in records.values():
        by_status.setdefault(record["status"], []).append(record)
    problems = sorted(by_status.get("failed", []) + by_status.get("flagged", []) +
                      [r for r in by_status.get("graded", []) if r.get("grader_problems")],
                      key=lambda r: (r["status"], r["student"]))
    if problems:
        width = max(len("student"), *(len(r["student"]) for r in problems))
        lines.append(f"{'student':<{width}}  {'status':<8}  reason / flags")
        lines.append(f"{'-' * width}  {'-' * 8}  {'-' * 40}")
        for r in problems:
            detail = r.get("reason") or ""
            if r["status"] == "failed" and r.get("graded"):
                detail += f" (graded: {', '.join(r['graded'])})"
            if r.get("flags"):
                detail = (detail + "; " if detail else "") + f"{len(r['flags'])} flag(s): " + "; ".join(r["flags"][:3]) \
                    + (" ..." if len(r["flags"]) > 3 else "")
            if r.get("grader_problems"):
                detail = (detail + "; " if detail else "") + "GRADER: " + "; ".join(r["grader_problems"][:2])
            mark = "" if r["student"] in graded_now else "  (unchanged, not regraded)"
            lines.append(f"{r['student']:<{width}}  {r['status']:<8}  {detail}{mark}")
        lines.append("")
    repaired = sorted((r for r in records.values() if r.get("repairs")), key=lambda r: r["student"])
    if repaired:
        lines.append(f"repaired before grading ({len(repaired)}; the note atop each autograded notebook says more):")
        for r in repaired:
            lines.append(f"  {r['student']}: " + "; ".join(r["repairs"][:2]) + (" ..." if len(r["repairs"]) > 2 else ""))
        lines.append("")
    counts = ", ".join(f"{len(v)} {k}" for k, v in sorted(by_status.items()))
    unchanged = len(records) - len(graded_now) - len(elsewhere)
    lines.append(f"{len(records)} student{'s' if len(records) != 1 else ''}: {counts}"
                 + (f" ({unchanged} unchanged, skipped; --force regrades them)" if unchanged else "")
                 + (f" ({len(elsewhere)} graded meanwhile by another driver)" if elsewhere else ""))
    if graded_now:
        lines.append(f"graded {len(graded_now)} in {elapsed:.1f} s with {min(jobs, len(graded_now))} worker(s): "
                     f"{elapsed / len(graded_now):.2f} s per submission")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m grader.driver.autograde", description=__doc__.split("\n\n")[0])
    parser.add_argument("assignment")
    parser.add_argument("--jobs", "-j", type=int, default=0, help="worker processes (default: the number of cores)")
    parser.add_argument("--student", "-s", action="append", default=[],
                        help="a student id or glob pattern (repeatable; default: everyone submitted)")
    parser.add_argument("--shard", metavar="K/N", help="grade only shard K of N (disjoint, by student name)")
    parser.add_argument("--force", "-f", action="store_true", help="regrade students whose submission did not change")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    options = parser.parse_args(argv)

    root = Path.cwd()
    if not (root / "nbgrader_config.py").exists():
        print("run this from the course root (the folder with nbgrader_config.py)", file=sys.stderr)
        return 2
    course = Course(root)
    everyone = course.submitted_students(options.assignment)
    students = everyone
    if options.student:
        students = [s for s in everyone if any(fnmatch.fnmatchcase(s, p) for p in options.student)]
        if not students:
            print(f"no submitted student matches {options.student} in {course.dirs.submitted_directory}/*/"
                  f"{options.assignment}", file=sys.stderr)
            return 2
    elif not everyone:
        print(f"nothing to grade: no {course.dirs.submitted_directory}/*/{options.assignment}/ folder", file=sys.stderr)
        return 2
    if options.shard:
        try:
            index, count = (int(part) for part in options.shard.split("/"))
            students = grading.shard(students, index, count)
        except ValueError as error:
            print(f"--shard K/N: {error}", file=sys.stderr)
            return 2
        if not students:
            print(f"shard {options.shard} has no student", file=sys.stderr)
            return 0
    jobs = options.jobs or grading.default_jobs()
    # Shards share the status folder: each driver's worker logs carry its shard, host and process.
    tag = f"shard{index}of{count}-{socket.gethostname()}-{os.getpid()}-" if options.shard else ""
    graded_now, elsewhere = set(), set()
    started = time.perf_counter()
    try:
        records = grading.autograde(root, options.assignment, students=students, force=options.force, jobs=jobs,
                                    progress=not options.no_progress, on_result=lambda e: (
                                        elsewhere if e.get("elsewhere") else graded_now).add(e["student"]),
                                    log=lambda message: None, tag=tag)
    except RuntimeError as error:
        print(f"autograde: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nautograde: interrupted; finished students are recorded, rerun to continue", file=sys.stderr)
        return 130
    print(summary(records, graded_now, time.perf_counter() - started, jobs, elsewhere))
    return 1 if any(r["status"] == "failed" for r in records.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
