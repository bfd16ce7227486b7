"""Judgements by eye of stored reconstructions: the labelled set that checks the leak decision.

A score says how alike two pictures are; whether a viewer would pick the private image out is a
question for viewers. The labelled set asks it the way an eyewitness is asked: each item shows
one stored reconstruction and four candidates in a random order, the private image and three
*decoys* of the same source (other photographs, faces or digits of the pool), and the labeller
names the candidate the reconstruction shows, or says it shows none of them. The labeller never
sees a score, a file name or which attack made the picture. A reconstruction *leaks to the
labellers* when most of them name its private image. The stored set's labellers were blind
model-based helper agents, not people (``results/leak-labels/README.md``); :func:`write_sheets`
and :func:`with_answers` let people take their place.

The items are drawn from everything the course stores: the atlas's reconstructions (three
attacks; its factors and defences) and the stored runs of chapters 2-10 (the large models, the
defences chapter), spread over the three sources and evenly over the likeness scale, where a
decision is hardest. :func:`load_labelled` reads the stored set back with every item's scores
recomputed from its stored picture, so a new score can be tried against the same labels.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["LABELS_FOLDER", "SHEET_SIDE", "CHOICES", "NONE", "StoredReconstruction",
           "stored_reconstructions", "choose_items", "decoys", "draw_sheet", "png_tensor",
           "truth_at_sheet_side", "write_sheets", "with_answers", "person_leaks",
           "NULL_FILE", "ANSWERS_FILE", "load_labelled", "split_halves", "Agreement",
           "agreement", "FLOORS", "MARGINS", "decide", "choose_decision", "AGREEMENT_COLUMNS",
           "agreement_table", "NULL_KINDS", "null_scores", "NULL_COLUMNS",
           "null_table"]

LABELS_FOLDER = Path("results") / "leak-labels"
"""Where the labelled set is stored: ``items.parquet`` (each item, its candidates in the order
shown, the answer given) and ``README.md`` (how the labels were made)."""

NULL_FILE = "null.parquet"
"""The null table's file in :data:`LABELS_FOLDER` (:func:`null_scores`)."""

ANSWERS_FILE = "answers.csv"
"""The file :func:`write_sheets` leaves for new labellers' answers (``item,answer``)."""

SHEET_SIDE = 32
"""Every picture of an item is shown at this side (enlarged on the sheet), so that a candidate's
sharpness does not give it away."""

CHOICES = ("A", "B", "C", "D")
NONE = "none"
"""The answer for "the reconstruction shows none of the four"."""


@dataclass(frozen=True)
class StoredReconstruction:
    """One reconstructed private image the course stores.

    Attributes:
        key: where it is stored (``atlas/<table>/<case>`` or ``runs/<model>/<folder>/<index>``).
        attack: the attack's registry key.
        setting: what was changed from the base case (``base``, ``batch 4``, ``gaussian:0.01``,
            ``ResNet-18``, ...).
        model: the registered model attacked.
        image: the private image's pool name.
        source: ``photo``, ``face`` or ``digit``.
        side: the image side the attack worked at.
        png: the reconstruction at :data:`SHEET_SIDE`, as an 8-bit PNG: for a stored run, as
            the attacker looks at it (:func:`~dlg_helpers.measures.metrics.standardise`, before
            it is clipped); an atlas table keeps its pictures clipped as they came.
    """

    key: str
    attack: str
    setting: str
    model: str
    image: str
    source: str
    side: int
    png: bytes


def png_tensor(png: bytes) -> torch.Tensor:
    """An 8-bit PNG as a (1, 3, H, W) tensor in [0, 1]."""
    from PIL import Image

    array = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.float32) / 255
    return torch.from_numpy(array).permute(2, 0, 1)[None]


def _png(image: torch.Tensor) -> bytes:
    from ..runs.record import save_png

    buffer = io.BytesIO()
    save_png(_at_sheet_side(image), buffer)
    return buffer.getvalue()


