"""Command line: ``python -m dlg_helpers attack ...`` runs one attack and stores its record;
``python -m dlg_helpers sweep ...`` runs many into the results folder, skipping stored ones;
``python -m dlg_helpers atlas`` runs the success-rate atlas's missing sweeps; ``python -m dlg_helpers
records`` lists the stored ones; ``python -m dlg_helpers text-attack --text FILE`` recovers
sentences from a GPT-2 update.

Long runs go through here so they can run in the background (``nohup ... &``) while you work.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import torch

from .attack.config import AttackConfig
from .attack.registry import ATTACKS, DEFAULT_ATTACK, attack_entry
from .attack.trace import AttackResult
from .book.tables import fmt_int, fmt_percent_interval, fmt_sci, markdown_table
from .client.defences import Defence, parse_defence
from .client.images import image_names
from .client.models import model_names
from .devices import pick_device
from .measures.judgements import LABELS_FOLDER
from .runs.atlas_plan import ATLAS, ATLAS_FOLDER, atlas_sweep
from .runs.options import CONFIG_OPTIONS, flag
from .runs.record import list_records, save_record
from .runs.run import run_attack
from .runs.spec import in_report_setting, run_specs
from .runs.store import load_or_run, run_many
from .runs.sweep import Sweep, SweepCase, pool_sweep, run_sweep, shards_folder

__all__ = ["main", "CHECKPOINT_FILE", "attack_config"]

CHECKPOINT_FILE = "checkpoint.pt"


def _defence(text: str) -> Defence:
    try:
        return parse_defence(text)
    except ValueError as error:  # argparse shows an ArgumentTypeError's own message
        raise argparse.ArgumentTypeError(str(error)) from error


def _add_run_options(command: argparse.ArgumentParser, without: tuple[str, ...] = ()) -> None:
    """The options ``attack`` and ``sweep`` share: the model, the attack's settings (those not
    in ``without``), the machine."""
    command.add_argument("--model", default="lenet", choices=model_names(),
                         help="victim network (its input size and normalisation come with it)")
    command.add_argument("--size", type=int, default=None,
                         help="image side in pixels (None: the model's input size)")
    command.add_argument("--attack", choices=list(ATTACKS), default=DEFAULT_ATTACK,
                         help="; ".join(f"{key}: {entry.summary}" for key, entry in ATTACKS.items())
                              + "; the options below change its settings")
    presets = {key: entry.config() for key, entry in ATTACKS.items()}
    for name, (help_text, choices) in CONFIG_OPTIONS.items():
        if name in without:
            continue
        default = getattr(presets[DEFAULT_ATTACK], name)
        # Only the options given change the chosen attack's settings, so none has a default here.
        defaults = "; ".join([f"{DEFAULT_ATTACK}: {default}"] + [
            f"{key}: {getattr(preset, name)}" for key, preset in presets.items()
            if key != DEFAULT_ATTACK and getattr(preset, name) != default])
        if isinstance(default, bool):
            command.add_argument(flag(name), action=argparse.BooleanOptionalAction,
                                 default=argparse.SUPPRESS, help=f"{help_text} ({defaults})")
        else:  # a setting that is off (None) by default takes a name (one of its choices)
            command.add_argument(flag(name), type=str if default is None else type(default),
                                 default=argparse.SUPPRESS,
                                 choices=choices, help=f"{help_text} ({defaults})")
    command.add_argument("--checkpoint-every", type=int, default=10,
                         help="steps between checkpoints (an interruption loses at most these)")
    command.add_argument("--device", default=None,
                         help="cpu or cuda (None: cuda when available)")
    command.add_argument("--threads", type=int, default=None,
                         help="torch CPU threads (use 1 for a background run beside other work)")
    command.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m dlg_helpers",
        description="Deep Leakage from Gradients: reconstruct a private image from its gradient.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    attack = commands.add_parser(
        "attack", help="run one attack and write DIR/record.json and the images",
        description="Run one DLG attack on a shipped image and write DIR/record.json "
                    "(settings, per-step history, provenance), DIR/reconstruction.png and "
                    "DIR/truth.png.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    _add_run_options(attack)
    attack.add_argument("--image", default=["cat"], nargs="+",
                        help=f"private image(s), one batch: each one of {', '.join(image_names())}, "
                             "face-N (N < 200, an LFW face), digit-N (N < 1797, a handwritten "
                             "digit), or an image file's path")
    attack.add_argument("--label", type=int, default=None,
                        help="class index of the image (None: the image's own)")
    attack.add_argument("--defence", type=_defence, default=None,
                        help="what the victim does to its gradient before sharing it, as "
                             "name:strength joined by + (gaussian:1e-3, laplacian:1e-3, "
                             "prune:0.1, precision:int8, dpsgd:1.0); default: nothing")
    attack.add_argument("--trained-steps", type=int, default=0,
                        help="attack the model after this many SGD steps on the handwritten "
                             "digits (0: its random weights, as the report)")
    attack.add_argument("--out", type=Path, required=True,
                        help="folder for the record; the run checkpoints to DIR/checkpoint.pt as "
                             "it goes and, started again with the same options, resumes from it")
    sweep = commands.add_parser(
        "sweep", help="run every combination of images, seeds and defences, skipping stored ones",
        description="Run one attack per combination of --images, --seeds and --defences, each "
                    "stored as DIR/<model>/<run>/ (the folder and identity a chapter's "
                    "load_or_run looks for). Runs already stored with the same settings are "
                    "skipped, an interrupted one resumes from its checkpoint: start the same "
                    "command again after an interruption.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    _add_run_options(sweep, without=("seed",))  # --seeds instead
    chosen = sweep.add_mutually_exclusive_group(required=True)
    chosen.add_argument("--images", nargs="+",
                        help="one run per entry; join names with + for a batch (cat+astronaut)")
    chosen.add_argument("--pool", type=int, metavar="N",
                        help="N images drawn from the offline pool of 1,000 (crops of "
                             "photographs, faces, digits; dlg_helpers.client.pool), in "
                             "proportion to its sources, and with --batch B a few more so "
                             "that at least N fill whole batches (needs --table)")
    sweep.add_argument("--seeds", type=int, nargs="+", default=[0],
                       help="seeds of the weights and the random start, one run each")
    sweep.add_argument("--defences", nargs="+", default=["none"],
                       help="one run per defence (name:strength, joined by +), none for no defence")
    sweep.add_argument("--trained-steps", type=int, nargs="+", default=[0],
                       help="one run per training length (SGD steps on the digits; 0: random "
                            "weights)")
    sweep.add_argument("--results", type=Path, default=Path("results"), help="the results folder")
    sweep.add_argument("--batched", action="store_true",
                       help="compute the runs not stored yet together, --shard-size at a time, "
                            "with the batched engine (each still stored in its own folder)")
    table = sweep.add_argument_group(
        "one table", "with --table, the sweep's attacks run in batches (the batched engine) and "
        "are stored as one Parquet table, one row per attack, checkpointed shard by shard")
    table.add_argument("--table", type=Path, default=None,
                       help="the Parquet file to write (None: one folder per run, as above)")
    table.add_argument("--batch", type=int, default=1,
                       help="private images per attack, grouped from --pool (distinct labels)")
    table.add_argument("--shard-size", type=int, default=32,
                       help="attacks per shard (one batched computation, one checkpoint)")
    table.add_argument("--ray", action="store_true",
                       help="run each shard as a Ray task with one CPU")
    table.add_argument("--address", default=None,
                       help="an existing Ray cluster's address (None: a local Ray)")
    table.add_argument("--workers", type=int, default=2,
                       help="CPUs of the local Ray (one shard each)")
    atlas = commands.add_parser(
        "atlas", help="run the success-rate atlas's sweeps whose tables are missing",
        description="Run, in order, the sweeps of the atlas (dlg_helpers.runs.atlas_plan) whose "
                    "tables are not yet in DIR: each is a 'sweep ... --table', checkpointed shard "
                    "by shard, so the same command started again resumes where it stopped.")
    atlas.add_argument("--only", nargs="+", default=None, metavar="NAME",
                       help="run only these sweeps (dlg-base, idlg-batch-8, ...)")
    atlas.add_argument("--list", action="store_true",
                       help="list the sweeps, their commands and what is stored, and stop")
    atlas.add_argument("--dir", type=Path, default=ATLAS_FOLDER, help="the atlas's folder")
    atlas.add_argument("--threads", type=int, default=None,
                       help="torch CPU threads (use 1 for a background run beside other work)")
    atlas.add_argument("--ray", action="store_true", help="run each shard as a Ray task")
    atlas.add_argument("--address", default=None, help="an existing Ray cluster's address")
    atlas.add_argument("--workers", type=int, default=2, help="CPUs of the local Ray")
    labels = commands.add_parser(
        "leak-labels", help="check the leak decision against blind judgements by eye",
        description="agreement: choose the decision on the labelled set's 'choose' half and "
                    "report how the course's decision agrees with the labellers on both halves, "
                    "per source (with --answers, against your own labellers' answers); null: "
                    "recompute the null table (reconstructions judged against images they do "
                    "not come from, and noise); sheets: draw each item as labellers see it, "
                    "with an answers.csv to fill in.")
    labels.add_argument("action", nargs="?", default="agreement",
                        choices=("agreement", "null", "sheets"))
    labels.add_argument("--dir", type=Path, default=LABELS_FOLDER,
                        help="the labelled set's folder")
    labels.add_argument("--results", type=Path, default=Path("results"),
                        help="the results folder (for null)")
    labels.add_argument("--out", type=Path, default=Path("leak-sheets"),
                        help="where sheets are drawn")
    labels.add_argument("--answers", type=Path, default=None,
                        help="a CSV of item,answer (A-D or none) from new labellers")
    text = commands.add_parser(
        "text-attack", help="recover sentences from a GPT-2 client's update (DAGER)",
        allow_abbrev=False,
        description="Read sentences, one a line, as one client's batch; compute the update it "
                    "shares when it fine-tunes a GPT-2 (random weights, offline) on them; "
                    "recover the sentences from that update alone, and print each beside the "
                    "original with the exact-match and token rates.")
    text.add_argument("--text", type=Path, required=True, help="a file of sentences, one a line")
    text.add_argument("--batch", type=int, default=None,
                      help="attack the first N sentences only (default: all)")
    text.add_argument("--lora-rank", type=int, default=None,
                      help="the client fine-tunes LoRA adapters of this rank, and shares theirs")
    text.add_argument("--noise", type=float, default=0.0,
                      help="standard deviation of Gaussian noise on the shared update")
    text.add_argument("--seed", type=int, default=0, help="the model's weights")
    listing = commands.add_parser(
        "records", help="list the stored runs (a Markdown table)",
        description="List every record under DIR/<model>/<run>/: settings, cost and outcome.")
    listing.add_argument("dir", nargs="?", type=Path, default=Path("results"),
                         help="the results folder")
    listing.add_argument("--report-setting", action="store_true",
                         help="only the runs in the report's setting (DLG, all 300 steps, no "
                              "defence, the model's own image size, random weights); the others "
                              "are counted")
    return parser


def _text_attack(args: argparse.Namespace) -> int:
    from .attack.dager import dager
    from .client.language_model import encode, gpt2_tokenizer, text_model, text_update, with_lora
    from .measures.text_recovery import score_text

    if not args.text.is_file():
        raise FileNotFoundError(f"no file at {args.text}; give --text a file of sentences, one "
                                "a line")
    lines = [line.strip() for line in args.text.read_text(encoding="utf-8").splitlines()]
    sentences = [line for line in lines if line]
    if not sentences:
        raise ValueError(f"{args.text} has no sentences; write one sentence a line")
    if args.batch is not None and not 1 <= args.batch <= len(sentences):
        raise ValueError(f"--batch {args.batch} asks for more sentences than the "
                         f"{len(sentences)} in {args.text}; give at most {len(sentences)}"
                         if args.batch > 0 else "--batch is a number of sentences, at least 1")
    sentences = sentences[:args.batch]
    tokenizer = gpt2_tokenizer()
    batch = encode(tokenizer, sentences)
    model = text_model(seed=args.seed)
    if args.lora_rank is not None:
        model = with_lora(model, args.lora_rank, seed=args.seed)
    result = dager(model, text_update(model, batch, noise=args.noise, seed=args.seed))
    score = score_text(result.sequences, batch.sequences)
    recovered = {tuple(s) for s in result.sequences}
    for original, tokens in zip(sentences, batch.sequences):
        mark = "exact" if tuple(tokens) in recovered else "missed"
        print(f"{mark:6} | {original}")
    extra = [tokenizer.decode(s) for s in result.sequences
             if tuple(s) not in {tuple(t) for t in batch.sequences}]
    for sentence in extra:
        print(f"{'other':6} | {sentence}")
    print(f"{score.exact} of {score.sentences} sentences exact ({100 * score.exact_rate:.0f} %), "
          f"{score.tokens} of {score.total_tokens} tokens in place "
          f"({100 * score.token_rate:.0f} %), in {result.seconds:.0f} s"
          + ("; the span was too wide to finish (too many tokens for the model's width)"
             if result.overflowed else ""))
    return 0


def _leak_labels(args: argparse.Namespace) -> int:
    import pandas as pd

    from .measures import judgements
    from .measures.criteria import LEAK_FLOOR, LOOKALIKE_MARGIN, judge_table

    if args.action == "null":
        frame = judge_table(judgements.null_scores(
            judgements.stored_reconstructions(args.results)))
        path = args.dir / judgements.NULL_FILE
        frame.drop(columns="leaks").to_parquet(path, index=False)
        for row in judgements.null_table(frame).itertuples():
            print(f"{row.kind:28} {row.source:6} {row.leaks:4d} of {row.n:5d} "
                  f"called leaks (95 % interval {row.low:.3f}-{row.high:.3f})")
        print(f"-> {path}")
        return 0
    frame = judgements.load_labelled(args.dir)
    if args.action == "sheets":
        paths = judgements.write_sheets(frame, args.out)
        print(f"{len(paths)} sheets and answers.csv -> {args.out}")
        return 0
    if args.answers is not None:
        frame = judgements.with_answers(frame, pd.read_csv(args.answers, dtype=str))
    chosen = judgements.choose_decision(frame[frame["half"] == "choose"])
    print(f"chosen on the choose half: floor {chosen[0]:.2f}, margin {chosen[1]:+.2f}; the "
          f"course's: floor {LEAK_FLOOR:.2f}, margin {LOOKALIKE_MARGIN:+.2f}")
    table = judgements.agreement_table(frame)
    rows = [{**row, "agree": fmt_percent_interval(row["agree"], row["agree_low"],
                                                  row["agree_high"]),
             "false_leaks": fmt_percent_interval(row["false_leaks"], row["false_low"],
                                                 row["false_high"]),
             "missed_leaks": fmt_percent_interval(row["missed_leaks"], row["missed_low"],
                                                  row["missed_high"])}
            for row in table.to_dict("records")]
    print(markdown_table(rows, {
        "half": ("half", str), "source": ("source", str), "items": ("items", str),
        "person_leaks": ("leak to labellers", str), "agree": ("agree (95 % interval)", str),
        "false_leaks": ("false leaks", str), "missed_leaks": ("missed leaks", str)}).data)
    return 0


def _records(args: argparse.Namespace) -> int:
    rows = list_records(args.dir)
    if not rows:
        print(f"error: no records under {args.dir}/<model>/<run>/", file=sys.stderr)
        return 2
    good = [row for row in rows if "error" not in row]
    if args.report_setting:
        others = len(good)
        good = [row for row in good if in_report_setting(row)]
        others -= len(good)
    print(markdown_table(good, {
        "folder": ("record", str), "model": ("model", str), "image": ("image", str),
        "attack": ("attack", str), "defence": ("defence", str),
        "steps": ("steps", fmt_int), "evaluations": ("evaluations", fmt_int),
        "minutes": ("wall time", lambda v: f"{v:.1f} min"),
        "seconds_per_evaluation": ("s / evaluation", lambda v: f"{v:.2f}"), "device": ("device", str),
        "threads": ("threads", str), "final_mse": ("MSE", fmt_sci),
        "aligned_mse": ("aligned MSE", fmt_sci), "label_correct": ("label right", str),
    }).data)
    if args.report_setting:
        print(f"\n(and {others} runs with other settings, attacks or defences)")
    for row in rows:
        if "error" in row:
            print(f"unreadable: {row['folder']}: {row['error']}", file=sys.stderr)
    return 0


def attack_config(args: argparse.Namespace) -> AttackConfig:
    """The attack's settings from parsed arguments: the chosen attack, changed by the options
    given."""
    given = {name: getattr(args, name) for name in CONFIG_OPTIONS if hasattr(args, name)}
    # the trials go into the preset itself: a budget of fewer steps than its default trials
    # is valid only with fewer trials
    base = attack_entry(args.attack).config(
        given.get("steps"), **{"trials": given["trials"]} if "trials" in given else {})
    return replace(base, **given, progress=not args.no_progress)


def _attack(args: argparse.Namespace, argv: Sequence[str]) -> int:
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    config = attack_config(args)
    device = pick_device(args.device)
    checkpoint = args.out / CHECKPOINT_FILE
    if checkpoint.is_file():
        print(f"resuming from {checkpoint}", file=sys.stderr)
    result = run_attack(args.model, args.image, config, size=args.size, label=args.label,
                        device=str(device), checkpoint=checkpoint, defence=args.defence,
                        checkpoint_every=args.checkpoint_every, trained_steps=args.trained_steps)
    command = shlex.join(["python", "-m", "dlg_helpers", *argv])
    images = "+".join(args.image)
    path = save_record(result, args.out, model=args.model, image=images, device=str(device),
                       command=command, trained_steps=args.trained_steps)
    print(f"{args.model} on {images}: {_run_line(result)} -> {path}")
    return 0


def _run_line(result: AttackResult) -> str:
    """The run in one line for the terminal: ``"MSE 3.7e-04; label 3, right; matched after 116
    steps (2,321 evaluations, 10.8 s)"``; a batch lists its labels."""
    labels = ", ".join(map(str, result.label_pred))
    judged = ("right" if result.label_correct else
              f"wrong (true: {', '.join(map(str, result.label_true))})")
    ended = "budget spent" if result.status == "budget" else result.status
    steps = f"{result.steps:,} step{'' if result.steps == 1 else 's'}"
    return (f"MSE {result.final_mse:.1e}; label{'s' if len(result.label_pred) > 1 else ''} "
            f"{labels}, {judged}; {ended} after {steps} ({result.evaluations:,} evaluations, "
            f"{result.wall_seconds:.1f} s)")


