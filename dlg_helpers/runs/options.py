"""The attack's settings as command-line options: one table that the command line reads and
that a stored run's reproducing command is written from.
"""

from __future__ import annotations

from ..attack.config import LABEL_MODES, LINE_SEARCHES, OPTIMISERS, AttackConfig
from ..attack.objective import DISTANCES
from ..attack.registry import DEFAULT_ATTACK, attack_entry

__all__ = ["CONFIG_OPTIONS", "flag", "config_arguments"]



CONFIG_OPTIONS: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "steps": ("optimiser steps in all, shared by all restarts and trials", None),
    "seed": ("seed of the model's weights and of the first random start", None),
    "label_mode": ("joint: optimise a soft label (DLG); idlg: read it off the gradient; "
                   "known: give the attacker the true label", LABEL_MODES),
    "lr": ("learning rate (L-BFGS or Adam)", None),
    "max_iter": ("L-BFGS iterations per step", None),
    "history_size": ("L-BFGS history size", None),
    "line_search": ("L-BFGS line search: strong_wolfe (torch's strong-Wolfe search, lr its first "
                    "trial step); None: the fixed step lr, as the report's", LINE_SEARCHES),
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


def flag(name: str) -> str:
    """The option that sets field ``name``, e.g. ``--tv-weight``."""
    return "--" + name.replace("_", "-")


def config_arguments(config: AttackConfig) -> list[str]:
    """The command-line options that give ``config``: the seed, the attack it is a variant of
    (``--attack``, unless it is the default), then every setting that differs from that
    attack's preset.

    Raises:
        ValueError: when ``config`` changes a setting the command line cannot set.
    """
    attack = config.attack
    entry = attack_entry(attack)
    try:
        base = entry.config(config.steps)
        changed = [name for name in config.changes_from(base) if name != "seed"]
    except ValueError:  # the preset cannot run so few steps (more trials than steps): the
        # trials must then be given, whatever they are
        base = entry.config(config.steps, trials=config.trials)
        changed = ["trials"] + [n for n in config.changes_from(base) if n != "seed"]
    unsupported = [name for name in changed if name not in CONFIG_OPTIONS]
    if unsupported:
        raise ValueError(f"the command line cannot set {', '.join(unsupported)}; run this "
                         "configuration from Python with load_or_run(..., save=True)")
    words = ["--seed", str(config.seed)] + (["--attack", attack]
                                            if attack != DEFAULT_ATTACK else [])
    if config.steps != entry.config().steps:  # the attack's own budget needs no option
        words += ["--steps", str(config.steps)]
    for name in changed:
        value = getattr(config, name)
        if isinstance(value, bool):
            words.append(flag(name) if value else "--no-" + flag(name)[2:])
        else:
            words += [flag(name), str(value)]
    return words
