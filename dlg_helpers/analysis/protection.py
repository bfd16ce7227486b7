"""What a defence buys and what it costs: attacks under each defence, training with each, and
the ranking that answers the report's research question 5 with numbers.

Each attack under each defence is a stored run (:mod:`~dlg_helpers.runs.store`), so a chapter
reloads
hundreds of them in seconds; ``python -m dlg_helpers sweep`` computes them in the background.
"""

from __future__ import annotations

import hashlib
import json
import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import torch
from IPython.display import Markdown

from ..attack.config import AttackConfig
from ..book.tables import markdown_table
from ..client.defences import Composed, parse_defence
from ..client.images import image_names
from ..client.training import TrainingConfig, train
from ..client.victim import victim
from ..devices import pick_device
from ..runs.spec import RunSpec
from ..runs.store import load_or_run, stored_result
from .comparison import group_summary, missing_note
from .criteria import PROTECTED_SSIM
from .rows import result_row

__all__ = ["NAMED_DEFENCES", "findings", "NO_DEFENCE", "BATCH", "split_batch", "private_batch", "describe_defence",
           "attack_outcomes", "median_outcomes", "stopping_settings", "TRAINING_SEEDS",
           "training_costs", "stored_training_costs", "protection_ranking", "outcome_table",
           "ranking_table", "gradient_changes", "gradient_change_table"]


NO_DEFENCE = "none"


BATCH = "batch"




def split_batch(text: str) -> tuple[int, str | None]:
    """A client setting split into its batch size and its gradient defence.

    ``batch:B`` is the one defence that is not a change of the gradient: the client shares the
    mean gradient of B private images, which the attacker must untangle.
    ``"batch:4+gaussian:1e-3"`` gives ``(4, "gaussian:1e-3")``, ``"prune:0.1"`` gives
    ``(1, "prune:0.1")``, ``"batch:8"`` and ``"none"`` give ``(8, None)`` and ``(1, None)``.

    Raises:
        ValueError: for a batch size that is not a whole number of at least 1, or two of them.
    """
    if text == NO_DEFENCE:
        return 1, None
    pieces = [piece.strip() for piece in text.split("+")]
    batches = [piece for piece in pieces if piece.partition(":")[0] == BATCH]
    if len(batches) > 1:
        raise ValueError(f"{text!r} gives the batch size twice; keep one batch:B")
    size = 1
    if batches:
        words = batches[0].split(":")
        if len(words) != 2 or not words[1].isdigit() or int(words[1]) < 1:
            raise ValueError(f"cannot read {batches[0]!r}: write batch:B with B a whole number of "
                             "at least 1 (the private images per shared gradient), e.g. batch:4")
        size = int(words[1])
    rest = [piece for piece in pieces if piece not in batches]
    return size, "+".join(rest) if rest else None


def private_batch(image: str, batch_size: int, pool: Sequence[str] | None = None
                  ) -> tuple[str, ...]:
    """The private batch of a client holding ``image``: it first, then the first other images of
    ``pool`` (default: the shipped photographs, :func:`~dlg_helpers.client.images.image_names`).

    Raises:
        ValueError: when the pool has too few other images for the batch.
    """
    others = [name for name in (image_names() if pool is None else pool) if name != image]
    if batch_size - 1 > len(others):
        raise ValueError(f"a batch of {batch_size} needs {batch_size - 1} images besides "
                         f"{image!r}; the pool has {len(others)}: pass a larger pool")
    return (image, *others[:batch_size - 1])


def describe_defence(text: str) -> tuple[str, str]:
    """``(family, strength)`` of a client setting's text: ``("gaussian", "0.001")``,
    ``("batch", "4")``; ``("none", "")`` for no defence, ``("composed", text)`` for several."""
    batch_size, gradient_defence = split_batch(text)
    if gradient_defence is None:
        return (NO_DEFENCE, "") if batch_size == 1 else (BATCH, str(batch_size))
    defence = parse_defence(gradient_defence)
    if batch_size > 1:
        return "composed", f"{BATCH}:{batch_size}+{defence.text()}"
    if isinstance(defence, Composed):
        return "composed", defence.text()
    return defence.name, defence.text().split(":", 1)[1]


