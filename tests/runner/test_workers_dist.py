"""One cell over several processes (issue 13): torchrun with gloo on CPU equals one process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from rfbench.metrics.frechet import MergeableStats, StatsAccumulator, stats_from_features

HERE = Path(__file__).parent


def _torchrun(*args: str, nproc: int = 2, timeout: float = 900) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def _close(a, b, tol=1e-12):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape
    scale = max(1.0, float(np.abs(b).max()))
    assert float(np.abs(a - b).max()) <= tol * scale, float(np.abs(a - b).max())


def test_mergeable_stats_match_one_pass():
    gen = torch.Generator().manual_seed(0)
    x = (torch.randn(500, 7, generator=gen, dtype=torch.float64) * 3 + 10).numpy()
    ref = stats_from_features(x)
    parts = [MergeableStats(7, shift=x[:50].mean(0)).update(x[a:b]) for a, b in ((0, 13), (13, 260), (260, 500))]
    merged = MergeableStats.from_dicts([json.loads(json.dumps(p.to_dict())) for p in parts]).result()
    _close(merged.mu, ref.mu)
    _close(merged.sigma, ref.sigma)
    assert merged.n == 500
    acc = StatsAccumulator()
    acc.update(x)
    _close(merged.sigma, acc.result().sigma)
    with pytest.raises(Exception, match="shift"):
        MergeableStats(7).merge(MergeableStats(7, shift=np.ones(7)))


def test_torchrun_two_ranks_equal_one_process(tmp_path):
    proc = _torchrun(str(HERE / "dist_check.py"), str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = torch.load(tmp_path / "rank0.pt", weights_only=True)
    assert got["world"] == 2
    # per-sample outputs: the same samples as one process drawing all 101 at once
    from rfbench.models import get_model
    from rfbench.samplers import sample

    model = get_model("analytic-gmm-rf").double()
    one = sample(model, "heun", 6, noise=model.sample_prior(101, seed=3, dtype=torch.float64))
    assert got["nfe"] == one.nfe_measured
    _close(got["x"].numpy(), one.x.numpy())
    # Fréchet statistics of digits features: all_reduce over ranks, and the shard files merged on disk
    from rfbench.data.images import digits
    from rfbench.metrics.digits_classifier import load_digits_classifier

    clf, _ = load_digits_classifier(progress=False)
    ref = stats_from_features(clf.features(digits("test")[0]))
    assert got["n"] == ref.n
    _close(got["mu"].numpy(), ref.mu)
    _close(got["sigma"].numpy(), ref.sigma)
    disk = MergeableStats.from_dicts([json.loads((tmp_path / f"shard{r}.json").read_text()) for r in (0, 1)]).result()
    _close(disk.mu, ref.mu)
    _close(disk.sigma, ref.sigma)


def test_fid_noise_blocks_do_not_depend_on_the_split():
    from rfbench.runner.cell_metrics.fid_split import fid_noise_range
    from rfbench.runner.cell_metrics.images import NOISE_BLOCK, fid_noise, fid_noise_seed
    from rfbench.models import get_model
    from rfbench.runner.distributed import index_block

    model = get_model("analytic-gmm-rf")
    whole = torch.cat(list(fid_noise(model, 5, 1234, 300)))
    for world in (1, 2, 3):
        parts = [torch.cat(list(fid_noise_range(model, 5, b.start, b.stop, 170, block_size=NOISE_BLOCK,
                                                   seed_of=fid_noise_seed)))
                 for b in (index_block(1234, r, world) for r in range(world))]
        assert torch.equal(torch.cat(parts), whole)
