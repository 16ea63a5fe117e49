"""A user's sampler, in a module of its own (not rfbench's): the explicit midpoint rule, registered with
``register_sampler`` exactly as docs/adapters.md shows. Imported by test_adapters_user.py."""

import torch

from rfbench.samplers import Plan, SamplerSpec, register_sampler
from rfbench.samplers.registry import SAMPLERS


@torch.no_grad()
def sample_midpoint(model, x, ts):
    """x_{i+1} = x_i + h v(x_i + h/2 v(x_i, t_i), t_i + h/2): order 2, 2 NFE per step."""
    times = ts.tolist()
    for t, t_next in zip(times[:-1], times[1:]):
        h = t_next - t
        x = x + h * model.velocity(x + (h / 2) * model.velocity(x, t), t + h / 2)
    return x


def midpoint_plan(nfe, model, options):
    return Plan(steps=max(nfe // 2, 1), expected_nfe=2 * max(nfe // 2, 1))


if "user-midpoint" not in SAMPLERS:
    register_sampler(SamplerSpec(name="user-midpoint", fn=sample_midpoint, order=2, nfe_per_step="2",
                                 paper="explicit midpoint rule", description="a user's sampler (test)",
                                 plan=midpoint_plan))
