"""Tamper detection for autograding: a learner's cells share the kernel that runs the hidden tests.

Three layers, each nbgrader preprocessor work done outside the kernel except the probes:

1. **What the learner wrote** (:func:`helpers.teach.scan.static_findings`): their code lines (those not in the
   source notebook) are parsed, and hooks into IPython, tracing, builtins or imported modules
   are reported with the line that does it.
2. **Probes** (:mod:`helpers.teach.kernel_probe`): a cell injected before any learner code
   records the kernel's state; a probe injected before every graded test cell, and one at the
   end, reports what changed since (transformers, shell methods, exception handlers, tracing
   hooks, builtins, the functions the hidden tests use).
3. **Canaries**: copies of real test cells, injected after the last cell, that must fail. One
   that passes shows that failures are being suppressed, however it was done.

Evidence makes the submission "kernel tampered with: needs review": the graded tests that ran
after it score 0, and the feedback lists the evidence. The injected cells are removed again
before grades are saved. A determined attacker who studies these checks can still evade them
(the kernel is theirs); the sandbox, not these checks, is what protects the grading machine.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbgrader import utils
from nbgrader.preprocessors import NbGraderPreprocessor

from helpers.teach.scan import Finding, learner_code_cells, source_notebook, static_findings, test_references

PROBE_SOURCE = (Path(__file__).with_name("kernel_probe.py")).read_text(encoding="utf-8")
OK, TAMPERED = "course-integrity-ok", "course-integrity-tampered"
OUTPUT_LIMIT_MARK = "[course grader: output limit reached"
RESULT_KEY = "course_grading"  # the verdict, in the graded notebook's metadata


def _cell(source: str, kind: str) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["course_injected"] = kind
    return cell


def _canary_source(test_source: str) -> str:
    """A copy of a real test cell, ending in an assertion that can never hold, written like the hidden tests."""
    a, b = secrets.token_hex(3), secrets.token_hex(3)
    x, y = secrets.randbelow(10**6) / 10**3, secrets.randbelow(10**6) / 10**3 + 1000
    ending = secrets.choice(
        [
            f'assert str.__eq__({a!r}, {b!r}), "the answer does not match the expected one"',
            f'assert abs(float.__sub__({x!r}, {y!r})) < 1e-12, "the value is not the expected one"',
            f"assert {secrets.randbelow(1000)} == {secrets.randbelow(1000) + 1000}, "
            '"the count is not the expected one"',
        ]
    )
    return f"{test_source.rstrip()}\n{ending}"


@dataclass
class Plan:
    """The cells injected into one notebook, and what the learner's code was found to do."""

    nonce: str
    findings: list[Finding] = field(default_factory=list)


class InjectIntegrityChecks(NbGraderPreprocessor):
    """Before execution: scan the learner's code, and inject the snapshot, the probes and the canaries."""

    canaries = 2

    def preprocess(self, nb, resources):
        source = source_notebook(self.config, resources)
        plan = Plan(secrets.token_hex(8), static_findings(nb, source))
        install = (
            f"{PROBE_SOURCE}\n_course_probe_install({plan.nonce!r}, {test_references(source)!r})\n"
            "del _course_probe_install, _CourseProbe\n"
        )
        probe = f"__import__('sys').modules['_course_integrity_{plan.nonce}'].check({{}})"
        cells, count, moved = [_cell(install, "snapshot")], 0, {}
        tests = [c for c in nb.cells if c.cell_type == "code" and utils.is_grade(c)]
        for old, cell in enumerate(nb.cells):
            if cell.cell_type == "code" and utils.is_grade(cell):
                count += 1
                cells.append(_cell(probe.format(count), "probe"))
            moved[old] = len(cells)
            cells.append(cell)
        plan.findings = [Finding(moved[f.cell], f.line, f.code, f.why, f.strong) for f in plan.findings]
        for test in sorted(tests, key=lambda c: len(c.source))[: self.canaries]:
            cells.append(_cell(_canary_source(test.source), "canary"))
        cells.append(_cell(probe.format(count + 1), "probe"))
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
        verdict.notes += [f"review suggested: {f}" for f in plan.findings if not f.strong]
        first_bad = self._read_checkpoints(nb, plan, verdict)
        for finding in (f for f in plan.findings if f.strong):
            verdict.evidence.append(str(self._renumber(nb, finding)))
            first_bad = finding.cell if first_bad is None else min(first_bad, finding.cell)
        if first_bad is not None:
            verdict.tampered = True
            self._zero_tests_after(nb, first_bad, verdict)

    def _read_checkpoints(self, nb, plan: Plan, verdict: Verdict) -> int | None:
        """Evidence from the probes and canaries; the cell index from which the kernel is not trusted, or None."""
        injected = [(i, c) for i, c in enumerate(nb.cells) if "course_injected" in c.metadata]
        if not injected or f"{OK} {plan.nonce} 0" not in _text(injected[0][1]):
            verdict.notes.append("the integrity probes could not start; only the learner's code was checked")
            return None
        first_bad, clean_before = None, 0
        for i, cell in injected[1:]:
            kind, text = cell.metadata["course_injected"], _text(cell)
            if kind == "probe" and f"{OK} {plan.nonce}" in text and not _has_error(cell):
                clean_before = i
                continue
            if kind == "canary" and _has_error(cell):
                continue
            verdict.evidence += self._evidence(nb, i, kind, text, plan.nonce)
            if first_bad is None:
                first_bad = clean_before if kind == "probe" else self._first_learner_cell(nb)
        return first_bad

    def _evidence(self, nb, i: int, kind: str, text: str, nonce: str) -> list[str]:
        if kind == "canary":
            return ["a copy of a test cell that must fail passed: test failures are being suppressed"]
        where = f"before graded test {self._next_test(nb, i)}"
        if f"{TAMPERED} {nonce}" in text:
            return [f"{where}: {line.strip()[2:]}" for line in text.splitlines() if line.strip().startswith("- ")]
        return [f"the integrity check {where} did not report: its output was suppressed or rewritten"]

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
    def _first_learner_cell(nb) -> int:
        cells = [i for i in learner_code_cells(nb) if "course_injected" not in nb.cells[i].metadata]
        return cells[0] if cells else 0

    @staticmethod
    def _renumber(nb, finding: Finding) -> Finding:
        """The finding with its cell counted as the learner sees it (without the injected cells)."""
        shown = sum(1 for c in nb.cells[: finding.cell] if "course_injected" not in c.metadata)
        return Finding(shown, finding.line, finding.code, finding.why, finding.strong)

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
