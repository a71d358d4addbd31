"""Benchmark: our parallel autograder against stock serial `nbgrader autograde`.

    make bench                       # 60 students, 3 runs of each
    make bench N=12 RUNS=1           # a quick look
    .venv/bin/python tools/bench.py --students 12 --runs 1 --ablation

Builds a class in a temporary course directory from whatever notebooks are in
source/<assignment>/ (mixed submissions: reference answers, one answer made
wrong, blank, one notebook that is not valid JSON), then grades it, runs
alternating, with

  stock   `nbgrader autograde ASSIGNMENT --force` (one process, one student and
          one notebook after the other, a fresh interpreter per kernel)
  ours    `python -m grader.driver.autograde ASSIGNMENT --force --jobs N`

in two identical copies of the class, checks that both give every cell of
every student the same score (and fail the same students), and reports:
median wall time of each, the ratio stock/ours, the cost per submission, the
peak memory of the whole process tree, the cost of executing the reference
notebooks with `jupyter nbconvert --execute`, and the floor (the time the
graded notebooks' own cells take in an interpreter that has already imported
numpy, sympy and matplotlib, measured right after each run of ours: the
overhead is ours minus the floor, and both move with the machine's speed).
The figures go to bench/results.json.
"""
import argparse
import ast
import hashlib
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from grader.authoring import submissions  # noqa: E402
from grader.driver import grading, records  # noqa: E402
from grader.driver.commands import nbgrader  # noqa: E402
from grader.paths import Course  # noqa: E402
from grader.reports.gradebook import scores as gradebook_scores  # noqa: E402

GIB = 1 << 30
KINDS = ("right", "wrong", "blank", "broken")
MIX = (0.45, 0.30, 0.15, 0.10)


# ----------------------------------------------------------------- the class

def make_wrong(answer, rng):
    """One solution cell made wrong, whatever its content: the names it defines
    give twice (plus one) what they should."""
    try:
        tree = ast.parse(answer)
    except SyntaxError:
        return "pass"
    names = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.append(("function", node.name))
        elif isinstance(node, ast.ClassDef):
            names.append(("class", node.name))
        elif isinstance(node, ast.Assign):
            names += [("value", t.id) for t in node.targets if isinstance(t, ast.Name)]
    if not names:
        return "pass"
    kind, name = rng.choice(names)
    if kind == "value":
        tail = f"\n{name} = 2 * {name} + 1"
    else:
        tail = (f"\n_right_{name} = {name}\n"
                f"def {name}(*args, **kwargs):\n"
                f"    return 2 * _right_{name}(*args, **kwargs)")
    return answer + tail


