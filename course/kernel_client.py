"""The client the grader talks to its kernels with: jupyter_client's, minus three costs.

1. `wait_for_ready` ends when the kernel says it is idle. jupyter_client's
   version, after the kernel_info reply, waits until the IOPub channel has
   been silent for 0.2 s (0.2-0.4 s per kernel). The kernel publishes "idle"
   for each kernel_info request after everything it published before; once
   one of those arrives, IOPub is connected and drained. A subscription takes
   a moment to reach the kernel, so the first "idle" is often published
   before anyone listens: then ask again soon (a kernel_info request costs
   the kernel about a millisecond) instead of waiting for a message that was
   never delivered.

2. An execute request can carry a cell id (`tag_next_execute`), as
   JupyterLab's requests do in their metadata ("cellId"). IPython hands it to
   the `pre_run_cell` / `post_run_cell` hooks, which is how the integrity
   guard (`course.guard`) knows, inside the kernel, that a graded cell is
   about to run: no extra round trip per cell. The id is chosen by the
   grader and contains a secret, so code in the kernel cannot pass itself
   off as a test cell.

3. A kernel forked from the zygote binds its ports a moment after the client
   has connected. zmq retries a refused connection after RECONNECT_IVL, 100 ms
   by default, which every kernel start waited for; here it retries after 5 ms.
"""
import time

import zmq
from jupyter_client.asynchronous.client import AsyncKernelClient


class GraderClient(AsyncKernelClient):

    #: how long to listen for the "idle" before asking again
    ask_again_after = 0.02

    #: zmq's wait before it retries a refused connection, in milliseconds
    reconnect_interval_ms = 5

    _next_cell_id = None

    def _create_connected_socket(self, channel, identity=None):
        # a default of the context: it applies to the sockets created after it
        self.context.setsockopt(zmq.RECONNECT_IVL, self.reconnect_interval_ms)
        return super()._create_connected_socket(channel, identity)

    def tag_next_execute(self, cell_id):
        """The next non-silent execute request carries `cell_id` (None: no tag)."""
        self._next_cell_id = cell_id

    def execute(self, code, silent=False, store_history=True, user_expressions=None,
                allow_stdin=None, stop_on_error=True):
        cell_id, self._next_cell_id = self._next_cell_id, None
        if cell_id is None or silent:
            return super().execute(code, silent, store_history, user_expressions, allow_stdin, stop_on_error)
        # KernelClient.execute, with the cell id in the request's metadata
        if not isinstance(code, str):
            raise ValueError(f"code {code!r} must be a string")
        content = {"code": code, "silent": silent, "store_history": store_history,
                   "user_expressions": user_expressions or {},
                   "allow_stdin": self.allow_stdin if allow_stdin is None else allow_stdin,
                   "stop_on_error": stop_on_error}
        msg = self.session.msg("execute_request", content, metadata={"cellId": cell_id})
        self.shell_channel.send(msg)
        return msg["header"]["msg_id"]

    async def wait_for_ready(self, timeout=None):
        deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
        asked = set()
        while True:
            msg_id = self.kernel_info()
            asked.add(msg_id)
            reply = None
            try:
                while reply is None:
                    msg = await self.shell_channel.get_msg(timeout=1)
                    if msg["parent_header"].get("msg_id") in asked:
                        reply = msg
            except Exception:  # queue.Empty: no reply yet
                pass
            if reply is not None and reply["msg_type"] == "kernel_info_reply":
                self._handle_kernel_info_reply(reply)
                if await self._idle_after(asked):
                    return
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:.0f} seconds")

    async def _idle_after(self, asked):
        """True once IOPub brings the "idle" of one of our kernel_info requests."""
        try:
            while True:
                msg = await self.iopub_channel.get_msg(timeout=self.ask_again_after)
                if (msg["msg_type"] == "status"
                        and msg["parent_header"].get("msg_id") in asked
                        and msg["content"].get("execution_state") == "idle"):
                    return True
        except Exception:  # queue.Empty: IOPub not connected yet
            return False