def attack_outcomes(model: str, images: Sequence[str], defences: Sequence[str],
                    attacks: Mapping[str, AttackConfig], results_dir: str | Path, *,
                    seed: int = 0, size: int | None = None, recompute: bool | None = False,
                    compute_missing: bool = True,
                    device: str | None = None) -> list[dict[str, Any]]:
    """Every attack on every image under every defence: one row each
    (:func:`~dlg_helpers.analysis.rows.result_row`, with the attack, defence, its family and
    strength, and the image).

    Under ``batch:B`` the client's batch is the image and B - 1 others (:func:`private_batch`);
    it is judged by its best-recovered image (the row's ``best_*``), its label right when every
    label of the batch is.

    Args:
        model: registered model name.
        images: the private images, attacked one at a time.
        defences: defence texts (:func:`~dlg_helpers.client.defences.parse_defence`, and
        ``batch:B``,
            :func:`split_batch`), or ``"none"``.
        attacks: a name for each attack's settings, e.g. ``{"DLG": AttackConfig()}``.
        results_dir: the stored runs; missing ones are computed and stored.
        seed: seed of the weights and of each attack's random start.
        size: image side in pixels (None: the model's own).
        recompute, device: as :func:`~dlg_helpers.runs.store.load_or_run`.
        compute_missing: False leaves out the runs not stored (unless recomputing) and prints
            the command that makes each: for models whose attacks take hours on a CPU.
    """
    rows = []
    stored = computed = 0
    missing: list[str] = []
    if recompute is None:
        recompute = pick_device(device).type == "cuda"
    for attack, config in attacks.items():
        for defence in defences:
            family, strength = describe_defence(defence)
            batch_size, gradient_defence = split_batch(defence)
            for image in images:
                spec = RunSpec(model, private_batch(image, batch_size), replace(config, seed=seed),
                               size, defence=gradient_defence)
                result = None if recompute else stored_result(spec, results_dir, quiet=True)
                if result is None and not (recompute or compute_missing):
                    missing.append(spec.command(spec.folder(results_dir)))
                    continue
                stored, computed = stored + (result is not None), computed + (result is None)
                if result is None:
                    result = load_or_run(spec, results_dir, recompute=recompute, device=device,
                                         save=True, quiet=True)
                rows.append({"attack": attack, "defence": defence, "family": family,
                             "strength": strength, "image": image, **result_row(result)})
    print(f"{model}: {stored} stored runs loaded, {computed} computed, {len(missing)} missing "
          f"({len(attacks)} attacks x {len(defences)} defences x {len(images)} images)")
    if missing:
        print(missing_note(missing))
    return rows


