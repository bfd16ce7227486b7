"""What a client may do to its gradient before sharing it."""

from __future__ import annotations

import math

import pytest
import torch

import dlg_helpers as dlg
from dlg_helpers.attack.config import AttackConfig
from dlg_helpers.attack.engine import Attack
from dlg_helpers.client.defences import (
    DPSGD,
    Composed,
    GaussianNoise,
    LaplacianNoise,
    MagnitudePruning,
    ReducedPrecision,
    dp_compatible,
    dp_epsilon,
    parse_defence,
)
from dlg_helpers.client.victim import Victim


@pytest.fixture()
def batch():
    generator = torch.Generator().manual_seed(0)
    return torch.rand(2, 3, 32, 32, generator=generator), torch.tensor([3, 58])


def _plain(model, batch):
    return dlg.shared_gradient(model, *batch)


def _flat(gradient):
    return torch.cat([g.flatten() for g in gradient])


@pytest.mark.parametrize("defence", [GaussianNoise(1e-2), LaplacianNoise(1e-2)])
def test_noise_has_mean_zero_and_the_stated_variance(lenet, batch, defence):
    noise = _flat(defence.share(lenet, *batch)) - _flat(_plain(lenet, batch))
    assert noise.numel() > 80_000
    assert float(noise.mean()) == pytest.approx(0, abs=1e-3)
    assert float(noise.var()) == pytest.approx(1e-2, rel=0.02)


def test_laplacian_noise_has_laplacian_tails(lenet, batch):
    # Kurtosis: 3 for a Gaussian, 6 for a Laplacian.
    for defence, kurtosis in ((GaussianNoise(1.0), 3), (LaplacianNoise(1.0), 6)):
        noise = _flat(defence.share(lenet, *batch)) - _flat(_plain(lenet, batch))
        measured = float(((noise - noise.mean()) ** 4).mean() / noise.var() ** 2)
        assert measured == pytest.approx(kurtosis, rel=0.1)


def test_noise_is_repeatable_by_seed(lenet, batch):
    defence = GaussianNoise(1e-3)
    assert torch.equal(_flat(defence.share(lenet, *batch, seed=4)),
                       _flat(defence.share(lenet, *batch, seed=4)))
    assert not torch.equal(_flat(defence.share(lenet, *batch, seed=4)),
                           _flat(defence.share(lenet, *batch, seed=5)))


@pytest.mark.parametrize("keep", [0.9, 0.1, 0.01])
def test_pruning_keeps_the_largest_fraction_of_each_tensor(lenet, batch, keep):
    plain = _plain(lenet, batch)
    for before, after in zip(plain, MagnitudePruning(keep).share(lenet, *batch)):
        kept = after != 0
        assert int(kept.sum()) == max(1, round(keep * before.numel()))
        assert torch.equal(after[kept], before[kept])  # survivors are untouched
        if not kept.all():
            assert before[kept].abs().min() >= before[~kept].abs().max()


def test_reduced_precision_rounds_to_the_format(lenet, batch):
    plain = _flat(_plain(lenet, batch))
    for precision, dtype in (("float16", torch.float16), ("bfloat16", torch.bfloat16)):
        shared = _flat(ReducedPrecision(precision).share(lenet, *batch))
        assert torch.equal(shared, plain.to(dtype).float())
        assert not torch.equal(shared, plain)
    for before, after in zip(_plain(lenet, batch), ReducedPrecision("int8").share(lenet, *batch)):
        step = before.abs().max() / 127
        levels = after / step
        assert torch.allclose(levels, levels.round(), atol=1e-3)  # on the 8-bit grid
        assert float((after - before).abs().max()) <= float(step) / 2 * 1.001
        assert len(levels.round().unique()) <= 255


def test_dpsgd_without_noise_or_clipping_is_the_plain_gradient(lenet, batch):
    shared = _flat(DPSGD(0.0, max_grad_norm=1e9).share(lenet, *batch))
    assert torch.allclose(shared, _flat(_plain(lenet, batch)), atol=1e-6)


def test_dpsgd_clips_each_example_and_adds_noise_of_the_stated_scale(lenet, batch):
    images, labels = batch
    clipped = _flat(DPSGD(0.0, max_grad_norm=0.5).share(lenet, images, labels))
    # Each example's gradient is clipped to norm 0.5, then the batch is averaged.
    per_example = [_flat(dlg.shared_gradient(lenet, images[i:i + 1], labels[i:i + 1]))
                   for i in range(2)]
    expected = sum(g * min(1.0, 0.5 / float(g.norm())) for g in per_example) / 2
    assert torch.allclose(clipped, expected, atol=1e-5)
    noisy = _flat(DPSGD(2.0, max_grad_norm=0.5).share(lenet, images, labels))
    # Noise of std noise_multiplier * max_grad_norm, divided by the batch of 2.
    assert float((noisy - clipped).std()) == pytest.approx(2.0 * 0.5 / 2, rel=0.02)


def test_dpsgd_leaves_the_model_as_it_found_it(lenet, batch):
    before = _flat(_plain(lenet, batch))
    DPSGD(1.0).share(lenet, *batch)
    assert all(not m._forward_hooks and not m._backward_hooks for m in lenet.modules())
    assert torch.equal(_flat(_plain(lenet, batch)), before)


