"""The sparsity engine: exact-count masks, per-layer density rules, and the methods registry."""
from .distributions import DISTRIBUTIONS, layer_counts, layer_densities, scaled_densities
from .masks import Masks, count, maskable
from .methods import METHODS, Context, Method

__all__ = ["DISTRIBUTIONS", "METHODS", "Context", "Masks", "Method", "count", "layer_counts", "layer_densities",
           "maskable", "scaled_densities"]
