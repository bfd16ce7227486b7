"""Command line: ``python -m dlg_helpers attack ...`` runs one attack and stores its record;
``python -m dlg_helpers records`` lists the stored ones.

Long runs go through here so they can run in the background (``nohup ... &``) while you work.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from .attack import LABEL_MODES, AttackConfig
from .devices import pick_device
from .experiments import run_attack
from .images import image_names
from .models import model_names
from .records import list_records, save_record
from .tables import fmt_int, fmt_sci, markdown_table

__all__ = ["main", "CHECKPOINT_FILE"]

CHECKPOINT_FILE = "checkpoint.pt"

_DEFAULTS = AttackConfig()


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
    attack.add_argument("--steps", type=int, default=_DEFAULTS.steps,
                        help="L-BFGS steps in all, shared by all restarts")
    attack.add_argument("--seed", type=int, default=_DEFAULTS.seed,
                        help="seed of the model's weights and of the first random start")
    attack.add_argument("--label-mode", choices=LABEL_MODES, default=_DEFAULTS.label_mode,
                        help="joint: optimise a soft label (DLG); idlg: read it off the gradient; "
                             "known: give the attacker the true label")
    attack.add_argument("--lr", type=float, default=_DEFAULTS.lr, help="L-BFGS learning rate")
    attack.add_argument("--max-iter", type=int, default=_DEFAULTS.max_iter,
                        help="L-BFGS iterations per step")
    attack.add_argument("--history-size", type=int, default=_DEFAULTS.history_size,
                        help="L-BFGS history size")
    attack.add_argument("--restarts", type=int, default=_DEFAULTS.restarts,
                        help="new random starts allowed after a failed attempt")
    attack.add_argument("--match-ratio", type=float, default=_DEFAULTS.match_ratio,
                        help="stop once the gradient distance falls below this fraction of its "
                             "start (0: never stop early on it)")
    attack.add_argument("--patience", type=int, default=_DEFAULTS.patience,
                        help="steps without enough progress before an attempt counts as "
                             "plateaued (0: never)")
    attack.add_argument("--snapshot-every", type=int, default=_DEFAULTS.snapshot_every,
                        help="keep the image every this many steps")
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


def _attack(args: argparse.Namespace, argv: Sequence[str]) -> int:
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    config = AttackConfig(
        steps=args.steps, lr=args.lr, max_iter=args.max_iter, history_size=args.history_size,
        label_mode=args.label_mode, seed=args.seed, snapshot_every=args.snapshot_every,
        match_ratio=args.match_ratio, patience=args.patience, restarts=args.restarts,
        progress=not args.no_progress,
    )
    device = pick_device(args.device)
    checkpoint = args.out / CHECKPOINT_FILE
    if checkpoint.is_file():
        print(f"resuming from {checkpoint}", file=sys.stderr)
    result = run_attack(args.model, args.image, config, size=args.size, label=args.label,
                        device=str(device), checkpoint=checkpoint,
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
