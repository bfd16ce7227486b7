"""One attack, written to disk and read back.

A record folder holds ``record.json`` (settings, per-step history, provenance; plain JSON that
any tool opens, non-finite numbers written as ``null``), ``arrays.npz`` (the reconstruction and
the ground truth as float32, the snapshots as 8-bit images with each channel's own value range,
so that a dummy that left [0, 1] is kept rather than clipped; compressed: a few MB even at
224x224), and the two images as PNG. :func:`load_result` turns a folder back into an
:class:`~dlg_helpers.attack.trace.AttackResult`, so a chapter plots a stored run exactly as a fresh
one.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import platform
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch
from PIL import Image

from ..attack.config import AttackConfig, config_dict
from ..attack.registry import attack_entry
from ..attack.trace import AttackResult, Attempt, StepRecord
from ..measures.criteria import RECONSTRUCTED_MSE
from ..measures.rows import result_row

__all__ = ["RECORD_FILE", "ARRAYS_FILE", "REQUIRED_KEYS", "build_record", "save_png",
           "save_record", "load_record", "load_result", "list_records"]


RECORD_FILE = "record.json"


ARRAYS_FILE = "arrays.npz"


REQUIRED_KEYS = ("final_mse", "label_true", "label_pred", "steps", "evaluations",
                 "wall_seconds", "device", "torch_version", "history", "config")


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite_or_none(v) for v in value]
    return value


def build_record(result: AttackResult, model: str, image: str, device: str,
                 command: str = "", model_seed: int | None = None,
                 trained_steps: int = 0) -> dict[str, Any]:
    """The JSON-ready record of ``result``: summary, metrics, history, config and provenance.

    ``model_seed`` is the seed of the model's weights (None: the attack's seed, as the CLI uses);
    ``trained_steps`` how long the model was trained before the attack (0: random weights).
    """
    row = result_row(result, RECONSTRUCTED_MSE)
    record: dict[str, Any] = {
        "model": model,
        "image": image,
        "image_size": result.truth.shape[-1],
        "model_seed": result.config.seed if model_seed is None else model_seed,
        "defence": result.defence,
        "trained_steps": trained_steps,
        "final_mse": result.final_mse,
        **{key: row[key] for key in ("label_true", "label_pred", "label_correct", "status")},
        "best_grad_distance": row["best_distance"],
        "steps": row["steps"],
        "evaluations": row["evaluations"],
        "wall_seconds": row["seconds"],
        "attempts": [asdict(a) for a in result.attempts],
        **{key: row[key] for key in ("psnr", "ssim", "aligned_mse")},
        # the record format names the threshold in the key (criteria's RECONSTRUCTED_MSE)
        "first_step_below_1e-3": row["first_step_below"],
        "config": asdict(result.config),
        "device": device,
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": command,
        **_stored_history(result.history),
    }
    return _finite_or_none(record)


HISTORY_LIMIT = 1_000
"""The most step records a record stores. A longer history (inverting gradients at its authors'
24,000 iterations) keeps every k-th step, with the first and last record of each random start,
so that a record stays a few hundred kilobytes; the record's summary (steps, evaluations, time,
first step below the threshold) is computed from the whole history first."""


def _stored_history(history: Sequence[StepRecord]) -> dict[str, Any]:
    """``{"history": ...}``, thinned to at most about :data:`HISTORY_LIMIT` records, and
    ``history_every`` (the k kept) when it was."""
    if len(history) <= HISTORY_LIMIT:
        return {"history": [asdict(r) for r in history]}
    every = -(-len(history) // HISTORY_LIMIT)
    kept = [r for i, r in enumerate(history)
            if r.step % every == 0 or i in (0, len(history) - 1)
            or r.attempt != history[i - 1].attempt or r.attempt != history[i + 1].attempt]
    return {"history": [asdict(r) for r in kept], "history_every": every}


def _step_records(stored: Sequence[dict[str, Any]]) -> list[StepRecord]:
    """The history as stored (JSON's null for a NaN) back as step records."""
    return [StepRecord(**{key: math.nan if value is None else value for key, value in r.items()})
            for r in stored]


def thin_stored_history(path: str | Path) -> bool:
    """Thin the history of a stored ``record.json`` (or its folder) as :func:`save_record` now
    stores it; True when it was longer than :data:`HISTORY_LIMIT`. For records written before
    the limit existed."""
    path = Path(path)
    path = path / RECORD_FILE if path.is_dir() else path
    record = load_record(path)
    if len(record["history"]) <= HISTORY_LIMIT:
        return False
    record.update(_finite_or_none(_stored_history(_step_records(record["history"]))))
    path.write_text(json.dumps(record, indent=1))
    return True


def _to_uint8(image: torch.Tensor) -> np.ndarray:
    return (image.detach().clamp(0, 1).cpu().numpy() * 255).round().astype(np.uint8)


def _encode_snapshot(image: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """8 bits per value over each channel's own [min, max], and those ranges, shape (B, C, 2)."""
    x = image.detach().float().cpu()
    low = x.amin(dim=(2, 3), keepdim=True)
    span = (x.amax(dim=(2, 3), keepdim=True) - low).clamp_min(1e-12)
    codes = ((x - low) / span * 255).round().to(torch.uint8).numpy()
    ranges = torch.stack([low.flatten(2)[..., 0], (low + span).flatten(2)[..., 0]], dim=-1)
    return codes, ranges.numpy()


def _decode_snapshot(codes: np.ndarray, ranges: np.ndarray | None) -> torch.Tensor:
    values = torch.from_numpy(codes.astype(np.float32) / 255)
    if ranges is None:  # records written before the ranges were kept: [0, 1], clipped
        return values
    low, high = (torch.from_numpy(ranges[..., i])[..., None, None] for i in (0, 1))
    return low + values * (high - low)


def save_png(image: torch.Tensor, path: Path | BinaryIO) -> None:
    """Write a [0, 1] image of shape (3, H, W) or (1, 3, H, W) as an 8-bit PNG (clipped), to a
    file or a binary stream."""
    if image.dim() == 4:
        image = image[0]
    Image.fromarray(_to_uint8(image).transpose(1, 2, 0)).save(path, format="PNG")


def save_record(result: AttackResult, out_dir: str | Path, model: str, image: str,
                device: str, command: str = "", model_seed: int | None = None,
                trained_steps: int = 0) -> Path:
    """Write ``record.json``, ``arrays.npz``, ``reconstruction.png`` and ``truth.png``.

    Returns the path of ``record.json``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    record = build_record(result, model=model, image=image, device=device, command=command,
                          model_seed=model_seed, trained_steps=trained_steps)
    path = out / RECORD_FILE
    path.write_text(json.dumps(record, indent=1))
    snapshots = {}
    for step, image in result.snapshots.items():
        snapshots[f"snapshot_{step}"], snapshots[f"range_{step}"] = _encode_snapshot(image)
    np.savez_compressed(out / ARRAYS_FILE, reconstruction=result.reconstruction.numpy(),
                        truth=result.truth.numpy(), **snapshots)
    save_png(result.reconstruction, out / "reconstruction.png")
    save_png(result.truth, out / "truth.png")
    return path


def load_record(path: str | Path) -> dict[str, Any]:
    """Read a record written by :func:`save_record` (a ``record.json`` or its folder).

    Raises:
        FileNotFoundError: when there is no record there, saying how to make one.
        ValueError: when the file is not a valid record (corrupt or incomplete).
    """
    path = Path(path)
    if path.is_dir():
        path = path / RECORD_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"no attack record at {path}; create one with "
            "`python -m dlg_helpers attack ... --out <folder>`"
        )
    try:
        record = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(
            f"{path} is not valid JSON ({error}); the file is corrupt: delete it and re-run "
            "the command stored with it"
        ) from None
    missing = [key for key in REQUIRED_KEYS if key not in record] if isinstance(record, dict) \
        else list(REQUIRED_KEYS)
    if missing:
        raise ValueError(f"{path} is not an attack record: it lacks {', '.join(missing)}")
    return record


def load_result(path: str | Path) -> AttackResult:
    """The :class:`AttackResult` stored in a record folder by :func:`save_record`.

    Snapshots come back from their 8-bit copies (about 0.2% of each channel's range off, enough
    for figures and MSE curves); the reconstruction and ground truth are exact.

    Raises:
        FileNotFoundError, ValueError: as :func:`load_record`, or when ``arrays.npz`` is missing
            or corrupt.
    """
    folder = Path(path)
    folder = folder.parent if folder.name == RECORD_FILE else folder
    record = load_record(folder)
    try:
        with np.load(folder / ARRAYS_FILE) as arrays:
            reconstruction = torch.from_numpy(arrays["reconstruction"])
            truth = torch.from_numpy(arrays["truth"])
            snapshots = {}
            for key in arrays.files:
                if key.startswith("snapshot_"):
                    step = key.removeprefix("snapshot_")
                    ranges = arrays[f"range_{step}"] if f"range_{step}" in arrays.files else None
                    snapshots[int(step)] = _decode_snapshot(arrays[key], ranges)
    except (OSError, KeyError, ValueError) as error:
        raise ValueError(
            f"{folder / ARRAYS_FILE} is missing or corrupt ({error}); re-run the command stored "
            f"in {folder / RECORD_FILE}"
        ) from error
    history = _step_records(record["history"])
    return AttackResult(
        reconstruction=reconstruction, truth=truth, label_true=record["label_true"],
        label_pred=record["label_pred"], history=history,
        attempts=[Attempt(**a) for a in record["attempts"]], final_mse=record["final_mse"],
        snapshots=snapshots,
        config=AttackConfig(**{**config_dict(record["config"]),
                               "progress": record["config"].get("progress", True)}),
        defence=record.get("defence"),
    )


def list_records(results_dir: str | Path) -> list[dict[str, Any]]:
    """The headline numbers of every record under ``results_dir`` (``<model>/<run>/``), sorted.

    Unreadable records are listed with their error rather than skipped.
    """
    rows = []
    for path in sorted(Path(results_dir).glob(f"*/*/{RECORD_FILE}")):
        try:
            record = load_record(path)
        except ValueError as error:
            rows.append({"folder": str(path.parent), "error": str(error)})
            continue
        rows.append({
            "folder": str(path.parent), "model": record["model"], "image": record["image"],
            "image_size": record.get("image_size"),
            "trained_steps": record.get("trained_steps", 0),
            "attack": attack_entry(config_dict(record["config"])["attack"]).display,
            "defence": record.get("defence") or "none",
            "steps": record["steps"], "evaluations": record["evaluations"],
            "minutes": record["wall_seconds"] / 60,
            "seconds_per_evaluation": record["wall_seconds"] / max(record["evaluations"], 1),
            "device": record["device"],
            "threads": _threads(record.get("command", "")), "final_mse": record["final_mse"],
            "aligned_mse": record.get("aligned_mse"), "label_correct": record["label_correct"],
            "config": record["config"],
        })
    return rows


def _threads(command: str) -> str:
    words = command.split()
    return words[words.index("--threads") + 1] if "--threads" in words[:-1] else "default"
