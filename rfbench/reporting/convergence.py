"""Measured convergence order per (analytic model, sampler) from a results table, next to theory.

On an analytic model the velocity is exact, so ref_rmse (against a tight float64 reference from
the same noise) is pure discretisation error and its slope in log-log against the counted NFE is
the sampler's empirical order. The theoretical order is the sampler registry's ``order`` (the
paper's claim). The fit uses the ``last`` largest NFE values (as the core's ``fit_order``); the
table says honestly when that fit is not in the asymptotic regime.
"""

from __future__ import annotations

import math

import pandas as pd

from ..metrics.convergence import fit_order

ORDER_TOL = 0.25        # |measured - theory| within this: "meets"
SETTLED_TOL = 0.3       # local slopes disagreeing by more than this: not settled
MIN_ASYMPTOTIC_NFE = 32  # fits whose largest NFE is below this are labelled pre-asymptotic
ROUNDOFF = {"float32": 2e-6, "float64": 1e-12}  # ref_rmse at or below: at the round-off floor


def _is_analytic(model: str) -> bool:
    try:
        from ..models import MODELS

        if model in MODELS:
            return MODELS.get(model).kind == "analytic"
    except Exception:  # noqa: BLE001
        pass
    return str(model).startswith("analytic-")


def _sampler_info(sampler: str) -> tuple[int | None, str, bool]:
    """(theoretical order, paper, adaptive) from the registry, or (None, 'not registered here', False)."""
    try:
        from ..samplers import SAMPLERS

        if sampler in SAMPLERS:
            s = SAMPLERS.get(sampler)
            return s.order, s.paper, s.adaptive
    except Exception:  # noqa: BLE001
        pass
    return None, "sampler not registered in this rfbench", False


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

    Columns: model, data, sampler, grid, theory (int or None), measured (fitted order), nfe_range
    (NFE values the fit used), points, local_slopes, min_error, verdict, note, paper.
    Verdict: "meets" (within ORDER_TOL of theory), "above" / "below", "inconclusive" (local slopes
    over the fitted points disagree), with "(see note)" when the fit carries a caveat.
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
        theory, paper, adaptive = _sampler_info(sampler)
        if adaptive or ("nfe" in g and g["nfe"].isna().all()):
            continue  # adaptive solvers: error tracks tolerance, not NFE
        pts = g.groupby("nfe_measured")["ref_rmse"].mean().sort_index()
        nfes, errs = [float(n) for n in pts.index], [float(e) for e in pts.values]
        dtype = str(g["dtype"].dropna().iloc[0]) if g["dtype"].notna().any() else ""
        used_n = nfes[-last:]
        slopes = local_slopes(nfes, errs)
        row = {"model": model, "data": data, "sampler": sampler, "grid": grid, "theory": theory, "paper": paper,
               "measured": float("nan"), "nfe_range": "", "points": len(used_n),
               "local_slopes": ", ".join(f"{s:.2f}" for s in slopes[-(last - 1):]) if len(slopes) else "",
               "min_error": min(errs), "verdict": "", "note": ""}
        notes = []
        if len(nfes) < 2:
            row.update(verdict="not enough points", note=f"only NFE {', '.join(f'{n:g}' for n in nfes)}")
            rows.append(row)
            continue
        row["measured"] = fit_order(nfes, errs, last=last)
        row["nfe_range"] = f"{used_n[0]:g}-{used_n[-1]:g}"
        if len(used_n) < last:
            notes.append(f"fit on {len(used_n)} points")
        if used_n[-1] < MIN_ASYMPTOTIC_NFE:
            notes.append(f"pre-asymptotic: largest NFE {used_n[-1]:g} < {MIN_ASYMPTOTIC_NFE}")
        tail = slopes[-(last - 1):]
        if len(tail) >= 2 and max(tail) - min(tail) > SETTLED_TOL:
            notes.append(f"slope not settled (local slopes differ by > {SETTLED_TOL:.1f}): {_unsettled(slopes)} up to "
                         f"NFE {nfes[-1]:g}; an asymptotic order needs more NFE (e.g. --nfe up to {4 * nfes[-1]:g})")
        floor = ROUNDOFF.get(dtype)
        if floor is not None and min(errs) <= floor:
            notes.append(f"error reaches the {dtype} round-off floor (min {min(errs):.1e}): fit flattened")
        from ..samplers.dpm_solver import final_step_note  # the DPM-Solver final-step rule (issue 14)

        if (why := final_step_note(sampler, grid, nfes, errs)) is not None:
            notes.append(why)
        if theory is None:
            verdict = "no claimed order"
        elif any(n.startswith("slope not settled") for n in notes):
            verdict = "inconclusive"  # the fitted slope depends on which points are used
        else:
            diff = row["measured"] - theory
            verdict = "meets" if abs(diff) <= ORDER_TOL else ("above" if diff > 0 else "below")
            if notes:
                verdict += " (see note)"
        row.update(verdict=verdict, note="; ".join(notes))
        rows.append(row)
    return pd.DataFrame(rows)
