"""Per-layer densities of a network: the formula rules of hslib.erk (uniform, ER, ERK) applied to its masked
weights, and `global`, which ranks all weights together (by magnitude, or by any score such as SNIP's) and keeps
the top d·N, so its per-layer densities depend on the weights."""
from __future__ import annotations

from ..erk import scaled_densities
from ..vocabulary import DISTRIBUTIONS
from .masks import count, global_topk_masks, maskable


def layer_densities(model, distribution: str, density: float, scores: list | None = None) -> dict:
    """{parameter name: density} for every masked weight of `model`.

    `global` ranks |weight| (or the given per-layer `scores`) across all layers and reports the realised
    per-layer densities of the global top round(density·N)."""
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"distribution={distribution!r} is not known; allowed values: {list(DISTRIBUTIONS)}")
    if not 0 < density <= 1:
        raise ValueError(f"density={density!r} is out of range; allowed: 0 < density <= 1")
    named = maskable(model)
    if distribution == "global":
        if scores is None:
            scores = [p.detach().abs() for _, p in named]
        k = count(density, sum(p.numel() for _, p in named))
        masks = global_topk_masks(scores, k)
        return {n: m.sum().item() / m.numel() for (n, _), m in zip(named, masks)}
    dens = scaled_densities([tuple(p.shape) for _, p in named], distribution, density)
    return {n: d for (n, _), d in zip(named, dens)}


def layer_counts(model, distribution: str, density: float) -> list[int]:
    """Exact kept-weight counts per layer for uniform / er / erk: round(density_l · n_l)."""
    dens = scaled_densities([tuple(p.shape) for _, p in maskable(model)], distribution, density)
    return [count(d, p.numel()) for d, (_, p) in zip(dens, maskable(model))]
