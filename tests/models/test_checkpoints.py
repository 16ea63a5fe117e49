"""Trained-model plumbing with tiny recipes (seconds): determinism, the checkpoint cache, pair caching,
corrupted and mismatched checkpoints, and users' external checkpoints."""

import json
import warnings
from dataclasses import replace

import pytest
import torch

import rfbench
from rfbench.cli import main
from rfbench.errors import CheckpointError, InvalidInputError
from rfbench.models import MODELS, get_model, register_checkpoint, register_checkpoints_file
from rfbench.training import checkpoint_path, load_pairs, load_trained, make_recipe, train_checkpoint

TINY_PAIRS = {"n": 256, "rtol": 1e-4, "atol": 1e-4, "dtype": "float32", "chunk": 256, "seed": 20_000}


def tiny(name, steps=20, **kw):
    """A catalogue recipe shrunk to seconds: few steps, small MLP, tiny parents and pairs."""
    r = make_recipe(name, "8gaussians", steps=steps, net_config={"hidden": 32, "depth": 2}, batch=64, n_train=512, **kw)
    if r.parent is not None:
        r = replace(r, parent=tiny(r.parent.model, steps=steps), pairs=TINY_PAIRS)
    return r


@pytest.fixture
def unregister():
    names = []
    yield names
    for n in names:
        MODELS._entries.pop(n, None)


@pytest.mark.parametrize("name", ["1-rf", "2-rf", "2-rf-distill", "2-rf++", "vp-diffusion", "rectified-diffusion",
                                  "pfgmpp-d8", "edm"])
def test_training_is_deterministic_under_a_seed(name):
    r = tiny(name)
    a, b = train_checkpoint(r, progress=False), train_checkpoint(r, progress=False)
    assert a["config_hash"] == r.hash()
    for k in a["state_dict"]:
        assert torch.equal(a["state_dict"][k], b["state_dict"][k]), k
    other = train_checkpoint(replace(r, seed=1), progress=False)
    assert any(not torch.equal(a["state_dict"][k], other["state_dict"][k]) for k in a["state_dict"])


def test_recipes_chain_their_parents_and_options():
    r = make_recipe("rectified-diffusion", "8gaussians")
    assert r.parent.model == "vp-diffusion" and r.objective == "rd" and r.objective_options["huber_c"] == 1e-3
    assert r.pairs["seed"] == 20_000 and r.model_config["param"] == "vp-eps"
    assert make_recipe("3-rf").parent.parent.model == "1-rf"
    pp = make_recipe("2-rf++", "digits")
    assert pp.objective_options["a"] == 4.0 and pp.net == "UNet"
    # no LPIPS backbone weights on this machine (nor downloads): the recipe says Huber only and why
    if pp.objective_options["premetric"] == "huber":
        assert "Huber only" in pp.objective_options["lpips_note"]
    assert make_recipe("2-rf++").objective_options["premetric"] == "huber"  # 2-D: never LPIPS
    edm = make_recipe("edm", "8gaussians")
    assert edm.model_config["D"] == float("inf") and edm.model_config["sigma_data"] == 1.0
    # a changed parent changes the child's hash (and hence its checkpoint)
    assert replace(r, parent=replace(r.parent, seed=5)).hash() != r.hash()
    with pytest.raises(InvalidInputError, match="no training recipe"):
        make_recipe("analytic-gmm-rf")


