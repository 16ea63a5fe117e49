"""Run under torchrun by test_workers_dist.py: one rank's share of samples and digits features."""

import json
import sys
from pathlib import Path

import torch

from rfbench.data.images import digits
from rfbench.metrics.digits_classifier import load_digits_classifier
from rfbench.metrics.frechet import MergeableStats
from rfbench.models import get_model
from rfbench.runner import distributed

out = Path(sys.argv[1])
distributed.init_from_env("cpu")
rank, world = distributed.rank(), distributed.world()
# per-sample outputs: 101 samples (not divisible by the ranks) split by index, gathered
model = get_model("analytic-gmm-rf").double()
noise = model.sample_prior(101, seed=3, dtype=torch.float64)
res = distributed.split_sample(model, "heun", 6, noise=noise)
# Fréchet statistics of digits-classifier features, each rank its block, merged with all_reduce
clf, _ = load_digits_classifier(progress=False)
images = digits("test")[0]
feats = clf.features(images[distributed.index_block(len(images))])
stats = MergeableStats(feats.shape[1]).update(feats)
(out / f"shard{rank}.json").write_text(json.dumps(stats.to_dict()))
merged = stats.all_reduce().result()
if rank == 0:
    torch.save({"x": res.x, "nfe": res.nfe_measured, "mu": torch.from_numpy(merged.mu),
                "sigma": torch.from_numpy(merged.sigma), "n": merged.n, "world": world}, out / "rank0.pt")
distributed.shutdown()
