"""Attacks per minute one at a time and batched, and how much of the machine an evaluation uses.

Everything is measured side by side in this one run, so machine load affects all rows alike:

1. the machine's float32 matrix-multiply rate (a 2048 x 2048 product), the ceiling;
2. LeNet at 32 x 32, DLG in the report's setting and inverting gradients in its preset: attacks
   run one at a time with the engine (:class:`~dlg_helpers.attack.engine.Attack`), then K at
   once with the batched engine (:class:`~dlg_helpers.attack.batched.BatchedAttack`), each for
   the same few steps with no early stop, so that every row does the same work per attack, each
   on one thread (how a sweep runs, a shard per core) and on all, and each with every gradient
   formed ("direct") and with the linear layer's weight gradient matched through its factors
   ("structured", :mod:`~dlg_helpers.attack.structured`). Attacks per minute are for whole
   attacks (DLG's 300 steps, inverting gradients' 6,000), from the measured time per
   attack-step, against the fastest solo row and against the fastest solo row on as many
   threads; GFLOP/s per evaluation counts the objective's operations (PyTorch's FLOP counter);
3. L-BFGS on its own (a quadratic objective that costs next to nothing, with the history of
   100 pairs full, as it is for most of an attack): ``torch.optim.LBFGS`` on one problem and
   :class:`~dlg_helpers.attack.batched_optim.BatchedLBFGS` on K, per iteration. What the
   optimiser alone costs per attack-iteration bounds what batching can gain however fast the
   objective gets;
4. ResNet-18 at 224 x 224, one evaluation of the objective as the engine runs it, in the
   default memory format and in channels-last, direct and structured, on one thread and on all
   cores.

    python benchmarks/throughput.py                # about 15 minutes on 2 cores
    python benchmarks/throughput.py --ks 8 32 --steps 4 --no-resnet
"""

from __future__ import annotations

import argparse
import time
import warnings

import torch

from dlg_helpers.analysis.costs import flops_per_evaluation
from dlg_helpers.attack.batched import BatchedAttack
from dlg_helpers.attack.batched_optim import BatchedLBFGS
from dlg_helpers.attack.config import AttackConfig
from dlg_helpers.attack.engine import Attack, AttackDivergedWarning
from dlg_helpers.client.models import build_model
from dlg_helpers.client.victim import Victim, victim

IG_STEPS_PER_DLG_STEP = 20  # DLG's L-BFGS evaluations per step (max_iter), Adam's one
LENET_UNKNOWNS = 3 * 32 * 32 + 100  # DLG's variables on LeNet at 32 x 32: pixels and label logits


def matmul_rate(threads: int, side: int = 2048, repeats: int = 5) -> float:
    """GFLOP/s of a float32 ``side`` x ``side`` matrix product on ``threads`` threads."""
    torch.set_num_threads(threads)
    a, b = torch.randn(side, side), torch.randn(side, side)
    torch.mm(a, b)
    start = time.perf_counter()
    for _ in range(repeats):
        torch.mm(a, b)
    return 2 * side ** 3 * repeats / (time.perf_counter() - start) / 1e9


def lenet_clients(count: int) -> list[Victim]:
    """``count`` LeNet victims on distinct LFW faces, sharing one model (one server's weights)."""
    model = build_model("lenet", seed=0)
    clients = [victim("lenet", f"face-{i}") for i in range(count)]
    return [Victim(model, c.pixels, c.labels, c.normalisation) for c in clients]


def attack_config(attack: str, steps: int) -> AttackConfig:
    """``"dlg"`` (the report's L-BFGS) or ``"inverting-gradients"`` (signed Adam, cosine) for
    ``steps`` steps with no early stop and no snapshots, so every row does the same work."""
    if attack == "inverting-gradients":
        return AttackConfig.inverting_gradients(steps=steps, trials=1, snapshot_every=0,
                                                progress=False)
    return AttackConfig(steps=steps, match_ratio=0, patience=0, restarts=0, snapshot_every=0,
                        progress=False)


