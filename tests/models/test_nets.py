"""The U-Net: shapes over configurations, identity-at-init residual blocks, time conditioning."""

import pytest
import torch

from rfbench.errors import CheckpointError
from rfbench.models.nets import build_network
from rfbench.models.nets import UNet


@pytest.mark.parametrize("cfg,shape", [
    ({}, (1, 8, 8)),
    ({"base": 16, "mults": (1, 2, 2), "blocks": 2, "image_size": 16, "attention": (8, 4)}, (1, 16, 16)),
    ({"channels": 3, "base": 16, "mults": (1, 2, 2, 2), "image_size": 32, "attention": (16,), "dropout": 0.1},
     (3, 32, 32)),
])
def test_unet_maps_images_to_images(cfg, shape):
    torch.manual_seed(0)
    net = UNet(**cfg)
    x = torch.randn(3, *shape)
    out = net(x, torch.rand(3))
    assert out.shape == x.shape
    # the output convolution starts at zero, so an untrained network predicts 0 everywhere ...
    assert out.abs().max() == 0
    # ... but gradients reach every parameter once it has moved
    with torch.no_grad():
        for p in net.out.parameters():
            p.normal_(0, 0.1)
    net(x, torch.rand(3)).pow(2).mean().backward()
    no_grad = [n for n, p in net.named_parameters() if p.grad is None]
    assert not no_grad, no_grad


def test_unet_depends_on_time():
    torch.manual_seed(0)
    net = UNet(base=16)
    for p in net.parameters():  # leave the zero initialisation so that t reaches the output
        if p.abs().sum() == 0 and p.ndim > 1:
            torch.nn.init.normal_(p, 0, 0.05)
    x = torch.randn(2, 1, 8, 8)
    a, b = net(x, torch.zeros(2)), net(x, torch.ones(2))
    assert (a - b).abs().max() > 1e-3


def test_unet_rejects_sizes_it_cannot_halve_and_bad_configs():
    with pytest.raises(ValueError, match="divisible"):
        UNet(image_size=6, mults=(1, 2, 2))
    with pytest.raises(CheckpointError, match="cannot build UNet"):
        build_network("UNet", {"channels": 1, "no_such_option": 3}, source="test config")
    with pytest.raises(CheckpointError, match="unknown network 'Transformer'"):
        build_network("Transformer", {})
