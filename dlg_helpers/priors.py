"""What an attacker believes about images before seeing any gradient.

Gradient matching alone is ill-posed for large models: many inputs give nearly the same gradient.
A prior picks, among them, the ones that look like photographs. Geiping et al. (2020) use total
variation: natural images are mostly smooth, noise is not.
"""

from __future__ import annotations

import torch

__all__ = ["total_variation"]


def total_variation(images: torch.Tensor) -> torch.Tensor:
    """The mean absolute difference between horizontally and vertically neighbouring pixels.

    Args:
        images: a batch of shape (B, C, H, W), on any scale.

    Returns:
        A scalar: 0 for a flat image, larger the noisier it is.
    """
    if images.dim() != 4:
        raise ValueError(f"images must have shape (B, C, H, W), got {tuple(images.shape)}")
    across = (images[..., :, 1:] - images[..., :, :-1]).abs().mean()
    down = (images[..., 1:, :] - images[..., :-1, :]).abs().mean()
    return across + down

