"""Cost of sparsity: a SET (density 0.2) training step vs a dense step, and one SET update event.

    python benchmarks/bench_sparse.py [--model resnet18] [--width 0.25] [--batch 64] [--device cpu]

Masked weights are still computed densely (unstructured sparsity), so the only per-step cost hslib adds is
the fused multiply of all weights by their masks after the optimizer step (`Method.after_step`). To keep
instance-to-instance noise (±3% on this CPU) out of the ratio, both steps run on the same model instance,
interleaved, medians over repeats: "dense" = forward/backward/SGD step; "sparse" = the same + after_step.
The update event is `SET.update` (per-layer removal + random regrowth), timed on that model.
"""
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).parent))
from common import model_on_device, parser, sync  # noqa: E402

from hslib.config import RunConfig  # noqa: E402
from hslib.sparse import Context, implementation  # noqa: E402


def main():
    ap = parser(__doc__)
    ap.add_argument("--repeats", type=int, default=60)
    args = ap.parse_args()
    dev, model = model_on_device(args)
    x = torch.rand(args.batch, 3, 32, 32, device=dev)
    y = torch.randint(0, 100, (args.batch,), device=dev)
    cfg = RunConfig(dataset="cifar100", model=args.model, width=args.width, method="set", density=0.2,
                    epochs=10, update_every=1.0)
    method = implementation("set")(cfg, model, steps_per_epoch=10)
    method.init(Context(batch=lambda n: (x[:n], y[:n])))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)

    def step(masked):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if masked:
            method.after_step(opt)
        sync(dev)

    times = {"dense": [], "sparse": [], "mask": [], "update": []}
    step(True)
    for r in range(args.repeats):
        for masked in ((True, False) if r % 2 else (False, True)):
            t0 = time.perf_counter()
            step(masked)
            times["sparse" if masked else "dense"].append(time.perf_counter() - t0)
    method.after_step(opt)
    for _ in range(50):
        t0 = time.perf_counter()
        method.after_step(opt)
        sync(dev)
        times["mask"].append(time.perf_counter() - t0)
    for r in range(5):
        t0 = time.perf_counter()
        method.update(10 * (r + 1), opt)
        sync(dev)
        times["update"].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"| {args.model} w{args.width}, batch {args.batch}, {args.device} | ms |\n| --- | ---: |")
    print(f"| dense step | {1000 * med['dense']:.1f} |\n| SET step (density 0.2, + fused mask multiply) | "
          f"{1000 * med['sparse']:.1f} |")
    print(f"| the fused mask multiply alone | {1000 * med['mask']:.2f} |")
    print(f"| SET update event | {1000 * med['update']:.1f} |")
    print(f"\nsparse / dense step: {med['sparse'] / med['dense']:.3f} (target <= 1.03; the multiply alone is "
          f"{med['mask'] / med['dense']:.2%} of a step); update event / step: {med['update'] / med['dense']:.2f} "
          f"(target < 1)")


if __name__ == "__main__":
    main()