def lenet_rows(ks: list[int], steps: int, solo_runs: int, attack: str = "dlg"
               ) -> list[tuple[str, int, float, float]]:
    """(label, threads, seconds per attack-step, seconds per evaluation) for ``attack`` run one
    at a time and for each K, each on one thread and on all, each with every gradient formed
    (direct) and with the linear layer's matched through its factors (structured); the
    fastest solo row first."""
    config = attack_config(attack, steps)
    clients = lenet_clients(max(ks + [solo_runs]))
    solo, batched = [], []
    threads = torch.get_num_threads()
    # Both engines are measured on one thread (how a sweep runs: one shard per core) and on all
    # (one job taking the machine); the fastest way to run attacks one at a time is the baseline.
    for count in sorted({1, threads}):
        torch.set_num_threads(count)
        for structured in (False, True):
            start, evaluations = time.perf_counter(), 0
            for client in clients[:solo_runs]:
                evaluations += Attack.against(client, config,
                                              structured=structured).run().evaluations
            elapsed = time.perf_counter() - start
            form = "structured" if structured else "direct"
            solo.append((f"one at a time, {count} thr, {form}", count,
                         elapsed / (solo_runs * steps), elapsed / evaluations))
        for k in ks:
            for structured in (False, True):
                start = time.perf_counter()
                results = BatchedAttack(clients[:k], config, structured=structured).run()
                elapsed = time.perf_counter() - start
                form = "structured" if structured else "direct"
                batched.append((f"batched, K = {k}, {count} thr, {form}", count,
                                elapsed / (k * steps),
                                elapsed / sum(r.evaluations for r in results)))
    torch.set_num_threads(threads)
    return sorted(solo, key=lambda row: row[2]) + batched


