"""Where a reconstruction's error sits: the report's MSE decomposition (its equations 3-8),
computed.

Split the error image ``e = x' - x`` into two parts, ``e = e1 + e2``. Then (equation 8)

    MSE(e) = MSE(e1) + MSE(e2) + (2/n) * sum(e1 * e2).

The cross term vanishes when the parts are orthogonal. The splits here are chosen to be
orthogonal, so the two shares add up to the whole error and each can be read on its own:

- :func:`by_channel`: the red, green and blue errors (disjoint pixels of the error image);
- :func:`by_alignment`: the part a contrast gain and a colour cast explain (what a training-mode
  batch norm hides from the gradient) and what is left, the aligned MSE
  (:func:`~dlg_helpers.measures.metrics.aligned_mse`): a least-squares residual is orthogonal to the
  fit;
- :func:`by_frequency`: low versus high spatial frequencies, in cycles per image side (an ideal
  low-pass filter in Fourier space; Parseval's theorem makes the parts orthogonal);
- :func:`by_region`: inside versus outside a mask, e.g. the object versus the background.

:func:`decompose` gives one reconstruction's shares as a table row, :func:`median_shares` the
medians over several runs.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ..attack.trace import AttackResult
from ..measures.metrics import align_to_truth, match_batch

__all__ = ["MSEParts", "split_mse", "by_channel", "by_alignment", "by_frequency", "centre_mask",
           "by_region", "decompose", "median_shares"]


@dataclass(frozen=True)
class MSEParts:
    """Equation 8's three terms for a split of the error into ``first`` and ``second``."""

    first: float
    second: float
    cross: float

    @property
    def total(self) -> float:
        return self.first + self.second + self.cross

    @property
    def first_share(self) -> float:
        """Share of the MSE in the first part (the cross term is ~0 for orthogonal splits)."""
        return self.first / self.total if self.total else 0.0


def split_mse(first: torch.Tensor, second: torch.Tensor) -> MSEParts:
    """Equation 8 for the error ``first + second``: the MSE of each part and the cross term.

    Raises:
        ValueError: when the two parts differ in shape.
    """
    if first.shape != second.shape:
        raise ValueError(f"the two error parts differ in shape: {tuple(first.shape)} and "
                         f"{tuple(second.shape)}")
    n = first.numel()
    return MSEParts(first=float((first ** 2).sum() / n), second=float((second ** 2).sum() / n),
                    cross=float(2 * (first * second).sum() / n))


