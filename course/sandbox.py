"""A sandbox for the kernels that run student code during `nbgrader autograde`.

nbgrader runs every submission in a Jupyter kernel as the grading user, in
`autograded/<student>/<assignment>/`: by default a student's code can read
`../../../source/` (the hidden tests), write the gradebook, loop forever,
eat the machine's memory or flood the grader with output. Activated by
`nbgrader_config.py`, this module changes how that kernel is started and
watched (what each mode protects: docs/sandbox.md):

- `SandboxedKernelManager` starts the kernel through `sandbox_launch.py`:
  resource limits always (CPU seconds, address space, processes, file size,
  open files); as root also an unprivileged user, no network, a private PID
  space and a file system holding only the system, Python, the `course`
  package and a private copy of the working directory.
- `SandboxedExecute` (nbgrader's Execute preprocessor, extended) uses that
  kernel manager; caps each cell's output (streams by bytes, images and other
  rich outputs by size, so a flood cannot exhaust the grader); shortens the
  cell timeout once a notebook has had two cells time out (a hanging function
  called by many tests costs two full timeouts, not one per test); runs the
  integrity guard (`course.guard`, in the kernel's cell hooks) around every graded cell (functions of
  the checking stack replaced by the student are put back before the tests
  run, and a test cell during which they were replaced scores zero); and turns
  "Kernel died" into a reason a person can act on (`SubmissionNotGradable`).

Modes: `c.SandboxedKernelManager.isolation` = "auto" (isolated when running
as root and namespaces work, else limits), "isolated", "limits" or "off";
the environment variable COURSE_SANDBOX overrides it.
"""
import functools
import json
import os
import pwd
import shutil
import site
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync
from nbclient.exceptions import DeadKernelError
from nbformat.v4 import output_from_msg
from nbgrader.preprocessors import Execute
from traitlets import Bool, Float, Integer, Unicode, default

from . import integrity

LAUNCHER = Path(__file__).resolve().parent / "sandbox_launch.py"
PACKAGE_DIR = Path(__file__).resolve().parent
MODES = ("auto", "isolated", "limits", "off")
UID_BASE = 0x20000000  # per-kernel user ids: far above any real account

# Environment variables a kernel may inherit; everything else (tokens, database
# URLs, the grader's paths) is dropped.
KEEP_ENV = ("PATH", "LANG", "LANGUAGE", "TZ", "TERM", "PYTHONHASHSEED", "PYTHONIOENCODING",
            "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", "PYTHONPATH", "MPLBACKEND",
            "NBGRADER_EXECUTION", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
            "NUMEXPR_NUM_THREADS", "PYDEVD_DISABLE_FILE_VALIDATION")
KEEP_ENV_PREFIXES = ("LC_", "JPY_")


class SubmissionNotGradable(Exception):
    """The submission's kernel stopped or stopped answering: nothing after this point can be graded.

    The message is the reason reported for the student ("the kernel was killed:
    CPU time limit of 900 s exceeded while running cell 'b1_sigmoid'").
    """


# ----------------------------------------------------------------- policy

def requested_mode(configured="auto"):
    mode = os.environ.get("COURSE_SANDBOX", configured) or "auto"
    if mode not in MODES:
        raise ValueError(f"COURSE_SANDBOX / SandboxedKernelManager.isolation must be one of {MODES}, not {mode!r}")
    return mode


def ensure_user(name):
    """(uid, gid) of the unprivileged kernel user, created (as a system user) if missing."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        command = ["useradd", "--system", "--user-group", "--no-create-home",
                   "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", name]
        made = subprocess.run(command, capture_output=True, text=True)
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            raise RuntimeError(f"cannot create the sandbox user {name!r}: {made.stderr.strip()}") from None
    if entry.pw_uid == 0:
        raise RuntimeError(f"the sandbox user {name!r} is root")
    return entry.pw_uid, entry.pw_gid


def python_paths():
    """Directories the kernel's Python needs: the installation, the venv, site-packages, `course`."""
    paths = {sys.prefix, sys.exec_prefix, os.path.realpath(sys.base_prefix),
             os.path.realpath(sys.base_exec_prefix), str(PACKAGE_DIR)}
    paths.update(site.getsitepackages())
    if site.ENABLE_USER_SITE and os.path.isdir(site.getusersitepackages()):
        paths.add(site.getusersitepackages())
    executable = os.path.realpath(sys.executable)
    paths.add(os.path.dirname(os.path.dirname(executable)))
    paths.update(p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p)
    return sorted(os.path.realpath(p) for p in paths if p and os.path.isdir(p))


