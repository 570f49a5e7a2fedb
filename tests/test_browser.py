"""In a real browser: every lesson runs in JupyterLab as ``python -m helpers lab`` starts it, with default settings.

For each lesson the test runs all cells from the menu, then checks that every image, widget and
animation in the outputs shows a picture of non-zero size once scrolled to (JupyterLab's default
windowing lays out only what is near the viewport), and saves the notebook: the checks that read an
executed lesson (test_notebooks, test_site) read that saved run instead of running the lesson again.
Lesson 01: the file browser, the Next links, no nbgrader tools, and a quiz answered wrong, then right.
Lesson 02: the dissolve slider, driven by keyboard and mouse. Lesson 04: the animation plays.
Lesson 05: the guidance view redraws and says when it is busy. One screenshot per lesson lands in
artifacts/browser/. Drives Debian's Chromium with Playwright; without it the test skips, unless
COURSE_REQUIRE_BROWSER=1 (CI).
"""

from __future__ import annotations

import functools
import json
import re
import time
import urllib.request

import nbformat
import pytest
from browser_lab import (
    ARTIFACTS,
    CHROMIUM_ARGS,
    STEP_S,
    chromium_or_skip,
    jupyterlab,
    run_all,
    save,
    shown_images,
)
from executed import SAVED

from helpers.quiz import quiz
from helpers.teach.notebooks import lessons

pytestmark = [pytest.mark.browser, pytest.mark.timeout(3600)]  # against a hang only; run_all watches progress
MEASURED: dict[str, float] = {}  # what the lessons' widgets took, printed at the end


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    chromium = chromium_or_skip()  # before the server starts: a missing browser skips at once
    from playwright.sync_api import sync_playwright

    tmp = tmp_path_factory.mktemp("browser")
    with jupyterlab(tmp) as (base, token, root), sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp / "chromium-profile"),
            executable_path=chromium,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 1000},
            timeout=STEP_S * 1000,
        )
        yield {"context": context, "base": base, "token": token, "root": root}
        context.close()
    print("\nwidget update times measured in the browser:", json.dumps(MEASURED))
    (ARTIFACTS / "measured.json").write_text(json.dumps(MEASURED, indent=1), encoding="utf-8")


def open_lesson(lab, stem: str):
    """A new tab with the lesson in its own JupyterLab workspace (so no other notebook is restored)."""
    page = lab["context"].new_page()
    page.set_default_timeout(STEP_S * 1000)
    page.goto(f"{lab['base']}/lab/workspaces/{stem}/tree/notebooks/{stem}.ipynb?token={lab['token']}")
    return page


def shut_down_kernels(lab) -> None:
    url = f"{lab['base']}/api/sessions?token={lab['token']}"
    for session in json.loads(urllib.request.urlopen(url, timeout=30).read()):
        request = urllib.request.Request(
            f"{lab['base']}/api/sessions/{session['id']}?token={lab['token']}", method="DELETE"
        )
        urllib.request.urlopen(request, timeout=30)


@pytest.mark.parametrize("stem", [p.stem for p in lessons()])
def test_lesson_runs_and_shows_every_picture(stem, lab):
    page = open_lesson(lab, stem)
    (ARTIFACTS / f"{stem}_failure.png").unlink(missing_ok=True)
    try:
        run_all(page, lab)
        images = shown_images(page)
        assert images, f"{stem} shows no image at all"
        blank = [i for i in images if i["width"] < 8 or i["height"] < 8 or not i["natural"][0] or not i["natural"][2]]
        assert not blank, f"{stem}: images that show nothing once scrolled to: {blank}"
        CHECKS.get(stem, lambda page, lab: None)(page, lab)
        page.screenshot(path=str(ARTIFACTS / f"{stem}.png"))
        saved = save(page, lab["root"] / "notebooks" / f"{stem}.ipynb")
        SAVED[next(p for p in lessons() if p.stem == stem)] = nbformat.read(saved, as_version=4)
    except BaseException:
        page.screenshot(path=str(ARTIFACTS / f"{stem}_failure.png"))
        raise
    finally:
        page.close()
        shut_down_kernels(lab)


# --- What each lesson adds --------------------------------------------------------------------------------


def check_course_browser_links_and_quiz(page, lab) -> None:
    """Lesson 01: the file browser at the repository root, no nbgrader tools, the Next links, the quiz."""
    from playwright.sync_api import expect

    page.locator(".jp-BreadCrumbs-home").click()  # the file browser's root: the server's root folder
    expect(page.locator(".jp-DirListing-content .jp-DirListing-itemText", has_text="exercises")).to_have_count(1)
    listing = page.locator(".jp-DirListing-content .jp-DirListing-itemText").all_inner_texts()
    assert {"notebooks", "exercises", "README.md"} <= set(listing), listing
    menus = page.locator(".lm-MenuBar-itemLabel").all_inner_texts()
    assert not [m for m in menus if "nbgrader" in m.lower()], f"the learner's JupyterLab shows {menus}"
    answer_a_quiz_wrong_then_right(page, "01_toy_signal")
    for text, path in (
        ("the graded exercise", "exercises/01_toy_signal/01_toy_signal.ipynb"),
        ("Module 02", "notebooks/02_forward_process.ipynb"),
    ):
        page.locator(".lm-TabBar-tab[title*='notebooks/01_toy_signal.ipynb']").click()  # back to the lesson
        page.locator(".jp-NotebookPanel:visible .jp-RenderedMarkdown a", has_text=text).last.click()
        expect(page.locator(f".lm-TabBar-tab[title*='{path}']")).to_have_count(1)


