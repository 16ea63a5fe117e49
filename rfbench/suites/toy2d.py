"""``toy2d``: every sampler on the exact oracle models and on trained 2-D flows (CPU, minutes).

Analytic models isolate discretisation error (ref_rmse against a float64 dopri5 solve); trained
models add training error, visible in w2 to held-out data (w2_floor = W2 between two held-out
sets, the sampling-noise floor).
"""

from __future__ import annotations

from ..runner.suite import ModelSpec, Suite
from . import register_suite

ANALYTIC = [ModelSpec("analytic-gmm-rf"), ModelSpec("analytic-gmm-vp"), ModelSpec("analytic-pfgmpp-d128"),
            ModelSpec("analytic-pfgmpp-dinf")]

TOY2D = register_suite(Suite(
    name="toy2d",
    description="2-D: analytic GMM (RF and VP paths), PFGM++ point sets, trained flows; every sampler",
    models=ANALYTIC + [ModelSpec("1-rf", "8gaussians"), ModelSpec("1-rf", "moons"), ModelSpec("1-rf", "checkerboard")],
    samplers=["euler", "heun", "ddim", "edm-heun", "dopri5"],
    nfe=[1, 2, 4, 8, 16, 32, 64],
    n_samples=2000,
    n_data=2000,
    quick={"models": ANALYTIC[:2] + [ModelSpec("analytic-pfgmpp-d128"), ModelSpec("1-rf", "8gaussians")],
           "nfe": [2, 4, 8, 16]},
))

# BOSS and FlowTurbo (rfbench/samplers/boss.py, flowturbo.py): their calibration / refiner training
# is cached per model and reported in calib_s, apart from wall_clock_s.
TOY2D.samplers += ["boss", "pseudo-corrector", "flowturbo"]
TOY2D.models += [ModelSpec("1-rf+boss", "8gaussians")]  # BOSS stage 2: 1-rf fine-tuned for 4 Euler steps
