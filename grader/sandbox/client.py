"""The client the grader talks to its kernels with: jupyter_client's, without two waits.

1. `wait_for_ready` ends when the kernel reports idle after a kernel_info
   request. jupyter_client's version then waits until IOPub has been silent
   for 0.2 s (most of a forked kernel's start: docs/scaling.md). The
   kernel publishes "idle" for a kernel_info request after everything it
   published before, so once that "idle" arrives IOPub is connected and
   drained. A subscription takes a moment to reach the kernel: when the first
   "idle" was published before anyone listened, ask again after 20 ms (a
   kernel_info request costs the kernel about a millisecond).

2. A kernel forked from the zygote binds its ports a moment after the client
   connects. zmq retries a refused connection after RECONNECT_IVL, 100 ms by
   default, which every kernel start would wait for; here it retries after 5 ms.

Both are speed-ups (grader/speedups: on for the jupyter_client version they
were written for, in the driver's workers, off with GRADER_SPEEDUPS=0); while
off, this is jupyter_client's AsyncKernelClient unchanged.
"""
import time
from queue import Empty

import zmq
from jupyter_client.asynchronous.client import AsyncKernelClient


class GraderClient(AsyncKernelClient):

    #: set by grader.speedups: the two waits above are cut
    quick = False

    #: how long to listen for the "idle" before asking again, in seconds
    ask_again_after = 0.02

    #: zmq's wait before it retries a refused connection, in milliseconds
    reconnect_interval_ms = 5

    def start_channels(self, *args, **kwargs):
        if self.quick:  # a default of the context: it applies to the sockets created after it
            self.context.setsockopt(zmq.RECONNECT_IVL, self.reconnect_interval_ms)
        super().start_channels(*args, **kwargs)

    async def wait_for_ready(self, timeout=None):
        if not self.quick:
            return await super().wait_for_ready(timeout)
        deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
        asked = set()
        while True:
            asked.add(self.kernel_info())
            reply = await self._reply_to(asked)
            if reply is not None and reply["msg_type"] == "kernel_info_reply":
                self._handle_kernel_info_reply(reply)
                if await self._idle_after(asked):
                    return
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:.0f} seconds")

    async def _reply_to(self, asked, wait=1.0):
        """The shell reply to one of the `asked` requests, or None after `wait` seconds of silence."""
        try:
            while True:
                msg = await self.shell_channel.get_msg(timeout=wait)
                if msg["parent_header"].get("msg_id") in asked:
                    return msg
        except Empty:
            return None

    async def _idle_after(self, asked):
        """True once IOPub brings the "idle" of one of our kernel_info requests."""
        try:
            while True:
                msg = await self.iopub_channel.get_msg(timeout=self.ask_again_after)
                if (msg["msg_type"] == "status" and msg["parent_header"].get("msg_id") in asked
                        and msg["content"].get("execution_state") == "idle"):
                    return True
        except Empty:  # IOPub not connected yet: ask again
            return False
