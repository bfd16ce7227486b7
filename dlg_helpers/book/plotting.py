"""The report's figures: the input, the evolution of a reconstruction, and MSE against step.

Every figure is drawn on an opaque white canvas with dark ink, so it reads the same in the book's
light and dark modes (a transparent figure would put black labels on a dark page).
"""

from __future__ import annotations

import math
import re
import textwrap
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import HTML
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..attack.registry import OPTIMISER_NAMES
from ..attack.trace import AttackResult, StepRecord
from ..measures.criteria import LEAK_FLOOR, RECONSTRUCTED_MSE
from ..measures.metrics import match_batch

__all__ = ["step_label", "STYLE", "show_image", "plot_images", "plot_attack_rows",
           "plot_evolution", "animate_evolution", "METRIC_LABELS", "plot_mse_curves",
           "plot_mse_panels", "plot_mse_bands", "plot_label_gradient", "plot_privacy_utility",
           "plot_likeness_ladder", "plot_accuracy_against_epsilon"]


STYLE = {
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "savefig.transparent": False,
    "text.color": "#1a1a1a",
    "axes.labelcolor": "#1a1a1a",
    "xtick.color": "#1a1a1a",
    "ytick.color": "#1a1a1a",
    "axes.edgecolor": "#1a1a1a",
    "axes.grid": True,
    "grid.alpha": 0.3,
    "figure.dpi": 100,
    "font.size": 10,
    # Okabe-Ito: distinguishable with the common colour-vision deficiencies.
    "axes.prop_cycle": plt.cycler(color=["#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                         "#E69F00", "#56B4E9", "#000000", "#F0E442"]),
}


@contextmanager
def _styled() -> Iterator[None]:
    """Apply :data:`STYLE` and restore just those settings afterwards.

    Not ``plt.rc_context``: that restores *every* setting, including the interactive flag that
    IPython's inline backend switches on when the first figure is made inside the context, after
    which no later figure of the notebook is shown.
    """
    saved = {key: plt.rcParams[key] for key in STYLE}
    plt.rcParams.update(STYLE)
    try:
        yield
    finally:
        plt.rcParams.update(saved)


def _to_display(image: torch.Tensor):
    if image.dim() == 4:
        image = image[0]
    return image.detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy()


def show_image(ax: Axes, image: torch.Tensor, title: str = "") -> None:
    """Draw one [0, 1] image of shape (3, H, W) or (1, 3, H, W), clipped, without axes.

    Antialiased: a large image drawn small is filtered before it is sampled (nearest-neighbour
    sampling makes two identical snapshots of a 224-pixel image look different from frame to
    frame); a small image drawn large keeps its pixels sharp."""
    ax.imshow(_to_display(image), interpolation="antialiased")
    ax.set_title(title, fontsize=9)
    ax.set_axis_off()


def plot_images(images: Sequence[torch.Tensor], titles: Sequence[str],
                size: float = 2.2, columns: int | None = None) -> Figure:
    """Images side by side with titles, e.g. the ground truth beside its reconstruction;
    ``columns`` images a row (None: all in one row)."""
    if len(images) != len(titles):
        raise ValueError(f"{len(images)} images but {len(titles)} titles")
    if not images:
        raise ValueError("no images to show")
    columns = columns or len(images)
    rows = math.ceil(len(images) / columns)
    with _styled():
        fig, axes = plt.subplots(rows, columns, figsize=(size * columns, (size + 0.3) * rows),
                                 squeeze=False)
        for ax in axes.flat[len(images):]:
            ax.axis("off")
        for ax, image, title in zip(axes.flat, images, titles):
            show_image(ax, image, title)
        fig.tight_layout()
    return fig


def plot_attack_rows(rows: Mapping[str, Mapping[str, AttackResult]],
                     views: Mapping[tuple[str, str], Callable[[torch.Tensor], torch.Tensor]]
                     | None = None,
                     size: float = 1.9) -> Figure:
    """One row per name (a model, say): its private image, then each attack's reconstruction.

    Args:
        rows: for each row's name, the attack results by attack name, all of the same private
            image (for a batch, the first image is shown, each reconstruction paired with it by
            :func:`~dlg_helpers.measures.metrics.match_batch`).
        views: applied to a reconstruction before it is shown, by (row name, attack name),
            e.g. ``{("ResNet-18", "DLG"): standardise}`` for a model whose batch norm hides the
            contrast from its gradient.
        size: inches a picture.
    """
    views = views or {}
    attacks = {tuple(by_attack) for by_attack in rows.values()}
    if len(attacks) > 1:
        raise ValueError(f"every row needs the same attacks, in the same order; got {attacks}")
    images, titles = [], []
    for name, by_attack in rows.items():
        if not by_attack:
            raise ValueError(f"row {name!r} has no attack results to show")
        images.append(next(iter(by_attack.values())).truth[:1])
        titles.append(f"{name}: private")
        for attack, result in by_attack.items():
            shown = match_batch(result.reconstruction, result.truth)[:1]
            view = views.get((name, attack))
            images.append(view(shown) if view is not None else shown)
            titles.append(attack)
    return plot_images(images, titles, size=size, columns=1 + len(next(iter(attacks), ())))


def _evolution_frames(result: AttackResult, view: Callable[[torch.Tensor], torch.Tensor] | None,
                      index: int, every: int = 1) -> list[tuple[str, torch.Tensor]]:
    """(title, image) for every ``every``-th snapshot and the best iterate, each the
    reconstruction paired with private image ``index`` and passed through ``view``."""
    if not result.snapshots:
        raise ValueError("this result kept no snapshots; run with AttackConfig(snapshot_every=10)")
    if not 0 <= index < result.truth.shape[0]:
        raise ValueError(f"index {index} is outside the batch of {result.truth.shape[0]}")

    def shown(image: torch.Tensor) -> torch.Tensor:
        paired = match_batch(image, result.truth)[index:index + 1]
        return view(paired) if view is not None else paired

    frames = [(f"step {s}", shown(image))
              for s, image in sorted(result.snapshots.items())[::every]]
    frames.append(("best", shown(result.reconstruction)))
    return frames


def plot_evolution(result: AttackResult, columns: int = 5, include_truth: bool = True,
                   view: Callable[[torch.Tensor], torch.Tensor] | None = None,
                   every: int = 1, index: int = 0) -> Figure:
    """The report's Fig. 7: the dummy image at every stored snapshot, then the best iterate.

    Args:
        result: the attack.
        columns: frames per row (five: each frame about 125 px wide in the book's column).
        include_truth: end with the private image.
        view: applied to each reconstruction before it is shown, e.g.
            :func:`~dlg_helpers.measures.metrics.standardise` (the truth is shown as it is).
        every: show every ``every``-th snapshot only.
        index: for a batch, which private image to follow; each frame shows the reconstruction
            paired with it (:func:`~dlg_helpers.measures.metrics.match_batch`), since a batch may
            come back in another order.
    """
    frames = _evolution_frames(result, view, index, every)
    if include_truth:
        frames.append(("ground truth", result.truth[index:index + 1]))
    rows = -(-len(frames) // columns)
    with _styled():
        fig, axes = plt.subplots(rows, columns, figsize=(1.3 * columns, 1.45 * rows),
                                 squeeze=False)
        for ax in axes.flat:
            ax.set_axis_off()
        for ax, (title, image) in zip(axes.flat, frames):
            show_image(ax, image, title)
        fig.tight_layout()
    return fig


def animate_evolution(result: AttackResult,
                      view: Callable[[torch.Tensor], torch.Tensor] | None = None,
                      index: int = 0, size: float = 2.6, interval_ms: int = 250) -> HTML:
    """The evolution as an animation with a slider that plays in a static web page.

    Every snapshot, then the best iterate, beside the private image; the frames are embedded in
    the page (JPEG) with matplotlib's JavaScript player, so no kernel is needed to watch it.

    Args:
        result: the attack (snapshots needed).
        view: applied to each reconstruction before it is shown (e.g. ``standardise``).
        index: for a batch, the private image to follow (paired as in :func:`plot_evolution`).
        size: side of each panel in inches.
        interval_ms: milliseconds per frame when playing.
    """
    from matplotlib.animation import FuncAnimation

    frames = _evolution_frames(result, view, index)
    saved = plt.rcParams["animation.frame_format"]
    with _styled():
        plt.rcParams["animation.frame_format"] = "jpeg"  # a tenth of PNG's size for photographs
        try:
            fig, (left, right) = plt.subplots(1, 2, figsize=(2 * size, size + 0.4))
            show_image(right, result.truth[index:index + 1], "private image")
            picture = left.imshow(_to_display(frames[0][1]), interpolation="antialiased")
            left.set_axis_off()
            title = left.set_title(frames[0][0], fontsize=9)
            fig.tight_layout()

            def draw(frame: int) -> list:
                name, image = frames[frame]
                picture.set_data(_to_display(image))
                title.set_text(name)
                return [picture, title]

            animation = FuncAnimation(fig, draw, frames=len(frames), interval=interval_ms)
            # The player links Font Awesome 4 from a CDN for its button icons; the book's theme
            # ships Font Awesome already, and an offline page must not reach out for it.
            player = re.sub(r'<link rel="stylesheet"[^>]*font-awesome[^>]*>\n?', "",
                            animation.to_jshtml(default_mode="once"))
            page = HTML(player)
        finally:
            plt.rcParams["animation.frame_format"] = saved
            plt.close(fig)
    return page

Runs = Mapping[str, AttackResult | Sequence[StepRecord]]


METRIC_LABELS = {
    "mse": "image MSE (pixels in [0, 1])",
    "aligned_mse": "MSE after contrast/colour alignment",
    "grad_distance": "gradient distance",
}


def _check_metric(metric: str) -> None:
    if metric not in METRIC_LABELS:
        raise ValueError(f"unknown metric {metric!r}; use one of {', '.join(METRIC_LABELS)}")


def step_label(results: Sequence[AttackResult | Sequence[StepRecord]]) -> str:
    """The step axis's label: the optimiser's steps (``"L-BFGS step"``, ``"Adam step"``) when
    every run used the same one, else ``"step"`` (a bare history says nothing: L-BFGS, DLG's)."""
    names = {OPTIMISER_NAMES[r.config.optimiser] if isinstance(r, AttackResult) else "L-BFGS"
             for r in results}
    return f"{names.pop()} step" if len(names) == 1 else "step"


SPIKE_FACTOR = 100.0  # a value this far above the curves' 95th percentile is a divergence spike


def _cut_spikes(ax: Axes) -> None:
    """Keep the curves readable when a start diverged: values above :data:`SPIKE_FACTOR` times
    the 95th percentile of everything drawn are cut off at the top of the axis, which says so
    (the stored history keeps them)."""
    values = np.concatenate([np.asarray(line.get_ydata(), dtype=float) for line in ax.lines]
                            or [np.array([])])
    values = values[np.isfinite(values) & (values > 0)]
    if not values.size:
        return
    top = SPIKE_FACTOR * np.quantile(values, 0.95)
    if values.max() > top:
        ax.set_ylim(top=top)
        ax.text(0.99, 0.98, "spikes of diverged starts cut off", transform=ax.transAxes,
                ha="right", va="top", fontsize=8, color="#555555")


def _finish_step_axes(ax: Axes, metric: str, threshold: float | None, title: str,
                      xlabel: str) -> None:
    """The threshold line, log scale, labels and legend of a metric-against-step axis."""
    if threshold is not None:
        ax.axhline(threshold, color="#555555", linestyle=":", linewidth=1,
                   label=f"{threshold:g} (threshold)")
    ax.set_yscale("log")
    _cut_spikes(ax)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(METRIC_LABELS[metric])
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8, frameon=False)
    ax.figure.tight_layout()


def plot_mse_curves(runs: Runs, ax: Axes | None = None, threshold: float | None = RECONSTRUCTED_MSE,
                    title: str = "", metric: str = "mse") -> Figure:
    """The report's Fig. 8: image MSE against step on a log axis, one line per run.

    Args:
        runs: label -> a result or its history.
        ax: draw into this axis instead of a new figure.
        threshold: draw a dotted reference line at this MSE (None for none).
        title: the axis title.
        metric: the :class:`~dlg_helpers.attack.trace.StepRecord` field to plot: ``"mse"``,
            ``"aligned_mse"`` or ``"grad_distance"``.
    """
    _check_metric(metric)
    with _styled():
        if ax is None:
            fig, ax = plt.subplots(figsize=(6.4, 3.8))
        else:
            fig = ax.figure
        for label, run in runs.items():
            history = run.history if isinstance(run, AttackResult) else run
            ax.plot([r.step for r in history], [getattr(r, metric) for r in history],
                    label=label, linewidth=1.5)
        _finish_step_axes(ax, metric, threshold, title, step_label(list(runs.values())))
    return fig


def plot_mse_panels(panels: Mapping[str, Runs], threshold: float | None = RECONSTRUCTED_MSE,
                    metrics: Sequence[str] | None = None) -> Figure:
    """Several :func:`plot_mse_curves` side by side, one panel per title.

    ``metrics`` gives each panel its own quantity (default: MSE everywhere, on a shared axis).
    """
    chosen = list(metrics) if metrics is not None else ["mse"] * len(panels)
    if len(chosen) != len(panels):
        raise ValueError(f"{len(panels)} panels but {len(chosen)} metrics")
    with _styled():
        fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.8),
                                 sharey=metrics is None, squeeze=False)
        for ax, (title, runs), metric in zip(axes[0], panels.items(), chosen):
            plot_mse_curves(runs, ax=ax, threshold=threshold, title=title, metric=metric)
        fig.tight_layout()
    return fig


