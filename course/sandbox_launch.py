"""Start a Jupyter kernel inside the sandbox (the process side of `course.sandbox`).

    python -I -S course/sandbox_launch.py SPEC.json -- KERNEL_COMMAND...

`course.sandbox.SandboxedKernelManager` writes SPEC.json and runs this file
instead of the kernel command. It uses the standard library only and is run
as a plain script, so starting it costs milliseconds (importing the `course`
package would import SymPy).

Two modes, chosen by the grader (see docs/sandbox.md):

"limits"   (any user) the kernel gets resource limits (CPU seconds, address
           space, processes, file size, open files), no new privileges, a
           scrubbed environment, and its stdout/stderr go to a log file. This
           process stays as the kernel's parent and "subreaper": when the
           kernel ends, every process it left behind is killed.

"isolated" (root) in addition, new mount, network, PID, IPC and UTS
           namespaces: the kernel sees a fresh root file system holding only
           the system directories, the Python installation, the `course`
           package and a private copy of its working directory; no network;
           no other process. It runs as an unprivileged user. Nothing on the
           host is changed: the namespace is gone when the kernel ends.

The result (how the kernel ended) is written to SPEC["status_file"] so the
grader can say "CPU time limit" instead of "kernel died".
"""
import ctypes
import ctypes.util
import errno
import json
import os
import resource
import select
import shutil
import signal
import sys
import time

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2

PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38
PR_SET_CHILD_SUBREAPER = 36

PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "ppc64le": 203, "s390x": 217, "riscv64": 41}

LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)

# System directories the kernel sees read-only (missing ones are skipped;
# symbolic links such as /bin -> usr/bin are recreated as links).
SYSTEM_DIRS = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc"]
DEVICES = ["null", "zero", "full", "random", "urandom"]


def _check(result, what):
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def prctl(option, arg):
    _check(LIBC.prctl(option, ctypes.c_ulong(arg), 0, 0, 0), f"prctl({option})")


def mount(source, target, fstype, flags, data=None):
    _check(LIBC.mount(_b(source), _b(target), _b(fstype), ctypes.c_ulong(flags), _b(data)),
           f"mount {source or fstype} on {target}")


def _b(text):
    return None if text is None else os.fsencode(text)


def bind(source, target, readonly=True):
    mount(source, target, None, MS_BIND | MS_REC)
    flags = MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | (MS_RDONLY if readonly else 0)
    mount(None, target, None, flags)


def tmpfs(target, size, mode):
    mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},mode={mode:o}")


# ---------------------------------------------------------------- no new processes (seccomp)

class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


# (AUDIT_ARCH, {syscall: number}) per machine; x86_64 also has the x32 ABI (numbers | 1 << 30)
SECCOMP_ARCHES = {
    "x86_64": (0xC000003E, {"fork": 57, "vfork": 58, "clone": 56, "clone3": 435}),
    "aarch64": (0xC00000B7, {"clone": 220, "clone3": 435}),
}
CLONE_THREAD = 0x00010000
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
RET_ALLOW, RET_ERRNO = 0x7FFF0000, 0x00050000
LD_ABS, JEQ, JGE, JSET, RET = 0x20, 0x15, 0x35, 0x45, 0x06


