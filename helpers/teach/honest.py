"""The honest class: everyday habits of learners, each added to a correct solution, each of which must keep full marks.

Each habit is what a learner plausibly writes in their own notebook: magics, ``display``, plots,
progress bars, warning filters, autoreload, ``%pip``, stderr, seeds, variables named like builtins,
their own helper functions, extra cells and markdown notes. ``honest_cases(module, sol)`` returns
{case: notebook}; helpers.teach.crafted puts them in the crafted class. A grader that reads the
learner's words instead of measuring an effect would zero them (GUIDE.md, "Grading untrusted notebooks").
"""

from __future__ import annotations

import copy

# One learner's cell each, put right after the blanks import, in a correct solution.
HABITS = {
    "%matplotlib inline": "%matplotlib inline",
    "%config retina figures": "%config InlineBackend.figure_format = 'retina'",
    "%config Completer": "%config Completer.use_jedi = False",
    "display(Markdown)": "from IPython.display import display, Markdown\ndisplay(Markdown('**Notes:** noise adds up'))",
    "display(HTML)": "from IPython.display import HTML, display\ndisplay(HTML('<b>checked</b> by hand'))",
    "clear_output": "from IPython.display import clear_output\nprint('scratch')\nclear_output()",
    "%pip install": "%pip install -q numpy",
    "!pip list": "!pip list 2>/dev/null | head -n 3",
    "autoreload": "%load_ext autoreload\n%autoreload 2",
    "%timeit": "%timeit -n 3 -r 1 sum(range(100))",
    "%%time cell magic": "%%time\ntotal = sum(range(1000))\nprint(total)",
    "%whos and %who": "%who\n%whos",
    "%precision": "%precision 3",
    "%xmode": "%xmode Minimal",
    "%env": "%env MY_SETTING=1",
    "%%capture": "%%capture captured\nprint('quiet')",
    "help() and ?": "help(len)\nlen?",
    "tqdm progress bar": "from tqdm.auto import tqdm\nfor _ in tqdm(range(30), desc='warm-up'):\n    pass",
    "warning filter": "import warnings\nwarnings.filterwarnings('ignore')\nwarnings.simplefilter('ignore', Warning)",
    "a warning raised": "import warnings\nwarnings.warn('this is only a test warning')",
    "plotting": (
        "import matplotlib.pyplot as plt\n"
        "plt.rcParams['figure.figsize'] = (4, 3)\n"
        "plt.plot([1.0, 0.6, 0.2], marker='o')\nplt.title('my signal')\nplt.show()"
    ),
    "numpy print options": "import numpy as np\nnp.set_printoptions(precision=3, suppress=True)",
    "recursion limit": "import sys\nsys.setrecursionlimit(5000)",
    "printing to stderr": "import sys\nprint('checking my work', file=sys.stderr)",
    "logging": "import logging\nlogging.basicConfig(level=logging.INFO)\nlogging.info('started')",
    "seeds set by the learner": "import random\nimport numpy as np\nrandom.seed(42)\nnp.random.seed(42)",
    "own helper function": (
        "def my_mean(values):\n    total = 0.0\n    for v in values:\n        total += v\n"
        "    return total / len(values)\nprint('mean of my signal:', my_mean([1.0, 0.6, 0.2]))"
    ),
    "os.environ setting": "import os\nos.environ['KMP_DUPLICATE_LIB_OK'] = 'True'",
    "file written in the working folder": "%%writefile my_notes.txt\nnoise adds up in variance",
    "a cell ending in a function": "def double(v):\n    return 2 * v\n\n\ndouble  # shows what I defined",
}

# Variables named like builtins (module 01): names the course's later cells never call, set right after the
# first answer, and a mini challenge measured with a running total named `sum`, where its test calls sum().
BUILTIN_NAMES = (
    "type = 'gaussian'\nlist = [1, 2, 3]\nmax, min = 1.0, 0.2\nid = 7\ninput = 'x'\nfloat = str = int = 'mine'"
)
MEASURED_WITH_SUM = """import random

random.seed(0)
n = steps_to_reach(1.0, 0.15)
ends = []
for _ in range(2000):
    x = 0.0
    for _ in range(n):
        x += random.gauss(0, 0.15)
    ends.append(x)
sum = 0.0
for e in ends:
    sum += e * e
measured_std = math.sqrt(sum / 2000)
print(f"n = {n} steps: measured std {measured_std:.3f}")"""


def _learner_cell(code: str) -> dict:
    return {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": code}


def _with(nb: dict, code: str, at: int) -> dict:
    nb = copy.deepcopy(nb)
    nb["cells"].insert(at, {**_learner_cell(code), "id": f"learner-{at}"})
    return nb


def _after_setup(sol: dict) -> int:
    ids = [c["metadata"].get("nbgrader", {}).get("grade_id") for c in sol["cells"]]
    return ids.index("setup") + 1 if "setup" in ids else 2


def _builtin_names(sol: dict) -> dict:
    ids = [c["metadata"].get("nbgrader", {}).get("grade_id") for c in sol["cells"]]
    nb = _with(sol, BUILTIN_NAMES, ids.index("your_turn_1") + 1)
    nb["cells"][ids.index("mini_challenge_measure") + 1]["source"] = MEASURED_WITH_SUM
    return nb


def _first_test(sol: dict) -> int:
    return next(i for i, c in enumerate(sol["cells"]) if c["metadata"].get("nbgrader", {}).get("grade"))


def _extra_cells(sol: dict) -> dict:
    """A learner's cells between an answer and its test, and at the very end, and markdown notes."""
    nb = _with(sol, "print('my check before the test runs')", _first_test(sol))
    nb = _with(nb, "print('the end of my notebook')", len(nb["cells"]))
    note = {"cell_type": "markdown", "id": "learner-notes", "metadata": {}, "source": "**My notes.** Check $x_t$."}
    nb["cells"].insert(_after_setup(sol) + 1, note)
    return nb


# The habits share notebooks, as they do in a learner's own: each group is one learner's notebook, its habits in
# HABITS order, one cell each. A warning raised and the filter that would hide it sit in different learners.
LEARNERS = 4


def learner_of(habit: str) -> int:
    """Which of the LEARNERS notebooks holds ``habit`` (round-robin over HABITS)."""
    return list(HABITS).index(habit) % LEARNERS


def honest_cases(sol: dict) -> dict[str, dict]:
    """{case: notebook} for module 01's solution ``sol``: every habit, in its learner's copy (cases of one learner
    share one notebook), and two structural habits in copies of their own."""
    at = _after_setup(sol)
    notebooks = [sol] * LEARNERS
    for k, (name, code) in enumerate(HABITS.items()):
        group = learner_of(name)
        notebooks[group] = _with(notebooks[group], code, at + k // LEARNERS)
    cases = {f"habit: {name}": notebooks[learner_of(name)] for name in HABITS}
    cases["habit: variables named like builtins"] = _builtin_names(sol)
    cases["habit: extra cells and markdown notes"] = _extra_cells(sol)
    return cases
