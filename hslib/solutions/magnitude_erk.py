"""The reference solution of notebook 09's exercise: magnitude pruning at initialisation, at ERK counts.

This file is also a valid student file (it defines `MagnitudeERK`, a subclass of `hslib.sparse.Method`):
`python -m hslib.grade hslib/solutions/magnitude_erk.py` grades it, and it passes. The student writes the bodies
of the two hooks below; the rest of the class is given in the notebook's stub.
"""
import torch

from hslib.sparse import Method, layer_counts
from hslib.sparse.masks import topk_mask


class MagnitudeERK(Method):
    """Per layer, keep the largest |w| of the random initial weights, as many as ERK gives the layer; the mask
    never changes."""
    name = "magnitude_erk"
    label, colour = "Magnitude-ERK", "#393b79"
    distributions = ("erk",)

    @torch.no_grad()
    def init(self, ctx):
        counts = layer_counts(self.model, self.cfg.distribution, self.cfg.density)
        for i, (w, k) in enumerate(zip(self.masks.params, counts)):
            self.masks.set(i, topk_mask(w.abs(), k))
        self._after_mask_change(0)

    @torch.no_grad()
    def after_step(self, optimizer):
        self.masks.apply()
        if self.cfg.zero_momentum:
            self.masks.apply_to_momentum(optimizer)
