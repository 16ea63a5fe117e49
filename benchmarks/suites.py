"""End-to-end costs: a small toy2d sweep (models, references, metrics, tables) and image statistics on
digits (the Fréchet statistics of digits-classifier features, and Inception statistics with a stand-in,
randomly initialised extractor: its cost is the FID pipeline's, its value is never a FID)."""

from __future__ import annotations

import tempfile

from ._common import pin_threads


class _Once:
    """Seconds-long calls: one call per sample, 2-3 samples."""

    number = 1
    repeat = (2, 3, 60.0)
    warmup_time = 0.0
    timeout = 600


class Toy2dSweep(_Once):
    """The toy2d suite's --quick configuration restricted to the exact oracles and four samplers, NFE
    {2, 4, 8}: the runner's own cost (references, W2, tables, plots), recomputed every call."""

    def setup(self):
        pin_threads()
        self.tmp = tempfile.TemporaryDirectory()

    def teardown(self):
        self.tmp.cleanup()

    def time_toy2d_sweep(self):
        from rfbench.runner import run_suite

        run_suite("toy2d", quick=True, models=["analytic-gmm-rf", "analytic-gmm-vp"],
                  samplers=["euler", "heun", "dpm-solver++-2m", "rf-solver"], nfe=[2, 4, 8], out=self.tmp.name,
                  force=True, progress=False)


class DigitsStats(_Once):
    def setup(self):
        from rfbench.data.images import digits
        from rfbench.metrics.digits_classifier import load_digits_classifier
        from rfbench.metrics.fid import InceptionFeatures, standin_inception_weights, to_uint8

        pin_threads()
        self.images = digits("test")[0]  # the 360 held-out digits in [-1, 1]
        self.clf, _ = load_digits_classifier(progress=False)
        self.inception = InceptionFeatures(standin_inception_weights(), batch_size=64)
        self.uint8 = to_uint8(self.images[:64])

    def time_fd_digits_stats(self):
        from rfbench.metrics.frechet import stats_from_features

        stats_from_features(self.clf.features(self.images))

    def time_inception_stats_64_standin(self):
        from rfbench.metrics.fid import image_stats

        image_stats(self.inception, [self.uint8])