def _at_sheet_side(image: torch.Tensor) -> torch.Tensor:
    image = image[:1].float().clamp(0, 1)
    if image.shape[-1] == SHEET_SIDE:
        return image
    return F.interpolate(image, size=(SHEET_SIDE, SHEET_SIDE), mode="bilinear", antialias=True)


def truth_at_sheet_side(name: str, side: int) -> torch.Tensor:
    """The private image ``name`` as its attack saw it (at ``side``), shown at
    :data:`SHEET_SIDE`, as (1, 3, S, S)."""
    from ..client.images import load_image

    return _at_sheet_side(load_image(name, side).pixels)


def _source_of(name: str) -> str:
    if name.startswith("face-"):
        return "face"
    if name.startswith("digit-"):
        return "digit"
    return "photo"


def _atlas_reconstructions(folder: Path) -> list[StoredReconstruction]:
    from ..runs.atlas_plan import ATLAS, load_atlas
    from .gallery import gallery_scores

    found = []
    tables = load_atlas(folder)
    for sweep in ATLAS:
        if sweep.name not in tables:
            continue
        frame = tables[sweep.name]
        side = int(sweep.level) if sweep.factor == "resolution" else 32
        for row in frame[frame["reconstruction_png"].notna()].itertuples():
            names = row.images.split("+")
            picture = png_tensor(row.reconstruction_png)
            if len(names) > 1:  # the stored picture is the batch's first; find whose it is
                truths = torch.cat([truth_at_sheet_side(n, side) for n in names])
                likeness = [gallery_scores(picture, truths[i:i + 1])[0].likeness
                            for i in range(len(names))]
                name = names[int(np.argmax(likeness))]
            else:
                name = names[0]
            setting = {"base": "base", "batch": f"batch {sweep.level}",
                       "training": f"after {sweep.level} steps",
                       "resolution": f"{sweep.level} x {sweep.level}",
                       "restarts": "one start", "defences": row.defence}[sweep.factor]
            found.append(StoredReconstruction(f"atlas/{sweep.name}/{row.case}", sweep.attack,
                                              setting, "lenet", name, _source_of(name), side,
                                              row.reconstruction_png))
    return found


def _run_reconstructions(results_dir: Path) -> list[StoredReconstruction]:
    from ..client.models import get_spec
    from ..runs.record import RECORD_FILE, load_record, load_result
    from .metrics import match_batch, standardise

    found = []
    for record_file in sorted(Path(results_dir).glob(f"*/*/{RECORD_FILE}")):
        folder = record_file.parent
        if folder.parent.name == "atlas":
            continue
        record, result = load_record(folder), load_result(folder)
        matched = match_batch(result.reconstruction, result.truth)
        names = folder.name.split("-seed")[0].split("+")
        attack = record.get("config", {}).get("attack", "dlg")
        defence = record.get("defence") or "none"
        model = folder.parent.name
        for i, name in enumerate(names[:len(matched)]):
            setting = get_spec(model).display if model != "lenet" else "LeNet run"
            if defence != "none":
                setting += f", {defence}"
            if len(names) > 1:
                setting += f", batch {len(names)}"
            found.append(StoredReconstruction(f"runs/{model}/{folder.name}/{i}", attack,
                                              setting, model, name, _source_of(name),
                                              int(result.truth.shape[-1]),
                                              _png(standardise(matched[i:i + 1]))))
    return found


def stored_reconstructions(results_dir: str | Path = "results") -> list[StoredReconstruction]:
    """Every reconstruction the course stores with its picture: the atlas's (each table's first
    seed) and every stored run's images (each paired with its private image)."""
    results_dir = Path(results_dir)
    return _atlas_reconstructions(results_dir / "atlas") + _run_reconstructions(results_dir)


