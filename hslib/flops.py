"""FLOPs and parameter counts at the current sparsity (docs/design.md#flops, Figure 8).

Forward FLOPs of a masked layer = density × its dense FLOPs, where a dense conv costs
2 · C_in/groups · k_h · k_w · C_out · H_out · W_out per image (one multiply-add = two FLOPs) and a linear
layer 2 · in · out. BatchNorm, activations and pooling are ignored (they are < 1% here and the same for
every method). One training step costs 3× the forward pass (forward, input gradients, weight gradients).
A PGD step costs 2× forward (forward and input gradients). Training FLOPs are summed step by step at the
density in force, so GMP integrates its schedule; LTH/OMP/OMP_ERK add their dense parent's cost.
"""
from __future__ import annotations

import torch
from torch import nn

from .sparse.masks import maskable


@torch.no_grad()
def dense_layer_flops(model: nn.Module, image_size: int, channels: int = 3) -> dict[str, float]:
    """Dense forward FLOPs per image of every masked layer, from one traced forward pass."""
    flops, hooks = {}, []
    names = {m: f"{n}.weight" for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))}

    def hook(module, inputs, output):
        if isinstance(module, nn.Conv2d):
            kh, kw = module.kernel_size
            per_out = module.in_channels // module.groups * kh * kw
            flops[names[module]] = 2.0 * per_out * output[0].numel()
        else:
            flops[names[module]] = 2.0 * module.in_features * module.out_features

    for m in names:
        hooks.append(m.register_forward_hook(hook))
    was_training = model.training
    model.eval()
    p = next(model.parameters())
    try:
        model(torch.zeros(1, channels, image_size, image_size, device=p.device, dtype=p.dtype))
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    return flops


def forward_flops(layer_flops: dict[str, float], layer_density: dict[str, float]) -> float:
    """Forward FLOPs per image at the given per-layer densities."""
    return sum(f * layer_density.get(name, 1.0) for name, f in layer_flops.items())


def nonzero_params(model: nn.Module, layer_density: dict[str, float]) -> int:
    """Parameters of the sparse model: active masked weights plus every unmasked parameter (biases, BN)."""
    masked = dict(maskable(model))
    total = 0
    for name, p in model.named_parameters():
        total += round(p.numel() * layer_density.get(name, 1.0)) if name in masked else p.numel()
    return int(total)
