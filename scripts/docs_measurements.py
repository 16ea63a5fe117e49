"""The figures quoted in docs/: convergence orders of the DPM-Solver family (the 3M finding), RF-Solver,
the pseudo-corrector and BOSS's grid on the exact oracle models. CPU, float64, about two minutes.

    python scripts/docs_measurements.py            # every table
    python scripts/docs_measurements.py 3m         # only the 3M tables (docs/dpm-solver-3m.md)
    python scripts/docs_measurements.py 3m-asymptotic   # the first step at NFE 768-6144 (not in "every")

Every number is an error against a float64 dopri5 reference (rtol = atol = 1e-12) from the same
noise (64 prior draws, seed 0), on a model whose velocity is exact, so it is pure discretisation
error. An "order" is the least-squares slope of -log(error) against log(counted NFE) over the three
largest NFE values (rfbench.metrics.convergence.fit_order), as the tests and reports compute it.
"""

from __future__ import annotations

import sys

import torch

import rfbench
from rfbench.metrics.convergence import fit_order, measure_convergence
from rfbench.metrics.solver_error import ref_rmse
from rfbench.models import get_model
from rfbench.models.analytic import AnalyticGMM
from rfbench.models.schedules import FLOW
from rfbench.samplers import make_grid

N, SEED = 64, 0
NFE = [96, 192, 384, 768]
NFE_FAST3 = [95, 191, 383, 767]  # NFE mod 3 = 2: the fast table is [3, ..., 3, 2]
DPM = ["dpm-solver-1", "dpm-solver-2", "dpm-solver-3", "dpm-solver-fast", "dpm-solver-2m", "dpm-solver-3m",
       "dpm-solver-3m-corrected", "dpm-solver++-1", "dpm-solver++-2s", "dpm-solver++-3s", "dpm-solver++-2m",
       "dpm-solver++-3m", "dpm-solver++-3m-corrected"]


def oracles() -> dict[str, tuple]:
    """name -> (model, reference endpoints, grid): the flow GMM on [0.02, 0.98] (lambda finite at both
    ends), the VP GMM on [1e-3, 1] and the flow GMM on all of [0, 1] (each sampler's default grid)."""
    inner = AnalyticGMM(None, FLOW, t_min=0.02, name="analytic-gmm-rf on [0.02, 0.98]").double()
    inner.t_max = 0.98
    out = {}
    for name, model, grid in (("flow [0.02, 0.98]", inner, "logsnr"),
                              ("vp [1e-3, 1]", get_model("analytic-gmm-vp").double(), "logsnr"),
                              ("flow [0, 1]", get_model("analytic-gmm-rf").double(), None)):
        noise = model.sample_prior(N, seed=SEED, dtype=torch.float64)
        ref = rfbench.reference_solution(model, noise, rtol=1e-12, atol=1e-12).x_end
        out[name] = (model, noise, ref, grid)
    return out


def _order_row(model, noise, ref, grid, sampler, nfes, **options):
    kw = {"grid": grid} if grid else {}
    res = measure_convergence(model, sampler, nfes, n=N, seed=SEED, reference=ref, **kw, **options)
    return res


