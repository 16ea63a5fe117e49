"""Baseline samplers, NFE accounting and the sample() API."""

import math

import pytest
import torch

import rfbench
from rfbench.errors import InvalidInputError, UnknownNameError
from rfbench.metrics.convergence import fit_order, measure_convergence
from rfbench.models import from_velocity, get_model
from rfbench.samplers import SAMPLERS, get_sampler, make_grid

NFES = [64, 128, 256, 512, 1024]


@pytest.mark.parametrize("sampler,order", [("euler", 1), ("heun", 2)])
@pytest.mark.parametrize("model_name", ["analytic-gmm-rf", "analytic-gmm-vp"])
def test_convergence_order(sampler, order, model_name):
    """Empirical order on the exact oracle (float64, pure discretisation error) within 0.2 of theory."""
    res = measure_convergence(get_model(model_name), sampler, NFES, n=200)
    assert abs(res.order - order) < 0.2, (res.order, res.errors)
    assert all(b < a for a, b in zip(res.errors, res.errors[1:]))


FIXED_STEP = [name for name in SAMPLERS if not SAMPLERS.get(name).adaptive]


@pytest.mark.parametrize("name", FIXED_STEP)
@pytest.mark.parametrize("model_name", ["analytic-gmm-rf", "analytic-pfgmpp-d128", "analytic-pfgmpp-gmm-d128"])
def test_measured_nfe_equals_plan(name, model_name):
    """The counter sees exactly the evaluations each sampler's plan states, for every fixed-step
    sampler, on a model evaluable at t_min, on one that is not (EDM-type end point), and on one
    evaluable at sigma = 0 with t_max < 1 (EDM's Heun still ends with Euler there)."""
    from rfbench.errors import NotApplicableError

    model = get_model(model_name)
    for nfe in (1, 2, 3, 4, 5, 8, 13):
        try:
            out = rfbench.sample(model, name, nfe, n=16)
        except NotApplicableError:
            pytest.skip(f"{name} does not apply to {model_name}")
        assert out.nfe_measured == out.nfe_expected, (name, nfe, out.nfe_measured, out.nfe_expected)


def test_theoretical_counts_of_baselines():
    rf = get_model("analytic-gmm-rf")
    edm_like = get_model("analytic-pfgmpp-d128")
    for nfe in (1, 2, 3, 8, 9):
        assert rfbench.sample(rf, "euler", nfe, n=4).nfe_measured == nfe
        assert rfbench.sample(rf, "heun", nfe, n=4).nfe_measured == nfe  # odd NFE: last step Euler
        steps = math.ceil(nfe / 2)
        assert rfbench.sample(edm_like, "heun", nfe, n=4).nfe_measured == 2 * steps - 1  # EDM: 2M - 1


def test_heun_odd_nfe_ends_with_euler_step():
    model = get_model("analytic-gmm-rf").double()
    noise = model.sample_prior(8, seed=0, dtype=torch.float64)
    out = rfbench.sample(model, "heun", 5, noise=noise)
    ts = make_grid("uniform", 3, model).tolist()
    x = noise
    for i, (t, tn) in enumerate(zip(ts[:-1], ts[1:])):
        d = model.velocity(x, t)
        xp = x + (tn - t) * d
        x = xp if i == 2 else x + (tn - t) / 2 * (d + model.velocity(xp, tn))
    torch.testing.assert_close(out.x, x)


def test_counter_counts_batched_calls_once():
    calls = []

    def fn(x, t):
        calls.append(len(x))
        return -x

    out = rfbench.sample(from_velocity(fn, data_shape=(3,)), "euler", 7, n=1000)
    assert out.nfe_measured == 7 == len(calls) and set(calls) == {1000}


def test_adaptive_nfe_is_measured_and_tolerance_controls_error(gmm_rf):
    noise = gmm_rf.sample_prior(100, seed=0, dtype=torch.float64)
    ref = rfbench.reference_solution(gmm_rf, noise).x_end
    loose = rfbench.sample(gmm_rf, "dopri5", noise=noise, rtol=1e-3, atol=1e-3)
    tight = rfbench.sample(gmm_rf, "dopri5", noise=noise, rtol=1e-7, atol=1e-7)
    assert tight.nfe_measured > loose.nfe_measured > 0
    e = lambda o: float((o.x - ref).pow(2).mean().sqrt())  # noqa: E731
    assert e(tight) < e(loose) / 100


@pytest.mark.parametrize("bad", [0, -3, 2.5, "4", True, None])
def test_bad_nfe_is_rejected_with_the_sampler_named(bad):
    with pytest.raises(InvalidInputError, match="nfe for sampler 'euler'"):
        rfbench.sample("analytic-gmm-rf", "euler", bad, n=4)


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(UnknownNameError, match="Valid samplers: .*euler.*heun"):
        get_sampler("huen")
    with pytest.raises(UnknownNameError, match="Did you mean 'heun'"):
        get_sampler("huen")
    with pytest.raises(UnknownNameError, match="Valid models"):
        get_model("2-rff")


def test_adaptive_rejects_requested_nfe():
    with pytest.raises(InvalidInputError, match="adaptive"):
        rfbench.sample("analytic-gmm-rf", "dopri5", 10, n=4)


def test_noise_shape_is_checked():
    with pytest.raises(InvalidInputError, match=r"sample shape \(3,\).*expects \(2,\)"):
        rfbench.sample("analytic-gmm-rf", "euler", 2, noise=torch.zeros(4, 3))


