"""The sparsification methods of the paper, one registry entry each.

A method plugs into the training loop (`hslib.train`) through four hooks:
  init(ctx)             before the first step: build the initial mask (may read the dense parent, a batch)
  after_step(opt)       right after every optimizer step: one fused mask multiply (+ optional momentum zeroing)
  is_event(step)        host-side test, no device sync: does a mask update happen after this step?
  update(step, opt)     the mask update itself (GMP pruning, SET/RigL rewiring)
and `state_dict()` / `load_state_dict()` before saving and on resume. Randomness comes from generators
seeded by (run seed, step, purpose), so a resumed run draws exactly what an uninterrupted one would.
"""
from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from ..seeds import derive_seed
from ..vocabulary import METHODS
from .distributions import layer_counts
from .masks import Masks, count, global_topk_masks, random_mask, topk_mask
from .masks import maskable


@dataclass
class Context:
    """What a method may use at initialisation."""
    batch: Callable[[int], tuple]  # batch(n) -> (x float [0,1], y): n augmented training images
    parent: dict | None = None  # {"init": state_dict, "final": state_dict} of the finished dense parent run


class Method:
    name = "dense"
    label, colour, dashed = None, None, False  # how figures draw a user's method (built-ins: their vocabulary entry)
    distributions: tuple = ("none",)  # allowed per-layer distributions; the first is the default
    needs_parent = False  # LTH/OMP/OMP_ERK start from a finished dense run
    sparse = True
    starts_dense = False  # the initial mask keeps every weight (GMP), not the target's counts
    keeps_density = True  # every mask update keeps each layer's count (GMP's prune events do not)

    def __init__(self, cfg, model, steps_per_epoch: int):
        self.cfg, self.model = cfg, model
        self.steps_per_epoch = steps_per_epoch
        self.total_steps = cfg.epochs * steps_per_epoch
        self.interval = max(1, round(cfg.update_every * steps_per_epoch))
        self.masks = Masks(model) if self.sparse else None
        self.updates: list[dict] = []  # density after init and after every mask update

    # -- hooks ---------------------------------------------------------------------------------
    def init(self, ctx: Context):
        """Set the initial mask (default: none) and zero the pruned weights."""
        self._after_mask_change(0)

    def after_step(self, optimizer):
        if self.masks is not None:
            self.masks.apply()
            if self.cfg.zero_momentum:
                self.masks.apply_to_momentum(optimizer)

    def is_event(self, step: int) -> bool:
        return False

    def update(self, step: int, optimizer):
        pass

    # -- state ---------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"masks": self.masks.state_dict() if self.masks else None, "updates": list(self.updates)}

    def load_state_dict(self, state: dict):
        if self.masks is not None:
            self.masks.load_state_dict(state["masks"])
        self.updates = list(state["updates"])

    # -- helpers -------------------------------------------------------------------------------
    def generator(self, step: int, purpose: str) -> torch.Generator:
        return torch.Generator().manual_seed(derive_seed(self.cfg.seed, step, purpose))

    def layer_density(self) -> dict:
        if self.masks is None:
            return {n: 1.0 for n, _ in maskable(self.model)}
        return self.masks.layer_density()

    def _after_mask_change(self, step: int, optimizer=None):
        if self.masks is not None:
            self.masks.apply()
            if self.cfg.zero_momentum and optimizer is not None:
                self.masks.apply_to_momentum(optimizer)
        layers = self.layer_density()
        total = sum(p.numel() for p in (self.masks.params if self.masks else []))
        density = (sum(d * p.numel() for d, p in zip(layers.values(), self.masks.params)) / total) if self.masks else 1.0
        self.updates.append({"step": step, "epoch": step / self.steps_per_epoch, "density": density, "layers": layers})

    def _set_masks(self, masks):
        for i, m in enumerate(masks):
            self.masks.set(i, m)


class Dense(Method):
    """No mask at all: the dense baseline."""
    name, sparse = "dense", False


class FixedRandom(Method):
    """Random fixed mask at the distribution's exact per-layer counts, trained from scratch (Random-ERK, Uniform)."""
    distributions = ("erk", "er", "uniform")

    def init(self, ctx):
        gen = self.generator(0, "mask")
        counts = layer_counts(self.model, self.cfg.distribution, self.cfg.density)
        self._set_masks([random_mask(p.shape, k, gen, p.device) for p, k in zip(self.masks.params, counts)])
        self._after_mask_change(0)


class RandomERK(FixedRandom):
    name, distributions = "random_erk", ("erk",)


class Uniform(FixedRandom):
    name, distributions = "uniform", ("uniform",)


