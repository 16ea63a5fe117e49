"""Interpolation paths x_t = alpha(t) * x0 + sigma(t) * n in rfbench time.

rfbench time t runs over [0, 1] with **t = 1 the noise (prior) end and t = 0 the data end**; samplers
integrate downwards. ``x0`` is data and ``n`` the prior noise (standard Gaussian for every model except
PFGM++, whose noise comes from its heavy-tailed kernel; the algebra below does not depend on it).

Solvers that need data or noise predictions (DPM-Solver) use only alpha, sigma and the half log-SNR
lambda(t) = log(alpha/sigma) at grid points, plus its inverse. Crosswalk to other conventions
(see README "Time convention"):

==========================  ==========================================  =========================
source                      their time                                  rfbench
==========================  ==========================================  =========================
RF paper, BOSS, FlowTurbo   t_rf, noise at 0, v_rf ~ x1 - x0             t = 1 - t_rf, v = -v_rf
rfpp, FLUX, SD3, diffusers  t or sigma, noise at 1, v ~ noise - data     same t, same v
DPM-Solver / VP diffusion   t in [eps, 1], noise at 1                    same t, VP schedule
EDM / PFGM++                sigma in [0, 80], x = y + sigma n            t = sigma/(1+sigma),
                                                                         x_t = x_sigma/(1+sigma)
==========================  ==========================================  =========================
"""

from __future__ import annotations

import torch

Tensorish = torch.Tensor | float


def _t(t: Tensorish) -> torch.Tensor:
    return t if isinstance(t, torch.Tensor) else torch.tensor(float(t), dtype=torch.float64)


class Schedule:
    """alpha(t), sigma(t), their derivatives, and lambda(t) = log alpha - log sigma with its inverse."""

    name = "schedule"

    def alpha(self, t: Tensorish) -> torch.Tensor:
        raise NotImplementedError

    def sigma(self, t: Tensorish) -> torch.Tensor:
        raise NotImplementedError

    def d_alpha(self, t: Tensorish) -> torch.Tensor:
        raise NotImplementedError

    def d_sigma(self, t: Tensorish) -> torch.Tensor:
        raise NotImplementedError

    def log_snr(self, t: Tensorish) -> torch.Tensor:
        """Half log signal-to-noise ratio lambda(t) = log(alpha/sigma); decreasing in t."""
        t = _t(t)
        return torch.log(self.alpha(t)) - torch.log(self.sigma(t))

    def t_of_log_snr(self, lam: Tensorish) -> torch.Tensor:
        """Inverse of :meth:`log_snr`, by bisection on [0, 1] in float64 (subclasses override)."""
        lam = _t(lam).to(torch.float64)
        lo = torch.zeros_like(lam)
        hi = torch.ones_like(lam)
        for _ in range(200):
            mid = (lo + hi) / 2
            above = self.log_snr(mid) > lam  # lambda decreasing: still too early in data direction
            lo = torch.where(above, mid, lo)
            hi = torch.where(above, hi, mid)
        return (lo + hi) / 2

    def config(self) -> dict:
        return {"name": self.name}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.config().items() if k != "name")
        return f"{type(self).__name__}({args})"


class FlowSchedule(Schedule):
    """The rectified-flow (linear) path: alpha = 1 - t, sigma = t."""

    name = "flow"

    def alpha(self, t):
        return 1 - _t(t)

    def sigma(self, t):
        return _t(t)

    def d_alpha(self, t):
        return -torch.ones_like(_t(t))

    def d_sigma(self, t):
        return torch.ones_like(_t(t))

    def log_snr(self, t):
        t = _t(t)
        return torch.log1p(-t) - torch.log(t)

    def t_of_log_snr(self, lam):
        return torch.sigmoid(-_t(lam))


