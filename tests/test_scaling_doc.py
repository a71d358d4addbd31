"""The multi-machine recipes in docs/scaling.md run real commands with real flags (seconds).

The Slurm script and the Kubernetes manifest cannot run here; what can be checked is that
every command they (and the GNU parallel line) start exists, accepts the flags given, and
shards the class into as many parts as the scheduler starts tasks.
"""
import functools
import re
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
DOC = (REPO / "docs" / "scaling.md").read_text()
SECTION = DOC[DOC.index("## A class too large for one machine"):]


def fenced(language):
    return re.findall(rf"```{language}\n(.*?)```", SECTION, re.S)


@functools.lru_cache(maxsize=1)
def driver_flags():
    run = subprocess.run([sys.executable, "-m", "grader.driver.autograde", "--help"], cwd=REPO,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return set(re.findall(r"(--[a-z][a-z-]*)", run.stdout))


def driver_calls(text):
    """Each `python -m grader.driver.autograde ...` command in `text`: its arguments, lines joined."""
    text = text.replace("\\\n", " ")
    return [shlex.split(m, comments=False) for m in re.findall(r"-m grader\.driver\.autograde ([^'\n]*)", text)]


def check_call(arguments, shards):
    flags = driver_flags()
    assert arguments[0] == "tutorial08" and (REPO / "source" / arguments[0]).is_dir()
    assert {a for a in arguments if a.startswith("--")} <= flags, (arguments, flags)
    shard = arguments[arguments.index("--shard") + 1]
    assert shard.endswith(f"/{shards}"), (shard, shards)


def test_the_slurm_array_runs_one_shard_per_task():
    (script,) = fenced("bash")
    assert script.startswith("#!/bin/bash\n")
    array = re.search(r"#SBATCH --array=1-(\d+)", script)
    assert array, script
    (call,) = driver_calls(script)
    check_call(call, int(array.group(1)))
    assert "${SLURM_ARRAY_TASK_ID}/" in " ".join(call)
    assert ".venv/bin/python -m grader.driver.autograde" in script
    run = subprocess.run(["bash", "-n"], input=script, text=True, capture_output=True)
    assert run.returncode == 0, run.stderr


def test_the_kubernetes_indexed_job_runs_one_shard_per_index():
    (manifest,) = fenced("yaml")
    job = yaml.safe_load(manifest)
    assert job["kind"] == "Job" and job["apiVersion"] == "batch/v1"
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed" and spec["completions"] == spec["parallelism"]
    (container,) = spec["template"]["spec"]["containers"]
    command = " ".join(container["command"] + container["args"])
    (call,) = driver_calls(command)
    check_call(call, spec["completions"])
    assert "$((JOB_COMPLETION_INDEX + 1))/" in command  # the index counts from 0, shards from 1
    assert {e["name"] for e in container["env"]} == {"NBGRADER_DB_URL", "PGPASSWORD"}
    assert "secretKeyRef" in str(container["env"]) and "@" in container["env"][0]["value"]
    assert ":" not in container["env"][0]["value"].split("//")[1].split("@")[0]  # no password in the URL


def test_the_parallel_line_and_the_make_targets_exist():
    calls = driver_calls(SECTION)
    parallel = [c for c in calls if "--shard" in c and c[c.index("--shard") + 1] == "{}/4"]
    assert parallel, calls
    check_call(parallel[0], 4)
    assert "::: 1 2 3 4" in SECTION.replace("\\\n", " ")
    targets = set(re.findall(r"^([a-z][a-z-]*):", (REPO / "Makefile").read_text(), re.M))
    for line in re.findall(r"\bmake ([a-z][-a-z| ]*)", SECTION):
        for target in re.split(r"[ |]+", line.strip()):
            if target and not target.startswith("-") and "=" not in target:
                assert target in targets, (target, line)
    for tool in set(re.findall(r"`(tools/[\w.]+|tests/[\w.]+)`", SECTION)):
        assert (REPO / tool).exists(), tool
