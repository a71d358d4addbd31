"""Start notebook kernels by forking a warm, never-used Python process.

A kernel started the usual way pays, for every notebook, a fresh interpreter,
`import ipykernel` (IPython, zmq, tornado, the debugger) and then the
notebook's own `import numpy, sympy, matplotlib`: about 2 s of CPU before the
first cell runs. The *zygote* pays that once. It imports those modules, never
runs a line of student code, and forks one child per kernel; each child turns
itself into an ordinary IPython kernel (`ipykernel.kernelapp` with the same
arguments, environment and working directory `python -m ipykernel_launcher`
would get). Every notebook still runs in a process of its own that no other
student's code has touched. PySpark's worker daemon starts Python workers
the same way.

It plugs into Jupyter where kernel start-up is meant to be customised, a
kernel *provisioner*. nbgrader's Execute preprocessor (or the course's
`SandboxedExecute`) still creates the kernel manager, writes the connection
file, talks to the kernel and shuts it down; only the creation of the process
changes, and only for the two commands it recognises:

    <this python> -m ipykernel_launcher -f FILE ...
    <this python> -I -S course/sandbox_launch.py SPEC -- <the above>

For the second (the sandbox, `course.sandbox`), the forked child calls
`sandbox_launch.enter_sandbox(SPEC)` itself (limits, user, namespaces, file
system: exactly what the launcher script would do) and then becomes the
kernel. Any other command is started by jupyter_client's own `Popen` path.

    pool = ZygotePool(preload=["numpy", "sympy", "matplotlib.pyplot",
                               "course.guard:prepare"])   # module:function is also called
    install(pool)      # kernels without a provisioner of their own now fork
    ...                # run nbgrader
    pool.close()

A zygote is started for the environment the kernels get (the variables read
at interpreter start or import time, such as OPENBLAS_NUM_THREADS or
PYTHONHASHSEED, must match); until it is ready, kernels start the usual way.

Differences from a freshly executed interpreter, for graders: preloaded
modules are imported before the kernel's working directory is on `sys.path`
(a student's `numpy.py` cannot shadow them); NumPy's and `random`'s global
generators are reseeded from the OS in every child; matplotlib's settings and
caches are those found where the zygote started; exit functions (`atexit`) do
not run: a kernel ends as soon as its main loop does.
"""
import asyncio
import importlib
import json
import os
import select
import signal
import socket
import sys
import threading

#: Modules a kernel for this course imports anyway; the zygote imports them once.
#: Beyond the libraries themselves, what their first use imports lazily:
#: `lambdify(..., "numpy")` runs `from numpy import *` (NumPy's lazy submodules,
#: f2py among them), `simplify` imports sympy.physics.units and combinatorics, and
#: saving a figure loads Pillow's image plugins.
DEFAULT_PRELOAD = ["numpy", "numpy.random", "numpy.testing", "sympy", "matplotlib", "matplotlib.pyplot",
                   "matplotlib.backends.backend_agg",
                   "numpy.core", "numpy.fft", "numpy.polynomial", "numpy.f2py", "numpy.ctypeslib",
                   "numpy.char", "numpy.rec", "numpy.strings", "sympy.physics.units", "sympy.combinatorics",
                   "sympy.codegen.ast", "sympy.tensor.tensor", "sympy.sets.setexpr",
                   "sympy.assumptions.wrapper", "PIL.Image:preinit"]
