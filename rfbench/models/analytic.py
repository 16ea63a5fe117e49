"""Exact oracle models: probability-flow ODEs whose velocity is known in closed form.

Sampler error measured on these is pure discretisation error, free of training error.

* :class:`AnalyticGMM`: Gaussian-mixture data under any Gaussian path (the rectified-flow path or
  a VP diffusion path). Per component k, x = a x0 + s n with x0 ~ N(mu_k, s_k^2 I) is Gaussian
  with variance V_k = a^2 s_k^2 + s^2, so

      gamma_k(x) ∝ w_k N(x; a mu_k, V_k I)
      E[x0 | x, k] = mu_k + (a s_k^2 / V_k)(x - a mu_k),   E[n | x, k] = (s / V_k)(x - a mu_k)
      v(x, t) = sum_k gamma_k (a' E[x0 | x, k] + s' E[n | x, k]).

  The formula is finite at both ends of the flow path (at t = 0 it gives v = -x), so the RF model
  is integrated over the whole of [0, 1].
* :class:`AnalyticPFGMPP`: an empirical point set {y_i} under the PFGM++ kernel
  p_r(x | y) ∝ (|x - y|^2 + r^2)^{-(N+D)/2} with r = sigma sqrt(D) (Xu et al. 2023). Its exact
  denoiser E[y | x, r] is the softmax-weighted average of the points with logits
  -(N+D)/2 log(|x - y_i|^2 + r^2) (for D = inf: -|x - y_i|^2 / (2 sigma^2), i.e. EDM).
"""

from __future__ import annotations

import math

import torch

from ..data.toy2d import GaussianMixture, eight_gaussians
from .base import FlowModel
from .conversions import append_dims
from .priors import GaussianPrior, PFGMPPPrior
from .schedules import FLOW, Schedule, VPLinearSchedule, edm_sigma_to_t


class AnalyticGMM(FlowModel):
    """Exact velocity of Gaussian-mixture data under ``schedule`` (default: rectified-flow path)."""

    prediction = "velocity"

    def __init__(self, mixture: GaussianMixture | None = None, schedule: Schedule = FLOW, *,
                 t_min: float | None = None, name: str | None = None):
        mixture = mixture or eight_gaussians()
        if t_min is None:
            # the VP path's sigma'(t) diverges at t = 0 (sigma ~ sqrt(beta_min t)): stop at 1e-3 as
            # DPM-Solver and score_sde do; the flow path is regular on all of [0, 1].
            t_min = 0.0 if schedule.name == "flow" else 1e-3
        super().__init__(schedule=schedule, prior=GaussianPrior(), data_shape=(mixture.dim,),
                         t_max=1.0, t_min=t_min)
        self.mixture = mixture
        self.name = name or f"analytic-gmm-{'rf' if schedule.name == 'flow' else 'vp'}"
        self.register_buffer("log_w", torch.log(mixture.weights))
        self.register_buffer("means", mixture.means.clone())
        self.register_buffer("var0", mixture.stds.clone() ** 2)

    def posterior(self, x: torch.Tensor, t: torch.Tensor):
        """Responsibilities gamma (B, K), E[x0|x,k] and E[n|x,k] (B, K, d)."""
        t64 = t.to(torch.float64)
        a = self.schedule.alpha(t64).to(x.dtype)[:, None]
        s = self.schedule.sigma(t64).to(x.dtype)[:, None]
        var = a**2 * self.var0.to(x.dtype) + s**2  # (B, K)
        diff = x[:, None, :] - a[:, :, None] * self.means.to(x.dtype)[None]  # (B, K, d)
        d = x.shape[1]
        logits = self.log_w.to(x.dtype) - 0.5 * d * torch.log(var) - 0.5 * (diff**2).sum(-1) / var
        gamma = torch.softmax(logits, dim=1)
        x0k = self.means.to(x.dtype)[None] + (a * self.var0.to(x.dtype) / var)[..., None] * diff
        nk = (s / var)[..., None] * diff
        return gamma, x0k, nk

    def forward(self, x, t):
        gamma, x0k, nk = self.posterior(x, t)
        t64 = t.to(torch.float64)
        da = append_dims(self.schedule.d_alpha(t64), x0k)
        ds = append_dims(self.schedule.d_sigma(t64), x0k)
        return (gamma[..., None] * (da * x0k + ds * nk)).sum(1)

    def sample_data(self, n, *, generator=None):
        return self.mixture.sample(n, generator)

    def config(self):
        return {**super().config(), "mixture": self.mixture.config()}


