"""Networks: rfbench's own (the :class:`MLP` and :class:`UNet` it trains, FlowTurbo's refiners) and
those of the released checkpoints (RectifiedFlow, score_sde, EDM, PFGM++, 2-RF++), written for rfbench
with the originals' parameter names so the released weights load one to one.

``TRAINED_NETS`` maps the name stored in rfbench checkpoints to its class (:func:`build_network`);
``NETS`` maps a released network's name to its class; :func:`build_net` builds one from a config in the
original's field names. :mod:`rfbench.models.nets.flows` exposes them in rfbench time, and
:mod:`rfbench.models.formats` reads the released files.
"""

from __future__ import annotations

from torch import nn

from ...errors import CheckpointError
from .dhariwal_unet import DhariwalUNet
from .mlp import MLP
from .ncsnpp import NCSNpp, NCSNppConfig
from .precond import EDMPrecond, EDMPrecondVel, VEPrecond, VPPrecond
from .refiner import ConvRefiner, VectorRefiner, make_refiner
from .song_unet import SongUNet
from .time import FourierTime
from .unet import UNet

# rfbench's own velocity networks, by the name its checkpoints store (refiners: make_refiner)
TRAINED_NETS: dict[str, type[nn.Module]] = {"MLP": MLP, "UNet": UNet}

NETS: dict[str, type[nn.Module]] = {
    "NCSNpp": NCSNpp,
    "SongUNet": SongUNet,
    "DhariwalUNet": DhariwalUNet,
    "EDMPrecond": EDMPrecond,
    "VPPrecond": VPPrecond,
    "VEPrecond": VEPrecond,
    "EDMPrecondVel": EDMPrecondVel,
}


def build_net(name: str, config: dict) -> nn.Module:
    """``NETS[name](**config)``; an unknown name or a bad config raises ValueError naming both."""
    if name not in NETS:
        raise ValueError(f"unknown network {name!r}; expected one of {', '.join(NETS)}")
    try:
        return NETS[name](**config)
    except TypeError as exc:
        raise ValueError(f"cannot build {name} from config {config} ({exc})") from None


def build_network(kind: str, config: dict, *, source: str = "network config") -> nn.Module:
    """``MLP(**config)`` or ``UNet(**config)`` by class name; a bad config raises CheckpointError naming ``source``."""
    classes = TRAINED_NETS
    if kind not in classes:
        raise CheckpointError(f"{source}: unknown network {kind!r}; expected one of {', '.join(classes)}")
    try:
        return classes[kind](**config)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{source}: cannot build {kind} from config {config} ({exc})") from None


__all__ = ["MLP", "NETS", "TRAINED_NETS", "ConvRefiner", "DhariwalUNet", "EDMPrecond", "EDMPrecondVel", "FourierTime",
           "NCSNpp", "NCSNppConfig", "SongUNet", "UNet", "VEPrecond", "VPPrecond", "VectorRefiner", "build_net",
           "build_network", "make_refiner"]
