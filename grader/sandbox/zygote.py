"""The grader's side of the kernels: one warm zygote per grading process, inside bubblewrap.

Starting a kernel the usual way costs a fresh interpreter, `import ipykernel`
and the notebook's `import numpy, sympy, matplotlib`: about 2 s of CPU before the
first cell. The zygote (`kernel_process.py zygote`) pays that once, inside its
sandbox, and forks one kernel per notebook; each fork then isolates itself
further before it becomes the kernel. PySpark starts its Python workers this way.

    pool = Zygote.start(run_dir, mode)     # bubblewrap + imports, once per process
    kernel = pool.fork(spec)               # a Popen-like handle (a pidfd: the kernel lives in
                                           # the sandbox's PID namespace)

The driver's workers use a zygote (they set COURSE_ZYGOTE=1). Without one (a plain
`nbgrader autograde`, the formgrader), `start_single` runs each kernel in a
bubblewrap of its own with the same per-kernel steps.
"""
import asyncio
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

from . import policy

SCRIPT = Path(__file__).resolve().parent / "kernel_process.py"
SCRIPT_IN_SANDBOX = "/opt/grader/kernel_process.py"
RUNS_IN_SANDBOX = "/run/grader"
MPL_CACHE_IN_SANDBOX = "/opt/mpl-cache"

#: What every kernel of this course imports anyway (and what their first use imports lazily:
#: lambdify's `from numpy import *`, simplify's units, the inline backend's PNG writer).
PRELOAD = ["ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell", "ipykernel.debugger",
           "ipykernel.comm", "IPython.core.completer", "IPython.core.completerlib", "pdb", "psutil",
           "IPython.core.magics.pylab", "faulthandler", "tornado.platform.asyncio",
           "numpy", "numpy.random", "numpy.testing", "numpy.fft", "numpy.polynomial", "numpy.linalg",
           "sympy", "sympy.physics.units", "sympy.combinatorics", "sympy.codegen.ast",
           "matplotlib", "matplotlib.pyplot", "matplotlib.backends.backend_agg", "PIL.Image:preinit",
           "course"]


def kernel_env(base=None):
    """The environment of the zygote and its kernels: fixed, nothing of the grader's."""
    base = os.environ if base is None else base
    env = {"PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
           "LANG": "C.UTF-8", "HOME": "/tmp/home", "MPLCONFIGDIR": "/tmp/mpl",
           "MPLBACKEND": "module://matplotlib_inline.backend_inline", "OMP_NUM_THREADS": "1",
           "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NUMEXPR_NUM_THREADS": "1",
           "PYDEVD_DISABLE_FILE_VALIDATION": "1", "NBGRADER_EXECUTION": base.get("NBGRADER_EXECUTION", "autograde"),
           "PYTHONDONTWRITEBYTECODE": "1"}
    for name in ("PYTHONHASHSEED", "TZ"):
        if name in base:
            env[name] = base[name]
    return env


def bwrap_command(run_dir, program, env):
    """bubblewrap around `program`: the read-only system and Python, the kernels' folder, nothing else."""
    args = [policy.bwrap_path(), "--unshare-all", "--unshare-user", "--uid", "65534", "--gid", "65534",
            "--die-with-parent", "--new-session", "--hostname", "sandbox", "--cap-add", "ALL",
            *policy.system_binds(), "--tmpfs", "/tmp"]
    # /tmp first: a Python tree under /tmp (a checkout cloned there) is then bound on top of it.
    for tree in policy.python_trees():
        args += ["--ro-bind", tree, tree]
    args += ["--ro-bind", str(SCRIPT), SCRIPT_IN_SANDBOX]
    cache = policy.matplotlib_cache()
    if cache:
        args += ["--ro-bind", cache, MPL_CACHE_IN_SANDBOX]
    args += ["--proc", "/proc", "--dev", "/dev", "--dir", "/kernel",
             "--bind", str(run_dir), RUNS_IN_SANDBOX, "--chdir", "/tmp", "--clearenv"]
    for key, value in env.items():
        args += ["--setenv", key, value]
    return args + ["--", sys.executable, "-I", *program]


