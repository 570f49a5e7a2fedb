"""Fair and tamper-proof autograding: a learner's cells share the kernel that runs the hidden tests.

The grader acts on effects, never on the learner's words:

1. **Neutralise** (:mod:`helpers.teach.kernel_restore`, :mod:`helpers.teach.kernel_probe`): a cell injected
   before any learner code records the clean kernel. Before each graded test an injected cell sets
   the learner's hooks aside (IPython's transformers and event callbacks, exception handlers, tracing
   hooks, sys hooks, patched builtins, builtin types, shell methods and the names the tests use) and
   hides the learner's globals that shadow a builtin the test calls; after the test another gives
   them back. Honest habits (autoreload, ``display``, ``%config``, ``%pip``, a variable named ``sum``)
   cost nothing, and a cheat that uses the same hooks has no effect on the tests.
2. **Evidence** that survives the neutralising makes the submission "kernel tampered with: needs
   review" and zeroes the graded tests from the one it touched: a hook that came back while a
   test ran, an injected cell whose report was suppressed or rewritten, or a canary (a copy of a
   real test cell made to fail, injected at the end) that passed.
3. **What the learner wrote** (:func:`helpers.teach.scan.static_findings`) only adds notes for the
   teacher ("review suggested"); it never changes a score.

The injected cells are removed again before grades are saved. A determined attacker who studies
these checks can still try to evade them (the kernel is theirs); the sandbox, not these checks, is
what protects the grading machine.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbgrader import utils
from nbgrader.preprocessors import NbGraderPreprocessor

from helpers.teach.scan import (
    Finding,
    builtins_called,
    course_names,
    learner_code_cells,
    source_notebook,
    static_findings,
    test_references,
)

PROBE_SOURCE = "\n\n".join(
    (Path(__file__).with_name(name)).read_text(encoding="utf-8") for name in ("kernel_restore.py", "kernel_probe.py")
)
OK, TAMPERED = "course-integrity-ok", "course-integrity-tampered"
OUTPUT_LIMIT_MARK = "[course grader: output limit reached"
RESULT_KEY = "course_grading"  # the verdict, in the graded notebook's metadata


def _cell(source: str, kind: str) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["course_injected"] = kind
    return cell


def _canary_source(test_source: str) -> str:
    """A copy of a real test cell with an assertion that can never hold, written like the hidden tests, put
    between two of its top-level lines chosen at random (so a hook cannot spare it by its place)."""
    a, b = secrets.token_hex(3), secrets.token_hex(3)
    x, y = secrets.randbelow(10**6) / 10**3, secrets.randbelow(10**6) / 10**3 + 1000
    never = secrets.choice(
        [
            f'assert str.__eq__({a!r}, {b!r}), "the answer does not match the expected one"',
            f'assert abs(float.__sub__({x!r}, {y!r})) < 1e-12, "the value is not the expected one"',
            f"assert {secrets.randbelow(1000)} == {secrets.randbelow(1000) + 1000}, "
            '"the count is not the expected one"',
        ]
    )
    lines = test_source.rstrip().split("\n")
    cuts = [k for k, line in enumerate(lines) if line[:1] not in ("", " ", "\t", ")", "]", "}", "#")] or [0]
    at = secrets.choice([*cuts, len(lines)])
    return "\n".join([*lines[:at], never, *lines[at:]])


@dataclass
class Plan:
    """The cells injected into one notebook, and what the learner's code was found to do."""

    nonce: str
    findings: list[Finding] = field(default_factory=list)