def test_dpsgd_refuses_batch_norm_and_names_the_fix(batch):
    resnet = dlg.build_model("resnet18", seed=0)
    with pytest.raises(ValueError, match=r"batch norm.*dp_compatible\(model\)"):
        DPSGD(1.0).share(resnet, *batch)
    fixed = dp_compatible(resnet)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fixed.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in resnet.modules())  # untouched
    assert len(DPSGD(1.0).share(fixed, *batch)) == len(list(fixed.parameters()))


def test_epsilon_from_opacus_accounting():
    # Abadi et al.'s MNIST setting: noise 1.1, batches of 256 from 60,000, 10 epochs: about 1.1.
    epsilon = dp_epsilon(1.1, 256 / 60_000, 60_000 // 256 * 10, delta=1e-5)
    assert 0.9 < epsilon < 1.3
    assert dp_epsilon(2.0, 0.01, 100) < dp_epsilon(1.0, 0.01, 100) < dp_epsilon(1.0, 0.01, 1000)
    assert dp_epsilon(0.0, 0.01, 10) == math.inf
    with pytest.raises(ValueError, match="sample_rate"):
        dp_epsilon(1.0, 0.0, 10)


def test_composed_defences_apply_in_order(lenet, batch):
    composed = MagnitudePruning(0.1) + GaussianNoise(1e-4)
    assert isinstance(composed, Composed) and composed.text() == "prune:0.1+gaussian:0.0001"
    shared = _flat(composed.share(lenet, *batch))
    assert float((shared == 0).float().mean()) == 0  # noise after pruning fills the zeros
    reversed_order = _flat((GaussianNoise(1e-4) + MagnitudePruning(0.1)).share(lenet, *batch))
    assert float((reversed_order == 0).float().mean()) > 0.85
    with pytest.raises(ValueError, match="DP-SGD.*must come first"):
        GaussianNoise(1e-4) + DPSGD(1.0)


def test_text_round_trips():
    for text in ("gaussian:0.001", "laplacian:0.1", "prune:0.01", "precision:bfloat16",
                 "dpsgd:1.0", "dpsgd:1.0:0.5", "prune:0.1+gaussian:0.0001"):
        assert parse_defence(text).text() == text
    assert parse_defence("gaussian:1e-3") == GaussianNoise(1e-3)


@pytest.mark.parametrize("text, message", [
    ("gaussian:-1", "variance must be a finite number >= 0"),
    ("laplacian:nan", "variance must be a finite number >= 0"),
    ("prune:1.5", r"keep is the fraction of gradient entries shared, in \(0, 1\]"),
    ("prune:0", r"in \(0, 1\]"),
    ("precision:int4", "unknown precision 'int4'; use one of float16, bfloat16, int8"),
    ("dpsgd:-0.5", "noise_multiplier must be a finite number >= 0"),
    ("dpsgd:1:0", "max_grad_norm must be positive"),
    ("blur:3", "cannot read the defence 'blur:3'.*gaussian:1e-3"),
    ("gaussian", "cannot read the defence 'gaussian'"),
    ("gaussian:lots", "cannot read the defence 'gaussian:lots'"),
    ("batch:4", "'batch:4' is not a change of the gradient: attack a batch of images"),
])
def test_bad_defences_are_refused_with_the_fix(text, message):
    with pytest.raises(ValueError, match=message):
        parse_defence(text)


def test_an_attack_sees_the_defended_gradient_and_remembers_it(lenet, cat, tmp_path):
    config = AttackConfig(steps=2, progress=False)
    defence = GaussianNoise(1e-2)
    attack = Attack.against(Victim(lenet, cat.pixels, cat.label, defence=defence,
                                   noise_seed=config.seed), config)
    expected = defence.share(lenet, cat.pixels, torch.tensor([cat.label]), seed=config.seed)
    assert all(torch.equal(a, b) for a, b in zip(attack.objective.shared, expected))
    path = tmp_path / "attack.pt"
    result = attack.run(checkpoint=path)
    assert result.defence == "gaussian:0.01"
    with pytest.raises(ValueError, match="against the defence gaussian:0.01, not None"):
        Attack.resume(path, Victim(lenet, cat.pixels, cat.label), config)


def test_a_defended_run_is_stored_and_found_by_its_defence(tmp_path, capsys):
    import shlex

    from dlg_helpers.cli import main
    from dlg_helpers.runs.spec import RunSpec
    from dlg_helpers.runs.store import find_record

    spec = RunSpec("lenet", ("coffee",), AttackConfig(steps=2, progress=False),
                   defence="prune:0.1+gaussian:1e-4")
    out = tmp_path / "lenet" / spec.folder_name
    assert out.name.startswith("coffee-seed0-prune=0.1+gaussian=0.0001-")
    assert main(shlex.split(spec.command(out))[3:] + ["--no-progress"]) == 0
    assert find_record(spec, tmp_path)[0] == out
    undefended = RunSpec("lenet", ("coffee",), AttackConfig(steps=2, progress=False))
    assert find_record(undefended, tmp_path)[0] is None
    with pytest.raises(SystemExit):
        main(["attack", "--defence", "blur:3", "--out", str(tmp_path / "x")])
    assert "cannot read the defence 'blur:3'" in capsys.readouterr().err
