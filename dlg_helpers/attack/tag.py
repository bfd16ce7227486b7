"""TAG (Deng et al., 2021): text from a transformer's update by optimisation, as DLG does images.

The attacker guesses a batch of ``length``-token messages as a soft choice of token at each place
(a softmax over the vocabulary), feeds the model the matching mix of embeddings, and moves the
choice until the gradient it gives matches the shared one, in squared distance plus a share of
the absolute distance. Each place's most likely token is the answer. Unlike DAGER, nothing
checks the answer: what comes out is the optimiser's best guess, right or wrong.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import torch

from ..client.language_model import EOS, TextUpdate

__all__ = ["L1_SHARE", "TagResult", "tag"]

L1_SHARE = 0.01
"""The absolute distance's weight beside the squared one (TAG's mixed distance)."""


@dataclass(frozen=True)
class TagResult:
    """TAG's answer: each guessed message's tokens, the gradient distance at each step, and the
    time it took."""

    sequences: list[list[int]]
    distances: list[float]
    seconds: float


def tag(model: Any, update: TextUpdate, messages: int, length: int, steps: int = 200,
        lr: float = 0.1, seed: int = 0) -> TagResult:
    """Guess ``messages`` messages of ``length`` tokens each (each followed by the end token, as
    the client trains) whose gradient on ``model`` matches ``update``, by ``steps`` steps of Adam
    from a random soft choice drawn from ``seed``.

    Raises:
        KeyError: when ``update`` lacks the gradient of one of the model's trainable parameters.
    """
    start = time.perf_counter()
    named = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    missing = [name for name, _ in named if name not in update.gradients]
    if missing:
        raise KeyError(f"the update has no gradient of {missing[0]}: attack the model it came from")
    targets = [update.gradients[name] for name, _ in named]
    embedding = model.get_input_embeddings().weight
    vocabulary = embedding.shape[0]
    generator = torch.Generator().manual_seed(seed)
    scores = (0.1 * torch.randn(messages, length, vocabulary, generator=generator)).requires_grad_()
    end = torch.zeros(messages, 1, vocabulary)
    end[..., EOS] = 1.0
    optimiser = torch.optim.Adam([scores], lr=lr)
    distances = []
    for _ in range(steps):
        optimiser.zero_grad()
        choice = torch.cat([scores.softmax(-1), end], dim=1)  # (messages, length + 1, vocabulary)
        logits = model(inputs_embeds=choice @ embedding).logits
        loss = -(choice[:, 1:] * logits[:, :-1].log_softmax(-1)).sum(-1).mean()
        grads = torch.autograd.grad(loss, [p for _, p in named], create_graph=True)
        distance = sum(((g - t) ** 2).sum() + L1_SHARE * (g - t).abs().sum()
                       for g, t in zip(grads, targets))
        distance.backward()
        optimiser.step()
        distances.append(float(distance.detach()))
    return TagResult(scores.argmax(-1).tolist(), distances, time.perf_counter() - start)
