"""The tables every architecture chapter shows, built from the registry and the results.

One function per table, so the LeNet, ResNet-18, DenseNet-121 and Inception-v3 chapters show
their settings and outcomes the same way, and no chapter keeps its own copy of the layout.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from IPython.display import Markdown
from torch import nn

from ..attack.config import AttackConfig
from ..attack.registry import attack_entry
from ..attack.trace import AttackResult
from ..client.models import build_model, count_parameters, get_spec
from ..measures.criteria import RECONSTRUCTED_MSE
from ..measures.rows import result_row
from .tables import fmt_int, fmt_sci, markdown_table, threshold_text

__all__ = ["REPORT_MODELS", "setting_table", "parameter_rows", "parameter_table", "result_rows",
           "result_table", "chapter_durations", "chapter_duration_table", "run_cost_table"]


REPORT_MODELS = ("lenet", "resnet18", "densenet121", "inception_v3")


def _format(spec_name: str) -> str:
    normalisation = get_spec(spec_name).normalisation
    if normalisation.mean == (0.0, 0.0, 0.0) and normalisation.std == (1.0, 1.0, 1.0):
        return "scaled to [0, 1]"
    return f"[0, 1], then normalised with mean {normalisation.mean}, std {normalisation.std}"


def setting_table(model: str, config: AttackConfig, batch_norm: str = "training mode") -> Markdown:
    """The report's Table 2 column for ``model``, as this run uses it (read from the registry)."""
    spec = get_spec(model)
    network = build_model(model)
    early = ("on (stop once matched or plateaued)" if config.match_ratio or config.patience
             else "off: every step is taken, as in the report")
    rows = [
        ("image size", f"{spec.image_size}×{spec.image_size}"),
        ("pixel format", _format(model)),
        ("activation", spec.activation),
        ("weights", "random (nothing pretrained or downloaded)"),
        ("parameters", f"{count_parameters(network):,} measured; the report says "
                       f"{spec.reported_parameters:,}"),
        ("batch", f"{spec.batch_size} image{'s' if spec.batch_size > 1 else ''}"),
        ("batch norm", batch_norm if any(isinstance(m, nn.modules.batchnorm._BatchNorm)
                                         for m in network.modules()) else "none in this network"),
        ("optimiser", attack_entry(config).optimiser_text(config)),
        ("steps", f"{config.steps}; early stopping {early}"),
        ("label", {"joint": "optimised with the image (DLG)", "idlg": "read off the gradient "
                   "(iDLG)", "known": "given to the attacker"}[config.label_mode]),
    ]
    return markdown_table([{"what": what, "value": value} for what, value in rows],
                          {"what": ("setting", str), "value": (spec.name, str)})


def parameter_rows(models: tuple[str, ...] = REPORT_MODELS) -> list[dict[str, Any]]:
    """Measured and reported parameter counts of ``models`` (each built once, random weights)."""
    rows = []
    for name in models:
        spec = get_spec(name)
        measured = count_parameters(build_model(name))
        reported = spec.reported_parameters
        rows.append({"model": name, "measured": measured, "reported": reported,
                     "ratio": None if not reported else measured / reported})
    return rows


def parameter_table(rows: list[dict[str, Any]], reasons: Mapping[str, str]) -> Markdown:
    """:func:`parameter_rows` as a table, with the reason for each difference from ``reasons``."""
    return markdown_table([{**row, "reason": reasons.get(row["model"], "")} for row in rows], {
        "model": ("model", str), "measured": ("measured", fmt_int),
        "reported": ("report", fmt_int),
        "ratio": ("measured / report", lambda v: "—" if v is None else f"{v:.2f}"),
        "reason": ("why they differ", str),
    })


def result_rows(results: Mapping[str, AttackResult], threshold: float = RECONSTRUCTED_MSE
                ) -> list[dict[str, Any]]:
    """One row of outcome numbers per labelled result
    (:func:`~dlg_helpers.measures.rows.result_row` and its label as ``run``)."""
    return [{"run": label, **result_row(result, threshold)} for label, result in results.items()]


def _leak_text(row: Mapping[str, Any]) -> str:
    verdict = "yes" if row["leaks"] else "no"
    if row["batch"] > 1:
        verdict = f"{row['identified']} of {row['batch']}"
    return f"{verdict} ({row['likeness']:.2f})"


def result_table(results: Mapping[str, AttackResult], threshold: float = RECONSTRUCTED_MSE) -> Markdown:
    """The outcome of each run in seven columns: whether it leaked (with the best image's
    likeness), its R², the report's MSE and the aligned MSE, the label, and the first step the
    MSE fell below ``threshold``."""
    rows = [{**row, "leak_text": _leak_text(row)} for row in result_rows(results, threshold)]
    return markdown_table(rows, {
        "run": ("run", str), "leak_text": ("leaked (likeness)", str),
        "best_r2": ("R²", lambda v: f"{v:.2f}"),
        "mse": ("report's MSE", fmt_sci), "aligned_mse": ("aligned MSE", fmt_sci),
        "label_correct": ("label right", lambda v: "yes" if v else "no"),
        "first_step_below": (f"step MSE < {threshold_text(threshold)}", fmt_int),
    })


def _duration(minutes: float) -> str:
    return f"{minutes * 60:.1f} s" if minutes < 1 else f"{minutes:.1f} min"


def chapter_durations(chapters_dir: str | Path) -> list[dict[str, Any]]:
    """How long each executed chapter took, from the run time papermill stored in it."""
    rows = []
    for path in sorted(Path(chapters_dir).glob("*.ipynb")):
        seconds = json.loads(path.read_text()).get("metadata", {}).get(
            "papermill", {}).get("duration")
        if seconds is not None:
            rows.append({"chapter": path.stem, "minutes": seconds / 60})
    return rows


def chapter_duration_table(rows: list[dict[str, Any]]) -> Markdown:
    """:func:`chapter_durations` as a table."""
    return markdown_table(rows, {"chapter": ("chapter", str),
                                 "minutes": ("run time (CPU, 1 thread)", _duration)})


def run_cost_table(rows: list[dict[str, Any]]) -> Markdown:
    """:func:`run_costs` as a table; models by the names the chapters use and a batch's images
    spaced (``cat + astronaut``), so that both can wrap in the column."""
    return markdown_table(rows, {
        "model": ("model", lambda model: get_spec(model).display),
        "run": ("run", lambda run: run.replace("+", " + ")),
        "runs": ("runs", fmt_int),
        "evaluations": ("evaluations", fmt_int),
        "gflops": ("GFLOP per evaluation", lambda v: f"{v:.3g}"),
        "cpu_minutes": ("CPU, measured", _duration), "gpu_minutes": ("GPU, estimated", _duration),
    })