#: What `IPKernelApp.initialize` imports beyond `ipykernel.kernelapp` (measured: the
#: debugger alone costs 0.5 s), what `%matplotlib inline` and an error's traceback
#: import, and psutil, which a kernel imports when it shuts down (to stop its
#: children). Not matplotlib_inline: importing it hooks into the running shell, so
#: that must happen inside the kernel. Last, `course.transform_once` makes the
#: kernels transform each cell's input once instead of twice, and
#: `course.flush_when_written` spares them waits for output that was never written.
KERNEL_PRELOAD = ["ipykernel.ipkernel", "ipykernel.zmqshell", "ipykernel.debugger",
                  "ipykernel.comm", "IPython.core.completer", "pdb", "sqlite3", "psutil",
                  "IPython.core.completerlib", "IPython.core.oinspect", "IPython.core.logger",
                  "IPython.extensions.storemagic", "faulthandler", "tornado.platform.asyncio",
                  "IPython.core.magics.pylab", "pygments.formatters.terminal256", "fileinput",
                  "course.sandbox_launch", "course.transform_once:install",
                  "course.flush_when_written:install"]
#: Variables a process reads when it starts or imports: a zygote serves only
#: kernels whose environment agrees with its own on these.
IMPORT_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
              "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "MALLOC_ARENA_MAX",
              "PYTHONHASHSEED", "PYTHONWARNINGS", "PYTHONIOENCODING", "PYTHONUTF8",
              "PYTHONPATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "MPLBACKEND")
#: The backend ipykernel selects for its kernels (`IPKernelApp.init_gui_pylab`).
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
PROVISIONER_NAME = "course-zygote"
#: A kernel that has not exited this long after the shutdown request is
#: stopped with a signal (jupyter_client's default is 5 s; a forked kernel
#: skips its exit functions, so that is one whose main loop did not end).
SHUTDOWN_WAIT = 1.0


# --------------------------------------------------------------------------
# The zygote process: `python -m course.zygote FD PRELOAD_JSON`
# --------------------------------------------------------------------------

def _send(sock, message, fds=()):
    data = (json.dumps(message) + "\n").encode()
    if fds:
        socket.send_fds(sock, [data], list(fds))
    else:
        sock.sendall(data)


def _serve(sock, preload):
    """The zygote's main loop: fork a kernel per request, reap children, report exits."""
    initial_env = dict(os.environ)

    import ipykernel.kernelapp  # noqa: F401  (IPython, zmq, tornado, traitlets)
    loaded, failed = [], {}
    for name in preload:
        try:
            # "module" is imported; "module:function" is imported and called (work that every
            # kernel would repeat, done once before any kernel exists)
            module_name, _, function = name.partition(":")
            module = importlib.import_module(module_name)
            if function:
                getattr(module, function)()
            loaded.append(name)
        except Exception as error:  # a missing optional module is not fatal
            failed[name] = f"{type(error).__name__}: {error}"
    # Variables that imports set (debugpy sets PYDEVD_USE_FRAME_EVAL): a kernel
    # that did the imports itself would have them in its environment.
    imported_env = {key: value for key, value in os.environ.items()
                    if initial_env.get(key) != value and key != "MPLBACKEND"}
    # What was imported lives as long as the kernel anyway: keep the children's
    # garbage collector from walking (and so copying) it.
    import gc
    gc.collect()
    gc.freeze()
    # Forking is only safe from a process with no other Python thread.
    threads = threading.active_count()
    _send(sock, {"ready": threads == 1, "pid": os.getpid(), "loaded": loaded,
                 "failed": failed, "threads": threads})
    if threads != 1:
        return

    children, exits = set(), {}

    def reap():
        for pid in list(children):
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                children.discard(pid)
                continue
            if done:
                children.discard(pid)
                exits[pid] = os.waitstatus_to_exitcode(status)

    reader = sock.makefile("r", encoding="utf-8")
    try:
        while True:
            ready, _, _ = select.select([sock], [], [], 0.5)
            reap()
            if not ready:
                continue
            line = reader.readline()
            if not line:
                break  # the grader went away: take the kernels with us
            request = json.loads(line)
            if request["op"] == "fork":
                pid = os.fork()
                if pid == 0:
                    reader.close()
                    _become_kernel(sock, request, imported_env)  # never returns
                children.add(pid)
                pidfd = os.pidfd_open(pid)
                try:
                    _send(sock, {"pid": pid}, [pidfd])
                finally:
                    os.close(pidfd)
            elif request["op"] == "status":
                pid = request["pid"]
                if pid not in exits and pid in children:
                    _, status = os.waitpid(pid, 0)
                    children.discard(pid)
                    exits[pid] = os.waitstatus_to_exitcode(status)
                _send(sock, {"pid": pid, "status": exits.pop(pid, None)})
    finally:
        for pid in children:
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass


