"""The sandbox grading kernels run in: what a kernel sees and what it can do.

A kernel started the way grading starts it (forked from the zygote inside
bubblewrap) probes its own world; the test checks the answers. The same
isolation code is also run as an unprivileged user, where the machine allows
unprivileged user namespaces (this one does).
"""
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from jupyter_core.utils import run_sync

from grader.sandbox import policy, zygote
from grader.sandbox.manager import SandboxKernelManager

REPO = Path(__file__).resolve().parent.parent

PROBE = r'''
import json, os, socket, sys
def can(action):
    try:
        action()
        return True
    except Exception:
        return False
def status(field):
    return open('/proc/self/status').read().split(field + ':')[1].split()[0]
probe = {
    "cwd": os.getcwd(), "files": sorted(os.listdir('.')), "uid": os.getuid(),
    "course_root": sorted(os.listdir(COURSE_ROOT)) if os.path.isdir(COURSE_ROOT) else [],
    "source": os.path.exists(COURSE_ROOT + '/source'),
    "gradebook": os.path.exists(COURSE_ROOT + '/gradebook.db'), "shadow": os.path.exists('/etc/shadow'),
    "home_of_root": sorted(os.listdir('/root')) if os.path.isdir('/root') else [],
    "processes": sorted(int(p) for p in os.listdir('/proc') if p.isdigit()),
    "fork": can(os.fork), "network": can(lambda: socket.create_connection(('10.0.0.1', 53), timeout=1)),
    "cap_eff": status('CapEff'), "no_new_privs": status('NoNewPrivs'),
    "zygote_memory": can(lambda: open('/proc/2/mem', 'rb').read(1)),
    "zygote_environ": can(lambda: open('/proc/2/environ', 'rb').read()),
    "write_usr": can(lambda: open('/usr/lib/probe', 'w')),
    "write_python": can(lambda: open(sys.prefix + '/probe', 'w')),
    "tmp": sorted(os.listdir('/tmp')), "write_tmp": can(lambda: open('/tmp/probe', 'w')),
    "runs": os.listdir('/run/grader') if os.path.isdir('/run/grader') else None,
    "env_keys": sorted(os.environ),
}
print(json.dumps(probe))
'''


def needs_isolation():
    works, reason = policy.bwrap_works()
    if not works:
        pytest.skip(f"bubblewrap cannot build a sandbox here: {reason}")


@pytest.fixture(scope="module", params=["zygote", "fresh"])
def probe(request):
    """What a kernel sees, forked from the zygote (the driver's workers) or started fresh (a plain
    nbgrader command)."""
    needs_isolation()
    saved = os.environ.get("COURSE_ZYGOTE")
    os.environ["COURSE_ZYGOTE"] = "1" if request.param == "zygote" else "0"
    folder = Path(tempfile.mkdtemp(prefix="student-files-"))
    (folder / "A_theory.ipynb").write_text("{}")
    (folder / "data.csv").write_text("1,2\n")
    km = SandboxKernelManager(kernel_name="python3")
    km.student_files = [str(folder)]
    run_sync(km.start_kernel)()
    client = km.client()
    client.start_channels()
    try:
        run_sync(client.wait_for_ready)(timeout=120)
        seen = []
        code = f"COURSE_ROOT = {str(REPO)!r}\n" + PROBE
        run_sync(client.execute_interactive)(
            code, timeout=60, output_hook=lambda m: seen.append(m["content"].get("text", ""))
            if m["msg_type"] == "stream" else None)
        yield dict(json.loads("".join(seen)), started=request.param, sandbox=km.mode)
    finally:
        if saved is None:
            os.environ.pop("COURSE_ZYGOTE", None)
        else:
            os.environ["COURSE_ZYGOTE"] = saved
        client.stop_channels()
        run_sync(km.shutdown_kernel)(now=True)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
def test_a_kernel_sees_only_the_students_own_files(probe):
    assert probe["files"] == ["A_theory.ipynb", "data.csv"]
    assert probe["cwd"] == "/kernel/work"
    assert not probe["source"] and not probe["gradebook"]
    # of the course root, at most the virtual environment and the student package (read-only)
    assert set(probe["course_root"]) <= {".venv", "student"}
    assert probe["runs"] == []  # other kernels' folders are covered
    # a fresh /tmp: at most the folders leading to a Python tree cloned under /tmp, nothing else
    kept = {Path(tree).relative_to("/tmp").parts[0] for tree in policy.trees_under_tmp()}
    assert set(probe["tmp"]) <= kept | {"home", "mpl"}


@pytest.mark.slow
def test_a_kernel_sees_no_secret_of_the_machine(probe):
    assert not probe["shadow"]
    python_home = str(Path(sys.base_prefix).resolve())
    if python_home.startswith("/root/"):  # only the interpreter's folder is mounted under /root
        assert probe["home_of_root"] == [Path(python_home).relative_to("/root").parts[0]]
    assert set(probe["env_keys"]) <= set(zygote.kernel_env()) | {"JPY_SESSION_NAME", "PYDEVD_USE_FRAME_EVAL",
                                                               "JPY_PARENT_PID", "CLICOLOR", "FORCE_COLOR",
                                                               "GIT_PAGER", "PAGER", "TERM", "MPLBACKEND",
                                                               "CLICOLOR_FORCE"}


