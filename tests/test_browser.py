"""In a real browser: JupyterLab runs Module 02, and dragging the dissolve slider redraws the photo and the readout.

Drives Debian's Chromium (``apt-get install chromium``) with Playwright. Without Chromium the test is
skipped, unless COURSE_REQUIRE_BROWSER=1 (set by .ci/run), which turns the skip into a failure.
COURSE_CHROMIUM points at another Chromium executable. The screenshot lands in artifacts/browser/.
"""
from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from helpers.teach.notebooks import ROOT, kernel_env

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]

NOTEBOOK = "notebooks/02_forward_process.ipynb"
ARTIFACTS = ROOT / "artifacts" / "browser"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SERVER_START_S = 120
RUN_ALL_S = 420  # the notebook takes about 15 s on 2 cores; a cold kernel and a busy machine take longer
STEP_S = 60
# JupyterLab user settings: render every cell (no windowing) and keep news and update toasts away.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
}


def chromium_or_skip() -> str:
    """The Chromium executable; skip the test (fail it when COURSE_REQUIRE_BROWSER=1) when it is missing."""
    path = os.environ.get("COURSE_CHROMIUM", "/usr/bin/chromium")
    problem = None
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        problem = f"Chromium was not found at {path}"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "the playwright package is not installed (pip install -r requirements.txt)"
    if problem is None:
        return path
    how = ("install Chromium (`sudo apt-get install chromium` on Debian/Ubuntu puts it at /usr/bin/chromium) "
           "or point COURSE_CHROMIUM at your OS's Chromium")
    if os.environ.get("COURSE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"COURSE_REQUIRE_BROWSER=1 but {problem}, so the browser test cannot run. To fix it, {how}.",
                    pytrace=False)
    pytest.skip(f"browser test skipped: {problem}. To run it, {how}; "
                "with COURSE_REQUIRE_BROWSER=1 (as in CI) a missing browser fails instead of skipping.")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_server(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"JupyterLab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"JupyterLab did not answer within {SERVER_START_S} s:\n{log.read_text()[-3000:]}")


@contextlib.contextmanager
def jupyterlab(tmp_path: Path):
    """JupyterLab on a free localhost port, serving a scratch copy of notebooks/; yields (base URL, token)."""
    root = tmp_path / "course"
    (root / NOTEBOOK).parent.mkdir(parents=True)
    shutil.copy(ROOT / NOTEBOOK, root / NOTEBOOK)  # the run saves outputs into the copy, not the repo
    settings = tmp_path / "lab-settings"
    for name, values in LAB_SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(values))
    env = kernel_env() | {
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "lab-workspaces"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
    }
    port, token = free_port(), secrets.token_hex(16)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = ARTIFACTS / "jupyterlab.log"
    with open(log, "w") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.open_browser=False", "--allow-root",
             "--ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
             f"--ServerApp.root_dir={root}"],
            cwd=root, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for_server(f"{base}/api/status?token={token}", proc, log)
        yield base, token
    finally:
        proc.terminate()  # jupyter shuts its kernels down on SIGTERM
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait(timeout=10)


@functools.cache
def _widget():
    from helpers.widgets import dissolve_widget

    return dissolve_widget()


def expected_frame(t: int) -> bytes:
    """The PNG the widget should show at timestep t for its default subject and schedule, made here in Python."""
    widget = _widget()
    widget.slider.value = t
    return widget.image.value


def image_bytes(page, image) -> bytes:
    """The bytes behind the widget's <img> (ipywidgets 8 serves them from a blob: URL)."""
    src = image.get_attribute("src")
    data = page.evaluate("async (src) => Array.from(new Uint8Array(await (await fetch(src)).arrayBuffer()))", src)
    return bytes(data)


def timestep(readout_text: str) -> int:
    """The t in the readout's "t / 1000 (cosine schedule)"."""
    found = re.search(r"(\d+) / 1000 \((\w+) schedule\)", readout_text)
    assert found, f"no 't / 1000 (name schedule)' in the readout: {readout_text!r}"
    return int(found.group(1))


def error_outputs(page) -> list[str]:
    """The text of every error the notebook's cells raised."""
    return page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").filter(
        has_text="Traceback").all_inner_texts()


