"""The library adapters (``diffusers:<Scheduler>``, ``k-diffusion:<sampler>``): each reproduces the same
library code driven by hand (written here from the libraries' documented loops, not through the adapter's
frame map), NFE equals the plan, stochastic entries are refused, options reach the scheduler's config,
and the convergence order measured against the float64 dopri5 reference."""

import math

import pytest
import torch

import rfbench
from rfbench.errors import InvalidInputError
from rfbench.models import get_model
from rfbench.samplers import get_sampler
from rfbench.samplers.registry import SAMPLERS

diffusers = pytest.importorskip("diffusers")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")


def _max_rel(a, b):
    return float((a - b).abs().max() / b.abs().max())


def _unipc_flow_by_hand(model, noise, steps):
    """diffusers' UniPC on flow sigmas as its flow pipelines drive it (sigmas in float64)."""
    sched = diffusers.UniPCMultistepScheduler(use_flow_sigmas=True, prediction_type="flow_prediction")
    sched.set_timesteps(steps)
    sched.sigmas = sched.sigmas.double()
    x = noise.clone()
    for i, timestep in enumerate(sched.timesteps):
        x = sched.step(model.velocity(x, float(sched.sigmas[i])), timestep, x).prev_sample
    return x


@pytest.mark.parametrize("steps", [5, 12])
def test_diffusers_unipc_reproduces_hand_driven_scheduler_on_flow(gmm_rf, steps):
    noise = gmm_rf.sample_prior(128, seed=1, dtype=torch.float64)
    out = rfbench.sample(gmm_rf, "diffusers:UniPCMultistepScheduler", steps, noise=noise)
    assert out.nfe_measured == out.nfe_expected == steps
    assert _max_rel(out.x, _unipc_flow_by_hand(gmm_rf, noise, steps)) < 1e-10
    assert '"use_flow_sigmas": true' in out.info["scheduler_config"]
    assert '"prediction_type": "flow_prediction"' in out.info["scheduler_config"]


def test_diffusers_flowmatch_euler_and_heun_reproduce_hand_driven(gmm_rf):
    noise = gmm_rf.sample_prior(128, seed=2, dtype=torch.float64)
    for cls, steps in ((diffusers.FlowMatchEulerDiscreteScheduler, 9), (diffusers.FlowMatchHeunDiscreteScheduler, 5)):
        sched = cls()
        sched.set_timesteps(steps)
        sched.sigmas = sched.sigmas.double()
        x = noise.clone()
        for i, timestep in enumerate(sched.timesteps):
            x = sched.step(gmm_rf.velocity(x, float(sched.sigmas[i])), timestep, x).prev_sample
        nfe = len(sched.timesteps)
        out = rfbench.sample(gmm_rf, f"diffusers:{cls.__name__}", nfe, noise=noise)
        assert out.nfe_measured == out.nfe_expected == nfe
        assert _max_rel(out.x, x) < 1e-10, cls.__name__


def test_diffusers_dpmsolver_on_vp_uses_the_models_betas(gmm_vp):
    """On the VP oracle the scheduler gets betas whose alphas_cumprod are the model's alpha(t_k)^2 at
    t_k = (k + 1) / 1000; by hand: the same betas, the model's closed-form inverse of lambda, eps."""
    T, steps = 1000, 10
    t_k = torch.arange(1, T + 1, dtype=torch.float64) / T
    ac = gmm_vp.schedule.alpha(t_k) ** 2
    betas = 1 - ac / torch.cat([torch.ones(1, dtype=torch.float64), ac[:-1]])
    sched = diffusers.DPMSolverMultistepScheduler(trained_betas=betas.tolist())
    sched.set_timesteps(steps)
    sched.sigmas = sched.sigmas.double()
    noise = gmm_vp.sample_prior(128, seed=3, dtype=torch.float64)
    x = noise.clone()
    for i, timestep in enumerate(sched.timesteps):
        a, s = sched._sigma_to_alpha_sigma_t(sched.sigmas[i])
        t = float(gmm_vp.schedule.t_of_log_snr(torch.log(a / s)).clamp(gmm_vp.t_min, gmm_vp.t_max))
        x = sched.step(gmm_vp.eps(x, t), timestep, x).prev_sample
    out = rfbench.sample(gmm_vp, "diffusers:DPMSolverMultistepScheduler", steps, noise=noise)
    assert out.nfe_measured == steps
    assert _max_rel(out.x, x) < 1e-9


def _tiny_trained_flow():
    from rfbench.models.families import model_from_checkpoint
    from rfbench.training.catalogue import train_checkpoint
    from rfbench.training.recipes import make_recipe

    recipe = make_recipe("1-rf", "8gaussians", steps=30, n_train=2000)
    return model_from_checkpoint(train_checkpoint(recipe, progress=False), None, name="tiny-rf")


