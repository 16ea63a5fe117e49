"""The sampler catalogue. Each sampler is a short function ``fn(model, x, ts, **options)`` that
reads like its paper's update rule, registered with its order, NFE per step and NFE plan.

>>> from rfbench.samplers import SAMPLERS, get_sampler
>>> get_sampler("heun").order
2
"""

from . import adaptive, classic, diffusion, dpm_solver, rf_solver  # noqa: F401  (registers the samplers)
from . import deis, ipndm, unipc  # noqa: F401,E402  (UniPC, DEIS, iPNDM: multistep exponential integrators)
from . import boss, flowturbo  # noqa: F401,E402  (BOSS, FlowTurbo: per-model calibration / refiner)
from ..models.grids import GRIDS, make_grid, register_grid
from ..models.ode import ReferenceSolution, reference_solution, solve_ode
from . import adapters  # noqa: F401,E402  (diffusers: / k-diffusion: names, resolved on lookup)
from .api import SampleResult, sample
from .registry import SAMPLERS, Plan, SamplerSpec, get_sampler, register_sampler

__all__ = [
    "GRIDS", "SAMPLERS", "Plan", "ReferenceSolution", "SampleResult", "SamplerSpec", "get_sampler",
    "make_grid", "reference_solution", "register_grid", "register_sampler", "sample", "solve_ode",
]
