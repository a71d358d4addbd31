"""course.transform_once: a forked grading kernel transforms each cell once, with the same results."""
from conftest import kernel_outputs

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


def test_a_forked_kernel_transforms_each_cell_once_and_runs_it_as_a_plain_kernel_does(forked_kernel, plain_kernel):
    _, client = forked_kernel("count_transforms", COUNTER, "install")
    for code in CELLS:
        assert kernel_outputs(client, code) == kernel_outputs(plain_kernel, code), code
    _, counted = kernel_outputs(client, "import count_transforms; print(len(count_transforms.calls))")
    # each cell once, and this last one; without transform_once the synchronous ones twice
    assert counted == [("stream", "stdout", f"{len(CELLS) + 1}\n")], counted
