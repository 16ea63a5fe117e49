"""The diffusers UNet2DModel adapter, checked against diffusers itself (its schedule and its DDIM
sampler) on a tiny randomly initialised U-Net saved to a temporary folder."""

import json

import pytest
import torch

pytest.importorskip("diffusers")
from diffusers import DDIMScheduler, DDPMScheduler, UNet2DModel  # noqa: E402

from rfbench.errors import CheckpointError  # noqa: E402
from rfbench.models import get_model  # noqa: E402
from rfbench.models.formats import register_checkpoint  # noqa: E402
from rfbench.models.formats.diffusers import checkpoint_sha256, load_diffusers_unet  # noqa: E402
from rfbench.samplers.diffusion import sample_ddim  # noqa: E402


def _unet(channels=1, size=8):
    torch.manual_seed(0)
    return UNet2DModel(sample_size=size, in_channels=channels, out_channels=channels, block_out_channels=(8, 16),
                       layers_per_block=1, down_block_types=("DownBlock2D", "DownBlock2D"),
                       up_block_types=("UpBlock2D", "UpBlock2D"), norm_num_groups=4)


def _save(folder, prediction_type="epsilon", beta_schedule="linear", layout="flat"):
    unet = _unet()
    sched = DDPMScheduler(num_train_timesteps=1000, beta_schedule=beta_schedule, prediction_type=prediction_type)
    if layout == "pipeline":
        unet.save_pretrained(folder / "unet")
        sched.save_pretrained(folder / "scheduler")
        (folder / "model_index.json").write_text(json.dumps({"_class_name": "DDPMPipeline"}))
    else:
        unet.save_pretrained(folder)
        sched.save_pretrained(folder)
    return unet.eval(), sched


def test_eps_and_timestep_mapping_match_the_network(tmp_path):
    unet, sched = _save(tmp_path)
    model = get_model("diffusers-unet", path=str(tmp_path))
    assert model.prediction == "eps" and model.data_shape == (1, 8, 8)
    assert model.t_min == pytest.approx(1e-3) and model.t_max == 1.0
    x = torch.randn(3, 1, 8, 8)
    with torch.no_grad():
        for k in (999, 500, 0):
            t = (k + 1) / 1000  # t_k = (k + 1) / T
            torch.testing.assert_close(model.eps(x, t), unet(x, torch.full((3,), float(k))).sample)
    # alpha(t_k)^2 is diffusers' alphas_cumprod[k]
    ks = torch.tensor([0, 1, 250, 999])
    alpha = model.schedule.alpha((ks + 1).double() / 1000)
    torch.testing.assert_close(alpha**2, sched.alphas_cumprod[ks].double(), rtol=1e-6, atol=0)


def test_ddim_matches_diffusers_ddim(tmp_path):
    # rfbench's DDIM on the adapter = diffusers' DDIMScheduler (eta 0, trailing spacing, no clipping)
    unet, _ = _save(tmp_path)
    model = load_diffusers_unet(tmp_path)
    ddim = DDIMScheduler(num_train_timesteps=1000, beta_schedule="linear", clip_sample=False,
                         set_alpha_to_one=False, timestep_spacing="trailing")
    ddim.set_timesteps(4)
    x0 = torch.randn(4, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    x = x0.clone()
    with torch.no_grad():
        for k in ddim.timesteps:
            x = ddim.step(unet(x, k).sample, k, x, eta=0.0).prev_sample
    # the same grid in rfbench time: t = (k + 1) / T, ending at t_min = 1/T (alphas_cumprod[0])
    ts = torch.tensor([(int(k) + 1) / 1000 for k in ddim.timesteps] + [model.t_min], dtype=torch.float64)
    ours = sample_ddim(model, x0.clone(), ts)
    torch.testing.assert_close(ours, x, rtol=1e-4, atol=1e-4)


def test_v_and_sample_predictions(tmp_path):
    unet, _ = _save(tmp_path / "v", prediction_type="v_prediction")
    model = load_diffusers_unet(tmp_path / "v")
    x, t = torch.randn(2, 1, 8, 8), 0.4
    a, s = float(model.schedule.alpha(t)), float(model.schedule.sigma(t))
    with torch.no_grad():
        v = unet(x, torch.full((2,), t * 1000 - 1)).sample
        torch.testing.assert_close(model.eps(x, t), a * v + s * x, rtol=1e-5, atol=1e-6)  # eps = alpha v + sigma x
    _save(tmp_path / "x0", prediction_type="sample")
    assert load_diffusers_unet(tmp_path / "x0").prediction == "x0"


def test_pipeline_layout_registration_and_errors(tmp_path):
    _save(tmp_path / "pipe", layout="pipeline")
    entry = register_checkpoint("test-ddpm", tmp_path / "pipe", replace=True)
    sha = checkpoint_sha256(tmp_path / "pipe")
    model = get_model("test-ddpm", sha256=sha)
    assert model.name == "test-ddpm" and model.config()["checkpoint_sha256"] == sha and entry.kind == "external"
    with pytest.raises(CheckpointError, match="changed"):
        get_model("test-ddpm", sha256="0" * 64)
    # missing scheduler config
    _unet().save_pretrained(tmp_path / "bare")
    with pytest.raises(CheckpointError, match="scheduler config"):
        load_diffusers_unet(tmp_path / "bare")
    # unsupported beta schedule
    _save(tmp_path / "cos", beta_schedule="squaredcos_cap_v2")
    with pytest.raises(CheckpointError, match="squaredcos_cap_v2"):
        load_diffusers_unet(tmp_path / "cos")
    with pytest.raises(CheckpointError, match="not a directory"):
        load_diffusers_unet(tmp_path / "absent")
