"""Grading past one machine: shards of a class, their merge, and the engines that run them (deploy/)."""

from __future__ import annotations

import csv
import os
import zipfile
from pathlib import Path

import pytest
from classroom_fixture import needs_sandbox

from helpers.teach import classroom
from helpers.teach.classroom import scratch_course
from helpers.teach.intake import Submission
from helpers.teach.notebooks import exercise, solution

# --- Past one machine ---------------------------------------------------------------------------------------


def _class_of(folder: Path, module: str, n: int) -> Path:
    """n learners' files: the solution, the blank exercise and a broken file in turn, Moodle-named."""
    folder.mkdir(parents=True)
    kinds = (solution(module).read_bytes(), exercise(module).read_bytes(), b"{not json")
    for i in range(n):
        (folder / f"Learner {i:02d}_{100 + i}_assignsubmission_file_{module}.ipynb").write_bytes(kinds[i % 3])
    return folder


def test_bad_shard_input_is_refused_with_the_fix(tmp_path):
    from helpers.teach.shards import check_shards, parse_shard, select

    assert parse_shard("2/4") == (2, 4)
    for text in ("5/4", "0/3", "two of four"):
        with pytest.raises(SystemExit, match=r"write K/N with 1 <= K <= N"):
            parse_shard(text)
    subs = [Submission(Path(f"{s}.ipynb"), student=s) for s in ("a", "b", "c")]
    with pytest.raises(SystemExit, match=r"4 shards for a class of 3 students.*at most 3 shards"):
        select(subs, (1, 4), tmp_path / "s", "01_toy_signal")
    for k in (1, 2):
        select(subs, (k, 3), tmp_path / f"s{k}", "01_toy_signal")
    with pytest.raises(SystemExit, match=r"shard\(s\) 3 of 3 missing.*Nothing was merged"):
        check_shards([tmp_path / "s1", tmp_path / "s2"])
    select(subs, (3, 3), tmp_path / "other", "02_forward_process")
    with pytest.raises(SystemExit, match=r"different modules.*one module's shards at a time"):
        check_shards([tmp_path / "s1", tmp_path / "s2", tmp_path / "other"])
    with pytest.raises(SystemExit, match=r"holds no shard_<module>.json"):
        check_shards([tmp_path])


def test_the_kubernetes_indexed_job_renders_valid_and_runs_the_shard_command():
    import yaml

    from helpers.teach.deploy import render

    with pytest.raises(SystemExit, match=r"--image"):
        render("k8s", "01_toy_signal", 4)
    with pytest.raises(SystemExit, match=r"not a module of this course"):
        render("k8s", "01_toy", 4, image="x")
    job = yaml.safe_load(render("k8s", "01_toy_signal", 4, image="registry.example.org/grader:1"))
    assert (job["apiVersion"], job["kind"], job["metadata"]["name"]) == ("batch/v1", "Job", "grade-01-toy-signal")
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed" and spec["completions"] == spec["parallelism"] == 4
    (container,) = spec["template"]["spec"]["containers"]
    assert (
        spec["template"]["spec"]["restartPolicy"] == "Never" and container["image"] == "registry.example.org/grader:1"
    )
    script = container["args"][0]
    assert "K=$((JOB_COMPLETION_INDEX + 1))" in script and "--shard $K/4 --course /data/shards/$K" in script
    assert "helpers.teach.classroom 01_toy_signal /data/submissions.zip" in script and "--no-sandbox" not in script
    assert spec["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] == "grading-data"


@needs_sandbox
@pytest.mark.timeout(1200)
def test_four_slurm_array_tasks_merge_to_the_one_machine_result(tmp_path):
    """The rendered Slurm script, run as its four array tasks (separate processes), then merged."""
    import subprocess
    import sys

    from helpers.teach.deploy import render
    from helpers.teach.notebooks import ROOT

    module = "01_toy_signal"
    downloads = _class_of(tmp_path / "downloads", module, 8)
    data = tmp_path / "data"
    data.mkdir()
    with zipfile.ZipFile(data / "submissions.zip", "w") as zf:
        for path in downloads.iterdir():
            zf.write(path, path.name)
    script = tmp_path / "grade.sbatch"
    script.write_text(render("slurm", module, 4, course=str(ROOT), data=str(data), jobs=1))
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    assert "#SBATCH --array=1-4" in script.read_text()
    tasks = [
        subprocess.Popen(
            ["bash", str(script)], env={**os.environ, "SLURM_ARRAY_TASK_ID": str(k)}, stdout=subprocess.DEVNULL
        )
        for k in range(1, 5)
    ]
    one = scratch_course(tmp_path / "one", [module])
    run = [sys.executable, "-m", "helpers.teach.classroom", module, str(downloads), "--jobs", "1", "--timeout", "30"]
    subprocess.run([*run, "--course", str(one)], check=True, stdout=subprocess.DEVNULL)
    assert [t.wait() for t in tasks] == [0] * 4
    merged = scratch_course(tmp_path / "merged", [module])
    classroom.main(["merge", *(str(data / "shards" / str(k)) for k in range(1, 5)), "--course", str(merged)])

    _same_result(merged, one, module)


def _same_result(merged: Path, one: Path, module: str) -> None:
    """The merged shards and the one-machine run: the same grades, summary rows and feedback pages, per student."""

    def table(path: Path, key: str, columns: tuple[str, ...]) -> dict:
        return {r[key]: tuple(r[c] for c in columns) for r in csv.DictReader(path.open(encoding="utf-8"))}

    scores = ("raw_score", "score", "max_score")
    assert table(merged / "grades.csv", "student_id", scores) == table(one / "grades.csv", "student_id", scores)
    summary = ("score", "final", "max", "status", "notes", "file")
    ones = table(one / f"summary_{module}.csv", "student", summary)
    assert table(merged / f"summary_{module}.csv", "student", summary) == ones and len(ones) == 8
    pages = sorted(p.relative_to(merged).as_posix() for p in (merged / "feedback").rglob("*.html"))
    assert pages == sorted(p.relative_to(one).as_posix() for p in (one / "feedback").rglob("*.html")) and pages
