"""The report's MSE decomposition."""

import pytest
import torch

from dlg_helpers import decomposition as d
from dlg_helpers.attack.trace import AttackResult
from dlg_helpers.measures.metrics import aligned_mse, mse


def _pair(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    truth = torch.rand(2, 3, 16, 16, generator=generator)
    return truth + 0.1 * torch.randn(2, 3, 16, 16, generator=generator), truth


def test_equation_8_holds_for_any_split_and_its_cross_term_is_the_correlation():
    reconstruction, truth = _pair()
    error = reconstruction - truth
    first = 0.3 * error  # perfectly correlated parts: the cross term is large
    parts = d.split_mse(first, error - first)
    assert parts.total == pytest.approx(mse(reconstruction, truth), rel=1e-5)
    assert parts.cross == pytest.approx(2 * 0.3 * 0.7 * mse(reconstruction, truth), rel=1e-5)


@pytest.mark.parametrize("split", [d.by_alignment, d.by_frequency, d.by_region])
def test_the_course_splits_are_orthogonal_so_their_parts_add_up(split):
    reconstruction, truth = _pair(1)
    parts = split(reconstruction, truth)
    assert abs(parts.cross) < 1e-6 * parts.total
    assert parts.total == pytest.approx(mse(reconstruction, truth), rel=1e-4)


def test_channels_add_up_to_the_mse_and_find_the_wrong_channel():
    truth = torch.rand(1, 3, 8, 8)
    reconstruction = truth.clone()
    reconstruction[:, 2] += 0.5
    channels = d.by_channel(reconstruction, truth)
    assert sum(channels.values()) == pytest.approx(mse(reconstruction, truth))
    assert channels["red"] == channels["green"] == 0 and channels["blue"] > 0


def test_a_colour_cast_is_all_cast_and_the_rest_is_the_aligned_mse():
    truth = torch.rand(1, 3, 16, 16)
    cast = d.by_alignment(1.5 * truth + torch.tensor([0.2, -0.1, 0.3])[None, :, None, None],
                          truth)
    assert cast.first_share == pytest.approx(1.0, abs=1e-5)
    reconstruction, truth = _pair(2)
    assert d.by_alignment(reconstruction, truth).second == pytest.approx(
        aligned_mse(reconstruction, truth), rel=1e-5)


def test_frequency_split_puts_smooth_error_low_and_pixel_noise_high():
    truth = torch.rand(1, 3, 32, 32)
    ramp = torch.linspace(0, 0.2, 32)[None, None, None, :].expand(1, 3, 32, 32)
    checker = 0.1 * ((torch.arange(32)[:, None] + torch.arange(32)[None, :]) % 2 * 2 - 1).float()
    assert d.by_frequency(truth + ramp, truth).first_share > 0.9
    assert d.by_frequency(truth + checker, truth).first_share < 0.01


def test_the_frequency_cutoff_means_the_same_layout_at_any_size():
    shares = []
    for side in (32, 224):
        x = torch.arange(side).expand(side, side)
        error = 0.1 * torch.cos(2 * torch.pi * 3 * x / side)  # 3 cycles across the image
        truth = torch.full((1, 3, side, side), 0.5)
        shares.append(d.by_frequency(truth + error, truth).first_share)
    assert shares == pytest.approx([1.0, 1.0])
    assert d.by_frequency(truth + error, truth, cycles=2).first_share == pytest.approx(0.0)


def test_region_split_finds_error_in_the_centre_or_the_background():
    truth = torch.rand(1, 3, 16, 16)
    mask = d.centre_mask(16)
    assert mask.sum() == 64
    assert d.centre_mask(8, 16).sum() == 4 * 8 and d.centre_mask(8, 16)[4, 8]
    inside = truth + 0.3 * mask
    assert d.by_region(inside, truth).first_share == pytest.approx(1.0)
    assert d.by_region(truth + 0.3 * ~mask, truth).first_share == pytest.approx(0.0)


def test_decompose_gives_shares_of_one_mse():
    reconstruction, truth = _pair(3)
    row = d.decompose(reconstruction, truth)
    assert row["mse"] == pytest.approx(mse(reconstruction, truth), rel=1e-5)
    assert row["red"] + row["green"] + row["blue"] == pytest.approx(1.0)
    assert all(0 <= row[key] <= 1 for key in ("cast", "low", "centre"))


def test_bad_input_is_refused_with_the_fix():
    truth = torch.rand(1, 3, 8, 8)
    with pytest.raises(ValueError, match="two .B, 3, H, W. images of one shape"):
        d.by_channel(torch.rand(1, 3, 8, 9), truth)
    with pytest.raises(ValueError, match="cycles must be positive"):
        d.by_frequency(truth, truth, cycles=0)
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        d.by_channel(torch.rand(1, 4, 8, 8), torch.rand(1, 4, 8, 8))
    with pytest.raises(ValueError, match="no results"):
        d.median_shares([])
    with pytest.raises(ValueError, match="the mask is"):
        d.by_region(truth, truth, torch.ones(4, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="differ in shape"):
        d.split_mse(torch.zeros(3), torch.zeros(4))


def test_decompose_reads_layout_and_region_on_the_picture_without_its_cast():
    truth = torch.rand(1, 3, 32, 32)
    checker = 0.05 * ((torch.arange(32)[:, None] + torch.arange(32)[None, :]) % 2 * 2 - 1).float()
    row = d.decompose(2.0 * truth + 0.3 + checker, truth)  # mostly cast, the rest fine detail
    assert row["cast"] > 0.9 and row["low"] < 0.05


def test_median_shares_are_the_medians_of_each_runs_shares():
    pairs = [_pair(seed) for seed in range(3)]
    results = [AttackResult(reconstruction=r, truth=t, label_true=[0, 1], label_pred=[0, 1],
                            history=[], attempts=[], final_mse=mse(r, t)) for r, t in pairs]
    medians = d.median_shares(results)
    assert medians["mse"] == pytest.approx(sorted(mse(r, t) for r, t in pairs)[1], rel=1e-5)
    assert set(medians) == {"mse", "red", "green", "blue", "cast", "low", "centre"}
