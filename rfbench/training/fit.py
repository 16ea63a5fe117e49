"""One routine for "fit a small network on a model's own trajectories": BOSS's stage-2 fine-tune
(:mod:`rfbench.training.boss`) and FlowTurbo's refiner (:mod:`rfbench.training.flowturbo`).

Both run the same pipeline, and differ only in what a :class:`FitProblem` says:

1. the teacher: the model in the problem's dtype, on the model's device;
2. training examples from the teacher's own trajectories (no data), computed once;
3. a student network (a copy of the model's network, or a fresh one), optimised by
   :func:`rfbench.training.loop.train` with the config's steps, learning rate, EMA and seed;
4. diagnostics before and after (held-out losses, explained variance);
5. an rfbench checkpoint, cached under the model's fingerprint and the config's hash (not on disk
   where the model cannot be fingerprinted), validated when read back, loaded into a fresh network.

The cache keys and checkpoint contents are those each method had before it used this routine, so
earlier caches stay valid.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .. import cache
from .. import progress as _progress
from ..errors import NotApplicableError
from ..models.base import FlowModel
from ..models.formats.rfbench import load_state, make_checkpoint, validate_checkpoint
from .loop import train


@dataclass
class FitProblem:
    """What differs between the fits (BOSS stage 2, FlowTurbo's refiner).

    kind: the checkpoint's model name (``validate_checkpoint(expect_model=kind)``);
    folder, file_name(key): where the checkpoint is cached; key_name: the fingerprint's name in the
    cache key (``config_hash({key_name: fingerprint, **asdict(config)})``);
    identify(model): the fingerprint that keys the cache (None: not cacheable);
    require_cache: refuse (NotApplicableError) a model that cannot be fingerprinted, rather than fit
    it uncached; teacher(model): the model the examples come from;
    examples(teacher, device): the training examples; student(): (network, net_config);
    loss(net, generator, examples): one batch's loss; diagnose(stage, net, examples): a dict of
    diagnostics for stage "before" (the student before training) and "after" (the EMA network);
    seconds: "training" (the optimiser loop's own seconds) or "total" (the examples included);
    info, extra: added to the checkpoint's train_info and to the checkpoint itself;
    rebuild(ckpt): the architecture to load the weights into; desc: the progress bar's label.
    """

    kind: str
    folder: str
    file_name: Callable[[str], str]
    key_name: str
    identify: Callable[[FlowModel], str | None]
    teacher: Callable[[FlowModel], FlowModel]
    examples: Callable[[FlowModel, torch.device], Any]
    student: Callable[[], tuple[nn.Module, dict]]
    loss: Callable[[nn.Module, torch.Generator, Any], torch.Tensor]
    rebuild: Callable[[dict], nn.Module]
    desc: str
    diagnose: Callable[[str, nn.Module, Any], dict] = lambda stage, net, examples: {}
    require_cache: str | None = None
    seconds: str = "training"
    info: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    with_key: bool = False  # store the cache key in the checkpoint (config_hash=)


@dataclass
class FittedNet:
    """The fitted network (eval mode) and its provenance; ``path`` None where not cached on disk."""

    net: nn.Module
    ckpt: dict
    cache_hit: bool
    key: str | None
    path: Path | None


def fit_to_own_trajectories(model: FlowModel, problem: FitProblem, config: Any, *, progress: bool = True,
                            refresh: bool = False) -> FittedNet:
    """Fit ``problem``'s student on ``model``'s own trajectories with the settings ``config`` (a
    dataclass with steps, lr, ema, seed, batch), or read it from the cache (see the module docstring)."""
    fingerprint = problem.identify(model)
    if fingerprint is None and problem.require_cache is not None:
        raise NotApplicableError(f"{problem.require_cache}; {model.cannot_fingerprint()}")
    key = None if fingerprint is None else cache.config_hash({problem.key_name: fingerprint, **asdict(config)})

    def build() -> dict:
        start = time.perf_counter()
        _progress.announce(f"{problem.desc}: fitting on {model.name}'s own trajectories (cached afterwards)",
                           show=progress)
        device = model.device
        examples = problem.examples(problem.teacher(model), device)
        net, net_config = problem.student()
        before = problem.diagnose("before", net, examples)
        ema, info = train(net, lambda n, gen: problem.loss(n, gen, examples), steps=config.steps, lr=config.lr,
                          seed=config.seed, ema_decay=config.ema, device=device, progress=progress, desc=problem.desc)
        if problem.seconds == "total":
            info["seconds"] = time.perf_counter() - start
        info.update(before)
        with torch.no_grad():
            info.update(problem.diagnose("after", ema, examples))
        info.update(problem.info)
        extra = dict(problem.extra, **({"config_hash": key} if problem.with_key else {}))
        return make_checkpoint(problem.kind, ema, net_config, train_config=asdict(config), train_info=info, **extra)

    if key is None:  # a model we cannot identify by content: fit, never share on disk
        ckpt, hit, path = build(), False, None
        source = "<not cached>"
    else:
        path = cache.cache_file(problem.folder, problem.file_name(key))
        ckpt, hit = cache.cached(path, build, refresh=refresh)
        validate_checkpoint(ckpt, path, expect_model=problem.kind)
        source = path
    net = load_state(problem.rebuild(ckpt), ckpt["state_dict"], source)
    return FittedNet(net=net, ckpt=ckpt, cache_hit=hit, key=key, path=path)