def test_same_seed_same_samples_and_batch_independence(gmm_rf):
    a = rfbench.sample(gmm_rf, "heun", 8, n=64, seed=3).x
    b = rfbench.sample(gmm_rf, "heun", 8, n=64, seed=3).x
    assert torch.equal(a, b)
    halves = torch.cat([rfbench.sample(gmm_rf, "heun", 8, noise=a_noise).x
                        for a_noise in gmm_rf.sample_prior(64, seed=3, dtype=torch.float64).split(32)])
    torch.testing.assert_close(halves, a, rtol=1e-12, atol=1e-12)


def test_karras_grid():
    rf = get_model("analytic-gmm-rf")
    ts = make_grid("karras", 10, rf)
    assert ts[0] == 1.0 and ts[-1] == 0.0 and len(ts) == 11
    sigma = ts[1:-1] / (1 - ts[1:-1])  # EDM sigma of the inner points
    assert float(sigma[-1]) == pytest.approx(0.002, rel=1e-9)
    # rho = 7 spacing: sigma^(1/7) is linear in the index over the EDM part of the grid
    root = sigma ** (1 / 7)
    diffs = root[1:] - root[:-1]
    torch.testing.assert_close(diffs, diffs.mean().expand_as(diffs), rtol=1e-8, atol=1e-10)
    vp = get_model("analytic-gmm-vp")
    tv = make_grid("karras", 6, vp)
    assert float(tv[0]) == 1.0 and float(tv[-1]) == pytest.approx(vp.t_min)



def test_karras_grid_ends_where_the_reference_stops():
    """A model that cannot be evaluated at t_min: the grid's last noise level before 0 is the model's
    t_ref_end (sigma 1e-4 for the analytic PFGM++ oracles; EDM's 0.002 for the trained EDM family);
    sigma_min= still overrides it."""
    from rfbench.models.families import EDMFlow

    pf = get_model("analytic-pfgmpp-dinf")
    ts = make_grid("karras", 10, pf)
    assert float(ts[-1]) == 0.0 and float(ts[-2]) == pf.t_ref_end
    assert float(ts[-2] / (1 - ts[-2])) == pytest.approx(1e-4, rel=1e-9)
    assert float(ts[0]) == pf.t_max
    edm = EDMFlow(torch.nn.Identity(), D=math.inf, sigma_data=0.5, data_shape=(2,), name="edm-test")
    te = make_grid("karras", 10, edm)
    assert float(te[-2]) == edm.t_ref_end and float(te[-2] / (1 - te[-2])) == pytest.approx(0.002, rel=1e-9)
    tf = make_grid("karras", 10, pf, sigma_min=0.002)
    assert float(tf[-2] / (1 - tf[-2])) == pytest.approx(0.002, rel=1e-9)


def test_edm_heun_converges_to_the_reference_on_the_pfgmpp_oracle():
    """EDM's sampler on the exact D = inf (EDM) oracle, float64: order 2, and from NFE 511 on it lands
    on the reference to round-off (the grid's final Euler step is the reference's own; with the grid
    ending at sigma 0.002 instead of the reference's 1e-4 the error stayed at 3.9e-6)."""
    res = measure_convergence(get_model("analytic-pfgmpp-dinf"), "edm-heun", [63, 127, 255, 511, 1023], n=64,
                              grid="karras")
    assert 1.7 < fit_order(res.nfe_measured[:3], res.errors[:3]) < 2.3, res.errors
    assert max(res.errors[3:]) < 1e-13, res.errors

def test_ddim_is_euler_on_the_flow_path(gmm_rf):
    noise = gmm_rf.sample_prior(64, seed=0, dtype=torch.float64)
    a = rfbench.sample(gmm_rf, "ddim", 7, noise=noise).x
    b = rfbench.sample(gmm_rf, "euler", 7, noise=noise).x
    torch.testing.assert_close(a, b, rtol=0, atol=1e-13)


@pytest.mark.parametrize("sampler,order,grid", [("ddim", 1, "uniform"), ("edm-heun", 2, "karras")])
def test_diffusion_coordinate_samplers_orders_on_vp(sampler, order, grid):
    res = measure_convergence(get_model("analytic-gmm-vp"), sampler, NFES, n=200, grid=grid)
    assert abs(res.order - order) < 0.2, (res.order, res.errors)


def test_edm_heun_is_not_applicable_where_sigma_over_alpha_is_infinite(gmm_rf):
    from rfbench.errors import NotApplicableError

    with pytest.raises(NotApplicableError, match="alpha\\(t_max\\) = 0"):
        rfbench.sample(gmm_rf, "edm-heun", 8, n=4)
    # and on PFGM++ it is EDM's sampler: 2M - 1 evaluations for M grid steps
    assert rfbench.sample("analytic-pfgmpp-d128", "edm-heun", 35, n=4).nfe_measured == 35


@pytest.mark.parametrize("sampler", ["euler", "heun", "dopri5"])
def test_batched_generation_matches_one_batch(gmm_rf, sampler):
    """Chunked generation gives the same samples within float tolerance; fixed-step NFE is per run.
    (The adaptive solver's step size is shared by a batch, so its chunks differ slightly.)"""
    noise = gmm_rf.sample_prior(96, seed=4, dtype=torch.float64)
    nfe = None if sampler == "dopri5" else 6
    whole = rfbench.sample(gmm_rf, sampler, nfe, noise=noise)
    parts = rfbench.sample(gmm_rf, sampler, nfe, noise=noise, batch_size=40)
    if nfe is not None:
        torch.testing.assert_close(parts.x, whole.x, rtol=1e-12, atol=1e-12)
        assert parts.nfe_measured == whole.nfe_measured == nfe
    else:  # the batch-shared step moves the result only within the solver's own error
        ref = rfbench.reference_solution(gmm_rf, noise).x_end
        err = max(float((whole.x - ref).abs().max()), float((parts.x - ref).abs().max()))
        assert float((parts.x - whole.x).abs().max()) <= 2 * err
