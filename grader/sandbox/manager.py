"""`SandboxKernelManager`: jupyter_client's kernel manager, with kernels started in the sandbox.

Everything jupyter_client does stays (connection info, the client, interrupt and
shutdown requests); only where the kernel process comes from changes, through
jupyter_client's own extension point, a kernel provisioner:

- each kernel gets a folder of its own in the process's run folder: `work/` with
  a private copy of the student's submitted files (never the autograded folder,
  which holds notebooks with hidden tests restored), its connection file, and
  its Unix sockets (the kernel has no network; ZeroMQ's ipc transport);
- the process is forked from the warm zygote, or started in a bubblewrap of its
  own when there is none;
- how it ended (exit code, or signal: SIGXCPU for the CPU limit) is kept, so a
  dead kernel is reported with its cause.
"""
import atexit
import json
import os
import shutil
import tempfile
from pathlib import Path

from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning.local_provisioner import LocalProvisioner
from traitlets import Bool, DottedObjectName, Integer, List, Type, Unicode

from . import policy
from .client import GraderClient
from .zygote import RUNS_IN_SANDBOX, Zygote, kernel_env, start_single

IGNORED_FILES = {".ipynb_checkpoints", "__pycache__", "feedback"}
SHUTDOWN_WAIT = 1.0


def zygote_wanted():
    """Kernels are forked from a zygote where COURSE_ZYGOTE=1: in the driver's workers (which set
    it unless told otherwise). A plain nbgrader command (the formgrader's autograde button, a
    one-off `nbgrader autograde`) starts a fresh interpreter per notebook, as nbgrader does, and
    leaves no warm process behind in the Jupyter server."""
    return os.environ.get("COURSE_ZYGOTE", "0") in ("1", "true", "yes")


class _Process:
    """Per grading process: the run folder (short path: socket names are limited) and the zygotes."""
    run_dir = None
    zygotes = {}
    counter = 0
    failures = 0
    notes = []

    @classmethod
    def folder(cls):
        if cls.run_dir is None:
            cls.run_dir = Path(tempfile.mkdtemp(prefix="grader-", dir="/tmp"))
            os.chmod(cls.run_dir, 0o711)
            atexit.register(cls.close)
        return cls.run_dir

    @classmethod
    def zygote(cls, mode, wait=120.0):
        """A ready zygote for `mode`, started on first use; None if it cannot be had."""
        if not zygote_wanted() or cls.failures >= 3:
            return None
        zygote = cls.zygotes.get(mode)
        if zygote is not None and not zygote.alive:
            cls.notes.append(f"the zygote stopped (code {zygote.process.poll()}); starting a new one")
            cls.failures += 1
            zygote.close()
            zygote = None
        if zygote is None:
            zygote = cls.zygotes[mode] = Zygote.start(cls.folder(), mode)
        if zygote.ready(wait):
            return zygote
        cls.notes.append(f"no zygote: {zygote.why or 'not ready in time'}")
        cls.failures += 1
        cls.zygotes.pop(mode, None)
        zygote.close()
        return None

    @classmethod
    def close(cls):
        for zygote in cls.zygotes.values():
            zygote.close()
        cls.zygotes = {}
        if cls.run_dir is not None:
            shutil.rmtree(cls.run_dir, ignore_errors=True)
            cls.run_dir = None


def close_sandboxes():
    """End this process's zygotes and remove its run folder (also done at exit)."""
    _Process.close()


class SandboxProvisioner(LocalProvisioner):
    """Starts the kernel in the sandbox (`SandboxKernelManager.launch`) instead of `Popen(cmd)`."""

    async def launch_kernel(self, cmd, **kwargs):
        self.process = self.parent.launch(cmd)
        self.pid = getattr(self.process, "pid", None) if not hasattr(self.process, "pidfd") else None
        self.pgid = None  # signals go to the process itself (a pidfd for a forked kernel)
        return self.connection_info

    def get_shutdown_wait_time(self, recommended=5.0):
        return min(recommended, SHUTDOWN_WAIT)

    async def wait(self):
        if hasattr(self.process, "async_wait"):
            code = await self.process.async_wait()
            self.parent.record_exit(self.process)
            self.process = None
            return code
        process = self.process
        code = await super().wait()
        self.parent.record_exit(process)
        return code


