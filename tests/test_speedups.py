"""Speed-ups of third-party code (grader/speedups): version-gated, one switch, the same results.

Each speed-up runs only on the versions it was written for; `GRADER_SPEEDUPS=0` turns all
off; and with it on, what it touches gives the same results as the stock code
(differential: the same validation verdicts and messages for good and broken notebooks).
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from grader import speedups

REPO = Path(__file__).resolve().parent.parent

VALIDATE = r'''
import json, sys
from grader import speedups
state = speedups.install()
import nbformat
from nbgrader.nbgraderformat import MetadataValidator
results = {}
for path in sys.argv[1:]:
    try:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        MetadataValidator().validate_nb(nb)
        results[path] = "valid"
    except Exception as error:
        results[path] = f"{type(error).__name__}: {str(error)[:300]}"
print(json.dumps({"state": state, "results": results,
                  "iri_parsers_imported": "rfc3987_syntax" in sys.modules and sys.modules["rfc3987_syntax"] is not None}))
'''


def validate(paths, enabled):
    env = dict(os.environ, GRADER_SPEEDUPS="1" if enabled else "0")
    run = subprocess.run([sys.executable, "-c", VALIDATE, *map(str, paths)], env=env, capture_output=True,
                         text=True, cwd=REPO)
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def broken_notebooks(tmp_path):
    import nbformat
    nb = nbformat.read(str(REPO / "release" / "tutorial08" / "A_theory.ipynb"), as_version=4)
    nb.cells[0]["metadata"]["nbgrader"] = {"grade": True}  # metadata nbgrader refuses
    bad_meta = tmp_path / "bad_metadata.ipynb"
    nbformat.write(nb, str(bad_meta))
    bad_schema = tmp_path / "bad_schema.ipynb"
    data = json.loads((REPO / "release" / "tutorial08" / "A_theory.ipynb").read_text())
    data["cells"][0]["cell_type"] = "nonsense"
    bad_schema.write_text(json.dumps(data))
    return [bad_meta, bad_schema]


def test_same_verdicts_with_and_without_the_speedups(tmp_path):
    paths = sorted((REPO / "source" / "tutorial08").glob("*.ipynb")) + broken_notebooks(tmp_path)
    on, off = validate(paths, True), validate(paths, False)
    assert set(on["state"].values()) == {"on"}, on["state"]
    assert all(value.startswith("off") for value in off["state"].values()), off["state"]
    assert on["results"] == off["results"]
    assert list(on["results"].values()).count("valid") == len(paths) - 2
    assert not on["iri_parsers_imported"]


def test_a_speedup_stays_off_on_other_versions(monkeypatch):
    applied = []
    monkeypatch.setattr(speedups, "SPEEDUPS", {"probe": ({"jsonschema": "0.0.1"}, lambda: applied.append(1))})
    state = speedups.install()
    assert applied == [] and state["probe"].startswith("off: written for jsonschema 0.0.1")


KERNEL = r'''
import json, os, sys
os.environ["COURSE_ZYGOTE"] = "1"
from grader import speedups
state = speedups.install()
from jupyter_core.utils import run_sync
from grader.sandbox.manager import SandboxKernelManager, close_sandboxes
km = SandboxKernelManager(kernel_name="python3")
run_sync(km.start_kernel)()
client = km.client()
client.start_channels()
run_sync(client.wait_for_ready)(timeout=60)
seen = []
def keep(msg):
    content = msg["content"]
    if msg["msg_type"] == "stream":
        seen.append(["stream", content["name"], content["text"]])
    elif msg["msg_type"] in ("execute_result", "error"):
        seen.append([msg["msg_type"], content.get("data", {}).get("text/plain", content.get("ename"))])
for code in ["x = 6 * 7\nprint(x)", "x / 0", "import sys; sys.stderr.write('to stderr\\n'); x + 1"]:
    reply = run_sync(client.execute_interactive)(code, timeout=60, output_hook=keep)
    seen.append(["status", reply["content"]["status"]])
client.stop_channels()
run_sync(km.shutdown_kernel)()
close_sandboxes()
print(json.dumps({"state": state, "quick": type(client).quick, "poll": km.exit_poll_interval, "seen": seen}))
'''


def run_kernel(enabled):
    env = dict(os.environ, GRADER_SPEEDUPS="1" if enabled else "0")
    run = subprocess.run([sys.executable, "-c", KERNEL], env=env, capture_output=True, text=True, cwd=REPO,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_a_kernel_answers_the_same_with_and_without_the_client_speedups():
    on, off = run_kernel(True), run_kernel(False)
    assert on["state"]["kernel_ready_on_idle"] == on["state"]["kernel_exit_noticed_soon"] == "on"
    assert on["quick"] and on["poll"] == 0.005
    assert not off["quick"] and off["poll"] is None
    assert on["seen"] == off["seen"]
    assert ["stream", "stdout", "42\n"] in on["seen"] and ["execute_result", "43"] in on["seen"]
