"""Structured sparsity (hslib.sparse.structured and the N:M and channel methods): the density -> N:M mapping, the
pattern invariant of each method (and a broken variant of each failing on it), and the compact export of a
channel-pruned network (docs/design.md#structured-sparsity)."""
import pytest
import torch
import torch.nn.functional as F

from hslib import paper
from hslib.config import RunConfig
from hslib.models import build_model
from hslib.sparse import MethodCheckError, channel_groups, check_method, compact, count, implementation, maskable
from hslib.sparse.check import STEPS_PER_EPOCH, initialised, train_steps
from hslib.sparse.methods import SET, ChannelDST, ChannelOMP, NMDynamic, NMRandom
from hslib.sparse.structured import nm_group_counts, nm_mask, remove_channels
from hslib.vocabulary import METHODS, nm_pattern

NM = ["nm_omp", "nm_dynamic", "nm_random"]
CHANNEL = ["channel_omp", "channel_dst"]


# ------------------------------------------------------------------------------------------ N:M
def test_density_maps_to_the_smallest_n_m_pattern_with_groups_of_at_least_four():
    expect = {0.5: (2, 4), 0.25: (1, 4), 0.75: (3, 4), 0.2: (1, 5), 0.4: (2, 5), 0.8: (4, 5), 0.125: (1, 8),
              0.1: (1, 10), 0.3: (3, 10), 0.9: (9, 10), 1 / 3: (2, 6), 0.0625: (1, 16)}
    assert {d: nm_pattern(d) for d in expect} == expect
    for bad in (0.05, 0.33, 1 / 17, 0.0, 1.0, True, "0.5"):
        with pytest.raises(ValueError, match=r"has no N:M pattern; allowed values: a density N/M with 1 <= N < M"):
            nm_pattern(bad)


def test_a_config_refuses_an_n_m_method_at_a_density_without_a_pattern():
    with pytest.raises(ValueError, match=r"density=0\.05 is not allowed; allowed values: a density N/M .* for the N:M "
                                         r"method 'nm_random'"):
        RunConfig(dataset="digits", method="nm_random", density=0.05)
    assert RunConfig(dataset="digits", method="nm_random", density=0.05 * 2).distribution == "uniform"
    RunConfig(dataset="digits", method="set", density=0.05)  # unstructured methods take any density


def test_nm_mask_keeps_the_top_n_of_every_group_and_fills_a_padded_row_to_the_exact_count():
    g = torch.Generator().manual_seed(0)
    scores = torch.rand(6, 3, 3, 3, generator=g)  # rows of 27 = 6 groups of 4 + a padded group of 3
    k = count(0.5, scores.numel())  # round(0.5·162) = 81 = 6 rows · (6 groups · 2) + 9 in the padded groups
    mask = nm_mask(scores, 2, 4, k)
    assert mask.shape == scores.shape and int(mask.sum()) == k == 81
    rows, keep = scores.reshape(6, 27), mask.reshape(6, 27)
    for r in range(6):
        for start in range(0, 24, 4):  # a full group: exactly its two highest scores
            top = set(rows[r, start:start + 4].topk(2).indices.tolist())
            assert set(keep[r, start:start + 4].nonzero().squeeze(1).tolist()) == top
    tail = keep[:, 24:].sum(1)
    assert int(tail.sum()) == 9 and int(tail.max()) <= 2
    counts = nm_group_counts(mask, 4)
    assert counts.shape == (6, 7) and bool((counts[:, :6] == 2).all())
    with pytest.raises(ValueError, match=r"k=80 cannot be kept with 2:4 groups"):
        nm_mask(torch.rand(5, 8), 2, 4, 80)


