"""A pool of a thousand private images that ship offline, each with its provenance.

Rates over a few images say little; the field reports them over hundreds. The pool gives the
course that many without a download:

- **crops** of 20 scikit-image photographs, on a 1x1, 2x2, 3x3 and 4x4 grid of squares (each
  1/1, 1/2, 1/3 or 1/4 of the shorter side), 30 per photograph, 600 in all; eleven of the
  photographs are greyscale (camera, coins, moon, text, ...), kept as three equal channels;
- the **200 LFW faces** of scikit-image's ``lfw_subset`` (greyscale);
- **200 handwritten digits** of scikit-learn (8 x 8, greyscale, upscaled).

Each loads by name through :func:`~dlg_helpers.client.images.load_image` at any side (crops are
named ``crop-<photo>-<grid>-<row>-<column>``, e.g. ``crop-astronaut-2-0-1``). CIFAR-10 and
CIFAR-100 (:func:`~dlg_helpers.client.images.load_cifar10`,
:func:`~dlg_helpers.client.images.load_cifar100`) are the readers' alternative when online.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

__all__ = ["PHOTOS", "POOL_GRIDS", "PoolImage", "crops", "crop_name", "pool", "pool_sample",
           "distinct_label_batches", "pool_batches", "load_crop"]

PHOTOS = ("astronaut", "camera", "chelsea", "coffee", "coins", "colorwheel", "hubble_deep_field",
          "immunohistochemistry", "retina", "rocket", "brick", "grass", "gravel", "moon", "clock",
          "horse", "page", "text", "cell", "logo")
"""The scikit-image photographs (their loader names in ``skimage.data``) the crops come from."""

POOL_GRIDS = (1, 2, 3, 4)
"""The pool's crops: a g x g grid of squares of 1/g of the shorter side, for each g here."""

POOL_FACES = 200
POOL_DIGITS = 200


@dataclass(frozen=True)
class PoolImage:
    """One image of the pool.

    Attributes:
        name: what :func:`~dlg_helpers.client.images.load_image` loads it by.
        source: ``"photo"``, ``"face"`` or ``"digit"``.
        provenance: where it comes from, in words.
        label: its class index in 0-99 (a digit's own digit; otherwise fixed by its position in
            the pool, since random weights give class names no meaning).
    """

    name: str
    source: str
    provenance: str
    label: int


def crops(pixels: torch.Tensor, grids: tuple[int, ...]) -> list[torch.Tensor]:
    """Square crops of a (1, 3, H, W) image: for each g of ``grids``, a g x g grid of squares
    of 1/g of the shorter side, spread evenly from corner to corner, row by row."""
    height, width = pixels.shape[-2:]
    found = []
    for parts in grids:
        side = min(height, width) // parts
        for row in np.linspace(0, height - side, parts).round().astype(int):
            for column in np.linspace(0, width - side, parts).round().astype(int):
                found.append(pixels[..., row:row + side, column:column + side])
    return found


def crop_name(photo: str, grid: int, row: int, column: int) -> str:
    """The pool name of a crop: ``crop-<photo>-<grid>-<row>-<column>``."""
    return f"crop-{photo}-{grid}-{row}-{column}"


def load_crop(name: str) -> np.ndarray:
    """The pixels (H, W, 3) in [0, 1] of a crop named by :func:`crop_name`.

    Raises:
        ValueError: for a name that is not one of the pool's crops.
    """
    parts = name.removeprefix("crop-").rsplit("-", 3)
    if (len(parts) != 4 or parts[0] not in PHOTOS or not all(p.isdigit() for p in parts[1:])
            or not (int(parts[1]) >= 1 and int(parts[2]) < int(parts[1])
                    and int(parts[3]) < int(parts[1]))):
        raise ValueError(f"{name!r} is not a crop of the pool: use crop-<photo>-<grid>-<row>-"
                         f"<column> with a photo of {', '.join(PHOTOS)} and row, column < grid")
    photo, grid, row, column = parts[0], int(parts[1]), int(parts[2]), int(parts[3])
    crop = crops(_photo(photo), (grid,))[row * grid + column]
    return crop[0].permute(1, 2, 0).numpy()


