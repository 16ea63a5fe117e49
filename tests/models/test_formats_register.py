"""One registration entry for every checkpoint format: ``register_checkpoint`` detects the format from
the file, the registered model is the one ``load_checkpoint`` builds, and its cache identity is the
content hash (a copy under another name or path has the same identity, one changed byte does not)."""

from __future__ import annotations

import shutil

import pytest
import torch

from rfbench.errors import CheckpointError, InvalidInputError
from rfbench.models import MODELS, get_model, model_identity
from rfbench.models.formats import checkpoint_digest, detect_format, load_checkpoint, register_checkpoint
from rfbench.models.nets import EDMPrecond, NCSNpp

from nets_golden import fill_, load_golden
from nets_writers import Marker, write_edm_pickle, write_score_sde

_, META = load_golden()
SMALL_NCSNPP = META["ddpmpp"]["config"]
SMALL_EDM = META["song_ncsnpp_uncond_edm"]["init_kwargs"]


@pytest.fixture
def files(tmp_path):
    net = fill_(NCSNpp(**SMALL_NCSNPP), seed=1)
    rf = write_score_sde(tmp_path / "checkpoint_8.pth", net, net)
    edm_net = fill_(EDMPrecond(**SMALL_EDM), seed=2).eval()
    edm = write_edm_pickle(tmp_path / "snapshot.pkl", edm_net, SMALL_EDM)
    return rf, edm


def test_formats_are_detected_and_the_model_is_load_checkpoints(files):
    rf, edm = files
    assert detect_format(rf) == "score-sde" and detect_format(edm) == "edm-pickle"
    entry = register_checkpoint("test-reg-edm", edm, replace=True)
    assert entry.kind == "external" and "DenoiserFlow" in entry.family
    model, direct = get_model("test-reg-edm"), load_checkpoint(edm)
    x, t = torch.randn(2, 3, 16, 16), torch.tensor([0.2, 0.7])
    with torch.no_grad():
        assert torch.equal(model.x0(x, t), direct.x0(x, t))
    register_checkpoint("test-reg-rf", rf, config=SMALL_NCSNPP, sde="rectified_flow", replace=True)
    assert type(get_model("test-reg-rf")).__name__ == "RectifiedFlowVelocity"
    with pytest.raises(CheckpointError, match="preset= one of"):  # weights only: the configuration is needed
        register_checkpoint("test-reg-rf2", rf, replace=True)
    with pytest.raises(InvalidInputError, match="format must be one of"):
        register_checkpoint("test-reg-rf2", rf, format="pickle")
    with pytest.raises(CheckpointError, match="is in score-sde format, not edm-pickle"):
        register_checkpoint("test-reg-rf2", rf, format="edm-pickle")


def test_identity_is_the_content_not_the_name_or_path(files, tmp_path):
    _, edm = files
    copy = tmp_path / "elsewhere" / "renamed.pkl"
    copy.parent.mkdir()
    shutil.copy(edm, copy)
    register_checkpoint("test-id-a", edm, replace=True)
    register_checkpoint("test-id-b", copy, replace=True)
    ida, idb = MODELS.get("test-id-a").identity(), MODELS.get("test-id-b").identity()
    assert ida == idb
    # one changed byte in the weights: another identity, and a factory given the old hash refuses the file
    digest = checkpoint_digest(copy)
    data = bytearray(copy.read_bytes())
    data[-200] ^= 0x01
    copy.write_bytes(bytes(data))
    assert MODELS.get("test-id-b").identity() != ida
    assert model_identity("test-id-b") != model_identity("test-id-a")
    with pytest.raises(CheckpointError, match="corrupted or was changed"):
        get_model("test-id-b", sha256=digest)
    with pytest.raises(CheckpointError, match="corrupted or was changed"):
        register_checkpoint("test-id-c", copy, sha256=digest, replace=True)


def test_a_pickle_with_another_callable_is_refused_without_running(tmp_path):
    import pickle

    marker = tmp_path / "marker"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"ema": Marker(marker)}))
    for kwargs in ({}, {"allow_unsafe": False}, {"allow_unsafe": True}):  # the restricted reader decides
        with pytest.raises(CheckpointError, match="which rfbench does not load"):
            register_checkpoint("test-evil", path, **kwargs)
    assert not marker.exists()
