"""Private images that load offline, and CIFAR online."""

import numpy as np
import pytest
import torch
from PIL import Image

import dlg_helpers as dlg
from dlg_helpers.client.images import resize_and_crop, to_tensor
from dlg_helpers.client.training import digits_dataset


@pytest.mark.parametrize("name", dlg.image_names() + ["face-0", "face-199"])
def test_every_shipped_image_loads_offline(name):
    sample = dlg.load_image(name, 32)
    assert sample.pixels.shape == (1, 3, 32, 32)
    assert sample.pixels.dtype == torch.float32
    assert 0 <= sample.pixels.min() and sample.pixels.max() <= 1
    assert sample.pixels.std() > 0.01  # a real picture, not a constant
    assert 0 <= sample.label < 100


def test_images_have_distinct_labels():
    labels = [dlg.load_image(name, 8).label for name in dlg.image_names()]
    assert len(set(labels)) == len(labels)


def test_label_can_be_overridden():
    assert dlg.load_image("cat", 16, label=42).label == 42


def test_unknown_image_lists_the_choices():
    with pytest.raises(ValueError, match="unknown image 'dog'.*cat.*face-0"):
        dlg.load_image("dog", 32)
    with pytest.raises(ValueError, match="unknown image 'face-200'"):
        dlg.load_image("face-200", 32)
    with pytest.raises(ValueError, match="unknown image 'digit-1797'.*digit-1796"):
        dlg.load_image("digit-1797", 32)


def test_the_training_digits_load_with_their_digit_as_label():
    images, labels = digits_dataset(32)
    sample = dlg.load_image("digit-5", 32)
    assert sample.label == int(labels[5])
    assert torch.allclose(sample.pixels, images[5:6], atol=1e-6)  # the very image trained on


def test_an_image_file_loads(tmp_path):
    array = np.zeros((40, 60, 3), dtype=np.uint8)
    array[:, 30:] = 255
    path = tmp_path / "half.png"
    Image.fromarray(array).save(path)
    sample = dlg.load_image(str(path), 20)
    assert sample.pixels.shape == (1, 3, 20, 20)
    assert sample.pixels[0, :, :, 0].max() < 0.05 and sample.pixels[0, :, :, -1].min() > 0.95


def test_to_tensor_rejects_bad_shape_and_range():
    with pytest.raises(ValueError, match="expected an image of shape"):
        to_tensor(np.zeros((4, 4, 2)))
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\].*divide 8-bit images by 255"):
        to_tensor(np.full((4, 4, 3), 255.0))


def test_to_tensor_scales_integers_and_repeats_grey():
    tensor = to_tensor(np.full((2, 3), 255, dtype=np.uint8))
    assert tensor.shape == (1, 3, 2, 3) and torch.all(tensor == 1)


def test_resize_and_crop_keeps_the_centre():
    pixels = torch.zeros(1, 3, 10, 30)
    pixels[..., 10:20] = 1  # a bright middle third
    out = resize_and_crop(pixels, 10)
    assert out.shape == (1, 3, 10, 10) and out.mean() > 0.9
    with pytest.raises(ValueError, match="positive number of pixels"):
        resize_and_crop(pixels, 0)


@pytest.mark.parametrize("classes", [10, 100])
def test_cifar_without_data_or_network_says_what_to_do(tmp_path, classes):
    load = {10: dlg.load_cifar10, 100: dlg.load_cifar100}[classes]
    with pytest.raises(RuntimeError, match=f"could not load CIFAR-{classes}.*internet.*pool"):
        load(0, root=tmp_path, download=False)
