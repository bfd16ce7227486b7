"""The original DLG loop beside the engine: the same LeNet, image and seed, each run judged by
the one threshold of what counts as reconstructed exactly."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from tqdm import tqdm

from ..attack.baseline import BaselineStep
from ..attack.config import AttackConfig
from ..attack.engine import reconstruct
from ..attack.trace import AttackResult
from ..client.images import load_image
from ..client.models import build_model, get_spec
from ..measures.criteria import RECONSTRUCTED_MSE
from ..runs.store import load_or_run_original

__all__ = ["OriginalVsEngine", "compare_with_original"]


@dataclass(frozen=True)
class OriginalVsEngine:
    """The original DLG loop and the engine, run on the same LeNet, image and seed."""

    seed: int
    original: list[BaselineStep]
    engine: AttackResult
    threshold: float = RECONSTRUCTED_MSE

    @property
    def original_mse(self) -> float:
        return self.original[-1].mse

    @property
    def original_reconstructed(self) -> bool:
        return self.original_mse < self.threshold

    @property
    def engine_reconstructed(self) -> bool:
        return self.engine.final_mse < self.threshold and self.engine.label_correct

    def original_seconds_to_threshold(self) -> float | None:
        return next((s.seconds for s in self.original if s.mse < self.threshold), None)

    def engine_seconds_to_threshold(self) -> float | None:
        return next((r.seconds for r in self.engine.history if r.mse < self.threshold), None)

    def original_rate_over_engine_steps(self) -> float:
        """Evaluations per second of the original over as many steps as the engine took.

        Late steps of a converged L-BFGS run skip the direction update and are cheaper per
        evaluation, so rates are compared over the same stretch of steps.
        """
        step = self.original[min(self.engine.steps, len(self.original)) - 1]
        return step.evaluations / step.seconds

    def engine_rate(self) -> float:
        return self.engine.evaluations / self.engine.wall_seconds


def compare_with_original(image: str, seeds: Iterable[int],
                          config: AttackConfig = AttackConfig(),
                          engine_runs: Mapping[int, AttackResult] | None = None,
                          results_dir: str | Path | None = None, *, recompute: bool = False
                          ) -> list[OriginalVsEngine]:
    """For each seed, the original loop (``config.steps`` steps) and the engine on LeNet (seeded
    weights).

    Both draw their first random start from the seed, so the engine follows the original's
    trajectory until it stops or restarts. ``engine_runs`` gives the engine's run of a seed
    when it is already at hand (a stored run of ``config`` with that seed); the rest are
    computed. The original's history is read from ``results_dir`` when stored there (and not
    ``recompute``), else computed and stored there
    (:func:`~dlg_helpers.runs.store.load_or_run_original`); with no ``results_dir`` it is
    computed and kept in memory only.
    """
    sample = load_image(image, get_spec("lenet").image_size)
    known = engine_runs or {}
    comparisons = []
    for seed in tqdm(list(seeds), desc="original vs engine", unit="seed", mininterval=1.0):
        original = load_or_run_original(image, seed, config.steps, results_dir,
                                        recompute=recompute, save=results_dir is not None)
        engine = known[seed] if seed in known else reconstruct(
            build_model("lenet", seed=seed), sample.pixels, sample.label, replace(config, seed=seed))
        comparisons.append(OriginalVsEngine(seed=seed, original=original, engine=engine))
    return comparisons