def median_outcomes(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per (attack, defence), in first-seen order (the summariser's groups): the
    median MSE, PSNR and SSIM over the images of each run's best-recovered image, and the share
    of them whose label was recovered."""
    return [{"attack": attack, "defence": defence, **dict(zip(("family", "strength"),
                                                             describe_defence(defence))),
             "images": summary["runs"], "mse": summary["best_mse_median"],
             "psnr": summary["best_psnr_median"], "ssim": summary["best_ssim_median"],
             "labels_right": summary["labels_right"] / summary["runs"]}
            for summary in group_summary(rows, by=("attack", "defence"))
            for attack, defence in [summary["group"]]]


def _worst_ssim(medians: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Each setting's highest median SSIM over the attacks (what its best attacker recovers),
    settings in first-seen order."""
    worst: dict[str, float] = {}
    for row in medians:
        worst[row["defence"]] = max(worst.get(row["defence"], -math.inf), row["ssim"])
    return worst


def stopping_settings(medians: Sequence[Mapping[str, Any]],
                      ssim_threshold: float = PROTECTED_SSIM) -> str:
    """In words, which defended settings bring every attack's median SSIM below
    ``ssim_threshold`` (rows of :func:`median_outcomes`, their order kept).

    Where the undefended attack is itself below the line, no setting has anything to stop, and
    the phrase says so rather than crediting every defence.
    """
    worst = _worst_ssim(medians)
    defended = [d for d in worst if d != NO_DEFENCE]
    if not defended:
        return "not measured yet"
    if worst.get(NO_DEFENCE, math.inf) < ssim_threshold:
        return ("every one, trivially, since the undefended attack already stays below the line "
                "at this side and budget")
    return ", ".join(d for d in defended if worst[d] < ssim_threshold) or "none of those measured"


TRAINING_SEEDS = 5
"""Trainings that price each defence: one model trained from a single seed moves by several
points of accuracy with its weights, split, batch order and noise (measured: a standard
deviation of 0.02 to 0.09 over five seeds), so a price is the mean over this many."""


COSTS_FOLDER = "training"
"""Stored prices live in ``results/training/``, one JSON file per training setting."""


def training_costs(defences: Sequence[str], config: TrainingConfig = TrainingConfig(),
                   model: str = "lenet", seeds: int = TRAINING_SEEDS) -> list[dict[str, Any]]:
    """For every defence, the held-out accuracy of ``model`` trained with it on ``config``'s
    task (:func:`~dlg_helpers.client.training.train`), over ``seeds`` trainings seeded
    ``config.seed``, ``config.seed + 1``, ..., and DP-SGD's epsilon. ``batch:B`` trains with
    batches of B for the same epochs (fewer, larger steps).

    Returns:
        One row per defence: ``accuracy`` (the mean), ``accuracy_sd`` (the standard deviation
        over the seeds, 0 for one seed), ``accuracies`` (each seed's) and ``epsilon`` (None
        without a guarantee; the same for every seed).
    """
    if seeds < 1:
        raise ValueError(f"seeds must be at least 1, got {seeds}")
    rows = []
    for defence in defences:
        batch_size, gradient_defence = split_batch(defence)
        setting = config if batch_size == 1 else replace(config, batch_size=batch_size)
        results = [train(model, None if gradient_defence is None
                         else parse_defence(gradient_defence),
                         replace(setting, seed=config.seed + offset))
                   for offset in range(seeds)]
        accuracies = [result.accuracy for result in results]
        rows.append({"defence": defence, "accuracy": statistics.fmean(accuracies),
                     "accuracy_sd": statistics.stdev(accuracies) if seeds > 1 else 0.0,
                     "accuracies": accuracies, "epsilon": results[0].epsilon})
    return rows


def _costs_file(model: str, config: TrainingConfig, seeds: int,
                results_dir: str | Path) -> tuple[Path, dict[str, Any]]:
    # as it reads back from JSON (tuples become lists), so a stored identity compares equal
    identity = json.loads(json.dumps({"model": model, "training": asdict(config), "seeds": seeds}))
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:8]
    name = f"{model}-{config.dataset}-{config.epochs}epochs-{seeds}seeds-{digest}.json"
    return Path(results_dir, COSTS_FOLDER, name), identity


def stored_training_costs(defences: Sequence[str], config: TrainingConfig = TrainingConfig(),
                          model: str = "lenet", seeds: int = TRAINING_SEEDS,
                          results_dir: str | Path = "results", *, recompute: bool = False,
                          save: bool = False) -> list[dict[str, Any]]:
    """:func:`training_costs`, reusing the stored prices of the same training setting.

    The prices of one setting (model, every field of ``config``, the number of seeds) live in
    one file under ``results_dir/training/``; the defences it lacks (or all, with
    ``recompute``) are trained now and, with ``save``, added to it. Loading makes a chapter's
    table the same on every machine; a recomputation on another CPU or a GPU rounds
    differently and moves each mean by a little (see the README's "What reproduces").
    """
    path, identity = _costs_file(model, config, seeds, results_dir)
    stored: dict[str, dict[str, Any]] = {}
    if path.is_file():
        try:
            content = json.loads(path.read_text())
            if content["identity"] != identity:
                raise ValueError("made with other settings")
            stored = content["rows"]
        except (ValueError, KeyError, TypeError) as error:
            print(f"not using {path}: {error}")
    wanted = list(dict.fromkeys(defences))
    missing = wanted if recompute else [d for d in wanted if d not in stored]
    if len(missing) < len(wanted):
        print(f"Loaded the stored prices of {len(wanted) - len(missing)} defence settings from "
              f"{path.name} ({seeds} trainings each)")
    if missing:
        print(f"Training {model} {seeds} times under each of {len(missing)} settings "
              f"({'asked to recompute' if recompute else 'not stored'})")
        stored.update({row["defence"]: row for row in
                       training_costs(missing, config, model, seeds)})
        if save:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({
                "identity": identity, "rows": stored, "torch_version": torch.__version__,
                "cpu_kernels": torch.backends.cpu.get_cpu_capability()}, indent=1) + "\n")
    return [stored[d] for d in wanted]


