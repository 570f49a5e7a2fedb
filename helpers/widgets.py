"""Interactive widgets for the lessons. The dissolve slider is used in notebooks/02_forward_process.ipynb.

The widgets carry stable CSS classes (``dissolve-slider``, ``dissolve-readout``, ``dissolve-image``,
``dissolve-subject``, ``dissolve-schedule``) so a browser test can find and drive them.
"""
from __future__ import annotations

import ipywidgets as widgets
import numpy as np
from IPython.display import display

from helpers.images import PHOTOS, load_photo, to_png
from helpers.schedules import SCHEDULES, Schedule


def fixed_noise(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """One standard-normal eps of the given shape, the same for the same seed."""
    return np.random.default_rng(seed).standard_normal(shape)


def _number(v: float) -> str:
    """Four decimals, or scientific notation for values too small to show that way."""
    if np.isinf(v):
        return "∞"
    return f"{v:.4f}" if v == 0 or 1e-3 <= abs(v) < 1e4 else f"{v:.3e}"


def readout_html(schedule: Schedule, t: int) -> str:
    """The live readout: alpha_bar_t, its square roots and the SNR at timestep t."""
    alpha_bar = schedule.alpha_bar[t]
    rows = [
        ("timestep t", f"{t} / {schedule.T} ({schedule.name} schedule)"),
        ("ᾱ<sub>t</sub> (signal variance kept)", _number(alpha_bar)),
        ("√ᾱ<sub>t</sub> (signal multiplier)", _number(np.sqrt(alpha_bar))),
        ("√(1−ᾱ<sub>t</sub>) (noise multiplier)", _number(np.sqrt(1 - alpha_bar))),
        ("SNR = ᾱ<sub>t</sub>/(1−ᾱ<sub>t</sub>)", _number(schedule.snr[t])),
    ]
    cells = "".join(f"<tr><td>{name}</td><td style='text-align:right;font-family:monospace'>{value}</td></tr>"
                    for name, value in rows)
    return f"<table>{cells}</table>"


class DissolveWidget:
    """Pick a photo, drag t from 0 to T, and watch x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) eps."""

    def __init__(self, T: int = 1000, size: int = 128, scale: int = 2, seed: int = 0) -> None:
        self.schedules = {name: Schedule.create(name, T) for name in SCHEDULES}
        self.photos = {name: load_photo(name, size) for name in PHOTOS}
        # One eps per subject, drawn once: the slider only changes how much of it is mixed in.
        self.noise = {name: fixed_noise(x0.shape, seed + i) for i, (name, x0) in enumerate(self.photos.items())}
        self.scale = scale

        self.subject = widgets.ToggleButtons(options=list(PHOTOS), value=PHOTOS[0], description="subject")
        self.schedule = widgets.ToggleButtons(options=["cosine", "linear"], value="cosine", description="schedule")
        self.slider = widgets.IntSlider(value=0, min=0, max=T, step=1, description="timestep t",
                                        continuous_update=True, layout=widgets.Layout(width="480px"))
        self.image = widgets.Image(format="png", width=size * scale, height=size * scale)
        self.readout = widgets.HTML()
        for w, name in [(self.subject, "subject"), (self.schedule, "schedule"), (self.slider, "slider"),
                        (self.image, "image"), (self.readout, "readout")]:
            w.add_class(f"dissolve-{name}")
        for w in (self.subject, self.schedule, self.slider):
            w.observe(self.update, names="value")
        self.update()
        self.box = widgets.VBox([self.subject, self.schedule, self.slider,
                                 widgets.HBox([self.image, self.readout])])

    def frame(self) -> np.ndarray:
        """The noisy photo x_t for the current subject, schedule and t, shape (size, size, 3)."""
        schedule = self.schedules[self.schedule.value]
        name = self.subject.value
        return schedule.q_sample(self.photos[name], self.slider.value, self.noise[name])

    def update(self, change: dict | None = None) -> None:
        """Redraw the image and the readout for the widgets' current values."""
        self.image.value = to_png(self.frame(), self.scale)
        self.readout.value = readout_html(self.schedules[self.schedule.value], self.slider.value)

    def _ipython_display_(self) -> None:
        display(self.box)

    def __repr__(self) -> str:  # shown by front ends that cannot render widgets
        return "DissolveWidget: run this notebook in Jupyter to drag the timestep slider; the static strip below shows the same frames."


def dissolve_widget(T: int = 1000, size: int = 128, scale: int = 2, seed: int = 0) -> DissolveWidget:
    """Build the "watch an image dissolve" widget; put it last in a cell to show it."""
    return DissolveWidget(T=T, size=size, scale=scale, seed=seed)
