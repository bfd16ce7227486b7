"""One attack, written to disk: ``record.json`` (settings, history, provenance) and the images.

A record is plain JSON so that a reader can open it in any tool; non-finite numbers (a diverged
step) are written as ``null``.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import platform
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from .attack import AttackResult
from .metrics import image_metrics

__all__ = ["RECORD_FILE", "REQUIRED_KEYS", "build_record", "save_record", "load_record",
           "save_png"]

RECORD_FILE = "record.json"
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
                 command: str = "") -> dict[str, Any]:
    """The JSON-ready record of ``result``: summary, metrics, history, config and provenance."""
    record: dict[str, Any] = {
        "model": model,
        "image": image,
        **result.summary(),
        **{k: v for k, v in image_metrics(result.reconstruction, result.truth).items()
           if k != "mse"},
        "first_step_below_1e-3": result.first_step_below(1e-3),
        "config": asdict(result.config),
        "device": device,
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": command,
        "history": [asdict(r) for r in result.history],
    }
    return _finite_or_none(record)


def save_png(image: torch.Tensor, path: Path) -> None:
    """Write a [0, 1] image of shape (3, H, W) or (1, 3, H, W) as an 8-bit PNG (clipped)."""
    if image.dim() == 4:
        image = image[0]
    array = (image.detach().clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255).round()
    Image.fromarray(array.astype(np.uint8)).save(path)


def save_record(result: AttackResult, out_dir: str | Path, model: str, image: str,
                device: str, command: str = "") -> Path:
    """Write ``record.json``, ``reconstruction.png`` and ``truth.png`` into ``out_dir``.

    Returns the path of ``record.json``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    record = build_record(result, model=model, image=image, device=device, command=command)
    path = out / RECORD_FILE
    path.write_text(json.dumps(record, indent=1))
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
