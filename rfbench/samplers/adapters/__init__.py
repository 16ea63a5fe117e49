"""Library adapters: other libraries' samplers run on any rfbench model, NFE counted by rfbench.

``diffusers:<SchedulerClass>[:key=value]...`` (:mod:`.diffusers`) and ``k-diffusion:<sampler>[:key=value]...``
(:mod:`.kdiffusion`) resolve on lookup (``get_sampler``, suites, ``--samplers``); the libraries are
imported only then. :func:`entries` lists what the installed libraries offer, with the reason for each
entry that is refused. See docs/adapters.md.
"""

from __future__ import annotations

import importlib.util

from ..registry import SAMPLERS

_LIBRARY = {"diffusers": "diffusers", "k-diffusion": "k_diffusion"}


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


def installed(names: list[str]) -> list[str]:
    """The adapter names among ``names`` whose library is installed (suites list adapter entries only
    where they can run; other names pass through)."""
    def ok(name: str) -> bool:
        prefix = name.partition(":")[0]
        return prefix not in _LIBRARY or importlib.util.find_spec(_LIBRARY[prefix]) is not None
    return [n for n in names if ok(n)]


# A chosen set for the suites: UniPC and DPM-Solver++(2M) on flow sigmas (the flow pipelines' defaults) and
# the flow-matching Euler and Heun schedulers (FLUX / SD3).
SUITE_ENTRIES = ["diffusers:UniPCMultistepScheduler", "diffusers:DPMSolverMultistepScheduler",
                 "diffusers:FlowMatchEulerDiscreteScheduler", "diffusers:FlowMatchHeunDiscreteScheduler"]
QUICK_ENTRIES = ["diffusers:UniPCMultistepScheduler", "diffusers:FlowMatchEulerDiscreteScheduler"]  # --quick