def _per_step(history: Sequence[StepRecord], metric: str, steps: int) -> np.ndarray:
    """``metric`` after each step 0..steps (the last record of a step); NaN after a run stopped,
    so that a stopped run's last value is not carried on as if it had gone on."""
    values = np.full(steps + 1, np.nan)
    for record in history:
        if record.step <= steps:
            values[record.step] = getattr(record, metric)
    return values


def plot_mse_bands(groups: Mapping[str, Sequence[AttackResult]], steps: int = 300,
                   metric: str = "mse", threshold: float | None = RECONSTRUCTED_MSE) -> Figure:
    """Median ``metric`` against step for each group of runs on a log axis, shaded from the
    lowest to the highest run: the report's Fig. 8 for several images per model. The median is
    drawn solid while every run of the group is going, dashed over the runs still going after
    one has stopped; the range covers the runs still going. A run's steps count on across its
    random starts, so one run's curve can join several starts (a jump marks a new one)."""
    _check_metric(metric)
    with _styled():
        fig, ax = plt.subplots(figsize=(7.2, 4.2))
        for label, results in groups.items():
            if not results:
                continue
            curves = np.stack([_per_step(r.history, metric, steps) for r in results])
            x = np.arange(steps + 1)
            with warnings.catch_warnings():  # steps no run reached stay empty
                warnings.simplefilter("ignore", RuntimeWarning)
                low, high = np.nanmin(curves, axis=0), np.nanmax(curves, axis=0)
                survivors = np.nanmedian(curves, axis=0)
            median = np.median(curves, axis=0)  # NaN from the step the first run stopped
            line, = ax.plot(x, median, linewidth=1.8,
                            label=f"{label} (median of {len(results)})")
            after_a_stop = np.isnan(median) & ~np.isnan(survivors)
            if after_a_stop.any():
                ax.plot(x, np.where(after_a_stop, survivors, np.nan), linewidth=1,
                        linestyle="--", color=line.get_color())
            if len(results) > 1:
                ax.fill_between(x, low, high, color=line.get_color(), alpha=0.18, linewidth=0)
        _finish_step_axes(ax, metric, threshold, "",
                          xlabel=step_label([r for results in groups.values() for r in results]))
    return fig


