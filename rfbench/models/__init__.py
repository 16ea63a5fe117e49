"""The model catalogue.

Every model is a :class:`~rfbench.models.base.FlowModel` in rfbench time (t = 1 noise, t = 0 data;
see :mod:`rfbench.models.schedules` for the crosswalk to other conventions).

>>> import rfbench
>>> model = rfbench.models.get_model("analytic-gmm-rf")
>>> model = rfbench.models.get_model("1-rf", data="8gaussians")       # trained once, then cached
                                                                   # (catalogue: rfbench.training)
>>> model = rfbench.models.from_velocity(my_fn, data_shape=(2,))     # your own field (RF convention)
>>> rfbench.models.register_checkpoint("my-rf", "my.pt", family="flow", net="UNet", net_config={...})
"""

from __future__ import annotations

from . import builtin  # noqa: F401  (registers the analytic models and diffusers-unet)
from .analytic import AnalyticGMM, AnalyticPFGMPP, AnalyticPFGMPPGMM
from .base import FlowModel, NFECounter
from .formats import load_checkpoint, register_checkpoint, register_checkpoints_file
from .families import EDMFlow, NetworkFlow
from .priors import GaussianPrior, PFGMPPPrior, Prior
from .registry import MODELS, ModelEntry, check_model_data, get_model, model_identity, register_model
from .schedules import FLOW, FlowSchedule, Schedule, VPLinearSchedule
from .wrappers import from_velocity


__all__ = [
    "MODELS", "AnalyticGMM", "AnalyticPFGMPP", "AnalyticPFGMPPGMM", "EDMFlow", "FLOW", "FlowModel", "FlowSchedule", "GaussianPrior",
    "ModelEntry", "NFECounter", "NetworkFlow", "PFGMPPPrior", "Prior", "Schedule", "VPLinearSchedule",
    "check_model_data", "from_velocity", "get_model", "load_checkpoint", "model_identity", "register_checkpoint",
    "register_checkpoints_file", "register_model",
]
