"""Structured sparsity: N:M groups and whole channels, the invariant of each pattern, and `compact`, which exports a
channel-pruned network as a physically smaller dense one (docs/design.md#structured-sparsity).

N:M. Each output unit's weights are one row, flattened in PyTorch's order (a conv's in_channels × kh × kw, a linear
layer's inputs): the row of the im2col matrix product that computes the layer, and so the layout a 2:4 kernel reads.
The row is cut into consecutive groups of M; every full group keeps exactly N. A row whose length is not a multiple
of M is padded with zeros to the next multiple (the padding is never kept), so its last group holds at most N of its
real weights, and the padded groups of a layer together hold what brings the layer to exactly round(density·n).

Channels. A channel group is a set of channels that exist together: the convolutions (with their BatchNorm) that
write them and the layers that read them. Inside a ResNet BasicBlock, conv1's output channels are read by conv2
only. A residual stream (the stem's output and every block of a stage that adds to it, or a projection shortcut and
the blocks after it) is one group: its channels are written by several convolutions and summed, so a stream channel
is removed from all of them and from every layer that reads the stream, or from none. In a VGG every convolution's
output channels are one group, read by the next convolution or the classifier.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn


# ------------------------------------------------------------------------------------------ N:M
def _groups(t: torch.Tensor, m: int, fill) -> torch.Tensor:
    """`t` as (rows, groups, m): each output unit's flattened weights in groups of m, the last padded with fill."""
    rows = t.reshape(t.shape[0], -1)
    pad = (-rows.shape[1]) % m
    if pad:
        rows = torch.cat([rows, rows.new_full((rows.shape[0], pad), fill)], 1)
    return rows.view(rows.shape[0], -1, m)