class VPSchedule(Schedule):
    """A variance-preserving path: sigma = sqrt(1 - alpha^2), defined by log alpha(t) and its derivative
    (subclasses implement ``log_alpha``, ``d_log_alpha`` and the inverse ``t_of_log_alpha``)."""

    def _time(self, t: Tensorish) -> torch.Tensor:
        return _t(t)

    def log_alpha(self, t: Tensorish) -> torch.Tensor:
        raise NotImplementedError

    def d_log_alpha(self, t: Tensorish) -> torch.Tensor:
        raise NotImplementedError

    def t_of_log_alpha(self, la: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def alpha(self, t):
        return torch.exp(self.log_alpha(t))

    def sigma(self, t):
        return torch.sqrt(-torch.expm1(2 * self.log_alpha(t)))

    def d_alpha(self, t):
        t = self._time(t)
        return self.alpha(t) * self.d_log_alpha(t)

    def d_sigma(self, t):
        return -self.alpha(t) * self.d_alpha(t) / self.sigma(t)

    def log_snr(self, t):
        la = self.log_alpha(t)
        return la - 0.5 * torch.log(-torch.expm1(2 * la))

    def t_of_log_snr(self, lam):
        lam = self._time(lam)
        # log alpha from lambda: alpha^2 = 1 / (1 + e^{-2 lambda})
        return self.t_of_log_alpha(-0.5 * torch.logaddexp(torch.zeros_like(lam), -2 * lam))


class VPLinearSchedule(VPSchedule):
    """Variance-preserving diffusion with linear beta(t) = beta_min + t (beta_max - beta_min).

    log alpha(t) = -beta_min t / 2 - (beta_max - beta_min) t^2 / 4, sigma = sqrt(1 - alpha^2)
    (Song et al. 2021; DPM-Solver's ``NoiseScheduleVP('linear')`` with the same defaults).
    """

    name = "vp-linear"

    def __init__(self, beta_min: float = 0.1, beta_max: float = 20.0):
        self.beta_min, self.beta_max = float(beta_min), float(beta_max)

    def log_alpha(self, t):
        t = _t(t)
        return -0.5 * self.beta_min * t - 0.25 * (self.beta_max - self.beta_min) * t**2

    def d_log_alpha(self, t):
        t = _t(t)
        return -0.5 * self.beta_min - 0.5 * (self.beta_max - self.beta_min) * t

    def t_of_log_alpha(self, la):
        big_l = -2 * la  # log(1 + e^{-2 lambda}); exact: -0.5 and -2 are powers of two
        db = self.beta_max - self.beta_min
        return 2 * big_l / (self.beta_min + torch.sqrt(self.beta_min**2 + 2 * db * big_l))

    def config(self):
        return {"name": self.name, "beta_min": self.beta_min, "beta_max": self.beta_max}


class DiscreteVPSchedule(VPSchedule):
    """A DDPM schedule of T discrete steps, made continuous as DPM-Solver does for discrete models.

    alphas_cumprod[k] = prod_{i <= k} (1 - beta_i), k = 0..T-1, sit at t_k = (k + 1) / T; log alpha(t)
    = log sqrt(alphas_cumprod) is interpolated linearly in t between them (and extrapolated linearly
    below t_0 = 1/T, which is the data end of these models). A network trained on integer steps k
    is queried at ``timestep(t) = t T - 1`` (k at the grid points). ``beta_schedule``: "linear"
    (DDPM: 1e-4 .. 0.02) or "scaled_linear" (Stable Diffusion: sqrt-linear, 0.00085 .. 0.012).
    """

    name = "vp-discrete"

    def __init__(self, num_steps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02,
                 beta_schedule: str = "linear"):
        if beta_schedule == "linear":
            betas = torch.linspace(beta_start, beta_end, num_steps, dtype=torch.float64)
        elif beta_schedule == "scaled_linear":
            betas = torch.linspace(beta_start**0.5, beta_end**0.5, num_steps, dtype=torch.float64) ** 2
        else:
            raise ValueError(f"beta_schedule must be 'linear' or 'scaled_linear', got {beta_schedule!r}")
        self.num_steps, self.beta_start, self.beta_end, self.beta_schedule = num_steps, beta_start, beta_end, beta_schedule
        self.alphas_cumprod = torch.cumprod(1 - betas, 0)
        self._t = torch.arange(1, num_steps + 1, dtype=torch.float64) / num_steps
        self._log_alpha = 0.5 * torch.log(self.alphas_cumprod)
        self._slope = torch.diff(self._log_alpha) / torch.diff(self._t)  # per interval
        self._on_device: dict = {}

    def _time(self, t):
        return _t(t).to(torch.float64)

    def _tables(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(grid t_k, log alpha_k, slopes) on ``device`` (a GPU ODE solve passes t on the GPU)."""
        if device.type == "cpu":
            return self._t, self._log_alpha, self._slope
        if device not in self._on_device:
            self._on_device[device] = tuple(v.to(device) for v in (self._t, self._log_alpha, self._slope))
        return self._on_device[device]

    def _piece(self, t: torch.Tensor) -> torch.Tensor:
        grid = self._tables(t.device)[0]
        return (torch.searchsorted(grid, t.to(torch.float64).contiguous()) - 1).clamp(0, self.num_steps - 2)

    def log_alpha(self, t):
        t = _t(t).to(torch.float64)
        grid, log_alpha, slope = self._tables(t.device)
        i = self._piece(t)
        return log_alpha[i] + slope[i] * (t - grid[i])

    def d_log_alpha(self, t):
        t = _t(t).to(torch.float64)
        return self._tables(t.device)[2][self._piece(t)]

    def t_of_log_alpha(self, la):
        # log alpha is decreasing and piecewise linear in t: invert on the reversed grid
        grid, log_alpha, slope = self._tables(la.device)
        i = (torch.searchsorted(-log_alpha, (-la).contiguous()) - 1).clamp(0, self.num_steps - 2)
        return grid[i] + (la - log_alpha[i]) / slope[i]

    def timestep(self, t: Tensorish) -> torch.Tensor:
        """The discrete-model input for continuous t: t T - 1 (integer k at grid points)."""
        return _t(t) * self.num_steps - 1

    def config(self):
        return {"name": self.name, "num_steps": self.num_steps, "beta_start": self.beta_start,
                "beta_end": self.beta_end, "beta_schedule": self.beta_schedule}


def edm_sigma_to_t(sigma: Tensorish) -> torch.Tensor:
    """EDM / PFGM++ noise level sigma -> rfbench time t = sigma / (1 + sigma)."""
    sigma = _t(sigma)
    return sigma / (1 + sigma)


def t_to_edm_sigma(t: Tensorish) -> torch.Tensor:
    """rfbench time on the flow path -> EDM noise level sigma = t / (1 - t)."""
    t = _t(t)
    return t / (1 - t)


FLOW = FlowSchedule()

SCHEDULES = {"flow": FlowSchedule, "vp-linear": VPLinearSchedule, "vp-discrete": DiscreteVPSchedule}


def schedule_from_config(cfg: dict) -> Schedule:
    cfg = dict(cfg)
    name = cfg.pop("name")
    return SCHEDULES[name](**cfg)
