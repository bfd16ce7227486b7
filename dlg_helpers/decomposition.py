"""Where a reconstruction's error sits: the report's MSE decomposition (its equations 3-8), computed.

Split the error image ``e = x' - x`` into two parts, ``e = e1 + e2``. Then (equation 8)

    MSE(e) = MSE(e1) + MSE(e2) + (2/n) * sum(e1 * e2).

The cross term vanishes when the parts are orthogonal. The splits here are chosen to be
orthogonal, so the two shares add up to the whole error and each can be read on its own:

- :func:`by_channel`: the red, green and blue errors (disjoint pixels of the error image);
- :func:`by_alignment`: the part a contrast gain and a colour cast explain (what a training-mode
  batch norm hides from the gradient) and what is left, the aligned MSE
  (:func:`~dlg_helpers.metrics.aligned_mse`): a least-squares residual is orthogonal to the fit;
- :func:`by_frequency`: low versus high spatial frequencies (an ideal low-pass filter in Fourier
  space; Parseval's theorem makes the parts orthogonal);
- :func:`by_region`: inside versus outside a mask, e.g. the object versus the background.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .metrics import align_to_truth, match_batch

__all__ = ["MSEParts", "split_mse", "by_channel", "by_alignment", "by_frequency", "by_region",
           "centre_mask", "decompose"]


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


def _error(reconstruction: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """``x' - x`` with a batch's reconstructions first put in the order of the private images."""
    if reconstruction.shape != truth.shape or reconstruction.dim() != 4:
        raise ValueError(f"expected two (B, 3, H, W) images of one shape, got "
                         f"{tuple(reconstruction.shape)} and {tuple(truth.shape)}")
    return match_batch(reconstruction, truth) - truth


def by_channel(reconstruction: torch.Tensor, truth: torch.Tensor) -> dict[str, float]:
    """Each colour channel's contribution to the MSE (they add up to the MSE)."""
    error = _error(reconstruction, truth)
    n = error.numel()
    return {name: float((error[:, c] ** 2).sum() / n)
            for c, name in enumerate(("red", "green", "blue"))}


def by_alignment(reconstruction: torch.Tensor, truth: torch.Tensor) -> MSEParts:
    """The error split into what :func:`~dlg_helpers.metrics.align_to_truth` removes (contrast
    and colour cast) and the rest, whose MSE is the aligned MSE."""
    matched = match_batch(reconstruction, truth)
    _error(matched, truth)  # the shape check
    aligned = align_to_truth(matched, truth)
    return split_mse(matched - aligned, aligned - truth)


def by_frequency(reconstruction: torch.Tensor, truth: torch.Tensor,
                 cutoff: float = 0.125) -> MSEParts:
    """The error split into spatial frequencies below ``cutoff`` (cycles per pixel, radial) and
    above it. The default keeps the coarse layout, about the detail an 8x8 thumbnail holds.

    Raises:
        ValueError: for a cutoff outside (0, 0.5], the Nyquist limit.
    """
    if not 0 < cutoff <= 0.5:
        raise ValueError(f"cutoff must be in (0, 0.5] cycles per pixel, got {cutoff}")
    error = _error(reconstruction, truth).double()
    height, width = error.shape[-2:]
    fy = torch.fft.fftfreq(height, dtype=torch.float64)[:, None]
    fx = torch.fft.fftfreq(width, dtype=torch.float64)[None, :]
    low_pass = ((fy ** 2 + fx ** 2).sqrt() <= cutoff).to(error.dtype)
    low = torch.fft.ifft2(torch.fft.fft2(error) * low_pass).real
    return split_mse(low, error - low)


def centre_mask(size: int, fraction: float = 0.5) -> torch.Tensor:
    """A (size, size) boolean mask of the centred square covering ``fraction`` of the side:
    where the subject of a centred photograph is."""
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    side = max(1, round(size * fraction))
    start = (size - side) // 2
    mask = torch.zeros(size, size, dtype=torch.bool)
    mask[start:start + side, start:start + side] = True
    return mask


def by_region(reconstruction: torch.Tensor, truth: torch.Tensor,
              mask: torch.Tensor | None = None) -> MSEParts:
    """The error split into the pixels inside ``mask`` (default: :func:`centre_mask`) and those
    outside it.

    Raises:
        ValueError: when the mask is not the images' (H, W).
    """
    error = _error(reconstruction, truth)
    if mask is None:
        mask = centre_mask(error.shape[-1])
    if mask.shape != error.shape[-2:]:
        raise ValueError(f"the mask is {tuple(mask.shape)} but the images are "
                         f"{tuple(error.shape[-2:])}")
    inside = error * mask.to(error.dtype)
    return split_mse(inside, error - inside)


def decompose(reconstruction: torch.Tensor, truth: torch.Tensor) -> dict[str, float]:
    """Where one reconstruction's error sits, as one table row.

    Keys: ``mse``; each channel's share of it (``red``, ``green``, ``blue``); ``cast``, the
    share that contrast and colour cast explain; then, of what is left (the aligned error, the
    picture itself), ``low``, the share in the coarse layout, and ``centre``, the share in the
    centred half-side square.
    """
    channels = by_channel(reconstruction, truth)
    total = sum(channels.values())
    aligned = align_to_truth(reconstruction, truth)  # the picture's error, without the cast
    return {"mse": total, **{name: value / total for name, value in channels.items()},
            "cast": by_alignment(reconstruction, truth).first_share,
            "low": by_frequency(aligned, truth).first_share,
            "centre": by_region(aligned, truth).first_share}
