"""``toy2d``: every sampler on the exact oracle models and on trained 2-D flows (CPU, minutes).

Analytic models isolate discretisation error (ref_rmse against a float64 dopri5 solve); trained
models add training error, visible in w2 to held-out data (w2_floor = W2 between two held-out
sets, the sampling-noise floor). The trained models cover the catalogue's four families on
8gaussians (1-rf and its reflows, 2-rf++, the distilled 2-rf, vp-diffusion and Rectified Diffusion,
PFGM++ with D = 8 and 2048, EDM), and 1-rf / 2-rf on moons and checkerboard; each model's
straightness (a model property) is in the tables, so reflow's straightening is visible.
"""

from __future__ import annotations

from ..runner.suite import ModelSpec, Suite
from . import catalogue_samplers, register_suite

ANALYTIC = [ModelSpec("analytic-gmm-rf"), ModelSpec("analytic-gmm-vp"), ModelSpec("analytic-pfgmpp-d128"),
            ModelSpec("analytic-pfgmpp-dinf")]
FAMILIES_8G = [ModelSpec(n, "8gaussians") for n in (
    "1-rf", "2-rf", "3-rf", "2-rf-distill", "2-rf++", "vp-diffusion", "rectified-diffusion",
    "pfgmpp-d8", "pfgmpp-d2048", "edm")]
REFLOW_OTHERS = [ModelSpec(n, d) for d in ("moons", "checkerboard") for n in ("1-rf", "2-rf")]

TOY2D = register_suite(Suite(
    name="toy2d",
    description="2-D: analytic GMM (RF and VP paths), PFGM++ point sets, the trained catalogue; every sampler",
    models=ANALYTIC + FAMILIES_8G + REFLOW_OTHERS,
    samplers=catalogue_samplers(),
    nfe=[1, 2, 4, 8, 16, 32, 64],
    n_samples=2000,
    n_data=2000,
    quick={"models": ANALYTIC[:2] + [ModelSpec("analytic-pfgmpp-d128"), ModelSpec("1-rf", "8gaussians"),
                                     ModelSpec("2-rf", "8gaussians")],
           "nfe": [2, 4, 8, 16]},
))