def dpm_table(orc) -> None:
    print("## DPM-Solver family: measured order (NFE 96-768; fast: 95-767)\n")
    names = list(orc)
    print("| sampler | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for s in DPM:
        nfes = NFE_FAST3 if s == "dpm-solver-fast" else NFE
        cells = []
        for name in names:
            model, noise, ref, grid = orc[name]
            cells.append(f"{_order_row(model, noise, ref, grid, s, nfes).order:.2f}")
        print(f"| {s} | " + " | ".join(cells) + " |")
    print()


def _run_3m_variant(model, noise, ref, nfe: int, form: str, d2_factor: float, first_singlestep: bool):
    """The multistep update with a chosen D2 coefficient and start (not a registered combination when
    d2_factor = 2 with the first-order start): returns (ref_rmse, counted NFE)."""
    from rfbench.models.base import NFECounter
    from rfbench.samplers.dpm_solver import sample_dpm_multistep

    steps = nfe - first_singlestep
    ts = make_grid("logsnr", steps, model)
    with NFECounter(model) as c:
        x = sample_dpm_multistep(model, noise, ts, order=3, form=form, d2_factor=d2_factor,
                                 first_singlestep=first_singlestep)
    return ref_rmse(x, ref), c.count


def three_m_tables(orc) -> None:
    print("## 3M: the D2 coefficient and the first step, logSNR grid\n")
    variants = [("phi3 D2 (official), first-order start", 1.0, False),
                ("2 phi3 D2, first-order start", 2.0, False),
                ("2 phi3 D2, DPM-Solver-2 start (rfbench's -corrected)", 2.0, True)]
    for name in ("flow [0.02, 0.98]", "vp [1e-3, 1]"):
        model, noise, ref, _ = orc[name]
        for form in ("data", "noise"):
            print(f"### {name}, {form} form\n")
            print("| variant | " + " | ".join(f"NFE {n}" for n in NFE) + " | order |")
            print("|---|" + "---|" * (len(NFE) + 1))
            for label, factor, start in variants:
                errs, counted = zip(*(_run_3m_variant(model, noise, ref, n, form, factor, start) for n in NFE))
                assert list(counted) == NFE, counted
                print(f"| {label} | " + " | ".join(f"{e:.3e}" for e in errs) + f" | {fit_order(list(counted), list(errs)):.2f} |")
            print()


def three_m_asymptotic(orc) -> None:
    nfes = [768, 1536, 3072, 6144]
    print("## 3M with the consistent coefficient: first-order vs DPM-Solver-2 first step, NFE 768-6144\n")
    print("| oracle, form | first step | " + " | ".join(f"NFE {n}" for n in nfes) + " | order |")
    print("|---|---|" + "---|" * (len(nfes) + 1))
    for name in ("flow [0.02, 0.98]", "vp [1e-3, 1]"):
        model, noise, ref, _ = orc[name]
        for form in ("data", "noise"):
            for label, start in (("first order", False), ("DPM-Solver-2", True)):
                errs, counted = zip(*(_run_3m_variant(model, noise, ref, n, form, 2.0, start) for n in nfes))
                print(f"| {name}, {form} | {label} | " + " | ".join(f"{e:.3e}" for e in errs)
                      + f" | {fit_order(list(counted), list(errs)):.2f} |")
    print()


def others(orc) -> None:
    print("## RF-Solver, Heun, midpoint identity, pseudo-corrector (flow [0, 1], uniform grid)\n")
    model, noise, ref, _ = orc["flow [0, 1]"]
    print("| sampler | " + " | ".join(f"NFE {n}" for n in NFE) + " | order |")
    print("|---|" + "---|" * (len(NFE) + 1))
    for s in ("euler", "heun", "rf-solver", "pseudo-corrector"):
        res = measure_convergence(model, s, NFE, n=N, seed=SEED, reference=ref)
        print(f"| {s} | " + " | ".join(f"{e:.3e}" for e in res.errors) + f" | {res.order:.2f} |")
    # RF-Solver's Taylor step with the finite-difference dv/dt is the explicit midpoint method
    diff = 0.0
    for nfe in (2, 8, 32):
        a = rfbench.sample(model, "rf-solver", nfe, noise=noise)
        x, ts = noise.clone(), a.ts.tolist()
        for t, t_next in zip(ts[:-1], ts[1:]):
            h = t_next - t
            x = x + h * model.velocity(x + (h / 2) * model.velocity(x, t), t + h / 2)
        diff = max(diff, float((a.x - x).abs().max()))
    print(f"\nmax |rf-solver - explicit midpoint| over NFE 2, 8, 32: {diff:.1e}\n")


def boss(orc) -> None:
    print("## BOSS (stage 1) vs the uniform grid: ref_rmse, Euler, 500 noises of seed 0 (float64)\n")
    print("| model | NFE | uniform | bellman |")
    print("|---|---|---|---|")
    for name in ("analytic-gmm-vp", "analytic-gmm-rf"):
        model = get_model(name).double()
        noise = model.sample_prior(500, seed=0, dtype=torch.float64)
        ref = rfbench.reference_solution(model, noise, rtol=1e-12, atol=1e-12).x_end
        for nfe in (4, 8):
            e = rfbench.sample(model, "euler", nfe, noise=noise)
            b = rfbench.sample(model, "boss", nfe, noise=noise)
            print(f"| {name} | {nfe} | {ref_rmse(e.x, ref):.3f} | {ref_rmse(b.x, ref):.3f} |")
    print()


def main(argv: list[str]) -> int:
    torch.set_num_threads(1)
    orc = oracles()
    which = set(argv) or {"dpm", "3m", "others", "boss"}
    if "dpm" in which:
        dpm_table(orc)
    if "3m" in which:
        three_m_tables(orc)
    if "3m-asymptotic" in which:
        three_m_asymptotic(orc)
    if "others" in which:
        others(orc)
    if "boss" in which:
        boss(orc)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