def _table_sweep(args: argparse.Namespace, config: AttackConfig) -> int:
    defences = [None if text == "none" else parse_defence(text).text() for text in args.defences]
    if args.pool is not None:
        sweep = pool_sweep(config, args.pool, args.seeds, batch=args.batch,
                           trained_steps=args.trained_steps, defences=defences,
                           model=args.model, size=args.size)
    else:
        if args.batch != 1:
            raise ValueError("--batch groups --pool images; with --images join names with +")
        cases = tuple(SweepCase(tuple(entry.split("+")), seed, steps, defence)
                      for seed in args.seeds for steps in args.trained_steps
                      for defence in defences for entry in args.images)
        sweep = Sweep(cases, replace(config, snapshot_every=0), args.model, args.size)
    path = run_sweep(sweep, args.table, ray=args.ray, address=args.address,
                     workers=args.workers, shard_size=args.shard_size,
                     log=lambda line: print(line, file=sys.stderr))
    print(f"{len(sweep.cases)} attacks -> {path}")
    return 0


def _sweep(args: argparse.Namespace) -> int:
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    config = attack_config(args)
    if args.table is not None:
        return _table_sweep(args, config)
    if args.pool is not None or args.ray:
        raise ValueError("--pool and --ray store a sweep as one table: give --table FILE.parquet")
    defences = [None if text == "none" else parse_defence(text).text() for text in args.defences]
    specs = [spec for seed in args.seeds for defence in defences for steps in args.trained_steps
             for spec in run_specs(args.model, args.images, replace(config, seed=seed), args.size,
                                   steps, defence)]
    if args.batched:
        run_many(specs, args.results, device=args.device, batch_size=args.shard_size,
                 log=lambda line: print(line, file=sys.stderr))
        return 0
    for number, spec in enumerate(specs, start=1):
        folder = spec.folder(args.results)
        print(f"[{number}/{len(specs)}] {folder}", file=sys.stderr)
        load_or_run(spec, args.results, save=True, device=args.device,
                    checkpoint=folder / CHECKPOINT_FILE, checkpoint_every=args.checkpoint_every)
    return 0


