"""The networks of the released checkpoints (RectifiedFlow, score_sde, EDM, PFGM++, 2-RF++), written
for rfbench with the originals' parameter names so the released weights load one to one.

``NETS`` maps a network name to its class; :func:`build_net` builds one from a config in the
original's field names. :mod:`rfbench.models.nets.flows` exposes them in rfbench time, and
:mod:`rfbench.models.formats` reads the released files.
"""

from __future__ import annotations

from torch import nn

from .dhariwal_unet import DhariwalUNet
from .ncsnpp import NCSNpp, NCSNppConfig
from .precond import EDMPrecond, EDMPrecondVel, VEPrecond, VPPrecond
from .song_unet import SongUNet

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


__all__ = ["NETS", "DhariwalUNet", "EDMPrecond", "EDMPrecondVel", "NCSNpp", "NCSNppConfig", "SongUNet",
           "VEPrecond", "VPPrecond", "build_net"]
