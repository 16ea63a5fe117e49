"""Speed and memory of sampling: every sampler at NFE 8, batch 4096, on an exact oracle and on the
trained 1-RF MLP (CPU, float32; timings are noisy on shared machines: CI reports them and fails only
beyond 2x). The 1-RF checkpoint, BOSS calibrations and FlowTurbo refiners come from rfbench's cache
(trained on first use, outside the timed call)."""

from __future__ import annotations

import torch

from ._common import SPEED_BATCH, SPEED_MODELS, SPEED_NFE, catalogue, load_model, pin_threads, speed_applies


class Sampling:
    params = (SPEED_MODELS, catalogue())
    param_names = ["model", "sampler"]
    timeout = 600
    # a few repeats of one call: each call is milliseconds to a second
    number = 1
    repeat = (3, 5, 4.0)
    warmup_time = 0.0

    def setup(self, model, sampler):
        import rfbench
        from rfbench.errors import NotApplicableError
        from rfbench.samplers import SAMPLERS

        if not speed_applies(model, sampler):
            raise NotImplementedError(f"{sampler} is timed on the trained model only")
        pin_threads()
        self.model = load_model(model)
        self.nfe = None if SAMPLERS.get(sampler).adaptive else SPEED_NFE
        self.noise = self.model.sample_prior(SPEED_BATCH, seed=0, dtype=torch.float32)
        self.sampler = sampler
        try:  # also builds cached calibrations / refiners, outside the timed call
            rfbench.sample(self.model, sampler, self.nfe, noise=self.noise)
        except NotApplicableError as exc:
            raise NotImplementedError(str(exc)) from None

    def _run(self):
        import rfbench

        rfbench.sample(self.model, self.sampler, self.nfe, noise=self.noise)

    def time_sample(self, model, sampler):
        self._run()

    def peakmem_sample(self, model, sampler):
        self._run()
