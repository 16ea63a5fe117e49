"""FlowTurbo (Zhao et al. 2024) on the trained 2-D 1-RF: a trained refiner beats Heun at equal main NFE."""

import pytest

import rfbench
from rfbench.metrics import ref_rmse
from rfbench.models import get_model


@pytest.mark.slow
def test_trained_refiner_hpr_beats_heun_at_equal_main_nfe_on_trained_rf():
    """With a refiner trained against the 2-D 1-RF, H/P/R at nfe_main = 4 and 8 has a lower
    ref_rmse than Heun at the same NFE (the refiner calls are extra, reported in nfe_refiner)."""
    model = get_model("1-rf", data="8gaussians", progress=False)
    noise = model.sample_prior(500, seed=0)
    ref = rfbench.reference_solution(model, noise, rtol=1e-7, atol=1e-7).x_end
    for nfe in (4, 8):
        ft = rfbench.sample(model, "flowturbo", nfe, noise=noise)
        heun = rfbench.sample(model, "heun", nfe, noise=noise)
        assert ft.nfe_measured == heun.nfe_measured == nfe and ft.info["nfe_refiner"] > 0
        assert ref_rmse(ft.x, ref) < ref_rmse(heun.x, ref), (nfe, ref_rmse(ft.x, ref), ref_rmse(heun.x, ref))