@pytest.mark.parametrize("name", NM)
@pytest.mark.parametrize("density", [0.5, 0.2])
def test_every_group_holds_exactly_n_after_init_and_after_every_update(name, density):
    cfg, model, m, parent = initialised(name, density)
    n, mm = nm_pattern(density)
    assert (m.n, m.m) == (n, mm) and m.masks.active() == [count(density, p.numel()) for p in m.masks.params]

    def full_groups_hold_n():
        for i, p in enumerate(m.masks.params):
            counts = nm_group_counts(m.masks.bool(i), mm)
            full = counts[:, :-1] if p[0].numel() % mm else counts
            assert bool((full == n).all()), m.masks.names[i]
            assert m.pattern_problem() is None

    full_groups_hold_n()
    start = [m.masks.bool(i).clone() for i in range(len(m.masks))]
    before = [nm_group_counts(mask, mm) for mask in start]
    _, events = train_steps(model, m, 3 * STEPS_PER_EPOCH)
    full_groups_hold_n()
    after = [nm_group_counts(m.masks.bool(i), mm) for i in range(len(m.masks))]
    assert all(torch.equal(a, b) for a, b in zip(before, after))  # every group, padded ones too, keeps its count
    moved = sum(int((m.masks.bool(i) != s).sum()) for i, s in enumerate(start))
    if name == "nm_dynamic":
        assert len(events) == 3 and moved > 0  # the mask rewires inside the groups
    else:
        assert events == [] and moved == 0
    if name == "nm_omp":  # the parent's N largest trained magnitudes of each full group, trained weights kept
        w, keep = parent["final"]["layer2.0.conv2.weight"].abs(), start[m.masks.names.index("layer2.0.conv2.weight")]
        for r in range(w.shape[0]):
            row, kept = w[r].flatten(), keep[r].flatten()
            for s in range(0, len(row) - len(row) % mm, mm):
                assert set(kept[s:s + mm].nonzero().squeeze(1).tolist()) == set(row[s:s + mm].topk(n).indices.tolist())


def test_nm_dynamic_removes_by_mocanus_rule_and_regrows_in_the_same_group():
    cfg, model, m, _ = initialised("nm_dynamic", 0.5)
    train_steps(model, m, STEPS_PER_EPOCH - 1)
    old = [m.masks.bool(i).clone() for i in range(len(m.masks))]
    weights = [p.detach().clone() for p in m.masks.params]
    m.update(STEPS_PER_EPOCH, None)
    for i, p in enumerate(m.masks.params):
        new = m.masks.bool(i)
        removed = SET.removal(m, i, weights[i].flatten(), old[i].flatten(), m.zeta(STEPS_PER_EPOCH))
        dropped = old[i].flatten() & ~new.flatten()
        assert set(dropped.nonzero().squeeze(1).tolist()) <= set(removed.tolist())  # only what the rule named
        assert torch.all(p.detach()[new & ~old[i]] == 0)  # newly grown weights start at zero


# ------------------------------------------------------------------------------------------ channels
def test_resnet18_has_twelve_channel_groups_whose_writers_and_readers_agree_on_the_size():
    model = build_model("resnet18", 10, width=0.0625)
    groups = channel_groups(model)
    assert [g.name for g in groups if g.name.startswith("stream")] == ["stream 1", "stream 2", "stream 3", "stream 4"]
    assert len(groups) == 12 and sum(len(g.producers) for g in groups) == 20  # each conv once
    modules = dict(model.named_modules())
    for g in groups:
        assert all(modules[c].out_channels == modules[b].num_features == g.size for c, b in g.producers)
        assert all(modules[r].weight.shape[1] == g.size for r in g.consumers)
    stream1 = next(g for g in groups if g.name == "stream 1")  # closed where layer2's projection starts stream 2
    assert stream1.producers == (("conv1", "bn1"), ("layer1.0.conv2", "layer1.0.bn2"),
                                 ("layer1.1.conv2", "layer1.1.bn2"))
    assert stream1.consumers == ("layer1.0.conv1", "layer1.1.conv1", "layer2.0.conv1", "layer2.0.shortcut.0")
    assert groups[-1].consumers[-1] == "fc"
    vgg = channel_groups(build_model("vgg16", 10, width=0.0625))
    assert len(vgg) == 13 and vgg[-1].consumers == ("classifier.0",)
    with pytest.raises(ValueError, match=r"model='Linear' has no known channel structure; allowed values: a hslib "
                                         r"ResNet or VGG"):
        channel_groups(torch.nn.Linear(3, 4))


def test_channel_omp_removes_the_lowest_l1_channels_and_reaches_the_density_exactly():
    cfg, model, m, parent = initialised("channel_omp", 0.2)
    assert sum(m.masks.active()) == count(0.2, sum(m.masks.sizes()))
    for g, r in zip(m.groups, m.removed):
        assert int(r.sum()) == min(round(0.5 * g.size), m.max_removed(g))  # the full fraction: 0.2 leaves room
        l1 = sum(parent["final"][f"{conv}.weight"].abs().flatten(1).sum(1) for conv, _ in g.producers)
        assert float(l1[r].max()) <= float(l1[~r].min())
    assert m.pattern_problem() is None
    _, _, dense_side, _ = initialised("channel_omp", 0.9)  # 90% of the weights do not fit in half the channels
    removed = sum(int(r.sum()) for r in dense_side.removed)
    assert 0 < removed < sum(int(r.sum()) for r in m.removed)
    assert sum(dense_side.masks.active()) == count(0.9, sum(dense_side.masks.sizes()))


