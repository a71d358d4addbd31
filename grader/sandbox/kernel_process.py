"""Inside the sandbox: a warm zygote that forks kernels, and what each kernel does before it starts.

This file runs as a plain script inside bubblewrap (`grader.sandbox.zygote`
mounts it there alone: the grader package itself is not in the sandbox). It
uses the standard library, plus whatever it preloads.

    python kernel_process.py zygote FD PRELOAD_JSON    serve fork requests on socket FD
    python kernel_process.py single SPEC_JSON          become one kernel (no zygote)

The zygote imports ipykernel, NumPy, SymPy and Matplotlib once, never runs a
line of student code, and forks one child per notebook. Each child, before it
becomes an ordinary IPython kernel (`enter_kernel`):

- gets its own mount, network, IPC and UTS namespaces; its kernel folder (the
  student's files and the connection sockets) is mounted on /kernel, the folder
  holding every kernel's folder is covered by an empty tmpfs, and /tmp is a
  fresh tmpfs (nothing of an earlier kernel remains);
- drops every capability, keeps no_new_privs, lowers its resource limits (CPU
  seconds, address space, file size, open files, no core dumps) and installs a
  seccomp filter under which it can start threads but no process;
- runs in /kernel/work with a small, fixed environment.

The zygote makes itself undumpable, so a kernel cannot ptrace it or read its memory.
"""
import ctypes
import ctypes.util
import errno
import gc
import importlib
import json
import os
import resource
import select
import signal
import socket
import sys
import threading

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWNET = 0x00020000, 0x04000000, 0x08000000, 0x40000000
MS_NOSUID, MS_NODEV, MS_BIND, MS_REC, MS_PRIVATE = 2, 4, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT = 4, 24, 38, 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)

KERNEL_DIR = "/kernel"          # where a kernel finds its own folder
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"


def _check(result, what):
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source, target, fstype, flags, data=None):
    def b(text):
        return None if text is None else os.fsencode(text)
    _check(LIBC.mount(b(source), b(target), b(fstype), ctypes.c_ulong(flags), b(data)),
           f"mount {source or fstype} on {target}")


# ----------------------------------------------------------------- privileges and limits

