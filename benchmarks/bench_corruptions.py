"""Benchmark hslib.corruptions: every corruption x severities 1-5 on a batch of real 32 x 32 images.

    python benchmarks/bench_corruptions.py [--n 1000] [--size 32] [--severities 1 2 3 4 5]

Images: scikit-learn's bundled handwritten digits (0..16 scaled to 0..255, 8 x 8 upsampled bilinearly to the
target size, replicated to RGB).  Prints a markdown table of seconds and images/s per corruption, then the
total (target on a 2-core CPU: <= 60 s for 1,000 images x 19 corruptions x 5 severities at 32 x 32).
"""
from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits

from hslib.corruptions import BENCHMARK, NAMES, corrupt


def digits_batch(n: int, size: int) -> torch.Tensor:
    """n digits as a uint8 batch n x 3 x size x size (repeating the 1,797 digits if n is larger)."""
    d = torch.from_numpy(load_digits().images).float() * (255.0 / 16.0)
    d = d[torch.arange(n) % d.shape[0]][:, None]
    up = F.interpolate(d, size=(size, size), mode="bilinear", align_corners=False)
    return up.round().clamp(0, 255).to(torch.uint8).repeat(1, 3, 1, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000, help="images per call")
    ap.add_argument("--size", type=int, default=32, choices=(32, 64))
    ap.add_argument("--severities", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    ap.add_argument("--names", nargs="+", default=list(NAMES), choices=NAMES)
    args = ap.parse_args()

    images = digits_batch(args.n, args.size)
    corrupt(images[:2], "frost", 1)  # warm-up: load the frost textures and OpenCV once
    rows, total = [], 0.0
    for name in args.names:
        t0 = time.perf_counter()
        for severity in args.severities:
            corrupt(images, name, severity, seed=severity)
        dt = time.perf_counter() - t0
        total += dt
        rows.append((name, dt, args.n * len(args.severities) / dt))

    print(f"{args.n} images of {args.size}x{args.size}, severities {args.severities}, "
          f"torch threads {torch.get_num_threads()}\n")
    print("| corruption | group | seconds | images/s |")
    print("| --- | --- | ---: | ---: |")
    for name, dt, ips in rows:
        group = "benchmark" if name in BENCHMARK else "extra"
        print(f"| {name} | {group} | {dt:.2f} | {ips:,.0f} |")
    count = args.n * len(args.severities) * len(args.names)
    print(f"| **total** | | **{total:.2f}** | **{count / total:,.0f}** |")


if __name__ == "__main__":
    main()