def _ungroup(g: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    width = like[0].numel()
    return g.reshape(g.shape[0], -1)[:, :width].reshape(like.shape)


def _keep_per_group(scores: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """Boolean like scores (rows, groups, m): in each group its counts[row, group] highest scores."""
    order = scores.argsort(dim=-1, descending=True, stable=True)
    rank = torch.empty_like(order).scatter_(-1, order, torch.arange(scores.shape[-1], device=scores.device)
                                            .expand_as(order).contiguous())
    return rank < counts.unsqueeze(-1)


def nm_group_counts(mask: torch.Tensor, m: int) -> torch.Tensor:
    """Kept weights in every group, (rows, groups); the last column is the padded group when a row is not a
    multiple of m."""
    return _groups(mask.bool(), m, False).sum(-1)


def nm_mask(scores: torch.Tensor, n: int, m: int, k: int) -> torch.Tensor:
    """N:M mask of `scores`' shape: the n highest scores of every full group of m, and in the padded last groups
    (when a row is not a multiple of m) at most n each, the highest of them, so that the layer keeps exactly k."""
    g = _groups(scores.detach().float(), m, float("-inf"))
    rows, groups, _ = g.shape
    counts = torch.full((rows, groups), n, dtype=torch.long, device=g.device)
    tail = scores[0].numel() % m
    if tail:
        rest = k - rows * n * (groups - 1)
        top = g[:, -1, :].topk(min(n, tail), dim=-1).values  # each padded group's candidates
        if not 0 <= rest <= top.numel():
            raise ValueError(f"k={k} cannot be kept with {n}:{m} groups in a layer of shape {tuple(scores.shape)}")
        chosen = torch.zeros(top.numel(), dtype=torch.long, device=g.device)
        chosen[top.flatten().topk(rest).indices] = 1
        counts[:, -1] = chosen.view_as(top).sum(1)
    elif k != rows * n * groups:
        raise ValueError(f"k={k} cannot be kept with {n}:{m} groups in a layer of shape {tuple(scores.shape)}")
    return _ungroup(_keep_per_group(g, counts), scores)


def nm_regrow(kept: torch.Tensor, counts: torch.Tensor, m: int, generator: torch.Generator) -> torch.Tensor:
    """Refill every group to counts[row, group] weights: all of `kept`, plus random others of the same group."""
    noise = torch.rand(kept.shape, generator=generator).to(kept.device)  # in [0, 1): below every kept weight's 2
    scores = torch.where(kept, 2.0, noise)
    return _ungroup(_keep_per_group(_groups(scores, m, float("-inf")), counts), kept)


def nm_problem(name: str, mask: torch.Tensor, n: int, m: int) -> str | None:
    """What breaks the N:M pattern in one layer's mask, or None."""
    counts = nm_group_counts(mask, m)
    tail = mask[0].numel() % m
    full = counts[:, :-1] if tail else counts
    bad = (full != n).nonzero()
    if len(bad):
        row, group = bad[0].tolist()
        return (f"{name}: group {group} of output unit {row} holds {int(full[row, group])} weights, expected exactly "
                f"{n} ({n}:{m}; {len(bad)} such groups)")
    if tail and bool((counts[:, -1] > min(n, tail)).any()):
        row = int((counts[:, -1] > min(n, tail)).nonzero()[0])
        return (f"{name}: the padded last group of output unit {row} holds {int(counts[row, -1])} of its {tail} "
                f"weights, expected at most {min(n, tail)} ({n}:{m})")
    return None


# ------------------------------------------------------------------------------------------ channels
@dataclass(frozen=True)
class ChannelGroup:
    """Channels that exist together: written by `producers` (conv module, BatchNorm module), read by `consumers`
    (conv or linear modules, whose input channels they are)."""
    name: str
    size: int
    producers: tuple
    consumers: tuple


def channel_groups(model: nn.Module) -> list[ChannelGroup]:
    """The channel groups of a hslib ResNet or VGG (module docstring), in module order."""
    from ..models import VGG, ResNet

    if isinstance(model, ResNet):
        return _resnet_groups(model)
    if isinstance(model, VGG):
        return _vgg_groups(model)
    raise ValueError(f"model={type(model).__name__!r} has no known channel structure; allowed values: a hslib "
                     f"ResNet or VGG (hslib.models.build_model)")


def _resnet_groups(model) -> list[ChannelGroup]:
    groups, stream, readers, size, k = [], [("conv1", "bn1")], [], model.conv1.out_channels, 1
    for s in range(1, 5):
        for j, block in enumerate(getattr(model, f"layer{s}")):
            at = f"layer{s}.{j}"
            readers.append(f"{at}.conv1")
            if len(block.shortcut):  # a projection shortcut reads this stream and starts the next one
                readers.append(f"{at}.shortcut.0")
                groups.append(ChannelGroup(f"stream {k}", size, tuple(stream), tuple(readers)))
                stream, readers = [(f"{at}.shortcut.0", f"{at}.shortcut.1")], []
                size, k = block.conv2.out_channels, k + 1
            groups.append(ChannelGroup(f"{at}.conv1", block.conv1.out_channels, ((f"{at}.conv1", f"{at}.bn1"),),
                                       (f"{at}.conv2",)))
            stream.append((f"{at}.conv2", f"{at}.bn2"))
    groups.append(ChannelGroup(f"stream {k}", size, tuple(stream), tuple(readers) + ("fc",)))
    return groups


def _vgg_groups(model) -> list[ChannelGroup]:
    convs = [(i, m) for i, m in enumerate(model.features) if isinstance(m, nn.Conv2d)]
    head = "classifier.0" if isinstance(model.classifier, nn.Sequential) else "classifier"
    groups = []
    for j, (i, conv) in enumerate(convs):
        reader = f"features.{convs[j + 1][0]}" if j + 1 < len(convs) else head
        groups.append(ChannelGroup(f"features.{i}", conv.out_channels, ((f"features.{i}", f"features.{i + 1}"),),
                                   (reader,)))
    return groups


def allowed_positions(shapes: dict, groups: list[ChannelGroup], removed: list[torch.Tensor]) -> dict:
    """{layer module name: boolean tensor of its weight's shape}: False where a removed channel's weights are (its
    rows in the layers that write it, its input slice in the layers that read it)."""
    allowed = {name: torch.ones(shape, dtype=torch.bool) for name, shape in shapes.items()}
    for g, r in zip(groups, removed):
        for conv, _ in g.producers:
            allowed[conv][r] = False
        for reader in g.consumers:
            allowed[reader][:, r] = False
    return allowed


def _removed(which: torch.Tensor, g: ChannelGroup) -> str:
    return f"channel {int(which.nonzero()[0])} of {g.name} is removed ({int(which.sum())} such)"


def channel_problem(model: nn.Module, masks: dict, groups: list[ChannelGroup], removed: list) -> str | None:
    """What breaks the channel pattern, or None: a removed channel must be out of the mask of every conv that writes
    it, zero in its conv bias and BatchNorm weight and bias, and out of the mask of every layer that reads it."""
    modules = dict(model.named_modules())
    for g, r in zip(groups, removed):
        if not r.any():
            continue
        for conv, bn in g.producers:
            active = masks[conv].flatten(1).any(1).cpu() & r
            if active.any():
                return f"{_removed(active, g)}, but {conv} still has active weights in its output row"
            for what, p in (("bias of " + conv, modules[conv].bias), ("BatchNorm weight of " + bn, modules[bn].weight),
                            ("BatchNorm bias of " + bn, modules[bn].bias)):
                nonzero = (p.detach() != 0).cpu() & r if p is not None else r & False
                if nonzero.any():
                    return f"{_removed(nonzero, g)}, but the {what} is not zero there"
        for reader in g.consumers:
            read = masks[reader].transpose(0, 1).flatten(1).any(1).cpu() & r
            if read.any():
                return f"{_removed(read, g)}, but {reader} still reads it (active weights in its input slice)"
    return None


@torch.no_grad()
def remove_channels(model: nn.Module, groups: list[ChannelGroup], removed: list[torch.Tensor]):
    """Zero the removed channels in place: their rows in every conv that writes them (and the conv bias), their
    BatchNorm weight and bias, and their input slice in every layer that reads them."""
    modules = dict(model.named_modules())
    for g, r in zip(groups, removed):
        r = r.to(next(model.parameters()).device)
        for conv, bn in g.producers:
            for p in (modules[conv].weight, modules[conv].bias, modules[bn].weight, modules[bn].bias):
                if p is not None:
                    p[r] = 0
        for reader in g.consumers:
            modules[reader].weight[:, r] = 0


# ------------------------------------------------------------------------------------------ compact export
def _set(model: nn.Module, name: str, module: nn.Module):
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, module)


def _sliced(layer: nn.Module, keep: torch.Tensor, dim: int) -> nn.Module:
    """A copy of a conv, linear or BatchNorm layer with only the `keep` channels of dimension `dim` (0: outputs,
    1: inputs)."""
    new = copy.deepcopy(layer)
    keep = keep.to(layer.weight.device)
    new.weight = nn.Parameter(layer.weight.detach().index_select(dim, keep).contiguous())
    if isinstance(layer, nn.BatchNorm2d):
        new.bias = nn.Parameter(layer.bias.detach()[keep].clone())
        new.running_mean, new.running_var = layer.running_mean[keep].clone(), layer.running_var[keep].clone()
        new.num_features = len(keep)
        return new
    if dim == 0 and layer.bias is not None:
        new.bias = nn.Parameter(layer.bias.detach()[keep].clone())
    if isinstance(layer, nn.Conv2d):
        new.out_channels, new.in_channels = new.weight.shape[0], new.weight.shape[1]
    else:
        new.out_features, new.in_features = new.weight.shape
    return new


@torch.no_grad()
def compact(model: nn.Module) -> nn.Module:
    """A physically smaller copy of a channel-pruned hslib ResNet or VGG that computes the same function: every
    channel that no layer reads (its input slice is zero in all of them) is cut out of the convs and BatchNorms
    that write it and the layers that read it. Each group keeps at least one channel. The model is not changed."""
    groups = channel_groups(model)
    modules = dict(model.named_modules())
    keeps = []
    for g in groups:
        read = torch.zeros(g.size, dtype=torch.bool)
        for reader in g.consumers:
            read |= (modules[reader].weight != 0).transpose(0, 1).flatten(1).any(1).cpu()
        read[0] |= not read.any()
        keeps.append(read.nonzero().squeeze(1))
    small = copy.deepcopy(model)
    for g, keep in zip(groups, keeps):
        if len(keep) == g.size:
            continue
        for conv, bn in g.producers:
            _set(small, conv, _sliced(small.get_submodule(conv), keep, 0))
            _set(small, bn, _sliced(small.get_submodule(bn), keep, 0))
        for reader in g.consumers:
            _set(small, reader, _sliced(small.get_submodule(reader), keep, 1))
    return small