def _become_kernel(sock, request, imported_env):
    """In the forked child: become `python -m ipykernel_launcher ARGS` (sandboxed if asked), then exit."""
    code = 1
    try:
        os.setsid()  # its own process group, as jupyter_client's launcher gives it
        sock.close()
        for signum in (signal.SIGTERM, signal.SIGCHLD, signal.SIGHUP):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)  # the launcher gives kernels a closed stdin
        os.close(devnull)
        if request.get("cwd"):
            os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        if request.get("sandbox_spec"):
            # What `sandbox_launch.py SPEC -- cmd` does before it execs cmd; returns
            # in the process that is to be the kernel (supervisors stay above it).
            from course import sandbox_launch
            sandbox_launch.enter_sandbox(sandbox_launch.read_spec(request["sandbox_spec"]))
        for key, value in imported_env.items():
            os.environ.setdefault(key, value)
        if "numpy" in sys.modules:  # `random` reseeds itself after fork; NumPy does not
            sys.modules["numpy"].random.seed()
        import ipykernel_launcher
        sys.argv = [ipykernel_launcher.__file__, *request["argv"]]
        from ipykernel import kernelapp
        # IPKernelApp took these defaults from the zygote's environment when it
        # was imported: give it the kernel's own.
        kernelapp.launch_new_instance(
            argv=request["argv"],
            parent_handle=int(os.environ.get("JPY_PARENT_PID") or 0),
            interrupt=int(os.environ.get("JPY_INTERRUPT_EVENT") or 0),
        )
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except BaseException:
        import traceback
        traceback.print_exc()
    finally:
        # No exit functions: everything the grader reads was delivered before it
        # asked the kernel to shut down, and the grader waits for the exit.
        # ipykernel's own (`IPKernelApp.close`) often waits for its control
        # thread until jupyter_client gives up (half the shutdown wait, then
        # SIGTERM); the others close what the process's end closes anyway.
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(code)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    sock = socket.socket(fileno=int(argv[0]))
    preload = json.loads(argv[1]) if len(argv) > 1 else KERNEL_PRELOAD + DEFAULT_PRELOAD
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the grader decides when we stop
    _serve(sock, preload)


# --------------------------------------------------------------------------
# The grader's side
# --------------------------------------------------------------------------

