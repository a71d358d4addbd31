"""Asking the sandboxed kernel over the Jupyter stdin channel (the grading transport).

For each test cell the grader sends one execute request, `__grader_agent__.serve()`
with `allow_stdin`. The agent answers every request in the prompt of an
`input_request`; the grader's `input_reply` carries the next request, or "done".
A stub call of a trusted helper arrives the same way and is answered in place.
One round trip per request, and no IPython cell machinery per request.

Bounds: replies larger than the socket limit are dropped by ZeroMQ itself; a
request that outlives its time is interrupted, and a kernel that then still does
not answer (or dies) ends the notebook with a reason (`KernelGone`).
"""
import json
import time

import zmq
from jupyter_client.blocking import BlockingKernelClient

from . import wire
from .student import Student

SERVE = "__grader_agent__.serve()"
#: Largest message the grader accepts from a kernel on the channels it reads.
MAX_MESSAGE_BYTES = 48 << 20
#: After an interrupt, how long the kernel has to report that it stopped.
INTERRUPT_GRACE = 5.0
#: How long a message to the kernel may wait for its connection.
SEND_TIMEOUT_MS = 5000


class KernelGone(Exception):
    """The kernel died or stopped answering: nothing more can be graded in this notebook."""


class _ConnectionBroken(KernelGone):
    """A message could not be sent: the kernel dropped our connection (over the size limit?)."""


