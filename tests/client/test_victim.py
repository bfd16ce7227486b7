"""The victim and the attacker are separate: the attack works from the shared update and the
public model alone, and the truth reaches the metrics only through the observer."""

from __future__ import annotations

import pytest
import torch

from dlg_helpers.attack.config import AttackConfig
from dlg_helpers.attack.engine import Attack
from dlg_helpers.client.defences import parse_defence
from dlg_helpers.client.gradients import shared_gradient
from dlg_helpers.client.victim import SharedUpdate, Victim
from dlg_helpers.measures.observer import GroundTruth

CONFIG = AttackConfig(steps=6, progress=False)


class Blindfold(GroundTruth):
    """An observer that reports nonsense and counts what it was shown."""

    def __init__(self, pixels: torch.Tensor, labels: torch.Tensor) -> None:
        super().__init__(pixels, labels)
        self.shown = 0

    def measure(self, image: torch.Tensor) -> tuple[float, float]:
        self.shown += 1
        return 123.0, 456.0


def test_the_update_holds_the_gradient_and_the_public_facts_only(lenet, cat):
    update = Victim(lenet, cat.pixels, cat.label).share()
    assert update.examples == 1 and update.input_shape == (1, 3, 32, 32)
    assert update.defence is None
    direct = shared_gradient(lenet, cat.pixels, torch.tensor([cat.label]))
    assert all(torch.equal(ours, theirs)  # LeNet's normalisation is the identity
               for ours, theirs in zip(update.gradient, direct))
    defended = Victim(lenet, cat.pixels, cat.label, defence=parse_defence("prune:0.1")).share()
    assert defended.defence == "prune:0.1"


def test_the_truth_never_steers_the_attack(lenet, cat):
    victim = Victim(lenet, cat.pixels, cat.label)
    honest = Attack(lenet, victim.share(), CONFIG, observer=victim.ground_truth()).run()
    blind = Blindfold(victim.pixels, victim.labels)
    fooled = Attack(lenet, victim.share(), CONFIG, observer=blind).run()
    # the observer's numbers go into the trace and nowhere else
    assert [r.grad_distance for r in fooled.history] == [r.grad_distance for r in honest.history]
    assert torch.equal(fooled.reconstruction, honest.reconstruction)
    assert blind.shown == len(fooled.history) and {r.mse for r in fooled.history} == {123.0}
    assert fooled.truth.shape == cat.pixels.shape  # filed beside the truth by the observer


def test_an_update_from_outside_the_victim_is_attacked_the_same(lenet, cat):
    """The seam a federated server plugs into: a gradient that arrived from elsewhere."""
    victim = Victim(lenet, cat.pixels, cat.label)
    arrived = SharedUpdate(gradient=[g.clone() for g in victim.share().gradient], examples=1,
                           input_shape=(1, 3, 32, 32))
    direct = Attack.against(victim, CONFIG).run()
    outside = Attack(lenet, arrived, CONFIG, observer=victim.ground_truth()).run()
    assert torch.equal(outside.reconstruction, direct.reconstruction)
    assert outside.label_pred == direct.label_pred


def test_known_labels_must_be_given_and_idlg_refuses_repeated_labels(lenet, cat):
    victim = Victim(lenet, cat.pixels, cat.label)
    with pytest.raises(ValueError, match="pass known_labels"):
        Attack(lenet, victim.share(), AttackConfig(label_mode="known"),
               observer=victim.ground_truth())
    pair = Victim(lenet, torch.rand(2, 3, 32, 32), [4, 4])
    with pytest.raises(ValueError, match="distinct.*'joint' or 'known'"):
        Attack.against(pair, AttackConfig(label_mode="idlg"))
    with pytest.raises(ValueError, match=r"shape \(B, 3, H, W\)"):
        Victim(lenet, torch.rand(3, 32, 32), 0)
