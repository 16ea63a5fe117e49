"""End-to-end costs: a small toy2d sweep (models, references, metrics, tables) and image statistics on
digits (the Fréchet statistics of digits-classifier features, and Inception statistics with a stand-in,
randomly initialised extractor: its cost is the FID pipeline's, its value is never a FID).

``time_`` benchmarks: wall clock with 2 threads (reported figures). ``track_ratio_`` benchmarks: the same
work's CPU time over that of a fixed reference workload (``ReferenceWorkload``), alternated in one
single-threaded process: what CI gates speed on (the machine's speed and load cancel).
"""

from __future__ import annotations

import tempfile

from ._common import ReferenceWorkload, cpu_ratio, pin_threads


class _Once:
    """Seconds-long calls: one call per sample, 2-3 samples."""

    number = 1
    repeat = (2, 3, 60.0)
    warmup_time = 0.0
    timeout = 600


class _Toy2d:
    """The toy2d suite's --quick configuration restricted to the exact oracles and four samplers, NFE
    {2, 4, 8}: the runner's own cost (references, W2, tables, plots), recomputed every call."""

    def setup(self):
        self.tmp = tempfile.TemporaryDirectory()

    def teardown(self):
        self.tmp.cleanup()

    def _sweep(self):
        from rfbench import run_suite

        run_suite("toy2d", quick=True, models=["analytic-gmm-rf", "analytic-gmm-vp"],
                  samplers=["euler", "heun", "dpm-solver++-2m", "rf-solver"], nfe=[2, 4, 8], out=self.tmp.name,
                  force=True, progress=False)


class Toy2dSweep(_Toy2d, _Once):
    def setup(self):
        pin_threads()
        super().setup()

    def time_toy2d_sweep(self):
        self._sweep()


class Toy2dSweepRatio(_Toy2d):
    timeout = 600

    def setup(self):
        super().setup()
        self.reference = ReferenceWorkload()

    def track_ratio_toy2d_sweep(self):
        return cpu_ratio(self._sweep, self.reference, repeats=2)

    track_ratio_toy2d_sweep.unit = "x reference workload"


class _Digits:
    """The 360 held-out digits in [-1, 1], the digits classifier, a stand-in Inception and 64 digits as uint8."""

    def setup(self):
        from rfbench.data.images import digits
        from rfbench.metrics.digits_classifier import load_digits_classifier
        from rfbench.metrics.fid import InceptionFeatures, standin_inception_weights, to_uint8

        self.images = digits("test")[0]
        self.clf, _ = load_digits_classifier(progress=False)
        self.inception = InceptionFeatures(standin_inception_weights(), batch_size=64)
        self.uint8 = to_uint8(self.images[:64])

    def _fd(self):
        from rfbench.metrics.frechet import stats_from_features

        stats_from_features(self.clf.features(self.images))

    def _inception(self, images):
        from rfbench.metrics.fid import image_stats

        image_stats(self.inception, [images])


class DigitsStats(_Digits, _Once):
    def setup(self):
        pin_threads()
        super().setup()

    def time_fd_digits_stats(self):
        self._fd()

    def time_inception_stats_64_standin(self):
        self._inception(self.uint8)


class DigitsStatsRatio(_Digits):
    """The Inception pipeline's ratio is taken on 16 images: its per-image cost in a quarter of the time."""

    timeout = 600

    def setup(self):
        super().setup()
        self.reference = ReferenceWorkload()

    def track_ratio_fd_digits_stats(self):
        return cpu_ratio(self._fd, self.reference)

    track_ratio_fd_digits_stats.unit = "x reference workload"

    def track_ratio_inception_stats_16_standin(self):
        return cpu_ratio(lambda: self._inception(self.uint8[:16]), self.reference, repeats=2)

    track_ratio_inception_stats_16_standin.unit = "x reference workload"
