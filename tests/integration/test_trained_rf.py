"""The trained 1-rectified flow on 2-D data: quality, caching and determinism."""

import pytest
import torch

from rfbench.data import get_dataset
from rfbench.metrics import w2
from rfbench.models import get_model
from rfbench.samplers import reference_solution

pytestmark = pytest.mark.slow


def test_1rf_learns_8gaussians_and_is_cached():
    model = get_model("1-rf", data="8gaussians", progress=False)  # trained here, or by an earlier test
    noise = model.sample_prior(2000, seed=0, dtype=torch.float64)
    x = reference_solution(model, noise, rtol=1e-6, atol=1e-6).x_end.float()
    data = get_dataset("8gaussians").sample(2000, seed=12345)
    floor = w2(get_dataset("8gaussians").sample(2000, seed=777), data)
    w_model, w_prior = w2(x, data), w2(noise, data)
    assert w_model < 0.3 * w_prior, (w_model, w_prior)
    assert w_model < 2.0 * floor, (w_model, floor)

    again = get_model("1-rf", data="8gaussians", progress=False)
    assert again.meta["cache_hit"] and again.meta["config_hash"] == model.meta["config_hash"]
    for p, q in zip(model.parameters(), again.parameters()):
        assert torch.equal(p, q)


def test_training_is_deterministic_under_a_seed():
    from rfbench.training import make_recipe, train_checkpoint

    recipe = make_recipe("1-rf", steps=30, n_train=2000)
    a, b = train_checkpoint(recipe, progress=False), train_checkpoint(recipe, progress=False)
    for k in a["state_dict"]:
        assert torch.equal(a["state_dict"][k], b["state_dict"][k])
