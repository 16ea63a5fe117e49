"""FlowTurbo's velocity refiner (Zhao et al. 2024): trained per model, cached by the model's content."""

import torch

import rfbench
from rfbench.models import get_model
from rfbench.models.nets.refiner import ConvRefiner
from rfbench.training.flowturbo import RefinerConfig, load_refiner


TINY = RefinerConfig(hidden=16, depth=2, n_traj=64, pool_steps=8, steps=30, batch=64)  # plumbing only


def test_refiner_is_cached_per_model(tmp_path, monkeypatch):
    monkeypatch.setenv("RFBENCH_CACHE", str(tmp_path))
    first = load_refiner(get_model("analytic-gmm-rf"), TINY, progress=False)
    assert not first.cache_hit and first.seconds > 0
    model = get_model("analytic-gmm-rf")
    second = load_refiner(model, TINY, progress=False)  # new object: from disk
    assert second.cache_hit and second.seconds == first.seconds
    for a, b in zip(first.net.parameters(), second.net.parameters()):
        assert torch.equal(a, b)
    assert load_refiner(model, TINY) is second  # same object: from memory
    out = rfbench.sample(model, "flowturbo", 4, n=8, refiner_config=TINY)
    assert out.info["calib_cached"] is True and out.info["calib_s"] == first.seconds
    other = load_refiner(get_model("analytic-gmm-vp"), TINY, progress=False)  # another model: its own
    assert not other.cache_hit


def test_function_models_get_a_refiner_cached_by_their_code(tmp_path, monkeypatch):
    """Keyed by the function's code, not its name; an unidentifiable one (it holds a torch.Generator)
    gets a refiner that is never written to disk."""
    from rfbench.models import from_velocity

    monkeypatch.setenv("RFBENCH_CACHE", str(tmp_path))
    model = from_velocity(lambda x, t: -x, data_shape=(2,))
    out = rfbench.sample(model, "flowturbo", 4, n=8, refiner_config=TINY)
    assert out.nfe_measured == 4 and out.info["nfe_refiner"] == 4 and out.info["calib_cached"] is False
    again = rfbench.sample(model, "flowturbo", 4, n=8, refiner_config=TINY)  # same object: memoised
    assert again.info["calib_s"] == out.info["calib_s"]
    same = rfbench.sample(from_velocity(lambda x, t: -x, data_shape=(2,)), "flowturbo", 4, n=8, refiner_config=TINY)
    assert same.info["calib_cached"] is True  # another object, the same code: from the disk cache
    files = sorted((tmp_path / "refiners").iterdir())
    gen = torch.Generator()
    opaque = from_velocity(lambda x, t: -x + 0 * torch.rand(1, generator=gen, dtype=x.dtype), data_shape=(2,))
    assert rfbench.sample(opaque, "flowturbo", 4, n=8, refiner_config=TINY).info["calib_cached"] is False
    assert sorted((tmp_path / "refiners").iterdir()) == files


def test_conv_refiner_for_images():
    net = ConvRefiner(3, hidden=8)
    x, v = torch.randn(2, 3, 8, 8), torch.randn(2, 3, 8, 8)
    out = net(x, torch.rand(2), v)
    assert out.shape == x.shape and torch.equal(out, torch.zeros_like(x))  # zero-initialised output