def plot_label_gradient(bias_gradient: torch.Tensor, label: int) -> Figure:
    """The classifier-bias gradient ``p - y``: one bar per class, the true class the only
    negative."""
    values = bias_gradient.detach().flatten().cpu().numpy()
    with _styled():
        fig, ax = plt.subplots(figsize=(6.4, 2.8))
        colours = ["#D55E00" if i == label else "#0072B2" for i in range(len(values))]
        ax.bar(range(len(values)), values, color=colours, width=0.8)
        ax.axhline(0, color="#1a1a1a", linewidth=0.8)
        ax.annotate(f"class {label}", (label, values[label]), xytext=(8, -4),
                    textcoords="offset points", color="#D55E00", fontsize=9)
        ax.set_xlabel("class")
        ax.set_ylabel("d loss / d bias")
        fig.tight_layout()
    return fig


def plot_privacy_utility(medians: Sequence[Mapping[str, object]],
                         costs: Sequence[Mapping[str, object]],
                         threshold: float | None = LEAK_FLOOR) -> Figure:
    """Privacy against utility: one panel per attack, one line per defence family.

    Each point is one defence setting: across, the held-out accuracy of a model trained with
    it (the mean over the trainings, with a bar of one standard deviation either side); up, the
    median likeness of the attack's reconstructions to their private images (lower: more
    private). The star is no defence; the legend names each family's strongest setting, the
    end of its line (the table beside the figure gives every setting).

    Args:
        medians: rows of :func:`~dlg_helpers.analysis.protection.median_outcomes`.
        costs: rows of :func:`~dlg_helpers.analysis.prices.training_costs`.
        threshold: draw the likeness below which no image leaks (None: no line).
    """
    accuracy = {row["defence"]: row["accuracy"] for row in costs}
    spread = {row["defence"]: row.get("accuracy_sd", 0.0) for row in costs}
    attacks = list(dict.fromkeys(row["attack"] for row in medians))
    with _styled():
        fig, axes = plt.subplots(len(attacks), 1, figsize=(6.4, 3.6 * len(attacks)),
                                 sharex=True, squeeze=False)
        for ax, attack in zip(axes[:, 0], attacks):
            rows = [r for r in medians if r["attack"] == attack and r["defence"] in accuracy]
            for family in dict.fromkeys(r["family"] for r in rows):
                points = [r for r in rows if r["family"] == family]
                xs, ys = [accuracy[r["defence"]] for r in points], [r["likeness"] for r in points]
                if family == "none":
                    ax.plot(xs, ys, "*", markersize=14, color="#000000", label="no defence")
                    continue
                # the strongest setting is named in the legend, not beside its point: the
                # strongest settings of several families meet near zero, and labels there pile up
                line, = ax.plot(xs, ys, "o-", linewidth=1.2, markersize=5,
                                label=f"{family} (to {points[-1]['strength']})")
                ax.errorbar(xs, ys, xerr=[spread[r["defence"]] for r in points], fmt="none",
                            ecolor=line.get_color(), elinewidth=0.8, alpha=0.6)
            if threshold is not None:
                ax.axhline(threshold, color="#555555", linestyle=":", linewidth=1,
                           label=f"likeness {threshold:g}: below it nothing leaks")
            ax.set_title(attack)
            ax.set_ylabel("median likeness")
        axes[-1][0].set_xlabel("held-out accuracy with the defence (mean of the trainings)")
        # one legend under the panels, in two columns: beside them it squeezes the plots, and
        # at a phone's width its text would be too small to read
        handles, labels = axes[0][0].get_legend_handles_labels()
        rows = -(-len(labels) // 2)
        fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=11, frameon=False)
        fig.tight_layout(rect=(0, (0.25 * rows + 0.15) / fig.get_figheight(), 1, 1))
    return fig


