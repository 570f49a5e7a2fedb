"""Driving JupyterLab in Chromium for tests/test_browser.py: the server as ``python -m helpers lab`` starts it.

JupyterLab runs with its default settings (fresh, empty user settings and IPython folders) and serves a
scratch copy of the course, so running the lessons saves no outputs into the repository.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from helpers.paths import ROOT
from helpers.teach.lab import lab_command, lab_environment
from helpers.teach.notebooks import kernel_env

ARTIFACTS = ROOT / "artifacts" / "browser"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The lessons' kernels get half the cores (helpers.device.setup_torch reads OMP_NUM_THREADS), as the suite's graded
# notebooks are autograded beside them (tests/graded_fixture.py) on the other half. On 2 cores a two-thread kernel
# straggles whenever another process holds a core: lesson 07 took 226 s in the suite against 119 s alone (and
# 215 core-seconds alone, where one thread takes 134 s and 156 core-seconds).
LESSON_THREADS = {name: str(max(1, (os.cpu_count() or 2) // 2)) for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
# The user's folders, empty: JupyterLab's settings and workspaces, Jupyter's runtime and config, and IPython's
# (a default profile, and ~/.ipython left as the hostile class hashes it: tests/classroom_fixture.py).
USER_DIRS = {
    "JUPYTERLAB_SETTINGS_DIR": "settings",
    "JUPYTERLAB_WORKSPACES_DIR": "workspaces",
    "JUPYTER_RUNTIME_DIR": "runtime",
    "JUPYTER_CONFIG_DIR": "config",
    "IPYTHONDIR": "ipython",
}
SERVER_START_S, STEP_S = 120, 60
HANG_S = 600  # a running notebook whose kernel says nothing for this long has hung; a slow one keeps talking


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
    how = (
        "install Chromium (`sudo apt-get install chromium` on Debian/Ubuntu puts it at /usr/bin/chromium) "
        "or point COURSE_CHROMIUM at your OS's Chromium"
    )
    if os.environ.get("COURSE_REQUIRE_BROWSER") == "1":
        pytest.fail(
            f"COURSE_REQUIRE_BROWSER=1 but {problem}, so the browser test cannot run. To fix it, {how}.", pytrace=False
        )
    pytest.skip(
        f"browser test skipped: {problem}. To run it, {how}; "
        "with COURSE_REQUIRE_BROWSER=1 (as in CI) a missing browser fails instead of skipping."
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scratch_course(dest: Path) -> Path:
    """What a learner's clone holds for JupyterLab: the lessons, the exercises and the README."""
    for name in ("notebooks", "exercises"):
        shutil.copytree(ROOT / name, dest / name)
    shutil.copy(ROOT / "README.md", dest / "README.md")
    return dest


def wait_for_server(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"JupyterLab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        time.sleep(0.5)
    raise AssertionError(f"JupyterLab did not answer within {SERVER_START_S} s:\n{log.read_text()[-3000:]}")


@contextlib.contextmanager
def jupyterlab(tmp_path: Path):
    """``python -m helpers lab`` on a free localhost port, over a scratch course, with empty user settings (JupyterLab's
    and IPython's)."""
    root = scratch_course(tmp_path / "course")
    env = lab_environment(base=kernel_env()) | {k: str(tmp_path / v) for k, v in USER_DIRS.items()} | LESSON_THREADS
    port, token = free_port(), secrets.token_hex(16)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = ARTIFACTS / "jupyterlab.log"
    extra = [
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
    ]
    with open(log, "w") as log_file:
        proc = subprocess.Popen(
            lab_command(extra, root),
            cwd=root,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for_server(f"{base}/api/status?token={token}", proc, log)
        yield base, token, root
    finally:
        proc.terminate()  # jupyter shuts its kernels down on SIGTERM
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait(timeout=10)


def error_outputs(page) -> list[str]:
    """The text of every error the notebook's cells raised."""
    return (
        page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
        .filter(has_text=re.compile("Traceback|Error"))
        .all_inner_texts()
    )


def kernel_idle(page):
    """The status bar's "Python 3 (ipykernel) | Idle" (before the kernel connects it reads "No Kernel | ...")."""
    return page.get_by_text(re.compile(r"^(?!No Kernel).+ \| Idle$"))


def dismiss_news(page) -> None:
    """Answer JupyterLab's first-run question about news with "No", as a learner would, if it is showing."""
    no = page.locator(".jp-toast-button", has_text=re.compile(r"^No$"))
    if no.count():
        no.first.click()


def kernel_activity(lab) -> str:
    """The server's record of the last message from the lesson's kernel (one lesson runs at a time)."""
    url = f"{lab['base']}/api/kernels?token={lab['token']}"
    kernels = json.loads(urllib.request.urlopen(url, timeout=30).read())
    return max((k.get("last_activity", "") for k in kernels), default="")


def run_all(page, lab) -> None:
    """Run > Run All Cells from the menu bar, as a learner would, and wait until the last cell has run.

    With JupyterLab's default windowing, cells far from the viewport are not laid out, so "done" is:
    the kernel is idle and the notebook's last code cell shows its execution count. There is no time
    budget: only a kernel that sends nothing (no output, no status) for HANG_S seconds fails the test.
    """
    from playwright.sync_api import expect

    expect(kernel_idle(page)).to_have_count(1, timeout=SERVER_START_S * 1000)
    dismiss_news(page)
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    last = page.locator(".jp-NotebookPanel .jp-CodeCell .jp-InputArea-prompt").last
    started, activity, heard = time.monotonic(), kernel_activity(lab), time.monotonic()
    while time.monotonic() < heard + HANG_S:
        assert not error_outputs(page), f"a cell raised: {error_outputs(page)}"
        if kernel_idle(page).count() == 1 and time.monotonic() > started + 2:
            last.scroll_into_view_if_needed()
            if re.fullmatch(r"\[\d+\]:", last.inner_text().strip()):
                return
        if (now := kernel_activity(lab)) != activity:
            activity, heard = now, time.monotonic()
        time.sleep(1)
    raise AssertionError(f"the kernel sent nothing for {HANG_S} s: a hang; errors: {error_outputs(page)}")


def save(page, path: Path) -> Path:
    """Save with Ctrl+S, as a learner would; wait until the file on disk has been rewritten with outputs."""
    before = path.stat().st_mtime_ns
    page.locator(f".lm-TabBar-tab[title*='{path.parent.name}/{path.name}']").click()  # the lesson's own tab
    page.locator(".jp-NotebookPanel:visible .jp-Notebook").first.click(position={"x": 5, "y": 5})
    page.keyboard.press("Control+s")
    deadline = time.monotonic() + STEP_S
    while time.monotonic() < deadline:
        if path.stat().st_mtime_ns != before and '"outputs": [\n' in path.read_text(encoding="utf-8"):
            time.sleep(0.5)  # let the server finish writing
            return path
        time.sleep(0.5)
    raise AssertionError(f"Ctrl+S did not save {path.name} within {STEP_S} s")


def shown_images(page) -> list[dict]:
    """Every image in the notebook's outputs, scrolled into view first (windowing lays out only what is near)."""
    images = page.locator(".jp-OutputArea-output img")
    found = []
    for i in range(images.count()):
        image = images.nth(i)
        image.scroll_into_view_if_needed()
        box = image.bounding_box() or {"width": 0, "height": 0}
        natural = image.evaluate("img => [img.naturalWidth, img.naturalHeight, img.complete]")
        found.append(
            {
                "src": (image.get_attribute("src") or "")[:40],
                "width": box["width"],
                "height": box["height"],
                "natural": natural,
            }
        )
    return found
