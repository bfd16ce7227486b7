"""Command line: ``python -m dlg_helpers attack ...`` runs one attack and stores its record;
``python -m dlg_helpers records`` lists the stored ones.

Long runs go through here so they can run in the background (``nohup ... &``) while you work.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path

import torch

from .attack import LABEL_MODES, OPTIMISERS, AttackConfig
from .gradients import DISTANCES
from .devices import pick_device
from .experiments import run_attack
from .defences import Defence, parse_defence
from .images import image_names
from .models import model_names
from .records import list_records, save_record
from .tables import fmt_int, fmt_sci, markdown_table

__all__ = ["main", "CHECKPOINT_FILE", "CONFIG_OPTIONS", "ATTACKS", "config_arguments",
           "attack_config"]

CHECKPOINT_FILE = "checkpoint.pt"

_DEFAULTS = AttackConfig()

CONFIG_OPTIONS: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "steps": ("optimiser steps in all, shared by all restarts and trials", None),
    "seed": ("seed of the model's weights and of the first random start", None),
    "label_mode": ("joint: optimise a soft label (DLG); idlg: read it off the gradient; "
                   "known: give the attacker the true label", LABEL_MODES),
    "lr": ("learning rate (L-BFGS or Adam)", None),
    "max_iter": ("L-BFGS iterations per step", None),
    "history_size": ("L-BFGS history size", None),
    "restarts": ("new random starts allowed after a failed attempt", None),
    "match_ratio": ("stop once the gradient distance falls below this fraction of its start "
                    "(0: never stop early on it)", None),
    "patience": ("steps without enough progress before an attempt counts as plateaued "
                 "(0: never)", None),
    "snapshot_every": ("keep the image every this many steps", None),
    "optimiser": ("lbfgs (DLG) or adam (inverting gradients)", OPTIMISERS),
    "distance": ("gradient-matching loss: euclidean (DLG) or cosine (inverting gradients)",
                 tuple(DISTANCES)),
    "tv_weight": ("weight of the total-variation prior (0: none)", None),
    "boxed": ("keep the image in [0, 1] after every step", None),
    "signed": ("step on the sign of the gradient (Adam only)", None),
    "lr_decay": ("divide the step by 10 at 3/8, 5/8 and 7/8 of each trial", None),
    "trials": ("independent random starts sharing the steps; the smallest gradient distance "
               "wins", None),
}
"""The attack settings the command line sets: field of AttackConfig -> (help, choices)."""


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _defence(text: str) -> Defence:
    try:
        return parse_defence(text)
    except ValueError as error:  # argparse shows an ArgumentTypeError's own message
        raise argparse.ArgumentTypeError(str(error)) from error


ATTACKS = {"dlg": AttackConfig, "inverting-gradients": AttackConfig.inverting_gradients}
"""The attacks ``--attack`` names, each the starting point its other options change."""


def _base(attack: str, steps: int) -> AttackConfig:
    return ATTACKS[attack](steps=steps)


def config_arguments(config: AttackConfig) -> list[str]:
    """The command-line options that give ``config``: the seed, the attack it starts from
    (``--attack inverting-gradients`` for any Adam run), then every setting that differs from
    that attack's.

    Raises:
        ValueError: when ``config`` changes a setting the command line cannot set.
    """
    attack = "inverting-gradients" if config.optimiser == "adam" else "dlg"
    base = _base(attack, config.steps)
    changed = [name for name, value in asdict(config).items()
               if name not in ("progress", "seed") and value != getattr(base, name)]
    unsupported = [name for name in changed if name not in CONFIG_OPTIONS]
    if unsupported:
        raise ValueError(f"the command line cannot set {', '.join(unsupported)}; run this "
                         "configuration from Python with load_or_run(..., save=True)")
    words = ["--seed", str(config.seed)] + (["--attack", attack] if attack != "dlg" else [])
    if config.steps != _DEFAULTS.steps and "steps" not in changed:
        words += ["--steps", str(config.steps)]
    for name in changed:
        value = getattr(config, name)
        if isinstance(value, bool):
            words.append(_flag(name) if value else "--no-" + _flag(name)[2:])
        else:
            words += [_flag(name), str(value)]
    return words


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
    attack.add_argument("--model", default="lenet", choices=model_names(),
                        help="victim network (its input size and normalisation come with it)")
    attack.add_argument("--image", default=["cat"], nargs="+",
                        help=f"private image(s), one batch: each one of {', '.join(image_names())}, "
                             "face-N (N < 200, an LFW face), or an image file's path")
    attack.add_argument("--label", type=int, default=None,
                        help="class index of the image (None: the image's own)")
    attack.add_argument("--size", type=int, default=None,
                        help="image side in pixels (None: the model's input size)")
    attack.add_argument("--attack", choices=ATTACKS, default="dlg",
                        help="dlg: the report's attack (L-BFGS on the squared distance); "
                             "inverting-gradients: Geiping et al.'s (cosine, TV prior, signed "
                             "Adam, 6,000 steps, 2 trials, iDLG label); the options below change "
                             "its settings")
    inverting = AttackConfig.inverting_gradients()
    for name, (help_text, choices) in CONFIG_OPTIONS.items():
        default = getattr(_DEFAULTS, name)
        # Only the options given change the chosen attack's settings, so none has a default here.
        defaults = (f"dlg: {default}" if getattr(inverting, name) == default else
                    f"dlg: {default}; inverting-gradients: {getattr(inverting, name)}")
        if isinstance(default, bool):
            attack.add_argument(_flag(name), action=argparse.BooleanOptionalAction,
                                default=argparse.SUPPRESS,
                                help=f"{help_text} ({defaults})")
        else:
            attack.add_argument(_flag(name), type=type(default), default=argparse.SUPPRESS,
                                choices=choices, help=f"{help_text} ({defaults})")
    attack.add_argument("--defence", type=_defence, default=None,
                        help="what the victim does to its gradient before sharing it, as "
                             "name:strength joined by + (gaussian:1e-3, laplacian:1e-3, "
                             "prune:0.1, precision:int8, dpsgd:1.0); default: nothing")
    attack.add_argument("--checkpoint-every", type=int, default=10,
                        help="steps between checkpoints (an interruption loses at most these)")
    attack.add_argument("--device", default=None,
                        help="cpu or cuda (None: cuda when available)")
    attack.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (use 1 for a background run beside other work)")
    attack.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    attack.add_argument("--out", type=Path, required=True,
                        help="folder for the record; the run checkpoints to DIR/checkpoint.pt as "
                             "it goes and, started again with the same options, resumes from it")
    listing = commands.add_parser(
        "records", help="list the stored runs (a Markdown table)",
        description="List every record under DIR/<model>/<run>/: settings, cost and outcome.")
    listing.add_argument("dir", nargs="?", type=Path, default=Path("results"),
                         help="the results folder")
    return parser


def _records(args: argparse.Namespace) -> int:
    rows = list_records(args.dir)
    if not rows:
        print(f"error: no records under {args.dir}/<model>/<run>/", file=sys.stderr)
        return 2
    good = [row for row in rows if "error" not in row]
    print(markdown_table(good, {
        "folder": ("record", str), "model": ("model", str), "image": ("image", str),
        "attack": ("attack", str), "defence": ("defence", str),
        "steps": ("steps", fmt_int), "evaluations": ("evaluations", fmt_int),
        "minutes": ("wall time", lambda v: f"{v:.1f} min"),
        "seconds_per_evaluation": ("s / evaluation", lambda v: f"{v:.2f}"), "device": ("device", str),
        "threads": ("threads", str), "final_mse": ("MSE", fmt_sci),
        "aligned_mse": ("aligned MSE", fmt_sci), "label_correct": ("label right", str),
    }).data)
    for row in rows:
        if "error" in row:
            print(f"unreadable: {row['folder']}: {row['error']}", file=sys.stderr)
    return 0


def attack_config(args: argparse.Namespace) -> AttackConfig:
    """The attack's settings from parsed arguments: the chosen attack, changed by the options
    given."""
    given = {name: getattr(args, name) for name in CONFIG_OPTIONS if hasattr(args, name)}
    base = _base(args.attack, given.get("steps", _DEFAULTS.steps))
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
                        checkpoint_every=args.checkpoint_every)
    command = shlex.join(["python", "-m", "dlg_helpers", *argv])
    images = "+".join(args.image)
    path = save_record(result, args.out, model=args.model, image=images, device=str(device),
                       command=command)
    print(f"{args.model} on {images}: MSE {result.final_mse:.3g}, label "
          f"{result.label_pred} (true {result.label_true}), {result.status} after "
          f"{result.steps} steps, {result.evaluations} evaluations, "
          f"{result.wall_seconds:.1f} s -> {path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``) and run the command; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    try:
        return _records(args) if args.command == "records" else _attack(args, argv)
    except (ValueError, KeyError, RuntimeError, FileNotFoundError) as error:
        message = error.args[0] if isinstance(error, KeyError) else error
        print(f"error: {message}", file=sys.stderr)
        return 2
