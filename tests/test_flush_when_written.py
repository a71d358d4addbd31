"""course.flush_when_written: a forked grading kernel's cells give the outputs a plain kernel's
give, in the same order, with fewer round trips to the output thread."""
from conftest import kernel_outputs

CELLS = [
    "import sys, threading, time\nfrom IPython.display import display",
    "pass",                                                       # nothing written
    "print('one')",
    "print('out'); print('err', file=sys.stderr); print('out again')",
    "sys.stderr.write('only stderr\\n')",
    "print('no newline', end=''); sys.stdout.flush(); print(' then more')",
    "t = threading.Thread(target=lambda: print('from a thread'))\nt.start(); t.join()",
    "print('before the error')\n1 / 0",
    "print('text'); display('shown'); print('after')",            # display flushes the streams first
    "print('slow', flush=True)\ntime.sleep(0.3)\nprint('done')",  # past the 0.2 s timed flush
    "print('x' * 100000)",
    "sys.stdout.writelines(['a\\n', 'b\\n'])",
    "pass",
]
COUNTER = (
    "from ipykernel.iostream import IOPubThread\n"
    "calls = []\n\n"
    "def install():  # in the zygote: count what the kernels hand to their output thread\n"
    "    original = IOPubThread.schedule\n"
    "    def counted(self, function):\n"
    "        calls.append(1)\n"
    "        return original(self, function)\n"
    "    IOPubThread.schedule = counted\n")
EMPTY_CELLS = 20


def test_a_forked_kernel_gives_a_plain_kernels_outputs_and_waits_only_for_written_output(forked_kernel, plain_kernel):
    _, client = forked_kernel("count_schedules", COUNTER, "install")
    for code in CELLS:
        assert kernel_outputs(client, code) == kernel_outputs(plain_kernel, code), code
    _, before = kernel_outputs(client, "import count_schedules; len(count_schedules.calls)")
    for _ in range(EMPTY_CELLS):
        kernel_outputs(client, "pass")
    _, after = kernel_outputs(client, "len(count_schedules.calls)")
    per_cell = (int(after[0][1]) - int(before[0][1])) / (EMPTY_CELLS + 1)
    # an empty cell publishes "busy", its input and "idle"; each flush of a stream would add
    # two more (its send and the wake-up of the waiting thread), four flushes per cell
    assert per_cell <= 4, per_cell