class SandboxKernelManager(AsyncKernelManager):
    """A kernel in the course sandbox, working in a private copy of `student_files`."""

    client_class = DottedObjectName("grader.sandbox.client.GraderClient")
    client_factory = Type(GraderClient, klass=AsyncKernelClient)
    cpu_seconds = Integer(900, help="CPU time of a kernel (SIGXCPU, then SIGKILL 5 s later)").tag(config=True)
    memory_mb = Integer(2048, help="address space of a kernel: a memory bomb gets MemoryError").tag(config=True)
    file_mb = Integer(64, help="largest file a kernel may write").tag(config=True)
    open_files = Integer(1024).tag(config=True)
    allow_processes = Bool(False, help="let kernels start processes (no seccomp filter)").tag(config=True)
    copy_limit_mb = Integer(64, help="the student's files copied into the kernel's folder, at most").tag(config=True)
    student_files = List(Unicode(), help="folders whose files the kernel gets in its working directory")
    course_files = List(Unicode(), help="folders whose files other than notebooks the kernel gets too "
                                        "(nbgrader copies the source folder's data files likewise)")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.exit_info = None
        self.kernel_dir = None
        self.launched = False
        self.mode = policy.effective_mode()

    async def _async_start_kernel(self, **kwargs):
        await super()._async_start_kernel(**kwargs)
        if self.mode != "off" and not self.launched:
            # jupyter_client started the kernel without our provisioner: a hook this class
            # relies on (`_async_pre_start_kernel`, provisioners) was renamed or bypassed.
            await self._async_shutdown_kernel(now=True)
            raise RuntimeError("a kernel started outside the sandbox (jupyter_client "
                               f"{_version('jupyter_client')} no longer calls the sandbox's hook): grading stops")

    start_kernel = _async_start_kernel

    #: how often to look whether a kernel asked to shut down has gone (None: jupyter_client's 0.1 s;
    #: grader.speedups sets 5 ms, since a kernel here is gone milliseconds after its reply)
    exit_poll_interval = None

    async def _async_wait(self, pollinterval=0.1):
        await super()._async_wait(pollinterval=self.exit_poll_interval or pollinterval)

    def limits(self):
        return {"cpu_seconds": self.cpu_seconds, "memory_bytes": self.memory_mb << 20,
                "file_bytes": self.file_mb << 20, "open_files": self.open_files, "core_bytes": 0}

    async def _async_pre_start_kernel(self, **kw):
        if self.mode == "off":
            return await super()._async_pre_start_kernel(**kw)
        _Process.counter += 1
        self.kernel_dir = _Process.folder() / f"k{os.getpid()}-{_Process.counter}"
        (self.kernel_dir / "work").mkdir(parents=True)
        self.transport, self.ip = "ipc", str(self.kernel_dir / "ipc")
        self.connection_file = str(self.kernel_dir / "grader-connection.json")
        if self.provisioner is None:
            self.provisioner = SandboxProvisioner(kernel_id=kw.get("kernel_id") or self.kernel_id or "sandbox",
                                                  kernel_spec=self.kernel_spec, parent=self)
        return await super()._async_pre_start_kernel(**kw)

    def launch(self, cmd):
        """The kernel process for `cmd` (`python -m ipykernel_launcher -f FILE ARGS`)."""
        arguments = cmd[cmd.index("-f") + 2:] if "-f" in cmd else []
        self._copy_student_files()
        isolated = self.mode == "isolated"
        info = dict(self.get_connection_info())
        info["key"] = info["key"].decode() if isinstance(info["key"], bytes) else info["key"]
        info["ip"] = "/kernel/ipc" if isolated else str(self.kernel_dir / "ipc")
        (self.kernel_dir / "connection.json").write_text(json.dumps(info))
        env = kernel_env()
        if not isolated:
            env.update(HOME=str(self.kernel_dir / "home"), MPLCONFIGDIR=str(self.kernel_dir / "mpl"))
        spec = {"isolate": isolated, "limits": self.limits(), "arguments": arguments, "env": env,
                "no_processes": not self.allow_processes,
                "runs": RUNS_IN_SANDBOX if isolated else str(self.kernel_dir.parent),
                "keep": policy.trees_under_tmp(),
                "dir": f"{RUNS_IN_SANDBOX}/{self.kernel_dir.name}" if isolated else str(self.kernel_dir)}
        self.launched = True
        zygote = _Process.zygote(self.mode)
        if zygote is not None:
            try:
                return zygote.fork(spec)  # signals reach the forked kernel itself (pidfd)
            except (OSError, RuntimeError, ValueError) as error:
                _Process.notes.append(f"fork failed: {error!r}")
                _Process.failures += 1
        if self.mode == "isolated" and self.kernel_spec is not None:
            # A signal would reach bubblewrap, which does not pass it on (SIGINT ends the whole
            # sandbox): the kernel is interrupted by a message on its control channel instead.
            self.kernel_spec.interrupt_mode = "message"
        return start_single(_Process.folder(), self.kernel_dir.name, spec, self.mode)

    def _copy_student_files(self):
        budget = self.copy_limit_mb << 20
        work = self.kernel_dir / "work"
        folders = [(f, True) for f in self.student_files] + [(f, False) for f in self.course_files]
        for folder, notebooks in folders:
            folder = Path(folder)
            if not folder.is_dir():
                continue
            for path in sorted(folder.rglob("*")):
                relative = path.relative_to(folder)
                if IGNORED_FILES & set(relative.parts) or path.is_symlink() or not path.is_file():
                    continue
                if not notebooks and path.suffix == ".ipynb":
                    continue
                size = path.stat().st_size
                if size > budget:
                    continue
                budget -= size
                target = work / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)

    def record_exit(self, process):
        if process is None:
            return
        self.exit_info = getattr(process, "exit", None) or _popen_exit(process)

    def kernel_log_tail(self, size=2000):
        try:
            return (self.kernel_dir / "kernel.log").read_bytes()[-size:].decode("utf-8", "replace")
        except (OSError, TypeError, AttributeError):
            return ""

    async def _async_cleanup_resources(self, restart=False):
        try:
            await super()._async_cleanup_resources(restart=restart)
        finally:
            if self.kernel_dir is not None and not restart:
                self.log_tail = self.kernel_log_tail()
                shutil.rmtree(self.kernel_dir, ignore_errors=True)

    cleanup_resources = _async_cleanup_resources


def _version(distribution):
    from importlib import metadata
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "?"


def _popen_exit(process):
    code = process.returncode
    if code is None:
        return None
    if code < 0:
        import signal
        return {"signal": -code, "signal_name": signal.Signals(-code).name}
    if code > 128:  # bubblewrap reports a kernel killed by a signal as 128 + signal
        import signal
        try:
            return {"signal": code - 128, "signal_name": signal.Signals(code - 128).name}
        except ValueError:
            pass
    return {"exit_code": code}
