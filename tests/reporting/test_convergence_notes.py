"""The convergence table explains an inconclusive fit: how the local slopes move and what to run."""

import math

import pandas as pd
import pytest

from rfbench.reporting.convergence import convergence_table


def _table(errors):
    nfes = [2 ** k for k in range(1, len(errors) + 1)]
    return convergence_table(pd.DataFrame({"model": "analytic-gmm-rf", "data": None, "sampler": "heun",
                                           "grid": "uniform", "status": "ok", "nfe": nfes, "nfe_measured": nfes,
                                           "ref_rmse": errors, "dtype": "float32"})).iloc[0]


def test_oscillating_and_drifting_slopes_are_named():
    osc = _table([1e-1, 2.5e-2, 1e-3, 5e-4, 2.5e-5])  # local slopes 2.0, 4.6, 1.0, 4.3
    assert osc["verdict"] == "inconclusive"
    assert "oscillate" in osc["note"] and "--nfe up to 128" in osc["note"]
    errs = [1e-1]
    for p in (3.0, 2.5, 2.0, 1.5):  # local slopes drifting down by 0.5 a step, below the band at the end
        errs.append(errs[-1] / 2 ** p)
    drift = _table(errs)  # e = floor + C NFE^-p through the last three points has a floor of half the last error
    assert drift["verdict"] == "error floor" and "approaches a floor of ~" in drift["note"]
    errs = [1e-1]
    for p in (0.5, 0.5, 1.0, 1.5):  # drifting up, every slope still below 2 - 0.25
        errs.append(errs[-1] / 2 ** p)
    below = _table(errs)
    assert below["verdict"] == "below (see note)" and "still drift (0.50, 1.00, 1.50)" in below["note"]
    assert "every local slope is below 2 +- 0.25" in below["note"]
    settled = _table([1e-1 / 4 ** k for k in range(6)])  # order 2 throughout, NFE 2..64
    assert settled["verdict"] == "meets" and settled["note"] == ""


def _rows(model, sampler, grid, nfes, errors):
    return pd.DataFrame({"model": model, "data": None, "sampler": sampler, "grid": grid, "status": "ok",
                         "nfe": nfes, "nfe_measured": nfes, "ref_rmse": errors, "dtype": "float64"})


def test_an_error_that_stops_falling_is_a_floor_not_an_order():
    """iPNDM on EDM's grid ends with a fixed step sigma_min -> 0: the error flattens (measured 5e-5)."""
    row = convergence_table(_rows("analytic-gmm-rf", "ipndm", "karras", [64, 128, 256, 512],
                                  [5.5e-4, 9.5e-5, 4.7e-5, 4.6e-5])).iloc[0]
    assert row["verdict"] == "error floor" and "stops falling at 4.6e-05" in row["note"]


def test_slopes_converging_onto_the_theory_meet_it():
    """Local slopes 1.30 then 1.85 toward order 2 (the last within 0.25): meets, with the slopes named;
    the same slopes moving away (1.85 then 1.30) are an error levelling off onto a floor."""
    to = convergence_table(_rows("analytic-gmm-rf", "heun", "uniform", [128, 256, 512],
                                 [1e-3, 1e-3 / 2**1.3, 1e-3 / 2**3.15])).iloc[0]
    assert to["verdict"] == "meets (see note)" and "converge toward 2" in to["note"]
    away = convergence_table(_rows("analytic-gmm-rf", "heun", "uniform", [128, 256, 512],
                                   [1e-3, 1e-3 / 2**1.85, 1e-3 / 2**3.15])).iloc[0]
    assert away["verdict"] == "error floor"
    swing = convergence_table(_rows("analytic-gmm-rf", "heun", "uniform", [64, 128, 256, 512],
                                    [1e-3, 1e-3 / 2**1.98, 1e-3 / 2**4.88, 1e-3 / 2**6.78])).iloc[0]
    assert swing["verdict"] == "inconclusive" and "oscillate" in swing["note"]  # 1.98, 2.90, 1.90: not onto 2


def test_an_infinite_log_snr_end_caps_exponential_integrators_at_order_two():
    """DEIS-3's first-order step at t = 0 of the flow path (lambda = +inf) caps it at 2 there; the VP
    oracle (t_min = 1e-3, lambda finite) keeps the claimed 3."""
    nfes = [128, 256, 512]
    rf = convergence_table(_rows("analytic-gmm-rf", "deis-3", "time-quadratic", nfes,
                                 [1e-3 / 4**k for k in range(3)])).iloc[0]
    assert rf["theory"] == 2 and rf["verdict"].startswith("meets") and "capped at 2" in rf["note"]
    vp = convergence_table(_rows("analytic-gmm-vp", "deis-3", "time-quadratic", nfes,
                                 [1e-3 / 8**k for k in range(3)])).iloc[0]
    assert vp["theory"] == 3 and vp["verdict"] == "meets"


def test_dpm_solver_fast_is_fitted_on_the_nfe_of_one_order():
    """DPM-Solver-fast is order 3 at NFE = 2 mod 3 and 2 otherwise (a final first-order step) on the VP
    oracle: the table fits 32, 128, 512 against order 3 (errors from the quick probe)."""
    nfes = [32, 64, 128, 256, 512]
    row = convergence_table(_rows("analytic-gmm-vp", "dpm-solver-fast", "logsnr", nfes,
                                  [1.0e-2, 7.4e-4, 1.3e-4, 1.7e-5, 2.5e-6])).iloc[0]
    assert row["theory"] == 3 and row["nfe_range"] == "32-512" and row["verdict"].startswith("meets"), row.to_dict()


def test_logsnr_grid_on_the_flow_path_is_fitted_against_its_lambda_step():
    """On the flow path the logSNR grid's lambda span grows as ~2 ln NFE, so an order-2 solver's error
    is ~ (2 ln N / N)^2 and its slope against NFE alone reads ~1.7 at NFE 512; against the step it is 2."""
    nfes = [128, 256, 512]
    errors = [(2 * math.log(n) / n) ** 2 for n in nfes]
    row = convergence_table(_rows("analytic-gmm-rf", "dpm-solver++-2m", "logsnr", nfes, errors)).iloc[0]
    assert row["measured"] == pytest.approx(2.0, abs=0.05) and row["verdict"].startswith("meets")
    assert "log-SNR" in row["note"]


def test_boss_is_fitted_where_it_still_chooses_its_steps():
    """At N = K BOSS is Euler on its uniform fine grid and can be worse than at K/2 (the VP oracle,
    K = 512: 9.6e-4, 5.6e-4, 8.1e-4 at 128, 256, 512): the fit stops at K/2."""
    df = _rows("analytic-gmm-vp", "boss", "bellman", [32, 64, 128, 256, 512],
               [4.05e-3, 1.82e-3, 9.64e-4, 5.59e-4, 8.06e-4]).assign(boss_K=512)
    row = convergence_table(df).iloc[0]
    assert row["nfe_range"] == "64-256" and row["verdict"].startswith("meets") and "K/2 = 256" in row["note"]
