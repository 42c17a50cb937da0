"""Real speed of structured sparsity: a channel-pruned network exported by `hslib.sparse.compact` against the same
network at full size with the pruned channels held at zero, and the 2:4 semi-structured CUDA path for N:M.

    python benchmarks/bench_structured.py [--model resnet18] [--width 0.25] [--batch 64] [--keep 0.5] [--device cpu]

Channels: every channel group (hslib.sparse.channel_groups: the block-internal channels and the residual streams of a
ResNet) keeps the fraction `--keep` of its channels, those of largest L1 norm; the removed ones are zeroed in place
(`remove_channels`), which gives the masked network the training loop runs, and `compact` cuts them out. Both have
the same weights, the same density and the same outputs (checked here). Timed, on the same inputs, interleaved, medians
over repeats: inference (eval mode, no autograd) and one training step (forward, backward, SGD step; the masked
network also re-applies its masks, as `Method.after_step` does).

N:M: with a CUDA device of compute capability >= 8.0, a 2:4 N:M weight (hslib.sparse.structured.nm_mask) of a
ResNet18 layer-4 convolution as a matrix product (512 x 4608 at width 1) is converted with
`torch.sparse.to_sparse_semi_structured` and timed against the dense fp16 product; otherwise it says why it skipped.
"""
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).parent))
from common import model_on_device, parser, sync  # noqa: E402

from hslib.sparse import Masks, channel_groups, compact  # noqa: E402
from hslib.sparse.structured import nm_mask, remove_channels  # noqa: E402


def prune_channels(model, keep: float):
    """Zero all but the fraction `keep` of every channel group's channels (the largest L1 norms); its masks."""
    groups, modules = channel_groups(model), dict(model.named_modules())
    removed = []
    for g in groups:
        l1 = sum(modules[conv].weight.detach().abs().flatten(1).sum(1) for conv, _ in g.producers).cpu()
        r = torch.zeros(g.size, dtype=torch.bool)
        r[l1.argsort()[:g.size - max(1, round(keep * g.size))]] = True
        removed.append(r)
    remove_channels(model, groups, removed)
    masks = Masks(model)
    for i, p in enumerate(masks.params):
        masks.set(i, p.detach() != 0)
    return masks


def timed(fns: dict, repeats: int, device) -> dict:
    """Median seconds of each function, interleaved in alternating order so drift hits all alike."""
    times = {k: [] for k in fns}
    for fn in fns.values():
        fn()
    for r in range(repeats):
        for name in (list(fns) if r % 2 else list(fns)[::-1]):
            t0 = time.perf_counter()
            fns[name]()
            sync(device)
            times[name].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def channel_benchmark(args):
    dev, masked = model_on_device(args)
    masks = prune_channels(masked, args.keep)
    small = compact(masked)
    x = torch.rand(args.batch, 3, 32, 32, device=dev)
    y = torch.randint(0, 100, (args.batch,), device=dev)
    masked.eval()
    small.eval()
    with torch.no_grad():
        gap = float((masked(x) - small(x)).abs().max())
    params = [sum(p.numel() for p in net.parameters()) for net in (masked, small)]
    opts = {net: torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)
            for net in (masked, small)}

    def infer(net):
        def run():
            with torch.no_grad():
                net(x)
        return run

    def train(net, after=None):
        def run():
            loss = F.cross_entropy(net(x), y)
            opts[net].zero_grad(set_to_none=True)
            loss.backward()
            opts[net].step()
            if after:
                after()
        return run

    inference = timed({"masked": infer(masked), "compact": infer(small)}, args.repeats, dev)
    masked.train()
    small.train()
    training = timed({"masked": train(masked, masks.apply), "compact": train(small)}, args.repeats, dev)
    groups, modules = channel_groups(masked), dict(small.named_modules())
    kept = sum(modules[g.producers[0][0]].out_channels for g in groups)
    total = sum(g.size for g in groups)
    print(f"| {args.model} w{args.width}, batch {args.batch}, {args.device}, {kept}/{total} channels kept | masked "
          f"(full size) | compact | speed-up |\n| --- | ---: | ---: | ---: |")
    print(f"| parameters | {params[0]:,} | {params[1]:,} | |")
    for what, t in (("inference", inference), ("training step", training)):
        print(f"| {what}, images/s | {args.batch / t['masked']:.0f} | {args.batch / t['compact']:.0f} | "
              f"{t['masked'] / t['compact']:.2f}x |")
    print(f"\nlargest output difference, masked vs compact (eval): {gap:.2e} (tests require <= 1e-5); "
          f"target >= 2x at keep=0.5")


def nm_benchmark(args):
    if not torch.cuda.is_available():
        print("N:M 2:4 CUDA path skipped: no CUDA device here (torch.cuda.is_available() is False); "
              "torch.sparse.to_sparse_semi_structured needs an NVIDIA GPU of compute capability >= 8.0")
        return
    capability = torch.cuda.get_device_capability()
    if capability < (8, 0):
        print(f"N:M 2:4 CUDA path skipped: compute capability {capability[0]}.{capability[1]} < 8.0")
        return
    from torch.sparse import to_sparse_semi_structured

    dev = torch.device("cuda")
    out, k, rows = 512, 4608, 8 * 8 * max(args.batch, 64)  # layer4 conv as GEMM: 4x4 maps, batch -> 16·batch rows
    g = torch.Generator(device="cpu").manual_seed(0)
    w = torch.randn(out, k, generator=g).half().to(dev)
    w = w * nm_mask(w.abs().float(), 2, 4, out * k // 2).to(w.dtype)
    x = torch.randn(rows, k, generator=g).half().to(dev)
    sparse_w = to_sparse_semi_structured(w)
    gap = float((F.linear(x, w) - F.linear(x, sparse_w)).abs().max())
    t = timed({"dense": lambda: F.linear(x, w), "2:4": lambda: F.linear(x, sparse_w)}, args.repeats, dev)
    print(f"\n| 2:4 GEMM {rows}x{k} @ {k}x{out}, fp16, {torch.cuda.get_device_name()} | ms |\n| --- | ---: |")
    print(f"| dense | {1000 * t['dense']:.3f} |\n| 2:4 semi-structured | {1000 * t['2:4']:.3f} |")
    print(f"\n2:4 speed-up: {t['dense'] / t['2:4']:.2f}x (largest difference {gap:.2e})")


def main():
    ap = parser(__doc__)
    ap.add_argument("--keep", type=float, default=0.5, help="fraction of every channel group's channels kept")
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()
    if not 0 < args.keep <= 1:
        ap.error(f"--keep={args.keep} is not allowed; allowed values: a fraction in (0, 1]")
    channel_benchmark(args)
    nm_benchmark(args)


if __name__ == "__main__":
    main()