def _matched(reconstruction: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """A batch's reconstructions put in the order of the private images (shapes checked)."""
    if reconstruction.shape != truth.shape or reconstruction.dim() != 4 or truth.shape[1] != 3:
        raise ValueError(f"expected two (B, 3, H, W) images of one shape, got "
                         f"{tuple(reconstruction.shape)} and {tuple(truth.shape)}")
    return match_batch(reconstruction, truth)


def _channel_parts(error: torch.Tensor) -> dict[str, float]:
    n = error.numel()
    return {name: float((error[:, c] ** 2).sum() / n)
            for c, name in enumerate(("red", "green", "blue"))}


def _alignment_parts(matched: torch.Tensor, truth: torch.Tensor) -> MSEParts:
    aligned = align_to_truth(matched, truth)
    return split_mse(matched - aligned, aligned - truth)


def _frequency_parts(error: torch.Tensor, cycles: float) -> MSEParts:
    error = error.double()
    height, width = error.shape[-2:]
    # frequencies in cycles per image side, so that one cutoff means the same layout at any size
    fy = torch.fft.fftfreq(height, dtype=torch.float64)[:, None] * height
    fx = torch.fft.fftfreq(width, dtype=torch.float64)[None, :] * width
    low_pass = ((fy ** 2 + fx ** 2).sqrt() <= cycles).to(error.dtype)
    low = torch.fft.ifft2(torch.fft.fft2(error) * low_pass).real
    return split_mse(low, error - low)


def _region_parts(error: torch.Tensor, mask: torch.Tensor | None) -> MSEParts:
    if mask is None:
        mask = centre_mask(*error.shape[-2:])
    if mask.shape != error.shape[-2:]:
        raise ValueError(f"the mask is {tuple(mask.shape)} but the images are "
                         f"{tuple(error.shape[-2:])}")
    inside = error * mask.to(error.dtype)
    return split_mse(inside, error - inside)


def by_channel(reconstruction: torch.Tensor, truth: torch.Tensor) -> dict[str, float]:
    """Each colour channel's contribution to the MSE (they add up to the MSE)."""
    return _channel_parts(_matched(reconstruction, truth) - truth)


def by_alignment(reconstruction: torch.Tensor, truth: torch.Tensor) -> MSEParts:
    """The error split into what :func:`~dlg_helpers.measures.metrics.align_to_truth` removes
    (contrast
    and colour cast) and the rest, whose MSE is the aligned MSE."""
    return _alignment_parts(_matched(reconstruction, truth), truth)


def by_frequency(reconstruction: torch.Tensor, truth: torch.Tensor,
                 cycles: float = 4.0) -> MSEParts:
    """The error split into spatial frequencies up to ``cycles`` cycles per image side (radial)
    and those above. In cycles per image, one cutoff keeps the same layout at any image size;
    the default keeps what an 8x8 thumbnail holds.

    Raises:
        ValueError: for a cutoff that is not positive.
    """
    if not cycles > 0:
        raise ValueError(f"cycles must be positive (cycles per image side), got {cycles}")
    return _frequency_parts(_matched(reconstruction, truth) - truth, cycles)


def centre_mask(height: int, width: int | None = None, fraction: float = 0.5) -> torch.Tensor:
    """A (height, width) boolean mask of the centred rectangle covering ``fraction`` of each
    side (a square image when ``width`` is None): where a centred photograph's subject is."""
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    width = height if width is None else width
    mask = torch.zeros(height, width, dtype=torch.bool)
    rows, columns = max(1, round(height * fraction)), max(1, round(width * fraction))
    top, left = (height - rows) // 2, (width - columns) // 2
    mask[top:top + rows, left:left + columns] = True
    return mask


def by_region(reconstruction: torch.Tensor, truth: torch.Tensor,
              mask: torch.Tensor | None = None) -> MSEParts:
    """The error split into the pixels inside ``mask`` (default: :func:`centre_mask`) and those
    outside it.

    Raises:
        ValueError: when the mask is not the images' (H, W).
    """
    return _region_parts(_matched(reconstruction, truth) - truth, mask)


def decompose(reconstruction: torch.Tensor, truth: torch.Tensor) -> dict[str, float]:
    """Where one reconstruction's error sits, as one table row.

    Keys: ``mse``; each channel's share of it (``red``, ``green``, ``blue``); ``cast``, the
    share that contrast and colour cast explain; then, of what is left (the aligned error, the
    picture itself), ``low``, the share in the coarse layout (:func:`by_frequency`'s default),
    and ``centre``, the share in the centred half-side square.
    """
    matched = _matched(reconstruction, truth)  # the batch is paired once
    channels = _channel_parts(matched - truth)
    total = sum(channels.values())
    picture = align_to_truth(matched, truth) - truth  # the error without the cast
    return {"mse": total, **{name: value / total for name, value in channels.items()},
            "cast": _alignment_parts(matched, truth).first_share,
            "low": _frequency_parts(picture, 4.0).first_share,
            "centre": _region_parts(picture, None).first_share}


def median_shares(results: Sequence[AttackResult]) -> dict[str, float]:
    """The median of each :func:`decompose` key over ``results``.

    Raises:
        ValueError: when there are no results.
    """
    if not results:
        raise ValueError("no results to decompose")
    rows = [decompose(r.reconstruction, r.truth) for r in results]
    return {key: statistics.median(row[key] for row in rows) for key in rows[0]}