def protection_ranking(medians: Sequence[Mapping[str, Any]],
                       costs: Sequence[Mapping[str, Any]],
                       ssim_threshold: float = PROTECTED_SSIM) -> list[dict[str, Any]]:
    """For each defence family, its weakest setting that stops every attack, and what it costs.

    A setting stops an attack when the median SSIM of its reconstructions is below
    ``ssim_threshold``. Settings are tried in the order they appear (list each family weakest
    first). Families that stop every attack are ranked by the accuracy they cost; the others
    follow, closest to stopping (lowest SSIM at their strongest setting) first.

    Returns:
        Rows with the family, the setting (None when none stops every attack), the worst median
        SSIM over the attacks at that setting, the accuracy (the mean over the seeds; ``price``
        holds the whole row of ``costs``), its drop from no defence, epsilon.
    """
    accuracy = {row["defence"]: row for row in costs}
    if NO_DEFENCE not in accuracy:
        raise ValueError("the costs need the undefended run ('none') to measure the drop against")
    baseline = accuracy[NO_DEFENCE]["accuracy"]
    worst = _worst_ssim(medians)
    families: dict[str, list[str]] = {}
    for row in medians:
        if row["defence"] == NO_DEFENCE:
            continue
        if row["defence"] not in families.setdefault(row["family"], []):
            families[row["family"]].append(row["defence"])
    ranking = []
    for family, settings in families.items():
        stopping = next((s for s in settings if worst[s] < ssim_threshold), None)
        shown = stopping if stopping is not None else settings[-1]
        cost = accuracy.get(shown)
        ranking.append({
            "family": family, "setting": stopping, "strongest_tried": settings[-1],
            "worst_ssim": worst[shown],
            "accuracy": None if cost is None else cost["accuracy"], "price": cost,
            "accuracy_drop": None if cost is None else baseline - cost["accuracy"],
            "epsilon": None if cost is None else cost["epsilon"],
        })
    stopped = sorted((r for r in ranking if r["setting"] is not None),
                     key=lambda r: math.inf if r["accuracy_drop"] is None else r["accuracy_drop"])
    return stopped + sorted((r for r in ranking if r["setting"] is None),
                            key=lambda r: r["worst_ssim"])


def _fixed(digits: int) -> Callable[[float | None], str]:
    return lambda value: "—" if value is None else f"{value:.{digits}f}"


NAMED_DEFENCES = ("gaussian:0.01", "gaussian:0.001", "prune:0.1", "precision:int8", "batch:2",
                  "batch:4")
"""The settings the defences chapter's prose names, each attack's median SSIM under them."""


