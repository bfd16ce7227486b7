"""The labelled set of people's judgements, and the leak decision chosen and checked on it."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from dlg_helpers.client.pool import pool
from dlg_helpers.measures import criteria, judgements


@pytest.fixture(scope="module")
def labelled() -> pd.DataFrame:
    return judgements.load_labelled()


def test_a_majority_names_the_private_image_and_a_tie_does_not():
    shown = ["dog", "cat", "owl", "car"]
    assert judgements.person_leaks(["B", "B"], shown, "cat")
    assert judgements.person_leaks(["B", "B", "none"], shown, "cat")
    assert not judgements.person_leaks(["B", "A"], shown, "cat")
    assert not judgements.person_leaks(["none", "none"], shown, "cat")
    assert not judgements.person_leaks(["A", "A"], shown, "cat")


def test_agreement_counts_each_kind_of_error():
    counts = judgements.agreement([True, True, False, False, True],
                                  [True, False, True, False, True])
    assert counts == judgements.Agreement(items=5, agree=3, false_leaks=1, missed_leaks=1,
                                          person_leaks=3)


def test_halves_split_each_source_in_two():
    sources = ["digit"] * 5 + ["photo"] * 4
    halves = judgements.split_halves(sources)
    assert halves == judgements.split_halves(sources)  # the split is fixed by its seed
    assert halves[:5].count("choose") == 2 and halves[5:].count("choose") == 2
    assert set(halves) == {"choose", "report"}


def test_decoys_are_of_the_same_source_and_never_the_same_photograph():
    sources = {p.name: p.source for p in pool()}
    generator = np.random.default_rng(0)
    for image in ("crop-astronaut-1-0-0", "face-3", "digit-7"):
        chosen = judgements.decoys(image, sources[image], generator)
        assert len(set(chosen)) == 3
        assert all(sources[name] == sources[image] for name in chosen)
        assert not any(name.startswith("crop-astronaut") for name in chosen
                       if image.startswith("crop-astronaut"))


def test_the_chosen_decision_is_found_again():
    # people identify exactly the items at likeness 0.7 or more that rank first
    frame = pd.DataFrame({"likeness": np.linspace(0.3, 1.0, 36), "rank": [1] * 30 + [2] * 6,
                          "lookalike": [0.2] * 36})
    frame["person_leak"] = (frame["likeness"] >= 0.7 - 1e-9) & (frame["rank"] == 1)
    floor, margin = judgements.choose_decision(frame)
    assert (judgements.decide(frame, floor, margin) == frame["person_leak"]).all()


def test_the_labelled_set_spans_what_the_course_stores(labelled):
    assert len(labelled) >= 300
    assert set(labelled["source"]) == {"digit", "face", "photo"}
    assert set(labelled["attack"]) == {"dlg", "idlg", "inverting-gradients"}
    assert labelled["model"].nunique() >= 4  # LeNet and the report's large models
    settings = " ".join(labelled["setting"])
    for factor in ("batch", "gaussian", "after", "64 x 64"):
        assert factor in settings
    for row in labelled.head(20).itertuples():
        shown = json.loads(row.shown)
        assert row.image in shown and len(set(shown)) == 4 and len(row.answers) >= 2


def test_the_course_decision_is_the_one_chosen_on_the_choose_half(labelled):
    choose = labelled[labelled["half"] == "choose"]
    person = choose["person_leak"].to_numpy()
    best = max(int((judgements.decide(choose, f, m) == person).sum())
               for f in judgements.FLOORS for m in judgements.MARGINS)
    ours = int((judgements.decide(choose, criteria.LEAK_FLOOR, criteria.LOOKALIKE_MARGIN)
                == person).sum())
    # a likeness computed on another CPU may cross a threshold: one item's tolerance
    assert ours >= best - 1
    assert (labelled["decision_leak"] == judgements.decide(
        labelled, criteria.LEAK_FLOOR, criteria.LOOKALIKE_MARGIN)).all()


def test_the_decision_agrees_with_people_better_than_the_old_one_on_the_report_half(labelled):
    table = judgements.agreement_table(labelled)
    report = table[(table["half"] == "report") & (table["source"] == "all")].iloc[0]
    assert report["items"] == (labelled["half"] == "report").sum()
    # measured 88.1 %; a likeness that crosses a threshold on another CPU moves it by 0.4 %
    assert report["agree"] >= 0.86
    assert report["agree_low"] < report["agree"] < report["agree_high"]
    old = judgements.decide(labelled, 0.7, -1.0)  # the old rule: rank 1 and likeness 0.7
    old_table = judgements.agreement_table(labelled, old)
    old_report = old_table[(old_table["half"] == "report") & (old_table["source"] == "all")]
    assert report["agree"] > old_report["agree"].iloc[0]
    assert np.isclose(report["agree"] + report["false_leaks"] + report["missed_leaks"], 1)


def test_new_answers_replace_the_stored_ones(labelled):
    first = labelled.iloc[0]
    letter = judgements.CHOICES[json.loads(first["shown"]).index(first["image"])]
    answers = pd.DataFrame({"item": [first["item"]] * 2, "answer": [letter.lower(), "None"]})
    judged = judgements.with_answers(labelled, answers)
    assert len(judged) == 1 and not judged["person_leak"].iloc[0]  # a tie
    with pytest.raises(ValueError, match="one of A, B, C, D or none"):
        judgements.with_answers(labelled, pd.DataFrame({"item": [first["item"]],
                                                        "answer": ["E"]}))
    with pytest.raises(ValueError, match="item names of the sheets"):
        judgements.with_answers(labelled, pd.DataFrame({"item": ["x"], "answer": ["A"]}))


def test_a_sheet_shows_the_items_candidates_in_the_stored_order(labelled, tmp_path):
    paths = judgements.write_sheets(labelled.head(2), tmp_path)
    assert [p.name for p in paths] == [f"{item}.png" for item in labelled["item"].head(2)]
    assert (tmp_path / judgements.ANSWERS_FILE).read_text().splitlines()[0] == "item,answer"
    sheet = judgements.draw_sheet(torch.rand(1, 3, 32, 32), [torch.rand(1, 3, 32, 32)] * 4)
    assert sheet.size[0] > sheet.size[1]


def test_a_missing_labelled_set_names_where_it_should_be(tmp_path):
    with pytest.raises(FileNotFoundError, match="results/leak-labels"):
        judgements.load_labelled(tmp_path)


def test_the_null_rarely_calls_a_leak():
    null = criteria.judge_table(pd.read_parquet(judgements.LABELS_FOLDER / judgements.NULL_FILE))
    assert set(null["kind"]) == set(judgements.NULL_KINDS)
    noise = null[null["kind"] == "noise"]
    assert len(noise) == len(pool()) and not noise["leaks"].any()
    other = null[null["kind"] == judgements.NULL_KINDS[0]]
    assert len(other) >= 2000 and other["leaks"].mean() < 0.02


def test_the_null_table_counts_leaks_by_kind_and_source_with_their_interval():
    judged = pd.DataFrame({"kind": ["noise"] * 3 + ["other"] * 2, "source": ["digit"] * 5,
                           "leaks": [False, False, False, True, False]})
    table = judgements.null_table(judged).set_index("kind")
    assert list(table.reset_index().columns) == list(judgements.NULL_COLUMNS)
    assert (table.loc["noise", "n"], table.loc["noise", "leaks"]) == (3, 0)
    assert table.loc["noise", "low"] == 0 and 0 < table.loc["noise", "high"] < 1
    assert table.loc["other", "rate"] == 0.5 and table.loc["other", "low"] < 0.5 < table.loc[
        "other", "high"]


def test_items_are_drawn_evenly_over_source_and_likeness_with_every_large_model_run():
    def stored(i, source, model="lenet", attack="dlg"):
        return judgements.StoredReconstruction(f"k{i}", attack, f"s{i % 3}", model, f"i{i}",
                                               source, 32, b"")

    items = [stored(i, "digit") for i in range(30)] + [stored(30, "photo", "resnet18")]
    likeness = [0.05] * 20 + [0.95] * 10 + [0.5]
    chosen = judgements.choose_items(items, likeness, per_cell=4)
    assert len(chosen) == len(set(chosen)) == 4 + 4 + 1  # two digit cells, and the ResNet run
    assert sum(likeness[i] < 0.1 for i in chosen) == 4
    assert {items[i].setting for i in chosen if likeness[i] < 0.1} == {"s0", "s1", "s2"}
    assert chosen == judgements.choose_items(items, likeness, per_cell=4)  # fixed by its seed
