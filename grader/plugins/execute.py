"""`GradedExecute`: nbgrader's Execute preprocessor, with the hidden tests on the grader's side.

For every code cell the sandboxed kernel runs what the student sees: their own
cells, and the visible part of each test cell (their self-checks). The hidden
part of a test cell (between `### BEGIN/END HIDDEN TESTS`, restored by nbgrader
from the gradebook) never reaches the kernel: the grader runs it in its own
process, where `student` (grader.hidden) asks the kernel for data. The cell's
score is then the grader's: its verdict goes first among the cell's outputs, and
nothing the kernel printed can pass for a score.

Also: output caps (`grader.plugins.outputs`), a shorter time limit once a notebook
has timed out twice, and a dead kernel reported with its cause
(`SubmissionNotGradable`: "the kernel was killed: CPU time limit of 900 s
exceeded while running cell 'b4_backward'").
"""
import builtins
import json
import signal
import threading
import time
import traceback
from pathlib import Path

from jupyter_core.utils import run_sync
from nbclient.exceptions import DeadKernelError
from nbgrader.preprocessors import Execute
from traitlets import Bool, Integer, Unicode

from course.checks import CheckFailed
from grader.boundary.kernel_student import KernelGone, KernelStudent
from grader.hidden.current import checking
from grader.sandbox.manager import SandboxKernelManager

from . import outputs, regions

AGENT_SOURCE = (Path(__file__).resolve().parent.parent / "boundary" / "agent.py").read_text()
INSTALL_AGENT = f"""
def __grader_setup():
    namespace = {{"__name__": "grader_agent"}}
    exec(compile({AGENT_SOURCE!r}, "<grader agent>", "exec"), namespace)
    return namespace["install"](get_ipython())
__grader_setup()
del __grader_setup
"""


class SubmissionNotGradable(Exception):
    """The kernel stopped, or stopped answering: nothing after this point can be graded.

    The message is the reason reported for the student."""


class GraderTimeLimit(Exception):
    """The grader's own work on one cell overran (a value unusually expensive to check)."""


