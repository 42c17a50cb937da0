"""Cost of one PGD-10 adversarial training step relative to one clean training step.

    python benchmarks/bench_adversarial.py [--width 0.25] [--batch 128] [--repeats 5] [--device cpu] [--threads N]
                                           [--profile]

Same model (ResNet18, 100 classes), same batch (random images in [0, 1]), same optimizer (SGD, Nesterov,
lr 0.1, wd 5e-4), measured in one process with warm-up, steps interleaved, medians over repeats:
- clean:           forward, backward, SGD step.
- adv (hslib):     hslib.adversarial.perturb (10 PGD steps in train mode, parameter gradients off) + clean step.
- adv (advertorch as is): attack.perturb called directly, so every attack step also computes and accumulates
                   all weight gradients (cleared afterwards), + clean step.
An attack step is a forward and a backward pass, so the expected cost of PGD-10 training is about 11 clean steps
when the attack computes everything a training step does; dropping the weight gradients from the attack's
backward pass (what hslib does) goes below that. `--profile` prints where one adversarial step spends its time.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from hslib.adversarial import make_attack, perturb
from hslib.models import build_model


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="resnet18")
    ap.add_argument("--width", type=float, default=0.25)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's choice)")
    ap.add_argument("--profile", action="store_true", help="profile one adversarial step (hslib)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    device = torch.device(args.device)
    torch.manual_seed(0)
    model = build_model(args.model, 100, width=args.width).to(device).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
    x = torch.rand(args.batch, 3, 32, 32, device=device)
    y = torch.randint(0, 100, (args.batch,), device=device)
    attack = make_attack(model, "linf", eps=8 / 255, step=2 / 255, steps=args.steps, random_start=True)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    def train_step(inputs):
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(inputs), y).backward()
        opt.step()

    def clean():
        train_step(x)

    def adv_hslib():
        train_step(perturb(model, attack, x, y, bn_mode="train"))

    def adv_plain():
        x_adv = attack.perturb(x, y)  # model already in train mode; weight grads computed at every step
        train_step(x_adv)

    variants = {"clean": clean, "adv (hslib)": adv_hslib, "adv (advertorch as is)": adv_plain}
    times = {name: [] for name in variants}
    for r in range(args.warmup + args.repeats):
        for name, fn in variants.items():
            sync()
            t0 = time.perf_counter()
            fn()
            sync()
            if r >= args.warmup:
                times[name].append(time.perf_counter() - t0)

    ms = {name: 1000 * statistics.median(t) for name, t in times.items()}
    best = {name: 1000 * min(t) for name, t in times.items()}  # robust to other load on a shared machine
    print(f"{args.model} width {args.width}, batch {args.batch}x3x32x32, PGD-{args.steps} Linf, device {device}"
          f" ({torch.get_num_threads()} threads), torch {torch.__version__}; median of {args.repeats}")
    for name, v in ms.items():
        print(f"  {name:24s} median {v:8.1f} ms  ratio {v / ms['clean']:5.2f}x   |   "
              f"min {best[name]:8.1f} ms  ratio {best[name] / best['clean']:5.2f}x   (max {1000 * max(times[name]):.0f} ms)")
    print(f"  physical floor (attack step = clean step): {args.steps + 1}x")

    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
        with profile(activities=acts) as prof:
            adv_hslib()
            sync()
        key = "cuda_time_total" if device.type == "cuda" else "cpu_time_total"
        print(prof.key_averages().table(sort_by=key, row_limit=15))


if __name__ == "__main__":
    main()
