"""Where and how a model runs: the device, the numeric precision, batched eval-mode prediction and evaluation.

Precision (RunConfig.precision): "fp32" keeps float32 tensors and, on CUDA, allows TF32 in matmuls and
convolutions (`tf32_scope`), as PyTorch did by default when the paper's code was written; "bf16" autocasts the
forward pass to bfloat16 on any device (CUDA, and CPU autocast on a CPU). Logits are returned as float32.

Shared by the training loop (hslib.train) and scoring (hslib.el2n), so neither has to import the other.
"""
from __future__ import annotations

import contextlib
import os
import sys

import torch
import torch.nn.functional as F

from .vocabulary import PRECISIONS

EVAL_BATCH = 500


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def headless() -> bool:
    """No progress bars: papermill/CI (HSLIB_HEADLESS=1) or output that is not a terminal nor a notebook."""
    if os.environ.get("HSLIB_HEADLESS") == "1":
        return True
    return not (sys.stderr.isatty() or "ipykernel" in sys.modules)




def check_precision(precision):
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r} is not allowed; allowed values: {list(PRECISIONS)}")


def uses_tf32(device, precision: str) -> bool:
    """True when a run of this precision on this device computes its float32 matmuls/convolutions in TF32."""
    check_precision(precision)
    return torch.device(device).type == "cuda" and precision == "fp32"


@contextlib.contextmanager
def tf32_scope(device, precision: str):
    """Inside: TF32 allowed for CUDA matmuls and cuDNN convolutions when `uses_tf32`; the previous flags are
    restored on exit. Wraps a whole run (backward passes included), or one `predict`."""
    if not uses_tf32(device, precision):
        yield
        return
    old = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old


def autocast(device, precision: str):
    """bfloat16 autocast of a forward pass for precision 'bf16' (on the device's own type); nothing for 'fp32'."""
    check_precision(precision)
    if precision == "bf16":
        return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def wants_channels_last(device) -> bool:
    """Train in channels_last (NHWC)? On CUDA (tensor-core convolutions). Not on CPU, although it measured 1.2×
    faster per step there (benchmarks/bench_memory_format.py): with torch 2.14.1, the backward pass of a strided
    1×1 convolution (ResNet's shortcuts) in NHWC on CPU corrupts memory for odd batch sizes (double free, abort),
    and a partial last batch is often odd (tests/test_course_regime.py keeps the CPU path NCHW)."""
    return device.type == "cuda"


def is_channels_last(model) -> bool:
    """Whether the model's convolutions are stored channels_last (then its inputs are converted too)."""
    conv = next((m.weight for m in model.modules() if isinstance(m, torch.nn.Conv2d)), None)
    return conv is not None and conv.shape[-1] > 1 and conv.is_contiguous(memory_format=torch.channels_last) \
        and not conv.is_contiguous()


@torch.no_grad()
def predict(model, images, batch_size=EVAL_BATCH, precision: str = "fp32"):
    """Logits (float32) of uint8 images in eval mode, batched, on the model's device, computed in `precision`
    (scoring always uses the default 'fp32')."""
    model.eval()
    dev = next(model.parameters()).device
    nhwc = is_channels_last(model)
    outs = []
    with tf32_scope(dev, precision):
        for i in range(0, len(images), batch_size):
            x = images[i:i + batch_size].to(dev, non_blocking=True).float().div_(255)
            if nhwc:
                x = x.contiguous(memory_format=torch.channels_last)
            with autocast(dev, precision):
                outs.append(model(x).float())
    return torch.cat(outs)


def evaluate(model, images, labels, batch_size=EVAL_BATCH, precision: str = "fp32") -> tuple[float, float]:
    """(mean cross-entropy, accuracy) with one host sync."""
    logits = predict(model, images, batch_size, precision)
    labels = labels.to(logits.device)
    loss = F.cross_entropy(logits, labels)
    acc = (logits.argmax(1) == labels).float().mean()
    loss, acc = torch.stack([loss, acc]).tolist()
    return loss, acc
