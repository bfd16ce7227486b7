"""How close a reconstruction is to the private image, on the [0, 1] pixel scale.

MSE is the report's measure. PSNR and SSIM are added because MSE alone hides *where* the error
is; SSIM comes from scikit-image rather than being re-derived here.

Networks that put batch norm (in training mode) straight after their first convolution -- ResNet,
DenseNet and Inception do -- share gradients that cannot see an image's overall contrast nor each
colour channel's brightness: batch norm removes both before anything downstream uses them. An
attack on those networks may recover the picture with the wrong contrast and colour cast, which the
plain MSE, PSNR and SSIM count as failure although a person sees the picture at once.

So the course judges a picture after the correction an attacker makes without the truth:
each colour channel rescaled to a typical mean and spread (:func:`standardise`, blind). To
score the picture alone, :func:`colour_corrected` gives each channel the truth's own mean and
spread (six numbers; the shape of the picture is untouched), and :func:`r_squared`,
:func:`corrected_psnr` and :func:`corrected_ssim` score that. A least-squares fit would be the
wrong correction here: it shrinks a noisy reconstruction towards a flat image of the right
colour, which SSIM rewards. :func:`aligned_mse` (the best common gain and channel offsets, the
changes batch norm hides exactly) is the progress measure the attack's trace records.
:func:`image_metrics` gathers the scores; whether a picture leaks is decided by identification
in a gallery (:mod:`~dlg_helpers.measures.gallery`, :mod:`~dlg_helpers.measures.criteria`).

The gradient of a batch does not say which image came first, so an attack may return a batch in
another order. Every measure here first pairs each reconstruction with the private image it
resembles most (:func:`match_batch`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import torch

__all__ = ["match_batch", "mse", "psnr", "ssim", "align_to_truth", "aligned_mse",
           "colour_corrected", "r_squared", "corrected_psnr", "corrected_ssim", "standardise",
           "image_metrics"]


def _check_pair(reconstruction: torch.Tensor, truth: torch.Tensor) -> None:
    if reconstruction.shape != truth.shape:
        raise ValueError(
            f"reconstruction {tuple(reconstruction.shape)} and ground truth "
            f"{tuple(truth.shape)} differ in shape; compare images of the same size"
        )


def _pair_costs(reconstruction: torch.Tensor, truth: torch.Tensor) -> np.ndarray:
    return np.array([[_plain_mse(_align(x[None], y[None]), y[None]) for y in truth]
                     for x in reconstruction])


def match_batch(reconstruction: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """``reconstruction`` reordered so that image ``i`` is the one closest to ``truth[i]``.

    Closest after :func:`align_to_truth`, so that a drifted contrast does not mislead the pairing;
    the assignment is optimal over all orders (Hungarian method). Batches of one come back as they
    are.
    """
    _check_pair(reconstruction, truth)
    if reconstruction.dim() != 4 or reconstruction.shape[0] == 1:
        return reconstruction
    from scipy.optimize import linear_sum_assignment

    rows, columns = linear_sum_assignment(_pair_costs(reconstruction, truth).T)
    return reconstruction[torch.as_tensor(columns[np.argsort(rows)])]


def _plain_mse(reconstruction: torch.Tensor, truth: torch.Tensor) -> float:
    return float(((reconstruction.detach().float() - truth.detach().float()) ** 2).mean())


def mse(reconstruction: torch.Tensor, truth: torch.Tensor) -> float:
    """Mean squared error between two images (or batches, paired by :func:`match_batch`)."""
    return _plain_mse(match_batch(reconstruction, truth), truth)


def psnr(reconstruction: torch.Tensor, truth: torch.Tensor) -> float:
    """Peak signal-to-noise ratio in dB for [0, 1] images (``inf`` for an exact copy).

    The reconstruction is clipped to [0, 1] first, as it would be to display it.
    """
    error = mse(reconstruction.clamp(0, 1), truth)
    return math.inf if error == 0 else 10 * math.log10(1 / error)


def _as_hwc(image: torch.Tensor) -> np.ndarray:
    return image.detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy()


def _ssim_pairs(pairs: Iterable[tuple[torch.Tensor, torch.Tensor]]) -> float:
    from skimage.metrics import structural_similarity

    scores = []
    for one, other in pairs:
        a, b = _as_hwc(one), _as_hwc(other)
        window = min(7, *a.shape[:2])
        window -= 1 - window % 2  # SSIM needs an odd window no larger than the image
        scores.append(structural_similarity(a, b, channel_axis=2, data_range=1.0,
                                            win_size=window))
    return float(np.mean(scores))


def _batched(image: torch.Tensor) -> torch.Tensor:
    return image if image.dim() == 4 else image[None]


def ssim(reconstruction: torch.Tensor, truth: torch.Tensor) -> float:
    """Structural similarity (scikit-image, 7x7 window, data range 1) of two [0, 1] images.

    Both are clipped to [0, 1]; 1 means identical structure, about 0 unrelated. For batches of
    shape (B, 3, H, W), the mean over the batch.
    """
    _check_pair(reconstruction, truth)
    if reconstruction.dim() != 4:
        return _ssim_pairs([(reconstruction, truth)])
    return _ssim_pairs(zip(match_batch(reconstruction, truth), truth))


def align_to_truth(reconstruction: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """``reconstruction`` after the contrast gain and per-channel offsets that best fit ``truth``.

    Per image of a (B, C, H, W) batch: one gain ``a`` for all channels and one offset ``b_c`` per
    channel, chosen by least squares (``a * x_c + b_c`` closest to the truth), which are the
    changes a training-mode batch norm after the first convolution hides from the gradient. An
    evaluation tool: it looks at the truth, which the attacker never has.
    """
    return _align(match_batch(reconstruction, truth), truth)


def _align(reconstruction: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    x = reconstruction.detach().float().flatten(2)
    y = truth.detach().float().flatten(2)
    x_centred = x - x.mean(dim=2, keepdim=True)
    y_centred = y - y.mean(dim=2, keepdim=True)
    spread = (x_centred ** 2).sum(dim=(1, 2))
    gain = torch.where(spread > 0, (x_centred * y_centred).sum(dim=(1, 2)) / spread.clamp_min(1e-30),
                       torch.zeros_like(spread))
    aligned = gain[:, None, None] * x_centred + y.mean(dim=2, keepdim=True)
    return aligned.reshape(reconstruction.shape)


def aligned_mse(reconstruction: torch.Tensor, truth: torch.Tensor) -> float:
    """MSE after :func:`align_to_truth`: how wrong the picture is, ignoring contrast and colour
    cast.

    Never larger than :func:`mse`; equal to it when the reconstruction's contrast and channel
    means are already right.
    """
    return _plain_mse(align_to_truth(reconstruction, truth), truth)


def colour_corrected(reconstruction: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """``reconstruction`` (paired by :func:`match_batch`) with each colour channel given the
    truth's mean and standard deviation, clipped to [0, 1]: the picture as an attacker who
    corrected its colours would see it, scored without what the gradient cannot show.

    The gain is always positive (a negative would turn the picture into its negative, which
    the gradient does see); a flat channel stays flat at the truth's mean.
    """
    _check_pair(reconstruction, truth)
    x = _batched(match_batch(reconstruction, truth)).detach().float().flatten(2)
    y = _batched(truth).detach().float().flatten(2)
    x_centred = x - x.mean(dim=2, keepdim=True)
    x_spread = x_centred.pow(2).mean(dim=2, keepdim=True).sqrt()
    y_spread = (y - y.mean(dim=2, keepdim=True)).pow(2).mean(dim=2, keepdim=True).sqrt()
    gain = torch.where(x_spread > 1e-12, y_spread / x_spread.clamp_min(1e-12),
                       torch.zeros_like(x_spread))
    corrected = (gain * x_centred + y.mean(dim=2, keepdim=True)).clamp(0, 1)
    return corrected.reshape(reconstruction.shape)


def r_squared(reconstruction: torch.Tensor, truth: torch.Tensor) -> float:
    """How much of the private image the reconstruction explains, after :func:`colour_corrected`:
    ``1 - MSE / variance``, the variance of the truth around its channels' means. 1 is an exact
    copy, 0 no better than a flat image of the right colours, about -1 unrelated noise. Unlike
    an MSE it does not grow with the image's contrast, so medians can run across images. For
    batches, the mean over matched pairs.
    """
    corrected, truth = _batched(colour_corrected(reconstruction, truth)), _batched(truth)
    scores = []
    for x, y in zip(corrected, truth.float()):
        variance = float((y - y.mean(dim=(1, 2), keepdim=True)).pow(2).mean())
        scores.append(1 - _plain_mse(x, y) / max(variance, 1e-12))
    return float(np.mean(scores))


def corrected_psnr(reconstruction: torch.Tensor, truth: torch.Tensor) -> float:
    """:func:`psnr` after :func:`colour_corrected`."""
    return psnr(colour_corrected(reconstruction, truth), truth)


def corrected_ssim(reconstruction: torch.Tensor, truth: torch.Tensor) -> float:
    """:func:`ssim` after :func:`colour_corrected`: the structure a person sees once the colours
    are corrected."""
    corrected = _batched(colour_corrected(reconstruction, truth))
    return _ssim_pairs(zip(corrected, _batched(truth)))


def standardise(image: torch.Tensor, mean: float = 0.45, spread: float = 0.25) -> torch.Tensor:
    """The attacker's own contrast correction, without the truth: each channel's mean moved to
    ``mean`` and the image's overall standard deviation scaled to ``spread`` (typical values of
    photographs), clipped to [0, 1]. Use it to *look at* a reconstruction whose contrast drifted.
    """
    x = image.detach().float()
    centred = x - x.mean(dim=(2, 3), keepdim=True)
    scale = centred.flatten(1).std(dim=1).clamp_min(1e-12)[:, None, None, None]
    return (centred / scale * spread + mean).clamp(0, 1)


def image_metrics(reconstruction: torch.Tensor, truth: torch.Tensor) -> dict[str, float]:
    """The report's measures (``mse``, ``psnr``, ``ssim`` of the pixels as they are), the trace's
    ``aligned_mse``, and the course's scores after :func:`colour_corrected` (``r2``,
    ``corrected_psnr``, ``corrected_ssim``) in one dictionary."""
    return {
        "mse": mse(reconstruction, truth),
        "psnr": psnr(reconstruction, truth),
        "ssim": ssim(reconstruction, truth),
        "aligned_mse": aligned_mse(reconstruction, truth),
        "r2": r_squared(reconstruction, truth),
        "corrected_psnr": corrected_psnr(reconstruction, truth),
        "corrected_ssim": corrected_ssim(reconstruction, truth),
    }