def answer_a_quiz_wrong_then_right(page, stem: str) -> None:
    from playwright.sync_api import expect

    question = quiz(stem).questions[0]
    wrong = next(i for i in range(len(question.options)) if i != question.answer)
    box = page.locator(".quiz").first
    box.scroll_into_view_if_needed()
    first = box.locator(".widget-vbox").nth(0)  # the first question's box
    for choice, verdict in ((wrong, "Not quite"), (question.answer, "Correct")):
        first.locator(".quiz-options .widget-radio-box label").nth(choice).click()
        first.locator(".quiz-check").click()
        expect(first.locator(".quiz-feedback")).to_contain_text(verdict)
    expect(box.locator(".quiz-score")).to_contain_text("Score: 0/")  # the first answer was wrong, and it counts


@functools.cache
def _dissolve():
    from helpers.widgets import dissolve_widget

    return dissolve_widget()


def expected_frame(t: int) -> bytes:
    """The PNG the dissolve widget should show at timestep t for its default subject and schedule."""
    widget = _dissolve()
    widget.slider.value = t
    return widget.image.value


def image_bytes(page, image) -> bytes:
    """The bytes behind an <img> (ipywidgets 8 serves them from a blob: URL)."""
    src = image.get_attribute("src")
    return bytes(
        page.evaluate("async (src) => Array.from(new Uint8Array(await (await fetch(src)).arrayBuffer()))", src)
    )


def check_dissolve_slider(page, lab) -> None:
    """Lesson 02: keyboard and mouse move the timestep, and the image is exactly x_t for that t."""
    from playwright.sync_api import expect

    slider, readout = page.locator(".dissolve-slider"), page.locator(".dissolve-readout")
    image = page.locator("img.dissolve-image, .dissolve-image img").first
    slider.scroll_into_view_if_needed()
    expect(readout).to_contain_text("0 / 1000 (cosine schedule)")
    assert image_bytes(page, image) == expected_frame(0), "at t = 0 the browser does not show the widget's frame"
    handle = slider.locator(".noUi-handle")
    handle.focus()
    started = time.monotonic()
    handle.press("End")
    expect(readout).to_contain_text("1000 / 1000 (cosine schedule)")
    MEASURED["02 dissolve slider, t = 0 -> 1000 (s)"] = round(time.monotonic() - started, 2)
    assert image_bytes(page, image) == expected_frame(1000), "at t = T the browser does not show x_T"
    handle.press("ArrowLeft")
    handle.press("ArrowLeft")
    expect(readout).to_contain_text("998 / 1000 (cosine schedule)")
    track, box = slider.locator(".noUi-base").bounding_box(), handle.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(track["x"] + track["width"] * 0.6, box["y"] + box["height"] / 2, steps=10)
    page.mouse.up()
    t = int(slider.locator(".widget-readout").inner_text())
    assert 500 <= t <= 700, f"dragging to 60% of the track gave t = {t}"
    expect(readout).to_contain_text(f"{t} / 1000 (cosine schedule)")
    assert image_bytes(page, image) == expected_frame(t), f"at t = {t} the browser does not show x_t"
    slider.evaluate("el => el.closest('.jp-Cell').scrollIntoView({block: 'center'})")


def check_animation_plays(page, lab) -> None:
    """Lesson 04: the animation is a picture, and a later look shows another frame."""
    gif = page.locator(".jp-OutputArea-output img[src^='data:image/gif']").first
    gif.scroll_into_view_if_needed()
    first = gif.screenshot()
    time.sleep(1.5)
    assert gif.screenshot() != first, "the animation did not advance in 1.5 s"


def check_guidance_view(page, lab) -> None:
    """Lesson 05: a new digit and scale redraw the samples; while it draws, the view says it is busy."""
    from playwright.sync_api import expect

    status, readout = page.locator(".guidance-status"), page.locator(".guidance-readout")
    image = page.locator(".guidance-image img, img.guidance-image").first
    image.scroll_into_view_if_needed()
    before_src, before_text = image.get_attribute("src"), readout.inner_text()
    started = time.monotonic()
    page.locator(".guidance-digit button", has_text=re.compile(r"^8$")).click()
    expect(status).to_contain_text(re.compile("drawing|drawn"))
    expect(status).to_contain_text("drawn in", timeout=120_000)
    expect(readout).to_contain_text("as a 8")
    MEASURED["05 guidance view, new digit (s)"] = round(time.monotonic() - started, 2)
    assert image.get_attribute("src") != before_src and readout.inner_text() != before_text
    handle = page.locator(".guidance-scale .noUi-handle")
    handle.focus()
    handle.press("End")
    expect(readout).to_contain_text("s = 20.0", timeout=120_000)


CHECKS = {
    "01_toy_signal": check_course_browser_links_and_quiz,
    "02_forward_process": check_dissolve_slider,
    "04_sampling": check_animation_plays,
    "05_guidance": check_guidance_view,
}