@lru_cache(maxsize=len(PHOTOS))
def _photo(photo: str) -> torch.Tensor:
    from skimage import data

    from .images import to_tensor

    return to_tensor(getattr(data, photo)())


@lru_cache(maxsize=1)
def pool() -> tuple[PoolImage, ...]:
    """The whole pool, in a fixed order: crops (photo by photo, grid by grid), faces, digits."""
    from sklearn.datasets import load_digits

    images: list[PoolImage] = []
    for photo in PHOTOS:
        for grid in POOL_GRIDS:
            for row in range(grid):
                for column in range(grid):
                    images.append(PoolImage(
                        crop_name(photo, grid, row, column), "photo",
                        f"scikit-image '{photo}': square {row * grid + column + 1} of a "
                        f"{grid}x{grid} grid, each 1/{grid} of the shorter side",
                        len(images) % 100))
    for index in range(POOL_FACES):
        images.append(PoolImage(f"face-{index}", "face",
                                f"scikit-image lfw_subset, face {index}", index % 100))
    targets = load_digits().target
    for index in range(POOL_DIGITS):
        images.append(PoolImage(f"digit-{index}", "digit",
                                f"scikit-learn load_digits, image {index}", int(targets[index])))
    return tuple(images)


def pool_sample(count: int, seed: int = 0) -> list[PoolImage]:
    """``count`` distinct images of the pool drawn at random with ``seed``, each source in
    proportion to its share of the pool (so a rate over them is a rate over the pool), in a
    random order. With one seed, a smaller sample's images are all in a larger one.

    Raises:
        ValueError: for a count larger than the pool.
    """
    everything = pool()
    if not 1 <= count <= len(everything):
        raise ValueError(f"the pool holds {len(everything)} images; ask for 1 to that many")
    generator = np.random.default_rng(seed)
    by_source: dict[str, list[PoolImage]] = {}
    for image in everything:
        by_source.setdefault(image.source, []).append(image)
    shares = {source: round(count * len(images) / len(everything))
              for source, images in by_source.items()}
    shares[max(shares, key=shares.get)] += count - sum(shares.values())
    chosen = []
    for source, images in by_source.items():
        # Each source's order depends on the seed alone, and a sample takes its first images:
        # a smaller sample is part of a larger one, so a small sweep's attacks are cases of a
        # large sweep with the same seed.
        order = generator.permutation(len(images))
        chosen += [images[i] for i in order[:shares[source]]]
    mixing = np.random.default_rng([seed, count])
    return [chosen[i] for i in mixing.permutation(len(chosen))]  # sources mixed, in batches too


def distinct_label_batches(images: list[PoolImage], size: int) -> list[list[str]]:
    """``images`` grouped, in order, into batches of ``size`` names whose labels are distinct
    (iDLG reads only distinct labels off a gradient): each image joins the first open batch
    that lacks its label. Images that would leave a batch short at the end are left out.

    Raises:
        ValueError: for a size below 1 or above the number of images.
    """
    if not 1 <= size <= len(images):
        raise ValueError(f"a batch holds 1 to {len(images)} of these images, not {size}")
    open_batches: list[list[PoolImage]] = []
    full: list[list[str]] = []
    for image in images:
        for batch in open_batches:
            if all(other.label != image.label for other in batch):
                batch.append(image)
                break
        else:
            batch = [image]
            open_batches.append(batch)
        if len(batch) == size:
            open_batches.remove(batch)
            full.append([member.name for member in batch])
    return full


def pool_batches(count: int, size: int, seed: int = 0) -> tuple[list[list[str]], list[PoolImage]]:
    """At least ``count`` pool images in full batches of ``size`` distinct labels: the
    batches of the smallest :func:`pool_sample` that fills enough of them, and that sample.

    A rate by batch size then rests on the same number of private images at every size (a
    batch of 8 leaves some drawn images out; drawing a few more makes up for them), and, the
    samples being nested, a batch level's images are base-case images too.

    Raises:
        ValueError: when the pool cannot fill that many.
    """
    everything = len(pool())
    for drawn in range(count, everything + 1):
        images = pool_sample(drawn, seed)
        batches = distinct_label_batches(images, size)
        if len(batches) * size >= count:
            return batches, images
    raise ValueError(f"the pool of {everything} images cannot fill {count} images in batches "
                     f"of {size} distinct labels; ask for fewer")