def findings(medians: Sequence[Mapping[str, Any]], ranking: Sequence[Mapping[str, Any]],
             costs: Sequence[Mapping[str, Any]], one_at_a_time: Mapping[str, Any],
             defences: Sequence[str], attacks: Mapping[str, str]) -> dict[str, Any]:
    """The numbers the defences chapter's prose quotes, by the name it glues each under.

    Args:
        medians: :func:`median_outcomes` of the attacks under ``defences``.
        ranking: :func:`protection_ranking` of them.
        costs: the defences' prices (:func:`stored_training_costs`).
        one_at_a_time: the undefended price when training one image at a time.
        defences: the settings tried, ``"none"`` among them.
        attacks: each attack's short label in the glue names, by its name in ``medians``
            (``{"DLG": "dlg", "inverting gradients": "ig"}``); ``<second>_better_count``
            counts the defended settings under which the second recovers more than the first.
    """
    nan = math.nan
    by_key = {(m["attack"], m["defence"]): m for m in medians}
    accuracy = {c["defence"]: c["accuracy"] for c in costs}
    found: dict[str, Any] = {}
    for attack, label in attacks.items():
        found[f"{label}_clean_ssim"] = by_key[attack, NO_DEFENCE]["ssim"]
        found[f"{label}_clean_mse"] = by_key[attack, NO_DEFENCE]["mse"]
        for defence in NAMED_DEFENCES:
            key = defence.replace(":", "_").replace(".", "")
            found[f"{label}_{key}"] = by_key.get((attack, defence), {"ssim": nan})["ssim"]
    defended = [d for d in defences if d != NO_DEFENCE]
    stronger, weaker = list(attacks)[1], list(attacks)[0]
    found["defended_count"] = len(defended)
    found[f"{attacks[stronger]}_better_count"] = sum(
        by_key[stronger, d]["ssim"] > by_key[weaker, d]["ssim"] for d in defended)
    found["clean_accuracy"] = accuracy[NO_DEFENCE]
    found["batch_4_accuracy"] = accuracy.get("batch:4", nan)
    found["single_accuracy"] = one_at_a_time["accuracy"]
    found["batch_4_cost"] = one_at_a_time["accuracy"] - accuracy.get("batch:4", nan)
    stopping = [r for r in ranking if r["setting"] is not None]
    best = ranking[0]
    found["stopping_count"] = len(stopping)
    found["family_count"] = len(ranking)
    found["best_family"] = best["family"] if best["setting"] else "none"
    found["best_setting"] = best["setting"] or "none of the settings tried"
    gradient_best = next((r for r in stopping if r["family"] != BATCH),
                         {"family": "none", "setting": "none of the settings tried",
                          "accuracy": nan})
    found["gradient_best_family"] = gradient_best["family"]
    found["gradient_best_setting"] = gradient_best["setting"]
    found["gradient_best_accuracy"] = (nan if gradient_best["accuracy"] is None
                                       else gradient_best["accuracy"])
    drop = best["accuracy_drop"]
    found["best_change"] = ("not measured" if drop is None else
                            f"{abs(drop):.2f} {'below' if drop >= 0 else 'above'}")
    found["best_accuracy"] = nan if best["accuracy"] is None else best["accuracy"]
    dp = next((c for c in costs if c["defence"] == "dpsgd:1.0"),
              {"epsilon": nan, "accuracy": nan})
    found["dp_epsilon"] = dp["epsilon"]
    found["dp_accuracy"] = dp["accuracy"]
    return found


def _accuracy_text(cost: Mapping[str, Any] | None) -> str:
    """A price's accuracy as its mean and standard deviation over the seeds, at the two digits
    that a spread of a few points leaves meaningful."""
    if cost is None:
        return "—"
    if len(cost.get("accuracies", ())) < 2:
        return f"{cost['accuracy']:.2f}"
    return f"{cost['accuracy']:.2f} ± {cost['accuracy_sd']:.2f}"


def _accuracy_header(costs: Sequence[Mapping[str, Any]], header: str) -> str:
    seeds = {len(row.get("accuracies", ())) for row in costs}
    count = max(seeds, default=0)
    return header if count < 2 else f"{header} (mean ± sd, {count} seeds)"


def _epsilon_text(value: float | None) -> str:
    if value is None:
        return "no guarantee"
    return "∞" if math.isinf(value) else f"{value:,.1f}"


