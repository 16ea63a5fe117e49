"""LPIPS and PSNR to the reference. The AlexNet trunk here is a saved, randomly initialised stand-in
(no real weights on test machines): the tests check rfbench's plumbing (weights loading into lpips,
input range, resizing) against an independent re-implementation of the LPIPS formula, and are never
reported as LPIPS."""

import math

import pytest
import torch

from rfbench.errors import CheckpointError, MissingResourceError
from rfbench.metrics import lpips_ref
from rfbench.metrics.lpips_ref import LPIPSRef, lpips_lin_file, psnr, resolve_alexnet_weights, standin_alexnet_weights


@pytest.fixture(scope="module")
def trunk():
    return standin_alexnet_weights()


def _smooth(n, size, seed):
    g = torch.Generator().manual_seed(seed)
    low = torch.rand((n, 3, 6, 6), generator=g) * 2 - 1
    return torch.nn.functional.interpolate(low, size=(size, size), mode="bilinear", align_corners=False)


def _independent_lpips(trunk_file, a, b):
    """LPIPS v0.1 (Zhang et al. 2018) written out: scale inputs, AlexNet ReLU1..5 features, unit-normalise
    over channels, squared difference, learned channel weights, spatial mean, sum over layers."""
    from torchvision.models import alexnet

    net = alexnet(weights=None)
    net.features.load_state_dict({k.removeprefix("features."): v for k, v in
                                  torch.load(trunk_file, map_location="cpu", weights_only=True).items()})
    lin = torch.load(lpips_lin_file(), map_location="cpu", weights_only=True)
    shift = torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1)
    scale = torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1)

    def taps(x):
        x, out = (x - shift) / scale, []
        for i, layer in enumerate(net.features):
            x = layer(x)
            if i in (1, 4, 7, 9, 11):
                out.append(x.clone())
        return out

    total = torch.zeros(len(a), dtype=torch.float64)
    with torch.no_grad():
        for k, (f0, f1) in enumerate(zip(taps(a), taps(b))):
            n0 = f0 / (f0.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            n1 = f1 / (f1.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            w = lin[f"lin{k}.model.1.weight"]
            total += ((n0 - n1) ** 2 * w).sum(1).mean((1, 2)).double()
    return total


def test_lpips_matches_independent_formula(trunk):
    a, b = _smooth(4, 64, 0), _smooth(4, 64, 1)
    ours = LPIPSRef(trunk, resize=None)(a, b)
    np_ref = _independent_lpips(trunk.path, a, b)
    assert ours.shape == (4,) and (ours > 0).all()
    torch.testing.assert_close(ours, np_ref, rtol=1e-4, atol=1e-7)
    # with the default resize rule: bilinear to 224 first
    small_a, small_b = _smooth(3, 32, 2), _smooth(3, 32, 3)
    up = lambda x: torch.nn.functional.interpolate(x, size=(224, 224), mode="bilinear", align_corners=False)  # noqa: E731
    lp = LPIPSRef(trunk)
    torch.testing.assert_close(lp(small_a, small_b), _independent_lpips(trunk.path, up(small_a), up(small_b)),
                               rtol=1e-4, atol=1e-7)
    assert "32x32 -> 224x224" in lp.resize_rule(small_a.shape)


def test_lpips_zero_for_identical_symmetric_and_range_clamped(trunk):
    lp = LPIPSRef(trunk, resize=64)
    a, b = _smooth(5, 16, 4), _smooth(5, 16, 5)
    assert torch.equal(lp(a, a), torch.zeros(5, dtype=torch.float64))
    torch.testing.assert_close(lp(a, b), lp(b, a), rtol=1e-6, atol=0)
    # inputs beyond [-1, 1] are clamped (LPIPS expects [-1, 1]; never rescaled as [0, 1])
    torch.testing.assert_close(lp(a * 3, b), lp(a.mul(3).clamp(-1, 1), b))
    # grayscale 8x8 digits work through the resize (AlexNet alone cannot take 8x8)
    g = _smooth(2, 8, 6)[:, :1]
    assert lp(g, g.flip(-1)).shape == (2,)


def test_alexnet_weights_are_never_downloaded(tmp_path, monkeypatch, trunk):
    monkeypatch.delenv(lpips_ref.ENV_ALEXNET, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(MissingResourceError, match="alexnet-owt-7be5be79.pth"):
        resolve_alexnet_weights()
    monkeypatch.setenv(lpips_ref.ENV_ALEXNET, str(trunk.path))
    w = resolve_alexnet_weights()
    assert w.sha256 == trunk.sha256 and not w.verified
    bad = tmp_path / "notalex.pth"
    torch.save({"features.0.weight": torch.zeros(3)}, bad)
    with pytest.raises(CheckpointError, match="notalex.pth"):
        LPIPSRef(resolve_alexnet_weights(bad))


def test_psnr_known_values():
    ref = torch.zeros(3, 1, 4, 4)
    assert psnr(ref + 0.1, ref) == pytest.approx(10 * math.log10(4 / 0.01))
    assert psnr(ref, ref) == math.inf
    # clamped to [-1, 1] before comparing
    assert psnr(torch.full((1, 1, 2, 2), 5.0), torch.ones(1, 1, 2, 2)) == math.inf
    # mean over samples of per-sample PSNR
    x = torch.stack([torch.full((1, 2, 2), 0.1), torch.full((1, 2, 2), 0.2)])
    expected = (10 * math.log10(4 / 0.01) + 10 * math.log10(4 / 0.04)) / 2
    assert psnr(x, torch.zeros_like(x)) == pytest.approx(expected)
