"""How close a reconstruction is to the private image, on the [0, 1] pixel scale.

MSE is the report's measure. PSNR and SSIM are added because MSE alone hides *where* the error
is; SSIM comes from scikit-image rather than being re-derived here.
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["mse", "psnr", "ssim", "image_metrics"]


def _check_pair(reconstruction: torch.Tensor, truth: torch.Tensor) -> None:
    if reconstruction.shape != truth.shape:
        raise ValueError(
            f"reconstruction {tuple(reconstruction.shape)} and ground truth "
            f"{tuple(truth.shape)} differ in shape; compare images of the same size"
        )


def mse(reconstruction: torch.Tensor, truth: torch.Tensor) -> float:
    """Mean squared error between two images (or batches) on the same scale."""
    _check_pair(reconstruction, truth)
    return float(((reconstruction.detach().float() - truth.detach().float()) ** 2).mean())


def psnr(reconstruction: torch.Tensor, truth: torch.Tensor) -> float:
    """Peak signal-to-noise ratio in dB for [0, 1] images (``inf`` for an exact copy).

    The reconstruction is clipped to [0, 1] first, as it would be to display it.
    """
    error = mse(reconstruction.clamp(0, 1), truth)
    return math.inf if error == 0 else 10 * math.log10(1 / error)


def _as_hwc(image: torch.Tensor) -> np.ndarray:
    if image.dim() == 4:
        if image.shape[0] != 1:
            raise ValueError("SSIM compares single images; index the batch first")
        image = image[0]
    return image.detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy()


def ssim(reconstruction: torch.Tensor, truth: torch.Tensor) -> float:
    """Structural similarity (scikit-image, 7x7 window, data range 1) of two [0, 1] images.

    Both are clipped to [0, 1]; 1 means identical structure, about 0 unrelated.
    """
    from skimage.metrics import structural_similarity

    _check_pair(reconstruction, truth)
    a, b = _as_hwc(reconstruction), _as_hwc(truth)
    window = min(7, *a.shape[:2])
    window -= 1 - window % 2  # SSIM needs an odd window no larger than the image
    return float(structural_similarity(a, b, channel_axis=2, data_range=1.0, win_size=window))


def image_metrics(reconstruction: torch.Tensor, truth: torch.Tensor) -> dict[str, float]:
    """MSE, PSNR and SSIM in one dictionary."""
    return {
        "mse": mse(reconstruction, truth),
        "psnr": psnr(reconstruction, truth),
        "ssim": ssim(reconstruction, truth),
    }
