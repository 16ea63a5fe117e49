"""Checkpoint files in the released layouts, written from rfbench's own networks, load back to identical
networks; the readers refuse anything that would run code, and name the file and the problem."""

from __future__ import annotations

import math
import os
import pickle

import pytest
import torch

from rfbench.errors import CheckpointError, InvalidInputError
from rfbench.models.formats import PRESETS, inspect_checkpoint, load_checkpoint, read_any
from rfbench.models.nets import EDMPrecond, EDMPrecondVel, NCSNpp, VEPrecond, VPPrecond
from rfbench.models.nets.flows import DenoiserFlow, RectifiedFlowVelocity, ScoreSDEVP

from nets_golden import fill_, load_golden
from nets_writers import Marker, Persistent, edm_globals, to_records, write_edm_pickle, write_rfpp, write_score_sde, \
    write_training_state

_, META = load_golden()
SMALL_NCSNPP = META["ddpmpp"]["config"]
SMALL_VE = META["ncsnpp_ve_fourier"]["config"]
SMALL_EDM = META["song_ncsnpp_uncond_edm"]["init_kwargs"]
SMALL_EDM_COND = META["song_ddpmpp_cond_edm"]["init_kwargs"]
SMALL_RFPP = META["rfpp_ncsnpp_vel"]["config"]