def no_new_processes():
    """Install a seccomp filter: threads may be created, processes may not (fork, vfork, spawn).

    Returns False where the machine is not known (then only RLIMIT_NPROC limits processes).
    A fork bomb then fails at its first fork, and the kernel keeps the threads it needs.
    clone3 answers ENOSYS, so that the C library falls back to clone, whose flags are checked.
    """
    machine = os.uname().machine
    if machine not in SECCOMP_ARCHES:
        return False
    arch, numbers = SECCOMP_ARCHES[machine]
    deny = RET_ERRNO | errno.EPERM
    program = [("ld", 4), ("jne", arch, "deny")]
    program += [("ld", 0)]
    if machine == "x86_64":
        program += [("jge", 0x40000000, "deny")]
    for name in ("fork", "vfork"):
        if name in numbers:
            program += [("jeq", numbers[name], "deny")]
    program += [("jeq", numbers["clone3"], "nosys"), ("jne", numbers["clone"], "allow"),
                ("ld", 16), ("jset", CLONE_THREAD, "allow"), ("ret", deny, "deny"),
                ("ret", RET_ERRNO | errno.ENOSYS, "nosys"), ("ret", RET_ALLOW, "allow")]
    # assemble: resolve labels into relative jumps
    labels = {step[2]: index for index, step in enumerate(program) if step[0] == "ret"}
    code = []
    for index, step in enumerate(program):
        op = step[0]
        if op == "ld":
            code.append((LD_ABS, 0, 0, step[1]))
        elif op == "ret":
            code.append((RET, 0, 0, step[1]))
        else:
            offset = labels[step[2]] - index - 1
            if op == "jne":
                code.append((JEQ, 0, offset, step[1]))
            else:
                code.append(({"jeq": JEQ, "jge": JGE, "jset": JSET}[op], offset, 0, step[1]))
    filters = (_SockFilter * len(code))(*[_SockFilter(*instruction) for instruction in code])
    fprog = _SockFprog(len(code), filters)
    _check(LIBC.prctl(PR_SET_SECCOMP, ctypes.c_ulong(SECCOMP_MODE_FILTER), ctypes.byref(fprog), 0, 0),
           "seccomp")
    return True


# ---------------------------------------------------------------- both modes

def set_limits(limits, extra_processes=0):
    """Lower the resource limits of this process (inherited by the kernel and its children)."""
    table = {
        "cpu_seconds": resource.RLIMIT_CPU,
        "memory_bytes": resource.RLIMIT_AS,
        "processes": resource.RLIMIT_NPROC,
        "file_bytes": resource.RLIMIT_FSIZE,
        "open_files": resource.RLIMIT_NOFILE,
        "core_bytes": resource.RLIMIT_CORE,
    }
    for key, which in table.items():
        value = limits.get(key)
        if value is None:
            continue
        value = int(value) + (extra_processes if key == "processes" else 0)
        soft_now, hard_now = resource.getrlimit(which)
        hard = value + 5 if key == "cpu_seconds" else value  # SIGXCPU first, SIGKILL 5 s later
        if hard_now != resource.RLIM_INFINITY:
            hard = min(hard, hard_now)
        resource.setrlimit(which, (min(value, hard), hard))


def tasks_of_user(uid):
    """How many tasks (threads count) the user runs now: RLIMIT_NPROC counts them all."""
    count = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/status") as handle:
                fields = dict(line.split(":", 1) for line in handle if ":" in line)
            if int(fields["Uid"].split()[0]) == uid:
                count += int(fields["Threads"])
        except (OSError, KeyError, ValueError):
            continue
    return count


