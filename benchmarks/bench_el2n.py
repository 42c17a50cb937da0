"""EL2N scoring throughput vs plain inference of the same model on the same batches.

    python benchmarks/bench_el2n.py [--model resnet18] [--width 0.25] [--n 2048]

Scoring = hslib.device.predict (eval mode, batched, uint8 -> float on the device) + hslib.el2n.el2n.
Inference = model(x) under no_grad on the same float batches, prepared beforehand (so the reference does not
even pay for the uint8 conversion). Target: scoring >= 0.9x the inference throughput.
"""
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import median_seconds, model_on_device, parser, sync  # noqa: E402

from hslib.el2n import el2n  # noqa: E402
from hslib.device import EVAL_BATCH, predict  # noqa: E402


def main():
    ap = parser(__doc__)
    ap.add_argument("--n", type=int, default=2048)
    args = ap.parse_args()
    dev, model = model_on_device(args)
    model.eval()
    images = torch.randint(0, 256, (args.n, 3, 32, 32), dtype=torch.uint8, device=dev)
    labels = torch.randint(0, 100, (args.n,), device=dev)
    batches = [images[i:i + EVAL_BATCH].float().div(255) for i in range(0, args.n, EVAL_BATCH)]

    def inference():
        with torch.no_grad():
            out = [model(b) for b in batches]
        sync(dev)
        return out

    def scoring():
        s = el2n(predict(model, images), labels)
        sync(dev)
        return s

    t_inf, t_score = median_seconds(inference, 3), median_seconds(scoring, 3)
    print(f"| {args.model} w{args.width}, {args.n} images, {args.device} | images/s |\n| --- | ---: |")
    print(f"| plain inference | {args.n / t_inf:,.0f} |\n| EL2N scoring | {args.n / t_score:,.0f} |")
    print(f"\nscoring / inference throughput: {t_inf / t_score:.3f} (target >= 0.9)")


if __name__ == "__main__":
    main()
