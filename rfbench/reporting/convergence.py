"""Measured convergence order per (analytic model, sampler) from a results table, next to theory.

On an analytic model the velocity is exact, so ref_rmse (against a tight float64 reference from
the same noise) is pure discretisation error and its slope in log-log against the counted NFE is
the sampler's empirical order. The order to expect is the sampler registry's ``order`` (the
paper's claim), lowered where the plan takes a lower-order step more NFE does not remove. The fit
uses the ``last`` largest NFE values (as the core's ``fit_order``); the table says honestly when that
fit is not in the asymptotic regime, and which rule gave its verdict (docs/quick-suite.md).
"""

from __future__ import annotations

import functools
import math

import pandas as pd

from ..metrics.convergence import fit_order

ORDER_TOL = 0.25        # |measured - theory| within this: "meets"
SETTLED_TOL = 0.3       # local slopes disagreeing by more than this: not settled
MIN_ASYMPTOTIC_NFE = 32  # fits whose largest NFE is below this are labelled pre-asymptotic
FLOOR_SLOPE = 0.25      # a last local slope below this (theory >= 1): the error has stopped falling
ROUNDOFF = {"float32": 2e-6, "float64": 1e-12}  # ref_rmse at or below: at the round-off floor


@functools.lru_cache(maxsize=None)
def _analytic_model(model: str):
    """The registered analytic model (cheap to build), or None for anything else."""
    try:
        from ..models import MODELS

        if model in MODELS and MODELS.get(model).kind == "analytic":
            return MODELS.get(model).factory()
    except Exception:  # noqa: BLE001
        pass
    return None


def _is_analytic(model: str) -> bool:
    return _analytic_model(model) is not None or str(model).startswith("analytic-")


def _sampler_spec(sampler: str):
    try:
        from ..samplers import SAMPLERS

        return SAMPLERS.get(sampler) if sampler in SAMPLERS else None
    except Exception:  # noqa: BLE001
        return None


def _infinite_log_snr_end(model) -> bool:
    """Whether lambda = log(alpha / sigma) is infinite at t_max or t_min (False without a schedule)."""
    if model is None or getattr(model, "schedule", None) is None:
        return False
    from ..samplers.dpm_solver import infinite_ends

    return any(infinite_ends(model))


def _theory(spec, nfe: float, model) -> tuple[int | None, str]:
    """The order to expect at ``nfe`` on ``model``, and why it differs from the registry's, if it does.

    Exponential integrators (DPM-Solver, DEIS, UniPC) take a first-order step where lambda is infinite
    at an end of the path (the flow path at t = 0): one step with local error h^2 caps the global
    order at 2, whatever the order of the others. Singlestep allocations (``order_at``) also end with
    a lower-order step at some NFE."""
    if spec is None or spec.order is None:
        return None, ""
    if spec.order_at is not None and model is not None:
        return spec.order_at(int(nfe), model), ""
    if spec.needs == "schedule" and spec.order > 2 and _infinite_log_snr_end(model):
        return 2, (f"order {spec.order} capped at 2: a first-order step at the infinite log-SNR end of "
                   "this path (docs/quick-suite.md)")
    return spec.order, ""


def _steps_per_log_snr(model, nfes: list[float]) -> list[float | None] | None:
    """For the logsnr grid on a path with an infinite-lambda end: NFE over the lambda span the grid
    covers. The span grows as ln NFE there (models.grids.grid_logsnr), so the step is
    h = span / NFE and the error ~ h^p: fitting against NFE alone would read p (1 - 1/ln NFE)."""
    import torch

    if not _infinite_log_snr_end(model):
        return None
    from ..samplers.dpm_solver import infinite_ends

    head, tail = infinite_ends(model)
    sched, t_hi, t_lo = model.schedule, model.t_max, model.t_min

    def lam(t: float) -> float:
        return float(sched.log_snr(torch.tensor(t, dtype=torch.float64)))

    out: list[float | None] = []
    for n in nfes:
        dt = (t_hi - t_lo) / n
        a = lam(t_hi - dt) if head else lam(t_hi)
        b = lam(t_lo + dt) if tail else lam(t_lo)
        out.append(n / (b - a) if b > a else None)  # None: every step touches an infinite end
    return out


