"""Results are keyed by what a model and a sampler compute, not by their names (issue 18, item 1).

Changing one weight of a registered checkpoint, of a Python model's network, or the source of a user's
velocity function or sampler recomputes every dependent cell and reference solution; nothing changed,
everything is reused; what cannot be fingerprinted is never reused (``not cached: <reason>``).
All runs are tiny (analytic-size MLPs, 16-32 samples, NFE 2).
"""

from __future__ import annotations

import functools
import json
import math

import pandas as pd
import pytest
import torch


@pytest.fixture
def cold_cache(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    monkeypatch.setenv("RFBENCH_CACHE", str(root))
    return root


@pytest.fixture
def registries():
    """Models and samplers registered by a test are removed afterwards."""
    from rfbench.models import MODELS
    from rfbench.samplers import SAMPLERS

    saved = dict(MODELS._entries), dict(SAMPLERS._entries)
    yield
    for reg, before in ((MODELS, saved[0]), (SAMPLERS, saved[1])):
        reg._entries.clear()
        reg._entries.update(before)


def _summary(stdout: str) -> str:
    return next(line for line in stdout.splitlines() if " cells (" in line)


def _run(argv, capsys) -> str:
    from rfbench.cli import main

    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 0, err
    return _summary(out)


# -- digests ----------------------------------------------------------------------------------------
def _make(src: str, **globs):
    """A function defined from source text, as a user's module would define it."""
    ns = {"__name__": "user_code", "torch": torch, **globs}
    exec(compile(src, "<user>", "exec"), ns)
    return ns["velocity"]


def test_function_digest_follows_code_closure_defaults_and_globals():
    from rfbench.identity import CannotFingerprint, config_hash, function_digest, module_digest, tensor_digest

    base = _make("def velocity(x, t):\n    return -x * 1.0\n")
    assert function_digest(base) == function_digest(_make("def velocity(x, t):\n    return -x * 1.0\n"))
    # a comment or a blank line is not code
    assert function_digest(base) == function_digest(
        _make("# mine\n\ndef velocity(x, t):\n    # the field\n    return -x * 1.0\n"))
    assert function_digest(base) != function_digest(_make("def velocity(x, t):\n    return -x * 1.5\n"))
    assert function_digest(_make("def velocity(x, t, s=1.0):\n    return -x * s\n")) != function_digest(
        _make("def velocity(x, t, s=2.0):\n    return -x * s\n"))
    w = torch.ones(2)
    glob = _make("def velocity(x, t):\n    return -x * W\n", W=w)
    before = function_digest(glob)
    w[0] = 0.5  # a global tensor changed in place
    assert function_digest(glob) != before

    def outer(scale):
        return lambda x, t: -x * scale

    assert function_digest(outer(1.0)) == function_digest(outer(1.0))
    assert function_digest(outer(1.0)) != function_digest(outer(2.0))
    helper_a = _make("def velocity(x, t):\n    return x + 1\n")
    helper_b = _make("def velocity(x, t):\n    return x + 2\n")
    assert function_digest(_make("def velocity(x, t):\n    return -h(x, t)\n", h=helper_a)) != function_digest(
        _make("def velocity(x, t):\n    return -h(x, t)\n", h=helper_b))  # a user function it calls
    assert function_digest(functools.partial(outer(1.0), t=0)) != function_digest(functools.partial(outer(2.0), t=0))


def test_library_code_is_named_not_walked_and_opaque_objects_are_refused():
    from rfbench.identity import CannotFingerprint, config_hash, function_digest, module_digest, tensor_digest

    assert function_digest(torch.tanh) == function_digest(torch.tanh)
    assert function_digest(math.exp) != function_digest(math.sin)
    gen = torch.Generator()
    with pytest.raises(CannotFingerprint, match="closure 'gen'.*Generator"):
        function_digest(lambda x, t: x + torch.randn(x.shape, generator=gen))
    with pytest.raises(CannotFingerprint, match="no stable description"):
        config_hash({"callback": gen})


def test_module_and_tensor_digests():
    from rfbench.identity import CannotFingerprint, config_hash, function_digest, module_digest, tensor_digest

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Dropout(0.1), torch.nn.Linear(8, 2))
    first = module_digest(net)
    assert module_digest(net) == first
    with torch.no_grad():
        net[2].weight[0, 0] += 1e-7
    assert module_digest(net) != first
    second = module_digest(net)
    net[1].p = 0.2  # a setting, not a tensor
    assert module_digest(net) != second
    assert tensor_digest(torch.zeros(4)) != tensor_digest(torch.zeros(2, 2))  # shape counts
    assert tensor_digest(torch.zeros(2)) != tensor_digest(torch.zeros(2, dtype=torch.float64))


