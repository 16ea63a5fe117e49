"""A user's sampler in a separate module, registered with register_sampler, runs in a suite next to a
library adapter entry; its order is measured, its NFE counted."""

import math

import pytest

from rfbench.runner import run_suite

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")


def test_users_sampler_and_an_adapter_entry_run_in_a_suite(tmp_path):
    import user_midpoint  # noqa: F401  (registers "user-midpoint")

    from rfbench.samplers.registry import SAMPLERS

    samplers = ["user-midpoint", "euler"]
    if pytest.importorskip("diffusers"):
        samplers.append("diffusers:FlowMatchEulerDiscreteScheduler")
    try:
        res = run_suite("toy2d", out=tmp_path, models=["analytic-gmm-rf"], samplers=samplers, nfe=[8, 32],
                        n_samples=500, progress=False)
    finally:
        SAMPLERS._entries.pop("user-midpoint", None)
    df = res["frame"]
    assert (df["status"] == "ok").all(), df[["sampler", "status", "reason"]]
    assert (df["nfe_measured"] == df["nfe"]).all()
    mid = df[df["sampler"] == "user-midpoint"].set_index("nfe")["ref_rmse"]
    assert 1.7 < math.log(mid[8] / mid[32]) / math.log(4) < 2.3  # the midpoint rule's order 2
    fm = df[df["sampler"] == "diffusers:FlowMatchEulerDiscreteScheduler"]
    assert fm["scheduler_config"].str.contains('"shift": 1.0').all()