def choose_items(stored: Sequence[StoredReconstruction], likeness: Sequence[float],
                 per_cell: int, seed: int = 0, bins: int = 10) -> list[int]:
    """Indices of ``stored`` to label: for each source and each of ``bins`` equal bins of
    likeness over [0, 1] (below 0 counts as the first), up to ``per_cell`` reconstructions,
    drawn so that attacks, settings and models are as mixed as the cell allows (round robin
    over ``(attack, setting)`` in a random order); then every reconstruction of a model other
    than LeNet, which are too few to leave to chance."""
    generator = np.random.default_rng(seed)
    cells: dict[tuple[str, int], list[int]] = {}
    for index, (item, value) in enumerate(zip(stored, likeness)):
        cell = (item.source, min(bins - 1, max(0, int(value * bins))))
        cells.setdefault(cell, []).append(index)
    chosen = []
    for cell in sorted(cells):
        by_kind: dict[tuple[str, str], list[int]] = {}
        for index in generator.permutation(cells[cell]):
            by_kind.setdefault((stored[index].attack, stored[index].setting), []).append(index)
        queues = [by_kind[k] for k in generator.permutation(len(by_kind)).tolist()
                  for k in [list(by_kind)[k]]]
        taken: list[int] = []
        while len(taken) < per_cell and any(queues):
            for queue in queues:
                if queue and len(taken) < per_cell:
                    taken.append(int(queue.pop(0)))
        chosen += taken
    return chosen + [i for i, item in enumerate(stored)
                     if not item.model.startswith("lenet") and i not in chosen]


def decoys(image: str, source: str, generator: np.random.Generator, count: int = 3
           ) -> list[str]:
    """``count`` pool images of ``source`` to show beside ``image``: never a crop of the same
    photograph (it would show the same scene)."""
    from ..client.pool import pool

    def photograph(name: str) -> str:
        return name.split("-")[1] if name.startswith("crop-") else name

    others = [p.name for p in pool() if p.source == source
              and photograph(p.name) != photograph(image)]
    return [others[i] for i in generator.choice(len(others), size=count, replace=False)]


