"""The static site: every lesson rendered with its outputs, widgets as their static twins, readable without a kernel."""

from __future__ import annotations

import re

import pytest

from helpers.quiz import quiz
from helpers.teach.notebooks import lessons
from helpers.teach.site import build, site_links


@pytest.fixture(scope="module")
def site(executed_lessons, tmp_path_factory):
    dest = tmp_path_factory.mktemp("site")
    return dest, build(dest, executed_lessons)


def test_one_page_per_lesson_and_an_index_linking_them(site):
    dest, pages = site
    assert [p.name for p in pages] == ["index.html", *[f"{p.stem}.html" for p in lessons()]]
    index = (dest / "index.html").read_text(encoding="utf-8")
    assert all(f"href='{p.stem}.html'" in index for p in lessons())


@pytest.mark.parametrize("stem", [p.stem for p in lessons()])
def test_every_lesson_page_holds_its_figures_and_its_quiz(stem, site, executed_lessons):
    dest, _ = site
    page = (dest / f"{stem}.html").read_text(encoding="utf-8")
    nb = next(nb for path, nb in executed_lessons.items() if path.stem == stem)
    figures = sum(1 for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {}))
    assert figures and page.count("data:image/png;base64,") >= figures, f"{stem}: figures missing from the page"
    questions = len(quiz(stem).questions)
    assert page.count("<details>") == questions and "Show the answer" in page, f"{stem}: the quiz is not readable"
    assert "application/vnd.jupyter.widget-view+json" not in page, f"{stem}: a live widget left on a static page"


def test_widgets_and_the_animation_become_pictures(site):
    dest, _ = site
    page = lambda stem: (dest / f"{stem}.html").read_text(encoding="utf-8")
    assert "widget-static" in page("02_forward_process") and "widget-static" in page("05_guidance")
    assert re.search(r"<img[^>]*src=[\"']data:image/gif;base64,[A-Za-z0-9+/=]{1000,}", page("04_sampling"))


def test_links_point_at_pages_and_exercises_at_github():
    text = "[Module 02](02_forward_process.ipynb) and [the exercise](../exercises/02_x/02_x.ipynb)"
    assert site_links(text) == (
        "[Module 02](02_forward_process.html) and [the exercise]"
        "(https://github.com/diffusion-course/diffusion-models-course/blob/main/exercises/02_x/02_x.ipynb)"
    )