def test_model_fingerprints():
    from rfbench.models import from_velocity, get_model

    a, b = get_model("analytic-gmm-rf"), get_model("analytic-gmm-rf")
    assert a.fingerprint() == b.fingerprint() != get_model("analytic-gmm-vp").fingerprint()
    net = torch.nn.Linear(3, 2)
    model = from_velocity(lambda x, t: net(torch.cat([x, t[:, None]], 1)), data_shape=(2,), name="closure-net")
    before = model.fingerprint()
    with torch.no_grad():
        net.weight[0, 0] *= 0.5  # the network the function closes over
    assert model.fingerprint() != before
    mod = from_velocity(torch.nn.Linear(2, 2), data_shape=(2,), name="module-fn")
    before = mod.fingerprint()
    with torch.no_grad():
        mod.fn.bias[0] += 1.0
    assert mod.fingerprint() != before
    gen = torch.Generator()
    opaque = from_velocity(lambda x, t: x + torch.randn(x.shape, generator=gen), data_shape=(2,), name="noisy")
    assert opaque.fingerprint() is None and "Generator" in opaque.cannot_fingerprint()


def test_fingerprinting_a_large_network_takes_under_a_few_seconds():
    """55 M parameters (a CIFAR-size U-Net) are hashed once per model and sweep; measured 0.3-0.5 s here."""
    from rfbench.models import from_velocity

    big = from_velocity(torch.nn.Linear(7416, 7416), data_shape=(7416,), name="big", convention="rfbench")
    assert sum(p.numel() for p in big.parameters()) > 55_000_000
    assert len(big.fingerprint()) == 16


# -- registered checkpoint (CLI) --------------------------------------------------------------------
def test_changed_checkpoint_recomputes_cells_and_reference(tmp_path, cold_cache, capsys, registries):
    from rfbench.models.nets import MLP

    torch.manual_seed(0)
    net = MLP(dim=2, hidden=16, depth=2)
    ckpt = tmp_path / "my.pt"
    torch.save(net.state_dict(), ckpt)
    listing = tmp_path / "my.json"
    listing.write_text(json.dumps([{"name": "test-my-ckpt", "path": "my.pt", "family": "flow", "net": "MLP",
                                    "net_config": {"dim": 2, "hidden": 16, "depth": 2}, "data_shape": [2]}]))
    out = tmp_path / "out"
    argv = ["run", "toy2d", "--checkpoints", str(listing), "--models", "test-my-ckpt", "--samplers", "euler,dopri5",
            "--nfe", "2", "--n-samples", "16", "--out", str(out), "--no-progress"]
    assert "(2 computed, 0 reused" in _run(argv, capsys)
    first = pd.read_csv(out / "results.csv").set_index("sampler")
    assert "(0 computed, 2 reused" in _run(argv, capsys)  # nothing changed: reused
    state = net.state_dict()
    state["net.0.weight"] = state["net.0.weight"] * 0.5  # one layer scaled
    torch.save(state, ckpt)
    assert "(2 computed, 0 reused" in _run(argv, capsys)
    second = pd.read_csv(out / "results.csv").set_index("sampler")
    assert first.loc["euler", "ref_rmse"] != second.loc["euler", "ref_rmse"]
    assert second.loc["dopri5", "ref_rmse"] < 1e-3  # against the changed model's own reference
    assert len(list((cold_cache / "references").glob("test-my-ckpt-*.pt"))) == 2
    assert "(0 computed, 2 reused" in _run(argv, capsys)


# -- a Python model in a suite ----------------------------------------------------------------------
NET = {}


def _pynet_factory():
    from rfbench.models import from_velocity

    net = NET["net"]
    # the network lives in the closure (not a submodule), so it stays float32 under a float64 reference
    return from_velocity(lambda x, t: torch.tanh(net(torch.cat([x, t[:, None]], 1).float())).to(x.dtype),
                         data_shape=(2,), name="test-pynet")


def _suite_run(out, samplers=("euler", "dopri5")):
    from rfbench import run_suite

    return run_suite("toy2d", models=["test-pynet"], samplers=list(samplers), nfe=[2], n_samples=16, out=out,
                     progress=False)


def test_python_model_weight_change_recomputes_reference_even_in_a_fresh_folder(tmp_path, cold_cache, registries):
    from rfbench.models import ModelEntry, register_model

    torch.manual_seed(0)
    NET["net"] = torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.Tanh(), torch.nn.Linear(16, 2))
    register_model(ModelEntry("test-pynet", _pynet_factory, "flow", "analytic", "a network in a closure"))
    first = _suite_run(tmp_path / "a")
    assert first["summary"]["computed"] == 2 and (first["frame"]["status"] == "ok").all()
    assert _suite_run(tmp_path / "a")["summary"]["reused"] == 2
    with torch.no_grad():
        NET["net"][2].weight.mul_(3.0)  # the same name and function, other weights
    second = _suite_run(tmp_path / "b")  # a fresh output folder: only the disk cache could go stale
    ref = second["frame"].set_index("sampler")
    assert ref.loc["dopri5", "ref_rmse"] < 1e-3, "the reference of the old weights was reused"
    assert len(list((cold_cache / "references").glob("test-pynet-*.pt"))) == 2
    assert _suite_run(tmp_path / "a")["summary"]["computed"] == 2  # the old folder's records are stale too


