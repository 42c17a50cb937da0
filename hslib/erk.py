"""How a target density is shared out among layers by formula: uniform, Erdős–Rényi (ER) and ER-Kernel (ERK).

Pure arithmetic on weight shapes (no torch), so figures and synthetic results draw the prescriptions too;
hslib.sparse.distributions applies them to a network and adds `global`, which needs the weights.

ERK, in prose (Evci et al. 2020, after Mocanu et al. 2018). A layer whose weight has shape
(c_out, c_in, k_h, k_w) gets a density proportional to

    raw_l = (c_out + c_in + k_h + k_w) / (c_out · c_in · k_h · k_w)   = sum(shape) / prod(shape),

so small layers (the first conv, the classifier, 1×1 shortcuts) stay denser than big 3×3 convs. One scale ε
makes the kept weights add up to the target: Σ_l ε·raw_l·n_l = d·N. A layer with ε·raw_l > 1 cannot be
denser than dense, so it is made dense, its n_l weights are taken out of the budget, and ε is solved again
for the rest. Capping a layer only frees budget (it keeps n_l < ε·raw_l·n_l), so ε grows from one round to
the next and a capped layer never needs uncapping: the loop ends with the unique ε for which
Σ_l min(1, ε·raw_l)·n_l = d·N. ER is the same with raw_l = (c_out + c_in)/(c_out·c_in), kernel ignored.
Uniform gives every layer the same density.
"""
from __future__ import annotations

import math


def _raw(shape, distribution):
    if distribution == "erk":
        return sum(shape) / math.prod(shape)
    return (shape[0] + shape[1]) / (shape[0] * shape[1])  # er: kernel dimensions ignored


def scaled_densities(shapes: list, distribution: str, density: float) -> list[float]:
    """Per-layer densities for weight `shapes` under uniform / er / erk (see the module docstring)."""
    if distribution == "uniform":
        return [float(density)] * len(shapes)
    if distribution not in ("er", "erk"):
        raise ValueError(f"distribution={distribution!r} needs weights; use layer_densities (allowed here: uniform, er, erk)")
    sizes = [math.prod(s) for s in shapes]
    raw = [_raw(s, distribution) for s in shapes]
    dense: set[int] = set()
    budget_total = density * sum(sizes)
    while True:
        rest = [i for i in range(len(shapes)) if i not in dense]
        budget = budget_total - sum(sizes[i] for i in dense)
        eps = budget / sum(raw[i] * sizes[i] for i in rest) if rest else 0.0
        over = {i for i in rest if eps * raw[i] > 1}
        if not over:
            break
        dense |= over  # every layer over 1 at once: ε only grows, so none of them would fall back under 1
    return [1.0 if i in dense else eps * raw[i] for i in range(len(shapes))]
