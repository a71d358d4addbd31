"""A grading kernel waits for its output thread only when there is output to wait for.

ipykernel sends a cell's printed text from a separate thread (IOPub). Its
`flush()` asks that thread to send what the stream holds and then waits until
the thread has done so, a round trip between two threads. It flushes stdout and
stderr before each reply and again before reporting "idle": four round trips
per cell, whatever the cell printed, each waking the output thread and then
the kernel's main thread. Now a cell that prints nothing makes none, and one
that prints to one stream makes one.

`install()` runs in the zygote (`course.zygote.KERNEL_PRELOAD`), before any
kernel exists, and wraps ipykernel's OutStream:

- `write` counts the writes once their text is in the stream's buffer;
- `_flush`, in the output thread, notes the count it started with once it has
  handed what it took to the sending queue, which sends in order;
- `flush` returns at once when every counted write has been handed over: the
  wait would guarantee nothing more, since anything published after it (the
  reply's "idle" included) queues behind that text. Otherwise it does what it
  always did.

A stream that echoes to a terminal (`echo`) always flushes as before.
"""
import threading


def install():
    """Wrap OutStream's write, _flush and flush (idempotent)."""
    from ipykernel.iostream import OutStream

    if getattr(OutStream, "_flush_when_written", False):
        return
    write, flush_in_thread, flush = OutStream.write, OutStream._flush, OutStream.flush
    lock = threading.Lock()
    OutStream._writes_counted = OutStream._writes_sent = 0  # per stream once written

    def counted_write(self, string):
        length = write(self, string)
        with lock:
            self._writes_counted += 1
        return length

    def noted_flush_in_thread(self):
        with lock:
            started_with = self._writes_counted
        try:
            flush_in_thread(self)
        finally:
            with lock:
                self._writes_sent = max(self._writes_sent, started_with)

    def flush_if_written(self):
        if self.echo is None:
            with lock:
                if self._writes_sent == self._writes_counted:
                    return
        flush(self)

    OutStream.write, OutStream._flush, OutStream.flush = counted_write, noted_flush_in_thread, flush_if_written
    OutStream._flush_when_written = True
