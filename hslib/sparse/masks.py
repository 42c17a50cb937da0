"""Binary masks over every conv and linear weight, with exact counts, applied in one fused multiply.

Masked tensors are the weights of every `nn.Conv2d` and `nn.Linear` (first conv, shortcut convs and the
classifier included); biases and BatchNorm parameters are never masked. A layer at density d keeps exactly
round(d·n) of its n weights: masks are chosen by top-k or by a random permutation, never by Bernoulli draws.
"""
from __future__ import annotations

import torch
from torch import nn


def maskable(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """(parameter name, weight) of every conv and linear layer, in module order."""
    return [(f"{name}.weight", m.weight) for name, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def count(density: float, n: int) -> int:
    """Weights kept in a layer of n weights at `density`: round(density·n), at least one."""
    return min(n, max(1, int(round(density * n))))


def topk_mask(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Boolean mask with exactly k True entries at the k largest scores."""
    flat = torch.zeros(scores.numel(), dtype=torch.bool, device=scores.device)
    flat[torch.topk(scores.flatten(), k, sorted=False).indices] = True
    return flat.view_as(scores)


def random_mask(shape, k: int, generator: torch.Generator, device=None) -> torch.Tensor:
    """Boolean mask with exactly k True entries at uniformly random positions."""
    n = int(torch.Size(shape).numel())
    flat = torch.zeros(n, dtype=torch.bool, device=device)
    flat[torch.randperm(n, generator=generator, device=generator.device)[:k].to(device)] = True
    return flat.view(shape)


def global_topk_masks(scores: list[torch.Tensor], k: int) -> list[torch.Tensor]:
    """Exactly k True entries across all layers, at the k largest scores of the concatenation."""
    flat = torch.cat([s.flatten().float() for s in scores])
    keep = torch.zeros_like(flat, dtype=torch.bool)
    keep[torch.topk(flat, k, sorted=False).indices] = True
    return [m.view_as(s) for m, s in zip(keep.split([s.numel() for s in scores]), scores)]


class Masks:
    """The masks of one model. `apply()` multiplies every masked weight by its mask in one fused call."""

    def __init__(self, model: nn.Module):
        named = maskable(model)
        self.names = [n for n, _ in named]
        self.params = [p for _, p in named]
        # Float masks in the weight's dtype and memory format, so the multiply is a plain elementwise op.
        self.values = [torch.ones_like(p, requires_grad=False) for p in self.params]

    def __len__(self):
        return len(self.params)

    def set(self, i: int, mask: torch.Tensor):
        self.values[i].copy_(mask.to(self.values[i].dtype))

    def bool(self, i: int) -> torch.Tensor:
        return self.values[i] != 0

    @torch.no_grad()
    def apply(self):
        """Zero every pruned weight: one fused multiply over all layers."""
        torch._foreach_mul_(self.params, self.values)

    @torch.no_grad()
    def apply_to_momentum(self, optimizer: torch.optim.Optimizer):
        """Also zero the SGD momentum of pruned weights (off by default, as in the paper's code)."""
        bufs = [optimizer.state[p].get("momentum_buffer") for p in self.params]
        if all(b is not None for b in bufs):
            torch._foreach_mul_(bufs, self.values)

    def active(self) -> list[int]:
        """Active weights per layer (one host sync)."""
        return torch.stack([v.sum() for v in self.values]).long().tolist()

    def sizes(self) -> list[int]:
        return [p.numel() for p in self.params]

    def density(self) -> float:
        return sum(self.active()) / sum(self.sizes())

    def layer_density(self) -> dict[str, float]:
        return {n: a / s for n, a, s in zip(self.names, self.active(), self.sizes())}

    def table(self) -> list[dict]:
        """A tidy per-layer table: layer, shape, params, active, density."""
        return [{"layer": n, "shape": list(p.shape), "params": s, "active": a, "density": a / s}
                for n, p, a, s in zip(self.names, self.params, self.active(), self.sizes())]

    def state_dict(self) -> dict:
        return {n: v.bool().cpu() for n, v in zip(self.names, self.values)}

    def load_state_dict(self, state: dict):
        missing = [n for n in self.names if n not in state]
        if missing:
            raise ValueError(f"mask state lacks layers {missing[:3]}…; was it saved for another model?")
        for i, n in enumerate(self.names):
            self.set(i, state[n].to(self.values[i].device))