def test_channel_dst_removes_the_sparsest_channels_keeping_every_layer_count():
    cfg, model, m, _ = initialised("channel_dst", 0.2)
    counts = m.masks.active()
    seen = []

    def watch(step, opt):
        seen.append([r.clone() for r in m.removed])
        assert m.pattern_problem() is None

    _, events = train_steps(model, m, 3 * STEPS_PER_EPOCH, watch=watch)
    assert len(events) == 3 and m.masks.active() == counts
    totals = [sum(int(r.sum()) for r in removed) for removed in seen]
    assert totals[0] == 0 and totals[-1] > 0 and totals == sorted(totals)  # removed only, never restored
    for earlier, later in zip(seen, seen[1:]):
        assert all(bool((a <= b).all()) for a, b in zip(earlier, later))
    assert m.updates[-1]["channels_removed"] == {g.name: int(r.sum()) for g, r in zip(m.groups, m.removed)}
    modules = dict(model.named_modules())
    for g, r in zip(m.groups, m.removed):
        for conv, bn in g.producers:
            assert torch.all(modules[conv].weight[r] == 0) and torch.all(modules[bn].weight[r] == 0)


def test_the_structured_methods_are_registered_without_changing_any_plan():
    from hslib import planning

    assert all(METHODS[n].pattern == "nm" for n in NM) and all(METHODS[n].pattern == "channel" for n in CHANNEL)
    assert [n for n in METHODS if METHODS[n].pattern] == NM + CHANNEL
    assert all(implementation(n).pattern == METHODS[n].pattern for n in METHODS)
    for profile in ("smoke", "course", "gpu", "paper"):  # the paper's runs never use them; the extension's only
        assert not {c.method for c in planning.paper_configs(profile)} & set(NM + CHANNEL)
        planned = {c.method for c in planning.all_configs(profile)} & set(NM + CHANNEL)
        assert planned == (set(NM + CHANNEL) if paper.extension(profile) else set()), profile


@pytest.mark.parametrize("name", NM + CHANNEL)
def test_every_structured_method_keeps_its_pattern_in_check_method(name):
    assert check_method(implementation(name))[-1] == "pattern holds"


# ------------------------------------------------------------------------------------------ broken variants
class Look:
    label, colour = "Broken", "#000000"


class NMPlacedAnywhere(Look, NMRandom):
    """Right count per layer, but placed at random in the layer: groups hold anything from 0 to M."""
    name = "nm_placed_anywhere"

    def init(self, ctx):
        from hslib.sparse.masks import random_mask

        gen = self.generator(0, "mask")
        self._set_masks([random_mask(p.shape, count(self.cfg.density, p.numel()), gen) for p in self.masks.params])
        self._after_mask_change(0)


class NMRegrowsAnywhere(Look, NMDynamic):
    """N:M at init, but rewired as plain SET: regrowth anywhere in the layer."""
    name = "nm_regrows_anywhere"
    rewire = SET.rewire


class ChannelForgetsBatchNorm(Look, ChannelOMP):
    """Removes channels from the masks but lets their BatchNorm live."""
    name = "channel_forgets_batchnorm"

    def _zero_removed(self):
        pass


class ChannelStillRead(Look, ChannelOMP):
    """Removes the rows of the writers, but the next layer still reads the removed channels."""
    name = "channel_still_read"

    def allowed(self, removed=None):
        from hslib.sparse.structured import allowed_positions

        removed = self.removed if removed is None else removed
        shapes = {layer: p.shape for layer, p in zip(self.layers, self.masks.params)}
        readers_kept = [g.__class__(g.name, g.size, g.producers, ()) for g in self.groups]
        allowed = allowed_positions(shapes, readers_kept, removed)
        return [allowed[layer] for layer in self.layers]


class ChannelRegrowsIntoRemoved(Look, ChannelDST):
    """Chase-like, but SET's regrowth may bring a removed channel's weights back."""
    name = "channel_regrows_into_removed"
    regrowth = SET.regrowth


