"""What rfbench.sample and reference_solution check about a model's outputs (shape, dtype,
finiteness), and the prior's default dtype (the README example's precision)."""

import warnings

import pytest
import torch

import rfbench
from rfbench.errors import InvalidInputError
from rfbench.metrics import ref_rmse
from rfbench.models import from_velocity, get_model


def test_wrong_output_shape_is_an_error_naming_the_model():
    """A velocity of shape (n, 1) for data (n, 2) would broadcast through every update rule."""
    narrow = from_velocity(lambda x, t: -x[:, :1], data_shape=(2,), name="narrow-v")
    for sampler, nfe in (("euler", 4), ("heun", 4), ("dopri5", None), ("rf-solver", 4)):
        with pytest.raises(InvalidInputError, match=r"model 'narrow-v' returned shape \(8, 1\) for an input of "
                                                    r"shape \(8, 2\) in sampler '" + sampler):
            rfbench.sample(narrow, sampler, nfe, n=8)
    with pytest.raises(InvalidInputError, match=r"'narrow-v' returned shape \(8, 1\) .* in the reference solution"):
        rfbench.reference_solution(narrow, narrow.sample_prior(8))
    flat = from_velocity(lambda x, t: -x.flatten(), data_shape=(2,), name="flat-v")
    with pytest.raises(InvalidInputError, match=r"returned shape \(16,\)"):
        rfbench.sample(flat, "euler", 2, n=8)


def test_non_floating_and_non_tensor_outputs_are_errors():
    ints = from_velocity(lambda x, t: torch.zeros(x.shape, dtype=torch.long), data_shape=(2,), name="int-v")
    with pytest.raises(InvalidInputError, match="model 'int-v' returned dtype torch.int64"):
        rfbench.sample(ints, "euler", 2, n=4)
    numpy_out = from_velocity(lambda x, t: (-x).numpy(), data_shape=(2,), name="np-v")
    with pytest.raises(InvalidInputError, match="model 'np-v' returned ndarray"):
        rfbench.sample(numpy_out, "euler", 2, n=4)


def test_the_check_costs_no_evaluation_and_leaves_no_hook(gmm_rf):
    out = rfbench.sample(gmm_rf, "heun", 8, n=16)
    assert out.nfe_measured == out.nfe_expected == 8 and "notes" not in out.info
    assert not gmm_rf._forward_hooks and not gmm_rf._forward_pre_hooks


def test_non_finite_samples_are_noted_and_warned_with_the_model_and_count():
    # finite until t < 0.5, then the field blows up for the samples with x[:, 0] > 0
    def blows_up(x, t):
        v = -x.clone()
        v[(x[:, 0] > 0) & (t > 0.5)] = float("nan")
        return v

    model = from_velocity(blows_up, data_shape=(2,), name="nan-v")
    noise = model.sample_prior(10, seed=0)
    bad = int((noise[:, 0] > 0).sum())
    assert 0 < bad < 10
    with pytest.warns(RuntimeWarning, match=f"model 'nan-v': {bad} of 10 samples are not finite"):
        out = rfbench.sample(model, "euler", 4, noise=noise)
    assert out.info["notes"] == f"model 'nan-v': {bad} of 10 samples are not finite (NaN or inf) after euler at NFE 4"
    assert int((~torch.isfinite(out.x).all(1)).sum()) == bad
    # the adaptive solvers cannot step through it: an error naming the model, not torchdiffeq's assertion
    for run in (lambda: rfbench.reference_solution(model, noise), lambda: rfbench.sample(model, "dopri5", noise=noise)):
        with pytest.raises(InvalidInputError, match=f"model 'nan-v' returned a non-finite velocity for {bad} of 10 "
                                                    r"samples at t = 0\.\d+; dopri5 cannot integrate through it"):
            run()


def test_lower_precision_output_is_noted():
    """float16 outputs cap the accuracy of float64 sampling and of the 1e-10 reference: said once."""
    half = from_velocity(lambda x, t: (-x).half(), data_shape=(2,), name="half-v")
    with pytest.warns(RuntimeWarning, match="model 'half-v' returns float16 for float64 input in sampler 'heun'"):
        out = rfbench.sample(half, "heun", 6, n=4)
    assert "eps 1e-03" in out.info["notes"] and out.x.dtype == torch.float64
    with pytest.warns(RuntimeWarning, match="returns float16 for float64 input in the reference solution"):
        ref = rfbench.reference_solution(half, half.sample_prior(4), rtol=1e-3, atol=1e-3)  # 1e-10: 62k NFE
    assert "float16" in ref.notes
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a float64 output for float32 sampling is not worth a note
        wide = from_velocity(lambda x, t: -x.double(), data_shape=(2,), name="wide-v")
        assert "notes" not in rfbench.sample(wide, "euler", 2, noise=torch.ones(3, 2)).info


def test_sample_prior_defaults_to_the_models_dtype():
    fn = from_velocity(lambda x, t: -x, data_shape=(2,))
    assert fn.sample_prior(4).dtype == torch.float64  # a function: float64
    assert get_model("analytic-gmm-rf").sample_prior(4).dtype == torch.float64  # float64 buffers
    assert get_model("analytic-gmm-rf").float().sample_prior(4).dtype == torch.float32
    net = from_velocity(torch.nn.Linear(2, 2), data_shape=(2,))  # float32 parameters
    assert net.sample_prior(4).dtype == torch.float32
    assert fn.sample_prior(4, dtype=torch.float32).dtype == torch.float32
    torch.testing.assert_close(fn.sample_prior(4, seed=3).float(), fn.sample_prior(4, seed=3, dtype=torch.float32))


def test_readme_example_keeps_converging_below_1e6():
    """README "Using it": a user's velocity, noise from model.sample_prior, then rfbench.sample and
    reference_solution with their defaults. The noise is float64, so Heun's error keeps falling at
    order 2 below 1e-6 (in float32 it would stop at the float32 rounding of the samples)."""
    gmm = get_model("analytic-gmm-rf")

    def my_velocity(x, t):  # the RF paper's convention: t = 0 noise, t = 1 data
        return -gmm.velocity(x, 1 - t)

    model = rfbench.models.from_velocity(my_velocity, data_shape=(2,))
    noise = model.sample_prior(200, seed=0)
    ref = rfbench.reference_solution(model, noise)
    errors = [ref_rmse(rfbench.sample(model, "heun", nfe, noise=noise).x, ref.x_end) for nfe in (1024, 2048, 4096)]
    assert errors[-1] < 1e-6, errors
    assert errors[1] < errors[0] / 3.5 and errors[2] < errors[1] / 3.5, errors  # still order 2
