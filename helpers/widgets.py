"""Interactive widgets for the lessons: the dissolve slider (Module 02) and the guidance view (Module 05).

Each widget also carries a static twin, an image and a readout in plain HTML, which front ends
without a kernel show instead (a static page, GitHub). The widgets carry stable CSS classes
(``dissolve-slider``, ``dissolve-image``, ``guidance-scale``, ``guidance-status``, ...) so a browser
test can find and drive them.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable

import ipywidgets as widgets
import numpy as np

from helpers.images import PHOTOS, load_photo, to_png
from helpers.schedules import SCHEDULES, Schedule


def fixed_noise(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """One standard-normal eps of the given shape, the same for the same seed.

    Derived in notebooks/02_forward_process.ipynb §4.
    """
    return np.random.default_rng(seed).standard_normal(shape)


def _number(v: float) -> str:
    """Four decimals, or scientific notation for values too small to show that way."""
    if np.isinf(v):
        return "∞"
    return f"{v:.4f}" if v == 0 or 1e-3 <= abs(v) < 1e4 else f"{v:.3e}"


def readout_html(schedule: Schedule, t: int) -> str:
    """The live readout: alpha_bar_t, its square roots and the SNR at timestep t.

    Derived in notebooks/02_forward_process.ipynb §4.
    """
    alpha_bar = schedule.alpha_bar[t]
    rows = [
        ("timestep t", f"{t} / {schedule.T} ({schedule.name} schedule)"),
        ("ᾱ<sub>t</sub> (signal variance kept)", _number(alpha_bar)),
        ("√ᾱ<sub>t</sub> (signal multiplier)", _number(np.sqrt(alpha_bar))),
        ("√(1−ᾱ<sub>t</sub>) (noise multiplier)", _number(np.sqrt(1 - alpha_bar))),
        ("SNR = ᾱ<sub>t</sub>/(1−ᾱ<sub>t</sub>)", _number(schedule.snr[t])),
    ]
    cells = "".join(
        f"<tr><td>{name}</td><td style='text-align:right;font-family:monospace'>{value}</td></tr>"
        for name, value in rows
    )
    return f"<table>{cells}</table>"


class DissolveWidget:
    """Pick a photo, drag t from 0 to T, and watch x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) eps.

    Derived in notebooks/02_forward_process.ipynb §4.
    """

    def __init__(self, T: int = 1000, size: int = 128, scale: int = 2, seed: int = 0) -> None:
        self.schedules = {name: Schedule.create(name, T) for name in SCHEDULES}
        self.photos = {name: load_photo(name, size) for name in PHOTOS}
        # One eps per subject, drawn once: the slider only changes how much of it is mixed in.
        self.noise = {name: fixed_noise(x0.shape, seed + i) for i, (name, x0) in enumerate(self.photos.items())}
        self.scale = scale

        self.subject = widgets.ToggleButtons(options=list(PHOTOS), value=PHOTOS[0], description="subject")
        self.schedule = widgets.ToggleButtons(options=["cosine", "linear"], value="cosine", description="schedule")
        self.slider = widgets.IntSlider(
            value=0,
            min=0,
            max=T,
            step=1,
            description="timestep t",
            continuous_update=True,
            layout=widgets.Layout(width="480px"),
        )
        self.image = widgets.Image(format="png", width=size * scale, height=size * scale)
        self.readout = widgets.HTML()
        for w, name in [
            (self.subject, "subject"),
            (self.schedule, "schedule"),
            (self.slider, "slider"),
            (self.image, "image"),
            (self.readout, "readout"),
        ]:
            w.add_class(f"dissolve-{name}")
        for w in (self.subject, self.schedule, self.slider):
            w.observe(self.update, names="value")
        self.update()
        self.box = widgets.VBox([self.subject, self.schedule, self.slider, widgets.HBox([self.image, self.readout])])

    def frame(self) -> np.ndarray:
        """The noisy photo x_t for the current subject, schedule and t, shape (size, size, 3)."""
        schedule = self.schedules[self.schedule.value]
        name = self.subject.value
        return schedule.q_sample(self.photos[name], self.slider.value, self.noise[name])

    def update(self, change: dict | None = None) -> None:
        """Redraw the image and the readout for the widgets' current values."""
        self.image.value = to_png(self.frame(), self.scale)
        self.readout.value = readout_html(self.schedules[self.schedule.value], self.slider.value)

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        """The live widget, and for front ends without a kernel the current frame and readout as HTML."""
        return {
            **self.box._repr_mimebundle_(),
            "text/html": static_html(self.image.value, self.readout.value),
            "text/plain": repr(self),
        }

    def __repr__(self) -> str:  # shown by front ends that cannot render widgets
        return (
            "DissolveWidget: run this notebook in Jupyter to drag the timestep slider; "
            "the static strip below shows the same frames."
        )