def _same_state(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


# -- score_sde / RectifiedFlow ------------------------------------------------------------------------------


@pytest.fixture
def rf_file(tmp_path):
    live = fill_(NCSNpp(**SMALL_NCSNPP), seed=1)
    ema = fill_(NCSNpp(**SMALL_NCSNPP), seed=2)
    return write_score_sde(tmp_path / "checkpoint_8.pth", live, ema), live, ema


def test_score_sde_round_trip_uses_the_ema_list(rf_file):
    path, live, ema = rf_file
    model = load_checkpoint(path, config=SMALL_NCSNPP, sde="rectified_flow")
    assert isinstance(model, RectifiedFlowVelocity) and model.meta["weights"] == "ema"
    _same_state(model.net, ema)
    model_live = load_checkpoint(path, config=SMALL_NCSNPP, sde="rectified_flow", weights="live")
    _same_state(model_live.net, live)
    # RF's convention: v_rf = net(x, 999 t_rf), t_rf = 1 - t, v = -v_rf
    x = torch.randn(2, 3, 16, 16)
    t = torch.tensor([0.3, 0.9])
    with torch.no_grad():
        assert torch.allclose(model.velocity(x, t), -ema.eval()(x, 999 * (1 - t)))
    assert model.t_max == pytest.approx(0.999) and model.t_min == 0.0 and model.prediction == "velocity"


def test_score_sde_vp_is_an_eps_model(rf_file):
    path, _, ema = rf_file
    model = load_checkpoint(path, config=SMALL_NCSNPP, sde="vpsde")
    assert isinstance(model, ScoreSDEVP) and model.prediction == "eps"
    assert (model.t_min, model.t_max) == (1e-3, 1.0)
    x, t = torch.randn(2, 3, 16, 16), torch.tensor([0.01, 0.7])
    with torch.no_grad():
        assert torch.allclose(model.eps(x, t), ema.eval()(x, 999 * t))
    one = torch.tensor(1.0, dtype=torch.float64)
    a, s = model.schedule.alpha(one), model.schedule.sigma(one)
    assert float(a) == pytest.approx(math.exp(-0.5 * 0.1 - 0.25 * 19.9), rel=1e-12) and float(a**2 + s**2) == pytest.approx(1)


def test_score_sde_ve_is_a_denoiser(tmp_path):
    net = fill_(NCSNpp(**SMALL_VE), seed=3)
    path = write_score_sde(tmp_path / "ve.pth", net, net)
    model = load_checkpoint(path, config=SMALL_VE, sde="vesde", sigma_min=0.01, sigma_max=50.0)
    assert isinstance(model, DenoiserFlow) and model.t_max == pytest.approx(50 / 51)
    x, t = torch.randn(2, 3, 16, 16), torch.tensor([0.2, 0.9])
    sigma = t / (1 - t)
    xs = x / (1 - t)[:, None, None, None]
    with torch.no_grad():
        want = xs + sigma[:, None, None, None] ** 2 * net.eval()(xs, sigma)
        assert torch.allclose(model.x0(x, t), want, rtol=1e-5, atol=1e-5)


def test_score_sde_needs_a_configuration(rf_file):
    path, _, _ = rf_file
    with pytest.raises(CheckpointError, match=r"checkpoint_8\.pth.*preset=.*rf-cifar10-ddpmpp"):
        load_checkpoint(path)
    wrong = dict(SMALL_NCSNPP, num_res_blocks=1)
    with pytest.raises(CheckpointError, match="EMA list has"):
        load_checkpoint(path, config=wrong, sde="rectified_flow")
    with pytest.raises(CheckpointError, match="does not match network NCSNpp: missing keys"):
        load_checkpoint(path, config=wrong, sde="rectified_flow", weights="live")


def test_score_sde_ema_list_in_another_order_is_refused(tmp_path):
    net = fill_(NCSNpp(**SMALL_NCSNPP), seed=1)
    path = write_score_sde(tmp_path / "c.pth", net, net)
    data = torch.load(path, weights_only=True)
    data["ema"]["shadow_params"] = data["ema"]["shadow_params"][::-1]
    torch.save(data, path)
    with pytest.raises(CheckpointError, match="EMA tensor for .* has shape"):
        load_checkpoint(path, config=SMALL_NCSNPP, sde="rectified_flow")


# -- rfpp -------------------------------------------------------------------------------------------------


def test_rfpp_round_trip_and_velocity(tmp_path):
    net = fill_(EDMPrecondVel(**SMALL_RFPP), seed=4).eval()
    path = write_rfpp(tmp_path / "rfpp.pth", net)
    model = load_checkpoint(path, config=SMALL_RFPP)
    _same_state(model.net, net)
    x, t = torch.randn(2, 3, 16, 16), torch.tensor([0.25, 0.8])
    with torch.no_grad():
        assert torch.allclose(model.velocity(x, t), net(x, t), rtol=1e-5, atol=1e-5)
    assert model.t_max == pytest.approx(1 - 1e-5)
    assert model.prior.sample(4096, (3,), torch.Generator().manual_seed(0)).std() == pytest.approx(1 - 1e-5, rel=0.03)
    with pytest.raises(CheckpointError, match="rfpp's state dict.*preset="):
        load_checkpoint(path)


# -- EDM / PFGM++ persistence files ----------------------------------------------------------------------


@pytest.mark.parametrize("protocol", [2, 4])
def test_edm_pickle_round_trip(tmp_path, protocol):
    net = fill_(EDMPrecond(**SMALL_EDM), seed=5).eval()
    path = write_edm_pickle(tmp_path / "snapshot.pkl", net, SMALL_EDM, protocol=protocol)
    fmt, obj = read_any(path)
    assert fmt == "edm-pickle" and sorted(obj) == ["augment_pipe", "dataset_kwargs", "ema", "loss_fn"]
    assert obj["loss_fn"].init_kwargs["opts"] == {"arch": "ncsnpp", "precond": "edm"}  # an EasyDict, read as data
    model = load_checkpoint(path)
    assert isinstance(model, DenoiserFlow) and model.meta["weights"] == "ema"
    _same_state(model.net, net)
    x, t = torch.randn(2, 3, 16, 16), torch.tensor([0.1, 0.95])
    with torch.no_grad():
        want = net(x / (1 - t)[:, None, None, None], t / (1 - t))
        assert torch.allclose(model.x0(x, t), want)
    assert model.t_max == pytest.approx(80 / 81) and model.t_ref_end == pytest.approx(0.002 / 1.002)
    assert math.isinf(model.D) and not model.eval_at_t_min


def test_edm_source_in_the_file_is_never_executed(tmp_path):
    marker = tmp_path / "marker"
    net = fill_(EDMPrecond(**SMALL_EDM), seed=5).eval()
    src = f"open({str(marker)!r}, 'w').write('ran')\nclass EDMPrecond: pass\n"
    path = write_edm_pickle(tmp_path / "snapshot.pkl", net, SMALL_EDM, module_src=src)
    model = load_checkpoint(path)
    info = inspect_checkpoint(path)
    assert not marker.exists()
    _same_state(model.net, net)
    assert info.format == "edm-pickle" and info.weights == "EMA"


@pytest.mark.parametrize("where", ["top", "nested", "torch-zip"])
def test_other_callables_are_refused_and_never_run(tmp_path, where):
    marker = tmp_path / "marker"
    net = fill_(EDMPrecond(**SMALL_EDM), seed=5).eval()
    if where == "top":
        path = write_edm_pickle(tmp_path / "evil.pkl", net, SMALL_EDM, extra={"payload": Marker(marker)})
    elif where == "nested":
        with edm_globals():
            rec = to_records(net, SMALL_EDM)
            rec.state["_modules"]["model"].state["hook"] = Marker(marker)
            path = tmp_path / "evil.pkl"
            path.write_bytes(pickle.dumps({"ema": rec}))
    else:
        path = write_training_state(tmp_path / "training-state-000001.pt", net, net, SMALL_EDM,
                                    extra={"payload": Marker(marker)})
    # protocol 2 (torch.save) spells Path.touch as getattr(Path, "touch"): either way the first global is named
    with pytest.raises(CheckpointError, match=r"(evil\.pkl|training-state-000001\.pt) refers to "
                                              r"(pathlib\.Path\.touch|builtins\.getattr), which rfbench does not load") as err:
        load_checkpoint(path)
    assert "\n" not in str(err.value)
    with pytest.raises(CheckpointError):
        inspect_checkpoint(path)
    assert not marker.exists()


def test_os_system_is_refused(tmp_path):
    marker = tmp_path / "marker"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"ema": Evil()}))
    with pytest.raises(CheckpointError, match=r"evil\.pkl refers to (posix|os)\.system"):
        load_checkpoint(path)
    assert not marker.exists()