class InjectIntegrityChecks(NbGraderPreprocessor):
    """Before execution: note what the learner wrote; inject the snapshot, the neutralising cells, the canaries."""

    canaries = 2

    def preprocess(self, nb, resources):
        source = source_notebook(self.config, resources)
        plan = Plan(secrets.token_hex(8), static_findings(nb, source))
        install = (
            f"{PROBE_SOURCE}\n_course_probe_install({plan.nonce!r}, {test_references(source)!r})\n"
            "del _course_probe_install, _CourseProbe, _CourseRestore\n"
        )
        probe = f"__import__('sys').modules['_course_integrity_{plan.nonce}']"
        graded = course_names(source)
        cells, count, moved = [_cell(install, "snapshot")], 0, {}

        def wrapped(cell, region: str = "") -> list:
            nonlocal count
            count += 1
            names = [n for n in builtins_called(cell.source) if n not in graded]
            before, after = f"{probe}.before({count}, {names!r})", f"{probe}.after({count})"
            return [_cell(before, f"before{region}"), cell, _cell(after, f"after{region}")]

        tests = [c for c in nb.cells if c.cell_type == "code" and utils.is_grade(c)]
        for old, cell in enumerate(nb.cells):
            if cell.cell_type == "code" and utils.is_grade(cell):
                before, _, after = wrapped(cell)
                cells.append(before)
                moved[old] = len(cells)
                cells += [cell, after]
            else:
                moved[old] = len(cells)
                cells.append(cell)
        plan.findings = [Finding(moved[f.cell], f.line, f.code, f.why) for f in plan.findings]
        for test in sorted(tests, key=lambda c: len(c.source))[: self.canaries]:
            cells += wrapped(_cell(_canary_source(test.source), "canary"), "-canary")
        nb.cells = cells
        resources["course_integrity"] = plan
        return nb, resources


@dataclass
class Verdict:
    """What grading found besides the scores: tampering evidence, memory and output limits, notes."""

    tampered: bool = False
    evidence: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    affected: list[str] = field(default_factory=list)
    out_of_memory: str | None = None
    output_limit: str | None = None

    def status(self) -> str:
        if self.tampered:
            return "kernel tampered with: needs review"
        if self.out_of_memory:
            return f"ran out of memory in {self.out_of_memory}"
        if self.output_limit:
            return f"output limit exceeded in {self.output_limit}"
        return "graded"


def _text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")


def _has_error(cell) -> bool:
    return any(o.get("output_type") == "error" for o in cell.get("outputs", []))


def _where(nb, cell, index: int) -> str:
    gid = cell.metadata.get("nbgrader", {}).get("grade_id")
    return f"cell {index + 1}" + (f" ({gid})" if gid else "")


MEMORY_ERRORS = ("can't allocate memory", "Unable to allocate", "out of memory", "not enough memory")


