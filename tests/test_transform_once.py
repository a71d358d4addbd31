"""course.transform_once: a forked grading kernel transforms each cell once, with the same results."""
from jupyter_client.manager import start_new_kernel

CELLS = [
    "x = 1\ny = x + 1\nprint(y)",                      # an ordinary cell
    "%env COURSE_TRANSFORM_TEST=on",                   # a line magic (a static transformation)
    "y",                                               # one line: IPython's dynamic prefilter too
    "import asyncio\nawait asyncio.sleep(0)\nprint('awaited')",  # the asynchronous path
    "def broken(:\n    pass",                          # a syntax error
    # a cell that adds a transformer: the next cell must see it (nothing kept from before)
    "get_ipython().input_transformers_post.append(lambda lines: [l.replace('SEVEN', '7') for l in lines])",
    "print(SEVEN * 6)",
]
COUNTER = (
    "from IPython.core.inputtransformer2 import TransformerManager\n"
    "calls = []\n\n"
    "def install():  # in the zygote: count the tokenizing transformations the kernels do\n"
    "    original = TransformerManager.transform_cell\n"
    "    def counted(self, cell):\n"
    "        calls.append(cell)\n"
    "        return original(self, cell)\n"
    "    TransformerManager.transform_cell = counted\n")


def _run(client, code):
    """What a notebook would keep of a cell: its outputs' kinds and contents."""
    seen = []

    def keep(msg):
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            seen.append((kind, content["name"], content["text"]))
        elif kind in ("execute_result", "display_data"):
            seen.append((kind, content["data"].get("text/plain")))
        elif kind == "error":
            seen.append((kind, content["ename"]))

    reply = client.execute_interactive(code, timeout=60, output_hook=keep)
    return reply["content"]["status"], seen


def test_a_forked_kernel_transforms_each_cell_once_and_runs_it_as_a_plain_kernel_does(forked_kernel):
    kernel, client = forked_kernel("count_transforms", COUNTER, "install")
    plain_manager, plain = start_new_kernel(kernel_name="python3")
    try:
        for code in CELLS:
            assert _run(client, code) == _run(plain, code), code
        status, counted = _run(client, "import count_transforms; print(len(count_transforms.calls))")
        # each cell once, and this last one; without transform_once the synchronous ones twice
        assert counted == [("stream", "stdout", f"{len(CELLS) + 1}\n")], counted
    finally:
        plain.stop_channels()
        plain_manager.shutdown_kernel(now=True)