def test_pfgmpp_training_state(tmp_path):
    kwargs = dict(SMALL_EDM, pfgmpp=True, D=2048)
    live = fill_(EDMPrecond(**kwargs), seed=6).eval()
    ema = fill_(EDMPrecond(**kwargs), seed=7).eval()
    path = write_training_state(tmp_path / "training-state-000100.pt", live, ema, kwargs)
    model = load_checkpoint(path)
    _same_state(model.net, ema)
    assert model.D == 2048 and model.prior.D == 2048 and model.meta["weights"] == "ema"
    _same_state(load_checkpoint(path, weights="live").net, live)
    # the PFGM++ prior: |x| ~ 80 sqrt(D) sqrt(B/(1-B)), B ~ Beta(N/2, D/2), scaled by 1/(1 + 80) into flow time
    n = model.sample_prior(256, seed=0, dtype=torch.float64).flatten(1).norm(dim=1) * 81 / 80
    N = 3 * 16 * 16
    assert float(n.mean()) == pytest.approx(math.sqrt(2048) * math.sqrt(N / 2 / (2048 / 2 - 1)), rel=0.05)
    info = inspect_checkpoint(path)
    assert "D = 2048" in info.preconditioning and info.parameters == sum(p.numel() for p in ema.parameters())


@pytest.mark.parametrize("cls", [VPPrecond, VEPrecond])
def test_vp_and_ve_preconditioning_load(tmp_path, cls):
    kwargs = {k: v for k, v in SMALL_EDM_COND.items()}
    net = fill_(cls(**kwargs), seed=8).eval()
    path = write_edm_pickle(tmp_path / "p.pkl", net, kwargs)
    model = load_checkpoint(path)
    _same_state(model.net, net)
    lo = 0.02 if cls is VEPrecond else 0.002  # EDM's sampler range clipped to the wrapper's
    assert model.t_ref_end == pytest.approx(lo / (1 + lo)) and model.t_max == pytest.approx(80 / 81)
    assert model.label_dim == 10