def analytic_gmm_rf(**kw) -> AnalyticGMM:
    return AnalyticGMM(eight_gaussians(), FLOW, **kw)


def analytic_gmm_vp(**kw) -> AnalyticGMM:
    return AnalyticGMM(eight_gaussians(), VPLinearSchedule(), **kw)


class AnalyticPFGMPP(FlowModel):
    """Exact PFGM++ ODE of an empirical point set, in rfbench flow time.

    The EDM / PFGM++ ODE dx/dsigma = (x - E[y | x, r = sigma sqrt(D)]) / sigma becomes, with
    t = sigma/(1+sigma) and x_t = x_sigma/(1+sigma), the flow-path ODE dx_t/dt = (x_t - E[y|.]) / t;
    the native prediction is the data prediction E[y | x, r]. The prior is the PFGM++ prior at
    sigma_max (t_max = sigma_max/(1 + sigma_max)); at t = 0 the denoiser is singular, so samplers
    end with an Euler (denoising) step as in EDM.
    """

    prediction = "x0"

    def __init__(self, points: torch.Tensor, D: float, *, sigma_max: float = 80.0, name: str | None = None):
        points = torch.as_tensor(points, dtype=torch.float64)
        super().__init__(schedule=FLOW, prior=PFGMPPPrior(D, sigma_max), data_shape=tuple(points.shape[1:]),
                         t_max=float(edm_sigma_to_t(sigma_max)), t_min=0.0, eval_at_t_min=False,
                         t_ref_end=float(edm_sigma_to_t(1e-4)))
        self.D = float(D)
        self.N = int(points[0].numel())
        self.sigma_max = float(sigma_max)
        self.register_buffer("points", points.reshape(points.shape[0], -1).clone())
        dlabel = "inf" if math.isinf(self.D) else f"{self.D:g}"
        self.name = name or f"analytic-pfgmpp-d{dlabel}"

    def forward(self, x, t):
        b = x.shape[0]
        xf = x.reshape(b, -1)
        t = t.to(x.dtype)[:, None]
        x_sigma = xf / (1 - t)
        sigma = t / (1 - t)
        pts = self.points.to(x.dtype)
        d2 = (x_sigma.pow(2).sum(1, keepdim=True) - 2 * x_sigma @ pts.T + pts.pow(2).sum(1)[None]).clamp_min(0)
        if math.isinf(self.D):
            logits = -d2 / (2 * sigma**2)
        else:
            logits = -0.5 * (self.N + self.D) * torch.log(d2 + sigma**2 * self.D)
        y_hat = torch.softmax(logits, dim=1) @ pts
        return y_hat.reshape(x.shape)

    def sample_data(self, n, *, generator=None):
        idx = torch.randint(0, self.points.shape[0], (n,), generator=generator)
        return self.points[idx].reshape(n, *self.data_shape).to(torch.float64)

    def config(self):
        return {**super().config(), "D": self.D, "sigma_max": self.sigma_max, "points": self.points}


def analytic_pfgmpp(D: float, n_points: int = 512, seed: int = 0, **kw) -> AnalyticPFGMPP:
    """PFGM++ oracle on ``n_points`` points drawn from 8gaussians with ``seed``."""
    pts = eight_gaussians().sample(n_points, torch.Generator().manual_seed(seed))
    return AnalyticPFGMPP(pts, D, **kw)