def draw_sheet(reconstruction: torch.Tensor, candidates: Sequence[torch.Tensor],
               scale: int = 5) -> Any:
    """The picture a labeller sees: the reconstruction above, as the attacker looks at it
    (colours standardised, :func:`~dlg_helpers.measures.metrics.standardise`), the candidates
    below it lettered A-D, each :data:`SHEET_SIDE` pixels enlarged ``scale`` times (nearest
    neighbour: the pixels as they are). A PIL image."""
    from PIL import Image, ImageDraw

    from .metrics import standardise

    reconstruction = standardise(reconstruction)
    side, gap = SHEET_SIDE * scale, 24

    def tile(image: torch.Tensor) -> Any:
        array = (image[0].clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        return Image.fromarray(array).resize((side, side), Image.NEAREST)

    width = len(candidates) * (side + gap) + gap
    sheet = Image.new("RGB", (width, 2 * side + 3 * gap + 20), "white")
    draw = ImageDraw.Draw(sheet)
    sheet.paste(tile(reconstruction), ((width - side) // 2, gap))
    draw.text(((width - side) // 2, 4), "reconstruction", fill="black")
    for i, candidate in enumerate(candidates):
        left = gap + i * (side + gap)
        sheet.paste(tile(candidate), (left, side + 2 * gap + 20))
        draw.text((left, side + 2 * gap + 4), CHOICES[i], fill="black")
    return sheet


def write_sheets(frame: Any, folder: str | Path) -> list[Path]:
    """Draw every item of the labelled set ``frame`` (:func:`load_labelled`) as its labellers
    saw it, with its candidates in the stored order, to ``folder/<item>.png``, and an empty
    ``folder/answers.csv`` (``item,answer``) for a new labeller to fill in with a letter or
    ``none``; the sheets show no score and no name. Returns the sheets' paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for row in frame.itertuples():
        candidates = [truth_at_sheet_side(name, row.side) for name in json.loads(row.shown)]
        path = folder / f"{row.item}.png"
        draw_sheet(png_tensor(row.png), candidates).save(path)
        paths.append(path)
    (folder / ANSWERS_FILE).write_text(
        "item,answer\n" + "".join(f"{item},\n" for item in frame["item"]))
    return paths


def with_answers(frame: Any, answers: Any) -> Any:
    """The labelled set ``frame`` judged by new labellers instead: ``answers`` has columns
    ``item`` and ``answer`` (a letter of :data:`CHOICES` or :data:`NONE`; one row per item and
    labeller), and ``person_leak`` is recomputed from them alone; items nobody answered are
    dropped.

    Raises:
        ValueError: for an answer that is not a letter or ``none``, or an unknown item.
    """
    answers = answers.dropna(subset=["answer"])
    answers = answers.assign(answer=answers["answer"].str.strip().str.upper()
                             .replace(NONE.upper(), NONE))
    bad = sorted(set(answers["answer"]) - {*CHOICES, NONE})
    if bad:
        raise ValueError(f"answers must be one of {', '.join(CHOICES)} or {NONE}, not "
                         f"{', '.join(map(str, bad))}: fix those rows of the answers file")
    unknown = sorted(set(answers["item"].astype(str)) - set(frame["item"].astype(str)))
    if unknown:
        raise ValueError(f"no item {', '.join(unknown[:5])} in the labelled set: the answers "
                         "file must use the item names of the sheets")
    given = answers.groupby(answers["item"].astype(str))["answer"].apply(list)
    frame = frame[frame["item"].astype(str).isin(given.index)].copy()
    frame["answers"] = [given[str(item)] for item in frame["item"]]
    frame["person_leak"] = [person_leaks(list(a), json.loads(shown), image) for a, shown, image
                            in zip(frame["answers"], frame["shown"], frame["image"])]
    return frame


def person_leaks(answers: Sequence[str], shown: Sequence[str], image: str) -> bool:
    """Whether the labellers identified ``image``: most of the ``answers`` (letters of
    :data:`CHOICES` or :data:`NONE`, one per labeller) name it among the candidates ``shown``
    (a tie does not count)."""
    named = sum(a != NONE and shown[CHOICES.index(a)] == image for a in answers)
    return 2 * named > len(answers)


def load_labelled(folder: str | Path = LABELS_FOLDER) -> Any:
    """The labelled set as a DataFrame, one row per item: where the reconstruction comes from
    (``key``, ``attack``, ``setting``, ``model``, ``image``, ``source``, ``side``), its stored
    picture (``png``), the candidates in the order shown (``shown``), each labeller's answer
    (``answers``), the half it belongs to (``half``: ``choose`` or ``report``), whether the
    labellers identified it (``person_leak``, :func:`person_leaks`), its gallery scores
    recomputed from the stored picture (``likeness``, ``rank``, ``lookalike``,
    :func:`~dlg_helpers.measures.gallery.gallery_scores`) and the course's decision on them
    (``decision_leak``, :func:`~dlg_helpers.measures.criteria.leaks`).

    Raises:
        FileNotFoundError: when the folder holds no labelled set.
    """
    import pandas as pd

    from .criteria import leaks
    from .gallery import gallery_scores

    table = Path(folder) / "items.parquet"
    if not table.is_file():
        raise FileNotFoundError(f"no labelled set at {table}: point to the course's "
                                "results/leak-labels (a chapter's RESULTS_DIR parameter)")
    frame = pd.read_parquet(table)
    scores = [gallery_scores(png_tensor(row.png), truth_at_sheet_side(row.image, row.side))[0]
              for row in frame.itertuples()]
    frame = frame.assign(**{name: [getattr(s, name) for s in scores]
                            for name in ("likeness", "rank", "lookalike")})
    frame["person_leak"] = [person_leaks(list(answers), json.loads(shown), image)
                            for answers, shown, image in zip(frame["answers"], frame["shown"],
                                                             frame["image"])]
    frame["decision_leak"] = [leaks(s.likeness, s.rank, s.lookalike) for s in scores]
    return frame


def split_halves(sources: Sequence[str], seed: int = 0) -> list[str]:
    """``choose`` or ``report`` for each item: half of each source's items, drawn at random,
    to choose a decision on, the other half to report it on."""
    generator = np.random.default_rng(seed)
    halves = [""] * len(sources)
    for source in dict.fromkeys(sources):
        members = [i for i, s in enumerate(sources) if s == source]
        order = generator.permutation(members)
        for rank, index in enumerate(order):
            halves[int(index)] = "choose" if rank < len(order) // 2 else "report"
    return halves


@dataclass(frozen=True)
class Agreement:
    """How a decision agrees with the labellers on a set of labelled items.

    Attributes:
        items: how many were judged.
        agree: on how many the decision and the labellers agree.
        false_leaks: the decision calls a leak, the labellers identified nothing.
        missed_leaks: the labellers identified the private image, the decision calls it safe.
        person_leaks: how many the labellers identified (the false and missed leaks' denominators
            are ``items - person_leaks`` and ``person_leaks``).
    """

    items: int
    agree: int
    false_leaks: int
    missed_leaks: int
    person_leaks: int


def agreement(person: Sequence[bool], decision: Sequence[bool]) -> Agreement:
    """:class:`Agreement` of ``decision`` with ``person``, item by item."""
    pairs = list(zip(map(bool, person), map(bool, decision)))
    return Agreement(items=len(pairs), agree=sum(p == d for p, d in pairs),
                     false_leaks=sum(d and not p for p, d in pairs),
                     missed_leaks=sum(p and not d for p, d in pairs),
                     person_leaks=sum(p for p, _ in pairs))


FLOORS = tuple(round(0.40 + 0.02 * i, 2) for i in range(26))
"""The floors :func:`choose_decision` tries (0.40 to 0.90)."""

MARGINS = tuple(round(-0.30 + 0.02 * i, 2) for i in range(21))
"""The look-alike margins :func:`choose_decision` tries (-0.30 to 0.10)."""


def decide(frame: Any, floor: float, margin: float) -> Any:
    """The decision of :func:`~dlg_helpers.measures.criteria.leaks` with ``floor`` and
    ``margin`` in place of the course's constants, for every row of ``frame`` (its
    ``likeness``, ``rank`` and ``lookalike``), as a boolean array: how other decisions are
    tried against the same labels."""
    likeness = frame["likeness"].to_numpy(float)
    lookalike = frame["lookalike"].to_numpy(float)
    return (frame["rank"].to_numpy() == 1) & (likeness >= np.maximum(floor, lookalike + margin))


def choose_decision(frame: Any) -> tuple[float, float]:
    """The ``(floor, margin)`` of :func:`~dlg_helpers.measures.criteria.leaks` that agrees with
    the labellers on most of ``frame``'s items (its ``likeness``, ``rank``, ``lookalike`` and
    ``person_leak``), trying :data:`FLOORS` and :data:`MARGINS`; of equally good ones, the
    lowest floor and margin (the decision that errs towards calling a leak)."""
    person = frame["person_leak"].to_numpy(bool)
    best: tuple[int, float, float] | None = None
    for floor in FLOORS:
        for margin in MARGINS:
            agree = int((decide(frame, floor, margin) == person).sum())
            if best is None or agree > best[0]:
                best = (agree, floor, margin)
    assert best is not None
    return best[1], best[2]


AGREEMENT_COLUMNS = ("half", "source", "items", "person_leaks", "agree", "agree_low",
                     "agree_high", "false_leaks", "false_low", "false_high", "missed_leaks",
                     "missed_low", "missed_high")
"""The columns of :func:`agreement_table`."""


def agreement_table(frame: Any, decision: Sequence[bool] | None = None) -> Any:
    """How a decision agrees with the labellers, per half of the labelled set and per source (and
    ``all``): one row each, with :data:`AGREEMENT_COLUMNS`. ``agree``, ``false_leaks`` and
    ``missed_leaks`` are shares of the row's ``items`` (the error rates the course promises
    to keep at most 5 % each), each with its 95 % Wilson interval (``*_low``, ``*_high``).
    ``decision`` defaults to the course's (``decision_leak`` of :func:`load_labelled`)."""
    import pandas as pd

    from .intervals import wilson

    decided = frame["decision_leak"] if decision is None else pd.Series(list(decision),
                                                                         index=frame.index)
    rows = []
    for half in ("choose", "report"):
        members = frame[frame["half"] == half]
        for source in [*sorted(members["source"].unique()), "all"]:
            group = members if source == "all" else members[members["source"] == source]
            counts = agreement(group["person_leak"], decided[group.index])
            row: dict[str, Any] = {"half": half, "source": source, "items": counts.items,
                                   "person_leaks": counts.person_leaks}
            for name, count in (("agree", counts.agree), ("false", counts.false_leaks),
                                ("missed", counts.missed_leaks)):
                low, high = wilson(count, counts.items)
                key = name if name == "agree" else f"{name}_leaks"
                row.update({key: count / counts.items, f"{name}_low": low, f"{name}_high": high})
            rows.append(row)
    return pd.DataFrame(rows, columns=list(AGREEMENT_COLUMNS))


NULL_KINDS = ("another image of its kind", "noise")
"""The two nulls of :func:`null_scores`."""


def null_scores(stored: Sequence[StoredReconstruction], seed: int = 0) -> Any:
    """What the decision says where nothing leaked, as a table of scores (one row per judgement;
    ``leaks`` is derived when it is read, :func:`~dlg_helpers.measures.criteria.judge_table`):

    - ``another image of its kind``: every stored reconstruction judged against a pool image of
      its private image's source that it does not come from (drawn with ``seed``);
    - ``noise``: every pool image judged against a picture of uniform random pixels.

    Columns: ``kind``, ``source``, ``image`` (the image judged against), ``likeness``, ``rank``,
    ``lookalike``.
    """
    import pandas as pd

    from ..client.images import load_image
    from ..client.pool import pool
    from .gallery import gallery_scores

    generator = np.random.default_rng(seed)
    by_source: dict[str, list[str]] = {}
    for image in pool():
        by_source.setdefault(image.source, []).append(image.name)
    rows = []
    for item in stored:
        names = [n for n in by_source[item.source] if n != item.image]
        other = names[int(generator.integers(len(names)))]
        (score,) = gallery_scores(png_tensor(item.png), truth_at_sheet_side(other, item.side))
        rows.append({"kind": NULL_KINDS[0], "source": item.source, "image": other,
                     "likeness": score.likeness, "rank": score.rank,
                     "lookalike": score.lookalike})
    noise = torch.Generator().manual_seed(seed)
    for image in pool():
        truth = load_image(image.name, SHEET_SIDE).pixels
        (score,) = gallery_scores(torch.rand(truth.shape, generator=noise), truth)
        rows.append({"kind": NULL_KINDS[1], "source": image.source, "image": image.name,
                     "likeness": score.likeness, "rank": score.rank,
                     "lookalike": score.lookalike})
    return pd.DataFrame(rows)


NULL_COLUMNS = ("kind", "source", "n", "leaks", "rate", "low", "high")
"""The columns of :func:`null_table`."""


def null_table(judged: Any) -> Any:
    """How often the decision calls a leak where nothing leaked: one row per null kind and
    source of :func:`null_scores`'s table once judged
    (:func:`~dlg_helpers.measures.criteria.judge_table`, which adds ``leaks``), with
    :data:`NULL_COLUMNS`: the judgements ``n``, the ``leaks`` called, their ``rate`` and its
    95 % Wilson interval (``low``, ``high``)."""
    import pandas as pd

    from .intervals import wilson

    rows = []
    for (kind, source), group in judged.groupby(["kind", "source"]):
        leaks, n = int(group["leaks"].sum()), len(group)
        rows.append({"kind": kind, "source": source, "n": n, "leaks": leaks, "rate": leaks / n,
                     **dict(zip(("low", "high"), wilson(leaks, n)))})
    return pd.DataFrame(rows, columns=list(NULL_COLUMNS))
