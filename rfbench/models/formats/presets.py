"""Named configurations of the released checkpoints.

Each preset says which file format to expect, which network (with its configuration in the original
repository's field names) and how its time maps to rfbench's (``kind``). Values are copied from the
official training configurations (score_sde's / RectifiedFlow's ``configs/``, EDM's and PFGM++'s
``train.py`` options, rfpp's ``configs_unet/*.json``); ``params`` is the parameter count rfbench's
network has for it, checked against the original code's in ``tests/models/test_full_size.py``.

kinds: ``rf`` (RectifiedFlow velocity), ``vp-eps`` (score_sde VP noise prediction), ``ve-score``
(score_sde continuous VE score), ``denoiser`` (EDM / PFGM++ preconditioned denoiser, 2-RF++'s
velocity wrapper); see :mod:`rfbench.models.nets.flows` for the maps.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from ...errors import UnknownNameError


@dataclass(frozen=True)
class Preset:
    name: str
    format: str            # "score-sde" | "edm-pickle" | "rfpp"
    kind: str              # "rf" | "vp-eps" | "ve-score" | "denoiser"
    net: str               # rfbench network class (rfbench.models.nets.NETS)
    config: dict           # constructor arguments, original field names
    data_shape: tuple[int, int, int]
    params: int
    description: str
    options: dict = field(default_factory=dict)  # wrapper options (beta_min, sigma range, ...)

    def net_config(self) -> dict:
        return copy.deepcopy(self.config)


# -- score_sde / RectifiedFlow: NCSN++ configs (score_sde's config.model / config.data fields) -------------

_DDPMPP = dict(image_size=32, num_channels=3, centered=True, nf=128, ch_mult=[1, 2, 2, 2], num_res_blocks=4,
               attn_resolutions=[16], resamp_with_conv=True, conditional=True, fir=False, fir_kernel=[1, 3, 3, 1],
               skip_rescale=True, resblock_type="biggan", progressive="none", progressive_input="none",
               progressive_combine="sum", embedding_type="positional", fourier_scale=16, scale_by_sigma=False,
               nonlinearity="swish", sigma_min=0.01, sigma_max=50, num_scales=1000, dropout=0.1)
_NCSNPP_VP = dict(_DDPMPP, fir=True, progressive_input="residual")
_NCSNPP_VE = dict(_NCSNPP_VP, centered=False, embedding_type="fourier", scale_by_sigma=True)
_RF_256 = dict(_DDPMPP, image_size=256, centered=False, ch_mult=[1, 1, 2, 2, 2, 2, 2], num_res_blocks=2, fir=True,
               progressive="output_skip", progressive_input="input_skip", embedding_type="fourier",
               scale_by_sigma=True, sigma_max=378, num_scales=2000, dropout=0.0)

# -- EDM / PFGM++: EDMPrecond arguments as train.py records them --------------------------------------------

_EDM_DDPMPP = dict(model_type="SongUNet", embedding_type="positional", encoder_type="standard", decoder_type="standard",
                   channel_mult_noise=1, resample_filter=[1, 1], model_channels=128, channel_mult=[2, 2, 2])
_EDM_NCSNPP = dict(model_type="SongUNet", embedding_type="fourier", encoder_type="residual", decoder_type="standard",
                   channel_mult_noise=2, resample_filter=[1, 3, 3, 1], model_channels=128, channel_mult=[2, 2, 2])
_CIFAR = dict(img_resolution=32, img_channels=3, augment_dim=9, dropout=0.13, use_fp16=False)

# -- rfpp: configs_unet/*.json (the network part) ----------------------------------------------------------

_RFPP_SONG = dict(unet_type="songunet", in_channels=3, out_channels=3, label_dim=0, augment_dim=9, model_channels=128,
                  channel_mult_emb=4, num_blocks=4, attn_resolutions=[16], label_dropout=0, embedding_type="fourier",
                  channel_mult_noise=2, encoder_type="residual", decoder_type="standard", resample_filter=[1, 3, 3, 1])


def _p(*args, **kw) -> Preset:
    return Preset(*args, **kw)


PRESETS: dict[str, Preset] = {p.name: p for p in [
    _p("rf-cifar10-ddpmpp", "score-sde", "rf", "NCSNpp", dict(_DDPMPP, dropout=0.15), (3, 32, 32), 61_804_419,
       "RectifiedFlow CIFAR-10 (1-, 2-, 3-RF and distilled; checkpoint_N.pth), DDPM++ config"),
    _p("rf-lsun-church256", "score-sde", "rf", "NCSNpp", dict(_RF_256, sigma_max=380), (3, 256, 256), 65_574_549,
       "RectifiedFlow LSUN church 256 (images in [0, 1], mapped to [-1, 1] inside the network)"),
    _p("rf-lsun-bedroom256", "score-sde", "rf", "NCSNpp", dict(_RF_256), (3, 256, 256), 65_574_549,
       "RectifiedFlow LSUN bedroom 256 (images in [0, 1], mapped to [-1, 1] inside the network)"),
    _p("rf-celebahq256", "score-sde", "rf", "NCSNpp", dict(_RF_256, centered=True), (3, 256, 256), 65_574_549,
       "RectifiedFlow CelebA-HQ 256"),
    _p("rf-afhq-cat256", "score-sde", "rf", "NCSNpp", dict(_RF_256, centered=True), (3, 256, 256), 65_574_549,
       "RectifiedFlow AFHQ cat 256"),
    _p("scoresde-vp-cifar10-ddpmpp-continuous", "score-sde", "vp-eps", "NCSNpp", dict(_DDPMPP), (3, 32, 32),
       61_804_419, "score_sde VP DDPM++ (continuous)", dict(beta_min=0.1, beta_max=20.0)),
    _p("scoresde-vp-cifar10-ddpmpp-deep-continuous", "score-sde", "vp-eps", "NCSNpp", dict(_DDPMPP, num_res_blocks=8),
       (3, 32, 32), 106_632_579, "score_sde VP DDPM++ deep (continuous), behind DPM-Solver's CIFAR-10 tables",
       dict(beta_min=0.1, beta_max=20.0)),
    _p("scoresde-vp-cifar10-ncsnpp-continuous", "score-sde", "vp-eps", "NCSNpp", dict(_NCSNPP_VP), (3, 32, 32),
       62_693_251, "score_sde VP NCSN++ (continuous)", dict(beta_min=0.1, beta_max=20.0)),
    _p("scoresde-vp-cifar10-ncsnpp-deep-continuous", "score-sde", "vp-eps", "NCSNpp",
       dict(_NCSNPP_VP, num_res_blocks=8), (3, 32, 32), 107_521_411, "score_sde VP NCSN++ deep (continuous)",
       dict(beta_min=0.1, beta_max=20.0)),
    _p("scoresde-ve-cifar10-ncsnpp-continuous", "score-sde", "ve-score", "NCSNpp", dict(_NCSNPP_VE), (3, 32, 32),
       62_758_915, "score_sde VE NCSN++ (continuous; images in [0, 1])", dict(sigma_min=0.01, sigma_max=50.0)),
    _p("scoresde-ve-cifar10-ncsnpp-deep-continuous", "score-sde", "ve-score", "NCSNpp",
       dict(_NCSNPP_VE, num_res_blocks=8), (3, 32, 32), 107_587_075,
       "score_sde VE NCSN++ deep (continuous; images in [0, 1])", dict(sigma_min=0.01, sigma_max=50.0)),
    _p("edm-cifar10-uncond-vp", "edm-pickle", "denoiser", "EDMPrecond", dict(_CIFAR, label_dim=0, **_EDM_DDPMPP),
       (3, 32, 32), 55_733_891, "EDM CIFAR-10 unconditional, DDPM++ ('vp' architecture), EDM preconditioning"),
    _p("edm-cifar10-cond-vp", "edm-pickle", "denoiser", "EDMPrecond", dict(_CIFAR, label_dim=10, **_EDM_DDPMPP),
       (3, 32, 32), 55_735_299, "EDM CIFAR-10 class-conditional, DDPM++ ('vp'), EDM preconditioning"),
    _p("edm-cifar10-uncond-ve", "edm-pickle", "denoiser", "EDMPrecond", dict(_CIFAR, label_dim=0, **_EDM_NCSNPP),
       (3, 32, 32), 56_397_827, "EDM CIFAR-10 unconditional, NCSN++ ('ve'), EDM preconditioning"),
    _p("edm-cifar10-cond-ve", "edm-pickle", "denoiser", "EDMPrecond", dict(_CIFAR, label_dim=10, **_EDM_NCSNPP),
       (3, 32, 32), 56_400_643, "EDM CIFAR-10 class-conditional, NCSN++ ('ve'), EDM preconditioning"),
    _p("edm-imagenet64-cond-adm", "edm-pickle", "denoiser", "EDMPrecond",
       dict(img_resolution=64, img_channels=3, label_dim=1000, dropout=0.1, use_fp16=True, model_type="DhariwalUNet",
            model_channels=192, channel_mult=[1, 2, 3, 4]), (3, 64, 64), 295_899_267,
       "EDM ImageNet-64 class-conditional, ADM (DhariwalUNet)"),
    _p("pfgmpp-cifar10-ncsnpp-d128", "edm-pickle", "denoiser", "EDMPrecond",
       dict(_CIFAR, label_dim=0, pfgmpp=True, D=128, **_EDM_NCSNPP), (3, 32, 32), 56_397_827,
       "PFGM++ CIFAR-10 NCSN++, D = 128"),
    _p("pfgmpp-cifar10-ncsnpp-d2048", "edm-pickle", "denoiser", "EDMPrecond",
       dict(_CIFAR, label_dim=0, pfgmpp=True, D=2048, **_EDM_NCSNPP), (3, 32, 32), 56_397_827,
       "PFGM++ CIFAR-10 NCSN++, D = 2048"),
    _p("pfgmpp-cifar10-ncsnpp-d2048-cond", "edm-pickle", "denoiser", "EDMPrecond",
       dict(_CIFAR, label_dim=10, pfgmpp=True, D=2048, **_EDM_NCSNPP), (3, 32, 32), 56_400_643,
       "PFGM++ CIFAR-10 class-conditional NCSN++, D = 2048"),
    _p("pfgmpp-cifar10-ncsnpp-dinf", "edm-pickle", "denoiser", "EDMPrecond",
       dict(_CIFAR, label_dim=0, **_EDM_NCSNPP), (3, 32, 32), 56_397_827, "PFGM++'s EDM baseline (D = inf)"),
    _p("rfpp-cifar10", "rfpp", "denoiser", "EDMPrecondVel",
       dict(_RFPP_SONG, img_resolution=32, channel_mult=[2, 2, 2], dropout=0.13), (3, 32, 32), 56_397_827,
       "2-RF++ CIFAR-10 (configs_unet/cifar10_ve_aug.json)"),
    _p("rfpp-afhq64", "rfpp", "denoiser", "EDMPrecondVel",
       dict(_RFPP_SONG, img_resolution=64, channel_mult=[1, 2, 2, 2], dropout=0.25), (3, 64, 64), 62_761_091,
       "2-RF++ AFHQ 64 (configs_unet/afhq64_ve_aug.json)"),
    _p("rfpp-ffhq64", "rfpp", "denoiser", "EDMPrecondVel",
       dict(_RFPP_SONG, img_resolution=64, channel_mult=[1, 2, 2, 2], dropout=0.25), (3, 64, 64), 62_761_091,
       "2-RF++ FFHQ 64 (configs_unet/ffhq64_ve_aug.json)"),
    _p("rfpp-imagenet64", "rfpp", "denoiser", "EDMPrecondVel",
       dict(unet_type="adm", img_resolution=64, in_channels=3, out_channels=3, label_dim=1000, augment_dim=0,
            model_channels=192, channel_mult=[1, 2, 3, 4], channel_mult_emb=4, num_blocks=3,
            attn_resolutions=[32, 16, 8], dropout=0.1, label_dropout=0, use_fp16=True), (3, 64, 64), 295_899_267,
       "2-RF++ ImageNet 64 class-conditional (configs_unet/imagenet64.json)"),
]}


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except (KeyError, TypeError):
        raise UnknownNameError("checkpoint preset", name, PRESETS) from None
