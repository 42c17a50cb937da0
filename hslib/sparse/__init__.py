"""The sparsity engine: exact-count masks, per-layer density rules, the methods registry, and the checks a new
method must pass before it joins it."""
from .check import INVARIANTS, MethodCheckError, check_method, register
from .distributions import DISTRIBUTIONS, layer_counts, layer_densities, scaled_densities
from .masks import Masks, count, maskable
from .methods import METHODS, Context, Method

__all__ = ["DISTRIBUTIONS", "INVARIANTS", "METHODS", "Context", "Masks", "Method", "MethodCheckError", "check_method",
           "count", "layer_counts", "layer_densities", "maskable", "register", "scaled_densities"]
