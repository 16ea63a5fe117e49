"""Prior (t = t_max) samplers. Noise is drawn on the CPU from a seeded generator, then moved, so a
seed gives the same noise on every device and for every batch size."""

from __future__ import annotations

import math

import numpy as np
import torch


class Prior:
    """Draws ``n`` samples of shape ``(n, *shape)``."""

    name = "prior"

    def sample(self, n: int, shape: tuple[int, ...], generator: torch.Generator | None = None) -> torch.Tensor:
        raise NotImplementedError

    def config(self) -> dict:
        return {"name": self.name}


class GaussianPrior(Prior):
    """n ~ N(0, scale^2 I)."""

    name = "gaussian"

    def __init__(self, scale: float = 1.0):
        self.scale = float(scale)

    def sample(self, n, shape, generator=None):
        return self.scale * torch.randn((n, *shape), generator=generator, dtype=torch.float64)

    def config(self):
        return {"name": self.name, "scale": self.scale}


def pfgmpp_beta(n: int, N: int, D: float, generator: torch.Generator | None, clip: float | None = None) -> np.ndarray:
    """B ~ Beta(N/2, D/2), one per sample (shape (n,), float64): the radius law of the PFGM++ kernel,
    drawn by numpy from a seed taken from ``generator`` (shared by the prior and the training kernel).
    ``clip`` caps B at 1 - clip."""
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    b = np.random.default_rng(seed).beta(N / 2.0, D / 2.0, size=n)
    return b if clip is None else np.minimum(b, 1 - clip)


class PFGMPPPrior(Prior):
    """The PFGM++ prior at r_max = sigma_max sqrt(D), expressed in rfbench flow time.

    In the sigma convention a prior sample is x = R u, u uniform on the unit sphere of R^N,
    R = r_max sqrt(B / (1 - B)), B ~ Beta(N/2, D/2), one B per sample, N the true data dimension
    (Xu et al. 2023, sec. 3.3). ``D = inf`` gives EDM's prior sigma_max N(0, I). rfbench's state at
    t_max = sigma_max / (1 + sigma_max) is x / (1 + sigma_max), which is what :meth:`sample` returns.
    Not sigma_max * N(0, I) for finite D: that is the classic silent mistake.
    """

    name = "pfgmpp"

    def __init__(self, D: float, sigma_max: float = 80.0):
        if not (D > 2 or math.isinf(D)):
            raise ValueError(f"PFGM++ needs D > 2 (finite kernel variance) or D = inf, got D={D}")
        self.D, self.sigma_max = float(D), float(sigma_max)

    def radius_scale(self, n: int, N: int, generator: torch.Generator | None) -> torch.Tensor:
        """sqrt(D B/(1-B)) per sample: the norm of kernel noise divided by sigma (shape (n,))."""
        b = pfgmpp_beta(n, N, self.D, generator)
        return torch.from_numpy(np.sqrt(self.D * b / (1.0 - b)))

    def sample(self, n, shape, generator=None):
        N = int(np.prod(shape))
        if math.isinf(self.D):
            noise = torch.randn((n, *shape), generator=generator, dtype=torch.float64)
        else:
            g = torch.randn((n, N), generator=generator, dtype=torch.float64)
            u = g / g.norm(dim=1, keepdim=True)
            noise = (self.radius_scale(n, N, generator)[:, None] * u).reshape(n, *shape)
        return noise * self.sigma_max / (1 + self.sigma_max)

    def config(self):
        return {"name": self.name, "D": self.D, "sigma_max": self.sigma_max}