def _contains(outer, inner):
    outer, inner = os.path.realpath(outer), os.path.realpath(inner)
    return inner == outer or inner.startswith(outer.rstrip("/") + "/")


def exposed_paths(protected):
    """python_paths() minus any directory that would reveal a protected one (the course root)."""
    keep = []
    for path in python_paths():
        if path == "/" or any(_contains(path, p) for p in protected):
            continue
        keep.append(path)
    return keep


@functools.lru_cache(maxsize=None)
def isolation_problem(user):
    """None if the isolated mode works here, else why not (checked once per process)."""
    if os.geteuid() != 0:
        return "not running as root"
    if sys.platform != "linux":
        return "not Linux"
    try:
        uid, gid = ensure_user(user)
    except RuntimeError as error:
        return str(error)
    with tempfile.TemporaryDirectory(prefix="course-sbx-probe-") as folder:
        os.mkdir(os.path.join(folder, "w"))
        spec = _spec("isolated", folder, cwd=os.path.join(folder, "w"), uid=uid, gid=gid, limits={},
                     expose=exposed_paths([folder]), env={"PATH": os.environ.get("PATH", "")})
        os.mkdir(os.path.join(folder, "root"))
        os.mkdir(os.path.join(folder, "c"))
        spec_file = Path(folder) / "spec.json"
        spec_file.write_text(json.dumps(spec))
        run = subprocess.run(
            [sys.executable, "-I", "-S", str(LAUNCHER), str(spec_file), "--", sys.executable, "-I", "-c",
             "import os, sys; sys.exit(0 if os.getuid() != 0 and os.getpid() == 2 else 3)"],
            capture_output=True, text=True, timeout=60)
        if run.returncode != 0:
            log = (Path(folder) / "kernel.log")
            detail = log.read_text().strip() if log.exists() else run.stderr.strip()
            return f"namespace probe failed (exit {run.returncode}): {detail[-300:]}"
    return None


def _spec(mode, folder, cwd, uid, gid, limits, expose, env):
    return {
        "mode": mode, "cwd": cwd, "uid": uid, "gid": gid, "limits": limits,
        "expose": expose, "env": env, "share": [os.path.join(folder, "c")],
        "new_root": os.path.join(folder, "root"),
        "log_file": os.path.join(folder, "kernel.log"),
        "status_file": os.path.join(folder, "status.json"),
        "events_file": os.path.join(folder, "events.jsonl"),
        "tmp_size": "256m", "root_size": "128m", "copy_limit_bytes": 64 << 20,
    }