def outcome_table(medians: Sequence[Mapping[str, Any]],
                  costs: Sequence[Mapping[str, Any]]) -> Markdown:
    """Every defence setting with each attack's median SSIM, PSNR and labels recovered, and
    what the setting costs in accuracy (and epsilon for DP-SGD)."""
    if not medians:
        return Markdown("*No run of these settings is stored yet.*")
    attacks = list(dict.fromkeys(row["attack"] for row in medians))
    by_key = {(row["attack"], row["defence"]): row for row in medians}
    cost = {row["defence"]: row for row in costs}
    rows = []
    for defence in dict.fromkeys(row["defence"] for row in medians):
        row: dict[str, Any] = {"defence": defence, "accuracy": cost.get(defence),
                               "epsilon": cost.get(defence, {}).get("epsilon")}
        for attack in attacks:
            outcome = by_key.get((attack, defence), {})
            row.update({f"{attack} ssim": outcome.get("ssim"), f"{attack} psnr": outcome.get("psnr"),
                        f"{attack} labels": outcome.get("labels_right")})
        rows.append(row)
    columns: dict[str, tuple[str, Callable[[Any], str]]] = {"defence": ("defence", str)}
    for attack in attacks:
        columns[f"{attack} ssim"] = (f"{attack}: SSIM", _fixed(2))
        columns[f"{attack} psnr"] = (f"{attack}: PSNR (dB)", _fixed(1))
        columns[f"{attack} labels"] = (f"{attack}: labels right",
                                       lambda v: "—" if v is None else f"{v:.0%}")
    columns["accuracy"] = (_accuracy_header(costs, "accuracy trained with it"), _accuracy_text)
    columns["epsilon"] = ("ε (δ = 1e-5)", _epsilon_text)
    return markdown_table(rows, columns)


def ranking_table(ranking: Sequence[Mapping[str, Any]]) -> Markdown:
    """:func:`protection_ranking` as a table, best defence first."""
    prices = [row["price"] for row in ranking if row.get("price") is not None]
    return markdown_table(
        [{**row, "rank": i} for i, row in enumerate(ranking, start=1)],
        {"rank": ("rank", str), "family": ("defence", str),
         "setting": ("weakest setting that stops every attack",
                     lambda v: "none of those tried" if v is None else str(v)),
         "worst_ssim": ("worst median SSIM there", _fixed(2)),
         "price": (_accuracy_header(prices, "accuracy"), _accuracy_text),
         # signed: a setting can train better than none (a smaller batch takes more steps)
         "accuracy_drop": ("accuracy change from none",
                           lambda v: "—" if v is None else f"{-v:+.2f}"),
         "epsilon": ("ε", _epsilon_text)})


def gradient_changes(model: str, image: str, defences: Sequence[str],
                     seed: int = 0) -> list[dict[str, Any]]:
    """What each defence does to one shared gradient (``model`` with weights ``seed``, the
    private ``image``): its relative error, its cosine similarity to the plain gradient of the
    image alone, and the share of entries that are exactly zero. Under ``batch:B`` the shared
    gradient is the mean over the image's :func:`private_batch`."""
    def flat(gradients: Sequence[torch.Tensor]) -> torch.Tensor:
        return torch.cat([g.flatten() for g in gradients])

    plain = flat(victim(model, image, seed).share().gradient)
    rows = []
    for defence in defences:
        batch_size, gradient_defence = split_batch(defence)
        client = victim(model, private_batch(image, batch_size) if batch_size > 1 else image,
                        seed, defence=None if gradient_defence is None
                        else parse_defence(gradient_defence))
        shared = flat(client.share().gradient)
        rows.append({"defence": defence,
                     "relative_error": float((shared - plain).norm() / plain.norm()),
                     "cosine": float(shared @ plain / (shared.norm() * plain.norm())),
                     "zeros": float((shared == 0).float().mean())})
    return rows


def gradient_change_table(rows: Sequence[Mapping[str, Any]]) -> Markdown:
    """:func:`gradient_changes` as a table."""
    return markdown_table(rows, {
        "defence": ("defence", str),
        "relative_error": ("‖shared − plain‖ / ‖plain‖", lambda v: f"{v:.2g}"),
        "cosine": ("cosine similarity to the plain gradient", _fixed(3)),
        "zeros": ("entries exactly 0", lambda v: f"{v:.1%}")})
