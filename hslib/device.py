"""Where and how a model runs: the device, bf16 autocast on CUDA, batched eval-mode prediction and evaluation.

Shared by the training loop (hslib.train) and scoring (hslib.el2n), so neither has to import the other.
"""
from __future__ import annotations

import contextlib
import os
import sys

import torch
import torch.nn.functional as F

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


def autocast(device):
    return torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else contextlib.nullcontext()


@torch.no_grad()
def predict(model, images, batch_size=EVAL_BATCH):
    """Logits (float32) of uint8 images in eval mode, batched, on the model's device."""
    model.eval()
    dev = next(model.parameters()).device
    outs = []
    for i in range(0, len(images), batch_size):
        x = images[i:i + batch_size].to(dev, non_blocking=True).float().div_(255)
        if dev.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast(dev):
            outs.append(model(x).float())
    return torch.cat(outs)


def evaluate(model, images, labels, batch_size=EVAL_BATCH) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) with one host sync."""
    logits = predict(model, images, batch_size)
    labels = labels.to(logits.device)
    loss = F.cross_entropy(logits, labels)
    acc = (logits.argmax(1) == labels).float().mean()
    loss, acc = torch.stack([loss, acc]).tolist()
    return loss, acc
