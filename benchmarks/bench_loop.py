"""Overhead of hslib's training loop over a bare PyTorch loop: same model, same batches, same optimizer.

    python benchmarks/bench_loop.py [--model resnet18] [--width 0.25] [--epochs 3]

hslib: `hslib.train.run` on digits (dense), per-epoch times from its log: the batch loop alone
(`train_time`: augmentation, step, mask hook, on-device metrics) and the whole epoch (`wall_time`
increments: + validation and the epoch's one sync; checkpointing happens outside the timed span and is
measured separately). Bare: the same Loader batches into forward / backward / SGD step, nothing else.
"""
import json
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).parent))
from common import parser  # noqa: E402

from hslib import train  # noqa: E402
from hslib.config import RunConfig  # noqa: E402
from hslib.data import Loader, augmentation, load_dataset  # noqa: E402
from hslib.models import build_model  # noqa: E402


def main():
    ap = parser(__doc__, batch=128)
    ap.add_argument("--epochs", type=int, default=3)
    args = ap.parse_args()
    cfg = RunConfig(dataset="digits", model=args.model, width=args.width, epochs=args.epochs,
                    batch_size=args.batch, profile="smoke", device=args.device)
    dev = torch.device(args.device)
    x, y = (t.to(dev) for t in load_dataset("digits"))
    loader = Loader(x, y, args.batch, train=True, seed=cfg.seed, drop_last=True, **augmentation("digits"))
    torch.manual_seed(0)
    model = build_model(args.model, 10, width=args.width, dataset="digits").to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
    bare = []
    for epoch in range(args.epochs):
        t0 = time.perf_counter()
        model.train()
        for _, xb, yb in loader.epoch(epoch):
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        bare.append(time.perf_counter() - t0)
    with tempfile.TemporaryDirectory() as root:
        t0 = time.perf_counter()
        train.run(cfg, root, progress="none")
        total = time.perf_counter() - t0
        log = [json.loads(line) for line in (Path(root) / cfg.id / "log.jsonl").read_text().splitlines()]
    walls = [b["wall_time"] - a for a, b in zip([0] + [h["wall_time"] for h in log], [h for h in log])]
    loop = [h["train_time"] for h in log]
    # Skip the first epoch of each side (allocator and kernel warm-up).
    b, lo, wa = (sum(v[1:]) / (len(v) - 1) for v in (bare, loop, walls))
    print(f"| per epoch ({len(y)} images, {args.model} w{args.width}) | seconds | ratio to bare |\n| --- | ---: | ---: |")
    print(f"| bare PyTorch loop | {b:.3f} | 1.000 |")
    print(f"| hslib batch loop (train_time) | {lo:.3f} | {lo / b:.3f} |")
    print(f"| hslib epoch incl. validation (wall_time) | {wa:.3f} | {wa / b:.3f} |")
    print(f"\nwhole train.run ({args.epochs} epochs, incl. data, model, checkpoints, test): {total:.2f}s; target: "
          f"batch-loop ratio <= 1.05")


if __name__ == "__main__":
    main()
