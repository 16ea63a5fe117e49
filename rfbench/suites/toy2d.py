"""``toy2d``: every sampler on the exact oracle models and on trained 2-D flows (CPU, minutes).

Analytic models isolate discretisation error (ref_rmse against a float64 dopri5 solve); trained
models add training error, visible in w2 to held-out data (w2_floor = W2 between two held-out
sets: the held-out noise level, a noise level rather than a bound). The trained models cover the catalogue's four families on
8gaussians (1-rf and its reflows, 2-rf++, the distilled 2-rf, vp-diffusion and Rectified Diffusion,
PFGM++ with D = 8 and 2048, EDM), and 1-rf / 2-rf on moons and checkerboard; each model's
straightness (a model property) is in the tables, so reflow's straightening is visible.
"""

from __future__ import annotations

from ..runner.suite import ModelSpec, Suite, catalogue_samplers, register_suite
from ..samplers.adapters import QUICK_ENTRIES, SUITE_ENTRIES, installed

ANALYTIC = [ModelSpec("analytic-gmm-rf"), ModelSpec("analytic-gmm-vp"), ModelSpec("analytic-pfgmpp-gmm-d128"),
            ModelSpec("analytic-pfgmpp-d128"), ModelSpec("analytic-pfgmpp-dinf")]
FAMILIES_8G = [ModelSpec(n, "8gaussians") for n in (
    "1-rf", "2-rf", "3-rf", "2-rf-distill", "2-rf++", "vp-diffusion", "rectified-diffusion",
    "pfgmpp-d8", "pfgmpp-d2048", "edm")]
REFLOW_OTHERS = [ModelSpec(n, d) for d in ("moons", "checkerboard") for n in ("1-rf", "2-rf")]

DPM_SOLVERS = ["dpm-solver-1", "dpm-solver-2", "dpm-solver-3", "dpm-solver-fast", "dpm-solver-2m", "dpm-solver-3m",
               "dpm-solver-3m-corrected", "dpm-solver++-1", "dpm-solver++-2s", "dpm-solver++-3s", "dpm-solver++-2m",
               "dpm-solver++-3m", "dpm-solver++-3m-corrected"]
# BOSS and FlowTurbo (rfbench/training/boss.py, flowturbo.py): their calibration / refiner training is
# cached per model and reported in calib_s, apart from wall_clock_s.
# library adapters (docs/adapters.md): diffusers' UniPC, DPM-Solver++ on flow sigmas, FlowMatch Euler / Heun
ADAPTERS = installed(SUITE_ENTRIES)
SAMPLERS = catalogue_samplers() + ADAPTERS
# --quick keeps a representative of each family (every sampler runs in the full suite)
FULL_ONLY = {s for s in DPM_SOLVERS if s not in ("dpm-solver-fast", "dpm-solver++-2m", "dpm-solver++-3m")} | {
    a for a in ADAPTERS if a not in QUICK_ENTRIES}

# --quick on the analytic models: the velocity is exact, a cell costs little, and the convergence-order
# table (rfbench.reporting.convergence) fits the three largest NFE, so they run full cells up to NFE 128
# (the trained models stop at 16) and ref_rmse-only cells at 256 and 512 (Suite.order_nfe): measured on
# these oracles, several samplers' local slopes settle only from NFE ~256 (docs/quick-suite.md). The
# PFGM++ oracle is the 8-Gaussian density, not the 512-point set, whose samples snap onto points so
# that ref_rmse counts snaps rather than discretisation error.
QUICK_ANALYTIC = [ModelSpec("analytic-gmm-rf"), ModelSpec("analytic-gmm-vp"), ModelSpec("analytic-pfgmpp-gmm-d128")]
QUICK_ANALYTIC_NFE = [2, 4, 8, 16, 32, 64, 128]
QUICK_ORDER_NFE = [256, 512]
# DPM-Solver++(2M) and (3M) in --quick walk the logSNR grid (skip_type="logSNR"), the official code's
# recommendation for low-resolution data (2-D here), instead of the time-uniform default it recommends
# for high-resolution and guided sampling: on the VP oracle the default rule (first-order final steps
# only below 10 steps) on the time-uniform grid makes NFE 16 worse than NFE 8 (3M: 0.09 -> 0.73), while
# on the logSNR grid both converge at their published order 2 (local slopes 1.98-2.26 from NFE 16 to
# 256). The rows record the grid walked; the full suite keeps the defaults. docs/quick-suite.md.
# BOSS chooses its N steps on a K-step fine grid (default K = 100): K = 512 lets it run at NFE 512.
# UniPC walks the same logSNR grid in --quick: on the VP oracle's time-uniform grid its local slopes
# are still 1.5-1.6 at NFE 512 (the grid's steps are long in lambda near t_min = 1e-3), on the logSNR
# grid they settle by NFE 128 (docs/quick-suite.md).
QUICK_SAMPLER_OPTIONS = {"dpm-solver++-2m": {"skip_type": "logSNR"}, "dpm-solver++-3m": {"skip_type": "logSNR"},
                         **{f"unipc-{p}": {"grid": "logsnr"} for p in (1, 2, 3)},
                         "boss": {"K": max(QUICK_ORDER_NFE)}}

TOY2D = register_suite(Suite(
    name="toy2d",
    description="2-D: analytic GMM (RF and VP paths), PFGM++ point sets, the trained catalogue; every sampler",
    models=ANALYTIC + FAMILIES_8G + REFLOW_OTHERS
    + [ModelSpec("1-rf+boss", "8gaussians")],  # BOSS stage 2: 1-rf fine-tuned for 4 Euler steps
    samplers=SAMPLERS,
    nfe=[1, 2, 4, 8, 16, 32, 64],
    n_samples=2000,
    n_data=2000,
    metrics=("ref_rmse", "w2", "sw2", "straightness", "wall_clock_s", "inversion_rmse"),
    quick={"models": QUICK_ANALYTIC + [ModelSpec("1-rf", "8gaussians"), ModelSpec("2-rf", "8gaussians")],
           "nfe": [2, 4, 8, 16], "samplers": [s for s in SAMPLERS if s not in FULL_ONLY],
           "nfe_by_model": {m.label: QUICK_ANALYTIC_NFE for m in QUICK_ANALYTIC},
           "order_nfe": {m.label: QUICK_ORDER_NFE for m in QUICK_ANALYTIC},
           # float64 on the oracles: in float32, UniPC-3 and DEIS-3 on the VP oracle stop at ~1.3e-6 from
           # NFE 256 (round-off), where float64 keeps falling to ~1e-7 at 512 (docs/quick-suite.md)
           "dtype_by_model": {m.label: "float64" for m in QUICK_ANALYTIC},
           "sampler_options": QUICK_SAMPLER_OPTIONS,
           # exact W2 on 2000 points costs ~0.5 s a cell; 1000 keeps --quick cheap (docs/quick-suite.md)
           "n_samples": 1000, "n_data": 1000},
))