def plot_likeness_ladder(examples: Sequence[tuple[str, torch.Tensor, torch.Tensor, float, int,
                                                 float]]) -> Figure:
    """The calibration of "leaks": reconstructions at a ladder of likeness, each under its
    private image, shown as an attacker would see them (colours standardised,
    :func:`~dlg_helpers.measures.metrics.standardise`) and at the thumbnail scale the likeness
    compares (:data:`~dlg_helpers.measures.gallery.THUMBNAIL` pixels a side).

    Args:
        examples: (name, reconstruction, truth, likeness, rank, lookalike) per rung, images
            (1, 3, H, W), ordered from least to most alike.
    """
    from ..measures.criteria import leak_threshold, leaks
    from ..measures.gallery import THUMBNAIL
    from ..measures.metrics import standardise

    def small(image: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.interpolate(image.float(), size=(THUMBNAIL, THUMBNAIL),
                                               mode="bilinear", antialias=True)

    columns = min(5, len(examples))
    rows = math.ceil(len(examples) / columns)
    with _styled():
        fig, axes = plt.subplots(3 * rows, columns, figsize=(2.0 * columns, 7.0 * rows),
                                 squeeze=False)
        for ax in axes.flat:
            ax.axis("off")
        for i, (name, found, truth, likeness, rank, lookalike) in enumerate(examples):
            row, column = 3 * (i // columns), i % columns
            # a long model name wraps rather than running into its neighbour's title
            show_image(axes[row][column], truth, "\n".join(textwrap.wrap(name, 24)))
            verdict = "leaks" if leaks(likeness, rank, lookalike) else "does not leak"
            show_image(axes[row + 1][column], standardise(found),
                       f"likeness {likeness:.2f}, rank {rank}\n"
                       f"needs {leak_threshold(lookalike):.2f}")
            show_image(axes[row + 2][column], standardise(small(found)),
                       f"thumbnail: {verdict}")
        fig.tight_layout()
    return fig


def plot_accuracy_against_epsilon(grid: Sequence[Mapping[str, object]],
                                  best: Sequence[Mapping[str, object]],
                                  undefended: float) -> Figure:
    """DP-SGD's price: held-out accuracy against the ε a whole training spends (log axis).

    Every setting of the grid is a faint point (its learning rate by marker), the best setting
    of each target ε a line, and the undefended training a dashed line.

    Args:
        grid: rows of :func:`~dlg_helpers.analysis.privacy.dp_grid`.
        best: rows of :func:`~dlg_helpers.analysis.privacy.best_per_target`.
        undefended: the accuracy without DP-SGD, at the same budget.
    """
    markers = dict(zip(dict.fromkeys(row["lr"] for row in grid), "osD^v"))
    with _styled():
        fig, ax = plt.subplots(figsize=(7.6, 3.8))
        for lr, marker in markers.items():
            rows = [row for row in grid if row["lr"] == lr]
            ax.plot([row["epsilon"] for row in rows], [row["accuracy"] for row in rows], marker,
                    color="#777777", alpha=0.6, markersize=5, linestyle="none",
                    label=f"a setting, learning rate {lr:g}")
        ax.errorbar([row["epsilon"] for row in best], [row["accuracy"] for row in best],
                    yerr=[row["accuracy_sd"] for row in best], fmt="o-", color="#0072B2",
                    linewidth=1.6, capsize=3, label="best setting for each ε")
        ax.axhline(undefended, color="#D55E00", linestyle="--", linewidth=1.2,
                   label="no DP-SGD")
        ax.set_xscale("log")
        targets = [row["epsilon"] for row in best]
        ax.set_xticks(targets, [f"{value:.2g}" for value in targets])
        ax.minorticks_off()
        ax.set_xlabel("ε of the whole training (δ = 1e-5)")
        ax.set_ylabel("held-out accuracy")
        ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1, 1))
        fig.tight_layout()
    return fig