class ForkedKernel:
    """A Popen-like handle on a kernel the zygote forked (by pidfd: not our child, not our PID space)."""

    stdin = stdout = stderr = None

    def __init__(self, zygote, pid, pidfd):
        self.zygote, self.pid, self.pidfd = zygote, pid, pidfd
        self.returncode = None
        self.exit = None  # {"exit_code": n} or {"signal_name": ...}

    def _exited(self, timeout=0):
        if self.pidfd is None:
            return True
        return bool(select.select([self.pidfd], [], [], timeout)[0])

    def _collect(self):
        if self.pidfd is not None:
            self.exit = self.zygote.exit_status(self.pid) or {"signal_name": "SIGKILL", "signal": 9}
            self.returncode = self.exit.get("exit_code", -self.exit.get("signal", 9))
            os.close(self.pidfd)
            self.pidfd = None
        return self.returncode

    def poll(self):
        if self.returncode is None and self._exited():
            self._collect()
        return self.returncode

    def wait(self, timeout=None):
        if self.returncode is None:
            if not self._exited(timeout):
                raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout)
            self._collect()
        return self.returncode

    async def async_wait(self):
        if self.returncode is None and not self._exited():
            loop = asyncio.get_running_loop()
            done = loop.create_future()
            loop.add_reader(self.pidfd, lambda: done.done() or done.set_result(None))
            try:
                await done
            finally:
                if self.pidfd is not None:
                    loop.remove_reader(self.pidfd)
        return self.wait()

    def send_signal(self, signum):
        if self.pidfd is not None:
            signal.pidfd_send_signal(self.pidfd, signum)

    def kill(self):
        self.send_signal(signal.SIGKILL)

    def terminate(self):
        self.send_signal(signal.SIGTERM)


class Zygote:
    """One zygote process (sandboxed unless `mode` is "limits") and the socket to talk to it."""

    def __init__(self, process, sock, run_dir, mode):
        self.process, self.sock, self.run_dir, self.mode = process, sock, Path(run_dir), mode
        self.hello, self.why = None, ""
        self.lock = threading.Lock()
        self.kernels = 0
        self._buffer = b""

    @classmethod
    def start(cls, run_dir, mode, preload=None):
        ours, theirs = socket.socketpair()
        env = kernel_env()
        program_args = ["zygote", str(theirs.fileno()), json.dumps(PRELOAD if preload is None else preload)]
        if mode == "isolated":
            command = bwrap_command(run_dir, [SCRIPT_IN_SANDBOX, *program_args], env)
            env_outside = None
        else:
            command = [sys.executable, "-I", str(SCRIPT), *program_args]
            env_outside = {**env, "HOME": str(Path(run_dir) / "home"), "MPLCONFIGDIR": str(Path(run_dir) / "mpl")}
        process = subprocess.Popen(command, pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL,
                                   env=env_outside if env_outside is not None else {"PATH": "/usr/bin:/bin"},
                                   start_new_session=True)
        theirs.close()
        return cls(process, ours, run_dir, mode)

    def ready(self, timeout=0.0):
        """True once the imports are done; False while importing, or (with `why`) if it cannot fork."""
        if self.hello is None:
            if not select.select([self.sock], [], [], timeout)[0]:
                return False
            while not self._buffer.endswith(b"\n"):
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                self._buffer += chunk
            try:
                self.hello = json.loads(self._buffer.decode() or "{}")
            except ValueError:
                self.hello = {}
            if not self.hello.get("ready"):
                self.why = (f"it has {self.hello['threads']} threads after importing" if "threads" in self.hello
                            else f"it exited (code {self.process.poll()})")
                self.close()
        return bool(self.hello.get("ready")) and self.alive

    @property
    def alive(self):
        return self.process.poll() is None

    def fork(self, spec, timeout=30):
        """A new kernel for `spec` (see kernel_process.enter_kernel)."""
        with self.lock:
            self.sock.settimeout(timeout)
            try:
                self.sock.sendall((json.dumps({"op": "fork", "spec": spec}) + "\n").encode())
                data, fds, _, _ = socket.recv_fds(self.sock, 65536, 1)
            finally:
                self.sock.settimeout(None)
            if not fds:
                raise RuntimeError(f"the zygote could not fork a kernel ({data[:200]!r})")
            self.kernels += 1
            return ForkedKernel(self, json.loads(data.decode())["pid"], fds[0])

    def exit_status(self, pid):
        with self.lock:
            self.sock.settimeout(10)
            try:
                self.sock.sendall((json.dumps({"op": "status", "pid": pid}) + "\n").encode())
                return json.loads(self.sock.recv(65536).decode()).get("status")
            except (OSError, ValueError):
                return None
            finally:
                self.sock.settimeout(None)

    def close(self):
        try:
            self.sock.close()
        finally:
            if self.process.poll() is None:
                try:
                    self.process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()


def start_single(run_dir, kernel_dir_name, spec, mode):
    """A kernel in a sandbox of its own (no zygote): a Popen whose exit code is the kernel's."""
    spec_path = Path(run_dir) / kernel_dir_name / "spec.json"
    env = kernel_env()
    if mode == "isolated":
        spec_path.write_text(json.dumps(spec))
        inside = f"{RUNS_IN_SANDBOX}/{kernel_dir_name}/spec.json"
        command = bwrap_command(run_dir, [SCRIPT_IN_SANDBOX, "single", inside], env)
        return subprocess.Popen(command, stdin=subprocess.DEVNULL, env={"PATH": "/usr/bin:/bin"},
                                start_new_session=True)
    spec_path.write_text(json.dumps(spec))
    return subprocess.Popen([sys.executable, "-I", str(SCRIPT), "single", str(spec_path)],
                            stdin=subprocess.DEVNULL, env=env, start_new_session=True)
