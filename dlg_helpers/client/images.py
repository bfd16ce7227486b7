"""Private images for the victim: real photographs that load offline, CIFAR-10 and CIFAR-100
when online.

The offline images ship inside scikit-image, so every chapter runs on a machine with no network.
Each has a fixed class index in 0-99 (the models have CIFAR-100's 100 outputs); with randomly
initialised weights the class *name* carries no meaning, only the index matters to the attack.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["ImageSample", "image_names", "to_tensor", "resize_and_crop", "load_image",
           "load_cifar100", "load_cifar10"]


LFW_FACES = 200  # faces in scikit-image's lfw_subset


DIGITS = 1797  # images in scikit-learn's handwritten digits (the training task of training.py)


@dataclass(frozen=True)
class ImageSample:
    """One private training example: pixels in [0, 1] with shape (1, 3, H, W), and its label."""

    name: str
    pixels: torch.Tensor
    label: int


def _skimage(loader_name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from skimage import data

        return getattr(data, loader_name)()

    return load


def _lfw_face(index: int) -> np.ndarray:
    from skimage import data

    return data.lfw_subset()[index]


def _digit(index: int) -> tuple[np.ndarray, int]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.images[index] / 16.0, int(digits.target[index])

# name -> (loader, class index). Photographs first: they are the default set for medians.
_CATALOGUE: dict[str, tuple[Callable[[], np.ndarray], int]] = {
    "cat": (_skimage("chelsea"), 3),
    "astronaut": (_skimage("astronaut"), 98),
    "coffee": (_skimage("coffee"), 28),
    "rocket": (_skimage("rocket"), 69),
    "histology": (_skimage("immunohistochemistry"), 54),
    "retina": (_skimage("retina"), 21),
    "hubble": (_skimage("hubble_deep_field"), 71),
    "camera": (_skimage("camera"), 11),
    "coins": (_skimage("coins"), 60),
}


def image_names(include_faces: bool = False) -> list[str]:
    """Names :func:`load_image` accepts; ``face-0`` ... ``face-199`` are the LFW faces and
    ``digit-0`` ... ``digit-1796`` scikit-learn's handwritten digits (labelled with their digit,
    the images a model trained by :mod:`~dlg_helpers.client.training` saw)."""
    names = list(_CATALOGUE)
    if include_faces:
        names += [f"face-{i}" for i in range(LFW_FACES)]
    return names


def to_tensor(array: np.ndarray) -> torch.Tensor:
    """An image array (H, W), (H, W, 3) or (H, W, 4), integer or float in [0, 1], as (1, 3, H, W).

    Raises:
        ValueError: for another shape, or float values outside [0, 1].
    """
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise ValueError(
            f"expected an image of shape (H, W), (H, W, 3) or (H, W, 4), got {array.shape}; "
            "pass a single greyscale or colour image"
        )
    array = array[..., :3]
    if np.issubdtype(array.dtype, np.integer):
        pixels = array.astype(np.float32) / np.iinfo(array.dtype).max
    else:
        pixels = array.astype(np.float32)
        if pixels.min() < 0 or pixels.max() > 1:
            raise ValueError(
                f"float image values must lie in [0, 1], got [{pixels.min():.3g}, "
                f"{pixels.max():.3g}]; divide 8-bit images by 255"
            )
    return torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1).unsqueeze(0)


def resize_and_crop(pixels: torch.Tensor, size: int) -> torch.Tensor:
    """Scale the shorter side to ``size`` (antialiased) and crop the centre square.

    This is the report's preprocessing ("rescaled and cropped to 224x224"), for any size.
    """
    if size < 1:
        raise ValueError(f"image size must be a positive number of pixels, got {size}")
    height, width = pixels.shape[-2:]
    scale = size / min(height, width)
    new_h, new_w = max(size, round(height * scale)), max(size, round(width * scale))
    resized = F.interpolate(pixels, size=(new_h, new_w), mode="bilinear", antialias=True,
                            align_corners=False)
    top, left = (new_h - size) // 2, (new_w - size) // 2
    return resized[..., top:top + size, left:left + size].clamp(0, 1)


def _raw_image(name: str) -> tuple[np.ndarray, int]:
    if name in _CATALOGUE:
        loader, label = _CATALOGUE[name]
        return loader(), label
    if name.startswith("face-"):
        index = name.removeprefix("face-")
        if index.isdigit() and int(index) < LFW_FACES:
            return _lfw_face(int(index)), int(index) % 100
    if name.startswith("crop-"):
        from .pool import load_crop, pool

        labels = {image.name: image.label for image in pool()}
        if name in labels:
            return load_crop(name), labels[name]
    if name.startswith("digit-"):
        index = name.removeprefix("digit-")
        if index.isdigit() and int(index) < DIGITS:
            return _digit(int(index))
    path = Path(name)
    if path.is_file():
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as image:
                return np.asarray(image.convert("RGB")), 0
        except (UnidentifiedImageError, OSError) as error:
            raise ValueError(
                f"{name!r} is a file but not an image Pillow can read ({error}); pass a PNG, "
                f"JPEG or other image file, or a shipped image such as 'cat'") from error
    raise ValueError(
        f"unknown image {name!r}: use one of {', '.join(image_names())}, face-0 ... "
        f"face-{LFW_FACES - 1}, digit-0 ... digit-{DIGITS - 1}, a crop of the pool "
        "(dlg_helpers.client.pool), or the path of an image file"
    )


def load_image(name: str, size: int, label: int | None = None) -> ImageSample:
    """Load a shipped image (or an image file) at ``size`` x ``size`` pixels.

    Args:
        name: a name from :func:`image_names`, ``face-N`` for an LFW face, or a file path.
        size: side of the square the image is resized and cropped to (the model's input size).
        label: class index to use instead of the image's own (a file's default label is 0).
    """
    array, default_label = _raw_image(name)
    pixels = resize_and_crop(to_tensor(array), size)
    return ImageSample(name=name, pixels=pixels, label=default_label if label is None else label)


def load_cifar100(index: int, size: int = 32, root: str | Path = "data",
                  download: bool = True) -> ImageSample:
    """Image ``index`` of the CIFAR-100 training set, the data set of the original DLG paper.

    Needs torchvision and, the first time, an internet connection (about 160 MB).

    Raises:
        RuntimeError: when the data set is neither on disk nor downloadable, saying what to do.
    """
    return _load_cifar(100, index, size, root, download)


def load_cifar10(index: int, size: int = 32, root: str | Path = "data",
                 download: bool = True) -> ImageSample:
    """Image ``index`` of the CIFAR-10 training set (its 10 classes are the models' first 10
    outputs). Needs torchvision and, the first time, an internet connection (about 160 MB).

    Raises:
        RuntimeError: when the data set is neither on disk nor downloadable, saying what to do.
    """
    return _load_cifar(10, index, size, root, download)


def _load_cifar(classes: int, index: int, size: int, root: str | Path,
                download: bool) -> ImageSample:
    from torchvision import datasets

    try:
        dataset = getattr(datasets, f"CIFAR{classes}")(root=str(root), train=True,
                                                        download=download)
    except Exception as error:  # torchvision raises URLError, RuntimeError or OSError here
        raise RuntimeError(
            f"could not load CIFAR-{classes} from {root!r} ({error}). It downloads only with an "
            "internet connection; offline, use a shipped image such as load_image('cat', 32) or "
            "the offline pool (dlg_helpers.client.pool)"
        ) from error
    image, label = dataset[index]
    pixels = resize_and_crop(to_tensor(np.asarray(image)), size)
    return ImageSample(name=f"cifar{classes}-{index}", pixels=pixels, label=int(label))