FLOOR_SHARE = 0.2  # a fitted floor above this share of the last error: the error approaches a floor


def _floor_fit(xs: list[float], errs: list[float]) -> tuple[float, float] | None:
    """(floor, p) of e = floor + C x^-p through the last three points (Aitken's delta-squared on a
    geometric NFE sequence), where the floor is positive and a sizeable share of the last error;
    None otherwise. Needs equal ratios between the last three x (doubling NFE)."""
    if len(xs) < 3:
        return None
    (x1, x2, x3), (e1, e2, e3) = xs[-3:], errs[-3:]
    d1, d2 = e1 - e2, e2 - e3
    if not (d1 > 0 and d2 > 0 and d1 > d2) or abs(math.log(x2 / x1) - math.log(x3 / x2)) > 1e-6:
        return None
    q = d1 / d2  # = (x2/x1)^p
    level = e3 - d2 / (q - 1)
    if level <= FLOOR_SHARE * e3:
        return None
    return level, math.log(q) / math.log(x2 / x1)


def _lattice(g: pd.DataFrame) -> int | None:
    """num_train_timesteps of a library scheduler that rounds its timesteps to integers (diffusers'
    ``timestep_spacing``), from the rows' ``scheduler_config``; None otherwise."""
    import json

    if "scheduler_config" not in g or not g["scheduler_config"].notna().any():
        return None
    try:
        cfg = json.loads(str(g["scheduler_config"].dropna().iloc[0]))
    except ValueError:
        return None
    if cfg.get("timestep_spacing") in ("linspace", "leading", "trailing") and cfg.get("num_train_timesteps"):
        return int(cfg["num_train_timesteps"])
    return None


def local_slopes(nfes: list[float], errors: list[float]) -> list[float]:
    """Slopes of -log(error) vs log(NFE) between consecutive points."""
    return [-(math.log(e2) - math.log(e1)) / (math.log(n2) - math.log(n1))
            for (n1, e1), (n2, e2) in zip(zip(nfes, errors), zip(nfes[1:], errors[1:]))]


def _unsettled(slopes: list[float]) -> str:
    """How the local slopes move over the fitted points: toward a limit or back and forth."""
    tail = slopes[-3:]
    steps = [b - a for a, b in zip(tail, tail[1:])]
    if len(steps) >= 2 and steps[0] * steps[1] < 0:
        return "the local slopes oscillate (" + ", ".join(f"{v:.2f}" for v in tail) + ")"
    return "the local slopes still drift (" + ", ".join(f"{v:.2f}" for v in tail) + ")"


