"""``rfbench.sample``: one call from noise to samples with measured NFE."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

import torch

from ..errors import InvalidInputError
from ..models.base import FlowModel, NFECounter
from ..models.checks import FirstOutputCheck, non_finite_note, warn_notes
from ..models.grids import make_grid
from .registry import SamplerSpec, get_sampler


@dataclass
class SampleResult:
    """Output of :func:`sample`.

    x: samples at t_min, shape (n, *data_shape); noise: the starting points; ts: the grid walked;
    nfe_requested / nfe_measured: requested and counted main-network evaluations (a batched call
    counts once; auxiliary networks such as a refiner are counted separately in ``info``);
    grid: the name of the grid walked.
    """

    x: torch.Tensor
    noise: torch.Tensor
    ts: torch.Tensor
    sampler: str
    nfe_requested: int | None
    nfe_measured: int
    nfe_expected: int | None
    info: dict[str, Any] = field(default_factory=dict)
    grid: str | None = None


def _resolve_model(model: FlowModel | str) -> FlowModel:
    if isinstance(model, str):
        from ..models import get_model

        return get_model(model)
    if not isinstance(model, FlowModel):
        raise InvalidInputError(
            f"model must be a FlowModel or a registered model name, got {type(model).__name__}; "
            "wrap a velocity function with rfbench.models.from_velocity(fn)"
        )
    return model


def _declares(fn, name: str) -> bool:
    """Whether ``fn`` names the parameter ``name`` (not through ``**kwargs``: a user's wrapper that
    forwards ``**kwargs`` to a rule without it must not receive it)."""
    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def _given_span(grid: str | None, grid_options: dict[str, Any] | None) -> tuple[float, float] | None:
    """(first, last) of the caller's explicit times, which a plan may depend on; None otherwise
    (named grids run from t_max to t_min; bad times are reported by the explicit grid itself)."""
    times = (grid_options or {}).get("times") if grid == "explicit" else None
    try:
        ts = torch.as_tensor(times, dtype=torch.float64).flatten()
    except (TypeError, ValueError, RuntimeError):
        return None
    return (float(ts[0]), float(ts[-1])) if times is not None and len(ts) >= 2 else None


def sample(
    model: FlowModel | str,
    sampler: str | SamplerSpec,
    nfe: int | None = None,
    *,
    noise: torch.Tensor | None = None,
    n: int | None = None,
    seed: int = 0,
    grid: str | None = None,
    grid_options: dict[str, Any] | None = None,
    device: str | torch.device | None = None,
    dtype: torch.dtype | None = None,
    batch_size: int | None = None,
    callback=None,
    **options: Any,
) -> SampleResult:
    """Draw samples from ``model`` with ``sampler`` using ``nfe`` function evaluations.

    Args:
        model: a :class:`~rfbench.models.base.FlowModel` or a registered model name.
        sampler: a registered sampler name (``rfbench list samplers``) or spec.
        nfe: requested number of network evaluations (None for adaptive samplers). The sampler's
            plan maps it to steps; ``nfe_measured`` is what the counter saw.
        noise: starting points at t_max, shape (n, *data_shape). If omitted, ``n`` prior samples
            are drawn with ``seed`` (on the CPU, so identical across devices and batch sizes).
        grid: time grid name (default: the one a sampler option such as DPM-Solver's
            ``skip_type`` names, else the sampler's), e.g. "uniform", "logsnr" or "karras".
        device, dtype: where and in what precision to sample (default: the noise's / model's).
        batch_size: run the sampler on chunks of at most this many samples (memory); each chunk is
            an independent run, so ``nfe_measured`` is the count of one run (for adaptive samplers
            the mean over chunks, with ``info["nfe_per_batch"]``).
        **options: sampler options (e.g. ``rtol`` for dopri5).

    Returns:
        :class:`SampleResult` with ``.x`` of shape (n, *data_shape).

    The model's first output is checked: a shape other than its input's raises InvalidInputError;
    an output less precise than the sampling dtype, and samples that are not finite at the end, are
    warned about and noted in ``info["notes"]`` (naming the model).

    Example:
        >>> out = rfbench.sample("analytic-gmm-rf", "heun", nfe=8, n=1000)
        >>> out.x.shape, out.nfe_measured
        (torch.Size([1000, 2]), 8)
    """
    model = _resolve_model(model)
    spec = get_sampler(sampler) if isinstance(sampler, str) else sampler
    if noise is None:
        if n is None or isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise InvalidInputError(f"pass noise=<tensor> or a positive integer n=, got n={n!r}")
        noise = model.sample_prior(n, seed=seed, dtype=torch.float64)
    elif not isinstance(noise, torch.Tensor) or noise.ndim < 1:
        raise InvalidInputError(f"noise must be a tensor of shape (n, *data_shape), got {type(noise).__name__}")
    elif model.data_shape is not None and tuple(noise.shape[1:]) != model.data_shape:
        raise InvalidInputError(
            f"noise has sample shape {tuple(noise.shape[1:])}, but model {model.name!r} expects {model.data_shape}"
        )
    dtype = dtype or model.dtype or (noise.dtype if noise.is_floating_point() else torch.float32)
    device = torch.device(device) if device is not None else noise.device
    x = noise.to(device=device, dtype=dtype)

    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1):
        raise InvalidInputError(f"batch_size must be a positive integer, got {batch_size!r}")

    plan = spec.make_plan(nfe, model, options, span=_given_span(grid, grid_options))
    if plan.ts is not None:  # the sampler chose its own times (BOSS)
        if grid not in (None, spec.default_grid) or grid_options:
            raise InvalidInputError(
                f"sampler {spec.name!r} computes its own time grid; do not pass grid= or grid_options=")
        grid, ts = spec.default_grid, plan.ts
    else:
        if grid is not None and plan.grid is not None and grid != plan.grid:
            raise InvalidInputError(f"grid={grid!r} contradicts the sampler option that asks for grid {plan.grid!r}")
        grid = grid or plan.grid or spec.default_grid
        ts = make_grid(grid, plan.steps, model, **{**plan.grid_options.get(grid, {}), **(grid_options or {})})
    # options the spec declares are the plan's: they reach the update rule only where it names them
    # (a user's sampler without declared options gets every option, as its plan does)
    passed = {k: v for k, v in options.items() if k not in spec.options or _declares(spec.fn, k)}
    kwargs = {**plan.kwargs, **passed}
    if callback is not None:
        kwargs["callback"] = callback
    info = dict(plan.info)
    if _declares(spec.fn, "info"):  # auxiliary results (FlowTurbo's refiner calls) go into the row's info
        kwargs["info"] = info
    outs, counts = [], []
    with FirstOutputCheck(model, f"sampler {spec.name!r}") as check:
        for chunk in (x.split(batch_size) if batch_size else (x,)):
            with NFECounter(model) as counter:
                out = spec.fn(model, chunk, ts, **kwargs)
            if not isinstance(out, torch.Tensor):
                raise InvalidInputError(f"sampler {spec.name!r} returned {type(out).__name__}; an update rule returns "
                                        "the samples as a tensor (auxiliary results go into its info= dict)")
            outs.append(out)
            counts.append(counter.count)
    if len(set(counts)) > 1:
        info["nfe_per_batch"] = ",".join(map(str, counts))
    measured = counts[0] if len(set(counts)) == 1 else round(sum(counts) / len(counts))
    x_out = torch.cat(outs) if len(outs) > 1 else outs[0]
    notes = warn_notes(check.notes + [non_finite_note(model, x_out, f"{spec.name} at NFE {nfe}")])
    if notes:
        info["notes"] = f"{info['notes']}; {notes}" if info.get("notes") else notes
    return SampleResult(x=x_out, noise=noise, ts=ts, sampler=spec.name,
                        nfe_requested=nfe, nfe_measured=measured, nfe_expected=plan.expected_nfe, info=info, grid=grid)