def build_class(root, assignment, n, seed=8):
    """A course directory with the assignment generated and `n` submissions; {student: kind}."""
    root.mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", root)
    shutil.copytree(Course(REPO).source(assignment), Course(root).source(assignment))
    run = nbgrader(["generate_assignment", assignment, "--force"], root)
    if run.returncode != 0:
        raise SystemExit("generate_assignment failed:\n" + run.stdout[-2000:] + run.stderr[-2000:])
    release = Course(root).release(assignment)
    names = sorted(p.name for p in release.glob("*.ipynb"))
    if not names:
        raise SystemExit(f"no notebooks in source/{assignment}/")
    rng = random.Random(seed)
    counts = [round(share * n) for share in MIX]
    counts[0] += n - sum(counts)
    kinds = [kind for kind, count in zip(KINDS, counts) for _ in range(count)]
    rng.shuffle(kinds)
    roster = {}
    for i, kind in enumerate(kinds):
        student = f"student{i + 1:03d}"
        notebooks = {}
        broken = rng.choice(names)
        for name in names:
            released = submissions.read(release / name)
            source = submissions.read(Course(root).source(assignment) / name)
            if kind == "blank":
                notebooks[name] = released
                continue
            nb = submissions.reference(released, source)
            if kind == "wrong":
                answers = submissions.reference_answers(source)
                code = [submissions.grade_id(c) for c in released.cells
                        if submissions.is_solution(c) and c.cell_type == "code"]
                if code:
                    target = rng.choice(code)
                    nb = submissions.reference(released, source, {target: make_wrong(answers[target], rng)})
            if kind == "broken" and name == broken:
                import nbformat
                text = nbformat.writes(nb)
                notebooks[name] = text[: len(text) // 2]  # a save cut short
            else:
                notebooks[name] = nb
        submissions.write(root, student, assignment, notebooks)
        roster[student] = kind
    return roster, names


# ----------------------------------------------------------------- measuring

def _pss_kib(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class TreeMemory:
    """Peak memory of a process and all its descendants, sampled (RSS sum and PSS sum).

    Reading PSS makes the kernel walk every page table of every process, CPU
    taken from the run being measured (RSS is a counter): PSS is read at every
    `pss_every`-th sample only, RSS at every one.
    """

    def __init__(self, pid, interval=0.2, pss_every=5):
        import psutil
        self.root = psutil.Process(pid)
        self.interval = interval
        self.pss_every = pss_every
        self.peak_rss = self.peak_pss = 0
        self.peak_processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        import psutil
        samples = 0
        while not self._stop.is_set():
            with_pss = samples % self.pss_every == 0
            samples += 1
            try:
                procs = [self.root] + self.root.children(recursive=True)
            except psutil.Error:
                break
            rss = pss = 0
            for proc in procs:
                try:
                    rss += proc.memory_info().rss
                except psutil.Error:
                    continue
                if with_pss:
                    pss += _pss_kib(proc.pid) * 1024
            self.peak_rss = max(self.peak_rss, rss)
            self.peak_pss = max(self.peak_pss, pss)
            self.peak_processes = max(self.peak_processes, len(procs))
            self._stop.wait(self.interval)

    def stop(self):
        self._stop.set()
        self._thread.join()


def machine_cpu():
    """CPU seconds the whole machine has spent busy (all cores, from /proc/stat).

    Not the process tree's own rusage: a kernel lives in a sandbox whose init
    process is killed with it, so its CPU time never reaches a parent that waits.
    The machine's busy time counts every process of the run, and whatever else
    runs meanwhile (the load average is recorded with the figures)."""
    with open("/proc/stat") as handle:
        fields = [int(value) for value in handle.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def timed_run(args, cwd, env, log_path):
    """Run a command; (wall seconds, exit code, peak memory and CPU seconds while it ran)."""
    with open(log_path, "w") as log:
        cpu_before = machine_cpu()
        started = time.perf_counter()
        process = subprocess.Popen(args, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
        memory = TreeMemory(process.pid)
        code = process.wait()
        wall = time.perf_counter() - started
        memory.stop()
        cpu = machine_cpu() - cpu_before
    return wall, code, {"peak_rss_mib": round(memory.peak_rss / 2**20, 1),
                        "peak_pss_mib": round(memory.peak_pss / 2**20, 1),
                        "peak_processes": memory.peak_processes, "cpu_s": round(cpu, 1)}


def clean_env():
    env = dict(os.environ)
    for name in ("NBGRADER_DB_URL", "NBGRADER_EXCHANGE", "COURSE_ZYGOTE", "GRADER_SPEEDUPS"):
        env.pop(name, None)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def reset_grades(root):
    course = Course(root)
    for folder in (course.root / course.dirs.autograded_directory, course.status("x").parent,
                   course.root / course.dirs.feedback_directory):
        shutil.rmtree(folder, ignore_errors=True)


def graded_notebooks(root, assignment):
    """{student: {notebook stem}} of the notebooks that have an autograded file."""
    folder = Course(root).root / Course(root).dirs.autograded_directory
    return {s.name: {p.stem for p in (s / assignment).glob("*.ipynb")}
            for s in folder.iterdir()} if folder.is_dir() else {}


def graded_students(root, assignment, names):
    folder = Course(root).root / Course(root).dirs.autograded_directory
    return sorted(s for s in (p.name for p in folder.iterdir()) if all(
        (folder / s / assignment / n).exists() for n in names)) if folder.is_dir() else []


FLOOR_CHILD = r'''
import contextlib, io, json, os, signal, sys, time
os.environ["MPLBACKEND"] = "Agg"
import numpy, sympy, matplotlib, matplotlib.pyplot as plt
import nbformat
from IPython.core.interactiveshell import InteractiveShell
from IPython.core.pylabtools import print_figure, select_figure_formats
shell = InteractiveShell.instance()
select_figure_formats(shell, {"png"}, bbox_inches="tight")  # display(fig) renders a PNG
shell.showtraceback = lambda *a, **k: None
shell.showsyntaxerror = lambda *a, **k: None
# `%matplotlib inline` in a plain shell: the figures are rendered below instead
shell.enable_matplotlib = lambda gui=None: ("inline", "agg")
shell.enable_gui = lambda gui=None: None
errors = {}

def run(code):
    # what a kernel does with a cell: run it, then (inline backend) render every
    # open figure to PNG and close it
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        result = shell.run_cell(code, store_history=False)
        for number in plt.get_fignums():
            print_figure(plt.figure(number), "png", bbox_inches="tight")
        plt.close("all")
    return result.success

results = {}
for path in json.loads(sys.argv[1]):
    nb = nbformat.read(path, as_version=4)
    cells = [c.source for c in nb.cells if c.cell_type == "code"]
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # a fresh namespace in a process with everything imported
        os.close(read)
        os.chdir(os.path.dirname(path))
        signal.alarm(300)
        started, cpu = time.perf_counter(), time.process_time()
        failed = sum(not run(code) for code in cells)
        os.write(write, json.dumps([time.perf_counter() - started, failed,
                                    time.process_time() - cpu]).encode())
        os._exit(0)
    os.close(write)
    data = os.read(read, 1000)
    os.close(read)
    os.waitpid(pid, 0)
    results[path] = json.loads(data) if data else [None, None, None]
print(json.dumps(results))
'''


def code_digest(path):
    import nbformat
    nb = nbformat.read(str(path), as_version=4)
    return hashlib.sha256("\0".join(c.source for c in nb.cells if c.cell_type == "code").encode()).hexdigest()


def measure_floor(root, assignment, env, repeats=1):
    """Seconds the graded notebooks' own cells take with numpy/sympy/matplotlib already imported.

    Every distinct notebook that was graded (the autograded copy: hidden tests
    included) is run `repeats` times, each time in a fresh fork of a warm
    interpreter, figures rendered to PNG as a kernel's inline backend does;
    the median counts once per student who handed it in.
    """
    groups = {}
    course = Course(root)
    for path in sorted(course.root.glob(f"{course.dirs.autograded_directory}/*/{assignment}/*.ipynb")):
        groups.setdefault(code_digest(path), []).append(path)
    samples = {digest: [] for digest in groups}
    cpu_samples = {digest: [] for digest in groups}
    for _ in range(repeats):
        paths = [str(paths[0]) for paths in groups.values()]
        run = subprocess.run([sys.executable, "-c", FLOOR_CHILD, json.dumps(paths)], env=env,
                             capture_output=True, text=True, cwd=root)
        if run.returncode != 0:
            raise RuntimeError("floor measurement failed:\n" + run.stderr[-2000:])
        timings = json.loads(run.stdout.strip().splitlines()[-1])
        for digest, paths_ in groups.items():
            seconds, _, cpu = timings.get(str(paths_[0]), [None, None, None])
            if seconds is not None:
                samples[digest].append(seconds)
                cpu_samples[digest].append(cpu)
    per_notebook = {}
    total = total_cpu = 0.0
    for digest, paths in groups.items():
        median = statistics.median(samples[digest]) if samples[digest] else 0.0
        total += median * len(paths)
        total_cpu += (statistics.median(cpu_samples[digest]) if cpu_samples[digest] else 0.0) * len(paths)
        name = paths[0].name
        per_notebook.setdefault(name, []).extend([median] * len(paths))
    return total, sum(len(p) for p in groups.values()), {
        name: round(statistics.mean(values), 3) for name, values in sorted(per_notebook.items())}, total_cpu


def reference_floor(root, assignment, env):
    """The floor of the source (reference) notebooks, one by one."""
    paths = sorted(str(p) for p in Course(root).source(assignment).glob("*.ipynb"))
    values = {p: [] for p in paths}
    for _ in range(3):
        run = subprocess.run([sys.executable, "-c", FLOOR_CHILD, json.dumps(paths)], env=env,
                             capture_output=True, text=True, cwd=root)
        for path, (seconds, failed, _) in json.loads(run.stdout.strip().splitlines()[-1]).items():
            if failed:
                print(f"bench: warning: {failed} cell(s) of {Path(path).name} fail outside a kernel; "
                      f"its floor is too low", flush=True)
            if seconds is not None:
                values[path].append(seconds)
    return {Path(p).name: round(statistics.median(v), 3) for p, v in values.items() if v}


def nbconvert_cost(root, assignment, env, repeats=3):
    """Median seconds of `jupyter nbconvert --execute` on the reference notebooks (one command)."""
    notebooks = sorted(str(p) for p in Course(root).source(assignment).glob("*.ipynb"))
    times = []
    for i in range(repeats):
        out = tempfile.mkdtemp(prefix="bench-nbconvert-")
        started = time.perf_counter()
        run = subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook",
                              "--execute", "--output-dir", out, *notebooks],
                             cwd=Course(root).source(assignment), env=env, capture_output=True, text=True)
        times.append(time.perf_counter() - started)
        shutil.rmtree(out, ignore_errors=True)
        if run.returncode != 0:
            return {"error": run.stderr[-500:], "seconds": None}
    return {"seconds": round(statistics.median(times), 2), "runs": [round(t, 2) for t in times],
            "notebooks": [Path(p).name for p in notebooks]}


def boundary_cost(root, assignment):
    """Medians per notebook of what the trust boundary cost in ours' last run (from the events
    grading records): connecting to the kernel's stdin channel, requests made, seconds spent
    waiting on the kernel for them, and seconds in the hidden tests as a whole (the checks'
    own work included, which the floor also does, in-process)."""
    folder = Course(root).status(assignment) / "events"
    rows = [json.loads(path.read_text()).get("boundary") or {} for path in folder.glob("*/*.json")]
    rows = [row for row in rows if "connect_s" in row]
    if not rows:
        return {}
    median = lambda key: round(statistics.median(row.get(key, 0) for row in rows), 4)  # noqa: E731
    return {"notebooks": len(rows), "connect_s": median("connect_s"), "requests": median("requests"),
            "waiting_s": median("waiting_s"), "hidden_tests_s": median("hidden_tests_s"),
            "total_requests": sum(row.get("requests", 0) for row in rows)}


def compare(stock, ours, stock_graded, ours_graded):
    """Cells whose scores differ: [(student, notebook, grade_id, stock, ours)], and the
    notebooks only ours graded [(student, notebook)].

    Only notebooks with an autograded file count: a failed run leaves placeholder
    grades in the gradebook. Stock nbgrader drops all of a student's notebooks
    when one fails, ours grades the others alone; those are listed, not differences.
    """
    diffs, only_ours = [], []
    for student in sorted(set(stock) | set(ours)):
        a, b = stock.get(student, {}), ours.get(student, {})
        done_a, done_b = stock_graded.get(student, set()), ours_graded.get(student, set())
        for nb in sorted(set(a) | set(b)):
            if nb not in done_a and nb not in done_b:
                continue
            if nb in done_b and nb not in done_a and not done_a:
                only_ours.append((student, nb))
                continue
            x, y = (a.get(nb, {}) if nb in done_a else {}), (b.get(nb, {}) if nb in done_b else {})
            for gid in sorted(set(x) | set(y)):
                if x.get(gid) != y.get(gid):
                    diffs.append((student, nb, gid, x.get(gid), y.get(gid)))
    return diffs, only_ours


def load_average():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


# ----------------------------------------------------------------- main

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", "-n", type=int, default=int(os.environ.get("N", 60)))
    parser.add_argument("--runs", type=int, default=int(os.environ.get("RUNS", 3)))
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("BENCH_JOBS", 0)) or None,
                        help="workers for ours (default: the number of cores)")
    parser.add_argument("--assignment", default="tutorial08")
    parser.add_argument("--out", default=str(REPO / "bench" / "results.json"))
    parser.add_argument("--keep", help="build the class here and keep it (default: a temp dir)")
    parser.add_argument("--ablation", action="store_true",
                        help="also time ours once without the zygote, and once without the speed-ups "
                             "(what each saves)")
    options = parser.parse_args(argv)

    cores = grading.default_jobs()
    jobs = options.jobs or cores
    env = clean_env()
    base = Path(options.keep) if options.keep else Path(tempfile.mkdtemp(prefix="bench-"))
    if options.keep and base.exists():
        shutil.rmtree(base)
    load_before = load_average()
    print(f"bench: {options.students} students, {options.runs} run(s) each, {cores} cores, "
          f"ours with {jobs} workers; class in {base}", flush=True)
    roster, names = build_class(base / "class", options.assignment, options.students)
    mix = {kind: sum(1 for k in roster.values() if k == kind) for kind in KINDS}
    print(f"bench: class built ({mix}), notebooks {names}", flush=True)
    stock_root, ours_root = base / "stock", base / "ours"
    shutil.copytree(base / "class", stock_root)
    shutil.copytree(base / "class", ours_root)

    commands = {
        "stock": [sys.executable, "-m", "nbgrader", "autograde", options.assignment, "--force"],
        "ours": [sys.executable, "-m", "grader.driver.autograde", options.assignment, "--force",
                 "--jobs", str(jobs), "--no-progress"],
    }
    roots = {"stock": stock_root, "ours": ours_root}
    results = {name: {"runs": [], "exit_codes": [], "memory": []} for name in commands}
    scores, graded, notebooks_graded = {}, {}, {}
    floors = []  # measure_floor() right after each of ours' runs
    consistent = True
    for run in range(options.runs):
        for name in ("stock", "ours"):
            reset_grades(roots[name])
            wall, code, memory = timed_run(commands[name], roots[name], env,
                                           base / f"{name}-run{run + 1}.log")
            results[name]["runs"].append(round(wall, 2))
            results[name]["exit_codes"].append(code)
            results[name]["memory"].append(memory)
            table = gradebook_scores(roots[name], options.assignment)
            if name in scores and table != scores[name]:
                consistent = False
            scores[name] = table
            graded[name] = graded_students(roots[name], options.assignment, names)
            notebooks_graded[name] = graded_notebooks(roots[name], options.assignment)
            print(f"bench: run {run + 1} {name:5s} {wall:7.1f} s  exit {code}  "
                  f"peak {memory['peak_pss_mib']:.0f} MiB PSS / {memory['peak_rss_mib']:.0f} MiB RSS",
                  flush=True)
            if name == "ours":
                boundary = boundary_cost(ours_root, options.assignment)
                # The overhead is ours minus the floor: both move with the machine's speed,
                # so the floor is measured right after each run, not once at the end.
                floors.append(measure_floor(ours_root, options.assignment, env))
                print(f"bench: run {run + 1} floor {floors[-1][0]:7.1f} s", flush=True)

    ablation = {}
    if options.ablation:
        variants = {"ours_without_zygote": {"COURSE_ZYGOTE": "0"},
                    "ours_without_speedups": {"GRADER_SPEEDUPS": "0"}}
        for label, extra_env in variants.items():
            root = base / label
            shutil.copytree(base / "class", root)
            wall, code, memory = timed_run(commands["ours"], root, {**env, **extra_env}, base / f"{label}.log")
            same = not compare(scores["stock"], gradebook_scores(root, options.assignment),
                               notebooks_graded["stock"], graded_notebooks(root, options.assignment))[0]
            ablation[label] = {"seconds": round(wall, 2), "exit_code": code, "same_scores": same,
                               "peak_pss_mib": memory["peak_pss_mib"], "cpu_s": memory["cpu_s"]}
            print(f"bench: {label:29s} {wall:7.1f} s  same scores: {same}", flush=True)

    diffs, only_ours = compare(scores["stock"], scores["ours"], notebooks_graded["stock"],
                               notebooks_graded["ours"])
    cells = sum(len(g) for nbs in scores["stock"].values() for g in nbs.values())
    failed = {name: sorted(set(roster) - set(graded[name])) for name in roots}
    found = json.loads(json.dumps(records.load_all(Course(ours_root), options.assignment)))
    reasons = {s: r.get("reason") for s, r in found.items() if r.get("status") == "failed"}

    print("bench: measuring the reference notebooks' floor and nbconvert --execute ...", flush=True)
    floor_runs = [floor[0] for floor in floors]
    floor_total = statistics.median(floor_runs)
    floor_cpu = statistics.median(floor[3] for floor in floors)
    _, floor_count, floor_by_name, _ = sorted(floors, key=lambda floor: floor[0])[len(floors) // 2]
    reference = reference_floor(ours_root, options.assignment, env)
    nbconvert = nbconvert_cost(ours_root, options.assignment, env)
    load_after = load_average()

    n_notebooks = len(roster) * len(names)
    stock_median = statistics.median(results["stock"]["runs"])
    ours_median = statistics.median(results["ours"]["runs"])
    ours_per_notebook_core = ours_median * jobs / n_notebooks
    floor_per_notebook = floor_total / n_notebooks
    overhead_runs = [seconds * jobs / n_notebooks - floor / n_notebooks
                     for seconds, floor in zip(results["ours"]["runs"], floor_runs)]
    overhead = statistics.median(overhead_runs)
    cpu = {name: statistics.median(m["cpu_s"] for m in results[name]["memory"]) for name in roots}
    peak = {name: max(m["peak_pss_mib"] for m in results[name]["memory"]) for name in roots}
    peak_rss = {name: max(m["peak_rss_mib"] for m in results[name]["memory"]) for name in roots}
    figures = {
        "students": len(roster), "notebooks_per_student": len(names), "notebooks": n_notebooks,
        "mix": mix, "cores": cores, "jobs": jobs, "runs": options.runs,
        "stock": {"median_s": round(stock_median, 2), "runs_s": results["stock"]["runs"],
                  "per_submission_s": round(stock_median / len(roster), 3),
                  "peak_pss_mib": peak["stock"], "peak_rss_mib": peak_rss["stock"],
                  "cpu_s": cpu["stock"], "cpu_per_notebook_s": round(cpu["stock"] / n_notebooks, 3),
                  "exit_codes": results["stock"]["exit_codes"], "failed": failed["stock"]},
        "ours": {"median_s": round(ours_median, 2), "runs_s": results["ours"]["runs"],
                 "per_submission_s": round(ours_median / len(roster), 3),
                 "per_notebook_per_core_s": round(ours_per_notebook_core, 3),
                 "peak_pss_mib": peak["ours"], "peak_rss_mib": peak_rss["ours"],
                 "cpu_s": cpu["ours"], "cpu_per_notebook_s": round(cpu["ours"] / n_notebooks, 3),
                 "cpu_overhead_per_notebook_s": round((cpu["ours"] - floor_cpu) / n_notebooks, 3),
                 "exit_codes": results["ours"]["exit_codes"], "failed": failed["ours"],
                 "failure_reasons": reasons},
        "ratio_stock_over_ours": round(stock_median / ours_median, 2),
        "same_scores": not diffs and failed["stock"] == failed["ours"],
        "cells_compared_per_run": cells, "score_differences": diffs[:50],
        "notebooks_only_ours_graded": only_ours,
        "scores_stable_across_runs": consistent,
        "nbconvert_execute_reference": nbconvert,
        "floor": {"total_s": round(floor_total, 2), "cpu_s": round(floor_cpu, 2),
                  "runs_s": [round(floor, 2) for floor in floor_runs],
                  "graded_notebooks": floor_count,
                  "per_notebook_s": round(floor_per_notebook, 3), "mean_by_notebook_s": floor_by_name,
                  "reference_notebooks_s": reference,
                  "how": "cells of every graded notebook (hidden tests included), run in a fresh "
                         "fork of an interpreter that has imported numpy, sympy and matplotlib, "
                         "right after each of ours' runs (medians over the runs); "
                         "per notebook = total / all submitted notebooks"},
        "overhead_per_notebook_s": round(overhead, 3),
        "boundary_per_notebook": boundary,
        "overhead_runs_s": [round(value, 3) for value in overhead_runs],
        "ablation": {label: dict(value, overhead_per_notebook_s=round(
            value["seconds"] * jobs / n_notebooks - floor_per_notebook, 3))
            for label, value in ablation.items()},
        "goals": {
            "ratio_at_least_5": stock_median / ours_median >= 5,
            "overhead_at_most_0.5_s": overhead <= 0.5,
            "peak_memory_below_2_GiB": peak["ours"] * 2**20 < 2 * GIB,
            "same_grades": not diffs and failed["stock"] == failed["ours"],
        },
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "load_average_before": load_before, "load_average_after": load_after},
        "class_dir": str(base),
    }
    out = Path(options.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=1))

    ok = lambda flag: "yes" if flag else "NO"  # noqa: E731
    print()
    print(f"class            {len(roster)} students x {len(names)} notebooks = {n_notebooks} "
          f"notebooks ({', '.join(f'{v} {k}' for k, v in mix.items())}); {cores} cores")
    print(f"stock nbgrader   median {stock_median:7.1f} s  ({', '.join(map(str, results['stock']['runs']))})"
          f"  {stock_median / len(roster):.2f} s/submission  peak {peak['stock']:.0f} MiB PSS"
          f" ({peak_rss['stock']:.0f} MiB RSS)")
    print(f"ours, {jobs} workers  median {ours_median:7.1f} s  ({', '.join(map(str, results['ours']['runs']))})"
          f"  {ours_median / len(roster):.2f} s/submission  peak {peak['ours']:.0f} MiB PSS"
          f" ({peak_rss['ours']:.0f} MiB RSS)")
    print(f"ratio stock/ours {stock_median / ours_median:.2f}x            (goal >= 5: {ok(stock_median / ours_median >= 5)})")
    print(f"same grades      {ok(not diffs)} ({cells} cells per run; failed submissions: "
          f"stock {len(failed['stock'])}, ours {len(failed['ours'])}, "
          f"{'same' if failed['stock'] == failed['ours'] else 'DIFFERENT'} students)")
    if only_ours:
        print(f"                 + {len(only_ours)} notebook(s) of failed students that stock nbgrader "
              f"dropped and ours graded on their own")
    if nbconvert.get("seconds") is not None:
        print(f"nbconvert        {nbconvert['seconds']:.1f} s to execute the {len(names)} reference notebooks")
    print(f"floor            median {floor_total:.1f} s ({', '.join(f'{f:.1f}' for f in floor_runs)}, each "
          f"right after a run of ours) of cells in {floor_count} graded notebooks "
          f"({floor_per_notebook:.2f} s per notebook); reference notebooks "
          f"{', '.join(f'{k} {v:.2f} s' for k, v in reference.items())}")
    print(f"overhead         median over runs of (ours per notebook per core - the floor after it) = "
          f"{overhead:.2f} s ({', '.join(f'{o:.2f}' for o in overhead_runs)}) (goal <= 0.5: {ok(overhead <= 0.5)}); "
          f"from the medians: {ours_per_notebook_core:.2f} - {floor_per_notebook:.2f} = "
          f"{ours_per_notebook_core - floor_per_notebook:.2f} s")
    print(f"CPU time         the machine's, while each ran: stock {cpu['stock']:.0f} s, ours {cpu['ours']:.0f} s: "
          f"per notebook {cpu['stock'] / n_notebooks:.2f} s and {cpu['ours'] / n_notebooks:.2f} s; ours minus the "
          f"floor's {floor_cpu:.0f} s: {(cpu['ours'] - floor_cpu) / n_notebooks:.2f} s per notebook")
    if boundary:
        print(f"boundary         per notebook (medians, last run of ours): connect {boundary['connect_s']:.3f} s, "
              f"{boundary['requests']:.0f} requests, {boundary['waiting_s']:.3f} s waiting on the kernel; "
              f"hidden tests in the grader {boundary['hidden_tests_s']:.3f} s in all")
    print(f"peak memory      {peak['ours']:.0f} MiB (goal < 2048: {ok(peak['ours'] * 2**20 < 2 * GIB)})")
    for label, value in figures["ablation"].items():
        print(f"{label:29s} {value['seconds']:.1f} s, overhead {value['overhead_per_notebook_s']:.2f} s "
              f"per notebook; CPU {value['cpu_s']:.0f} s")
    print(f"load average     before {load_before}, after {load_after} (other work on the machine skews timings)")
    print(f"figures written to {out}")
    if not options.keep:
        shutil.rmtree(base, ignore_errors=True)
    return 0 if not diffs else 1


if __name__ == "__main__":
    sys.exit(main())