class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def drop_capabilities():
    """No capability in any set, none to regain (bounding set emptied, ambient cleared)."""
    for cap in range(64):
        LIBC.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)  # EINVAL past the last one: ignored
    LIBC.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header, data = _CapHeader(0x20080522, 0), (_CapData * 2)()
    _check(LIBC.capset(ctypes.byref(header), data), "capset")
    _check(LIBC.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


LIMITS = {"cpu_seconds": resource.RLIMIT_CPU, "memory_bytes": resource.RLIMIT_AS,
          "file_bytes": resource.RLIMIT_FSIZE, "open_files": resource.RLIMIT_NOFILE,
          "core_bytes": resource.RLIMIT_CORE}


def set_limits(limits):
    for key, which in LIMITS.items():
        value = limits.get(key)
        if value is None:
            continue
        _, hard_now = resource.getrlimit(which)
        hard = int(value) + 5 if key == "cpu_seconds" else int(value)  # SIGXCPU first, SIGKILL 5 s later
        if hard_now != resource.RLIM_INFINITY:
            hard = min(hard, hard_now)
        resource.setrlimit(which, (min(int(value), hard), hard))


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


SECCOMP_ARCHES = {  # (AUDIT_ARCH, syscall numbers); x86_64 also has the x32 ABI (numbers | 1 << 30)
    "x86_64": (0xC000003E, {"fork": 57, "vfork": 58, "clone": 56, "clone3": 435}),
    "aarch64": (0xC00000B7, {"clone": 220, "clone3": 435}),
}
CLONE_THREAD = 0x00010000
LD_ABS, JEQ, JGE, JSET, RET = 0x20, 0x15, 0x35, 0x45, 0x06
RET_ALLOW, RET_ERRNO = 0x7FFF0000, 0x00050000


def no_new_processes():
    """A seccomp filter: threads may be created, processes may not (fork, vfork, clone without
    CLONE_THREAD; clone3 answers ENOSYS so that the C library falls back to clone).
    Returns False on a machine it does not know."""
    machine = os.uname().machine
    if machine not in SECCOMP_ARCHES:
        return False
    arch, numbers = SECCOMP_ARCHES[machine]
    deny = RET_ERRNO | errno.EPERM
    program = [("ld", 4), ("jne", arch, "deny"), ("ld", 0)]
    if machine == "x86_64":
        program += [("jge", 0x40000000, "deny")]
    program += [("jeq", numbers[name], "deny") for name in ("fork", "vfork") if name in numbers]
    program += [("jeq", numbers["clone3"], "nosys"), ("jne", numbers["clone"], "allow"),
                ("ld", 16), ("jset", CLONE_THREAD, "allow"), ("ret", deny, "deny"),
                ("ret", RET_ERRNO | errno.ENOSYS, "nosys"), ("ret", RET_ALLOW, "allow")]
    labels = {step[2]: index for index, step in enumerate(program) if step[0] == "ret"}
    code = []
    for index, step in enumerate(program):
        if step[0] == "ld":
            code.append((LD_ABS, 0, 0, step[1]))
        elif step[0] == "ret":
            code.append((RET, 0, 0, step[1]))
        else:
            offset = labels[step[2]] - index - 1
            code.append((JEQ, 0, offset, step[1]) if step[0] == "jne" else
                        ({"jeq": JEQ, "jge": JGE, "jset": JSET}[step[0]], offset, 0, step[1]))
    filters = (_SockFilter * len(code))(*[_SockFilter(*instruction) for instruction in code])
    program_struct = _SockFprog(len(code), filters)
    _check(LIBC.prctl(22, ctypes.c_ulong(2), ctypes.byref(program_struct), 0, 0), "seccomp")
    return True


# ----------------------------------------------------------------- one kernel

def isolate(spec):
    """New namespaces; /kernel is this kernel's folder; other kernels' folders and old /tmp are gone."""
    _check(LIBC.unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS), "unshare")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount(spec["dir"], KERNEL_DIR, None, MS_BIND | MS_REC)
    _mount("tmpfs", spec["runs"], "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=755")
    # The Python trees bound under /tmp would vanish under the fresh /tmp: hold them by file
    # descriptor across the mount, then bind them back (a bind keeps their read-only flag).
    kept = {tree: os.open(tree, os.O_PATH | os.O_DIRECTORY) for tree in spec.get("keep", [])}
    _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={spec.get('tmp_size', '256m')},mode=1777")
    for tree, fd in kept.items():
        os.makedirs(tree, exist_ok=True)
        _mount(f"/proc/self/fd/{fd}", tree, None, MS_BIND | MS_REC)
        os.close(fd)
    if os.path.isdir("/dev/shm"):
        _mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=64m,mode=1777")
    LIBC.sethostname(b"sandbox", 7)


