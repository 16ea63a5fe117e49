"""Quality of every sampler on the exact oracle models: deterministic values that CI gates on.

On an analytic model the velocity is exact, so a sampler's error against the float64 reference is pure
discretisation error; with a fixed seed, float64 and fixed threads these values repeat to the last
digit on one machine. All lower is better (asv's assumption):

- ``track_ref_rmse``: ref_rmse at NFE 8 (256 samples, seed 0).
- ``track_nfe_gap``: |measured NFE - the sampler's planned NFE| at NFE 8 (0 unless NFE counting broke).
- ``track_order_deficit``: the sampler's theoretical order minus its fitted order over NFE 16, 32, 64
  (pre-asymptotic on some models: what is tracked is its change, not its value).

Samplers that do not apply to a model (e.g. EDM's Heun on a flow) are skipped, and so is FlowTurbo, whose
quality is that of its learned refiner (minutes of training on an oracle; it is timed on 1-rf).
"""

from __future__ import annotations

import torch

from ._common import (ORDER_N, ORDER_NFES, QUALITY_MODELS, QUALITY_N, QUALITY_NFE, QUALITY_SKIP, catalogue,
                      load_model, pin_threads)


def _measure() -> dict:
    import rfbench
    from rfbench.errors import NotApplicableError
    from rfbench.metrics.convergence import measure_convergence
    from rfbench.metrics.solver_error import ref_rmse
    from rfbench.samplers import SAMPLERS
    from rfbench.samplers.adaptive import model_in_dtype

    pin_threads()
    out: dict = {}
    for model_name in QUALITY_MODELS:
        model = model_in_dtype(load_model(model_name), torch.float64)
        noise = model.sample_prior(QUALITY_N, seed=0, dtype=torch.float64)
        ref = rfbench.reference_solution(model, noise).x_end
        order_ref = ref[:ORDER_N]
        for name in catalogue():
            if name in QUALITY_SKIP:
                continue
            spec = SAMPLERS.get(name)
            nfe = None if spec.adaptive else QUALITY_NFE
            try:
                res = rfbench.sample(model, name, nfe, noise=noise, dtype=torch.float64)
            except NotApplicableError:
                continue
            row = {"ref_rmse": ref_rmse(res.x, ref)}
            if res.nfe_expected is not None:
                row["nfe_gap"] = abs(res.nfe_measured - res.nfe_expected)
            if spec.order is not None and not spec.adaptive:
                conv = measure_convergence(model, name, ORDER_NFES, n=ORDER_N, reference=order_ref)
                row["order_deficit"] = spec.order - conv.order
            out[(model_name, name)] = row
    return out


def setup_cache():
    """Shared by every benchmark of this module (asv keys the cache by this function)."""
    return _measure()


setup_cache.timeout = 600


class _Tracked:
    """One tracked value per (model, sampler); combinations where it is undefined are skipped."""

    key = ""
    params = (QUALITY_MODELS, catalogue())
    param_names = ["model", "sampler"]
    timeout = 600

    def setup(self, values, model, sampler):
        if self.key not in values.get((model, sampler), {}):
            raise NotImplementedError(f"{self.key} is not defined for {sampler} on {model}")


class RefRMSE(_Tracked):
    key = "ref_rmse"

    def track_ref_rmse(self, values, model, sampler):
        return values[(model, sampler)][self.key]

    track_ref_rmse.unit = "rmse"


class NFEGap(_Tracked):
    key = "nfe_gap"

    def track_nfe_gap(self, values, model, sampler):
        return values[(model, sampler)][self.key]

    track_nfe_gap.unit = "evaluations"


class OrderDeficit(_Tracked):
    key = "order_deficit"

    def track_order_deficit(self, values, model, sampler):
        return values[(model, sampler)][self.key]

    track_order_deficit.unit = "order"
