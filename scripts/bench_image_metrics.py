"""Print what each image metric costs on this machine, to size suites (fid_n, lpips_n, lpips_resize).

    python scripts/bench_image_metrics.py [--device cuda] [--n 64]

Times (median of 3 after a warm-up, CUDA events on GPU): Inception-v3 features per image (32x32
uint8 input, resized to 299 inside), LPIPS per pair at 64x64 and 224x224, the 2048-d Fréchet distance
(full sqrtm and the exact low-rank path), digits-classifier features per 1,000 images. Timings do
not depend on the weights, so stand-in (random) weights are used; no metric value is printed.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from rfbench.metrics import time_callable
from rfbench.metrics.digits_classifier import DigitsClassifier, DigitsCNN
from rfbench.metrics.fid import InceptionFeatures, standin_inception_weights
from rfbench.metrics.frechet import FeatureStats, frechet_distance, stats_from_features
from rfbench.metrics.lpips_ref import LPIPSRef, standin_alexnet_weights


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--n", type=int, default=32, help="images per timed batch")
    args = ap.parse_args()
    dev, n = torch.device(args.device), args.n
    print(f"device {dev} ({torch.cuda.get_device_name(dev) if dev.type == 'cuda' else 'cpu'}), "
          f"torch threads {torch.get_num_threads()}, batch {n}")

    def report(name, fn, per):
        t = time_callable(fn, repeats=3, warmup=1, device=dev)
        print(f"{name:<50s} {t['median_s'] / per * 1e3:10.3f} ms  ({t['method']})")

    images = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8)
    ext = InceptionFeatures(standin_inception_weights(), device=dev, batch_size=n)
    report("Inception pool3 features, per image", lambda: ext(images), n)

    x = torch.rand(n, 3, 32, 32) * 2 - 1
    y = torch.rand(n, 3, 32, 32) * 2 - 1
    for size in (64, 224):
        lp = LPIPSRef(standin_alexnet_weights(), resize=size, device=dev, batch_size=n)
        report(f"LPIPS (AlexNet) at {size}x{size}, per pair", lambda lp=lp: lp(x, y), n)

    rng = np.random.default_rng(0)
    a = stats_from_features(rng.standard_normal((4096, 2048)))
    b = stats_from_features(rng.standard_normal((4096, 2048)) + 0.1)
    report("Frechet distance 2048-d, full (sqrtm)", lambda: frechet_distance(a, b), 1)
    small = stats_from_features(rng.standard_normal((100, 2048)))
    report("Frechet distance 2048-d, 100 samples (low rank)", lambda: frechet_distance(small, b), 1)
    full_small = FeatureStats(small.mu, small.sigma)
    report("  same without the low-rank path (sqrtm)", lambda: frechet_distance(full_small, b), 1)

    clf = DigitsClassifier(DigitsCNN(), {"test_acc": float("nan"), "config": {"version": 1}}).to(dev)
    digits = torch.rand(1000, 1, 8, 8) * 2 - 1
    report("digits-classifier features, per 1,000 images", lambda: clf.features(digits), 1)


if __name__ == "__main__":
    main()
