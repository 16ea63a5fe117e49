"""``digits``: every catalogue family trained on scikit-learn's 8x8 digits (U-Net, CPU), every sampler.

Models: 1-rf, 2-rf, 2-rf++, vp-diffusion and its Rectified Diffusion, PFGM++ with D = 8 and D = 2048
(N = 64: D = 8 is far from Gaussian, D = 2048 = 32 N is close to it; EDM, D = inf, is in toy2d and
available with ``--models edm@digits``); all trained by
rfbench on the fixed train split and cached. Metrics: ref_rmse against a float64 dopri5 reference
(``reference_tol``), each model's straightness, wall clock; PNG grids of samples per model and sampler
(at NFE 4, plus the reference and held-out data) under ``samples/``. Image metrics: ``fd_digits``
(Fréchet distance in the features of rfbench's digits classifier against the 360 held-out digits:
not an Inception FID), ``psnr`` and ``lpips`` to the reference solution (LPIPS needs torchvision's
AlexNet weights; without them the column is empty and the row's notes say why).
"""

from __future__ import annotations

from ..runner.cell_metrics import images as image_hooks
from ..runner.suite import ModelSpec, Suite, catalogue_samplers, register_suite
from ..samplers.adapters import QUICK_ENTRIES, SUITE_ENTRIES, installed
from ..training.flowturbo import RefinerConfig

MODELS = [ModelSpec(n, "digits") for n in (
    "1-rf", "2-rf", "2-rf++", "vp-diffusion", "rectified-diffusion", "pfgmpp-d8", "pfgmpp-d2048")]
# FlowTurbo's refiner is trained per model: a lighter set-up than the default keeps the cold run of 7
# models within budget (recorded in each row's calib_s and in the cell hash)
REFINER = RefinerConfig(n_traj=512, n_pairs=8192, steps=400, batch=256)

DIGITS = register_suite(Suite(
    name="digits",
    description="8x8 digits: the trained catalogue (U-Net) x every sampler; PNG sample grids",
    models=MODELS,
    samplers=catalogue_samplers() + installed(SUITE_ENTRIES),  # + library adapters (docs/adapters.md)
    nfe=[1, 2, 3, 4, 6, 8, 12, 16],
    n_samples=128,
    n_data=360,
    metrics=("ref_rmse", "psnr", "lpips", "fd_digits", "straightness", "wall_clock_s"),
    timing_repeats=0,  # wall clock of each cell's own sampling call: a second draw would double the cost
    reference_tol=1e-5,
    reference_dtype="float32",  # the U-Net is 5x slower in float64 on a CPU; float32 dopri5 at 1e-5 is far
                                # below the smallest sampler errors (ref_rmse of dopri5 itself is reported)
    sampler_options={"flowturbo": {"refiner_config": REFINER}},
    artifacts=("sample_grid",),
    # LPIPS (AlexNet) on 8x8 images upsampled to 64x64, on all samples of each cell
    options={**image_hooks.DEFAULTS, "lpips_resize": 64, "lpips_n": 0},
    quick={"models": [MODELS[i] for i in (0, 1, 3, 4, 6)], "nfe": [1, 2, 4, 8], "n_samples": 64,
           # two of the four adapter entries (UniPC, FlowMatch Euler): +2 samplers on 29
           "samplers": catalogue_samplers() + installed(QUICK_ENTRIES)},
    # --smoke: the whole path (training, reference, cells, grids) in seconds, with a 30-step 1-rf
    smoke={"models": [ModelSpec("1-rf", "digits", (("steps", 30),))], "nfe": [2, 4], "n_samples": 16,
           "samplers": ["euler", "heun", "dopri5"]},
))
