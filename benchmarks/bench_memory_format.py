"""One training step in NCHW vs channels_last (NHWC), per registered model, in one process: the measurement
behind hslib.device.wants_channels_last. On CPU (torch 2.14.1) NHWC measured 1.18-1.24x faster for every model at
width 1/8, 16x16, batch 64, one thread, but its backward pass crashes on odd batch sizes (see that function), so
CPU training stays NCHW; pass an even --batch here.

    python benchmarks/bench_memory_format.py [--width 0.125] [--batch 64] [--size 16] [--threads 1]
"""
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).parent))
from common import median_seconds, parser, sync  # noqa: E402

from hslib.models import build_model  # noqa: E402
from hslib.vocabulary import MODELS  # noqa: E402


def step_seconds(model_name, nhwc, args):
    torch.manual_seed(0)
    dev = torch.device(args.device)
    model = build_model(model_name, 10, width=args.width, image_size=args.size).to(dev)
    x = torch.rand(args.batch, 3, args.size, args.size, device=dev)
    y = torch.randint(0, 10, (args.batch,), device=dev)
    if nhwc:
        model, x = model.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4, foreach=True)

    def steps():
        for _ in range(10):
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        sync(dev)

    return median_seconds(steps, repeats=5, warmup=1) / 10


def main():
    ap = parser(__doc__, width=0.125, batch=64)
    ap.add_argument("--size", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"device={args.device} width={args.width} batch={args.batch} size={args.size} threads={args.threads}")
    for name in MODELS:
        nchw, nhwc = step_seconds(name, False, args), step_seconds(name, True, args)
        print(f"{name:9s} NCHW {1000 * nchw:6.1f} ms/step  channels_last {1000 * nhwc:6.1f} ms/step  "
              f"speed-up {nchw / nhwc:.2f}×")


if __name__ == "__main__":
    main()