def open_outputs(spec):
    """The kernel's log and the status file, opened before the file system changes."""
    log = os.open(spec["log_file"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    status = os.open(spec["status_file"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    events = os.open(spec["events_file"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    return log, status, events


def become_kernel_process(spec, log):
    """In the kernel's own process: drop what must be dropped; the caller then runs the kernel."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    uid, gid = spec.get("uid"), spec.get("gid")
    extra = 0
    if uid is not None:
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    elif os.getuid() != 0:
        # the limit counts every task of this user, the grader's own included
        extra = tasks_of_user(os.getuid())
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    set_limits(spec["limits"], extra)
    if spec.get("no_processes"):
        no_new_processes()
    os.chdir(spec["cwd"])
    os.environ.clear()
    os.environ.update(spec["env"])


def write_status(status_fd, record):
    try:
        os.write(status_fd, json.dumps(record).encode())
    except OSError:
        pass


def describe_exit(wait_status):
    if os.WIFSIGNALED(wait_status):
        sig = os.WTERMSIG(wait_status)
        return {"signal": sig, "signal_name": signal.Signals(sig).name}
    return {"exit_code": os.WEXITSTATUS(wait_status)}


def process_table():
    """{pid: parent pid} of the processes this process can see."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                table[int(entry)] = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return table


def descendants(pid, table):
    children = {}
    for child, parent in table.items():
        children.setdefault(parent, []).append(child)
    found, todo = [], list(children.get(pid, []))
    while todo:
        child = todo.pop()
        found.append(child)
        todo.extend(children.get(child, []))
    return found


def supervise(kernel_pid, reap_all, spec, events, parent=None):
    """Wait for the kernel, reaping orphans and stopping process bombs; return its wait status.

    The kernel shares one process limit with everything it starts, its own
    threads included: a fork bomb would leave it unable to start a thread and
    so unable to answer. When processes are allowed and the kernel's
    descendants outnumber spec["max_children"], they are all killed (the
    kernel itself lives on). With `parent` (the grader's PID), the grader's
    death ends the kernel too, as ipykernel's own parent poller would.
    """
    limit = 0 if spec.get("no_processes") else int(spec.get("max_children") or 0)
    poll = bool(limit) or parent is not None
    interval = 0.05 if limit and spec["mode"] == "isolated" else 0.25
    kernel_exit = exit_notice(kernel_pid) if poll else None
    while True:
        try:
            pid, wait_status = os.waitpid(-1, os.WNOHANG if poll else 0)
        except ChildProcessError:
            return 0
        except InterruptedError:
            continue
        if pid == kernel_pid:
            reap_all()
            return wait_status
        if pid:
            continue
        wait_for_exit(kernel_exit, interval)
        if parent is not None and os.getppid() != parent:
            orphaned(kernel_pid, reap_all)
        if limit:
            extra = descendants(kernel_pid, process_table())
            if len(extra) > limit:
                for victim in extra:
                    try:
                        os.kill(victim, signal.SIGKILL)
                    except (ProcessLookupError, PermissionError):
                        pass
                note(events, {"kind": "process_bomb", "killed": len(extra), "limit": limit})


def exit_notice(pid):
    """A file descriptor that becomes readable when `pid` exits (None if the system has none)."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def wait_for_exit(notice, seconds):
    """Sleep `seconds`, or less if the process behind `notice` exits first: the grader
    waits for a kernel's supervisors at every shutdown, so they must not oversleep."""
    if notice is None:
        time.sleep(seconds)
        return
    try:
        select.select([notice], [], [], seconds)
    except InterruptedError:
        pass


def orphaned(child, reap_all=None):
    """The grader is gone: take the kernel (and everything below it) with us."""
    try:
        os.kill(child, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if reap_all is not None:
        reap_all()
    os._exit(137)


def note(events, record):
    try:
        os.write(events, (json.dumps(record) + "\n").encode())
    except OSError:
        pass


def kill_descendants():
    """Kill every process left below this one (they are reparented here: we are a subreaper)."""
    me = str(os.getpid())
    for _ in range(50):
        children = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/stat") as handle:
                    stat = handle.read()
                ppid = stat.rsplit(")", 1)[1].split()[1]
            except (OSError, IndexError):
                continue
            if ppid == me:
                children.append(int(pid))
        if not children:
            return
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid in children:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass


def exit_like(wait_status):
    if os.WIFSIGNALED(wait_status):
        os._exit(128 + os.WTERMSIG(wait_status))
    os._exit(os.WEXITSTATUS(wait_status))


def ignore_interrupts():
    """The supervisor outlives interrupts: the grader signals the whole process group."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)


def fork_kernel(spec, log, status, events, reap_all, parent=None):
    """Fork: the child returns its log fd (it becomes the kernel); the parent supervises it,
    records how it ended, and exits the same way."""
    pid = os.fork()
    if pid == 0:
        os.close(status)
        os.close(events)
        return log
    os.close(log)
    wait_status = supervise(pid, reap_all, spec, events, parent=parent)
    write_status(status, describe_exit(wait_status))
    exit_like(wait_status)


def _limited(spec):
    """Fork: the parent supervises and exits like the kernel; the child returns."""
    ignore_interrupts()
    grader = os.getppid()
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    log, status, events = open_outputs(spec)
    return fork_kernel(spec, log, status, events, kill_descendants, parent=grader)


# ---------------------------------------------------------------- isolated mode

def makedirs(path, mode=0o755):
    os.makedirs(path, mode=mode, exist_ok=True)


def inside(path, root):
    return path == root or path.startswith(root.rstrip("/") + "/")


def build_root(spec):
    """Assemble the kernel's file system under spec["new_root"] (a fresh tmpfs)."""
    new_root = spec["new_root"]
    tmpfs(new_root, spec.get("root_size", "64m"), 0o755)

    def at(path):
        return new_root + path

    makedirs(at("/proc"))
    mount("proc", at("/proc"), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    makedirs(at("/dev"))
    tmpfs(at("/dev"), "1m", 0o755)
    for name in DEVICES:
        if os.path.exists("/dev/" + name):
            open(at("/dev/" + name), "w").close()
            mount("/dev/" + name, at("/dev/" + name), None, MS_BIND)
    for name, target in [("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")]:
        os.symlink(target, at("/dev/" + name))
    makedirs(at("/dev/shm"))
    tmpfs(at("/dev/shm"), spec.get("tmp_size", "256m"), 0o1777)
    makedirs(at("/tmp"))
    tmpfs(at("/tmp"), spec.get("tmp_size", "256m"), 0o1777)
    makedirs(at("/var"))
    os.symlink("/tmp", at("/var/tmp"))

    for path in SYSTEM_DIRS:
        if os.path.islink(path):
            os.symlink(os.readlink(path), at(path))
        elif os.path.isdir(path):
            makedirs(at(path))
            bind(path, at(path))
    exposed = []
    for path in sorted(set(spec["expose"]), key=len):
        if not os.path.isdir(path) or any(inside(path, done) for done in exposed + SYSTEM_DIRS):
            continue
        makedirs(at(path))
        bind(path, at(path))
        exposed.append(path)

    if os.path.isfile("/etc/passwd"):  # the kernel's user, for getpass.getuser() and friends
        with open("/etc/passwd") as handle:
            accounts = handle.read().rstrip("\n")
        with open(at("/.passwd"), "w") as handle:
            handle.write(f"{accounts}\nsandbox:x:{spec['uid']}:{spec['gid']}:sandboxed kernel:"
                         f"{spec['env'].get('HOME', '/tmp')}:/usr/sbin/nologin\n")
        os.chmod(at("/.passwd"), 0o644)
        mount(at("/.passwd"), at("/etc/passwd"), None, MS_BIND)
        mount(None, at("/etc/passwd"), None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)

    for path in spec.get("share", []):  # the kernel's connection files and sockets
        makedirs(at(path))
        bind(path, at(path), readonly=False)

    hidden = []
    for path in spec.get("hide", []):  # a protected directory that lies inside an exposed one
        if os.path.isdir(at(path)):
            tmpfs(at(path), "1m", 0o755)
            hidden.append(path)
    # The venv and `course` may live inside the course root (make's .venv in the repository):
    # hiding the root covered them too, so they are bound again on top of the empty root.
    for path in exposed:
        if any(inside(path, h) and path != h for h in hidden):
            makedirs(at(path))
            bind(path, at(path))

    uid, gid = spec["uid"], spec["gid"]
    home = spec["env"].get("HOME", "/tmp/home")
    makedirs(at(home), 0o700)
    mpl = spec["env"].get("MPLCONFIGDIR")
    if mpl and spec.get("mpl_cache_files"):  # matplotlib's font list: not rebuilt by every kernel
        makedirs(at(mpl), 0o700)
        for path in spec["mpl_cache_files"]:
            shutil.copyfile(path, os.path.join(at(mpl), os.path.basename(path)))
    for folder, dirs, files in os.walk(at(home)):
        for name in [folder] + [os.path.join(folder, n) for n in files]:
            os.lchown(name, uid, gid)
    cwd = spec["cwd"]
    makedirs(at(cwd), 0o700)
    copy_tree(cwd, at(cwd), spec.get("copy_limit_bytes", 64 << 20), skip=new_root)
    for folder, dirs, files in os.walk(at(cwd)):
        for name in [folder] + [os.path.join(folder, n) for n in dirs + files]:
            os.lchown(name, uid, gid)
    parent = os.path.dirname(cwd)  # the directories above are root's, read-only for the kernel
    while parent not in ("/", "") and os.path.isdir(at(parent)):
        os.chmod(at(parent), 0o755)
        parent = os.path.dirname(parent)
    return new_root


def copy_tree(source, target, budget, skip):
    """Copy the kernel's working directory (the student's own files), up to `budget` bytes."""
    for folder, dirs, files in os.walk(source):
        dirs[:] = [d for d in dirs if not inside(os.path.join(folder, d), skip)]
        relative = os.path.relpath(folder, source)
        destination = os.path.normpath(os.path.join(target, relative))
        makedirs(destination, 0o700)
        for name in files:
            path = os.path.join(folder, name)
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            size = os.path.getsize(path)
            if size > budget:
                continue
            budget -= size
            shutil.copyfile(path, os.path.join(destination, name))


def enter_root(new_root):
    """Make `new_root` the root of this mount namespace and drop the old one."""
    os.chdir(new_root)
    number = PIVOT_ROOT.get(os.uname().machine)
    if number is not None and LIBC.syscall(number, b".", b".") == 0:
        _check(LIBC.umount2(b".", MNT_DETACH), "umount old root")
    else:
        os.chroot(".")
    os.chdir("/")


def own_uid(spec):
    """A user id of this kernel's own (base + our PID, unique among running kernels).

    RLIMIT_NPROC counts the processes of a user id system-wide: with one id
    per kernel, a fork bomb in one submission cannot starve the kernels of
    the others that are graded at the same time.
    """
    if spec.get("uid_base"):
        spec["uid"] = int(spec["uid_base"]) + os.getpid()
        for path in spec.get("share", []):
            for folder, dirs, files in os.walk(path):
                for name in [folder] + [os.path.join(folder, n) for n in files]:
                    os.lchown(name, spec["uid"], spec["gid"])


def _isolated(spec):
    """Fork twice into new namespaces; the supervisors exit like the kernel; the kernel returns."""
    ignore_interrupts()
    own_uid(spec)
    flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
    _check(LIBC.unshare(flags), "unshare")
    grader = os.getppid()
    init = os.fork()
    if init:
        # the outer process: wait for the namespace's init and exit like it; if the grader
        # dies first, kill init, and with it everything in the namespace
        init_exit = exit_notice(init)
        while True:
            try:
                pid, wait_status = os.waitpid(init, os.WNOHANG)
            except InterruptedError:
                continue
            if pid:
                break
            wait_for_exit(init_exit, 0.25)
            if os.getppid() != grader:
                orphaned(init)
        exit_like(wait_status)
    log, status, events = open_outputs(spec)
    try:
        # PID 1 of the new namespace, still root: build the file system, start the kernel
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        mount(None, "/", None, MS_REC | MS_PRIVATE)
        new_root = build_root(spec)
        enter_root(new_root)
        LIBC.sethostname(b"sandbox", 7)
    except BaseException as error:  # tell the grader why the kernel never started
        os.write(log, f"sandbox setup failed: {error!r}\n".encode())
        write_status(status, {"setup_error": repr(error)})
        os._exit(126)
    return fork_kernel(spec, log, status, events, kill_namespace)


def kill_namespace():
    """PID 1 kills what is left of the namespace (it would die with us anyway)."""
    try:
        os.kill(-1, signal.SIGKILL)
    except ProcessLookupError:
        pass
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return
        except InterruptedError:
            continue


def enter_sandbox(spec):
    """Put the calling process in the sandbox described by `spec`.

    Returns only in the process that is to become the kernel (with limits set,
    privileges dropped, working directory, environment and stdout/stderr in
    place); the processes above it supervise and exit like the kernel. A
    process that forks kernels from a warm interpreter calls this in the
    forked child and then starts the kernel in-process; this script's main()
    calls it and then execs the kernel command.
    """
    log = _isolated(spec) if spec["mode"] == "isolated" else _limited(spec)
    try:
        become_kernel_process(spec, log)
    except BaseException as error:
        os.write(2, f"sandbox: cannot start the kernel: {error!r}\n".encode())
        os._exit(127)


def read_spec(path):
    with open(path) as handle:
        return json.load(handle)


def split_command(argv):
    """(spec path, kernel command) from `SPEC.json -- COMMAND...`, or None."""
    if len(argv) < 3 or argv[1] != "--":
        return None
    return argv[0], argv[2:]


def main(argv):
    parsed = split_command(argv)
    if parsed is None:
        print("usage: sandbox_launch.py SPEC.json -- COMMAND...", file=sys.stderr)
        return 2
    spec_path, command = parsed
    enter_sandbox(read_spec(spec_path))
    try:
        os.execvp(command[0], command)
    finally:
        os._exit(127)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
