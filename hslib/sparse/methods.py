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
from ..vocabulary import METHODS, nm_pattern
from .distributions import layer_counts
from .masks import Masks, count, global_topk_masks, random_mask, topk_mask
from .masks import maskable
from .structured import (allowed_positions, channel_groups, channel_problem, nm_group_counts, nm_mask, nm_problem,
                         nm_regrow)


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
    pattern = ""  # the structure the masks keep ("nm", "channel"); check_method then checks pattern_problem()

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

    def pattern_problem(self) -> str | None:
        """What breaks the method's structure right now (a structured method says), or None."""
        return None

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
        self.rewire(step)
        # Multiplying by the new mask zeroes removed weights; newly grown ones were already zero.
        self._after_mask_change(step, optimizer)

    def rewire(self, step):
        """Every layer's prune-and-regrow at `step`, on the masks only."""
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


# ------------------------------------------------------------------------------------- structured (beyond the paper)
class NMSparse(Method):
    """N:M masks (hslib.sparse.structured): in every group of M consecutive weights of a row, exactly N are kept;
    N/M is the density (hslib.vocabulary.nm_pattern), so every layer keeps exactly round(density·n) weights."""
    pattern, distributions = "nm", ("uniform",)

    def __init__(self, cfg, model, steps_per_epoch):
        super().__init__(cfg, model, steps_per_epoch)
        self.n, self.m = nm_pattern(cfg.density)

    def nm_masks(self, scores):
        return [nm_mask(s, self.n, self.m, count(self.cfg.density, s.numel())) for s in scores]

    def random_nm_init(self):
        gen = self.generator(0, "mask")
        self._set_masks(self.nm_masks([torch.rand(p.shape, generator=gen).to(p.device) for p in self.masks.params]))
        self._after_mask_change(0)

    def pattern_problem(self):
        for i, name in enumerate(self.masks.names):
            problem = nm_problem(name, self.masks.bool(i), self.n, self.m)
            if problem:
                return problem
        return None


class NMRandom(NMSparse):
    """N:M random: the N kept weights of every group drawn at random, mask fixed, trained from scratch."""
    name = "nm_random"

    def init(self, ctx):
        self.random_nm_init()


class NMOMP(NMSparse, FromDense):
    """N:M one-shot magnitude pruning: in every group the N largest trained weights of the dense parent, kept at
    their trained values; the full schedule retrained with the mask fixed (as OMP)."""
    name = "nm_omp"

    def parent_masks(self, final):
        return self.nm_masks([final[n].to(p.device).abs() for n, p in zip(self.masks.names, self.masks.params)])


class NMDynamic(NMSparse, SET):
    """SET restricted to N:M groups: N:M random start; at SET's events (same ζ schedule) Mocanu's rule removes
    weights layer by layer, and every group that lost weights regrows as many at random among its own inactive
    positions (the just-removed included), so each group keeps exactly N."""
    name = "nm_dynamic"

    def init(self, ctx):
        self.random_nm_init()

    def rewire(self, step):
        zeta, gen = self.zeta(step), self.generator(step, "regrow")
        for i, p in enumerate(self.masks.params):
            mask = self.masks.bool(i)
            removed = self.removal(i, p.detach().flatten(), mask.flatten(), zeta)
            if len(removed) == 0:
                continue
            kept = mask.flatten().clone()
            kept[removed] = False
            self.masks.set(i, nm_regrow(kept.view_as(p), nm_group_counts(mask, self.m), self.m, gen))


