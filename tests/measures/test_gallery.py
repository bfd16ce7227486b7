"""Identification in the gallery, and the intervals that go with every rate and median."""

import math

import pytest
import torch

from dlg_helpers.client.images import load_image
from dlg_helpers.measures import gallery, intervals


def test_the_gallery_holds_hundreds_of_each_kind():
    assert gallery.gallery_size() >= 500


def test_a_copy_is_identified_and_noise_is_not():
    cat = load_image("cat", 32).pixels
    (score,) = gallery.gallery_scores(cat, cat)
    assert score.likeness == pytest.approx(1.0, abs=1e-5) and score.rank == 1
    noise = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    (score,) = gallery.gallery_scores(noise, cat)
    assert abs(score.likeness) < 0.3 and score.rank > 1


def test_a_digit_has_closer_lookalikes_than_a_photograph():
    # the gallery holds 200 digits drawn alike; a crop of a photograph has few neighbours
    digit, photo = load_image("digit-3", 32).pixels, load_image("cat", 32).pixels
    (digit_score,) = gallery.gallery_scores(digit, digit)
    assert digit_score.lookalike > 0.8
    assert gallery.lookalikes(torch.cat([digit, photo])) == pytest.approx(
        [digit_score.lookalike, gallery.gallery_scores(photo, photo)[0].lookalike])
    assert gallery.lookalikes(photo)[0] < digit_score.lookalike - 0.1
    # the look-alike is the private image's alone: any reconstruction gets the same
    noise = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    assert gallery.gallery_scores(noise, digit)[0].lookalike == digit_score.lookalike


def test_a_blurred_recoloured_copy_still_ranks_first():
    face = load_image("face-3", 64).pixels
    blurred = torch.nn.functional.avg_pool2d(face, 5, stride=1, padding=2)
    tinted = 3 * blurred * torch.tensor([1.0, 0.5, 0.2]).view(1, 3, 1, 1) + 0.4
    (score,) = gallery.gallery_scores(tinted, face)
    assert score.rank == 1 and score.likeness > 0.9


def test_gallery_scores_refuse_unpaired_shapes():
    with pytest.raises(ValueError, match="pair each reconstruction"):
        gallery.gallery_scores(torch.zeros(1, 3, 8, 8), torch.zeros(2, 3, 8, 8))


def test_wilson_intervals_behave_at_the_ends():
    low, high = intervals.wilson(5, 5)
    assert high == 1 and low == pytest.approx(0.566, abs=1e-3)
    assert intervals.wilson(0, 10)[0] == 0
    with pytest.raises(ValueError, match="successes"):
        intervals.wilson(3, 2)
    assert intervals.rate_text(4, 5) == "4 of 5 runs (80 %, 95 % CI 38–96 %)"


def test_a_wilson_interval_always_holds_its_rate():
    # Computed naively, 0 of 100 gave a lower end of 3e-18, above the rate (a negative error bar).
    for trials in (7, 100, 1000):
        for successes in range(trials + 1):
            low, high = intervals.wilson(successes, trials)
            assert low <= successes / trials <= high


def test_median_intervals_reach_95_percent_only_with_six_values_or_more():
    one = intervals.median_interval([0.4])
    assert one.low is None and one.median == 0.4
    few = intervals.median_interval([3, 1, 2])
    assert (few.low, few.high) == (1, 3) and few.coverage == pytest.approx(0.75)
    many = intervals.median_interval(list(range(100)))
    assert many.coverage >= 0.95 and many.low < 49.5 < many.high and many.high - many.low < 30
    with pytest.raises(ValueError):
        intervals.median_interval([math.nan])