def enter_kernel(spec):
    """In the process that becomes the kernel: isolate, drop, limit; then the caller starts it."""
    os.setsid()
    for signum in (signal.SIGTERM, signal.SIGCHLD, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if spec["isolate"]:
        isolate(spec)
    here = KERNEL_DIR if spec["isolate"] else spec["dir"]
    log = os.open(os.path.join(here, "kernel.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(null)
    os.close(log)
    os.environ.clear()
    os.environ.update(spec["env"])
    for folder in (spec["env"].get("HOME"), spec["env"].get("MPLCONFIGDIR")):
        if folder:
            os.makedirs(folder, 0o700, exist_ok=True)
    if spec["isolate"]:
        drop_capabilities()
    else:
        LIBC.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    set_limits(spec["limits"])
    if spec.get("no_processes", True):
        no_new_processes()
    os.chdir(os.path.join(here, "work"))
    sys.path[:] = [p for p in sys.path if p not in ("", ".")]
    return os.path.join(here, "connection.json")


def run_kernel(connection_file, arguments):
    """Become `python -m ipykernel_launcher -f CONNECTION ARGS`; never returns."""
    code = 1
    try:
        if "numpy" in sys.modules:  # `random` reseeds itself after fork; NumPy does not
            sys.modules["numpy"].random.seed()
        from ipykernel import kernelapp
        argv = ["-f", connection_file, *arguments]
        sys.argv = ["ipykernel_launcher", *argv]
        kernelapp.launch_new_instance(argv=argv)
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except BaseException:  # noqa: BLE001 (reported in kernel.log)
        import traceback
        traceback.print_exc()
    finally:
        # No exit functions: everything the grader reads was delivered before it asked
        # the kernel to shut down.
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001
                pass
        os._exit(code)


# ----------------------------------------------------------------- the zygote

def _send(sock, message, fds=()):
    data = (json.dumps(message) + "\n").encode()
    if fds:
        socket.send_fds(sock, [data], list(fds))
    else:
        sock.sendall(data)


def preload(names):
    """Import what every kernel would import; "module:function" also calls the function."""
    loaded, failed = [], {}
    for name in names:
        try:
            module_name, _, function = name.partition(":")
            module = importlib.import_module(module_name)
            if function:
                getattr(module, function)()
            loaded.append(name)
        except Exception as error:  # noqa: BLE001 (a missing optional module is not fatal)
            failed[name] = f"{type(error).__name__}: {error}"
    return loaded, failed


def copy_font_cache(source="/opt/mpl-cache"):
    """Matplotlib's font list from the grader's cache, so the zygote does not rebuild it."""
    target = os.environ.get("MPLCONFIGDIR")
    if not target or not os.path.isdir(source):
        return
    os.makedirs(target, 0o700, exist_ok=True)
    for name in os.listdir(source):
        if name.startswith("fontlist") and name.endswith(".json"):
            with open(os.path.join(source, name), "rb") as src, open(os.path.join(target, name), "wb") as dst:
                dst.write(src.read())


def serve(sock, names):
    LIBC.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # no ptrace, no /proc/<pid>/mem for the kernels
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGQUIT):
        signal.signal(signum, signal.SIG_IGN)
    os.environ.setdefault("MPLBACKEND", INLINE_BACKEND)
    copy_font_cache()
    loaded, failed = preload(names)
    gc.collect()
    gc.freeze()  # what was imported lives as long as the kernel: keep its collector from copying it
    threads = threading.active_count()  # forking is only safe from a process with one thread
    _send(sock, {"ready": threads == 1, "pid": os.getpid(), "loaded": loaded, "failed": failed,
                 "threads": threads})
    if threads != 1:
        return
    children, exits = set(), {}
    reader = sock.makefile("r", encoding="utf-8")
    while True:
        ready, _, _ = select.select([sock], [], [], 0.5)
        for pid in list(children):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                children.discard(pid)
                exits[pid] = status
        if not ready:
            continue
        line = reader.readline()
        if not line:
            break  # the grader went away: the sandbox ends with us
        request = json.loads(line)
        if request["op"] == "fork":
            pid = os.fork()
            if pid == 0:
                reader.close()
                sock.close()
                connection = enter_kernel(request["spec"])
                run_kernel(connection, request["spec"]["arguments"])
            children.add(pid)
            pidfd = os.pidfd_open(pid)
            try:
                _send(sock, {"pid": pid}, [pidfd])
            finally:
                os.close(pidfd)
        elif request["op"] == "status":
            pid = request["pid"]
            if pid in children:
                _, status = os.waitpid(pid, 0)
                children.discard(pid)
                exits[pid] = status
            status = exits.pop(pid, None)
            _send(sock, {"pid": pid, "status": None if status is None else describe_exit(status)})
    for pid in children:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def describe_exit(status):
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        return {"signal": number, "signal_name": signal.Signals(number).name}
    return {"exit_code": os.WEXITSTATUS(status)}


def main(argv):
    if argv[0] == "zygote":
        sock = socket.socket(fileno=int(argv[1]))
        serve(sock, json.loads(argv[2]))
        return 0
    if argv[0] == "single":
        with open(argv[1]) as handle:
            spec = json.load(handle)
        os.environ.setdefault("MPLBACKEND", INLINE_BACKEND)
        run_kernel(enter_kernel(spec), spec["arguments"])
    print("usage: kernel_process.py zygote FD PRELOAD_JSON | single SPEC_JSON", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
