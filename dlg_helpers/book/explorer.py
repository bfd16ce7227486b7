"""A live explorer for readers running a chapter: pick a run and a step, see where it stands.

Ground truth beside the reconstruction at that step, and the run's MSE curve with a marker at
the step. It needs a running kernel (ipywidgets), so the book shows the animation of
:func:`~dlg_helpers.book.plotting.animate_evolution` in its place.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from ..attack.trace import AttackResult
from ..measures.metrics import match_batch, standardise
from .plotting import METRIC_LABELS, _styled, show_image, step_label

__all__ = ["explorer_figure", "explore"]


def explorer_figure(result: AttackResult, step: int, corrected: bool = False,
                    metric: str = "mse") -> Figure:
    """Truth, the reconstruction at the stored snapshot ``step``, and the curve with a marker.

    Raises:
        ValueError: when no snapshot was kept at ``step`` (the message lists the steps there are).
    """
    if step not in result.snapshots:
        raise ValueError(f"no snapshot at step {step}; this run kept steps "
                         f"{sorted(result.snapshots)}")
    view: Callable[[torch.Tensor], torch.Tensor] = standardise if corrected else (lambda x: x)
    image = view(match_batch(result.snapshots[step], result.truth)[:1])
    with _styled():
        fig, (truth_ax, image_ax, curve_ax) = plt.subplots(
            1, 3, figsize=(10, 3.2), gridspec_kw={"width_ratios": [1, 1, 1.6]})
        show_image(truth_ax, result.truth[:1], "private image")
        show_image(image_ax, image, f"step {step}" + (" (corrected)" if corrected else ""))
        steps = [r.step for r in result.history]
        values = [getattr(r, metric) for r in result.history]
        curve_ax.plot(steps, values, linewidth=1.5)
        curve_ax.plot([step], [result.value_at(step, metric)], "o", color="#D55E00")
        curve_ax.set_yscale("log")
        curve_ax.set_xlabel(step_label([result]))
        curve_ax.set_ylabel(METRIC_LABELS[metric])
        fig.tight_layout()
    return fig


def explore(runs: Mapping[str, AttackResult]) -> Any:
    """Widgets to browse ``runs`` (label -> result): run, step, contrast correction, metric.

    Returns the widget box (display it as a cell's last value).
    """
    import ipywidgets as widgets
    if not runs:
        raise ValueError("give at least one run to explore")
    labels = list(runs)
    run = widgets.Dropdown(options=labels, description="run")
    step = widgets.SelectionSlider(options=sorted(runs[labels[0]].snapshots), description="step",
                                   continuous_update=False)
    corrected = widgets.Checkbox(value=False, description="attacker's contrast correction")
    metric = widgets.ToggleButtons(options=[("MSE", "mse"), ("aligned MSE", "aligned_mse"),
                                            ("gradient distance", "grad_distance")],
                                   description="curve")
    output = widgets.Output()

    def redraw(*_: Any) -> None:
        figure = explorer_figure(runs[run.value], step.value, corrected.value, metric.value)
        output.outputs = ()  # replace the picture rather than stack a new one under it
        output.append_display_data(figure)
        plt.close(figure)

    def new_run(*_: Any) -> None:
        step.options = sorted(runs[run.value].snapshots)  # fires redraw through step
        redraw()

    run.observe(new_run, names="value")
    for control in (step, corrected, metric):
        control.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([run, corrected]), step, metric, output])
