"""The built-in models that need no training: the analytic oracles (exact velocities) and the
``diffusers-unet`` entry (a local diffusers folder)."""

from __future__ import annotations

import math

from .analytic import analytic_gmm_rf, analytic_gmm_vp, analytic_pfgmpp
from .registry import ModelEntry, register_model

register_model(ModelEntry("analytic-gmm-rf", analytic_gmm_rf, "analytic", "analytic",
                          "8-Gaussian mixture, rectified-flow path, exact velocity", default_data="8gaussians"))
register_model(ModelEntry("analytic-gmm-vp", analytic_gmm_vp, "analytic", "analytic",
                          "8-Gaussian mixture, VP diffusion path (beta 0.1..20), exact velocity, t in [1e-3, 1]",
                          default_data="8gaussians"))
for _D in (8.0, 128.0, math.inf):
    _label = "inf" if math.isinf(_D) else f"{int(_D)}"
    register_model(ModelEntry(
        f"analytic-pfgmpp-d{_label}", (lambda D=_D, **kw: analytic_pfgmpp(D, **kw)), "analytic", "analytic",
        f"512 points of 8gaussians under the PFGM++ kernel, D={_label}"
        + (" (EDM limit)" if math.isinf(_D) else "") + ", exact denoiser", default_data="8gaussians-points"))


def _diffusers_factory(path: str, sha256: str | None = None):
    from .formats.diffusers import load_diffusers_unet

    return load_diffusers_unet(path, expect_sha256=sha256)


register_model(ModelEntry("diffusers-unet", _diffusers_factory, "diffusion", "external",
                          "a diffusers UNet2DModel + DDPM scheduler config from a local folder (path=...); "
                          "eps/x0/v prediction on its discrete VP schedule"))
