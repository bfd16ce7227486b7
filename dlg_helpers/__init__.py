"""Deep Leakage from Gradients, as small tested pieces that the course chapters call.

The package is laid out as the data flows, from a private image to a page of the book:

- :mod:`~dlg_helpers.client`: the victim's side. Models by name (:mod:`.client.models`, with
  :mod:`.client.activations` swapping ReLU for Sigmoid), private images that load offline
  (:mod:`.client.images`), the gradient a client shares (:mod:`.client.gradients`), what it can
  do to it first (:mod:`.client.defences`), the victim holding its private batch
  (:mod:`.client.victim`), training on shared gradients (:mod:`.client.training`), and a pool of
  a thousand offline images for success rates (:mod:`.client.pool`), and a GPT-2 client that
  fine-tunes on private messages (:mod:`.client.language_model`).
- :mod:`~dlg_helpers.attack`: the attacker's side. The registry of attacks
  (:mod:`.attack.registry`), their settings (:mod:`.attack.config`), the objective and prior
  (:mod:`.attack.objective`), the labels read off the gradient (:mod:`.attack.labels`), the engine
  with restarts and checkpoints (:mod:`.attack.engine`), many attacks in one computation
  (:mod:`.attack.batched`, its optimisers in :mod:`.attack.batched_optim`), what it leaves behind
  (:mod:`.attack.trace`), the original loop as a baseline (:mod:`.attack.baseline`), and the
  text attacks, DAGER (:mod:`.attack.dager`) and TAG (:mod:`.attack.tag`).
- :mod:`~dlg_helpers.measures`: one run scored against the truth it tried to recover. Image
  metrics after the attacker's colour correction (:mod:`.measures.metrics`), identification in a
  gallery (:mod:`.measures.gallery`), what counts as what, leaking first
  (:mod:`.measures.criteria`, chosen on blind judgements in :mod:`.measures.judgements`), the
  truth as the attack's observer (:mod:`.measures.observer`), a run as a table row
  (:mod:`.measures.rows`), intervals (:mod:`.measures.intervals`), and text recovered
  (:mod:`.measures.text_recovery`).
- :mod:`~dlg_helpers.runs`: one run end to end (:mod:`.runs.run`), what identifies it
  (:mod:`.runs.spec`, :mod:`.runs.options`), its record on disk (:mod:`.runs.record`), and the
  store that reuses it (:mod:`.runs.store`); sweeps of many attacks stored as one table
  (:mod:`.runs.sweep`); the measurement plans of the federation and text chapters
  (:mod:`.runs.federation_plan`, :mod:`.runs.text_plan`), written a row at a time
  (:mod:`.runs.table`).
- :mod:`~dlg_helpers.analysis`: outcomes over many runs. Groups of runs with their medians and
  intervals (:mod:`.analysis.comparison`), the MSE decomposition, costs, probes of the gradient,
  the leak decision's ladder of examples (:mod:`.analysis.calibration`), the defence study and its
  prices, the verdicts on the report's claims, and success rates over a sweep's table
  (:mod:`.analysis.atlas`).
- :mod:`~dlg_helpers.federation`: the attack inside a real federation. Flower clients and a
  curious FedAvg server that keeps every reply (:mod:`.federation.simulation`), and the gradient
  read back from the weights sent and received (:mod:`.federation.recover`).
- :mod:`~dlg_helpers.book`: what the chapters show. Tables, figures (:mod:`.book.plotting`), the
  explorer, glued values (:mod:`.book.text`), chapter execution and the Colab cell.
- :mod:`~dlg_helpers.cli`: ``python -m dlg_helpers attack ...`` for long runs in the background;
  :mod:`~dlg_helpers.ray_state` keeps Ray's files inside a run's folder.

The short calls readers use are here at the top (``dlg.run_attack``, ``dlg.load_image``, ...), and
so are the modules the chapters call by name (``from dlg_helpers import plotting, verdicts``).
"""

import importlib
from types import ModuleType

from .attack.batched import reconstruct_many
from .attack.config import AttackConfig
from .attack.engine import Attack, reconstruct
from .attack.labels import idlg_label
from .attack.objective import gradient_distance
from .attack.trace import AttackResult
from .client.gradients import shared_gradient
from .client.images import ImageSample, image_names, load_cifar10, load_cifar100, load_image
from .measures.metrics import image_metrics, mse, psnr, ssim
from .client.models import (
    ModelSpec,
    Normalisation,
    build_model,
    count_parameters,
    get_spec,
    model_names,
    register_model,
)
from .devices import pick_device
from .runs.run import run_attack

# The modules the chapters use by name load when first asked for, so that an attack started
# from the command line does not import matplotlib and the analysis it never uses.
_MODULES = {"pool": ".client.pool",
            "criteria": ".measures.criteria", "gallery": ".measures.gallery",
            "intervals": ".measures.intervals", "metrics": ".measures.metrics",
            "record": ".runs.record", "sweep": ".runs.sweep",
            "atlas": ".analysis.atlas", "calibration": ".analysis.calibration",
            "comparison": ".analysis.comparison", "costs": ".analysis.costs",
            "decomposition": ".analysis.decomposition", "protection": ".analysis.protection",
            "verdicts": ".analysis.verdicts",
            "atlas_plots": ".book.atlas_plots", "atlas_tables": ".book.atlas_tables",
            "plotting": ".book.plotting", "summaries": ".book.summaries", "tables": ".book.tables"}


def __getattr__(name: str) -> ModuleType:
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(_MODULES[name], __name__)
    globals()[name] = module
    return module


__all__ = ["Attack", "AttackConfig", "AttackResult", "reconstruct", "reconstruct_many",
           "pick_device", "run_attack",
           "gradient_distance", "idlg_label", "shared_gradient", "ImageSample", "image_names",
           "load_cifar10", "load_cifar100", "load_image", "image_metrics", "mse", "psnr", "ssim", "ModelSpec",
           "Normalisation", "build_model", "count_parameters", "get_spec", "model_names",
           "register_model", *_MODULES]
__version__ = "0.1.0"