def convergence_table(results: pd.DataFrame, *, last: int = 3) -> pd.DataFrame:
    """One row per (analytic model, data, sampler, grid) with fixed-step NFE and ref_rmse values.

    Columns: model, data, sampler, grid, theory (the order to expect here: :func:`_theory`), measured
    (fitted order), nfe_range (NFE values the fit used), points, local_slopes, min_error, verdict,
    note, paper. Verdict: "meets" (within ORDER_TOL of theory, or local slopes moving monotonically
    onto it), "above" / "below" (settled elsewhere, or drifting on one side of the band), "error
    floor" (the error stops falling, or levels off onto a fitted floor), "inconclusive" (local slopes
    over the fitted points disagree otherwise), with "(see note)" when the fit carries a caveat. The
    rules and their measurements: docs/quick-suite.md#the-verdicts.
    """
    need = {"model", "sampler", "ref_rmse", "nfe_measured"}
    if not need.issubset(results.columns):
        return pd.DataFrame()
    from .compare import normalise_results

    results = normalise_results(results)
    df = results[results["status"] == "ok"] if "status" in results else results
    df = df[df["ref_rmse"].notna() & df["nfe_measured"].notna() & (df["ref_rmse"] > 0)]
    df = df[[_is_analytic(m) for m in df["model"]]]
    if "dtype" not in df:
        df = df.assign(dtype="")
    rows = []
    for (model, data, sampler, grid), g in df.groupby(["model", "data", "sampler", "grid"], sort=False):
        spec = _sampler_spec(sampler)
        theory = spec.order if spec is not None else None
        paper = spec.paper if spec is not None else "sampler not registered in this rfbench"
        if (spec is not None and spec.adaptive) or ("nfe" in g and g["nfe"].isna().all()):
            continue  # adaptive solvers: error tracks tolerance, not NFE
        pts = g.groupby("nfe_measured")["ref_rmse"].mean().sort_index()
        nfes, errs = [float(n) for n in pts.index], [float(e) for e in pts.values]
        best = g["ref_rmse"].idxmin()  # the round-off floor that matters: the smallest error's dtype
        dtype = str(g.loc[best, "dtype"]) if pd.notna(g.loc[best, "dtype"]) else ""
        oracle = _analytic_model(model)
        notes = []
        if spec is not None and nfes:
            theory, why = _theory(spec, nfes[-1], oracle)
            if why:
                notes.append(why)
            if spec.order_at is not None and oracle is not None:
                keep = [i for i, n in enumerate(nfes) if spec.order_at(int(n), oracle) == theory]
                if len(keep) >= 2 and len(keep) < len(nfes):
                    notes.append(f"fit on the NFE where the plan has order {theory} "
                                 f"({', '.join(f'{nfes[i]:g}' for i in keep[-last:])}); the others end with a "
                                 "lower-order step")
                    nfes, errs = [nfes[i] for i in keep], [errs[i] for i in keep]
        if "boss_K" in g and g["boss_K"].notna().any():
            # BOSS chooses its N steps among K fine-grid steps: as N nears K the choice vanishes (N = K is
            # Euler on the uniform fine grid), so its order in N shows only where N <= K / 2
            K = float(g["boss_K"].dropna().max())
            keep = [i for i, n in enumerate(nfes) if n <= K / 2]
            if 2 <= len(keep) < len(nfes):
                notes.append(f"fit on NFE <= K/2 = {K / 2:g}: BOSS picks its steps among K = {K:g} fine-grid steps")
                nfes, errs = [nfes[i] for i in keep], [errs[i] for i in keep]
        xs = nfes
        if str(grid) == "logsnr" and oracle is not None and (steps := _steps_per_log_snr(oracle, nfes)) is not None:
            keep = [i for i, v in enumerate(steps) if v is not None]
            nfes, errs, xs = [nfes[i] for i in keep], [errs[i] for i in keep], [steps[i] for i in keep]
            notes.append("fit against steps per unit log-SNR: this grid's lambda span grows as ln NFE on this path")
        used_n = nfes[-last:]
        slopes = local_slopes(xs, errs)
        row = {"model": model, "data": data, "sampler": sampler, "grid": grid, "theory": theory, "paper": paper,
               "measured": float("nan"), "nfe_range": "", "points": len(used_n),
               "local_slopes": ", ".join(f"{s:.2f}" for s in slopes[-(last - 1):]) if len(slopes) else "",
               "min_error": min(errs), "verdict": "", "note": ""}
        if len(nfes) < 2:
            row.update(verdict="not enough points", note=f"only NFE {', '.join(f'{n:g}' for n in nfes)}")
            rows.append(row)
            continue
        row["measured"] = fit_order(xs, errs, last=last)
        row["nfe_range"] = f"{used_n[0]:g}-{used_n[-1]:g}"
        if len(used_n) < last:
            notes.append(f"fit on {len(used_n)} points")
        if used_n[-1] < MIN_ASYMPTOTIC_NFE:
            notes.append(f"pre-asymptotic: largest NFE {used_n[-1]:g} < {MIN_ASYMPTOTIC_NFE}")
        tail = slopes[-(last - 1):]
        floor = ROUNDOFF.get(dtype)
        at_roundoff = floor is not None and min(errs) <= floor
        if at_roundoff:
            notes.append(f"error reaches the {dtype} round-off floor (min {min(errs):.1e}): fit flattened")
        recent = slopes[-last:]  # monotonically onto the theory over the last three slopes, not a swing
        converging = (theory is not None and len(tail) >= 2 and abs(tail[-1] - theory) <= ORDER_TOL
                      and all(abs(b - theory) < abs(a - theory) for a, b in zip(recent, recent[1:])))
        stalled = theory is not None and not at_roundoff and slopes[-1] < FLOOR_SLOPE
        unsettled = len(tail) >= 2 and max(tail) - min(tail) > SETTLED_TOL
        # an unsettled fit whose last slope falls below the theory band: is the error levelling off onto a floor?
        approach = (_floor_fit(xs, errs) if unsettled and not (stalled or converging) and theory is not None
                    and slopes[-1] < theory - ORDER_TOL else None)
        # slopes drifting monotonically but all on one side of the theory band: at these NFE the sampler
        # converges faster (slower) than claimed, whatever the limit
        side = ("above" if min(tail) > theory + ORDER_TOL else "below" if max(tail) < theory - ORDER_TOL else None
                ) if unsettled and not (converging or at_roundoff) and approach is None and theory is not None else None
        if stalled:
            notes.append(f"the error stops falling at {errs[-1]:.1e} (local slope {slopes[-1]:.2f} up to NFE "
                         f"{nfes[-1]:g}): a step the NFE does not shrink (the grid's fixed end, a calibrated "
                         "grid's size) or a starting point off the reference limits it")
        elif approach is not None:
            level, p_diff = approach
            notes.append(f"the error approaches a floor of ~{level:.1e} ({level / errs[-1]:.0%} of the last error; "
                         f"e = floor + C NFE^-p fitted to the last three points, p = {p_diff:.2f}): a step the NFE "
                         "does not shrink (the grid's fixed end) or a starting point off the reference")
        elif unsettled and converging:
            notes.append(f"local slopes converge toward {theory} ({_unsettled(slopes)[len('the local slopes '):]}), "
                         f"the last within {ORDER_TOL}")
        elif unsettled:
            notes.append(f"slope not settled (local slopes differ by > {SETTLED_TOL:.1f}): {_unsettled(slopes)} up to "
                         f"NFE {nfes[-1]:g}; an asymptotic order needs more NFE (e.g. --nfe up to {4 * nfes[-1]:g})"
                         + (f", but every local slope is {side} {theory} +- {ORDER_TOL} in this range" if side else ""))
        if (lattice := _lattice(g)) is not None and nfes[-1] >= lattice / 4:
            notes.append(f"the library scheduler rounds its timesteps to its {lattice}-step training lattice: "
                         f"near {lattice} steps its grid is no longer a uniform refinement")
        from ..samplers.dpm_solver import final_step_note  # the DPM-Solver final-step rule (issue 14)

        if (why := final_step_note(sampler, grid, nfes, errs)) is not None:
            notes.append(why)
        if theory is None:
            verdict = "no claimed order"
        elif stalled or approach is not None:
            verdict = "error floor"
        elif side is not None:
            verdict = f"{side} (see note)"
        elif unsettled and not converging:
            verdict = "inconclusive"  # the fitted slope depends on which points are used
        else:
            measured = tail[-1] if converging else row["measured"]
            diff = measured - theory
            verdict = "meets" if abs(diff) <= ORDER_TOL else ("above" if diff > 0 else "below")
            if notes:
                verdict += " (see note)"
        row.update(verdict=verdict, note="; ".join(notes))
        rows.append(row)
    return pd.DataFrame(rows)