class GradedExecute(Execute):
    """nbgrader's Execute: student code in the sandboxed kernel, hidden tests in the grader."""

    max_stream_bytes = Integer(200_000, help="stdout (and stderr) kept per cell").tag(config=True)
    max_rich_bytes = Integer(2_000_000, help="largest image or other rich output kept").tag(config=True)
    max_outputs = Integer(100, help="rich outputs kept per cell").tag(config=True)
    max_notebook_bytes = Integer(20_000_000, help="outputs kept per notebook, in all").tag(config=True)
    timeouts_before_shortening = Integer(2).tag(config=True)
    short_timeout = Integer(10, help="time limit of a cell once a notebook has had that many timeouts").tag(config=True)
    grader_grace = Integer(30, help="seconds the grader's own checks of a cell may take beyond its time "
                                    "limit before they are stopped").tag(config=True)
    traceback_mode = Unicode("Plain", help="IPython's %xmode in grading kernels ('' keeps the default)").tag(config=True)
    kernel_history = Bool(False, help="keep IPython's input history database in grading kernels").tag(config=True)
    record_events = Bool(True, help="write what happened (timeouts, caps, grader errors) under grading_status/"
                         ).tag(config=True)

    #: nbclient's methods this class overrides: if one is renamed, the caps or the verdict would
    #: silently stop applying, so grading refuses to start instead.
    HOOKS = ("output", "clear_output", "_update_display_id", "_get_timeout", "_async_handle_timeout",
             "async_start_new_kernel", "async_start_new_kernel_client", "preprocess_cell", "preprocess")

    def __init__(self, **kw):
        kw.setdefault("kernel_manager_class", SandboxKernelManager)
        super().__init__(**kw)
        missing = [name for name in self.HOOKS if not callable(getattr(Execute, name, None))]
        if missing:
            raise RuntimeError(f"nbclient/nbgrader no longer have {', '.join(missing)}: the grader's caps and "
                               f"verdicts depend on them; grading stops")

    # ---- the notebook as a whole

    def preprocess(self, nb, resources=None, km=None):
        self._events, self._timed_out, self._proxy = [], [], None
        self._used_bytes, self._cell, self._sent_code = 0, None, []
        self._boundary = {"hidden_tests_s": 0.0}
        self._nbgrader = dict((resources or {}).get("nbgrader") or {})
        try:
            return super().preprocess(nb, resources, km)
        except (DeadKernelError, KernelGone) as error:
            raise self._not_gradable(self._explain_death(error)) from error
        except SubmissionNotGradable as error:
            self._events.append({"kind": "failed", "reason": str(error)})
            raise
        except Exception as error:
            if "Timeout waiting for IOPub output" in str(error) or type(error).__name__ == "CellTimeoutError":
                self._events.append({"kind": "flag", "reason": "code ignores interrupts (catches KeyboardInterrupt)"})
                raise self._not_gradable(f"the kernel did not stop when cell {self._where()} was interrupted "
                                         f"after its time limit (a loop that catches KeyboardInterrupt?)") from error
            raise
        finally:
            self._close_proxy()
            self._write_events()

    def _not_gradable(self, reason):
        self._events.append({"kind": "failed", "reason": reason})
        return SubmissionNotGradable(reason)

    def create_kernel_manager(self):
        km = super().create_kernel_manager()
        if isinstance(km, SandboxKernelManager) and self._nbgrader.get("student"):
            course = self._course()
            km.student_files = [str(course.submitted(self._nbgrader["student"], self._nbgrader["assignment"]))]
            km.course_files = [str(course.source(self._nbgrader["assignment"]))]
        self._sandbox_km = km  # nbclient drops self.km when the kernel is cleaned up
        return km

    def _course(self):
        from grader.paths import course_of
        return course_of(self.config)

    async def async_start_new_kernel(self, **kwargs):
        wanted = [f"--InteractiveShell.xmode={self.traceback_mode}"] if self.traceback_mode else []
        if not self.kernel_history:
            wanted.append("--HistoryManager.enabled=False")
        self.extra_arguments = [*self.extra_arguments, *(a for a in wanted if a not in self.extra_arguments)]
        return await super().async_start_new_kernel(**kwargs)

    start_new_kernel = run_sync(async_start_new_kernel)

    async def async_start_new_kernel_client(self):
        client = await super().async_start_new_kernel_client()
        # Before any student code runs: the agent that answers the hidden tests' requests.
        reply = await self.async_wait_for_reply(client.execute(INSTALL_AGENT, silent=True, store_history=False))
        if reply is None or reply["content"].get("status") != "ok":
            raise RuntimeError("the grader could not set up its helper in the kernel "
                               f"({(reply or {}).get('content', {}).get('evalue', 'no reply')})")
        self._student()  # connected (and its stdin path proved) before any student code runs
        return client

    start_new_kernel_client = run_sync(async_start_new_kernel_client)

    # ---- each cell

    def preprocess_cell(self, cell, resources, index):
        self._cell, self._cell_index, self._flood = cell, index, {}
        meta = cell.get("metadata", {}).get("nbgrader", {})
        test_cell = cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")
        original, hidden, found = cell.source, "", False
        if test_cell:
            visible, hidden, found = regions.split(original)
            cell.source = visible
        self._graded = test_cell
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        finally:
            cell.source = original
            self._graded = False
        if not test_cell:
            if cell.cell_type == "code":
                cell.outputs = [o for o in cell.outputs if not outputs.is_hint(o)]
            return cell, resources
        kernel_part = outputs.kernel_outputs_of_graded_cell(cell.outputs)
        if found:
            message, hints = self._check(hidden, meta.get("grade_id") or f"cell {index + 1}")
        else:
            message, hints = None, []
            self._events.append({"kind": "no_hidden_tests", "cell": meta.get("grade_id")})
        cell.outputs = outputs.verdict_outputs(message, hints) + kernel_part
        return cell, resources

    def _time_limit(self):
        limit = self.timeout or 30
        if len(self._timed_out) >= self.timeouts_before_shortening and self.short_timeout > 0:
            limit = min(limit, self.short_timeout)
        return limit

    def _check(self, code, grade_id):
        """Run a cell's hidden tests here, against the kernel: (failure message or None, hints)."""
        started = time.perf_counter()
        try:
            return self._run_hidden(code, grade_id)
        finally:
            self._boundary["hidden_tests_s"] += time.perf_counter() - started

    def _run_hidden(self, code, grade_id):
        proxy = self._student()
        limit = self._time_limit()
        proxy.begin(limit)
        hints, message = [], None
        namespace = {"__name__": f"hidden_tests_{grade_id}", "__builtins__": builtins}
        try:
            with checking(proxy, hints), _alarm(limit + self.grader_grace):
                exec(compile(code, f"<hidden tests of {grade_id}>", "exec"), namespace)
        except CheckFailed as failure:
            message = str(failure) or "A check failed."
        except KernelGone:
            raise
        except GraderTimeLimit:
            message = "The checks of this cell took too long (is a value unusually large?)."
            self._events.append({"kind": "grader_time_limit", "cell": grade_id})
        except Exception as error:  # noqa: BLE001 (a value the checks did not expect: the cell fails)
            message = "This cell could not be checked: one of your values has a form the checks do not expect."
            self._events.append({"kind": "hidden_test_error", "cell": grade_id,
                                 "error": "".join(traceback.format_exception(error))[-3000:]})
            self.log.warning("hidden tests of %s raised %s", grade_id, f"{type(error).__name__}: {error}")
        finally:
            timed_out = proxy.timed_out
            proxy.end()
        if timed_out:
            self._timed_out.append(grade_id)
            self._events.append({"kind": "timeout", "cell": grade_id, "seconds": limit})
        return message, hints

    def _student(self):
        if self._proxy is None:
            km = self.km
            self._proxy = KernelStudent(km.get_connection_info(), is_alive=lambda: run_sync(km.is_alive)(),
                                        interrupt=lambda: run_sync(km.interrupt_kernel)())
        return self._proxy

    def _close_proxy(self):
        if self._proxy is not None:
            self._sent_code = sorted(set(self._proxy.sent_code))
            self._boundary.update(self._proxy.cost)
            self._proxy.close()
            self._proxy = None

    # ---- nbclient's hooks: timeouts, outputs

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

    def clear_output(self, outs, msg, cell_index):
        if getattr(self, "_graded", False):  # code under test may not erase a graded cell's outputs
            self._events.append({"kind": "clear_output_ignored", "cell": self._cell_name(cell_index)})
            return
        return super().clear_output(outs, msg, cell_index)

    def _update_display_id(self, display_id, msg):
        """Earlier outputs are never rewritten (nbclient would, for every later display or update
        with the same id): the record keeps what was displayed first, and the caps hold."""
        self._events.append({"kind": "display_update_ignored", "cell": self._cell_name(self._cell_index)})

    def output(self, outs, msg, display_id, cell_index):
        kind = msg["msg_type"]
        if kind == "update_display_data":
            return None
        if self._used_bytes >= self.max_notebook_bytes:
            if not self._flood.get("notebook_full"):
                self._flood["notebook_full"] = True
                outs.append(outputs.note(f"... outputs dropped: the notebook's outputs exceed "
                                         f"{outputs.megabytes(self.max_notebook_bytes)} ..."))
                self._events.append({"kind": "output_capped", "cell": self._cell_name(cell_index), "notebook": True})
            return None
        if kind == "stream":
            return self._capped_stream(outs, msg, display_id, cell_index)
        if kind in ("display_data", "execute_result"):
            count = self._flood["rich"] = self._flood.get("rich", 0) + 1
            if count > self.max_outputs:
                if count == self.max_outputs + 1:
                    outs.append(outputs.note(f"... more than {self.max_outputs} outputs: the rest were dropped ..."))
                return None
            data = msg["content"].get("data", {})
            size = sum(outputs.size_of(v) for v in data.values())
            if size > self.max_rich_bytes:
                self._events.append({"kind": "output_capped", "cell": self._cell_name(cell_index), "bytes": size})
                kinds = ", ".join(sorted(k for k in data if k != "text/plain")) or "text"
                outs.append(outputs.note(f"[{kinds} output of {outputs.megabytes(size)} removed: larger than "
                                         f"the {outputs.megabytes(self.max_rich_bytes)} limit]"))
                return None
            self._used_bytes += size
        return super().output(outs, msg, display_id, cell_index)

    def _capped_stream(self, outs, msg, display_id, cell_index):
        name = msg["content"].get("name", "stdout")
        text = msg["content"].get("text", "")
        used = self._flood.get(name, 0)
        self._flood[name] = used + len(text)
        if used >= self.max_stream_bytes:
            return None
        if used + len(text) > self.max_stream_bytes:
            self._events.append({"kind": "output_capped", "cell": self._cell_name(cell_index), "stream": name})
            text = (text[:self.max_stream_bytes - used]
                    + f"\n... output truncated: more than {outputs.megabytes(self.max_stream_bytes)} on {name} ...\n")
            msg = dict(msg, content=dict(msg["content"], text=text))
        self._used_bytes += len(text)
        return super().output(outs, msg, display_id, cell_index)

    def _cell_name(self, cell_index):
        try:
            cell = self.nb.cells[cell_index]
            return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") or f"#{cell_index + 1}"
        except (AttributeError, IndexError, TypeError):
            return f"#{cell_index + 1}"

    # ---- a kernel that died

    def _where(self):
        if self._cell is None:
            return "(before the first cell)"
        grade_id = self._cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        return f"'{grade_id}'" if grade_id else f"#{self._cell_index + 1}"

    def _explain_death(self, error):
        km = getattr(self, "_sandbox_km", None)
        info, limits = {}, {}
        if isinstance(km, SandboxKernelManager):
            process = getattr(km.provisioner, "process", None) if km.provisioner else None
            for _ in range(20):  # the process may still be on its way out
                if process is None or process.poll() is not None:
                    break
                time.sleep(0.05)
            if process is not None:
                km.record_exit(process)
            info, limits = km.exit_info or {}, km.limits()
        where = self._where()
        name = info.get("signal_name")
        if isinstance(error, KernelGone) and not info:
            return f"{error} (cell {where})"
        if name == "SIGXCPU":
            return (f"the kernel was killed: CPU time limit of {limits.get('cpu_seconds')} s exceeded "
                    f"while running cell {where}")
        if name == "SIGKILL":
            return (f"the kernel was killed (SIGKILL: CPU or memory limit, or the system ran out of memory) "
                    f"while running cell {where}")
        if name in ("SIGSEGV", "SIGABRT", "SIGBUS"):
            return (f"the kernel crashed ({name}) while running cell {where} (often the memory limit of "
                    f"{limits.get('memory_bytes', 0) >> 20} MB reached inside a library)")
        if name:
            return f"the kernel was killed by {name} while running cell {where}"
        if "exit_code" in info:
            return (f"the kernel exited (exit code {info['exit_code']}) while running cell {where}: the code "
                    f"stopped the Python process (os._exit, sys.exit in a thread, ...)")
        return f"the kernel died while running cell {where}"

    # ---- what happened, for the instructor

    def _write_events(self):
        info = self._nbgrader
        if not (self.record_events and info.get("student") and info.get("notebook")):
            return
        km = getattr(self, "_sandbox_km", None)
        record = {"events": self._events, "sandbox": getattr(km, "mode", None), "time": time.time(),
                  "sent_code": self._sent_code,
                  "boundary": {key: round(value, 4) for key, value in self._boundary.items()}}
        folder = self._course().status(info["assignment"]) / "events" / info["student"]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{info['notebook']}.json").write_text(json.dumps(record, indent=1))


class _alarm:
    """Stop the grader's own work after `seconds` (main thread only; elsewhere the kernel's
    time limits and the checks' own child processes bound it)."""

    def __init__(self, seconds):
        self.seconds = seconds
        self.armed = threading.current_thread() is threading.main_thread()

    def __enter__(self):
        if self.armed:
            def ring(signum, frame):
                raise GraderTimeLimit()
            self.previous = signal.signal(signal.SIGALRM, ring)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
        return self

    def __exit__(self, *exc):
        if self.armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)
        return False
