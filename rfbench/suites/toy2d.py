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

DPM_SOLVERS = ["dpm-solver-1", "dpm-solver-2", "dpm-solver-3", "dpm-solver-fast", "dpm-solver-2m", "dpm-solver-3m",
               "dpm-solver-3m-corrected", "dpm-solver++-1", "dpm-solver++-2s", "dpm-solver++-3s", "dpm-solver++-2m",
               "dpm-solver++-3m", "dpm-solver++-3m-corrected"]
# BOSS and FlowTurbo (rfbench/samplers/boss.py, flowturbo.py): their calibration / refiner training is
# cached per model and reported in calib_s, apart from wall_clock_s.
SAMPLERS = ["euler", "heun", "ddim", "edm-heun", "dopri5", *DPM_SOLVERS, "rf-solver", "boss", "pseudo-corrector",
            "flowturbo"]
# --quick keeps a representative of each family (every sampler runs in the full suite), so that it
# stays within ~3 minutes on 2 CPU cores
FULL_ONLY = {s for s in DPM_SOLVERS if s not in ("dpm-solver-fast", "dpm-solver++-2m", "dpm-solver++-3m")}

TOY2D = register_suite(Suite(
    name="toy2d",
    description="2-D: analytic GMM (RF and VP paths), PFGM++ point sets, trained flows; every sampler",
    models=ANALYTIC + [ModelSpec("1-rf", "8gaussians"), ModelSpec("1-rf", "moons"), ModelSpec("1-rf", "checkerboard"),
                       ModelSpec("1-rf+boss", "8gaussians")],  # BOSS stage 2: 1-rf fine-tuned for 4 Euler steps
    samplers=SAMPLERS,
    nfe=[1, 2, 4, 8, 16, 32, 64],
    n_samples=2000,
    n_data=2000,
    metrics=("ref_rmse", "w2", "sw2", "straightness", "wall_clock_s", "inversion_rmse"),
    quick={"models": ANALYTIC[:2] + [ModelSpec("analytic-pfgmpp-d128"), ModelSpec("1-rf", "8gaussians")],
           "nfe": [2, 4, 8, 16], "samplers": [s for s in SAMPLERS if s not in FULL_ONLY]},
))