@pytest.mark.slow
def test_a_kernel_can_do_nothing_beyond_python(probe):
    assert not probe["fork"], "processes are refused (seccomp)"
    assert not probe["network"], "no network namespace but its own, empty"
    assert probe["cap_eff"] == "0000000000000000" and probe["no_new_privs"] == "1"
    assert not probe["write_usr"] and not probe["write_python"], "the system and Python are read-only"
    assert probe["write_tmp"], "a kernel has a scratch /tmp of its own"
    assert probe["uid"] == 65534


@pytest.mark.slow
def test_a_kernel_cannot_reach_into_the_zygote(probe):
    if probe["started"] != "zygote":
        assert probe["processes"][:2] == [1, 2], "bubblewrap's init and the kernel: nothing of the grader"
        return
    assert probe["processes"][:2] == [1, 2], "bubblewrap's init and the zygote: nothing of the grader"
    assert max(probe["processes"]) < 1000
    assert not probe["zygote_memory"] and not probe["zygote_environ"], "the zygote is undumpable"


# ---------------------------------------------------------------- the same isolation without root

UNPRIVILEGED = "course-sandbox-test"
NONROOT_PROBE = r'''
import json, os, sys
sys.path.insert(0, "/opt/grader")
import kernel_process
spec = json.loads(sys.argv[1])
kernel_process.isolate(spec)
kernel_process.drop_capabilities()
kernel_process.no_new_processes()
def can(action):
    try:
        action()
        return True
    except Exception:
        return False
print(json.dumps({"uid": os.getuid(), "files": sorted(os.listdir("/kernel/work")),
                  "runs": os.listdir(spec["runs"]), "course": os.path.exists(spec["course"]),
                  "fork": can(os.fork), "cap": open("/proc/self/status").read().split("CapEff:")[1].split()[0]}))
'''


def unprivileged_user():
    """(uid, gid) of a user without privileges (created when running as root), else skip."""
    if os.getuid() != 0:
        return os.getuid(), os.getgid()
    try:
        entry = pwd.getpwnam(UNPRIVILEGED)
    except KeyError:
        made = subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                               UNPRIVILEGED], capture_output=True, text=True)
        if made.returncode:
            pytest.skip(f"cannot create an unprivileged user to test with: {made.stderr.strip()}")
        entry = pwd.getpwnam(UNPRIVILEGED)
    return entry.pw_uid, entry.pw_gid


@pytest.mark.slow
def test_the_isolation_works_for_an_unprivileged_user():
    needs_isolation()
    tmp_path = Path(tempfile.mkdtemp(prefix="sandbox-test-"))  # pytest's own folder is private to root
    system_python = shutil.which("python3", path="/usr/bin:/bin")
    if system_python is None:
        pytest.skip("no system python3 for an unprivileged user to run")
    uid, gid = unprivileged_user()
    runs = tmp_path / "runs"
    (runs / "k1" / "work").mkdir(parents=True)
    (runs / "k1" / "work" / "mine.ipynb").write_text("{}")
    (runs / "k0").mkdir()  # another kernel's folder
    course = tmp_path / "course"
    (course / "source").mkdir(parents=True)
    script = tmp_path / "kernel_process.py"
    shutil.copy(zygote.SCRIPT, script)
    for path in [tmp_path, runs, runs / "k1", runs / "k1" / "work", runs / "k0", script]:
        os.chown(path, uid, gid)
    os.chmod(tmp_path, 0o755)
    spec = {"runs": "/run/grader", "dir": "/run/grader/k1", "course": str(course)}
    command = [policy.bwrap_path(), "--unshare-all", "--unshare-user", "--uid", "65534", "--gid", "65534",
               "--die-with-parent", "--cap-add", "ALL", *policy.system_binds(),
               "--ro-bind", str(script), "/opt/grader/kernel_process.py", "--proc", "/proc", "--dev", "/dev",
               "--tmpfs", "/tmp", "--dir", "/kernel", "--bind", str(runs), "/run/grader", "--",
               system_python, "-c", NONROOT_PROBE, json.dumps(spec)]

    def demote():
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    run = subprocess.run(command, capture_output=True, text=True, timeout=60,
                         preexec_fn=demote if os.getuid() == 0 else None)
    shutil.rmtree(tmp_path, ignore_errors=True)
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout)
    assert seen["files"] == ["mine.ipynb"] and seen["runs"] == [] and not seen["course"]
    assert not seen["fork"] and seen["cap"] == "0000000000000000" and seen["uid"] == 65534


def test_a_kernel_started_without_the_sandboxs_hook_stops_grading(monkeypatch):
    """If jupyter_client stopped calling the hook that starts kernels in the sandbox, the kernel
    would run unsandboxed: the manager notices and refuses."""
    needs_isolation()
    from jupyter_client.manager import AsyncKernelManager
    monkeypatch.setattr(SandboxKernelManager, "_async_pre_start_kernel", AsyncKernelManager._async_pre_start_kernel)
    km = SandboxKernelManager(kernel_name="python3")
    with pytest.raises(RuntimeError, match="outside the sandbox"):
        run_sync(km.start_kernel)()
    assert not run_sync(km.is_alive)()


def test_grading_refuses_to_start_when_an_nbclient_hook_is_gone(monkeypatch):
    from grader.plugins.execute import GradedExecute
    monkeypatch.setattr(GradedExecute, "HOOKS", ("_no_such_hook_of_nbclient",))
    with pytest.raises(RuntimeError, match="_no_such_hook_of_nbclient"):
        GradedExecute()
