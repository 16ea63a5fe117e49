"""The built-in models that need no training: the analytic oracles (exact velocities) and the
``diffusers-unet`` entry (a local diffusers folder)."""

from __future__ import annotations

import math

from .analytic import analytic_gmm_rf, analytic_gmm_vp, analytic_pfgmpp, analytic_pfgmpp_gmm
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
# the 8-Gaussian density under the PFGM++ kernel: no snapping onto points, so its ref_rmse is a clean
# discretisation error (the convergence-order oracle for PFGM++). D = 128 only: the Gauss-Laguerre
# scale integral is within 1e-12 there with 16 nodes, while D = 8's heavy tails need far more.
register_model(ModelEntry(
    "analytic-pfgmpp-gmm-d128", (lambda **kw: analytic_pfgmpp_gmm(128.0, **kw)), "analytic", "analytic",
    "8-Gaussian mixture under the PFGM++ kernel, D=128, exact denoiser (Gauss-Laguerre scale mixture)",
    default_data="8gaussians"))


def _diffusers_factory(path: str, sha256: str | None = None):
    from .formats.diffusers import load_diffusers_unet

    return load_diffusers_unet(path, expect_sha256=sha256)


register_model(ModelEntry("diffusers-unet", _diffusers_factory, "diffusion", "external",
                          "a diffusers UNet2DModel + DDPM scheduler config from a local folder (path=...); "
                          "eps/x0/v prediction on its discrete VP schedule"))