@pytest.mark.parametrize("cls,needles", [
    (NMPlacedAnywhere, ["after init,", "expected exactly 1 (1:5"]),
    (NMRegrowsAnywhere, ["after the mask update at step 5,", "expected exactly 1 (1:5"]),
    (ChannelForgetsBatchNorm, ["after init,", "BatchNorm", "is not zero there"]),
    (ChannelStillRead, ["after init,", "still reads it"]),
    (ChannelRegrowsIntoRemoved, ["after the mask update at step", "is removed"]),
])
def test_a_broken_structured_method_fails_on_its_pattern(cls, needles):
    before = dict(METHODS)
    with pytest.raises(MethodCheckError) as e:
        check_method(cls)
    assert e.value.invariant == "pattern holds", str(e.value)
    assert all(n in str(e.value) for n in needles), str(e.value)
    assert dict(METHODS) == before


# ------------------------------------------------------------------------------------------ compact export
def _trained_stats(model):
    """Give every BatchNorm running statistics that are not the identity, so eval mode tests them too."""
    g = torch.Generator().manual_seed(3)
    for mod in model.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.copy_(torch.randn(mod.num_features, generator=g) * 0.1)
            mod.running_var.copy_(torch.rand(mod.num_features, generator=g) + 0.5)


@pytest.mark.parametrize("model_name", ["resnet18", "vgg16", "vgg19"])
def test_compact_is_physically_smaller_and_computes_the_same_outputs(model_name):
    torch.manual_seed(0)
    model = build_model(model_name, 10, width=0.125)
    groups = channel_groups(model)
    g = torch.Generator().manual_seed(1)
    removed = [torch.randperm(grp.size, generator=g)[:grp.size // 2].sort().values for grp in groups]
    removed = [torch.zeros(grp.size, dtype=torch.bool).index_fill_(0, r, True) for grp, r in zip(groups, removed)]
    with torch.no_grad():
        _trained_stats(model)
        remove_channels(model, groups, removed)
    model.eval()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    small = compact(model).eval()
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())  # the pruned model is left as it was
    x = torch.rand(16, 3, 32, 32, generator=g)
    with torch.no_grad():
        assert float((model(x) - small(x)).abs().max()) <= 1e-5
    kept = {grp.name: grp.size - int(r.sum()) for grp, r in zip(groups, removed)}
    smodules = dict(small.named_modules())
    for grp in groups:
        assert all(smodules[c].out_channels == kept[grp.name] for c, _ in grp.producers)
        assert all(smodules[r].weight.shape[1] == kept[grp.name] for r in grp.consumers)
    full, fewer = (sum(p.numel() for _, p in maskable(net)) for net in (model, small))
    assert fewer < 0.35 * full  # half of every channel group: about a quarter of the weights (first/last layers more)
    small.train()
    F.cross_entropy(small(x), torch.randint(0, 10, (16,), generator=g)).backward()  # it trains as a network of its own
    assert all(p.grad is not None and p.grad.shape == p.shape for p in small.parameters())


def test_compact_of_a_channel_omp_run_matches_the_masked_network():
    cfg, model, m, _ = initialised("channel_omp", 0.2)
    train_steps(model, m, 2)
    _trained_stats(model)
    model.eval()
    small = compact(model).eval()
    x = torch.rand(8, 3, 32, 32)
    with torch.no_grad():  # the fake parent's weights make outputs of ~1e13: the gap is relative to them
        out = model(x)
        assert float((out - small(x)).abs().max()) <= 1e-5 * float(out.abs().max())
    removed = sum(int(r.sum()) for r in m.removed)
    assert sum(p.numel() for p in small.parameters()) < sum(p.numel() for p in model.parameters())
    assert removed > 0 and sum(int((p != 0).sum()) for _, p in maskable(small)) <= sum(m.masks.active())
    modules = dict(small.named_modules())
    for g, r in zip(m.groups, m.removed):  # every removed channel is physically gone
        assert all(modules[conv].out_channels <= g.size - int(r.sum()) for conv, _ in g.producers)


def test_compact_of_an_unpruned_network_changes_nothing():
    model = build_model("resnet18", 10, width=0.0625).eval()
    small = compact(model).eval()
    assert [tuple(p.shape) for p in small.parameters()] == [tuple(p.shape) for p in model.parameters()]
    x = torch.rand(4, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(x), small(x))