def dissolve_widget(T: int = 1000, size: int = 128, scale: int = 2, seed: int = 0) -> DissolveWidget:
    """Build the "watch an image dissolve" widget; put it last in a cell to show it.

    Derived in notebooks/02_forward_process.ipynb §4.
    """
    return DissolveWidget(T=T, size=size, scale=scale, seed=seed)


def static_html(png: bytes, readout: str) -> str:
    """A widget's image and readout as plain HTML, for pages without a kernel.

    Derived in notebooks/02_forward_process.ipynb §4.
    """
    src = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    return (
        f"<div class='widget-static'><img src='{src}' alt='widget image'/>{readout}"
        "<p><i>Run the notebook to move the controls.</i></p></div>"
    )


class BackgroundView:
    """An image and a readout redrawn from controls' values in a background thread.

    The kernel stays free while a slow drawing runs, so the readout can say it is busy; changes that
    arrive meanwhile are coalesced: only the newest is drawn next. ``seconds`` lists the time of
    each drawing. Derived in notebooks/05_guidance.ipynb §3.
    """

    def __init__(
        self,
        controls: dict[str, widgets.ValueWidget],
        draw: Callable[..., tuple[bytes, str]],
        name: str = "view",
        width: int = 280,
    ) -> None:
        self.controls, self.draw, self.seconds = controls, draw, []
        self.image, self.readout, self.status = widgets.Image(format="png", width=width), widgets.HTML(), widgets.HTML()
        for part, widget in [
            ("image", self.image),
            ("readout", self.readout),
            ("status", self.status),
            *controls.items(),
        ]:
            widget.add_class(f"{name}-{part}")
        self._lock, self._pending, self._worker = threading.Lock(), None, None
        for control in controls.values():
            control.observe(self.request, names="value")
        self._render(self.values())  # the first picture, before the widget is shown
        self.box = widgets.VBox([*controls.values(), self.status, self.readout, self.image])

    def values(self) -> dict:
        return {key: control.value for key, control in self.controls.items()}

    def request(self, _=None) -> None:
        """Ask for a redraw with the current values; returns at once."""
        with self._lock:
            self._pending = self.values()
            if self._worker is None:
                self._worker = threading.Thread(target=self._drain, daemon=True)
                self._worker.start()
        self.status.value = "⏳ drawing new samples…"

    def _drain(self) -> None:
        while True:
            with self._lock:
                values, self._pending = self._pending, None
                if values is None:
                    self._worker = None
                    return
            self._render(values)

    def _render(self, values: dict) -> None:
        start = time.perf_counter()
        try:
            png, readout = self.draw(**values)
        except Exception as error:  # a background thread has no cell to show a traceback in
            self.status.value = f"❌ {type(error).__name__}: {error}"
            return
        self.seconds.append(time.perf_counter() - start)
        self.image.value, self.readout.value = png, readout
        with self._lock:
            if self._pending is None:
                self.status.value = f"drawn in {self.seconds[-1]:.2f} s"

    def wait(self, timeout: float = 120) -> None:
        """Block until the drawings asked for so far are done (for scripts and tests)."""
        worker = self._worker
        if worker is not None:
            worker.join(timeout)

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        return {
            **self.box._repr_mimebundle_(),
            "text/html": static_html(self.image.value, self.readout.value),
            "text/plain": "a live view: run this notebook in Jupyter to move its controls",
        }


def guidance_view(
    draw: Callable[[int, float], tuple[bytes, str]], digit: int = 3, scale: float = 7.0
) -> BackgroundView:
    """Pick a digit and drag the guidance scale s; ``draw(digit, scale)`` makes the picture and the readout.

    Derived in notebooks/05_guidance.ipynb §3.
    """
    controls = {
        "digit": widgets.ToggleButtons(
            options=list(range(10)), value=digit, description="digit", style={"button_width": "30px"}
        ),
        "scale": widgets.FloatSlider(
            value=scale,
            min=0.0,
            max=20.0,
            step=0.5,
            description="guidance s",
            continuous_update=False,
            layout=widgets.Layout(width="480px"),
        ),
    }
    return BackgroundView(controls, draw, name="guidance")
