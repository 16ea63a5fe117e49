"""A small deterministic training loop shared by every model rfbench trains.

Deterministic under a seed on CPU: the loss function draws its batch from the generator it is
given, and the network is initialised under ``torch.manual_seed(seed)``. Progress is shown with a
tqdm bar that displays the running loss.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable

import torch
from torch import nn
from .. import progress as _progress


def init_seeded(builder: Callable[[], nn.Module], seed: int) -> nn.Module:
    """Build a network with parameters drawn under ``seed`` without disturbing the global RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return builder()


def train(
    net: nn.Module,
    loss_fn: Callable[[nn.Module, torch.Generator], torch.Tensor],
    *,
    steps: int,
    lr: float,
    seed: int,
    ema_decay: float = 0.999,
    warmup: int = 100,
    grad_clip: float | None = 1.0,
    device: str | torch.device = "cpu",
    progress: bool = True,
    desc: str = "train",
) -> tuple[nn.Module, dict]:
    """Adam with linear warm-up and cosine decay; returns (EMA network, info).

    ``loss_fn(net, generator)`` draws its own batch (on the CPU, from ``generator``) and returns a
    scalar loss. info: seconds, steps, final_loss (mean of the last 100 steps).
    """
    net = net.to(device).train()
    ema = copy.deepcopy(net).eval().requires_grad_(False)
    opt = torch.optim.Adam(net.parameters(), lr=lr)

    def lr_at(step: int) -> float:
        if step < warmup:
            return lr * (step + 1) / warmup
        frac = (step - warmup) / max(1, steps - warmup)
        return lr * (0.05 + 0.95 * 0.5 * (1 + torch.cos(torch.tensor(frac * torch.pi)).item()))

    gen = torch.Generator().manual_seed(seed + 1)
    recent: list[float] = []
    start = time.perf_counter()
    _progress.announce(f"{desc}: {steps} steps on {device}", show=progress)
    bar = _progress.bar(range(steps), desc=desc, unit="step", disable=not progress, leave=False, estimate=True, mininterval=0.5)
    for step in bar:
        for group in opt.param_groups:
            group["lr"] = lr_at(step)
        loss = loss_fn(net, gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip is not None:
            nn.utils.clip_grad_norm_(net.parameters(), grad_clip)
        opt.step()
        with torch.no_grad():
            decay = min(ema_decay, (1 + step) / (10 + step))
            for pe, p in zip(ema.parameters(), net.parameters()):
                pe.lerp_(p, 1 - decay)
            for be, b in zip(ema.buffers(), net.buffers()):
                be.copy_(b)
        recent.append(loss.item())
        if len(recent) > 100:
            recent.pop(0)
        if step % 50 == 0:
            bar.set_postfix(loss=f"{sum(recent) / len(recent):.4f}", refresh=False)
    bar.close()
    info = {"seconds": time.perf_counter() - start, "steps": steps,
            "final_loss": sum(recent) / max(1, len(recent))}
    return ema, info