def test_a_record_that_disagrees_with_its_arguments_is_refused(tmp_path):
    net = fill_(EDMPrecond(**SMALL_EDM), seed=5).eval()
    with edm_globals():
        rec = to_records(net, SMALL_EDM)
        enc = rec.state["_modules"]["model"].state["_modules"]["enc"]
        enc.__dict__["_modules"]["16x16_block0"].state["num_heads"] = 2
        path = tmp_path / "odd.pkl"
        path.write_bytes(pickle.dumps({"ema": rec}))
    with pytest.raises(CheckpointError, match=r"odd\.pkl: model\.enc\.16x16_block0\.num_heads is 2"):
        load_checkpoint(path)


def test_missing_and_foreign_records(tmp_path):
    with edm_globals():
        path = tmp_path / "loss_only.pkl"
        path.write_bytes(pickle.dumps({"loss_fn": Persistent("EDMLoss", {"P_mean": -1.2})}))
        ddpm = tmp_path / "iddpm.pkl"
        ddpm.write_bytes(pickle.dumps({"ema": Persistent("iDDPMPrecond", {"_init_kwargs": {}})}))
    with pytest.raises(CheckpointError, match=r"loss_only\.pkl has no network record 'ema' or 'net'"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match=r"iddpm\.pkl: iDDPMPrecond"):
        load_checkpoint(ddpm)


def test_edm_preset_is_checked_against_the_file(tmp_path):
    net = fill_(EDMPrecond(**SMALL_EDM), seed=5).eval()
    path = write_edm_pickle(tmp_path / "s.pkl", net, SMALL_EDM)
    with pytest.raises(CheckpointError, match=r"s\.pkl does not match preset 'edm-cifar10-uncond-vp': "):
        load_checkpoint(path, preset="edm-cifar10-uncond-vp")
    with pytest.raises(CheckpointError, match="edm-pickle format, but preset 'rf-cifar10-ddpmpp' expects score-sde"):
        load_checkpoint(path, preset="rf-cifar10-ddpmpp")


# -- detection and bad input ------------------------------------------------------------------------------


def test_unrecognised_and_broken_files(tmp_path):
    plain = tmp_path / "plain.pt"
    torch.save({"weight": torch.ones(2)}, plain)
    with pytest.raises(CheckpointError, match=r"plain\.pt holds a dict with keys \['weight'\]; expected one of"):
        load_checkpoint(plain)
    text = tmp_path / "notes.txt"
    text.write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match=r"notes\.txt could not be read"):
        load_checkpoint(text)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.pkl")
    net = fill_(NCSNpp(**SMALL_NCSNPP), seed=1)
    good = write_score_sde(tmp_path / "c.pth", net, net)
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(CheckpointError, match=r"truncated\.pth"):
        load_checkpoint(truncated, config=SMALL_NCSNPP, sde="rectified_flow")
    with pytest.raises(CheckpointError, match="in score-sde format, not rfpp"):
        load_checkpoint(good, format="rfpp")
    with pytest.raises(InvalidInputError, match="sde must be one of"):
        load_checkpoint(good, config=SMALL_NCSNPP, sde="subvpsde")


