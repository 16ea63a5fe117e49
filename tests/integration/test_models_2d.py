"""The catalogue's claims on 2-D data, measured at a fixed seed on the default (cached) models:

* reflow straightens: 2-RF's straightness is far below 1-RF's;
* 2-RF's one-step Euler samples are far better than 1-RF's (W2 to held-out data);
* Rectified Diffusion's first-order (DDIM) sampling at NFE 2-4 beats its base diffusion model's;
* PFGM++ with a large D (2048) matches EDM (D = inf) within sampling noise.

W2 is exact (POT) on 2000 samples against 2000 held-out points; ``floor`` is W2 between two
held-out sets of that size (the sampling-noise floor). Trains the models on first use (a few minutes
on 2 CPU cores); CI's shared cache trains each once.
"""

import pytest
import torch

import rfbench
from rfbench.data import get_dataset
from rfbench.metrics import midpoint_times, straightness_from_trajectory, w2
from rfbench.models import get_model
from rfbench.samplers import reference_solution

pytestmark = pytest.mark.slow

N = 2000
DATA = "8gaussians"


@pytest.fixture(scope="module")
def heldout():
    ds = get_dataset(DATA)
    held = ds.sample(N, seed=12345)
    return held, w2(ds.sample(N, seed=777), held)


def _model(name):
    return get_model(name, data=DATA, progress=False).double()


def _straightness(model, noise):
    sol = reference_solution(model, noise, rtol=1e-5, atol=1e-5, times=midpoint_times(model))
    return straightness_from_trajectory(model, sol.times[1:-1], sol.states[1:-1], sol.states[0], sol.x_end)


def test_reflow_straightens_and_makes_one_step_sampling_work(heldout):
    held, floor = heldout
    rf1, rf2 = _model("1-rf"), _model("2-rf")
    noise = rf1.sample_prior(N, seed=0, dtype=torch.float64)
    s1, s2 = _straightness(rf1, noise[:500]), _straightness(rf2, noise[:500])  # a mean: 500 trajectories suffice
    assert s2 < 0.05 * s1, (s1, s2)  # measured: 0.686 -> 0.0005
    one1 = w2(rfbench.sample(rf1, "euler", nfe=1, noise=noise).x, held)
    one2 = w2(rfbench.sample(rf2, "euler", nfe=1, noise=noise).x, held)
    assert one2 < 0.25 * one1, (one1, one2)  # measured: 1.93 -> 0.196
    assert one2 < 1.5 * floor, (one2, floor)  # one step of 2-RF is about as good as the data allow


def test_rectified_diffusion_beats_its_base_model_with_ddim(heldout):
    held, _ = heldout
    base, rd = _model("vp-diffusion"), _model("rectified-diffusion")
    noise = base.sample_prior(N, seed=0, dtype=torch.float64)
    for nfe in (2, 3, 4):
        w_base = w2(rfbench.sample(base, "ddim", nfe=nfe, noise=noise).x, held)
        w_rd = w2(rfbench.sample(rd, "ddim", nfe=nfe, noise=noise).x, held)
        assert w_rd < 0.7 * w_base, (nfe, w_base, w_rd)


def test_pfgmpp_with_large_d_matches_edm(heldout):
    held, floor = heldout
    d2048, edm = _model("pfgmpp-d2048"), _model("edm")
    # EDM's Heun with 18 steps (NFE 35), the reference sampler of both papers; each from its own prior
    x_pfgm = rfbench.sample(d2048, "edm-heun", nfe=35, noise=d2048.sample_prior(N, seed=0, dtype=torch.float64)).x
    x_edm = rfbench.sample(edm, "edm-heun", nfe=35, noise=edm.sample_prior(N, seed=0, dtype=torch.float64)).x
    w_pfgm, w_edm = w2(x_pfgm, held), w2(x_edm, held)
    assert abs(w_pfgm - w_edm) < 0.5 * floor, (w_pfgm, w_edm, floor)
    assert w2(x_pfgm, x_edm) < 1.5 * floor, (w2(x_pfgm, x_edm), floor)