class ChannelSparse(Method):
    """Masks that remove whole channels (hslib.sparse.structured.channel_groups): a removed channel is out of the
    mask of every conv that writes it and every layer that reads it, and its conv bias and BatchNorm weight and bias
    are held at zero after every step. The density is reached exactly, the kept channels holding the rest."""
    pattern = "channel"
    channel_sparsity = 0.5  # fraction of all channels removed at most (fewer where the density needs the weights)
    group_floor = 0.25  # every group keeps at least this fraction of its channels

    def __init__(self, cfg, model, steps_per_epoch):
        super().__init__(cfg, model, steps_per_epoch)
        self.groups = channel_groups(model)
        self.layers = [n.removesuffix(".weight") for n in self.masks.names]
        self.removed = [torch.zeros(g.size, dtype=torch.bool) for g in self.groups]
        self._zeroing = None  # (params, multipliers) that hold removed channels' biases and BatchNorms at zero

    def allowed(self, removed=None) -> list[torch.Tensor]:
        """Per layer, True where a weight may be active (outside every removed channel)."""
        shapes = {layer: p.shape for layer, p in zip(self.layers, self.masks.params)}
        allowed = allowed_positions(shapes, self.groups, self.removed if removed is None else removed)
        return [allowed[layer].to(p.device) for layer, p in zip(self.layers, self.masks.params)]

    def max_removed(self, g) -> int:
        return int(g.size - max(1, math.ceil(self.group_floor * g.size)))

    @torch.no_grad()
    def _zero_removed(self):
        if self._zeroing is None:
            modules, params, keep = dict(self.model.named_modules()), [], []
            for g, r in zip(self.groups, self.removed):
                for conv, bn in g.producers:
                    for p in (modules[conv].bias, modules[bn].weight, modules[bn].bias):
                        if p is not None:
                            params.append(p)
                            keep.append((~r).to(p.device, p.dtype))
            self._zeroing = (params, keep)
        torch._foreach_mul_(*self._zeroing)

    def after_step(self, optimizer):
        super().after_step(optimizer)
        self._zero_removed()

    def _after_mask_change(self, step, optimizer=None):
        self._zeroing = None  # the removed channels may have changed
        self._zero_removed()
        super()._after_mask_change(step, optimizer)
        self.updates[-1]["channels_removed"] = {g.name: int(r.sum()) for g, r in zip(self.groups, self.removed)}

    def pattern_problem(self):
        masks = {layer: self.masks.bool(i) for i, layer in enumerate(self.layers)}
        return channel_problem(self.model, masks, self.groups, self.removed)

    def state_dict(self):
        return {**super().state_dict(), "removed": [r.clone() for r in self.removed]}

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.removed = [r.clone().bool() for r in state["removed"]]
        self._zeroing = None


class ChannelOMP(ChannelSparse, FromDense):
    """Channel pruning from the dense parent: in every channel group the channels with the smallest L1 norm of the
    trained weights that write them are removed (a fraction channel_sparsity of each group, or less where the
    density needs more weights), then a global magnitude top-k over the kept channels' weights reaches the density
    exactly; trained weights kept, the full schedule retrained with the mask fixed (as OMP)."""
    name = "channel_omp"

    def parent_masks(self, final):
        index = {layer: i for i, layer in enumerate(self.layers)}
        scores = [final[n].to(p.device).abs() for n, p in zip(self.masks.names, self.masks.params)]
        l1 = [sum(scores[index[conv]].flatten(1).sum(1) for conv, _ in g.producers).cpu() for g in self.groups]
        k = count(self.cfg.density, sum(self.masks.sizes()))
        for step in range(50, -1, -1):  # the largest fraction, down from channel_sparsity, that leaves k weights
            removed = []
            for g, norms in zip(self.groups, l1):
                drop = min(round(self.channel_sparsity * step / 50 * g.size), self.max_removed(g))
                r = torch.zeros(g.size, dtype=torch.bool)
                r[norms.argsort(stable=True)[:drop]] = True
                removed.append(r)
            allowed = self.allowed(removed)
            if sum(int(a.sum()) for a in allowed) >= k:
                break
        self.removed = removed
        return global_topk_masks([torch.where(a, s, -1.0) for a, s in zip(allowed, scores)], k)