class ForkedKernel:
    """A Popen-like handle on a process forked by a zygote (not our child)."""

    stdin = stdout = stderr = None

    def __init__(self, zygote, pid, pidfd):
        self.zygote, self.pid, self.pidfd = zygote, pid, pidfd
        self.returncode = None

    def _exited(self, timeout=0):
        if self.pidfd is None:
            return True
        ready, _, _ = select.select([self.pidfd], [], [], timeout)
        return bool(ready)

    def _collect(self):
        if self.pidfd is not None:
            status = self.zygote.exit_status(self.pid)
            self.returncode = -signal.SIGKILL if status is None else status
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
                import subprocess
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
    """The grader's handle on one zygote process."""

    def __init__(self, process, sock, env_key):
        self.process, self.sock, self.env_key = process, sock, env_key
        self.hello, self.why = None, ""
        self.lock = threading.Lock()
        self.kernels = 0
        self._buffer = b""

    @classmethod
    def launch(cls, preload=None, env=None, cwd=None):
        """Start a zygote; it is usable once `ready()` says so."""
        import subprocess
        ours, theirs = socket.socketpair()
        environment = dict(os.environ if env is None else env)
        preload = KERNEL_PRELOAD + list(DEFAULT_PRELOAD if preload is None else preload)
        # Like `python -m ipykernel_launcher`: the working directory leaves sys.path
        # before anything is imported, and ipykernel's matplotlib backend is chosen
        # before matplotlib is (`course` may import it).
        boot = ("import os, sys; del sys.path[0]; "
                f"os.environ.setdefault('MPLBACKEND', {INLINE_BACKEND!r}); "
                "from course.zygote import main; main()")
        process = subprocess.Popen(
            [sys.executable, "-c", boot, str(theirs.fileno()), json.dumps(preload)],
            pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, env=environment, cwd=cwd,
        )
        theirs.close()
        return cls(process, ours, env_key(environment))

    def ready(self, timeout=0.0):
        """True once the imports are done; False while importing or if it cannot fork."""
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
                self.why = (f"it has {self.hello['threads']} threads after importing"
                            if "threads" in self.hello else f"it exited ({self.process.poll()})")
                self.close()
        return bool(self.hello.get("ready")) and self.alive

    @property
    def alive(self):
        return self.process.poll() is None

    def fork(self, argv, env, cwd, sandbox_spec=None):
        with self.lock:
            self.sock.settimeout(30)
            try:
                _send(self.sock, {"op": "fork", "argv": argv, "env": env, "cwd": cwd,
                                  "sandbox_spec": sandbox_spec})
                data, fds, _, _ = socket.recv_fds(self.sock, 65536, 1)
            finally:
                self.sock.settimeout(None)
            if not fds:
                raise RuntimeError(f"the zygote could not fork a kernel: {data[:200]!r}")
            self.kernels += 1
            return ForkedKernel(self, json.loads(data.decode())["pid"], fds[0])

    def exit_status(self, pid):
        with self.lock:
            self.sock.settimeout(10)
            try:
                _send(self.sock, {"op": "status", "pid": pid})
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
                except Exception:
                    self.process.kill()
                    self.process.wait()


def env_key(env):
    return tuple((name, env.get(name)) for name in IMPORT_ENV)


