"""Deep Leakage from Gradients, as small tested pieces that the course chapters call.

The pieces, each in a module of its own:

- :mod:`~dlg_helpers.models`: the victim networks by name, with the input each expects.
- :mod:`~dlg_helpers.images`: private images that load offline (and CIFAR-100 online).
- :mod:`~dlg_helpers.gradients`: the shared gradient, the gradient distance, the iDLG label.
- :mod:`~dlg_helpers.attack`: the DLG reconstruction (:func:`reconstruct`, :class:`AttackConfig`),
  step by step with checkpoints (:class:`Attack`); the same engine runs the stronger attack of
  Geiping et al. (:meth:`AttackConfig.inverting_gradients`).
- :mod:`~dlg_helpers.priors`: what the attacker assumes about images (total variation).
- :mod:`~dlg_helpers.defences`: what a victim can do to its gradient before sharing it (noise,
  pruning, reduced precision, DP-SGD through Opacus), composable and read from text.
- :mod:`~dlg_helpers.activations`: ReLU replaced by Sigmoid, module and functional calls alike.
- :mod:`~dlg_helpers.metrics`: MSE, PSNR, SSIM, and the aligned MSE that ignores what batch norm
  hides from the gradient (contrast, colour cast); batches are paired image by image first.
- :mod:`~dlg_helpers.experiments`: one call per experiment, and the comparison with the original.
- :mod:`~dlg_helpers.plotting`: the report's figures; :mod:`~dlg_helpers.tables`: results tables.
- :mod:`~dlg_helpers.records`: one attack as a JSON record with its arrays and images.
- :mod:`~dlg_helpers.store`: stored runs, reused when their settings match (:func:`load_or_run`).
- :mod:`~dlg_helpers.summaries`: the settings, parameter and results tables the chapters share.
- :mod:`~dlg_helpers.original`: the original DLG loop, as a baseline.
- :mod:`~dlg_helpers.cli`: ``python -m dlg_helpers attack ...`` for long runs in the background.
"""

from .attack import Attack, AttackConfig, AttackResult, reconstruct
from .devices import pick_device
from .experiments import run_attack
from .gradients import gradient_distance, idlg_label, shared_gradient
from .images import ImageSample, image_names, load_cifar100, load_image
from .metrics import image_metrics, mse, psnr, ssim
from .models import (ModelSpec, Normalisation, build_model, count_parameters, get_spec,
                     model_names, register_model)

__all__ = [
    "Attack", "AttackConfig", "AttackResult", "reconstruct",
    "pick_device", "run_attack",
    "gradient_distance", "idlg_label", "shared_gradient",
    "ImageSample", "image_names", "load_cifar100", "load_image",
    "image_metrics", "mse", "psnr", "ssim",
    "ModelSpec", "Normalisation", "build_model", "count_parameters", "get_spec", "model_names",
    "register_model",
]
__version__ = "0.1.0"