class ChannelDST(ChannelSparse, SET):
    """Chase-like channel-aware dynamic sparse training: SET from an ERK random start (regrowth never enters a
    removed channel); at each of SET's events until channel_end of training, after the rewiring, the channels whose
    density fell lowest are removed, up to a cubic schedule that reaches channel_sparsity of all channels. A removed
    channel's active weights are regrown at random in the kept channels of the same layer, so every layer keeps its
    count."""
    name = "channel_dst"
    channel_end = 0.5  # channel removal reaches its target at half of training; rewiring goes on to the end

    def regrowth(self, i, inactive, k, gen):
        return super().regrowth(i, inactive[self._allowed[i].flatten()[inactive]], k, gen)

    @torch.no_grad()
    def update(self, step, optimizer):
        self._allowed = self.allowed()
        self.rewire(step)
        if step <= self.channel_end * self.total_steps:
            self.remove_channels(step)
        self._after_mask_change(step, optimizer)

    def remove_channels(self, step):
        t = min(1.0, step / (self.channel_end * self.total_steps))
        target = round(self.channel_sparsity * sum(g.size for g in self.groups) * (1 - (1 - t) ** 3))
        todo = target - sum(int(r.sum()) for r in self.removed)
        index = {layer: i for i, layer in enumerate(self.layers)}
        candidates = []
        for gi, g in enumerate(self.groups):
            rows = [index[conv] for conv, _ in g.producers]
            active = sum(self.masks.values[i].flatten(1).sum(1) for i in rows).cpu()
            size = sum(self.masks.params[i][0].numel() for i in rows)
            magnitude = sum((self.masks.params[i].detach() * self.masks.values[i]).abs().flatten(1).sum(1)
                            for i in rows).cpu()
            for c in (~self.removed[gi]).nonzero().squeeze(1).tolist():  # lowest density first, then magnitude
                candidates.append((float(active[c]) / size, float(magnitude[c] / max(float(active[c]), 1.0)), gi, c))
        gen = self.generator(step, "channel regrow")
        for _, _, gi, c in sorted(candidates):
            if todo <= 0:
                break
            if int(self.removed[gi].sum()) < self.max_removed(self.groups[gi]) and self.remove_channel(gi, c, gen):
                todo -= 1

    def remove_channel(self, gi, c, gen) -> bool:
        """Remove channel c of group gi, regrowing its active weights in the same layers; False (nothing changed)
        where a layer has no room left for them."""
        g, index = self.groups[gi], {layer: i for i, layer in enumerate(self.layers)}
        plan = []
        for layer, dim in [(conv, 0) for conv, _ in g.producers] + [(reader, 1) for reader in g.consumers]:
            i = index[layer]
            mask = self.masks.bool(i)
            room = self._allowed[i] & ~mask
            room.select(dim, c).fill_(False)
            active = int(mask.select(dim, c).sum())
            if int(room.sum()) < active:
                return False
            plan.append((i, dim, mask, room, active))
        for i, dim, mask, room, active in plan:
            mask.select(dim, c).fill_(False)
            free = room.flatten().nonzero().squeeze(1)
            mask.view(-1)[free[torch.randperm(len(free), generator=gen)[:active].to(free.device)]] = True
            self.masks.set(i, mask)
            self._allowed[i].select(dim, c).fill_(False)
        self.removed[gi][c] = True
        return True


BUILTIN = (Dense, GMP, LTH, LTHFresh, OMP, SNIP, SNIPRandom, SET, RigL, OMPERK, RandomERK, Uniform,
           NMOMP, NMDynamic, NMRandom, ChannelOMP, ChannelDST)


def implementation(name: str) -> type[Method]:
    """The class that runs method `name` (hslib.vocabulary.METHODS holds its entry): a built-in entry names its
    class as 'module:Class', a method registered at run time holds the class itself."""
    impl = METHODS[name].implementation
    if isinstance(impl, str):
        module, _, attr = impl.partition(":")
        impl = getattr(importlib.import_module(module), attr)
    return impl
