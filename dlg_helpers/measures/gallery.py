"""Would a person pick the private image out of a crowd? Identification in a gallery.

A score such as SSIM says how alike two pictures are; it does not say whether the likeness
identifies anybody. The gallery test does, with no downloaded weights: the reconstruction is
compared with the private image and with every candidate of a gallery of more than 500 others
that ship offline (crops of scikit-image's photographs at three scales, its 200 LFW faces, 200 of
scikit-learn's digits), and the private image's *rank* is where it comes in that list. Rank 1 is
an identification. A random guess is identified about once in the gallery's size.

The comparison is made at thumbnail scale (:data:`THUMBNAIL` pixels a side, the size at which a
person still recognises a face or a cat and fine noise no longer matters), after each colour
channel is standardised, the correction an attacker makes without the truth. Candidates that are
near copies of the private image (a crop of the same photograph) are left out, so the rank
counts only distinct pictures.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch
import torch.nn.functional as F

from ..client.images import DIGITS, LFW_FACES, to_tensor
from ..client.pool import PHOTOS, crops

__all__ = ["THUMBNAIL", "NEAR_COPY", "GalleryScore", "gallery_size", "gallery_scores",
           "lookalikes", "thumbnail"]

THUMBNAIL = 16
"""Side of the thumbnails compared, in pixels."""

NEAR_COPY = 0.9
"""Candidates whose thumbnail correlates more than this with the private image's are copies of
it (an overlapping crop of the same photograph) and are left out of its gallery."""

_GRIDS = (1, 2, 3)  # crops of 1/1, 1/2 and 1/3 of the shorter side, on a 1x1, 2x2, 3x3 grid
_DIGITS_USED = 200


def thumbnail(images: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) images as (B, 3 * THUMBNAIL**2) vectors: downscaled (antialiased) and each
    colour channel standardised to mean 0 and variance 1 (a flat channel stays 0)."""
    small = F.interpolate(images.detach().float(), size=(THUMBNAIL, THUMBNAIL), mode="bilinear",
                          antialias=True, align_corners=False).flatten(2)
    centred = small - small.mean(dim=2, keepdim=True)
    spread = centred.pow(2).mean(dim=2, keepdim=True).sqrt()
    return torch.where(spread > 1e-6, centred / spread.clamp_min(1e-6),
                       torch.zeros_like(centred)).flatten(1)


@lru_cache(maxsize=1)
def _candidates() -> torch.Tensor:
    from skimage import data
    from sklearn.datasets import load_digits

    thumbs = []
    for name in PHOTOS:
        thumbs += [thumbnail(crop) for crop in crops(to_tensor(getattr(data, name)()), _GRIDS)]
    faces = torch.from_numpy(data.lfw_subset()[:LFW_FACES]).float()
    thumbs.append(thumbnail(faces[:, None].expand(-1, 3, -1, -1)))
    digits = torch.from_numpy(load_digits().images[:min(_DIGITS_USED, DIGITS)] / 16.0).float()
    thumbs.append(thumbnail(digits[:, None].expand(-1, 3, -1, -1)))
    return torch.cat(thumbs)


def gallery_size() -> int:
    """How many candidates the gallery holds (before near copies of a private image are left
    out)."""
    return len(_candidates())


def _correlation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return a @ b.T / a.shape[1]


@dataclass(frozen=True)
class GalleryScore:
    """How one reconstruction fares in its private image's gallery.

    Attributes:
        likeness: the correlation of its thumbnail with the private image's (1 for a copy,
            about 0 unrelated).
        rank: where the private image comes among the gallery's candidates and the batch's other
            private images by that correlation (1: first; a tie counts against it).
        lookalike: the private image's own correlation with the most similar other candidate:
            how alike its kind of picture is (about 0.9 for a digit, whose gallery holds other
            digits drawn the same way; about 0.5 for a photograph). A property of the private
            image alone, not of the reconstruction.
    """

    likeness: float
    rank: int
    lookalike: float


def gallery_scores(reconstruction: torch.Tensor, truth: torch.Tensor) -> list[GalleryScore]:
    """Each image of a (B, 3, H, W) batch scored in the gallery (:class:`GalleryScore`).

    Reconstruction ``i`` is compared with ``truth[i]``: pair them first
    (:func:`~dlg_helpers.measures.metrics.match_batch`).
    """
    if reconstruction.shape != truth.shape or reconstruction.dim() != 4:
        raise ValueError(f"expected two (B, 3, H, W) batches of one shape, got "
                         f"{tuple(reconstruction.shape)} and {tuple(truth.shape)}; pair each "
                         "reconstruction with its private image first")
    found, private, gallery = thumbnail(reconstruction), thumbnail(truth), _candidates()
    scores = []
    for i in range(len(truth)):
        similar = _correlation(private[i:i + 1], gallery)[0]
        others = gallery[similar <= NEAR_COPY]
        crowd = torch.cat([others, private[torch.arange(len(truth)) != i]])
        likeness = float(_correlation(found[i:i + 1], private[i:i + 1]))
        rank = 1 + int((_correlation(found[i:i + 1], crowd)[0] >= likeness).sum())
        scores.append(GalleryScore(likeness, rank, float(similar[similar <= NEAR_COPY].max())))
    return scores


def lookalikes(truth: torch.Tensor) -> list[float]:
    """:attr:`GalleryScore.lookalike` of each private image of a (B, 3, H, W) batch, from the
    images alone."""
    similar = _correlation(thumbnail(truth), _candidates())
    return [float(row[row <= NEAR_COPY].max()) for row in similar]