@pytest.fixture(scope="module")
def tiny():
    return _tiny_trained_flow()


def test_diffusers_adapter_on_a_trained_model(tiny):
    """A trained float32 MLP: the adapter's samples equal the hand-driven scheduler's to float32 round-off."""
    noise = tiny.sample_prior(256, seed=4)
    out = rfbench.sample(tiny, "diffusers:UniPCMultistepScheduler", 8, noise=noise)
    with torch.no_grad():
        hand = _unipc_flow_by_hand(tiny, noise, 8)
    assert out.x.dtype == torch.float32 and out.nfe_measured == 8
    assert _max_rel(out.x, hand) < 1e-5


@pytest.mark.parametrize("name", ["diffusers:UniPCMultistepScheduler", "diffusers:FlowMatchEulerDiscreteScheduler",
                                  "diffusers:FlowMatchHeunDiscreteScheduler", "diffusers:HeunDiscreteScheduler",
                                  "diffusers:DPMSolverSinglestepScheduler", "diffusers:KDPM2DiscreteScheduler",
                                  "diffusers:DDIMScheduler", "diffusers:IPNDMScheduler", "diffusers:LMSDiscreteScheduler"])
@pytest.mark.parametrize("model", ["analytic-gmm-rf", "analytic-gmm-vp"])
def test_nfe_counted_equals_plan(name, model):
    m = get_model(model)
    for nfe in (1, 2, 3, 5, 8):
        out = rfbench.sample(m, name, nfe, n=16)
        assert out.nfe_measured == out.nfe_expected <= nfe, (name, nfe)
        assert torch.isfinite(out.x).all()
        assert bool((out.ts[1:] < out.ts[:-1]).all())


def test_nfe_that_cannot_be_met_is_an_error_naming_it(gmm_rf):
    with pytest.raises(InvalidInputError, match="4 inference steps already make 13 evaluations"):
        rfbench.sample(gmm_rf, "diffusers:PNDMScheduler", 8, n=4)
    assert rfbench.sample(gmm_rf, "diffusers:PNDMScheduler", 14, n=4).nfe_measured == 14


def test_options_pass_through_to_the_config(gmm_rf):
    out = rfbench.sample(gmm_rf, "diffusers:UniPCMultistepScheduler:solver_order=3", 6, n=8)
    assert '"solver_order": 3' in out.info["scheduler_config"]
    same = rfbench.sample(gmm_rf, "diffusers:UniPCMultistepScheduler", 6, n=8, solver_order=3)
    assert torch.equal(out.x, same.x)
    assert get_sampler("diffusers:UniPCMultistepScheduler:solver_order=3").order == 4
    with pytest.raises(InvalidInputError, match="has no option 'solver_ordr'"):
        rfbench.sample(gmm_rf, "diffusers:UniPCMultistepScheduler", 6, n=8, solver_ordr=3)
    with pytest.raises(InvalidInputError, match="in the name but"):
        rfbench.sample(gmm_rf, "diffusers:UniPCMultistepScheduler:solver_order=3", 6, n=8, solver_order=2)


@pytest.mark.parametrize("name,why", [
    ("diffusers:DDPMScheduler", "stochastic"), ("diffusers:EulerAncestralDiscreteScheduler", "stochastic"),
    ("diffusers:DPMSolverMultistepScheduler:algorithm_type=sde-dpmsolver++", "stochastic"),
    ("diffusers:NoSuchScheduler", "no usable scheduler"), ("diffusers:DDIMInverseScheduler", "inversion"),
])
def test_stochastic_and_unknown_entries_are_refused(gmm_rf, name, why):
    with pytest.raises(InvalidInputError, match=why):
        rfbench.sample(gmm_rf, name, 4, n=4)
    assert (name in SAMPLERS) is ("sde" in name)  # resolvable names are entries; their plan then refuses


def test_listing_covers_the_installed_classes():
    from rfbench.samplers.adapters import diffusers as adapter

    rows = dict(adapter.entries())
    assert rows["diffusers:UniPCMultistepScheduler"] is None
    assert "stochastic" in rows["diffusers:DDPMScheduler"]
    assert all(n.startswith("diffusers:") for n in rows)
    runnable = [n for n, why in rows.items() if why is None]
    assert len(runnable) == len(adapter.FRAMES)


def test_cli_lists_adapter_entries(capsys):
    from rfbench.cli import main

    assert main(["list", "samplers"]) == 0
    text = capsys.readouterr().out
    assert "diffusers:UniPCMultistepScheduler" in text and "diffusers:DDPMScheduler" in text


