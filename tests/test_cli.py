"""The command line: attacks, sweeps and the records list."""

import logging

import pytest

import dlg_helpers as dlg
from dlg_helpers.cli import main
from dlg_helpers.runs.record import load_record


def test_cli_attack_writes_a_complete_record(tmp_path, capsys):
    out = tmp_path / "cli"
    code = main(["attack", "--model", "lenet", "--image", "cat", "--steps", "3", "--seed", "0",
                 "--no-progress", "--out", str(out)])
    assert code == 0
    record = load_record(out)
    assert record["steps"] == 3 and record["model"] == "lenet" and record["image"] == "cat"
    assert record["command"].startswith("python -m dlg_helpers attack --model lenet")
    assert record["device"] == "cpu" and record["torch_version"]
    assert "MSE" in capsys.readouterr().out


def test_cli_reports_bad_input_with_the_fix(tmp_path, capsys):
    assert main(["attack", "--image", "dog", "--out", str(tmp_path)]) == 2
    assert "unknown image 'dog'" in capsys.readouterr().err
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture")
    assert main(["attack", "--image", str(notes), "--out", str(tmp_path / "run")]) == 2
    error = capsys.readouterr().err
    assert "is a file but not an image" in error and "PNG" in error and "Traceback" not in error
    with pytest.raises(SystemExit):
        main(["attack", "--model", "vgg", "--out", str(tmp_path)])
    assert "invalid choice: 'vgg'" in capsys.readouterr().err


def test_cli_help_explains_every_option(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["attack", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--model", "--image", "--steps", "--seed", "--out", "--label-mode",
                   "--restarts", "--device", "--threads", "--no-progress"):
        assert option in text


def test_cli_resumes_an_interrupted_run_from_its_checkpoint(tmp_path, capsys):
    out = tmp_path / "long"
    options = ["attack", "--image", "cat", "--steps", "6", "--no-progress", "--out", str(out)]
    assert main(options) == 0
    assert (out / "checkpoint.pt").is_file()
    first = load_record(out)
    # Started again with the same options, the finished run is picked up, not recomputed.
    assert main(options) == 0
    assert "resuming from" in capsys.readouterr().err
    again = load_record(out)
    assert again["history"] == first["history"] and again["steps"] == 6
    assert main(options[:-2] + ["--seed", "3", "--out", str(out)]) == 2
    assert "other settings" in capsys.readouterr().err


def test_cli_lists_stored_records_and_names_broken_ones(tmp_path, capsys):
    out = tmp_path / "lenet" / "cat+coffee-seed0"
    assert main(["attack", "--image", "cat", "coffee", "--steps", "2", "--threads", "1",
                 "--no-progress", "--out", str(out)]) == 0
    broken = tmp_path / "lenet" / "broken"
    broken.mkdir()
    (broken / "record.json").write_text("{")
    capsys.readouterr()
    assert main(["records", str(tmp_path)]) == 0
    listing = capsys.readouterr()
    assert f"| {out} | lenet | cat+coffee | DLG | none | 2 |" in listing.out
    assert "| cpu | 1 |" in listing.out and "s / evaluation" in listing.out
    assert f"unreadable: {broken}" in listing.err and "corrupt" in listing.err
    assert main(["records", str(tmp_path / "empty")]) == 2
    assert "no records under" in capsys.readouterr().err


@pytest.mark.filterwarnings("ignore::dlg_helpers.attack.engine.AttackDivergedWarning")  # 2-step runs
def test_a_sweep_stores_every_combination_and_skips_what_is_stored(tmp_path, capsys, caplog):
    words = ["sweep", "--model", "lenet", "--images", "cat", "coffee+astronaut", "--seeds", "0",
             "1", "--defences", "none", "prune:0.5", "--steps", "2", "--no-progress",
             "--results", str(tmp_path)]
    assert main(words) == 0
    folders = sorted(p.parent.name.rsplit("-", 1)[0]  # without the settings' hash
                     for p in tmp_path.glob("lenet/*/record.json"))
    assert folders == sorted(f"{images}-seed{seed}{defence}"
                             for images in ("cat", "coffee+astronaut") for seed in (0, 1)
                             for defence in ("", "-prune=0.5"))
    caplog.clear()
    caplog.set_level(logging.INFO)
    assert main(words) == 0  # again: everything is stored, nothing is computed
    assert caplog.text.count("loaded the stored run") == 8 and "computing" not in caplog.text
    assert main(["records", str(tmp_path), "--report-setting"]) == 0
    listing = capsys.readouterr().out
    assert "(and 8 runs with other settings, attacks or defences)" in listing
    assert "| lenet |" not in listing  # 2-step runs are not the report's setting


def test_a_sweep_over_training_lengths_stores_one_run_per_length(tmp_path):
    words = ["sweep", "--model", "lenet", "--images", "digit-3", "--trained-steps", "0", "50",
             "--steps", "2", "--no-progress", "--results", str(tmp_path)]
    assert main(words) == 0
    records = {load_record(p)["trained_steps"]: load_record(p)
               for p in tmp_path.glob("lenet/*/record.json")}
    assert sorted(records) == [0, 50]
    assert "--trained-steps 50" in records[50]["command"]
    assert records[0]["label_true"] == [3] == [dlg.load_image("digit-3", 32).label]


def test_the_leak_decision_is_checked_against_the_labels_and_new_answers(tmp_path, capsys):
    assert main(["leak-labels"]) == 0
    out = capsys.readouterr().out
    assert "chosen on the choose half" in out and "| report | all |" in out
    bad = tmp_path / "answers.csv"
    bad.write_text("item,answer\nitem-0000,Z\n")
    assert main(["leak-labels", "--answers", str(bad)]) == 2
    assert "one of A, B, C, D or none" in capsys.readouterr().err


def test_a_run_is_summed_up_in_one_line_for_the_terminal(make_result):
    from dlg_helpers.cli import _run_line

    line = _run_line(make_result([1.0, 1e-4]))
    assert line.startswith("MSE ") and "label 1, " in line and "[" not in line
    assert line.endswith("; budget spent after 1 step (40 evaluations, 1.0 s)")


@pytest.mark.slow
def test_text_attack_recovers_sentences_it_has_never_seen_and_explains_bad_input(tmp_path, capsys):
    from dlg_helpers.client.language_model import private_messages

    messages = private_messages(2, seed=7070)  # generated here, stored nowhere
    text = tmp_path / "messages.txt"
    text.write_text("\n".join(messages) + "\n\n", encoding="utf-8")  # a blank line is skipped
    assert main(["text-attack", "--text", str(text)]) == 0
    out = capsys.readouterr().out
    assert all(f"exact  | {message}" in out for message in messages)
    assert "2 of 2 sentences exact (100 %)" in out
    assert main(["text-attack", "--text", str(text), "--batch", "3"]) == 2
    assert "give at most 2" in capsys.readouterr().err
    (tmp_path / "empty.txt").write_text("\n\n")
    assert main(["text-attack", "--text", str(tmp_path / "empty.txt")]) == 2
    assert "one sentence a line" in capsys.readouterr().err
    (tmp_path / "long.txt").write_text("word " * 1100)
    assert main(["text-attack", "--text", str(tmp_path / "long.txt")]) == 2
    assert "more than the model's context of 1023; shorten or split it" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["text-attack", "--text", str(text), "--lora", "8"])
    assert "unrecognized arguments: --lora" in capsys.readouterr().err
