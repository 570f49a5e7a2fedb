"""nbgrader glue: the fill-in-the-blank preprocessor, the sandboxed Execute, and two autograde safeguards.

A solution line marks what the learner fills in with a trailing ``# BLANK:`` comment::

    x = [v + random.gauss(0, 0.1) for v in x]  # BLANK: random.gauss(0, 0.1)

and the student version gets the same line with that text replaced by ``___``::

    x = [v + ___ for v in x]  # 👉 replace ___

Several blanks on one line are separated by `` ;; `` and filled left to right.
The solution notebook stays runnable Python because the marker is a comment.
"""

from __future__ import annotations

import os
import re

from jupyter_client import AsyncKernelManager
from nbformat import NotebookNode
from nbgrader import utils
from nbgrader.preprocessors import ClearSolutions, DeduplicateIds, Execute, NbGraderPreprocessor
from traitlets import Bool, Integer

from helpers.teach.integrity import OUTPUT_LIMIT_MARK
from helpers.teach.sandbox import FIXED_THREADS, MIB, SandboxedKernelManager, sandbox_problem

MARKER = re.compile(r"\s*#\s*BLANK:\s*(?P<answers>.+?)\s*$")
SEPARATOR = " ;; "
HINT = "  # 👉 replace ___"


def split_marked_line(line: str) -> tuple[str, list[str]] | None:
    """Return (code, answers) for a line with a BLANK marker, or None for any other line."""
    match = MARKER.search(line)
    if match is None:
        return None
    return line[: match.start()], match["answers"].split(SEPARATOR)


def blank_line(line: str) -> str:
    """Turn one marked solution line into its student line (unmarked lines pass through)."""
    parts = split_marked_line(line)
    if parts is None:
        return line
    code, answers = parts
    pieces, rest = [], code
    for answer in answers:
        at = rest.find(answer)
        if at < 0:
            raise ValueError(f"BLANK answer {answer!r} does not occur in the code of this line:\n{line}")
        pieces.append(rest[:at] + "___")
        rest = rest[at + len(answer) :]
    stub = "".join(pieces) + rest
    return stub if "👉" in stub else stub + HINT


def fill_stub(stub: str, answers: list[str]) -> str:
    """Put the answers back into a student line's blanks, dropping the hint: the inverse of blank_line."""
    code = stub[: -len(HINT)] if stub.endswith(HINT) else stub
    pieces = code.split("___")
    if len(pieces) != len(answers) + 1:
        raise ValueError(f"{len(pieces) - 1} blanks in {stub!r} but {len(answers)} answers")
    filled = pieces[0]
    for answer, piece in zip(answers, pieces[1:]):
        filled += answer + piece
    return filled


def blank_source(source: str) -> str:
    """Turn every marked line of a cell's source into its student line."""
    return "\n".join(blank_line(line) for line in source.split("\n"))


def has_blanks(source: str) -> bool:
    """True when any line of the source carries a BLANK marker."""
    return any(split_marked_line(line) for line in source.split("\n"))


class FillInTheBlanks(ClearSolutions):
    """nbgrader's ClearSolutions, extended: marked lines become fill-in-the-blank lines.

    A solution cell with BLANK markers keeps its other lines; one without markers is
    handled exactly as ClearSolutions handles it (solution regions become the stub
    ``raise NotImplementedError()``, which suits a write-it-yourself challenge).
    """

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type != "code" or not has_blanks(cell.source):
            return super().preprocess_cell(cell, resources, cell_index)
        if not utils.is_solution(cell):
            raise RuntimeError(
                "A BLANK marker is in a cell that is not an nbgrader solution cell; mark the cell "
                f"'Autograded answer' so the learner may edit it. Cell source:\n{cell.source}"
            )
        cell.source = blank_source(cell.source)
        self._replace_solution_region(cell, resources["language"])
        return cell, resources


class DeduplicateGradeIds(DeduplicateIds):
    """nbgrader's DeduplicateIds, fixed: a duplicated graded cell loses its nbgrader metadata entirely.

    DeduplicateIds keeps the last cell with a grade id and leaves ``nbgrader = {}`` on the
    copies, which makes OverwriteCells (with add_missing_cells) fail with KeyError: 'grade_id'
    and drops that student's submission. Removing the key instead turns each copy into an
    ordinary cell, as DeduplicateIds intends, and the student is graded.
    """

    def preprocess_cell(self, cell, resources, cell_index):
        if not (utils.is_grade(cell) or utils.is_solution(cell) or utils.is_locked(cell)):
            return cell, resources
        grade_id = cell.metadata.nbgrader["grade_id"]
        if grade_id in self.grade_ids:
            self.log.warning("Cell with id '%s' exists multiple times; grading the last one", grade_id)
            del cell.metadata["nbgrader"]
        else:
            self.grade_ids.add(grade_id)
        return cell, resources


