"""Which submissions' answers are unusually alike: copydetect's report on the answer cells, beyond the given code.

Each graded submission's answer cells (nbgrader's solution cells) become one Python file; copydetect
(Lingenfelter's winnowing, the method of MOSS; variable names are normalised, so renaming hides nothing)
compares every pair. The code every learner is expected to share is left out as boilerplate: the code the
exercise gives, and the reference solution's answers, so that correct answers to fill-in blanks do not make
honest learners look alike. What is left is what a learner wrote their own way. The report never changes a
score; it is a reason to look, not proof.
"""

from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path

from helpers.teach.intake import Submission

THRESHOLD = 0.5  # share of a file's fingerprints found in the other's, above which a pair is listed
K_GRAM = 12  # tokens per fingerprint (copydetect's noise threshold; its default, 25, misses short answers)
NOTICE = (
    "<div style='border:2px solid #b45309;padding:8px;margin:8px'><b>Similarity is a reason to look, not proof.</b> "
    "Pairs are listed when their answer cells share more than {share:.0%} of their code beyond the code the exercise "
    "gives and the reference solution's answers (variable names normalised). Short answers, common idioms and "
    "help from the same lesson make honest learners alike too. No score was changed.</div>"
)


def answer_cells(nb: dict, ids: list[str]) -> str:
    """The notebook's cells of grade ids ``ids``, in that order, each headed by its id (missing ones are empty)."""
    by_id = {c.get("metadata", {}).get("nbgrader", {}).get("grade_id"): c for c in nb.get("cells", [])}
    parts = []
    for gid in ids:
        source = by_id.get(gid, {}).get("source", "")
        parts.append(f"# --- {gid} ---\n{''.join(source) if isinstance(source, list) else source}\n")
    return "\n".join(parts)


def _answer_ids(solved: dict) -> list[str]:
    meta = [c.get("metadata", {}).get("nbgrader", {}) for c in solved.get("cells", [])]
    return [m["grade_id"] for m in meta if m.get("solution") and m.get("grade_id")]


def _compare(answers: Path, given: Path, out: Path) -> tuple[list, str]:
    """copydetect on every pair of files in ``answers``, ``given`` left out: the pairs listed and the HTML page."""
    from copydetect import CopyDetector

    detector = CopyDetector(
        test_dirs=[str(answers)],
        boilerplate_dirs=[str(given)],
        extensions=["py"],
        noise_t=K_GRAM,
        guarantee_t=K_GRAM,
        display_t=THRESHOLD,
        autoopen=False,
        silent=True,
        out_file=str(out),
    )
    detector.run()
    with warnings.catch_warnings():  # copydetect 0.5 reads its template with a deprecated importlib call
        warnings.simplefilter("ignore", DeprecationWarning)
        return detector.get_copied_code_list(), detector.generate_html_report(output_mode="return")


def report(module: str, submissions: list[Submission], course: Path) -> tuple[Path, list[str]]:
    """Write ``similarity_<module>.html`` in ``course``; return its path and one line per listed pair."""
    notebook = f"{module}.ipynb"
    solved = json.loads((course / "solutions" / module / notebook).read_text(encoding="utf-8"))
    released = json.loads((course / "exercises" / module / notebook).read_text(encoding="utf-8"))
    ids = _answer_ids(solved)
    graded = [s for s in submissions if s.status not in ("superseded", "not this module", "not a valid notebook")]
    out = course / f"similarity_{module}.html"
    with tempfile.TemporaryDirectory(prefix="course-similarity-") as tmp:
        answers, given = Path(tmp) / "answers", Path(tmp) / "given"
        answers.mkdir()
        given.mkdir()
        (given / "exercise.py").write_text(answer_cells(released, ids), encoding="utf-8")
        (given / "solution.py").write_text(answer_cells(solved, ids), encoding="utf-8")
        for sub in graded:
            path = course / "submitted" / sub.student / module / notebook
            nb = json.loads(path.read_text(encoding="utf-8"))
            (answers / f"{sub.student}.py").write_text(answer_cells(nb, ids), encoding="utf-8")
        pairs, page = _compare(answers, given, out) if len(graded) > 1 else ([], "")
    body = page or f"<html><body><p>{len(graded)} graded submission(s): nothing to compare.</p></body></html>"
    out.write_text(body.replace("<body>", "<body>" + NOTICE.format(share=THRESHOLD), 1), encoding="utf-8")
    lines = [
        f"  {Path(a).stem} and {Path(b).stem}: {sa:.0%} and {sb:.0%} of their own answer code shared"
        for sa, sb, a, b, *_ in pairs
    ]
    head = f"similarity: {len(pairs)} pair(s) above {THRESHOLD:.0%} among {len(graded)} submissions; report: {out}"
    return out, [head, *lines, "  (a reason to look, not proof; no score was changed)"]