@pytest.fixture(scope="module")
def flow_reference():
    model = get_model("analytic-gmm-rf")
    noise = model.sample_prior(256, seed=3, dtype=torch.float64)
    return model, noise, rfbench.sample(model, "dopri5", None, noise=noise, rtol=1e-11, atol=1e-11).x


def _slope(model, name, nfes, noise, ref):
    outs = [rfbench.sample(model, name, n, noise=noise) for n in nfes]
    errs = [float((o.x - ref).pow(2).sum(1).mean().sqrt()) for o in outs]
    return math.log(errs[0] / errs[-1]) / math.log(outs[-1].nfe_measured / outs[0].nfe_measured), errs


@pytest.mark.parametrize("name,low,high", [
    # flow sigmas from 1 - 1e-6 to 0: steps at an infinite-lambda end are first order, so the global order
    # is 2, not UniPC-2's 3 (measured 64 -> 256: 2.46; the successive slopes 4.2, 0.5, 2.0, 2.9 from 16 to
    # 256 NFE show an error term changing sign near 32-64 NFE, docs/adapters.md)
    ("diffusers:UniPCMultistepScheduler", 2.0, 3.0),
    ("diffusers:FlowMatchEulerDiscreteScheduler", 0.9, 1.1),  # measured 1.00
    ("diffusers:FlowMatchHeunDiscreteScheduler", 1.7, 2.2),  # measured 1.89 (its last step into 0 is Euler)
])
def test_convergence_order_on_the_analytic_flow(flow_reference, name, low, high):
    model, noise, ref = flow_reference
    slope, errs = _slope(model, name, [64, 256], noise, ref)
    assert low < slope < high, (slope, errs)


# -- k-diffusion ----------------------------------------------------------------------------------------------

def _kdiffusion():
    try:
        import k_diffusion
    except Exception as exc:  # noqa: BLE001  (it imports its training stack: skimage, clip, torchsde, ...)
        pytest.skip(f"k-diffusion not importable here: {type(exc).__name__}: {exc}")
    return k_diffusion


def _flow_denoiser(model):
    """EDM's denoiser of a flow model, by hand: sigma = t / (1 - t), x_t = x / (1 + sigma), x0 = x_t - t v."""
    def D(x, sigma, **_):
        s = float(sigma.flatten()[0])
        t = s / (1 + s)
        x_t = x / (1 + s)
        return x_t - t * model.velocity(x_t, t)
    return D


@pytest.mark.parametrize("fn,nfe,steps", [("sample_dpmpp_2m", 10, 10), ("sample_heun", 9, 5)])
def test_kdiffusion_reproduces_hand_driven_sampler(gmm_rf, fn, nfe, steps):
    K = _kdiffusion()
    noise = gmm_rf.sample_prior(128, seed=6, dtype=torch.float64)
    sigmas = K.sampling.get_sigmas_karras(steps, 0.002, 80.0, rho=7.0).double()
    # the noise is the state at the first level: x_ve = x_t / alpha(t) = (1 + sigma) x_t (sigma = 79.99998: the
    # float32 rho-power of get_sigmas_karras)
    hand = getattr(K.sampling, fn)(_flow_denoiser(gmm_rf), noise * (1 + float(sigmas[0])), sigmas, disable=True)
    out = rfbench.sample(gmm_rf, f"k-diffusion:{fn[len('sample_'):]}", nfe, noise=noise)
    assert out.nfe_measured == out.nfe_expected == nfe
    assert _max_rel(out.x, hand) < 1e-10


def test_kdiffusion_on_a_trained_model(tiny):
    K = _kdiffusion()
    noise = tiny.sample_prior(256, seed=7)
    sigmas = K.sampling.get_sigmas_karras(8, 0.002, 80.0, rho=7.0).float()
    with torch.no_grad():
        hand = K.sampling.sample_dpmpp_2m(_flow_denoiser(tiny), noise * (1 + float(sigmas[0])), sigmas, disable=True)
    out = rfbench.sample(tiny, "k-diffusion:dpmpp_2m", 8, noise=noise)
    assert _max_rel(out.x, hand) < 1e-5


def test_kdiffusion_refuses_stochastic(gmm_rf):
    _kdiffusion()
    with pytest.raises(InvalidInputError, match="stochastic"):
        get_sampler("k-diffusion:euler_ancestral")
    with pytest.raises(InvalidInputError, match="s_churn"):
        rfbench.sample(gmm_rf, "k-diffusion:euler", 4, n=4, s_churn=1.0)
    for name in ("k-diffusion:lms", "k-diffusion:dpm_2", "k-diffusion:euler"):
        out = rfbench.sample(gmm_rf, name, 7, n=8)
        assert out.nfe_measured == out.nfe_expected <= 7
