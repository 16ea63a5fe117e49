"""Speed and memory of sampling: every sampler at NFE 8, batch 4096, on an exact oracle and on the
trained 1-RF MLP (CPU, float32). The 1-RF checkpoint, BOSS calibrations and FlowTurbo refiners come from
rfbench's cache (trained on first use, outside the measured calls).

- ``Sampling.time_sample`` / ``peakmem_sample``: wall clock (2 threads) and peak memory of one call:
  reported figures (wall clock follows the machine's load; CI never fails on it).
- ``SamplingRatio.track_ratio_sample``: CPU time of one sampling call divided by the CPU time of 8 bare
  network calls of the same model, alternated in the same single-threaded process: the sampler's cost
  in units of network calls, which is what CI gates speed on (the machine's speed and load cancel).
"""

from __future__ import annotations

import torch

from ._common import (SPEED_BATCH, SPEED_MODELS, SPEED_NFE, catalogue, cpu_ratio, load_model, pin_threads,
                      speed_applies)


def _prepare(bench, model: str, sampler: str) -> None:
    """Load the model and noise and run the sampler once (builds cached calibrations / refiners)."""
    import rfbench
    from rfbench.errors import NotApplicableError
    from rfbench.samplers import SAMPLERS

    if not speed_applies(model, sampler):
        raise NotImplementedError(f"{sampler} is timed on the trained model only")
    bench.model = load_model(model)
    bench.nfe = None if SAMPLERS.get(sampler).adaptive else SPEED_NFE
    bench.noise = bench.model.sample_prior(SPEED_BATCH, seed=0, dtype=torch.float32)
    bench.sampler = sampler
    try:
        rfbench.sample(bench.model, sampler, bench.nfe, noise=bench.noise)
    except NotApplicableError as exc:
        raise NotImplementedError(str(exc)) from None


class Sampling:
    params = (SPEED_MODELS, catalogue())
    param_names = ["model", "sampler"]
    timeout = 600
    # a few repeats of one call: each call is milliseconds to a second
    number = 1
    repeat = (3, 5, 4.0)
    warmup_time = 0.0

    def setup(self, model, sampler):
        pin_threads()
        _prepare(self, model, sampler)

    def _run(self):
        import rfbench

        rfbench.sample(self.model, self.sampler, self.nfe, noise=self.noise)

    def time_sample(self, model, sampler):
        self._run()

    def peakmem_sample(self, model, sampler):
        self._run()


class SamplingRatio:
    """One sampling call (NFE 8; adaptive samplers: their own NFE) over 8 bare calls ``model(x, t)`` of the
    same model on the same batch, in CPU time (``cpu_ratio``). A fixed-step sampler reads 1 plus its own
    overhead; one doing 3x the work reads 3x, whether the work is network calls or not (the unit is fixed
    at 8 calls, not the measured NFE)."""

    params = (SPEED_MODELS, catalogue())
    param_names = ["model", "sampler"]
    timeout = 600

    def setup(self, model, sampler):
        _prepare(self, model, sampler)
        # the bare calls run in the dtype rfbench.sample runs in: the model's (float64 for the oracles)
        dtype = next((p.dtype for p in [*self.model.parameters(), *self.model.buffers()] if p.is_floating_point()),
                     self.noise.dtype)
        self.x = self.noise.to(dtype)
        self.t = torch.full((SPEED_BATCH,), 0.5 * (self.model.t_min + self.model.t_max), dtype=dtype)

    @torch.no_grad()
    def _bare(self):
        for _ in range(SPEED_NFE):
            self.model(self.x, self.t)

    def _run(self):
        import rfbench

        rfbench.sample(self.model, self.sampler, self.nfe, noise=self.noise)

    def track_ratio_sample(self, model, sampler):
        return cpu_ratio(self._run, self._bare)

    track_ratio_sample.unit = "x 8 network calls"