def test_cache_reuse_and_pairs_keep_the_noise(tmp_path, monkeypatch):
    monkeypatch.setenv("RFBENCH_CACHE", str(tmp_path))  # a cold cache, whatever ran before
    r = tiny("2-rf", seed=7)
    model = load_trained(r, progress=False)
    assert not model.meta["cache_hit"] and model.meta["pairs_seconds"] > 0
    again = load_trained(r, progress=False)
    assert again.meta["cache_hit"]
    for p, q in zip(model.parameters(), again.parameters()):
        assert torch.equal(p, q)
    pairs, hit = load_pairs(r, progress=False)
    assert hit  # solved once, while training
    parent = load_trained(r.parent, progress=False)
    noise = parent.sample_prior(TINY_PAIRS["n"], seed=TINY_PAIRS["seed"], dtype=torch.float64).float()
    assert torch.equal(pairs["noise"], noise)  # the coupling keeps the very noise the solver started from
    # the endpoints are the parent's ODE solution under the pairs' own solver settings (one chunk here)
    ref = rfbench.reference_solution(parent, noise.double(), rtol=TINY_PAIRS["rtol"], atol=TINY_PAIRS["atol"],
                                     dtype=torch.float32).x_end
    assert torch.allclose(pairs["x1"], ref, atol=1e-5)


def test_corrupted_cache_checkpoint_is_quarantined_and_rebuilt():
    r = tiny("1-rf", steps=15, seed=8)
    first = load_trained(r, progress=False)
    path = checkpoint_path(r)
    data = bytearray(path.read_bytes())
    for i in range(len(data) // 2, len(data) // 2 + 16):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.warns(UserWarning, match=rf"{path.name}.*corrupted"):
        rebuilt = load_trained(r, progress=False)
    assert not rebuilt.meta["cache_hit"]
    assert any(p.name.startswith(path.name + ".corrupt-") for p in path.parent.iterdir())
    for p, q in zip(first.parameters(), rebuilt.parameters()):
        assert torch.equal(p, q)  # deterministic retraining


def _export(model, tmp_path, name="user.pt"):
    path = tmp_path / name
    torch.save(model.net.state_dict(), path)
    return path


def test_external_checkpoint_round_trip(tmp_path, unregister):
    model = load_trained(tiny("1-rf"), progress=False)
    path = _export(model, tmp_path)
    register_checkpoint("test-ext-rf", path, family="flow", net="MLP", net_config=model.net.config,
                        data_shape=(2,), dataset="8gaussians")
    unregister.append("test-ext-rf")
    ext = get_model("test-ext-rf")
    assert MODELS.get("test-ext-rf").kind == "external" and ext.name == "test-ext-rf"
    x, t = torch.randn(16, 2), torch.rand(16)
    assert torch.equal(ext.velocity(x, t), model.velocity(x, t))
    out = rfbench.sample("test-ext-rf", "heun", nfe=4, n=8)
    assert torch.equal(out.x, rfbench.sample(model, "heun", nfe=4, n=8).x)
    # an rfbench checkpoint (the cache's own file) describes itself: name and path suffice
    register_checkpoint("test-ext-cache", checkpoint_path(tiny("1-rf")))
    unregister.append("test-ext-cache")
    assert torch.equal(get_model("test-ext-cache").velocity(x, t), model.velocity(x, t))


def test_external_edm_checkpoint_and_json_list(tmp_path, unregister):
    model = load_trained(tiny("pfgmpp-d8"), progress=False)
    path = _export(model, tmp_path, "pfgm.pt")
    spec = [{"name": "test-ext-pfgm", "path": "pfgm.pt", "family": "pfgmpp", "net": "MLP",
             "net_config": model.net.config, "data_shape": [2], "D": 8.0, "sigma_data": 1.0}]
    (tmp_path / "ckpts.json").write_text(json.dumps(spec))
    assert register_checkpoints_file(tmp_path / "ckpts.json") == ["test-ext-pfgm"]
    unregister.append("test-ext-pfgm")
    ext = get_model("test-ext-pfgm")
    assert ext.prior.config() == model.prior.config() and ext.t_max == model.t_max
    x, t = torch.randn(4, 2), torch.full((4,), 0.5)
    assert torch.equal(ext.x0(x, t), model.x0(x, t))
    # the CLI registers the same list
    assert main(["list", "models", "--checkpoints", str(tmp_path / "ckpts.json")]) == 0


def test_flipped_bytes_in_a_user_checkpoint_are_caught(tmp_path, unregister):
    model = load_trained(tiny("1-rf"), progress=False)
    path = _export(model, tmp_path)
    import hashlib

    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    data[mid:mid + 8] = bytes(b ^ 0xFF for b in data[mid:mid + 8])  # inside tensor data: torch.load won't notice
    path.write_bytes(bytes(data))
    kw = dict(family="flow", net="MLP", net_config=model.net.config, data_shape=(2,))
    with pytest.raises(CheckpointError, match=rf"{path}.*sha256"):
        register_checkpoint("test-ext-bad", path, sha256=digest, **kw)
    (tmp_path / "user.pt.sha256").write_text(digest)  # a sidecar works the same way
    with pytest.raises(CheckpointError, match=rf"{path}.*sidecar"):
        register_checkpoint("test-ext-bad", path, **kw)
    header = tmp_path / "header.pt"
    raw = bytearray(_export(model, tmp_path, "ok.pt").read_bytes())
    raw[:16] = bytes(16)
    header.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match=rf"{header}.*could not be read as a torch checkpoint"):
        register_checkpoint("test-ext-bad", header, **kw)
    assert "test-ext-bad" not in MODELS