def test_dissolve_slider_redraws_in_jupyterlab(tmp_path):
    chromium = chromium_or_skip()  # before the server starts: a missing browser skips at once
    from playwright.sync_api import sync_playwright

    (ARTIFACTS / "02_failure.png").unlink(missing_ok=True)
    with jupyterlab(tmp_path) as (base, token), sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=chromium, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 1000}, timeout=STEP_S * 1000)
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.set_default_timeout(STEP_S * 1000)
            try:
                run_and_drag(page, base, token)
            except BaseException:
                page.screenshot(path=str(ARTIFACTS / "02_failure.png"))
                raise
        finally:
            context.close()


def run_and_drag(page, base: str, token: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{base}/lab/tree/{NOTEBOOK}?token={token}")
    # The status bar's "Python 3 (ipykernel) | Idle"; before the kernel connects it reads "No Kernel | Initializing"
    # while the toolbar's indicator already says idle, and Run All would then run nothing.
    kernel_idle = page.get_by_text(re.compile(r"^(?!No Kernel).+ \| Idle$"))
    expect(kernel_idle).to_have_count(1, timeout=SERVER_START_S * 1000)

    # Run > Run All Cells, from the menu bar as a learner would.
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    prompts = page.locator(".jp-NotebookPanel .jp-CodeCell .jp-InputArea-prompt")
    code_cells = prompts.count()
    assert code_cells > 10, f"only {code_cells} code cells rendered"
    started = time.monotonic()
    deadline = started + RUN_ALL_S
    while time.monotonic() < deadline:  # done when every prompt shows its count, e.g. [31]:, and the kernel is idle
        texts = prompts.all_inner_texts()
        if all(re.fullmatch(r"\[\d+\]:", t.strip()) for t in texts) and kernel_idle.count() == 1:
            break
        if error_outputs(page):  # Run All stops at the first error
            raise AssertionError(f"a cell raised: {error_outputs(page)}")
        if time.monotonic() > started + STEP_S and all(t.strip() == "[ ]:" for t in texts):
            raise AssertionError(f"Run All Cells ran nothing in {STEP_S} s")
        time.sleep(1)
    else:
        raise AssertionError(f"the notebook did not finish within {RUN_ALL_S} s; prompts: {texts}; "
                             f"errors: {error_outputs(page)}")
    assert not error_outputs(page), f"a cell raised: {error_outputs(page)}"

    slider = page.locator(".dissolve-slider")
    readout = page.locator(".dissolve-readout")
    image = page.locator("img.dissolve-image, .dissolve-image img").first
    expect(slider).to_have_count(1)
    slider.scroll_into_view_if_needed()
    expect(readout).to_contain_text("0 / 1000 (cosine schedule)")
    src_0, text_0 = image.get_attribute("src"), readout.inner_text()
    assert image_bytes(page, image) == expected_frame(0), "at t = 0 the browser does not show the widget's frame"

    # Keyboard: End jumps the handle to t = T.
    handle = slider.locator(".noUi-handle")
    handle.focus()
    handle.press("End")
    expect(readout).to_contain_text("1000 / 1000 (cosine schedule)")
    expect(image).not_to_have_attribute("src", src_0)
    assert readout.inner_text() != text_0
    assert image_bytes(page, image) == expected_frame(1000), "at t = T the browser does not show x_T"

    # Arrow keys step t one at a time.
    handle.press("ArrowLeft")
    handle.press("ArrowLeft")
    expect(readout).to_contain_text("998 / 1000 (cosine schedule)")

    # Mouse: drag the handle to the middle of the track.
    track = slider.locator(".noUi-base").bounding_box()
    box = handle.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(track["x"] + track["width"] * 0.6, box["y"] + box["height"] / 2, steps=10)
    page.mouse.up()
    t = int(slider.locator(".widget-readout").inner_text())  # the slider's own number, set in the browser
    assert 500 <= t <= 700, f"dragging to 60% of the track gave t = {t}"
    # The kernel redraws once per value the drag passed through; wait until it has caught up with the last.
    expect(readout).to_contain_text(f"{t} / 1000 (cosine schedule)")
    expect(kernel_idle).to_have_count(1)
    assert timestep(readout.inner_text()) == t
    assert image_bytes(page, image) == expected_frame(t), f"at t = {t} the browser does not show x_t"

    slider.evaluate("el => el.closest('.jp-Cell').scrollIntoView({block: 'center'})")
    page.screenshot(path=str(ARTIFACTS / "02_slider.png"))