def gamma_scale_nodes(D: float, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Nodes c_j and weights w_j (sum 1) with E[f(D / (2 U))] ~ sum_j w_j f(c_j) for U ~ Gamma(D/2, 1).

    Generalised Gauss-Laguerre quadrature for the weight u^(D/2 - 1) e^(-u) by Golub-Welsch: the
    nodes are the eigenvalues of the Jacobi matrix with diagonal 2k + alpha + 1 and off-diagonal
    sqrt(k (k + alpha)), the weights the squared first components of its eigenvectors
    (docs/analytic-oracles.md). Exact for polynomials in u of degree < 2n.
    """
    alpha = D / 2.0 - 1.0
    k = torch.arange(n, dtype=torch.float64)
    jac = torch.diag(2 * k + alpha + 1)
    off = torch.sqrt(k[1:] * (k[1:] + alpha))
    jac = jac + torch.diag(off, 1) + torch.diag(off, -1)
    u, vecs = torch.linalg.eigh(jac)
    return D / (2.0 * u), vecs[0].pow(2) / vecs[0].pow(2).sum()


class AnalyticPFGMPPGMM(FlowModel):
    """Exact PFGM++ ODE of Gaussian-mixture data, in rfbench flow time.

    The PFGM++ kernel p_r(x | y) ∝ (|x - y|^2 + r^2)^(-(N+D)/2) with r = sigma sqrt(D) is the
    multivariate Student t with D degrees of freedom and scale sigma, a Gaussian scale mixture:
    x = y + sigma sqrt(c) z with c = D / (2U), U ~ Gamma(D/2, 1), z ~ N(0, I). Mixture component k
    (mean mu_k, std s_k) under node c_j is Gaussian with variance v_kj = s_k^2 + sigma^2 c_j, so the
    denoiser is a softmax over (k, j) as for :class:`AnalyticGMM`, with the scale integral done by
    Gauss-Laguerre quadrature (``nodes`` points: within 1e-12 of 256 nodes for D = 128 from 16, in the
    tests). Unlike the point-set oracle, the data have a density: the flow is smooth down to sigma = 0
    and samples do not snap onto points, so the error against the reference is a clean discretisation
    error. In flow time x_t = x_sigma / (1 + sigma) (the rectified-flow path with Student-t noise):

        dx_t/dt = (1 + sigma)(x_sigma - D(x_sigma, sigma)) / sigma - x_sigma,
        x_sigma - D = sum_kj gamma_kj (sigma^2 c_j / v_kj)(x_sigma - mu_k),

    finite at t = 0 (v = -x there), so samplers integrate the whole of [0, t_max].
    """

    prediction = "velocity"

    def __init__(self, mixture: GaussianMixture, D: float, *, sigma_max: float = 80.0, nodes: int = 16,
                 name: str | None = None):
        super().__init__(schedule=FLOW, prior=PFGMPPPrior(D, sigma_max), data_shape=(mixture.dim,),
                         t_max=float(edm_sigma_to_t(sigma_max)), t_min=0.0)
        self.mixture = mixture
        self.D, self.sigma_max, self.nodes = float(D), float(sigma_max), int(nodes)
        if math.isinf(self.D):
            c, w = torch.ones(1, dtype=torch.float64), torch.ones(1, dtype=torch.float64)
        else:
            c, w = gamma_scale_nodes(self.D, self.nodes)
        self.register_buffer("scale_c", c)
        self.register_buffer("log_cw", torch.log(w))
        self.register_buffer("log_w", torch.log(mixture.weights))
        self.register_buffer("means", mixture.means.clone())
        self.register_buffer("var0", mixture.stds.clone() ** 2)
        dlabel = "inf" if math.isinf(self.D) else f"{self.D:g}"
        self.name = name or f"analytic-pfgmpp-gmm-d{dlabel}"

    def forward(self, x, t):
        dt = x.dtype
        t = t.to(dt)[:, None, None]
        sigma = t / (1 - t)
        xs = x / (1 - t[:, :, 0])  # x_sigma, (B, d)
        c = self.scale_c.to(dt)[None, None, :]  # (1, 1, J)
        # samplers evaluate a whole batch at one time: the variances (and their logs) are then (1, K, J)
        s_var = sigma[:1] if bool((sigma == sigma[0]).all()) else sigma
        var = self.var0.to(dt)[None, :, None] + s_var**2 * c  # (B or 1, K, J)
        inv = 1.0 / var  # multiplications below: float64 division over (B, K, J) costs 3x more
        diff = xs[:, None, :] - self.means.to(dt)[None]  # (B, K, d)
        base = (self.log_w.to(dt)[None, :, None] + self.log_cw.to(dt)[None, None, :]
                - 0.5 * x.shape[1] * torch.log(var))
        logits = torch.addcmul(base, diff.pow(2).sum(-1, keepdim=True), inv, value=-0.5)
        gamma = torch.softmax(logits.flatten(1), dim=1).view_as(logits)
        shrink = (gamma * (c * inv)).sum(-1)  # (B, K): sum_j gamma_kj c_j / v_kj
        resid_over_sigma = sigma[:, :, 0] * (shrink[..., None] * diff).sum(1)  # (x_sigma - D) / sigma
        return (1 + sigma[:, :, 0]) * resid_over_sigma - xs

    def sample_data(self, n, *, generator=None):
        return self.mixture.sample(n, generator)

    def config(self):
        return {**super().config(), "mixture": self.mixture.config(), "D": self.D, "sigma_max": self.sigma_max,
                "nodes": self.nodes}


def analytic_pfgmpp_gmm(D: float, **kw) -> AnalyticPFGMPPGMM:
    """PFGM++ oracle on the 8-Gaussian mixture (a density, unlike the point set of :func:`analytic_pfgmpp`)."""
    return AnalyticPFGMPPGMM(eight_gaussians(), D, **kw)
