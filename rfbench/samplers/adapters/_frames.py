"""What every library adapter shares: adapter names with options, and the map between a library's
noise levels and an rfbench model's time.

**Frames.** A scheduler or sampler of another library keeps its state as x_s = A x0 + S n, with (A, S)
its own at each step (diffusers' VP schedulers: A = sqrt(alphas_cumprod), S = sqrt(1 - alphas_cumprod);
the k-diffusion / Euler-style "VE" frame: A = 1, S = sigma; the flow frame: A = 1 - sigma, S = sigma).
An rfbench model's state is x_t = alpha(t) x0 + sigma(t) n. The two describe the same noisy point when
their signal-to-noise ratios agree, lambda = log(A / S) = log(alpha(t) / sigma(t)), and then
x_t = c x_s with c = alpha(t) / A = sigma(t) / S = sqrt((alpha^2 + sigma^2) / (A^2 + S^2)). So any
library's noise levels run on any rfbench model with a schedule: its level lambda is the model's time
t = t_of_log_snr(lambda) (clamped to [t_min, t_max]), the model sees c x_s, and its data and noise
predictions E[x0 | x], E[n | x], which do not depend on the frame, are what the library's prediction
type is built from (``prediction_from``).

Where a library's level lies outside the model's interval (a VP scheduler's largest noise on the flow
path, whose t = 1 has lambda = -inf), the clamped time is the model's end and the noise is taken to
be there: a shifted start, measured in docs/adapters.md.
"""

from __future__ import annotations

import json
import math
import re

import torch

from ...errors import InvalidInputError
from ...models.base import FlowModel

_OPTION = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=[A-Za-z0-9_.+\-]*$")


def parse_value(text: str):
    """An option value written in a sampler name: true/false/none, an int, a float, else the string."""
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "none":
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_name(name: str, prefix: str) -> tuple[str, dict]:
    """``prefix:Target[:key=value]...`` -> (Target, {key: value}); InvalidInputError naming the bad part."""
    parts = name.split(":")
    if parts[0] != prefix or len(parts) < 2 or not parts[1]:
        raise InvalidInputError(f"sampler name {name!r}: expected '{prefix}:<name>[:key=value]...'")
    options = {}
    for part in parts[2:]:
        if not _OPTION.match(part):
            raise InvalidInputError(f"sampler name {name!r}: option {part!r} must be key=value "
                                    "(letters, digits and '_.+-' in the value)")
        key, _, value = part.partition("=")
        if key in options:
            raise InvalidInputError(f"sampler name {name!r}: option {key!r} given twice")
        options[key] = parse_value(value)
    return parts[1], options


def merge_options(name: str, from_name: dict, given: dict) -> dict:
    """Options written in the name plus those passed to the call; a key in both must agree."""
    clash = sorted(k for k in set(from_name) & set(given) if from_name[k] != given[k])
    if clash:
        raise InvalidInputError(f"sampler {name!r}: option {clash[0]!r} is {from_name[clash[0]]!r} in the name "
                                f"but {given[clash[0]]!r} in the call")
    return {**from_name, **given}


def as_json(config: dict) -> str:
    """A scheduler's config as one JSON string (a row column; lists and tensors written out)."""
    def plain(v):
        if isinstance(v, torch.Tensor):
            return v.tolist()
        if isinstance(v, (list, tuple)):
            return [plain(u) for u in v]
        if isinstance(v, float) and not math.isfinite(v):
            return str(v)
        return v if isinstance(v, (str, int, float, bool)) or v is None else repr(v)
    return json.dumps({k: plain(v) for k, v in sorted(config.items()) if not k.startswith("_")}, sort_keys=True)


def model_time(model: FlowModel, A: float, S: float) -> float:
    """The model time whose lambda equals the frame's log(A / S), clamped to [t_min, t_max]."""
    sched = model.require_schedule("the noise levels of another library's sampler")
    if S <= 0.0:
        return model.t_min
    if A <= 0.0:
        return model.t_max
    lam = torch.tensor(math.log(A) - math.log(S), dtype=torch.float64)
    t = float(sched.t_of_log_snr(lam))
    return min(max(t, model.t_min), model.t_max)


def frame_scale(model: FlowModel, t: float, A: float, S: float) -> float:
    """c with x_t = c x_s: sqrt((alpha(t)^2 + sigma(t)^2) / (A^2 + S^2))."""
    sched = model.schedule
    tt = torch.tensor(t, dtype=torch.float64)
    a, s = float(sched.alpha(tt)), float(sched.sigma(tt))
    return math.sqrt((a * a + s * s) / (A * A + S * S))


def prediction_from(model: FlowModel, out: torch.Tensor, kind: str, x_t: torch.Tensor, t: float,
                    A: float, S: float) -> torch.Tensor:
    """The model's native output at (x_t, t) as the library's prediction type ``kind``, in the frame (A, S).

    epsilon: E[n | x]; sample: E[x0 | x]; v_prediction: (A eps - S x0) / sqrt(A^2 + S^2) (Salimans & Ho's
    v on the VP-normalised frame, which diffusers' VE-frame schedulers also use); flow_prediction:
    eps - x0 (diffusers' flow velocity, noise minus data, = rfbench's velocity on the flow path).
    """
    if kind == "epsilon":
        return model.convert(out, "eps", x_t, t)
    if kind == "sample":
        return model.convert(out, "x0", x_t, t)
    eps, x0 = model.convert(out, "eps", x_t, t), model.convert(out, "x0", x_t, t)
    if kind == "flow_prediction":
        return eps - x0
    if kind == "v_prediction":
        norm = math.sqrt(A * A + S * S)
        return (A / norm) * eps - (S / norm) * x0
    raise InvalidInputError(f"prediction type {kind!r} is not one of epsilon, sample, v_prediction, flow_prediction")


def strictly_decreasing(times: list[float]) -> list[float]:
    """The times with repeats dropped (an evaluation point repeated by a two-stage rule, ends clamped
    together), as the grid a result reports."""
    out: list[float] = []
    for t in times:
        if not out or t < out[-1]:
            out.append(t)
    return out
