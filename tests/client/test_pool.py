"""The offline image pool: a thousand distinct images with their provenance."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from dlg_helpers.client.images import load_image
from dlg_helpers.client.pool import distinct_label_batches, load_crop, pool, pool_sample
from dlg_helpers.measures.gallery import thumbnail


def test_the_pool_holds_a_thousand_images_from_three_sources():
    images = pool()
    assert len(images) == 1000 and len({i.name for i in images}) == 1000
    assert Counter(i.source for i in images) == {"photo": 600, "face": 200, "digit": 200}
    assert all(i.provenance and 0 <= i.label < 100 for i in images)


@pytest.mark.slow
def test_no_two_images_of_the_pool_are_the_same_picture():
    thumbs = torch.cat([thumbnail(load_image(i.name, 32).pixels) for i in pool()])
    similarity = thumbs @ thumbs.T / thumbs.shape[1]
    similarity.fill_diagonal_(0)
    assert float(similarity.max()) < 0.999


def test_a_crop_loads_by_name_with_its_pool_label():
    image = load_image("crop-astronaut-2-0-1", 32)
    assert image.pixels.shape == (1, 3, 32, 32)
    assert image.label == {i.name: i.label for i in pool()}["crop-astronaut-2-0-1"]
    with pytest.raises(ValueError, match="not a crop"):
        load_crop("crop-astronaut-2-2-0")
    with pytest.raises(ValueError, match="unknown image"):
        load_image("crop-nothing-1-0-0", 32)


def test_a_sample_keeps_the_pools_proportions_and_batches_have_distinct_labels():
    sample = pool_sample(200, seed=0)
    assert Counter(i.source for i in sample) == {"photo": 120, "face": 40, "digit": 40}
    assert pool_sample(200, seed=0) == sample and pool_sample(200, seed=1) != sample
    assert set(pool_sample(50, seed=0)) <= set(sample)  # a small sweep's images are the large one's
    labels = {i.name: i.label for i in pool()}
    batches = distinct_label_batches(sample, 8)
    assert len(batches) >= 20
    assert all(len({labels[name] for name in batch}) == 8 for batch in batches)
    with pytest.raises(ValueError, match="pool holds"):
        pool_sample(1001)
