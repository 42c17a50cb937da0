"""Cost of sparsity: a SET (density 0.2) training step vs a dense step, and one SET update event.

    python benchmarks/bench_sparse.py [--model resnet18] [--width 0.5] [--batch 64] [--device cpu]

Same model, batch and optimizer, measured in one process, steps interleaved, medians over repeats. The sparse
step adds exactly what hslib adds to every step: one fused multiply of all weights by their masks
(`Method.after_step`). The update event is `SET.update` (per-layer removal + random regrowth).
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).parent))

from hslib.config import RunConfig  # noqa: E402
from hslib.models import build_model  # noqa: E402
from hslib.sparse import METHODS, Context  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="resnet18")
    ap.add_argument("--width", type=float, default=0.5)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    dev = torch.device(args.device)
    torch.manual_seed(0)
    x = torch.rand(args.batch, 3, 32, 32, device=dev)
    y = torch.randint(0, 100, (args.batch,), device=dev)
    nets = {}
    for name, density in (("dense", 1.0), ("set", 0.2)):
        model = build_model(args.model, 100, width=args.width).to(dev)
        cfg = RunConfig(dataset="cifar100", model=args.model, width=args.width, method=name, density=density,
                        epochs=10, update_every=1.0)
        method = METHODS[name](cfg, model, steps_per_epoch=10)
        method.init(Context(batch=lambda n: (x[:n], y[:n])))
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
        nets[name] = (model, method, opt)

    def step(name):
        model, method, opt = nets[name]
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        method.after_step(opt)
        if dev.type == "cuda":
            torch.cuda.synchronize()

    times = {"dense": [], "set": [], "update": []}
    for name in ("dense", "set"):
        step(name)
    for r in range(args.repeats):
        for name in ("dense", "set") if r % 2 else ("set", "dense"):
            t0 = time.perf_counter()
            step(name)
            times[name].append(time.perf_counter() - t0)
    _, method, opt = nets["set"]
    for r in range(5):
        t0 = time.perf_counter()
        method.update(10 * (r + 1), opt)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        times["update"].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"| {args.model} w{args.width}, batch {args.batch}, {args.device} | ms |\n| --- | ---: |")
    print(f"| dense step | {1000 * med['dense']:.1f} |\n| SET step (density 0.2) | {1000 * med['set']:.1f} |")
    print(f"| SET update event | {1000 * med['update']:.1f} |")
    print(f"\nsparse / dense step: {med['set'] / med['dense']:.3f} (target <= 1.03); "
          f"update event / step: {med['update'] / med['dense']:.2f} (target < 1)")


if __name__ == "__main__":
    main()