class StderrInTestsIsOutput(NbGraderPreprocessor):
    """Keep the learner's stderr noise from zeroing a test cell they did not write.

    nbgrader gives 0 to a graded test cell with any stderr output. The course's own test
    code writes nothing to stderr, so stderr there comes from the learner's code (a
    warning, a stray print to sys.stderr). This turns such output into stdout, marked
    as stderr, so it still shows in the feedback; errors still fail the cell.
    """

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "code" and utils.is_grade(cell) and not utils.is_solution(cell):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "stream" and output.get("name") == "stderr":
                    output["name"] = "stdout"
                    output["text"] = STDERR_MARK + output["text"]
        return cell, resources


STDERR_MARK = "[stderr from your code] "
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
HIDDEN_NOTE = "# (hidden tests: run when graded, not shown here)"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def hidden_lines(source: str) -> list[str]:
    """The stripped, non-empty lines between the hidden-test markers of a test cell's source."""
    lines, inside = [], False
    for line in source.split("\n"):
        inside = (inside or HIDDEN_BEGIN in line) and HIDDEN_END not in line
        if inside and line.strip() and HIDDEN_BEGIN not in line:
            lines.append(line.strip())
    return lines


class HideHiddenTests(NbGraderPreprocessor):
    """Feedback for learners without the hidden tests (nbgrader #1363, #917): for generate_feedback only.

    Each graded test cell keeps its visible part, its points, pass or fail, and its error's type and
    message; the hidden part of its source is replaced by a one-line note, and the traceback loses
    every frame in the test cell itself and every frame that quotes a hidden line. The autograded
    notebooks (the teacher's copies, which the formgrader shows) are not touched.
    """

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type != "code" or not utils.is_grade(cell) or HIDDEN_BEGIN not in cell.source:
            return cell, resources
        hidden = [line for line in hidden_lines(cell.source) if len(line) >= 8]
        visible, _, rest = cell.source.partition(HIDDEN_BEGIN)
        cell.source = visible + HIDDEN_NOTE + "\n" + rest.partition(HIDDEN_END)[2].lstrip("\n")
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                output["traceback"] = self._frames(output, cell.get("execution_count"), hidden)
        return cell, resources

    @staticmethod
    def _frames(output, count, hidden: list[str]) -> list[str]:
        kept = [
            frame
            for frame in output.get("traceback", [])[:-1]
            if not (count is not None and f"In[{count}]" in ANSI.sub("", frame))
            and not any(line in ANSI.sub("", frame) for line in hidden)
        ]
        message = f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"
        if any(line in message for line in hidden):
            message = f"{output.get('ename', 'Error')} (in the hidden tests)"
        return [*kept, message]


def _size(value) -> int:
    """About how many bytes a message's content takes (strings and their containers)."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        return sum(_size(k) + _size(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return sum(_size(v) for v in value)
    return 8


class SandboxedExecute(Execute):
    """nbgrader's Execute, with each kernel in the bubblewrap sandbox and the notebook's output capped.

    ``sandbox`` (on by default) runs the kernel through :class:`~helpers.teach.sandbox.SandboxedKernelManager`;
    where no sandbox can run, grading stops with the reason and its fix. ``output_limit`` caps the
    bytes of output kept for the whole notebook: what comes after is dropped and the cell says so.
    """

    sandbox = Bool(True, help="Run each kernel in the bubblewrap sandbox.").tag(config=True)
    output_limit = Integer(32 * MIB, help="Bytes of output kept per notebook.").tag(config=True)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        if self.sandbox:
            problem = sandbox_problem()
            if problem:
                raise RuntimeError(f"refusing to grade without a sandbox: {problem}")
        self.kernel_manager_class = SandboxedKernelManager if self.sandbox else AsyncKernelManager

    def preprocess(self, nb, resources=None, km=None):
        self._output_bytes, self._over_limit = 0, set()
        return super().preprocess(nb, resources, km)

    async def async_start_new_kernel(self, **kwargs) -> None:
        if not self.sandbox:  # the sandbox sets these itself; without it the kernel inherits this environment
            kwargs["env"] = {**os.environ, **kwargs.get("env", {}), **FIXED_THREADS}
        return await super().async_start_new_kernel(**kwargs)

    def output(self, outs, msg, display_id, cell_index):
        if self.nb.cells[cell_index].metadata.get("course_injected"):  # the grader's own probes always report
            return super().output(outs, msg, display_id, cell_index)
        self._output_bytes += _size(msg.get("content", {}))
        if self._output_bytes <= self.output_limit:
            return super().output(outs, msg, display_id, cell_index)
        if cell_index not in self._over_limit:
            self._over_limit.add(cell_index)
            note = NotebookNode(
                output_type="stream",
                name="stdout",
                text=f"{OUTPUT_LIMIT_MARK} ({self.output_limit // MIB} MiB for the notebook); "
                "the rest of this cell's output was dropped]\n",
            )
            outs.append(note)
        return None
