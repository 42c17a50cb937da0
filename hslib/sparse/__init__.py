"""The sparsity engine: exact-count masks, per-layer density rules, the methods registry, and the checks a new
method must pass before it joins it."""
from .check import INVARIANTS, PATTERN_INVARIANT, MethodCheckError, check_method, register
from .distributions import layer_counts, layer_densities
from .masks import Masks, count, maskable
from .methods import Context, Method, implementation
from .structured import channel_groups, compact

__all__ = ["INVARIANTS", "PATTERN_INVARIANT", "Context", "Masks", "Method", "MethodCheckError", "channel_groups",
           "check_method", "compact", "count", "implementation", "layer_counts", "layer_densities", "maskable",
           "register"]
