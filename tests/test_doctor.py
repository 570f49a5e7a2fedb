"""`python -m helpers doctor` names every item it checks, and prints the fix for each problem it finds."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest
import torch

import helpers.__main__ as cli
from helpers.teach import doctor as doc
from helpers.teach import env, sd_check
from helpers.teach.notebooks import ROOT, kernel_env

ITEMS = ["Python", "torch", "diffusers", "nbgrader", "ipywidgets", "device", "CPU", "widgets", "SD weights", "grading"]


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def fake_versions(monkeypatch, **versions: str | None) -> None:
    """Pretend the given distributions are installed at these versions (None: not installed)."""
    real = env.installed_version
    monkeypatch.setattr(env, "installed_version", lambda dist: versions[dist] if dist in versions else real(dist))


def line(output: str, name: str) -> str:
    """The report line for item ``name`` and its fix line, if any."""
    lines = output.splitlines()
    i = next(i for i, text in enumerate(lines) if re.match(rf"\s+(ok|note|error)\s+{re.escape(name)}\s", text))
    fix = lines[i + 1] if i + 1 < len(lines) and "fix:" in lines[i + 1] else ""
    return lines[i] + "\n" + fix


def test_command_names_each_item_and_exits_0():
    result = subprocess.run(
        [sys.executable, "-m", "helpers", "doctor"],
        cwd=ROOT,
        env=kernel_env() | {"HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for item in ITEMS:
        assert line(result.stdout, item)
    for dist in ["torch", "diffusers", "nbgrader", "ipywidgets", "jupyterlab_widgets"]:
        assert importlib.metadata.version(dist) in result.stdout, f"{dist}'s version is not printed"
    assert f"{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}" in line(
        result.stdout, "Python"
    )
    # the command's own torch thread count (this test process may have changed its own)
    assert re.search(r"torch uses \d+ threads?", result.stdout), "the CPU line must give torch's thread count"
    assert "hub not asked (HF_HUB_OFFLINE=1)" in result.stdout
    assert "READY" in result.stdout and "NOT READY" not in result.stdout


def test_doctor_prints_the_report_in_a_notebook_cell(capsys):
    assert doc.doctor() is None  # nothing for the cell to echo after the report
    out = capsys.readouterr().out
    for item in ITEMS:
        assert line(out, item)


def test_wrong_torch_version_prints_the_pip_fix(monkeypatch, capsys):
    fake_versions(monkeypatch, torch="2.5.1")
    assert cli.main(["doctor"]) == 0  # works, with a note: 2.5.1 is above the minimum
    torch_line = line(capsys.readouterr().out, "torch")
    assert "2.5.1, but the course is tested with 2.13.0" in torch_line
    assert "fix: pip install -r requirements.txt" in torch_line


def test_torch_below_the_minimum_fails(monkeypatch, capsys):
    fake_versions(monkeypatch, torch="2.0.1")
    assert cli.main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert (
        "error  torch" in out
        and "older than the 2.1" in out
        and "pip install -r requirements.txt" in line(out, "torch")
    )
    assert "NOT READY: torch" in out


def test_missing_required_package_exits_nonzero(monkeypatch, capsys):
    fake_versions(monkeypatch, diffusers=None)
    assert doc.main() == 1
    out = capsys.readouterr().out
    assert "error  diffusers       not installed" in out and "fix: pip install" in line(out, "diffusers")


def test_missing_nbgrader_is_only_a_note(monkeypatch, capsys):
    fake_versions(monkeypatch, nbgrader=None)
    assert doc.main() == 0
    assert "note   nbgrader        not installed" in capsys.readouterr().out


def test_on_colab_its_own_torch_is_fine_and_fixes_name_the_setup_cell(monkeypatch):
    fake_versions(monkeypatch, torch="2.9.0+cu126", diffusers="0.35.2")
    assert doc.check_package("torch", colab=True).status == "ok"
    diffusers = doc.check_package("diffusers", colab=True)
    assert diffusers.status == "note" and "setup cell" in diffusers.fix


def test_no_gpu_says_which_pipeline_and_how_to_get_one(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    device = doc.check_device()
    assert device.status == "note" and "CPU only" in device.detail
    assert "Modules 06 and 08 will use the shapes model" in device.fix
    assert "Runtime > Change runtime type > GPU" in device.fix


def test_gpu_is_named_with_its_memory(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(
        torch.cuda, "get_device_properties", lambda i: SimpleNamespace(name="Tesla T4", total_memory=15 * 2**30)
    )
    device = doc.check_device()
    assert device.status == "ok" and device.detail.startswith("GPU: Tesla T4, 15.0 GiB")


def test_more_torch_threads_than_cores_prints_the_fix(monkeypatch):
    monkeypatch.setattr(doc, "cpu_cores", lambda: 2)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 16)
    cpu = doc.check_cpu()
    assert cpu.status == "note" and "torch uses 16 threads" in cpu.detail and "setup_torch()" in cpu.fix


def test_widgets_need_jupyterlab_widgets(monkeypatch):
    fake_versions(monkeypatch, jupyterlab_widgets=None)
    widgets = doc.check_widgets(colab=False, kernel=False)
    assert widgets.status == "note" and "jupyterlab_widgets is not installed" in widgets.detail
    assert "not in a kernel" in widgets.detail and "pip install" in widgets.fix
    assert "running in a Jupyter kernel" in doc.check_widgets(kernel=True).detail
    assert "Colab's custom widget manager" in doc.check_widgets(colab=True).detail


def test_python_older_than_311_is_an_error(monkeypatch):
    monkeypatch.setattr(sys, "version_info", (3, 10, 14, "final", 0))
    check = doc.check_python()
    assert check.status == "error" and "3.11" in check.fix


def _fake_hub_cache(cache, commit="0123456789abcdef0123456789abcdef01234567"):
    """The layout huggingface_hub gives a downloaded model: refs/main names the snapshot holding the files."""
    repo = cache / ("models--" + doc.SD15_MODEL_ID.replace("/", "--"))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    (repo / "snapshots" / commit).mkdir(parents=True)
    (repo / "snapshots" / commit / "model_index.json").write_text('{"_class_name": "StableDiffusionPipeline"}')


def test_cached_weights_and_a_gpu_give_the_real_model(tmp_path, monkeypatch):
    monkeypatch.setattr(sd_check, "hub_reachable", lambda *a, **k: pytest.fail("HF_HUB_OFFLINE=1 must not ask the Hub"))
    assert doc.weights_in_cache(tmp_path) is None
    _fake_hub_cache(tmp_path)
    assert doc.weights_in_cache(tmp_path).endswith("model_index.json")
    real = doc.check_weights(cuda=True, cache_dir=tmp_path)
    assert (
        real.status == "ok"
        and "real Stable Diffusion 1.5" in real.detail
        and "in the local Hugging Face cache" in real.detail
    )
    cpu = doc.check_weights(cuda=False, cache_dir=tmp_path)
    assert "will use the shapes model trained in Module 09" in cpu.detail
    assert "Runtime > Change runtime type > GPU" in cpu.fix


def test_gpu_without_weights_offline_uses_the_shapes_model(tmp_path, monkeypatch):
    monkeypatch.setattr(sd_check, "hub_reachable", lambda *a, **k: pytest.fail("HF_HUB_OFFLINE=1 must not ask the Hub"))
    check = doc.check_weights(cuda=True, cache_dir=tmp_path)
    assert check.status == "note" and "will use the shapes model" in check.detail and "hub not asked" in check.detail
    assert "unset HF_HUB_OFFLINE" in check.fix


def test_online_the_hub_is_asked(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(sd_check, "hub_reachable", lambda *a, **k: (True, ""))
    check = doc.check_weights(cuda=True, cache_dir=tmp_path)
    assert check.status == "ok" and "the Hub is reachable" in check.detail and "first download" in check.detail
    monkeypatch.setattr(sd_check, "hub_reachable", lambda *a, **k: (False, "ConnectError: no network"))
    check = doc.check_weights(cuda=True, cache_dir=tmp_path)
    assert "not reachable (ConnectError: no network)" in check.detail and "connect to the internet" in check.fix


def test_a_hanging_hub_check_gives_up(monkeypatch):
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", lambda self, *a, **k: time.sleep(30))
    start = time.monotonic()
    reachable, why = doc.hub_reachable(timeout=0.2)
    assert not reachable and "no answer within" in why
    assert time.monotonic() - start < 5


def test_tested_versions_are_the_requirements_pins():
    pins = [
        line.strip()
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    ]
    assert doc.tested_versions() == {doc._norm(p.split("==")[0]): p.split("==")[1] for p in pins}


def test_doctor_in_a_notebook_cell_sees_the_kernel(tmp_path):
    import nbformat

    from helpers.teach.notebooks import execute

    path = tmp_path / "doctor.ipynb"
    nbformat.write(
        nbformat.v4.new_notebook(
            cells=[nbformat.v4.new_code_cell("from helpers.teach.doctor import doctor; doctor()")]
        ),
        path,
    )
    outputs = execute(path, timeout=300).cells[0].outputs
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "running in a Jupyter kernel" in line(text, "widgets")
    assert not [o for o in outputs if o.output_type in ("execute_result", "error")], outputs


def test_says_whether_grading_can_be_sandboxed(monkeypatch):
    from helpers.teach import sandbox

    monkeypatch.setattr(doc, "sandbox_problem", lambda: "bubblewrap (bwrap) is not installed; install it")
    check = doc.check_grading()
    assert (
        check.status == "note" and "cannot be sandboxed" in check.detail and "apt-get install bubblewrap" in check.fix
    )
    monkeypatch.undo()
    if sandbox.sandbox_problem() is None:
        assert doc.check_grading().status == "ok" and "bubblewrap" in doc.check_grading().detail


def test_the_doctors_model_id_is_the_one_helpers_sd_loads():
    from helpers.sd.config import SD15_MODEL_ID

    assert env.SD15_MODEL_ID == SD15_MODEL_ID
