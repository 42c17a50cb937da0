"""The sparsity engine: exact-count masks, per-layer density rules, the methods registry, and the checks a new
method must pass before it joins it."""
from .check import INVARIANTS, MethodCheckError, check_method, register
from .distributions import layer_counts, layer_densities
from .masks import Masks, count, maskable
from .methods import Context, Method, implementation

__all__ = ["INVARIANTS", "Context", "Masks", "Method", "MethodCheckError", "check_method", "count", "implementation",
           "layer_counts", "layer_densities", "maskable", "register"]
