"""The released configurations at full size: rfbench's networks have exactly the originals' tensors
(names and shapes, recorded from the original code in tests/data/nets/manifests.json.gz), the same
parameter counts and, for score_sde / RectifiedFlow, the same parameter order (the EMA list's)."""

from __future__ import annotations

import pytest
import torch

from rfbench.models.formats import PRESETS
from rfbench.models.nets import NETS, NCSNpp, NCSNppConfig

from nets_golden import load_manifests

MANIFESTS = load_manifests()

# preset -> manifest of the same architecture (presets that differ only in non-shape settings share one)
PRESET_MANIFEST = {
    "rf-cifar10-ddpmpp": "rf_cifar10_ddpmpp",
    "rf-lsun-church256": "rf_lsun_church256",
    "rf-lsun-bedroom256": "rf_lsun_church256",
    "rf-celebahq256": "rf_lsun_church256",
    "rf-afhq-cat256": "rf_lsun_church256",
    "scoresde-vp-cifar10-ddpmpp-continuous": "scoresde_vp_cifar10_ddpmpp_continuous",
    "scoresde-vp-cifar10-ddpmpp-deep-continuous": "scoresde_vp_cifar10_ddpmpp_deep_continuous",
    "scoresde-vp-cifar10-ncsnpp-continuous": "scoresde_vp_cifar10_ncsnpp_continuous",
    "scoresde-vp-cifar10-ncsnpp-deep-continuous": "scoresde_vp_cifar10_ncsnpp_deep_continuous",
    "scoresde-ve-cifar10-ncsnpp-continuous": "scoresde_ve_cifar10_ncsnpp_continuous",
    "scoresde-ve-cifar10-ncsnpp-deep-continuous": "scoresde_ve_cifar10_ncsnpp_deep_continuous",
    "edm-cifar10-uncond-vp": "edm_cifar10_uncond_vp",
    "edm-cifar10-cond-vp": "edm_cifar10_cond_vp",
    "edm-cifar10-uncond-ve": "edm_cifar10_uncond_ve",
    "edm-cifar10-cond-ve": "edm_cifar10_cond_ve",
    "edm-imagenet64-cond-adm": "edm_imagenet64_cond_adm",
    "pfgmpp-cifar10-ncsnpp-d128": "pfgmpp_cifar10_ncsnpp_d2048",
    "pfgmpp-cifar10-ncsnpp-d2048": "pfgmpp_cifar10_ncsnpp_d2048",
    "pfgmpp-cifar10-ncsnpp-d2048-cond": "pfgmpp_cifar10_ncsnpp_d2048_cond",
    "pfgmpp-cifar10-ncsnpp-dinf": "edm_cifar10_uncond_ve",
    "rfpp-cifar10": "rfpp_cifar10_ve_aug",
    "rfpp-afhq64": "rfpp_afhq64_ve_aug",
    "rfpp-ffhq64": "rfpp_ffhq64_ve_aug",
    "rfpp-imagenet64": "rfpp_imagenet64",
}


def _meta_net(preset):
    """The preset's network on the meta device: names and shapes without memory or init time."""
    p = PRESETS[preset]
    with torch.device("meta"):
        if p.net == "NCSNpp":
            return NCSNpp(config=NCSNppConfig.from_dict(p.net_config()))
        return NETS[p.net](**p.net_config())


def test_every_preset_has_a_manifest():
    assert set(PRESET_MANIFEST) == set(PRESETS)
    assert set(PRESET_MANIFEST.values()) == set(MANIFESTS)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_preset_matches_original(preset):
    m = MANIFESTS[PRESET_MANIFEST[preset]]
    net = _meta_net(preset)
    ours = {k: list(v.shape) for k, v in net.state_dict().items()}
    missing = sorted(set(m["tensors"]) - set(ours))
    extra = sorted(set(ours) - set(m["tensors"]))
    assert not missing and not extra, (missing[:5], extra[:5])
    assert ours == m["tensors"]
    count = sum(p.numel() for p in net.parameters())
    assert count == m["parameters"] == PRESETS[preset].params
    if isinstance(net, NCSNpp):  # the EMA list is mapped by this order
        assert [n for n, _ in net.named_parameters()] == m["parameter_order"]
        frozen = set(m["requires_grad_false"])
        assert net.ema_parameter_names() == [n for n in m["parameter_order"] if n not in frozen]


def test_headline_counts():
    # the figures the issue states: RF DDPM++ 61.8 M, EDM DDPM++ 55.7 M
    assert round(MANIFESTS["rf_cifar10_ddpmpp"]["parameters"] / 1e6, 1) == 61.8
    assert round(MANIFESTS["edm_cifar10_uncond_vp"]["parameters"] / 1e6, 1) == 55.7