class ReadIntegrityChecks(NbGraderPreprocessor):
    """After execution: read the probes and canaries, zero the tests run after tampering, remove injected cells."""

    def preprocess(self, nb, resources):
        plan: Plan | None = resources.get("course_integrity")
        verdict = Verdict()
        if plan is not None:
            self._judge(nb, plan, verdict)
        nb.cells = [c for c in nb.cells if "course_injected" not in c.metadata]
        for i, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            if verdict.out_of_memory is None and any(
                o.get("ename") == "MemoryError" or any(m in o.get("evalue", "") for m in MEMORY_ERRORS) for o in errors
            ):
                verdict.out_of_memory = _where(nb, cell, i)
            if verdict.output_limit is None and OUTPUT_LIMIT_MARK in _text(cell):
                verdict.output_limit = _where(nb, cell, i)
        if verdict.tampered:
            nb.cells.insert(0, nbformat.v4.new_markdown_cell(self._report(verdict)))
        nb.metadata[RESULT_KEY] = {
            "status": verdict.status(),
            "evidence": verdict.evidence,
            "notes": verdict.notes,
            "affected": verdict.affected,
        }
        return nb, resources

    def _judge(self, nb, plan: Plan, verdict: Verdict) -> None:
        """Collect the evidence, and zero the graded tests that ran after the kernel stopped being trustworthy."""
        verdict.notes += [f"review suggested: {self._renumber(nb, f)}" for f in plan.findings]
        first_bad = self._read_checkpoints(nb, plan, verdict)
        if first_bad is not None:
            verdict.tampered = True
            self._zero_tests_after(nb, first_bad, verdict)

    def _read_checkpoints(self, nb, plan: Plan, verdict: Verdict) -> int | None:
        """Evidence from the injected cells; the cell index from which the kernel is not trusted, or None."""
        injected = [(i, c) for i, c in enumerate(nb.cells) if "course_injected" in c.metadata]
        if not injected or f"{OK} {plan.nonce} 0" not in _text(injected[0][1]):
            verdict.notes.append("the integrity probes could not start; only the learner's code was checked")
            return None
        first_bad, last_before, aside = None, 0, []
        for i, cell in injected[1:]:
            kind, text = cell.metadata["course_injected"], _text(cell)
            last_before = i if kind.startswith("before") else last_before
            if kind == "canary":
                if not _has_error(cell):
                    verdict.evidence.append("a copy of a test cell made to fail passed: test failures are suppressed")
                    first_bad = self._first_learner_cell(nb)
                continue
            if f"{OK} {plan.nonce}" in text and not _has_error(cell):
                aside += [line.strip()[2:] for line in text.splitlines() if line.strip().startswith("~ ")]
                continue
            verdict.evidence += self._evidence(nb, i, kind, text, plan.nonce)
            bad = self._first_learner_cell(nb) if kind.endswith("-canary") else last_before
            first_bad = bad if first_bad is None else min(first_bad, bad)
        if aside:
            verdict.notes.append("set aside while the tests ran: " + "; ".join(dict.fromkeys(aside))[:600])
        return first_bad

    def _evidence(self, nb, i: int, kind: str, text: str, nonce: str) -> list[str]:
        ahead = kind.startswith("before")
        test = self._next_test(nb, i) if ahead else self._previous_test(nb, i)
        where = f"before graded test {test}" if ahead else f"while graded test {test} ran"
        if f"{TAMPERED} {nonce}" in text:
            return [f"{where}: {line.strip()[2:]}" for line in text.splitlines() if line.strip().startswith("- ")]
        return [f"the grader's check {where} did not report: its output was suppressed or rewritten"]

    @staticmethod
    def _zero_tests_after(nb, first_bad: int, verdict: Verdict) -> None:
        message = (
            "this test ran after the notebook changed the kernel that runs the tests; it scores 0 until a "
            "teacher reviews it"
        )
        for i, cell in enumerate(nb.cells):
            if (
                i > first_bad
                and cell.cell_type == "code"
                and utils.is_grade(cell)
                and "course_injected" not in cell.metadata
            ):
                verdict.affected.append(cell.metadata["nbgrader"]["grade_id"])
                cell.outputs.append(
                    nbformat.v4.new_output(
                        "error",
                        ename="KernelTampered",
                        evalue=message,
                        traceback=[f"KernelTampered: {message} (see the note at the top)"],
                    )
                )

    @staticmethod
    def _next_test(nb, index: int) -> str:
        for cell in nb.cells[index + 1 :]:
            if cell.cell_type == "code" and utils.is_grade(cell) and "course_injected" not in cell.metadata:
                return cell.metadata["nbgrader"]["grade_id"]
        return "(end of notebook)"

    @staticmethod
    def _previous_test(nb, index: int) -> str:
        for cell in reversed(nb.cells[:index]):
            if cell.cell_type == "code" and (utils.is_grade(cell) or cell.metadata.get("course_injected") == "canary"):
                return cell.metadata.get("nbgrader", {}).get("grade_id", "(a canary)")
        return "(none)"

    @staticmethod
    def _first_learner_cell(nb) -> int:
        cells = [i for i in learner_code_cells(nb) if "course_injected" not in nb.cells[i].metadata]
        return cells[0] if cells else 0

    @staticmethod
    def _renumber(nb, finding: Finding) -> Finding:
        """The finding with its cell counted as the learner sees it (without the injected cells)."""
        shown = sum(1 for c in nb.cells[: finding.cell] if "course_injected" not in c.metadata)
        return Finding(shown, finding.line, finding.code, finding.why)

    @staticmethod
    def _report(verdict: Verdict) -> str:
        lines = "\n".join(f"- {e}" for e in verdict.evidence[:30])
        tests = ", ".join(verdict.affected) or "none"
        return (
            "## ⚠️ Needs review: this notebook changed the kernel that runs the tests\n\n"
            "The grader found the following. The graded tests that ran afterwards score 0 until a teacher "
            f"reviews the notebook: {tests}.\n\n{lines}\n"
        )


def verdict_of(nb: dict) -> dict:
    """The verdict ReadIntegrityChecks stored in a graded notebook (empty when it did not run)."""
    return nb.get("metadata", {}).get(RESULT_KEY, {})
