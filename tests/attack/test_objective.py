"""The gradient distances the attacks match."""

import pytest
import torch

import dlg_helpers as dlg
from dlg_helpers.attack.objective import cosine_distance


def test_gradient_distance():
    a = [torch.ones(2, 2), torch.zeros(3)]
    b = [torch.zeros(2, 2), torch.full((3,), 2.0)]
    assert dlg.gradient_distance(a, a) == 0
    assert dlg.gradient_distance(a, b) == pytest.approx(4 + 12)
    with pytest.raises(ValueError):
        dlg.gradient_distance(a, b[:1])


def test_cosine_distance_sees_direction_not_size():
    a = [torch.tensor([1.0, 2.0]), torch.tensor([[3.0]])]
    assert float(cosine_distance(a, [5 * g for g in a])) == pytest.approx(0, abs=1e-6)
    assert float(cosine_distance(a, [-g for g in a])) == pytest.approx(2)
    orthogonal = [torch.tensor([2.0, -1.0]), torch.tensor([[0.0]])]
    assert float(cosine_distance(a, orthogonal)) == pytest.approx(1)
