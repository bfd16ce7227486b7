"""The text chapter's measurements, each stored as one table and resumable.

``python -m dlg_helpers.runs.text_plan NAME ...`` computes each named measurement into
``results/text/NAME.parquet``, one row per attack: DAGER (:func:`~dlg_helpers.attack.dager.dager`)
on the update of a GPT-2 client (:mod:`~dlg_helpers.client.language_model`) that fine-tunes on a
batch of private messages drawn fresh for each trial, scored against them afterwards
(:func:`~dlg_helpers.measures.text_recovery.score_text`), with the attack's time on this CPU. An
interrupted run resumes from the rows it wrote (:class:`~dlg_helpers.runs.table.ResumableTable`).

- ``batch``: batches of 1 to 128 messages (:data:`BATCHES`);
- ``length``: four messages cut to 8 to 64 tokens each (:data:`LENGTHS`);
- ``noise``: Gaussian noise on the update, as a share of its entries' spread (:data:`NOISES`);
- ``lora``: LoRA adapters of rank 4 to 256 (:data:`LORA_RANKS`), one update;
- ``dp``: one DP-SGD step (per-message clipping, Opacus) at a release ε of 1 to 1,000
  (:data:`DP_EPSILONS`).

The chapter loads the tables with :func:`load_measurement` and reads the rates with their
intervals from them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..attack.dager import dager
from ..client.defences import release_noise
from ..client.language_model import (dp_text_update, encode, from_tokens, gpt2_tokenizer,
                                     private_messages, private_passages, text_model, text_update,
                                     with_lora, with_noise)
from ..measures.text_recovery import score_text
from .table import ResumableTable, plan_main, read_table

__all__ = ["FOLDER", "TRIALS", "BATCHES", "LENGTHS", "LENGTH_BATCH", "NOISES", "NOISE_BATCH",
           "LORA_RANKS", "LORA_BATCH", "DP_EPSILONS", "DP_BATCH", "DP_CLIP", "MEASUREMENTS",
           "attack_row", "load_measurement", "main"]

FOLDER = Path("results") / "text"

TRIALS = 5
"""Batches of fresh messages per setting, each under its own model weights."""

BATCHES = (1, 2, 4, 8, 16, 32, 64, 128)
LENGTHS = (8, 16, 32, 64)
LENGTH_BATCH = 4
NOISES = (1e-4, 1e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0)
"""Standard deviations of the noise, as shares of the spread of the update's entries (of the
first block's attention weights, where the attack reads)."""
NOISE_BATCH = 4
LORA_RANKS = (4, 8, 16, 32, 64, 128, 256)
LORA_BATCH = 4
DP_EPSILONS = (1.0, 2.0, 5.0, 10.0, 100.0, 1000.0)
"""The ε of the one DP-SGD release the server sees (δ = 1e-5): the issue's 1 to 10, and two
looser budgets that show how far the noise must shrink before anything leaks."""
DP_BATCH = 4
DP_CLIP = 1.0


def attack_row(batch: Any, seed: int, *, noise_share: float = 0.0,
               lora_rank: int | None = None, epsilon: float | None = None) -> dict[str, Any]:
    """One attack, scored: the update of ``batch`` from a GPT-2 drawn from ``seed`` (with LoRA
    adapters of ``lora_rank``, noise of ``noise_share`` of the update's spread, or one DP-SGD
    step at a release ``epsilon``), DAGER on it, and how much came back."""
    model = text_model(seed=seed)
    if lora_rank is not None:
        model = with_lora(model, lora_rank, seed=seed)
    noise = 0.0
    if epsilon is not None:
        update = dp_text_update(model, batch, noise_multiplier=release_noise(epsilon),
                                clip=DP_CLIP, seed=seed)
        noise = update.noise
    else:
        update = text_update(model, batch)
        if noise_share:  # noise in units of the first block's entries, where the attack reads
            spread = float(next(g for name, g in update.gradients.items()
                                if "h.0.attn.c_attn" in name).std())
            noise = noise_share * spread
            update = with_noise(update, noise, seed)
    result = dager(model, update)
    score = score_text(result.sequences, batch.sequences)
    return {"exact": score.exact, "sentences": score.sentences, "tokens": score.tokens,
            "total_tokens": score.total_tokens, "seconds": result.seconds,
            "first_rank": result.ranks[0], "second_rank": result.ranks[1],
            "overflowed": result.overflowed, "noise": noise}


