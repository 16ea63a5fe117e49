"""toy2d --quick: the analytic models run to NFE 128 (per-model NFE lists, Suite.nfe_by_model), the
trained ones stop at 16; DPM-Solver++(2M)/(3M) walk the logSNR grid; --nfe replaces every list. The
convergence table of a real quick run is checked in tests/integration/test_quick_convergence.py."""

from collections import Counter

from rfbench.runner.suite import ModelSpec, Suite
from rfbench.suites import get_suite
from rfbench.suites.toy2d import QUICK_ANALYTIC, QUICK_ANALYTIC_NFE, QUICK_ORDER_NFE


def test_quick_runs_the_analytic_models_further():
    quick = get_suite("toy2d").configure(quick=True)
    fixed = Counter((c.model.label, c.nfe) for c in quick.cells() if c.nfe is not None and c.metrics is None)
    analytic = {m.label for m in QUICK_ANALYTIC}
    assert analytic == {"analytic-gmm-rf", "analytic-gmm-vp", "analytic-pfgmpp-gmm-d128"}
    assert max(QUICK_ANALYTIC_NFE) >= 64  # the convergence table fits the three largest NFE; >= 32 is asymptotic
    for label in {m.label for m in quick.models}:
        nfes = sorted({n for (m, n) in fixed if m == label})
        assert nfes == (QUICK_ANALYTIC_NFE if label in analytic else [2, 4, 8, 16]), label
    assert quick.sampler_options["dpm-solver++-3m"] == {"skip_type": "logSNR"}
    assert quick.sampler_options["dpm-solver++-2m"] == {"skip_type": "logSNR"}
    full = get_suite("toy2d").configure()
    assert full.sampler_options == {} and full.nfe_by_model == {} and full.order_nfe == {}  # the defaults


def test_the_convergence_tail_computes_only_ref_rmse():
    """NFE 256 and 512 on the oracles: ref_rmse-only cells (Suite.order_nfe), none on the trained models."""
    quick = get_suite("toy2d").configure(quick=True)
    tail = [c for c in quick.cells() if c.metrics is not None]
    assert {c.metrics for c in tail} == {("ref_rmse",)} and {c.nfe for c in tail} == set(QUICK_ORDER_NFE)
    assert {c.model.label for c in tail} == {m.label for m in QUICK_ANALYTIC}
    assert len({c.key for c in quick.cells()}) == len(quick.cells())
    assert not [c for c in get_suite("toy2d").configure(quick=True, nfe=[4]).cells() if c.metrics]


def test_selections_keep_or_replace_the_per_model_lists():
    toy = get_suite("toy2d")
    one = toy.configure(quick=True, models=["analytic-gmm-vp"], samplers=["euler"])
    assert [c.nfe for c in one.cells()] == QUICK_ANALYTIC_NFE + QUICK_ORDER_NFE
    trained = toy.configure(quick=True, models=["1-rf@8gaussians"], samplers=["euler"])
    assert [c.nfe for c in trained.cells()] == [2, 4, 8, 16]
    given = toy.configure(quick=True, nfe=[3, 5], samplers=["euler"])
    assert {c.nfe for c in given.cells()} == {3, 5} and given.nfe_by_model == {}


def test_a_suite_of_ones_own_sets_nfe_per_model():
    s = Suite("mine", "", models=[ModelSpec("analytic-gmm-rf"), ModelSpec("1-rf", "8gaussians")],
              samplers=["euler", "dopri5"], nfe=[2, 4], nfe_by_model={"analytic-gmm-rf": [8, 16, 32]})
    cells = [(c.model.label, c.sampler, c.nfe) for c in s.cells()]
    assert cells == [("analytic-gmm-rf", "euler", 8), ("analytic-gmm-rf", "euler", 16),
                     ("analytic-gmm-rf", "euler", 32), ("analytic-gmm-rf", "dopri5", None),
                     ("1-rf@8gaussians", "euler", 2), ("1-rf@8gaussians", "euler", 4),
                     ("1-rf@8gaussians", "dopri5", None)]
    assert s.nfe_for(ModelSpec("1-rf", "8gaussians")) == [2, 4]
