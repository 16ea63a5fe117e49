"""Per-cell metrics: how the sweep computes each metric of the registry (:mod:`rfbench.metrics.registry`)
for one cell, registered by name with :func:`rfbench.runner.hooks.register_cell_metric`.

* :mod:`.core`: ``ref_rmse``, ``straightness``, ``w2`` (+ ``w2_floor``), ``sw2``, ``wall_clock_s``
* :mod:`.images`: ``fid`` (+ precision / recall), ``lpips``, ``psnr``, ``fd_digits``
* :mod:`.inversion`: ``inversion_rmse`` (+ ``reconstruction_rmse``)

The metric functions themselves are pure and live in :mod:`rfbench.metrics`.
"""

from __future__ import annotations

from . import core, images, inversion  # noqa: F401  (registers)