def _atlas(args: argparse.Namespace) -> int:
    chosen = ATLAS if args.only is None else [atlas_sweep(name) for name in args.only]
    if args.list:
        for sweep in chosen:
            table = sweep.table(args.dir)
            shards = shards_folder(table)
            state = ("stored" if table.is_file() else
                     f"{len(list(shards.glob('*.parquet')))} shards stored" if shards.is_dir()
                     else "not started")
            print(f"{sweep.name:34} {state:18} python -m dlg_helpers "
                  f"{shlex.join(sweep.command(args.dir))}")
        return 0
    extra = [*(["--threads", str(args.threads)] if args.threads else []),
             *(["--ray", "--workers", str(args.workers)] if args.ray else []),
             *(["--address", args.address] if args.address else []), "--no-progress"]
    for sweep in chosen:
        if sweep.table(args.dir).is_file():
            continue
        print(f"atlas: {sweep.name}", file=sys.stderr)
        code = _sweep(_parser().parse_args([*sweep.command(args.dir), *extra]))
        if code:
            return code
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``) and run the command; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    # the package logs what it loads, computes or finds missing; a command shows it on stderr
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        if args.command == "records":
            return _records(args)
        if args.command == "atlas":
            return _atlas(args)
        if args.command == "leak-labels":
            return _leak_labels(args)
        if args.command == "text-attack":
            return _text_attack(args)
        return _sweep(args) if args.command == "sweep" else _attack(args, argv)
    except (ValueError, KeyError, RuntimeError, FileNotFoundError) as error:
        message = error.args[0] if isinstance(error, KeyError) else error
        print(f"error: {message}", file=sys.stderr)
        return 2