def _run(name: str, settings: list[dict[str, Any]], make: Callable[[dict[str, Any], int], dict],
         folder: Path, log: Callable[[str], None]) -> Path:
    table = ResumableTable(Path(folder) / f"{name}.parquet")
    for setting in settings:
        for trial in range(TRIALS):
            if table.has(**setting, trial=trial):
                continue
            row = {**setting, "trial": trial, **make(setting, trial)}
            table.add([row])
            log(f"{name} {setting} trial {trial}: {row['exact']} of {row['sentences']} exact, "
                f"{row['seconds']:.0f} s")
    return table.finish()


def batch(folder: Path = FOLDER, log: Callable[[str], None] = print) -> Path:
    """Exact recovery against the number of messages in the batch."""
    tokenizer = gpt2_tokenizer()
    return _run("batch", [{"batch": b} for b in BATCHES], lambda s, t: attack_row(
        encode(tokenizer, private_messages(s["batch"], seed=1000 * s["batch"] + t)), t), folder, log)


def length(folder: Path = FOLDER, log: Callable[[str], None] = print) -> Path:
    """Exact recovery against the messages' length in tokens."""
    return _run("length", [{"length": n} for n in LENGTHS], lambda s, t: attack_row(
        from_tokens(private_passages(LENGTH_BATCH, s["length"], seed=1000 * s["length"] + t)),
        t), folder, log)


def noise(folder: Path = FOLDER, log: Callable[[str], None] = print) -> Path:
    """Exact recovery against Gaussian noise on the update."""
    tokenizer = gpt2_tokenizer()
    return _run("noise", [{"noise_share": v} for v in NOISES], lambda s, t: attack_row(
        encode(tokenizer, private_messages(NOISE_BATCH, seed=7000 + t)), t,
        noise_share=s["noise_share"]), folder, log)


def lora(folder: Path = FOLDER, log: Callable[[str], None] = print) -> Path:
    """Exact recovery against the rank of the client's LoRA adapters."""
    tokenizer = gpt2_tokenizer()
    return _run("lora", [{"lora_rank": r} for r in LORA_RANKS], lambda s, t: attack_row(
        encode(tokenizer, private_messages(LORA_BATCH, seed=9000 + t)), t,
        lora_rank=s["lora_rank"]), folder, log)


def dp(folder: Path = FOLDER, log: Callable[[str], None] = print) -> Path:
    """Exact recovery against the ε of one DP-SGD step."""
    tokenizer = gpt2_tokenizer()
    return _run("dp", [{"epsilon": e} for e in DP_EPSILONS], lambda s, t: attack_row(
        encode(tokenizer, private_messages(DP_BATCH, seed=11000 + t)), t,
        epsilon=s["epsilon"]), folder, log)


MEASUREMENTS: dict[str, Callable[..., Path]] = {"batch": batch, "length": length, "noise": noise,
                                                "lora": lora, "dp": dp}
"""The chapter's measurements, by table name."""


def load_measurement(name: str, folder: Path = FOLDER) -> Any:
    """The stored table ``name`` as a pandas DataFrame.

    Raises:
        FileNotFoundError: naming the command that makes it.
    """
    return read_table(folder, name, "python -m dlg_helpers.runs.text_plan")


def main(argv: list[str] | None = None) -> int:
    """Compute the measurements named on the command line."""
    return plan_main("python -m dlg_helpers.runs.text_plan", __doc__.split("\n\n")[0],
                     MEASUREMENTS, FOLDER, argv)


if __name__ == "__main__":
    raise SystemExit(main())
