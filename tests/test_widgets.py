"""helpers.widgets: the dissolve slider's frames, and the background view's coalescing, busy status and static twin."""

from __future__ import annotations

import threading

import numpy as np

from helpers.schedules import Schedule
from helpers.widgets import BackgroundView, dissolve_widget, guidance_view, readout_html


def test_dissolve_frame_is_q_sample_of_the_photo_and_the_readout_names_t():
    w = dissolve_widget(T=1000, size=16)
    w.slider.value = 500
    x0, eps = w.photos[w.subject.value], w.noise[w.subject.value]
    np.testing.assert_array_equal(w.frame(), Schedule.create("cosine", 1000).q_sample(x0, 500, eps))
    assert "500 / 1000 (cosine schedule)" in w.readout.value
    assert ">0.4985<" in readout_html(Schedule.create("cosine", 1000), 497)  # alpha_bar_497, to four decimals


def test_static_twins_hold_the_current_picture():
    bundle = dissolve_widget(size=16)._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle and "data:image/png;base64," in bundle["text/html"]


def test_background_view_coalesces_changes_made_while_it_draws_and_says_it_is_busy():
    gate, started, drawn = threading.Event(), threading.Event(), []

    def draw(digit: int, scale: float):
        if drawn:  # every drawing after the first says it has begun, then waits until the test lets it go
            started.set()
            gate.wait(10)
        drawn.append((digit, scale))
        return b"png", f"{digit} at {scale}"

    view = guidance_view(draw, digit=3, scale=7.0)
    view.controls["scale"].value = 1.0  # starts a drawing in the background, which blocks
    assert "drawing" in view.status.value
    assert started.wait(10)  # the worker has taken 1.0 before the next values arrive (on a busy CPU it may lag)
    for s in (2.0, 3.0, 4.0):  # arrive while busy: only the newest is drawn next
        view.controls["scale"].value = s
    gate.set()
    view.wait()
    assert drawn == [(3, 7.0), (3, 1.0), (3, 4.0)], drawn
    assert view.readout.value == "3 at 4.0" and view.status.value.startswith("drawn in")
    assert len(view.seconds) == 3


def test_background_view_shows_an_error_instead_of_losing_it():
    def draw(x: int):
        if x:
            raise ValueError("bad value")
        return b"", "ok"

    import ipywidgets as widgets

    view = BackgroundView({"x": widgets.IntSlider(value=0)}, draw)
    view.controls["x"].value = 1
    view.wait()
    assert "ValueError: bad value" in view.status.value and view.readout.value == "ok"