class SNIP(Method):
    """SNIP (Lee et al. 2019): at initialisation, one batch of `snip_batch` training images, scores
    |w · ∂L/∂w| with cross-entropy, global top-k, fixed mask. BatchNorm statistics are left untouched."""
    name, distributions = "snip", ("global",)

    def snip_masks(self, ctx):
        x, y = ctx.batch(self.cfg.snip_batch)
        buffers = {k: v.clone() for k, v in self.model.named_buffers()}
        was_training = self.model.training
        self.model.train()
        loss = F.cross_entropy(self.model(x), y)
        grads = torch.autograd.grad(loss, self.masks.params)
        self.model.train(was_training)
        with torch.no_grad():
            for k, v in self.model.named_buffers():
                v.copy_(buffers[k])  # the scoring pass must not move BN running statistics
        scores = [(p.detach() * g).abs() for p, g in zip(self.masks.params, grads)]
        return global_topk_masks(scores, count(self.cfg.density, sum(self.masks.sizes())))

    def init(self, ctx):
        self._set_masks(self.snip_masks(ctx))
        self._after_mask_change(0)


class SNIPRandom(SNIP):
    """The paper code's SNIP: keep only SNIP's per-layer counts and place that many weights at random."""
    name = "snip_random"

    def init(self, ctx):
        counts = [int(m.sum()) for m in self.snip_masks(ctx)]
        gen = self.generator(0, "mask")
        self._set_masks([random_mask(p.shape, k, gen, p.device) for p, k in zip(self.masks.params, counts)])
        self._after_mask_change(0)


class FromDense(Method):
    """Masks from the trained weights of the finished dense parent run (same data, model and seed)."""
    needs_parent, distributions = True, ("global",)
    rewind = False  # LTH: rewind survivors to the parent's initial weights; OMP: keep the trained ones

    def parent_masks(self, final):
        scores = [final[n].to(p.device).abs() for n, p in zip(self.masks.names, self.masks.params)]
        return global_topk_masks(scores, count(self.cfg.density, sum(self.masks.sizes())))

    def init(self, ctx):
        if ctx.parent is None:
            raise ValueError(f"method={self.name!r} needs its finished dense parent run; none was given")
        self._set_masks(self.parent_masks(ctx.parent["final"]))
        self.model.load_state_dict(ctx.parent["init" if self.rewind else "final"])
        self._after_mask_change(0)


class LTH(FromDense):
    """Lottery ticket (Frankle & Carbin 2019), one shot: global magnitude mask of the trained dense
    weights, survivors rewound to the dense run's initial weights, full schedule with a fixed mask."""
    name, rewind = "lth", True


class LTHFresh(FromDense):
    """The lottery-ticket control (Frankle & Carbin 2019, their random-reinitialisation baseline): LTH's mask from
    the trained dense parent, but the surviving weights start from a fresh random draw of the model's own
    initialisation (another draw than the parent's), not the parent's initial weights. If LTH beats it, the
    ticket's initial weights matter; if not, only the mask (and the parent's training that chose it) does."""
    name = "lth_fresh"

    def init(self, ctx):
        if ctx.parent is None:
            raise ValueError(f"method={self.name!r} needs its finished dense parent run; none was given")
        self._set_masks(self.parent_masks(ctx.parent["final"]))
        with torch.random.fork_rng(devices=[]):  # the global generator's later draws stay as in any other run
            torch.manual_seed(derive_seed(self.cfg.seed, 0, "fresh initialisation"))
            self.model.initialise()
        self._after_mask_change(0)


class OMP(FromDense):
    """One-shot magnitude pruning: the LTH mask, trained weights kept, full schedule retrained."""
    name = "omp"


class OMPERK(FromDense):
    """OMP at ERK per-layer densities: per-layer magnitude top-k of the trained dense weights."""
    name, distributions = "omp_erk", ("erk",)

    def parent_masks(self, final):
        counts = layer_counts(self.model, "erk", self.cfg.density)
        return [topk_mask(final[n].to(p.device).abs(), k) for n, p, k in zip(self.masks.names, self.masks.params, counts)]


class GMP(Method):
    """Gradual magnitude pruning (Zhu & Gupta 2017): start dense; at evenly spaced events from gmp_start to
    gmp_end of training, prune globally by magnitude to s_t = s_f·(1 − (1 − t)^3), t = 0 → 1."""
    name, distributions = "gmp", ("global",)
    starts_dense, keeps_density = True, False

    def __init__(self, cfg, model, steps_per_epoch):
        super().__init__(cfg, model, steps_per_epoch)
        start, end = round(cfg.gmp_start * self.total_steps), round(cfg.gmp_end * self.total_steps)
        n = max(1, round((end - start) / self.interval))  # one event per `update_every` epochs
        self.start, self.end = start, end
        self.events = {start + round(k * (end - start) / n): k / n for k in range(1, n + 1)}  # step -> t

    def target_sparsity(self, t: float) -> float:
        return (1 - self.cfg.density) * (1 - (1 - t) ** 3)

    def is_event(self, step):
        return step in self.events

    @torch.no_grad()
    def update(self, step, optimizer):
        k = count(1 - self.target_sparsity(self.events[step]), sum(self.masks.sizes()))
        # Pruned weights score -1 so they are never revived, even against an active weight that is exactly 0.
        scores = [torch.where(self.masks.bool(i), p.abs(), -1.0) for i, p in enumerate(self.masks.params)]
        self._set_masks(global_topk_masks(scores, k))
        self._after_mask_change(step, optimizer)


