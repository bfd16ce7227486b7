"""The attacks the course knows, in one registry.

An attack has a stored name (``config.attack``, the ``--attack`` option), and its entry says
everything else about it: the name prose and tables give it, the tag its stored runs' folders
carry, how its optimiser is described, its settings (the preset a run starts from) and its
standard setting (the one whose stored runs need no hash in their folder name). Every place that
names, files or describes an attack asks this registry, so adding an attack is one
:func:`register_attack` call plus whatever code it brings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the registry builds configurations only when asked, so attack.py can ask it
    from .config import AttackConfig

__all__ = ["OPTIMISER_NAMES", "AttackEntry", "ATTACKS", "DEFAULT_ATTACK", "register_attack",
           "attack_entry"]


OPTIMISER_NAMES = {"lbfgs": "L-BFGS", "adam": "Adam"}
"""An optimiser's name in prose, by the ``optimiser`` setting."""


@dataclass(frozen=True)
class AttackEntry:
    """One registered attack.

    Attributes:
        key: the stored name (``AttackConfig.attack``, ``--attack``), e.g. ``"dlg"``.
        display: its name in prose and tables, e.g. ``"DLG"``.
        folder_tag: appended to its stored runs' folder names (``""`` for DLG, ``"-ig"``).
        summary: one line for the command line's help.
        preset: ``preset(steps=None, **overrides)`` gives its settings (``steps=None``: its own
            budget).
        standard: its standard setting, whose stored runs' folders carry no hash (None: the
            preset itself).
    """

    key: str
    display: str
    folder_tag: str
    summary: str
    preset: Callable[..., AttackConfig]
    standard: Callable[[], AttackConfig] | None = None

    def config(self, steps: int | None = None, **overrides: Any) -> AttackConfig:
        """This attack's settings for ``steps`` (None: its own budget), with ``overrides``."""
        return self.preset(**overrides) if steps is None else self.preset(steps=steps, **overrides)

    def standard_config(self) -> AttackConfig:
        """The setting whose stored runs are named without a hash."""
        return self.preset() if self.standard is None else self.standard()

    @staticmethod
    def optimiser_text(config: AttackConfig) -> str:
        """How ``config`` optimises, for a settings table."""
        if config.optimiser == "lbfgs":
            search = ", strong-Wolfe line search" if config.line_search == "strong_wolfe" else ""
            return (f"L-BFGS, lr {config.lr:g}, history {config.history_size}, "
                    f"{config.max_iter} iterations per step{search}")
        sign = "signed " if config.signed else ""
        decay = ", step ÷10 at 3/8, 5/8 and 7/8" if config.lr_decay else ""
        return f"{OPTIMISER_NAMES[config.optimiser]} on the {sign}gradient, lr {config.lr:g}{decay}"


ATTACKS: dict[str, AttackEntry] = {}
"""The registered attacks by stored name."""


DEFAULT_ATTACK = "dlg"
"""The attack a run is unless it says otherwise (the report's)."""


def register_attack(entry: AttackEntry) -> AttackEntry:
    """Add ``entry`` to :data:`ATTACKS` (by its key) and return it.

    Raises:
        ValueError: when its key or its folder tag is already taken.
    """
    if entry.key in ATTACKS:
        raise ValueError(f"an attack named {entry.key!r} is registered already")
    if any(other.folder_tag == entry.folder_tag for other in ATTACKS.values()):
        raise ValueError(f"the folder tag {entry.folder_tag!r} is taken; give "
                         f"{entry.key!r} its own, or its runs would be filed with another's")
    ATTACKS[entry.key] = entry
    return entry


def attack_entry(attack: str | AttackConfig) -> AttackEntry:
    """The entry of the attack named ``attack``, or of the attack a configuration runs.

    Raises:
        KeyError: for an unregistered name, listing the registered ones.
    """
    key = attack if isinstance(attack, str) else attack.attack
    try:
        return ATTACKS[key]
    except KeyError:
        raise KeyError(f"unknown attack {key!r}; use one of {', '.join(ATTACKS)}, or register "
                       "it with dlg_helpers.attack.registry.register_attack") from None


def _dlg(**settings: Any) -> AttackConfig:
    from .config import AttackConfig

    return AttackConfig(**settings)


def _report_setting() -> AttackConfig:
    return _dlg(match_ratio=0.0, patience=0)


def _idlg(**settings: Any) -> AttackConfig:
    return _dlg(**{"label_mode": "idlg", "attack": "idlg", **settings})


def _idlg_report_setting() -> AttackConfig:
    return _idlg(match_ratio=0.0, patience=0)


def _inverting_gradients(**settings: Any) -> AttackConfig:
    from .config import AttackConfig

    return AttackConfig.inverting_gradients(**settings)


register_attack(AttackEntry(
    key="dlg", display="DLG", folder_tag="",
    summary="the report's attack (L-BFGS on the squared gradient distance, a soft label "
            "optimised with the image)",
    preset=_dlg, standard=_report_setting))


register_attack(AttackEntry(
    key="idlg", display="iDLG", folder_tag="-idlg",
    summary="DLG with the label read off the classifier's gradient first (Zhao et al. 2020), "
            "so that only the image is optimised",
    preset=_idlg, standard=_idlg_report_setting))


register_attack(AttackEntry(
    key="inverting-gradients", display="inverting gradients", folder_tag="-ig",
    summary="Geiping et al.'s (cosine distance, total-variation prior, signed Adam, 6,000 "
            "steps shared by 2 random starts, iDLG label)",
    preset=_inverting_gradients))
