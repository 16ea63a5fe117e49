"""Library adapters: other libraries' samplers run on any rfbench model, NFE counted by rfbench.

``diffusers:<SchedulerClass>[:key=value]...`` (:mod:`.diffusers`) and ``k-diffusion:<sampler>[:key=value]...``
(:mod:`.kdiffusion`) resolve on lookup (``get_sampler``, suites, ``--samplers``); the libraries are
imported only then. :func:`entries` lists what the installed libraries offer, with the reason for each
entry that is refused. See docs/adapters.md.
"""

from __future__ import annotations

from ..registry import SAMPLERS


def _resolve_diffusers(name: str):
    from . import diffusers

    return diffusers.resolve(name)


def _resolve_kdiffusion(name: str):
    from . import kdiffusion

    return kdiffusion.resolve(name)


SAMPLERS.register_prefix("diffusers", _resolve_diffusers)
SAMPLERS.register_prefix("k-diffusion", _resolve_kdiffusion)


def entries() -> list[tuple[str, str | None]]:
    """(name, None or the reason it is refused) for every adapter entry the installed libraries offer."""
    from . import diffusers, kdiffusion

    return diffusers.entries() + kdiffusion.entries()