def lbfgs_alone(ks: list[int], dim: int = LENET_UNKNOWNS, steps: int = 8,
                timed_from: int = 5) -> list[tuple[str, float]]:
    """(label, seconds per problem-iteration) of L-BFGS alone, one problem and K at once.

    The objective is a fixed quadratic (eigenvalues spread from 10^-3 to 1, so that 20
    iterations per step neither converge nor stop early); the report's settings (lr 1, 20
    iterations per step, history 100); timed over the steps after ``timed_from``, by which the
    history is full.
    """
    curvature = torch.logspace(-3, 0, dim)
    start = torch.randn(max(ks), dim, generator=torch.Generator().manual_seed(0))
    rows = []

    point = start[0].clone().requires_grad_(True)
    solo = torch.optim.LBFGS([point], lr=1.0, max_iter=20, history_size=100)
    counted = [0]

    def closure() -> torch.Tensor:
        counted[0] += 1
        solo.zero_grad()
        value = 0.5 * (curvature * point * point).sum()
        value.backward()
        return value

    for step in range(steps):
        if step == timed_from:
            clock, counted[0] = time.perf_counter(), 0
        solo.step(closure)
    rows.append(("torch.optim.LBFGS, one", (time.perf_counter() - clock) / counted[0]))

    for k in ks:
        batched = BatchedLBFGS(k, dim, lr=1.0, max_iter=20, history_size=100)
        points, counted[0] = start[:k].clone(), 0

        def evaluate(which: torch.Tensor, at: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            counted[0] += len(which)
            return 0.5 * (curvature * at * at).sum(1), curvature * at

        everyone = torch.arange(k)
        for step in range(steps):
            if step == timed_from:
                clock, counted[0] = time.perf_counter(), 0
            batched.step(everyone, points, evaluate)
        rows.append((f"BatchedLBFGS, K = {k}", (time.perf_counter() - clock) / counted[0]))
    return rows


def resnet_seconds(channels_last: bool, threads: int, structured: bool = True,
                   repeats: int = 3) -> float:
    """Seconds per evaluation of DLG's objective on ResNet-18 at 224 x 224 (batch 1)."""
    torch.set_num_threads(threads)
    client = victim("resnet18", "cat")
    if channels_last:
        client.model.to(memory_format=torch.channels_last)
    attack = Attack.against(client, AttackConfig(progress=False), structured=structured)
    dummy = torch.randn(client.inputs.shape)
    if channels_last:
        dummy = dummy.contiguous(memory_format=torch.channels_last)
    dummy.requires_grad_(True)
    logits = torch.randn(1, attack.num_classes, requires_grad=True)

    def evaluate() -> None:
        value, _ = attack.objective.evaluate(dummy, logits, create_graph=True)
        value.backward()

    evaluate()
    start = time.perf_counter()
    for _ in range(repeats):
        evaluate()
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ks", type=int, nargs="+", default=[8, 32, 128])
    parser.add_argument("--steps", type=int, default=6, help="steps each attack takes")
    parser.add_argument("--solo-runs", type=int, default=4, help="attacks run one at a time")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--no-resnet", action="store_true", help="skip the ResNet-18 rows")
    args = parser.parse_args()
    # Every attack here runs a few steps with no early stop, so some diverge; that is expected.
    warnings.filterwarnings("ignore", category=AttackDivergedWarning)
    cores = args.threads
    ceilings = {count: matmul_rate(count) for count in sorted({1, cores})}
    print("float32 matrix multiply: " + ", ".join(
        f"{rate:.0f} GFLOP/s on {count} thread(s)" for count, rate in ceilings.items()))

    torch.set_num_threads(cores)
    lenet_flops = flops_per_evaluation("lenet", 1, 32)
    # Inverting gradients takes one evaluation a step, DLG up to 20: IG_STEPS_PER_DLG_STEP times
    # the steps give both about the same work per row.
    for attack, steps, budget in (
            ("dlg", args.steps, AttackConfig().steps),
            ("inverting-gradients", args.steps * IG_STEPS_PER_DLG_STEP,
             AttackConfig.inverting_gradients().steps)):
        print(f"\nLeNet 32x32, {attack_config(attack, 1).name} ({lenet_flops / 1e9:.4f} GFLOP "
              f"per evaluation), {steps} steps per attack; attacks/min of its {budget:,} steps")
        rows = lenet_rows(sorted(args.ks), steps, args.solo_runs, attack)
        print(f"{'':38} {'attacks/min':>12} {'x solo':>7} {'x solo, same threads':>21} "
              f"{'GFLOP/s':>8} {'of matmul':>10}")
        fastest = rows[0][2]
        if attack == "dlg":
            solo_evaluation = rows[0][3]
        solo_by_threads: dict[int, float] = {}  # the fastest solo row on each number of threads
        for label, count, per_step, _ in rows:
            if label.startswith("one at a time"):
                solo_by_threads[count] = min(per_step, solo_by_threads.get(count, per_step))
        for label, count, per_step, per_evaluation in rows:
            rate = lenet_flops / per_evaluation / 1e9
            print(f"{label:38} {60 / (per_step * budget):12.1f} {fastest / per_step:7.1f} "
                  f"{solo_by_threads[count] / per_step:21.1f} {rate:8.1f} "
                  f"{rate / ceilings[count]:10.1%}")

    print(f"\nL-BFGS alone ({LENET_UNKNOWNS} variables, history 100 full), {cores} thread(s)")
    print(f"{'':38} {'ms/iteration':>12} {'ceiling':>8}")
    for label, seconds in lbfgs_alone(sorted(args.ks)):
        print(f"{label:38} {seconds * 1e3:12.3f} {solo_evaluation / seconds:7.1f}x")
    print("(ceiling: the fastest solo attack's time per evaluation over the optimiser's alone, "
          "the most batching can gain with an objective that costs nothing)")

    if args.no_resnet:
        return
    resnet_flops = flops_per_evaluation("resnet18", 1, 224)
    print(f"\nResNet-18 224x224, one DLG evaluation ({resnet_flops / 1e9:.1f} GFLOP)")
    print(f"{'':46} {'seconds':>8} {'GFLOP/s':>8} {'of matmul':>10}")
    for threads in sorted({1, cores}):
        for channels_last in (False, True):
            for structured in (False, True):
                seconds = resnet_seconds(channels_last, threads, structured)
                rate = resnet_flops / seconds / 1e9
                label = (f"{'channels-last' if channels_last else 'default layout'}, "
                         f"{threads} thread(s), {'structured' if structured else 'direct'}")
                print(f"{label:46} {seconds:8.2f} {rate:8.1f} {rate / ceilings[threads]:10.1%}")


if __name__ == "__main__":
    main()