def test_function_source_change_recomputes(tmp_path, cold_cache, registries):
    from rfbench.models import ModelEntry, from_velocity, register_model

    def register(src):
        fn = _make(src)
        register_model(ModelEntry("test-pynet", lambda: from_velocity(fn, data_shape=(2,), name="test-pynet"),
                                  "flow", "analytic", "a user's function"), replace=True)

    register("def velocity(x, t):\n    return torch.tanh(x) * (1 - t[:, None])\n")
    assert _suite_run(tmp_path / "a")["summary"]["computed"] == 2
    register("# a comment only\ndef velocity(x, t):\n    return torch.tanh(x) * (1 - t[:, None])\n")
    assert _suite_run(tmp_path / "a")["summary"]["reused"] == 2
    register("def velocity(x, t):\n    return torch.tanh(x) * (1 - 0.5 * t[:, None])\n")
    res = _suite_run(tmp_path / "a")
    assert res["summary"]["computed"] == 2
    assert res["frame"].set_index("sampler").loc["dopri5", "ref_rmse"] < 1e-3


def test_unfingerprintable_model_is_never_reused(tmp_path, cold_cache, registries):
    from rfbench.models import ModelEntry, from_velocity, register_model

    gen = torch.Generator().manual_seed(0)

    def factory():
        return from_velocity(lambda x, t: -x + 0 * torch.rand(1, generator=gen), data_shape=(2,), name="test-pynet")

    register_model(ModelEntry("test-pynet", factory, "flow", "analytic", "holds a generator"))
    first = _suite_run(tmp_path / "a", samplers=("euler",))
    notes = first["frame"]["notes"].iloc[0]
    assert notes.count("not cached:") == 1 and "Generator" in notes
    assert _suite_run(tmp_path / "a", samplers=("euler",))["summary"]["computed"] == 1
    assert not list((cold_cache / "references").glob("test-pynet-*"))


# -- samplers registered by users -------------------------------------------------------------------
def test_user_sampler_code_change_recomputes(tmp_path, cold_cache, registries):
    from rfbench import run_suite
    from rfbench.samplers import SamplerSpec, register_sampler

    def register(src):
        fn = _make(src)
        register_sampler(SamplerSpec("test-mine", fn, 1, "1", "-", "a user's Euler"), replace=True)

    euler = ("def velocity(model, x, ts):\n    for i in range(len(ts) - 1):\n"
             "        x = x + (ts[i + 1] - ts[i]) * model.velocity(x, ts[i])\n    return x\n")

    def run():
        return run_suite("toy2d", models=["analytic-gmm-rf"], samplers=["test-mine"], nfe=[2], n_samples=16,
                         out=tmp_path / "a", progress=False)

    register(euler)
    first = run()
    assert first["summary"]["computed"] == 1
    register(euler)
    assert run()["summary"]["reused"] == 1
    register(euler.replace("x = x + (ts[i + 1] - ts[i])", "x = x + 0.5 * (ts[i + 1] - ts[i])"))
    second = run()
    assert second["summary"]["computed"] == 1
    assert second["frame"]["ref_rmse"].iloc[0] != first["frame"]["ref_rmse"].iloc[0]


def test_sampler_options_holding_code_are_keyed_by_it(tmp_path, cold_cache):
    """A suite option that is a function (a user's callback) keys the cell by its code, not its address."""
    from rfbench.runner.suite import Cell, ModelSpec
    from rfbench.runner.sweep import SweepContext, cell_hash
    from rfbench.suites import get_suite

    suite = get_suite("toy2d").configure(models=["analytic-gmm-rf"], samplers=["euler"], nfe=[2], n_samples=16)
    cell = Cell("toy2d", ModelSpec("analytic-gmm-rf"), "euler", 2, 0)
    hashes = []
    for src in ("def velocity(*a):\n    return 1\n", "def velocity(*a):\n    return 1\n", "def velocity(*a):\n    return 2\n"):
        suite.sampler_options = {"euler": {"callback": _make(src)}}
        hashes.append(cell_hash(cell, SweepContext(suite, progress=False))[0])
    assert hashes[0] == hashes[1] != hashes[2]
    suite.sampler_options = {"euler": {"callback": torch.Generator()}}
    h, why = cell_hash(cell, SweepContext(suite, progress=False))
    assert h is None and "Generator" in why
