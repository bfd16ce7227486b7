"""Side-by-side speed of the attack engine and the original DLG loop, in one process.

For each seed, both attack the same LeNet (same weights) on the same image, one after the other,
so machine load affects them alike. Prints objective evaluations per second (over the steps both
ran, since late L-BFGS steps of a converged run are cheaper per evaluation), seconds until the
image MSE first falls below 1e-3, seconds until each finishes (the engine stops when done, the
original always runs its 300 steps), and the ratios. Both draw their first random start from the
same seed, so on seeds where the engine needs no restart they follow the same trajectory.

Because whole runs are long and the machine may be shared, the per-evaluation comparison is also
made in short alternating rounds: the same 20 steps from the same start (identical work), original
then engine, several times, and the median of the per-round ratios is reported.

    python benchmarks/engine_vs_original.py --image cat --seeds 0 1 2 3 4
"""

from __future__ import annotations

import argparse
import statistics

import torch

from dlg_helpers import AttackConfig, build_model, load_image, reconstruct, run_attack
from dlg_helpers.analysis.original import compare_with_original
from dlg_helpers.attack.baseline import original_dlg
from dlg_helpers.client.victim import Victim


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f}"


def alternating_rate_ratio(image: str, rounds: int = 7, steps: int = 20) -> float:
    """Median over rounds of (engine evaluations/s) / (original evaluations/s) on identical work."""
    sample = load_image(image, 32)
    model = build_model("lenet", seed=0)
    # No early stop and no restart, so the engine does exactly the original's 20 steps.
    config = AttackConfig(steps=steps, match_ratio=0, patience=0, restarts=0, snapshot_every=0,
                          progress=False)
    victim = Victim(model, sample.pixels, sample.label)
    ratios = []
    for _ in range(rounds):
        _, original = original_dlg(model, victim.share(), victim.ground_truth(), steps=steps,
                                   seed=0)
        engine = reconstruct(model, sample.pixels, sample.label, config)
        ratios.append((engine.evaluations / engine.wall_seconds)
                      / (original[-1].evaluations / original[-1].seconds))
    return statistics.median(ratios)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default="cat")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads for both (1 gives steadier timings on a shared machine)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    # Warm-up: the first attack pays for lazy imports and allocator growth.
    run_attack("lenet", args.image, AttackConfig(steps=2, progress=False), device="cpu")
    config = AttackConfig(steps=args.steps, progress=False)

    print(f"{'seed':>4} {'who':>8} {'evals/s':>8} {'s to MSE<1e-3':>14} {'s to finish':>11} "
          f"{'final MSE':>10}")
    runs = []
    for run in compare_with_original(args.image, args.seeds, config):
        runs.append(run)
        print(f"{run.seed:>4} {'original':>8} {run.original_rate_over_engine_steps():>8.1f} "
              f"{_seconds(run.original_seconds_to_threshold()):>14} "
              f"{run.original[-1].seconds:>11.1f} {run.original_mse:>10.2e}")
        print(f"{run.seed:>4} {'engine':>8} {run.engine_rate():>8.1f} "
              f"{_seconds(run.engine_seconds_to_threshold()):>14} "
              f"{run.engine.wall_seconds:>11.1f} {run.engine.final_mse:>10.2e}", flush=True)

    rate_ratio = (statistics.median(r.engine_rate() for r in runs)
                  / statistics.median(r.original_rate_over_engine_steps() for r in runs))
    print()
    print(f"reconstructed (MSE < 1e-3): original {sum(r.original_reconstructed for r in runs)}"
          f"/{len(runs)}, engine {sum(r.engine_reconstructed for r in runs)}/{len(runs)}")
    print(f"evaluations per second, engine / original (median over whole runs): {rate_ratio:.2f}")
    print(f"evaluations per second, engine / original (median of alternating 20-step rounds on "
          f"identical work): {alternating_rate_ratio(args.image):.2f}")
    both = [r for r in runs if r.original_reconstructed and r.engine_reconstructed]
    if both:
        finish = (statistics.median(r.original[-1].seconds for r in both)
                  / statistics.median(r.engine.wall_seconds for r in both))
        reach = (statistics.median(r.original_seconds_to_threshold() for r in both)
                 / statistics.median(r.engine_seconds_to_threshold() for r in both))
        print(f"over the {len(both)} seeds both reconstructed (medians):")
        print(f"  seconds to a finished reconstruction, original / engine: {finish:.2f}")
        print(f"  seconds to MSE < 1e-3, original / engine: {reach:.2f}")


if __name__ == "__main__":
    main()