class SET(Method):
    """Sparse Evolutionary Training (Mocanu et al. 2018). ERK random start; every `update_every` epochs, per
    layer, remove the fraction ζ of positive weights closest to zero and ζ of negative weights closest to
    zero, then regrow as many at random among the positions inactive after removal (just-removed ones
    included, so every layer keeps its count and a dense layer stays dense). A regrown position that was
    active keeps its value; a newly activated one starts at zero. ζ decays on a cosine over training."""
    name, distributions = "set", ("erk", "er", "uniform")
    end_fraction = 1.0  # updates until the end of training

    def init(self, ctx):
        FixedRandom.init(self, ctx)

    def zeta(self, step: int) -> float:
        z0, z1, T = self.cfg.zeta, self.cfg.zeta_final, self.end_fraction * self.total_steps
        return z1 + 0.5 * (z0 - z1) * (1 + math.cos(math.pi * min(step, T) / T))

    def is_event(self, step):
        return step % self.interval == 0 and 0 < step < self.end_fraction * self.total_steps

    def removal(self, i: int, w: torch.Tensor, m: torch.Tensor, zeta: float) -> torch.Tensor:
        """Flat indices to deactivate in layer i (Mocanu's rule on the signed weights)."""
        pos = ((w > 0) & m).nonzero().squeeze(1)
        neg = ((w < 0) & m).nonzero().squeeze(1)
        k_pos, k_neg = int(zeta * len(pos)), int(zeta * len(neg))
        return torch.cat([pos[torch.topk(w[pos], k_pos, largest=False).indices],
                          neg[torch.topk(w[neg], k_neg, largest=True).indices]])

    def regrowth(self, i: int, inactive: torch.Tensor, k: int, gen) -> torch.Tensor:
        return inactive[torch.randperm(len(inactive), generator=gen)[:k].to(inactive.device)]

    @torch.no_grad()
    def update(self, step, optimizer):
        zeta, gen = self.zeta(step), self.generator(step, "regrow")
        for i, p in enumerate(self.masks.params):
            w, m = p.detach().flatten(), self.masks.bool(i).flatten()
            removed = self.removal(i, w, m, zeta)
            if len(removed) == 0:
                continue
            new = m.clone()
            new[removed] = False
            grown = self.regrowth(i, (~new).nonzero().squeeze(1), len(removed), gen)
            new[grown] = True
            self.masks.set(i, new.view_as(p))
        # Multiplying by the new mask zeroes removed weights; newly grown ones were already zero.
        self._after_mask_change(step, optimizer)


class RigL(SET):
    """RigL (Evci et al. 2020): ERK random start; every `update_every` epochs until 75% of training, per layer
    drop the fraction ζ of active weights with the smallest magnitude and grow as many where the dense
    gradient of the last batch is largest (among positions inactive after the drop); grown weights start
    at zero unless they were active before. ζ decays on a cosine until the updates stop."""
    name = "rigl"
    end_fraction = 0.75

    def removal(self, i, w, m, zeta):
        active = m.nonzero().squeeze(1)
        k = int(zeta * len(active))
        return active[torch.topk(w[active].abs(), k, largest=False).indices]

    def regrowth(self, i, inactive, k, gen):
        grad = self.masks.params[i].grad
        if grad is None:
            raise RuntimeError("RigL update needs the last step's gradients; none were found")
        return inactive[torch.topk(grad.flatten()[inactive].abs(), k).indices]


BUILTIN = (Dense, GMP, LTH, LTHFresh, OMP, SNIP, SNIPRandom, SET, RigL, OMPERK, RandomERK, Uniform)


def implementation(name: str) -> type[Method]:
    """The class that runs method `name` (hslib.vocabulary.METHODS holds its entry): a built-in entry names its
    class as 'module:Class', a method registered at run time holds the class itself."""
    impl = METHODS[name].implementation
    if isinstance(impl, str):
        module, _, attr = impl.partition(":")
        impl = getattr(importlib.import_module(module), attr)
    return impl
