"""The defence study as tables: each setting's outcomes and price, the ranking, and what each
defence does to a gradient."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from IPython.display import Markdown

from .tables import markdown_table

__all__ = ["outcome_table", "ranking_table", "gradient_change_table"]


def _fixed(digits: int) -> Callable[[float | None], str]:
    return lambda value: "—" if value is None else f"{value:.{digits}f}"


def _accuracy_text(cost: Mapping[str, Any] | None) -> str:
    """A price's accuracy as its mean and standard deviation over the seeds, at the two digits
    that a spread of a few points leaves meaningful."""
    if cost is None:
        return "—"
    if len(cost.get("accuracies", ())) < 2:
        return f"{cost['accuracy']:.2f}"
    return f"{cost['accuracy']:.2f} ± {cost['accuracy_sd']:.2f}"


def _accuracy_header(costs: Sequence[Mapping[str, Any]], header: str) -> str:
    seeds = sorted({len(row.get("accuracies", ())) for row in costs})
    if not seeds or seeds[-1] < 2:
        return header
    count = str(seeds[0]) if len(seeds) == 1 else f"{seeds[0]} to {seeds[-1]}"
    return f"{header} (mean ± sd, {count} seeds)"


def _epsilon_text(value: float | None) -> str:
    """ε as a reader compares it: one decimal up to 100, then its order of magnitude (an ε of
    millions guarantees nothing, and its digits mean nothing)."""
    if value is None:
        return "no guarantee"
    if math.isinf(value):
        return "∞"
    if value < 100:
        return f"{value:.1f}"
    exponent = math.floor(math.log10(value))
    return f"{value / 10 ** exponent:.1f} × 10^{exponent}"


def _outcome_text(row: Mapping[str, Any]) -> str:
    return "—" if not row else f"{row['leaked']}/{row['images']} · {row['likeness']:.2f}"


def outcome_table(medians: Sequence[Mapping[str, Any]],
                  costs: Sequence[Mapping[str, Any]]) -> Markdown:
    """Every defence setting with, for each attack, how many images leaked and the median
    likeness of the reconstructions (one column an attack, so that three attacks still fit
    the page), and what the setting costs in accuracy (and epsilon for DP-SGD)."""
    if not medians:
        return Markdown("*No run of these settings is stored.*")
    attacks = list(dict.fromkeys(row["attack"] for row in medians))
    by_key = {(row["attack"], row["defence"]): row for row in medians}
    cost = {row["defence"]: row for row in costs}
    rows = []
    for defence in dict.fromkeys(row["defence"] for row in medians):
        row: dict[str, Any] = {"defence": defence, "accuracy": cost.get(defence),
                               "epsilon": cost.get(defence, {}).get("epsilon")}
        row.update({attack: by_key.get((attack, defence), {}) for attack in attacks})
        rows.append(row)
    columns: dict[str, tuple[str, Callable[[Any], str]]] = {"defence": ("defence", str)}
    for attack in attacks:
        columns[attack] = (f"{attack}: leaked · likeness", _outcome_text)
    columns["accuracy"] = (_accuracy_header(costs, "accuracy"), _accuracy_text)
    columns["epsilon"] = ("ε (δ = 1e-5)", _epsilon_text)
    return markdown_table(rows, columns)


def ranking_table(ranking: Sequence[Mapping[str, Any]]) -> Markdown:
    """:func:`protection_ranking` as a table, best defence first."""
    prices = [row["price"] for row in ranking if row.get("price") is not None]
    return markdown_table(
        [{**row, "rank": i, "named": f"{row['family']} ({row['kind']})"}
         for i, row in enumerate(ranking, start=1)],
        {"rank": ("rank", str), "named": ("defence (kind)", str),
         "setting": ("weakest setting that stops every attack",
                     lambda v: "none of those tried" if v is None else str(v)),
         "worst_leaked": ("worst share leaked there", lambda v: f"{v:.0%}"),
         "price": (_accuracy_header(prices, "accuracy"), _accuracy_text),
         # signed: a setting can train better than none (a smaller batch takes more steps)
         "accuracy_drop": ("accuracy change from none",
                           lambda v: "—" if v is None else f"{-v:+.2f}"),
         "epsilon": ("ε", _epsilon_text)})


def gradient_change_table(rows: Sequence[Mapping[str, Any]]) -> Markdown:
    """:func:`gradient_changes` as a table."""
    return markdown_table(rows, {
        "defence": ("defence", str),
        "relative_error": ("‖shared − plain‖ / ‖plain‖", lambda v: f"{v:.2g}"),
        "cosine": ("cosine similarity to the plain gradient", _fixed(3)),
        "zeros": ("entries exactly 0", lambda v: f"{v:.1%}")})