class KernelStudent(Student):
    """`Student` over a kernel: `connection` is the kernel's connection info."""

    def __init__(self, connection, is_alive, interrupt, clock=time.monotonic):
        self.context = zmq.Context()
        self.context.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
        self.context.setsockopt(zmq.SNDTIMEO, SEND_TIMEOUT_MS)  # a broken connection must not block us
        self.connection = connection
        self.is_alive, self.interrupt, self.clock = is_alive, interrupt, clock
        started = clock()
        self.client = self._connect()
        # what the boundary costs (recorded with the notebook's events; `make bench` reports it)
        self.cost = {"connect_s": clock() - started, "requests": 0, "waiting_s": 0.0}
        self.sent_code = []
        self.serving = None     # msg_id of the running serve() request
        self.deadline = None    # set by the grader for each test cell (begin)
        self.timed_out = False

    # ---- the grader's side of a test cell

    def begin(self, seconds):
        """Requests from now on share `seconds` (the cell's time limit)."""
        self.deadline = self.clock() + seconds
        self.seconds = seconds
        self.timed_out = False

    def end(self):
        """Close this cell's serve() loop (the kernel is ready for the next cell)."""
        if self.serving is None:
            return
        serving, self.serving = self.serving, None
        self._send("done")
        self._wait_shell_reply(serving, self.clock() + INTERRUPT_GRACE + 5)

    def _connect(self):
        client = BlockingKernelClient(context=self.context)
        client.load_connection_info(self.connection)
        client.start_channels(shell=True, iopub=False, stdin=True, hb=False, control=False)
        self._warm_up(client)
        return client

    def _warm_up(self, client, attempts=5):
        """One stdin round trip before any real request.

        The kernel's stdin socket (a ROUTER) drops a message addressed to a client whose
        connection is still being set up; an input_request sent then would be lost and the
        kernel would wait for an answer forever. So: ask the kernel for an input, and if the
        request does not arrive, answer anyway once the connection must be up."""
        msg_id = client.execute("get_ipython().kernel.raw_input('grader')", silent=True, store_history=False,
                                allow_stdin=True, stop_on_error=False)
        for _ in range(attempts):
            try:
                client.get_stdin_msg(timeout=1.0)
            except Exception:  # queue.Empty: the request was lost (or is late); answer all the same
                pass
            try:
                client.input("ok")
            except zmq.Again:
                continue
            try:
                while True:
                    reply = client.get_shell_msg(timeout=2.0)
                    if reply["parent_header"].get("msg_id") == msg_id:
                        return
            except Exception:  # no reply yet: the answer came before the kernel asked; again
                continue

    def _reconnect(self):
        """New sockets (a new identity), and the kernel's old loop interrupted: it waits for an
        answer on a connection that is gone."""
        self.client.stop_channels()
        self.serving = None
        self.interrupt()  # first: the old loop must end before the new connection's first request
        self.client = self._connect()

    def _send(self, text):
        try:
            self.client.input(text)
        except zmq.Again:
            raise _ConnectionBroken("the connection to the kernel broke") from None

    def close(self):
        try:
            self.client.stop_channels()
        finally:
            self.context.destroy(linger=0)

    # ---- the transport

    def _ask(self, request, helpers=None):
        if self.timed_out or self.clock() > self.deadline:
            self.timed_out = True  # the cell's time is used up: nothing more is asked
            return {"ok": False, "error": {"interrupted": True}}
        if self.serving is None:
            refused = self._start()
            if refused is not None:
                return refused
        self.cost["requests"] += 1
        asked = self.clock()
        try:
            return self._exchange(request, helpers)
        finally:
            self.cost["waiting_s"] += self.clock() - asked

    def _exchange(self, request, helpers):
        self._send(json.dumps(request))
        used = [0]
        while True:
            message = self._next_prompt()
            if message is None:  # stopped at the time limit
                return {"ok": False, "error": {"interrupted": True}}
            if "stub" in message:
                self._send(json.dumps(self._helper_answer(helpers or {}, message, used)))
                continue
            return message.get("reply")

    def _start(self):
        """Start this cell's serve() loop: None, or the error reply if the loop could not start
        (the student replaced or removed the agent: then every request of the cell fails)."""
        self.serving = self.client.execute(SERVE, silent=True, store_history=False, allow_stdin=True,
                                           stop_on_error=False)
        message = self._next_prompt()
        if message is None:
            return {"ok": False, "error": {"interrupted": True}}
        if (message.get("reply") or {}).get("ready"):
            return None
        return message.get("reply") or {"ok": False, "error": {"type": "an error in the grader's helper",
                                                                 "message": "the kernel stopped answering"}}

    def _next_prompt(self):
        """The agent's next message (parsed); None once a request was stopped at the time limit."""
        poller = zmq.Poller()
        poller.register(self.client.stdin_channel.socket, zmq.POLLIN)
        poller.register(self.client.shell_channel.socket, zmq.POLLIN)
        interrupted_at = None
        while True:
            limit = interrupted_at + INTERRUPT_GRACE if interrupted_at is not None else self.deadline
            wait = max(0.001, min(1.0, limit - self.clock()))
            ready = dict(poller.poll(timeout=int(wait * 1000)))
            if self.client.stdin_channel.socket in ready:
                message = self._prompt()
                if message is None:
                    continue
                if interrupted_at is not None and "stub" not in message:
                    return None  # cut short: whatever it says now is not an answer
                return message
            if self.client.shell_channel.socket in ready:
                reply = self.client.get_shell_msg(timeout=0)
                if reply["parent_header"].get("msg_id") == self.serving:
                    self.serving = None  # the agent's loop ended: the next request starts a new one
                    if interrupted_at is not None:
                        return None
                    return {"reply": {"ok": False, "error": {"type": "an error in the grader's helper",
                                                             "message": "the kernel stopped answering"}}}
                continue
            if not ready and not self.is_alive():
                raise KernelGone("the kernel died while the grader was checking a cell")
            now = self.clock()
            if now < limit:
                continue
            if interrupted_at is not None:
                # Its answer may have been lost (a message over the size limit drops the
                # connection for a moment): a kernel that stopped ends its loop on "done".
                serving, self.serving = self.serving, None
                try:
                    self._send("done")
                    self._wait_shell_reply(serving, self.clock() + INTERRUPT_GRACE)
                except _ConnectionBroken:
                    self._reconnect()
                except KernelGone:
                    raise KernelGone(f"the kernel did not stop when the checks were interrupted after "
                                     f"{self.seconds:.0f} s (a loop that catches KeyboardInterrupt?)") from None
                return None
            self.timed_out = True
            self.interrupt()
            interrupted_at = now

    def _prompt(self):
        """The stdin message just received, parsed; None (after answering it) if it is not the agent's."""
        request = self.client.get_stdin_msg(timeout=0)
        if request.get("parent_header", {}).get("msg_id") != self.serving:
            return None  # left over from an earlier cell's loop
        prompt = request.get("content", {}).get("prompt", "")
        try:
            message = wire.parse(prompt)
            if isinstance(message, dict):
                return message
        except wire.BadAnswer:
            pass
        self._send("\x04")  # the student's own input(): end of file
        return None

    def _wait_shell_reply(self, msg_id, until):
        """Wait for the serve() request's reply; any further question of the agent gets "done"."""
        poller = zmq.Poller()
        poller.register(self.client.stdin_channel.socket, zmq.POLLIN)
        poller.register(self.client.shell_channel.socket, zmq.POLLIN)
        while self.clock() < until:
            ready = dict(poller.poll(timeout=500))
            if self.client.stdin_channel.socket in ready:
                self.client.get_stdin_msg(timeout=0)
                self._send("done")
            if self.client.shell_channel.socket in ready:
                reply = self.client.get_shell_msg(timeout=0)
                if reply["parent_header"].get("msg_id") == msg_id:
                    return reply
            if not ready and not self.is_alive():
                raise KernelGone("the kernel died after the grader's checks")
        raise KernelGone("the kernel did not finish the grader's checks")