def _same_file(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _launcher_path():
    import importlib.util
    spec = importlib.util.find_spec("course.sandbox_launch")
    return spec.origin if spec else None


class ZygotePool:
    """The zygotes of one grading process, one per kernel environment, started on demand."""

    def __init__(self, preload=None, cwd=None, base_env=None, max_zygotes=2):
        self.preload, self.cwd = preload, cwd
        self.base_env = dict(os.environ if base_env is None else base_env)
        self.max_zygotes = max_zygotes
        self.zygotes = {}
        self.launcher = _launcher_path()
        self.forked = self.started_normally = 0
        self.failures = 0  # zygotes lost while in use; after 3, kernels start the usual way
        self.notes = []

    def parse(self, cmd, kwargs):
        """(kernel args, sandbox spec path or None) if `cmd` is one we can fork, else None."""
        if set(kwargs) - {"env", "cwd", "independent"} or kwargs.get("independent"):
            return None
        cmd = list(cmd)
        spec = None
        if (len(cmd) > 6 and cmd[1:3] == ["-I", "-S"] and self.launcher
                and _same_file(cmd[3], self.launcher) and cmd[5] == "--"
                and _same_file(cmd[0], sys.executable)):
            spec, cmd = cmd[4], cmd[6:]
        if len(cmd) < 3 or cmd[1:3] != ["-m", "ipykernel_launcher"] or not _same_file(cmd[0], sys.executable):
            return None
        return cmd[3:], spec

    def get(self, kernel_env, timeout=60):
        """A ready zygote for kernels with this environment (started and awaited if
        need be: its imports cost less than a kernel started the usual way), or None."""
        key = env_key(kernel_env)
        zygote = self.zygotes.get(key)
        if zygote is None:
            if len(self.zygotes) >= self.max_zygotes or self.failures >= 3:
                return None
            env = dict(self.base_env)
            for name, value in key:
                if value is None:
                    env.pop(name, None)
                else:
                    env[name] = value
            zygote = self.zygotes[key] = Zygote.launch(self.preload, env=env, cwd=self.cwd)
        if zygote.ready(timeout):
            return zygote
        if zygote.why and zygote.why not in self.notes:
            self.notes.append(zygote.why)
        return None

    def close(self):
        for zygote in self.zygotes.values():
            zygote.close()
        self.zygotes = {}


_ACTIVE = None


def active():
    return _ACTIVE


def install(pool):
    """Make kernels whose kernelspec names no provisioner start through `pool`.

    Uses jupyter_client's extension point: registers the provisioner with the
    factory and makes it the default, only if the default is still the stock
    "local-provisioner" (a configured provisioner always wins).
    """
    global _ACTIVE
    from importlib.metadata import EntryPoint
    from jupyter_client.provisioning.factory import KernelProvisionerFactory as Factory

    factory = Factory.instance()
    if factory.default_provisioner_name not in ("local-provisioner", PROVISIONER_NAME):
        return False
    _ACTIVE = pool
    Factory.provisioners[PROVISIONER_NAME] = EntryPoint(
        name=PROVISIONER_NAME, value="course.zygote:ZygoteProvisioner", group=Factory.GROUP_NAME)
    factory.default_provisioner_name = PROVISIONER_NAME
    return True


def _provisioner_class():
    from jupyter_client.provisioning.local_provisioner import LocalProvisioner

    class ZygoteProvisioner(LocalProvisioner):
        """LocalProvisioner that forks the kernels it recognises from a zygote."""

        async def launch_kernel(self, cmd, **kwargs):
            pool = active()
            parsed = pool.parse(cmd, kwargs) if pool is not None else None
            zygote = None
            if parsed is not None:
                argv, spec = parsed
                env = dict(kwargs.get("env") or os.environ)
                env["JPY_PARENT_PID"] = str(os.getpid())  # as jupyter_client's launcher sets it
                kernel_env = env
                if spec:
                    with open(spec) as handle:
                        kernel_env = json.load(handle).get("env", {})
                zygote = pool.get(kernel_env)
            if zygote is None:
                if pool is not None:
                    pool.started_normally += 1
                return await super().launch_kernel(cmd, **kwargs)
            cwd = kwargs.get("cwd")
            try:
                self.process = zygote.fork(argv, env, str(cwd) if cwd else None, spec)
            except (OSError, RuntimeError, ValueError) as error:  # the zygote is gone: start normally
                pool.notes.append(f"fork failed: {error!r}")
                pool.failures += 1
                pool.zygotes = {k: z for k, z in pool.zygotes.items() if z is not zygote}
                zygote.close()
                pool.started_normally += 1
                return await super().launch_kernel(cmd, **kwargs)
            pool.forked += 1
            self.pid = self.pgid = self.process.pid
            self.cwd = cwd or os.getcwd()
            return self.connection_info

        def get_shutdown_wait_time(self, recommended=5.0):
            return min(recommended, SHUTDOWN_WAIT)

        async def poll(self):
            if isinstance(self.process, ForkedKernel) and getattr(self.parent, "shutting_down", False):
                # The kernel manager polls every 0.1 s while a kernel shuts down:
                # wait for the exit itself for that long instead of sleeping.
                try:
                    await asyncio.wait_for(self.process.async_wait(), 0.1)
                except asyncio.TimeoutError:
                    pass
            return await super().poll()

        async def wait(self):
            if isinstance(self.process, ForkedKernel):
                code = await self.process.async_wait()
                self.process = None
                return code
            return await super().wait()

    return ZygoteProvisioner


def __getattr__(name):  # entry points and configuration name these lazily
    if name == "ZygoteProvisioner":
        cls = _provisioner_class()
    else:
        raise AttributeError(name)
    globals()[name] = cls
    return cls


if __name__ == "__main__":
    main()
