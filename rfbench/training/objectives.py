"""Training objectives of the four model families, in rfbench time (t = 1 noise, t = 0 data).

Each loss takes one batch and the network and returns a scalar. Shapes: x0, noise (batch, *data_shape);
t, sigma (batch,). Notation: x0 data (or a coupled endpoint), n / eps noise, x_t = alpha(t) x0 + sigma(t) n.

* Rectified flow (Liu et al. 2022): x_t = (1 - t) x0 + t n, regress v(x_t, t) on n - x0 (the paper's
  X1 - X0 with time reversed). Reflow is the same loss on coupled pairs (n, x0 = ODE(n)).
* 2-rectified flow++ (Lee et al. 2024): the same pairs, t from a U-shaped density, and a pseudo-Huber
  premetric on the velocity (plus LPIPS on the data prediction where real LPIPS weights exist).
* Distillation (Liu et al. 2022, sec. 2.3, k = 1): only t = t_max is trained, so that one Euler step
  z + (0 - 1) v(z, 1) = z - v lands on the pair's endpoint.
* DDPM-style diffusion: eps-prediction with the "simple" loss |eps_hat - eps|^2 on a VP schedule.
* Rectified Diffusion (Wang et al. 2024): the diffusion form with the *paired* eps, loss in x0 space.
* PFGM++ (Xu et al. 2023) / EDM (Karras et al. 2022): denoising loss with EDM's preconditioning and
  weighting; the perturbation is PFGM++'s heavy-tailed kernel with r = sigma sqrt(D) (Gaussian for D = inf).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from ..models.conversions import append_dims
from ..models.families import edm_denoise
from ..models.priors import pfgmpp_beta
from ..models.schedules import Schedule

# -- rectified flow, reflow, distillation -------------------------------------------------------------


def rf_loss(x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor, net: nn.Module) -> torch.Tensor:
    """Rectified-flow regression: mean over elements of |v(x_t, t) - (n - x0)|^2.

    With independent (x0, n) this is 1-RF; with coupled pairs (n, x0 = ODE(n)) it is reflow.
    """
    tt = append_dims(t, x0)
    xt = (1 - tt) * x0 + tt * noise
    return (net(xt, t) - (noise - x0)).pow(2).mean()


def distill_loss(x0: torch.Tensor, noise: torch.Tensor, net: nn.Module, t_max: float = 1.0) -> torch.Tensor:
    """One-step distillation (k = 1) with the L2 velocity loss: train v(z, t_max) only, so the Euler
    step z + (0 - t_max) v(z, t_max) hits the pair's endpoint x0, i.e. target v = (z - x0) / t_max.

    (The RF paper's one-step map is z + v_rf(z, 0); in rfbench time v = -v_rf and the step runs
    from t = 1 down to 0, hence z - v.)
    """
    t = torch.full((x0.shape[0],), float(t_max), dtype=x0.dtype, device=x0.device)
    return (net(noise, t) - (noise - x0) / t_max).pow(2).mean()


def u_shaped_t(n: int, generator: torch.Generator | None = None, a: float = 4.0, eps: float = 1e-5) -> torch.Tensor:
    """t ~ p(t) = a cosh(a (t - 1/2)) / (2 sinh(a / 2)) on [eps, 1 - eps] (rfpp's density, a = 4).

    p is the even mixture of q(u) = a e^{au} / (e^a - 1) and its mirror: draw u from q by inverse CDF,
    u = log(1 + U (e^a - 1)) / a, flip it to 1 - u with probability 1/2, then squeeze affinely into
    [eps, 1 - eps] as the official code does. (rfpp mirrors a pooled batch instead of flipping each
    draw; the marginal is the same.)
    """
    uni = torch.rand(n, generator=generator, dtype=torch.float64)
    u = torch.log1p(uni * math.expm1(a)) / a
    flip = torch.rand(n, generator=generator, dtype=torch.float64) < 0.5
    u = torch.where(flip, 1 - u, u)
    return (eps + (1 - 2 * eps) * u).to(torch.float32)


def u_shaped_density(t: torch.Tensor | float, a: float = 4.0) -> torch.Tensor:
    """The density of :func:`u_shaped_t` (before the squeeze): a cosh(a (t - 1/2)) / (2 sinh(a / 2))."""
    t = torch.as_tensor(t, dtype=torch.float64)
    return a * torch.cosh(a * (t - 0.5)) / (2 * math.sinh(a / 2))


def rfpp_huber(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """rfpp's pseudo-Huber premetric per sample: (sqrt(|pred - target|^2 + c^2) - c) / d, c = 0.00054 d,
    |.|^2 summed over the d elements of one sample (shape (batch,)).

    The official code scales c with d; iCT's pseudo-Huber, which it cites, uses 0.00054 sqrt(d). rfbench
    follows the code (for CIFAR-10, d = 3072: c = 1.66 rather than 0.03).
    """
    d = pred[0].numel()
    c = 0.00054 * d
    sq = (pred - target).pow(2).flatten(1).sum(1)
    return (torch.sqrt(sq + c**2) - c) / d


def rfpp_loss(x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor, net: nn.Module,
              lpips: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
    """2-rectified flow++ on pairs (n, x0), t from :func:`u_shaped_t`.

    Without LPIPS: the pseudo-Huber premetric alone (the code's ``--loss_type huber``, unweighted).
    With ``lpips(x0_hat, x0)`` (per sample): (1 - t) Huber + LPIPS, the code's ``lpips-huber``. In rfpp's
    convention (the same as rfbench's) t = 1 is noise, so the Huber term is down-weighted near the noise
    end, where LPIPS on x0_hat = x_t - t v carries the signal.
    """
    tt = append_dims(t, x0)
    xt = (1 - tt) * x0 + tt * noise
    pred = net(xt, t)
    huber = rfpp_huber(pred, noise - x0)
    if lpips is None:
        return huber.mean()
    return ((1 - t) * huber + lpips(xt - tt * pred, x0)).mean()


# -- diffusion and Rectified Diffusion --------------------------------------------------------------


def _vp(schedule: Schedule, t: torch.Tensor, x: torch.Tensor):
    t64 = t.to(torch.float64)
    return append_dims(schedule.alpha(t64), x), append_dims(schedule.sigma(t64), x)


def eps_loss(x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor, net: nn.Module, schedule: Schedule) -> torch.Tensor:
    """DDPM's simple loss: mean |eps_hat(x_t, t) - n|^2 with x_t = alpha x0 + sigma n."""
    a, s = _vp(schedule, t, x0)
    return (net(a * x0 + s * noise, t) - noise).pow(2).mean()


def rectified_diffusion_loss(x0: torch.Tensor, eps: torch.Tensor, t: torch.Tensor, net: nn.Module,
                             schedule: Schedule, c: float = 1e-3) -> torch.Tensor:
    """Rectified Diffusion (Wang et al. 2024, official train.py): x_t = alpha x0 + sigma eps with the
    **paired** eps (the noise the teacher's ODE started from), x0_hat = (x_t - sigma eps_hat) / alpha,
    loss = mean over elements of sqrt((x0_hat - x0)^2 + c^2) - c."""
    a, s = _vp(schedule, t, x0)
    xt = a * x0 + s * eps
    x0_hat = (xt - s * net(xt, t)) / a
    return (torch.sqrt((x0_hat - x0).pow(2) + c**2) - c).mean()


# -- PFGM++ and EDM ----------------------------------------------------------------------------------


def edm_sigma(n: int, generator: torch.Generator | None, p_mean: float = -1.2, p_std: float = 1.2) -> torch.Tensor:
    """Training noise levels: ln sigma ~ N(p_mean, p_std^2) (EDM's defaults, reused by PFGM++)."""
    return torch.exp(p_mean + p_std * torch.randn(n, generator=generator, dtype=torch.float64)).to(torch.float32)


def pfgmpp_radius(n: int, N: int, D: float, generator: torch.Generator | None, clip: float | None = 1e-3) -> torch.Tensor:
    """sqrt(B / (1 - B)) with B ~ Beta(N/2, D/2), one per sample (shape (n,), float64). The kernel noise
    norm is r times this, r = sigma sqrt(D).

    ``clip`` caps B at 1 - clip (radius <= sqrt((1 - clip) / clip)), the upper half of PFGM++'s training
    clip to [1e-3, 1 - 1e-3]. rfbench drops the lower half: harmless for images (N = 3072, D = 2048:
    B ~ 0.6), it rewrites the law in low dimension (N = 2, D = 2048: B ~ Beta(1, 1024) has mean 1e-3,
    so 64 % of draws would be clipped up to B = 1e-3).
    """
    b = pfgmpp_beta(n, N, D, generator, clip)
    return torch.from_numpy(np.sqrt(b / (1 - b)))


def pfgmpp_noise(sigma: torch.Tensor, shape: tuple[int, ...], D: float, generator: torch.Generator | None,
                 clip: float | None = 1e-3) -> torch.Tensor:
    """A draw from the PFGM++ perturbation kernel p_r(n) ∝ (|n|^2 + r^2)^(-(N+D)/2), r = sigma sqrt(D)
    (the radius trick: |n| = r sqrt(B/(1-B)), direction uniform on the sphere; N = prod(shape) is the true
    data dimension; B capped at 1 - clip, see :func:`pfgmpp_radius`). D = inf gives EDM's sigma N(0, I).
    sigma: (batch,) -> (batch, *shape)."""
    n = sigma.shape[0]
    g = torch.randn((n, *shape), generator=generator, dtype=torch.float64)
    s = append_dims(sigma.to(torch.float64), g)
    if math.isinf(D):
        return (s * g).to(torch.float32)
    N = int(np.prod(shape))
    u = g / g.flatten(1).norm(dim=1).reshape(-1, *([1] * len(shape)))
    radius = append_dims(pfgmpp_radius(n, N, D, generator, clip), g) * math.sqrt(D)
    return (s * radius * u).to(torch.float32)


def edm_loss(y: torch.Tensor, sigma: torch.Tensor, noise: torch.Tensor, net: nn.Module, sigma_data: float) -> torch.Tensor:
    """EDM's weighted denoising loss: mean of lambda(sigma) |D(y + n, sigma) - y|^2 with
    lambda = (sigma^2 + sd^2) / (sigma sd)^2, where n is the kernel noise at level sigma."""
    weight = append_dims((sigma**2 + sigma_data**2) / (sigma * sigma_data) ** 2, y)
    return (weight * (edm_denoise(net, y + noise, sigma, sigma_data) - y).pow(2)).mean()