def test_mismatched_checkpoints_name_the_file_and_the_mismatch(tmp_path, unregister):
    model = load_trained(tiny("1-rf"), progress=False)
    path = _export(model, tmp_path)
    wrong = dict(model.net.config, hidden=64)
    with pytest.raises(CheckpointError, match=rf"{path}.*shape mismatches.*\(32, 34\)|{path}.*shape mismatches"):
        register_checkpoint("test-ext-bad", path, family="flow", net="MLP", net_config=wrong, data_shape=(2,))
    with pytest.raises(CheckpointError, match=rf"{path}.*does not match network UNet.*missing keys"):
        register_checkpoint("test-ext-bad", path, family="flow", net="UNet", net_config={"base": 16}, data_shape=(1, 8, 8))
    with pytest.raises(CheckpointError, match=rf"{path}.*bare state dict; describe it with family"):
        register_checkpoint("test-ext-bad", path)
    cache_file = checkpoint_path(tiny("1-rf"))
    with pytest.raises(CheckpointError, match=rf"{cache_file}.*holds a 'flow' model, but family='edm'"):
        register_checkpoint("test-ext-bad", cache_file, family="edm")
    # a checkpoint of another model where a recipe expects its own
    from rfbench.models.formats.rfbench import read_checkpoint, validate_checkpoint

    with pytest.raises(CheckpointError, match=rf"{cache_file}.*holds model '1-rf', expected '2-rf'"):
        validate_checkpoint(read_checkpoint(cache_file), cache_file, expect_model="2-rf")
    not_ckpt = tmp_path / "list.pt"
    torch.save([1, 2, 3], not_ckpt)
    with pytest.raises(CheckpointError, match=rf"{not_ckpt}.*holds a list"):
        register_checkpoint("test-ext-bad", not_ckpt)
    assert "test-ext-bad" not in MODELS


def test_cli_train_reports_and_errors(capsys):
    assert main(["train", "1-rf", "--data", "moons", "--steps", "12", "--no-progress"]) == 0
    out = capsys.readouterr().out
    # trained now, or by an earlier run sharing this cache
    assert ("1-rf on moons: trained in" in out or "1-rf on moons: loaded from cache" in out) and "checkpoint" in out
    assert main(["train", "1-rf", "--data", "moons", "--steps", "12", "--no-progress"]) == 0
    assert "loaded from cache" in capsys.readouterr().out
    assert main(["train", "2-rf", "--data", "nope", "--steps", "12", "--no-progress"]) == 2
    assert "cannot be trained on dataset 'nope'" in capsys.readouterr().err
    assert main(["train", "analytic-gmm-rf"]) == 2
    assert main(["train", "1-rf", "--data-path", "/nonexistent"]) == 2
    err = capsys.readouterr().err
    assert "--data-path needs --data" in err