def matplotlib_cache_files():
    """The grader's matplotlib font list (building one costs a kernel a few tenths of a second)."""
    folder = os.environ.get("MPLCONFIGDIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "matplotlib")
    return sorted(str(p) for p in Path(folder).glob("fontlist-*.json") if p.is_file())


def kernel_env(env, home):
    """The grader's environment reduced to what a kernel needs."""
    kept = {k: v for k, v in env.items() if k in KEEP_ENV or k.startswith(KEEP_ENV_PREFIXES)}
    kept.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    # a venv's bin first, so `python` in a subprocess is the kernel's own
    kept["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), kept["PATH"]])
    kept.update({"HOME": home, "USER": "sandbox", "LOGNAME": "sandbox", "TMPDIR": "/tmp",
                 "MPLCONFIGDIR": os.path.join(home, ".matplotlib"), "MALLOC_ARENA_MAX": "2"})
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        kept.setdefault(var, "1")  # fewer threads: less memory, fewer tasks under the process limit
    return kept


# ----------------------------------------------------------------- kernel manager

class SandboxedKernelManager(AsyncKernelManager):
    """Starts the kernel through the sandbox launcher; see the module docstring."""

    isolation = Unicode("auto", help="auto | isolated | limits | off (env COURSE_SANDBOX overrides)").tag(config=True)
    sandbox_user = Unicode("course-sandbox", help="unprivileged user the kernel runs as (isolated mode)").tag(config=True)
    cpu_seconds = Integer(900, help="CPU time of the kernel process (all its cells)").tag(config=True)
    memory_mb = Integer(2048, help="address space of each kernel process").tag(config=True)
    max_processes = Integer(256, help="processes and threads of the kernel user").tag(config=True)
    max_file_mb = Integer(64, help="largest file the kernel may write").tag(config=True)
    open_files = Integer(1024, help="open file descriptors per process").tag(config=True)
    allow_processes = Bool(False, help="let student code start processes (fork, subprocess); when off a "
                                       "seccomp filter refuses them, so a fork bomb fails at once").tag(config=True)
    max_children = Integer(32, help="processes the kernel may have running below it; more and they "
                                    "are all killed (a fork bomb)").tag(config=True)
    uid_per_kernel = Bool(True, help="isolated mode: each kernel gets a user id of its own "
                                     "(UID_BASE + launcher PID), so the process limit is per kernel").tag(config=True)

    # set by SandboxedExecute: directories the kernel must never see exposed
    protected_paths = []

    @default("client_factory")
    def _default_client_factory(self):
        # tags graded cells for the integrity guard; a quicker wait for the kernel
        from .kernel_client import GraderClient
        return GraderClient

    def resolved_mode(self):
        mode = requested_mode(self.isolation)
        if mode == "auto":
            problem = isolation_problem(self.sandbox_user)
            if problem:
                self.log.info("sandbox: isolation unavailable (%s); kernels get resource limits only", problem)
                return "limits"
            return "isolated"
        if mode == "isolated":
            problem = isolation_problem(self.sandbox_user)
            if problem:
                raise RuntimeError(f"sandbox isolation was requested but is unavailable: {problem}")
        return mode

    def limits(self):
        return {"cpu_seconds": self.cpu_seconds, "memory_bytes": self.memory_mb << 20,
                "processes": self.max_processes, "file_bytes": self.max_file_mb << 20,
                "open_files": self.open_files, "core_bytes": 0}

    async def _async_pre_start_kernel(self, **kw):
        self.sandbox_mode = self.resolved_mode()
        if self.sandbox_mode == "off":
            self.sandbox_dir = None
            return await super()._async_pre_start_kernel(**kw)
        # a short path: the kernel's Unix sockets live here (at most ~100 characters)
        folder = tempfile.mkdtemp(prefix="course-sbx-", dir="/tmp" if os.path.isdir("/tmp") else None)
        self.sandbox_dir = folder
        share = os.path.join(folder, "c")
        os.mkdir(share, 0o700)
        uid = gid = None
        if self.sandbox_mode == "isolated":
            uid, gid = ensure_user(self.sandbox_user)
            os.chown(share, uid, gid)
            os.mkdir(os.path.join(folder, "root"), 0o755)
            # the kernel talks to us over Unix sockets: it has no network at all
            self.transport = "ipc"
            self.ip = os.path.join(share, "k")
        self.connection_file = os.path.join(share, "kernel.json")
        kernel_cmd, kw = await super()._async_pre_start_kernel(**kw)
        if uid is not None:
            os.chown(self.connection_file, uid, gid)
        cwd = os.path.realpath(kw.get("cwd") or os.getcwd())
        if self.sandbox_mode == "isolated":
            home = "/tmp/home"
        else:
            home = os.path.join(folder, "home")
            os.mkdir(home, 0o700)
        env = kernel_env(kw.get("env") or os.environ, home)
        protected = [cwd, *self.protected_paths]
        spec = _spec(self.sandbox_mode, folder, cwd, uid, gid, self.limits(),
                     exposed_paths(protected), env)
        spec["hide"] = [p for p in protected if p != cwd]
        spec["mpl_cache_files"] = matplotlib_cache_files()
        if self.sandbox_mode != "isolated" and spec["mpl_cache_files"]:
            os.makedirs(env["MPLCONFIGDIR"], exist_ok=True)
            for path in spec["mpl_cache_files"]:
                shutil.copy(path, env["MPLCONFIGDIR"])
        if uid is not None and self.uid_per_kernel:
            spec["uid_base"] = UID_BASE
        spec["max_children"] = self.max_children
        spec["no_processes"] = not self.allow_processes
        spec_file = os.path.join(folder, "spec.json")
        with open(spec_file, "w") as handle:
            json.dump(spec, handle)
        kw["env"] = env
        return [sys.executable, "-I", "-S", str(LAUNCHER), spec_file, "--", *kernel_cmd], kw

    def sandbox_exit(self):
        """How the kernel process ended ({} if unknown), from the launcher's status file."""
        folder = getattr(self, "sandbox_dir", None)
        if not folder:
            return {}
        try:
            return json.loads(Path(folder, "status.json").read_text() or "{}")
        except (OSError, ValueError):
            return {}

    def sandbox_events(self):
        """What the supervisor did ([{"kind": "process_bomb", ...}]), from its events file."""
        folder = getattr(self, "sandbox_dir", None)
        events = []
        try:
            lines = Path(folder, "events.jsonl").read_text().splitlines() if folder else []
        except OSError:
            lines = []
        for line in lines:
            try:
                events.append(json.loads(line))
            except ValueError:
                continue
        return events

    def sandbox_log_tail(self, size=2000):
        folder = getattr(self, "sandbox_dir", None)
        try:
            data = Path(folder, "kernel.log").read_bytes()[-size:] if folder else b""
        except OSError:
            data = b""
        return data.decode("utf-8", "replace")

    exit_poll_interval = Float(0.005, help="seconds between checks that a kernel asked to shut down has "
                                           "exited (jupyter_client checks every 0.1 s, and a grading kernel "
                                           "exits sooner than that after the request)").tag(config=True)

    async def _async_wait(self, pollinterval=0.1):
        await super()._async_wait(pollinterval=min(pollinterval, self.exit_poll_interval))

    async def _async_cleanup_resources(self, restart=False):
        try:
            await super()._async_cleanup_resources(restart=restart)
        finally:
            folder = getattr(self, "sandbox_dir", None)
            if folder and not restart:
                self.sandbox_final_exit = self.sandbox_exit()
                self.sandbox_final_events = self.sandbox_events()
                shutil.rmtree(folder, ignore_errors=True)

    cleanup_resources = _async_cleanup_resources


# ----------------------------------------------------------------- execute preprocessor

def _size(value):
    return len(value) if isinstance(value, str) else len(json.dumps(value))


def _megabytes(n):
    return f"{n / 1e6:.1f} MB"


def errors_first(cell):
    """Put a graded cell's errors and stderr first.

    nbgrader scores a test cell by its FIRST error or execute_result output: an
    execute_result published by the code under test before the tests fail
    would otherwise be read as a score.
    """
    def bad(output):
        return output.output_type == "error" or (output.output_type == "stream" and output.get("name") == "stderr")
    outputs = cell.get("outputs", [])
    if any(bad(o) for o in outputs):
        cell.outputs = [o for o in outputs if bad(o)] + [o for o in outputs if not bad(o)]


class SandboxedExecute(Execute):
    """nbgrader's Execute with the sandboxed kernel, output caps, shorter repeat timeouts and the guard."""

    max_stream_bytes = Integer(200_000, help="stdout (and stderr) kept per cell").tag(config=True)
    max_rich_bytes = Integer(2_000_000, help="largest image or other rich output kept").tag(config=True)
    max_outputs = Integer(100, help="rich outputs kept per cell").tag(config=True)
    timeouts_before_shortening = Integer(2).tag(config=True)
    short_timeout = Integer(10, help="cell timeout once a notebook has had that many timeouts").tag(config=True)
    guard = Bool(True, help="run course.integrity's guard around graded cells").tag(config=True)
    quiet_warnings = Bool(True, help="warnings raised while a graded cell runs are ignored (unless the "
                                     "test records them itself): a correct answer that warns keeps its "
                                     "points, since nbgrader scores any stderr output as zero").tag(config=True)
    record_evidence = Bool(True, help="write sandbox/integrity evidence under grading_status/").tag(config=True)
    traceback_mode = Unicode("Plain", help="IPython's exception mode (%xmode) in grading kernels. 'Plain' "
                                           "is Python's own traceback: file, line, failing code, error. "
                                           "IPython's default 'Context' reads and colours the source "
                                           "around every frame of every error, at a far larger CPU cost "
                                           "(a blank notebook raises ~20); feedback drops test "
                                           "tracebacks either way. '' keeps the default"
                             ).tag(config=True)
    kernel_history = Bool(False, help="keep IPython's SQLite input history in grading kernels: a "
                                      "database in the kernel's home, a thread that saves to it and a "
                                      "write per cell, which nothing in grading reads (In, Out and _i "
                                      "work either way)").tag(config=True)

    def __init__(self, **kw):
        kw.setdefault("kernel_manager_class", SandboxedKernelManager)
        super().__init__(**kw)

    async def async_start_new_kernel(self, **kwargs):
        wanted = []
        if self.traceback_mode:
            wanted.append(f"--InteractiveShell.xmode={self.traceback_mode}")
        if not self.kernel_history:
            wanted.append("--HistoryManager.enabled=False")
        self.extra_arguments = [*self.extra_arguments, *(a for a in wanted if a not in self.extra_arguments)]
        return await super().async_start_new_kernel(**kwargs)

    start_new_kernel = run_sync(async_start_new_kernel)  # nbclient's sync twin is bound to its own

    # ---- the notebook as a whole

    def preprocess(self, nb, resources=None, km=None):
        self._timed_out = []
        self._flood = {}
        self._events = []
        self._guard_token = None
        self._tagged = {}  # graded cells sent with the guard's cell id: id -> index
        self._current = None
        self._nbgrader = dict((resources or {}).get("nbgrader") or {})
        try:
            return super().preprocess(nb, resources, km)
        except DeadKernelError as error:
            reason = self._explain_death()
            self._events.append({"kind": "failed", "reason": reason})
            raise SubmissionNotGradable(reason) from error
        except SubmissionNotGradable as error:
            self._events.append({"kind": "failed", "reason": str(error)})
            raise
        except Exception as error:
            if "Timeout waiting for IOPub output" in str(error) or type(error).__name__ == "CellTimeoutError":
                reason = (f"the kernel did not stop when cell {self._where()} was interrupted after its "
                          f"time limit (a loop that catches KeyboardInterrupt?)")
                self._events.append({"kind": "failed", "reason": reason})
                self._events.append({"kind": "flag", "reason": "code ignores interrupts (catches KeyboardInterrupt)"})
                raise SubmissionNotGradable(reason) from error
            raise
        finally:
            self._write_evidence()

    def create_kernel_manager(self):
        km = super().create_kernel_manager()
        root = self.config.get("CourseDirectory", {}).get("root") or os.getcwd()
        km.protected_paths = [os.path.realpath(root)]
        self._sandbox_km = km  # nbclient drops self.km when the kernel is cleaned up
        return km

    def _where(self):
        cell = self._current
        if cell is None:
            return "(before the first cell)"
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        return f"'{grade_id}'" if grade_id else f"#{self._current_index + 1}"

    def _explain_death(self):
        km = getattr(self, "_sandbox_km", None)
        info = {}
        if isinstance(km, SandboxedKernelManager):
            info = getattr(km, "sandbox_final_exit", None) or km.sandbox_exit()
        where = self._where()
        limits = km.limits() if isinstance(km, SandboxedKernelManager) else {}
        name = info.get("signal_name")
        if info.get("setup_error"):
            return f"the sandbox could not start the kernel: {info['setup_error']}"
        if name == "SIGXCPU":
            return (f"the kernel was killed: CPU time limit of {limits.get('cpu_seconds')} s exceeded "
                    f"while running cell {where}")
        if name == "SIGKILL":
            return (f"the kernel was killed (SIGKILL: CPU or memory limit, or the system ran out of "
                    f"memory) while running cell {where}")
        if name in ("SIGSEGV", "SIGABRT", "SIGBUS"):
            return (f"the kernel crashed ({name}) while running cell {where} "
                    f"(often a memory limit of {limits.get('memory_bytes', 0) >> 20} MB reached inside a library)")
        if name:
            return f"the kernel was killed by {name} while running cell {where}"
        if "exit_code" in info:
            return (f"the kernel exited (exit code {info['exit_code']}) while running cell {where}: "
                    f"the code stopped the Python process (os._exit, sys.exit in a thread, ...)")
        return f"the kernel died while running cell {where}"

    # ---- each cell

    def preprocess_cell(self, cell, resources, index):
        self._current, self._current_index = cell, index
        self._flood = {}
        graded = bool(cell.get("metadata", {}).get("nbgrader", {}).get("grade")) and cell.cell_type == "code"
        if cell.cell_type == "code" and self._guard_token is None and (self.guard or self.quiet_warnings):
            self._guard_setup()
        if graded and self._guard_token and cell.source.strip():
            # the kernel's hooks check (and quiet warnings) around the cell with this id
            cell_id = integrity.graded_cell_id(self._guard_token, index)
            self.kc.tag_next_execute(cell_id)
            self._tagged[cell_id] = index
        self._graded = graded
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        finally:
            self._graded = False
            if self._guard_token:
                self.kc.tag_next_execute(None)
        if graded:
            errors_first(cell)
        if index == len(self.nb.cells) - 1 and self._guard_token and self.guard:
            self._read_guard_log()
        return cell, resources

    def clear_output(self, outs, msg, cell_index):
        # code under test may not erase a graded cell's outputs (its errors among them)
        if getattr(self, "_graded", False):
            self._events.append({"kind": "clear_output_ignored", "cell": self._cell_id(cell_index)})
            return
        return super().clear_output(outs, msg, cell_index)

    def _get_timeout(self, cell):
        timeout = super()._get_timeout(cell)
        if cell is not None and len(self._timed_out) >= self.timeouts_before_shortening and self.short_timeout > 0:
            timeout = min(timeout or self.short_timeout, self.short_timeout)
        return timeout

    async def _async_handle_timeout(self, timeout, cell=None):
        if cell is not None:
            self._timed_out.append(cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") or "?")
            self._events.append({"kind": "timeout", "cell": self._timed_out[-1], "seconds": timeout})
        return await super()._async_handle_timeout(timeout, cell)

    # ---- output caps

    def output(self, outs, msg, display_id, cell_index):
        msg_type = msg["msg_type"]
        if msg_type == "stream":
            return self._capped_stream(outs, msg, display_id, cell_index)
        if msg_type in ("display_data", "execute_result"):
            count = self._flood.get("rich_count", 0) + 1
            self._flood["rich_count"] = count
            if count > self.max_outputs:
                if count == self.max_outputs + 1:
                    self._note_flood(outs, f"... more than {self.max_outputs} outputs: the rest were dropped ...")
                return None
            data = msg["content"].get("data", {})
            size = sum(_size(v) for v in data.values())
            if size > self.max_rich_bytes:
                self._events.append({"kind": "output_capped", "cell": self._cell_id(cell_index), "bytes": size})
                kinds = ", ".join(sorted(k for k in data if k != "text/plain")) or "text"
                note = (f"[{kinds} output of {_megabytes(size)} removed: larger than the "
                        f"{_megabytes(self.max_rich_bytes)} limit]")
                plain = data.get("text/plain", "")
                if isinstance(plain, list):
                    plain = "".join(plain)
                msg = dict(msg, content=dict(msg["content"], data={
                    "text/plain": plain if plain and len(plain) <= 10_000 else note}, metadata={}))
                out = super().output(outs, msg, display_id, cell_index)
                if plain and len(plain) <= 10_000:
                    self._note_flood(outs, note)
                return out
        return super().output(outs, msg, display_id, cell_index)

    def _capped_stream(self, outs, msg, display_id, cell_index):
        name = msg["content"].get("name", "stdout")
        text = msg["content"].get("text", "")
        used = self._flood.get(name, 0)
        self._flood[name] = used + len(text)
        if used >= self.max_stream_bytes:
            return None
        if used + len(text) > self.max_stream_bytes:
            self._events.append({"kind": "output_capped", "cell": self._cell_id(cell_index), "stream": name})
            keep = text[:self.max_stream_bytes - used]
            text = keep + f"\n... output truncated: more than {_megabytes(self.max_stream_bytes)} on {name} ...\n"
            msg = dict(msg, content=dict(msg["content"], text=text))
        return super().output(outs, msg, display_id, cell_index)

    def _note_flood(self, outs, text):
        outs.append(output_from_msg({"msg_type": "stream", "header": {"msg_type": "stream"},
                                     "content": {"name": "stdout", "text": text + "\n"}}))

    def _cell_id(self, cell_index):
        try:
            cell = self.nb.cells[cell_index]
            return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") or f"#{cell_index + 1}"
        except (AttributeError, IndexError):
            return f"#{cell_index + 1}"

    # ---- integrity guard

    def _run_silent(self, code, expression):
        """Run `code` in the kernel without touching the notebook; return repr of `expression`."""
        msg_id = self.kc.execute(code, silent=True, store_history=False,
                                 user_expressions={"result": expression}, allow_stdin=False)
        reply = self.wait_for_reply(msg_id)
        if reply is None:
            return None
        content = reply["content"]
        if content.get("status") != "ok":
            return None
        result = content.get("user_expressions", {}).get("result", {})
        if result.get("status") != "ok":
            return None
        return result.get("data", {}).get("text/plain")

    def _guard_setup(self):
        """Install the guard's hooks in the kernel (before any student code runs)."""
        self._guard_token = integrity.new_token()
        if not hasattr(self.kc, "tag_next_execute"):
            answer = None  # a kernel client that cannot tag graded cells
        else:
            answer = self._run_silent(
                integrity.guard_setup_code(self._guard_token, watch=self.guard, quiet=self.quiet_warnings),
                integrity.guard_ready_expression(self._guard_token))
        if answer is None:  # before any student code ran: our problem, not the student's
            self.log.warning("sandbox: the integrity guard could not be installed; running without it")
            self._events.append({"kind": "guard_unavailable"})
            self._guard_token = False

    def _read_guard_log(self):
        """After the last cell: what the guard saw around each graded cell, into the cells."""
        log = integrity.parse_guard_log(
            self._run_silent("", integrity.guard_log_expression(self._guard_token)), self._guard_token)
        for cell_id, index in self._tagged.items():
            cell = self.nb.cells[index]
            before = (log or {}).get((cell_id, "before"), [])
            after = (log or {}).get((cell_id, "after"))
            self._guard_report(cell, before, before=True)
            if after is None and not any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
                # no check after a cell that passed: the student's code removed the guard
                after = [integrity.GUARD_REMOVED]
            self._guard_report(cell, after or [], before=False)

    def _guard_report(self, cell, changed, before):
        if not changed:
            return
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        self._events.append({"kind": "tampering", "cell": grade_id, "before": before, "changed": changed})
        if not before or integrity.GUARD_REMOVED in changed:
            # the code under test replaced part of the checking stack while this cell ran
            # (or removed the guard): its result cannot be trusted, so it scores nothing
            cell.outputs.insert(0, output_from_msg({
                "msg_type": "error", "header": {"msg_type": "error"},
                "content": {"ename": "IntegrityError",
                            "evalue": integrity.TAMPERING_MESSAGE,
                            "traceback": [f"IntegrityError: {integrity.TAMPERING_MESSAGE}"]}}))

    # ---- evidence for course.integrity.review

    def _write_evidence(self):
        if not self.record_evidence:
            return
        student = self._nbgrader.get("student")
        assignment = self._nbgrader.get("assignment")
        notebook = self._nbgrader.get("notebook")
        if not (student and assignment and notebook):
            return
        root = self.config.get("CourseDirectory", {}).get("root") or os.getcwd()
        km = getattr(self, "_sandbox_km", None)
        mode = getattr(km, "sandbox_mode", None)
        if isinstance(km, SandboxedKernelManager):
            events = getattr(km, "sandbox_final_events", None)
            self._events.extend(events if events is not None else km.sandbox_events())
        integrity.write_evidence(root, assignment, student, notebook,
                                 {"events": self._events, "sandbox": mode, "time": time.time()})