def test_inspect_reports_the_facts(tmp_path):
    net = fill_(NCSNpp(**SMALL_NCSNPP), seed=1)
    path = write_score_sde(tmp_path / "checkpoint_8.pth", net, net)
    bare = inspect_checkpoint(path)
    assert bare.format == "score-sde" and bare.network is None and "EMA" in bare.weights
    assert bare.parameters == sum(p.numel() for p in net.parameters())
    assert any("preset=" in n for n in bare.notes)
    full = inspect_checkpoint(path, config=SMALL_NCSNPP, sde="rectified_flow")
    assert full.network == "NCSNpp" and full.prediction == "velocity" and "999 t_rf" in full.time_map
    assert full.t_range == (0.0, pytest.approx(0.999))
    edm_net = fill_(EDMPrecond(**SMALL_EDM_COND), seed=2).eval()
    edm_path = write_edm_pickle(tmp_path / "cond.pkl", edm_net, SMALL_EDM_COND)
    info = inspect_checkpoint(edm_path)
    assert info.network == "SongUNet" and info.preconditioning.startswith("EDMPrecond")
    assert info.conditioning.startswith("class-conditional, 10 classes") and "augment_dim 9" in info.conditioning
    assert "sigma / (1 + sigma)" in info.time_map and "other records" in info.notes[0]
    assert "parameters" in info.summary() and str(edm_path) in info.summary()


def test_presets_cover_the_issue():
    for name in ("rf-cifar10-ddpmpp", "scoresde-vp-cifar10-ddpmpp-deep-continuous", "edm-cifar10-uncond-vp",
                 "edm-cifar10-cond-vp", "edm-cifar10-uncond-ve", "edm-imagenet64-cond-adm",
                 "pfgmpp-cifar10-ncsnpp-d2048", "rfpp-cifar10"):
        assert name in PRESETS


def test_rfbench_checkpoints_and_diffusers_folders_go_to_their_readers(tmp_path):
    from rfbench.models.formats.rfbench import make_checkpoint
    from rfbench.models.nets import MLP

    net = MLP(2, hidden=8, depth=1)
    ckpt = make_checkpoint("mine", net, net.config, model_config={"param": "flow", "data_shape": [2]})
    torch.save(ckpt, tmp_path / "mine.pt")
    model = load_checkpoint(tmp_path / "mine.pt")
    assert type(model).__name__ == "NetworkFlow" and model.name == "mine"
    with pytest.raises(InvalidInputError, match="do not apply"):
        load_checkpoint(tmp_path / "mine.pt", preset="rf-cifar10-ddpmpp")

    diffusers = pytest.importorskip("diffusers")
    unet = diffusers.UNet2DModel(sample_size=8, in_channels=1, out_channels=1, block_out_channels=(8, 16),
                                 layers_per_block=1, down_block_types=("DownBlock2D", "DownBlock2D"),
                                 up_block_types=("UpBlock2D", "UpBlock2D"), norm_num_groups=4)
    unet.save_pretrained(tmp_path / "ddpm")
    diffusers.DDPMScheduler(num_train_timesteps=1000).save_pretrained(tmp_path / "ddpm")
    model = load_checkpoint(tmp_path / "ddpm")
    assert type(model).__name__ == "DiffusersUNet" and model.prediction == "eps"
    assert inspect_checkpoint(tmp_path / "ddpm").format == "diffusers"
    with pytest.raises(CheckpointError, match="not a diffusers checkpoint"):
        load_checkpoint(tmp_path)


def test_legacy_torch_format_training_state(tmp_path):
    from nets_writers import adam_state

    net = fill_(EDMPrecond(**SMALL_EDM), seed=9).eval()
    path = tmp_path / "training-state-legacy.pt"
    with edm_globals():
        data = dict(optimizer_state=adam_state(list(net.parameters()), 1e-3), step=1, ema=to_records(net, SMALL_EDM),
                    net=to_records(net, SMALL_EDM))
        torch.save(data, path, _use_new_zipfile_serialization=False)
    _same_state(load_checkpoint(path).net, net)
