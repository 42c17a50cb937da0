import math

import pytest
import torch
import torch.nn.functional as F

from hslib.erk import scaled_densities
from hslib.models import build_model
from hslib.sparse import Masks, count, layer_counts, layer_densities, maskable
from hslib.sparse.check import STEPS_PER_EPOCH, batch_fn, initialised, make, train_steps
from hslib.sparse.masks import global_topk_masks
from hslib.vocabulary import METHODS



def test_maskable_weights_are_every_conv_and_linear():
    model = build_model("resnet18", 10, width=0.0625)
    names = [n for n, _ in maskable(model)]
    assert len(names) == 21  # stem + 16 block convs + 3 projection shortcuts + classifier
    assert names[0] == "conv1.weight" and names[-1] == "fc.weight"
    assert sum("shortcut" in n for n in names) == 3
    assert all(n.endswith(".weight") and "bn" not in n for n in names)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_initial_density_and_distribution(name):
    cfg, model, m, parent = initialised(name)
    if name == "dense":  # no masks at all: all 21 masked-type layers report density 1, and nothing is zeroed
        assert m.masks is None and m.layer_density() == {n: 1.0 for n, _ in maskable(model)}
        assert len(m.layer_density()) == 21 and [u["density"] for u in m.updates] == [1.0]
        assert all(int((p == 0).sum()) == 0 for _, p in maskable(model))
        return
    active, sizes = m.masks.active(), m.masks.sizes()
    if name == "gmp":  # starts dense
        assert active == sizes
        return
    assert abs(sum(active) - cfg.density * sum(sizes)) <= len(sizes)  # within one weight per layer
    if name in ("set", "rigl", "random_erk", "omp_erk", "uniform"):
        assert active == layer_counts(model, cfg.distribution, cfg.density)
    if name in ("lth", "omp"):
        expect = global_topk_masks([parent["final"][n].abs() for n in m.masks.names], count(cfg.density, sum(sizes)))
        assert all(torch.equal(m.masks.bool(i), e) for i, e in enumerate(expect))
    for i, p in enumerate(m.masks.params):  # pruned weights are zero from the start
        assert torch.all(p[~m.masks.bool(i)] == 0)


@pytest.mark.parametrize("name", sorted(METHODS))
@pytest.mark.parametrize("zero_momentum", [False, True])
def test_masked_weights_stay_zero_and_density_holds_through_training(name, zero_momentum):
    cfg, model, m, _ = initialised(name, zero_momentum=zero_momentum)
    before = {n: p.detach().clone() for n, p in maskable(model)}
    opt, events = train_steps(model, m, 3 * STEPS_PER_EPOCH)
    if m.masks is None:  # dense: no mask events, and every weight of every layer trains (none is held at zero)
        assert name == "dense" and events == [] and [u["density"] for u in m.updates] == [1.0]
        for n, p in maskable(model):
            assert int((p == 0).sum()) == 0 and bool((p.detach() != before[n]).all()), n
        return
    for i, p in enumerate(m.masks.params):
        off = ~m.masks.bool(i)
        assert torch.all(p[off] == 0)
        buf = opt.state[p]["momentum_buffer"]
        if zero_momentum:
            assert torch.all(buf[off] == 0)
    if name in ("set", "rigl"):
        assert len(events) == 3
    for step, before, _ in events:
        if name in ("set", "rigl"):  # rewiring keeps every layer's count
            assert [int(b.sum()) for b in before] == m.masks.active()
    if name != "gmp":
        assert abs(sum(m.masks.active()) - cfg.density * sum(m.masks.sizes())) <= len(m.masks)


def test_set_removes_what_mocanus_rule_names_and_regrows_at_zero():
    cfg, model, m, _ = initialised("set")
    train_steps(model, m, STEPS_PER_EPOCH - 1)  # just before the first event
    step = STEPS_PER_EPOCH
    zeta = m.zeta(step)
    old_masks = [m.masks.bool(i).clone() for i in range(len(m.masks))]
    old_w = [p.detach().clone() for p in m.masks.params]
    m.update(step, None)
    removed_somewhere = named = 0
    for i, p in enumerate(m.masks.params):
        w, old, new = old_w[i].flatten(), old_masks[i].flatten(), m.masks.bool(i).flatten()
        pos = w[(w > 0) & old].sort().values
        neg = w[(w < 0) & old].sort(descending=True).values
        k_pos, k_neg = int(zeta * len(pos)), int(zeta * len(neg))
        removed = old & ~new
        removed_somewhere += bool(removed.any())
        named += bool(k_pos and k_neg)
        # Removed (and not regrown) weights are among the k smallest positives / k largest negatives.
        if k_pos:
            assert torch.all(w[removed & (w > 0)] <= pos[k_pos - 1])
        if k_neg:
            assert torch.all(w[removed & (w < 0)] >= neg[k_neg - 1])
        assert int(new.sum()) == int(old.sum())
        grown = new & ~old
        assert torch.all(p.detach().flatten()[grown] == 0)  # newly activated start at zero
        kept = new & old
        assert torch.equal(p.detach().flatten()[kept], w[kept])  # survivors (and re-grown) keep their value
    # ζ ≈ 0.2 and even the smallest layer (a 32-weight shortcut) has > 5 weights of each sign: the rule names
    # weights to drop in all 21 layers. The 9 layers ERK keeps dense have no empty slot, so they regrow exactly
    # what they dropped; the 12 sparse ones end with weights removed.
    assert zeta > 0.19 and named == 21 and removed_somewhere == 12


def test_set_keeps_an_erk_dense_layer_dense():
    cfg, model, m, _ = initialised("set", density=0.5)
    dense_layers = [i for i, (a, s) in enumerate(zip(m.masks.active(), m.masks.sizes())) if a == s]
    assert dense_layers  # ERK makes the small first conv dense at 50%
    train_steps(model, m, 2 * STEPS_PER_EPOCH)
    assert all(m.masks.active()[i] == m.masks.sizes()[i] for i in dense_layers)


def test_set_zeta_follows_the_cosine():
    _, _, m, _ = initialised("set")
    T = m.total_steps
    assert m.zeta(0) == pytest.approx(0.2) and m.zeta(T) == pytest.approx(0.001)
    assert m.zeta(T // 2) == pytest.approx(0.001 + 0.5 * 0.199)
    for t in (7, 13, 29):
        assert m.zeta(t) == pytest.approx(0.001 + 0.5 * 0.199 * (1 + math.cos(math.pi * t / T)))


def test_rigl_drops_smallest_magnitudes_and_grows_largest_gradients():
    cfg, model, m, _ = initialised("rigl")
    train_steps(model, m, STEPS_PER_EPOCH - 1)
    step = STEPS_PER_EPOCH
    zeta = m.zeta(step)
    old = [m.masks.bool(i).clone().flatten() for i in range(len(m.masks))]
    w = [p.detach().clone().flatten() for p in m.masks.params]
    grads = [p.grad.clone().flatten() for p in m.masks.params]
    m.update(step, None)
    for i in range(len(m.masks)):
        new = m.masks.bool(i).flatten()
        k = int(zeta * int(old[i].sum()))
        dropped_set = set(torch.topk(w[i][old[i]].abs(), k, largest=False).indices.tolist()) if k else set()
        after_drop = old[i].clone()
        after_drop[old[i].nonzero().squeeze(1)[list(dropped_set)]] = False
        candidates = (~after_drop).nonzero().squeeze(1)
        grow = candidates[torch.topk(grads[i][candidates].abs(), k).indices] if k else candidates[:0]
        expect = after_drop.clone()
        expect[grow] = True
        assert torch.equal(new, expect)
    assert not m.is_event(int(0.8 * m.total_steps) // STEPS_PER_EPOCH * STEPS_PER_EPOCH)  # stops at 75%


def test_gmp_follows_the_cubic_schedule_and_reaches_the_target_at_80_percent():
    cfg, model, m, _ = initialised("gmp", density=0.1)
    T = m.total_steps
    _, events = train_steps(model, m, T)
    steps = [s for s, _, _ in events]
    assert steps[-1] == round(0.8 * T) and min(steps) > round(0.1 * T)
    N = sum(m.masks.sizes())
    for (step, _, _), upd in zip(events, m.updates[1:]):
        t = (step - round(0.1 * T)) / (round(0.8 * T) - round(0.1 * T))
        sparsity = 0.9 * (1 - (1 - t) ** 3)
        assert round(upd["density"] * N) == count(1 - sparsity, N)
    assert sum(m.masks.active()) == count(0.1, N)


def test_lth_rewinds_survivors_to_the_parent_init_and_omp_keeps_trained_weights():
    for name, key in (("lth", "init"), ("omp", "final")):
        cfg, model, m, parent = initialised(name)
        for i, (n, p) in enumerate(zip(m.masks.names, m.masks.params)):
            keep = m.masks.bool(i)
            assert torch.equal(p.detach()[keep], parent[key][n][keep])
            assert torch.all(p.detach()[~keep] == 0)


def test_omp_erk_prunes_each_layer_by_magnitude_at_erk_counts():
    cfg, model, m, parent = initialised("omp_erk")
    assert m.masks.active() == layer_counts(model, "erk", 0.2)
    partial = 0
    for i, n in enumerate(m.masks.names):
        keep = m.masks.bool(i)
        w = parent["final"][n].abs()
        if 0 < keep.sum() < keep.numel():
            assert w[keep].min() >= w[~keep].max()
            partial += 1
    # At width 1/16 and density 0.2, ERK makes 9 of the 21 layers dense (the stem, layer1's four convs, the
    # three shortcuts, the classifier); the 12 others keep their largest trained magnitudes.
    assert partial == 12 and sum(a == s for a, s in zip(m.masks.active(), m.masks.sizes())) == 9


def test_snip_is_the_global_top_k_of_weight_times_gradient():
    cfg, model, m, _ = initialised("snip")
    torch.manual_seed(0)
    fresh = build_model("resnet18", 10, width=0.0625)
    x, y = batch_fn(cfg.snip_batch)
    params = [p for _, p in maskable(fresh)]
    grads = torch.autograd.grad(F.cross_entropy(fresh(x), y), params)
    expect = global_topk_masks([(p.detach() * g).abs() for p, g in zip(params, grads)], count(0.2, sum(m.masks.sizes())))
    assert all(torch.equal(m.masks.bool(i), e) for i, e in enumerate(expect))
    # SNIP's scoring pass (a train-mode forward) leaves BatchNorm statistics at their initial values.
    assert torch.equal(model.bn1.running_mean, torch.zeros_like(model.bn1.running_mean))
    assert not torch.equal(fresh.bn1.running_mean, torch.zeros_like(fresh.bn1.running_mean))
    _, _, r, _ = initialised("snip_random")
    assert r.masks.active() == m.masks.active()  # same per-layer counts, random placement
    assert any(not torch.equal(r.masks.bool(i), m.masks.bool(i)) for i in range(len(m.masks)))


def test_erk_dense_correction_and_raw_proportionality():
    model = build_model("resnet18", 10, width=0.25)
    shapes = [tuple(p.shape) for _, p in maskable(model)]
    sizes = [math.prod(s) for s in shapes]
    for density in (0.05, 0.2, 0.5, 0.8):
        dens = scaled_densities(shapes, "erk", density)
        assert all(0 < d <= 1 for d in dens)
        assert sum(d * n for d, n in zip(dens, sizes)) == pytest.approx(density * sum(sizes))
        raw = [sum(s) / math.prod(s) for s in shapes]
        ratios = {round(d / r, 9) for d, r, in zip(dens, raw) if d < 1}
        assert len(ratios) == 1  # one epsilon for every layer that is not dense
        eps = ratios.pop()
        assert all(eps * r >= 1 for d, r in zip(dens, raw) if d == 1)  # dense layers are those ERK would overfill
    assert scaled_densities(shapes, "erk", 0.5)[0] == 1.0  # the 3-channel stem is dense at 50%
    counts = layer_counts(model, "erk", 0.2)
    assert abs(sum(counts) - 0.2 * sum(sizes)) <= len(sizes)


def test_layer_densities_public_function():
    model = build_model("resnet18", 10, width=0.125)
    uni = layer_densities(model, "uniform", 0.3)
    assert set(uni) == {n for n, _ in maskable(model)} and set(uni.values()) == {0.3}
    glob = layer_densities(model, "global", 0.3)
    n = {k: p.numel() for k, p in maskable(model)}
    assert abs(sum(glob[k] * n[k] for k in n) - 0.3 * sum(n.values())) < 1
    with pytest.raises(ValueError, match="distribution='erdos'.*allowed values"):
        layer_densities(model, "erdos", 0.3)
    with pytest.raises(ValueError, match="density=1.5"):
        layer_densities(model, "erk", 1.5)


def test_masks_round_trip_through_state_dict():
    _, model, m, _ = initialised("set")
    state = m.state_dict()
    _, model2, m2 = make("set")
    m2.load_state_dict(state)
    assert all(torch.equal(m.masks.bool(i), m2.masks.bool(i)) for i in range(len(m.masks)))
    assert m2.updates == m.updates
    other = Masks(build_model("vgg19", 10, width=0.0625))
    with pytest.raises(ValueError, match="another model"):
        other.load_state_dict(state["masks"])


def test_count_rounds_to_the_nearest_integer_and_keeps_at_least_one():
    # round(density·n) with Python's round (ties go to the even integer), clamped to [1, n].
    cases = {
        (0.2, 10): 2,     # 2.0
        (0.3, 10): 3,     # 3.0000000000000004
        (0.15, 10): 2,    # 1.5 -> 2 (tie, even)
        (0.25, 10): 2,    # 2.5 -> 2 (tie, even)
        (0.35, 10): 4,    # 3.5 -> 4 (tie, even)
        (0.5, 7): 4,      # 3.5 -> 4
        (0.1, 25): 2,     # 2.5 -> 2
        (0.37, 100): 37,
        (0.9999, 10): 10,  # 9.999 -> 10
        (0.001, 100): 1,  # 0.1 -> 0, but a layer keeps at least one weight
        (1.0, 9): 9,
    }
    assert {k: count(*k) for k in cases} == cases


class _Tiny(torch.nn.Module):
    """Weights (4, 3, 3, 3), (8, 4, 3, 3) and (10, 8): n = 108, 288, 80, N = 476."""

    def __init__(self):
        super().__init__()
        self.a = torch.nn.Conv2d(3, 4, 3)
        self.b = torch.nn.Conv2d(4, 8, 3)
        self.fc = torch.nn.Linear(8, 10)


TINY_SHAPES = [(4, 3, 3, 3), (8, 4, 3, 3), (10, 8)]


def test_er_densities_and_counts_by_hand():
    # ER: raw = (c_out + c_in)/(c_out·c_in) = 7/12, 12/32 = 3/8, 18/80 = 9/40; raw·n = 63, 108, 18 (Σ 189).
    # d = 0.5: budget 238 = ε·189, ε = 34/27; densities 34/27·(7/12, 3/8, 9/40) = 119/162, 17/36, 17/60,
    # all ≤ 1; counts round(63·34/27 = 79.33) = 79, round(108·34/27 = 136) = 136, round(18·34/27 = 22.67) = 23.
    dens = scaled_densities(TINY_SHAPES, "er", 0.5)
    assert dens == pytest.approx([119 / 162, 17 / 36, 17 / 60], rel=1e-12)
    assert layer_counts(_Tiny(), "er", 0.5) == [79, 136, 23]
    # d = 0.8: budget 380.8, ε = 380.8/189 = 2.0148 puts the first layer at 2.0148·7/12 = 1.175 > 1: it is
    # dense (108). The rest: ε = (380.8 − 108)/(108 + 18) = 2.1651, densities 2.1651·3/8 = 0.81190 and
    # 2.1651·9/40 = 0.48714; counts round(233.83) = 234 and round(38.97) = 39.
    dens = scaled_densities(TINY_SHAPES, "er", 0.8)
    assert dens == pytest.approx([1.0, 272.8 / 126 * 3 / 8, 272.8 / 126 * 9 / 40], rel=1e-12)
    assert layer_counts(_Tiny(), "er", 0.8) == [108, 234, 39]


def test_erk_densities_and_counts_by_hand():
    # ERK: raw = sum(shape)/prod(shape) = 13/108, 18/288 = 1/16, 18/80 = 9/40; raw·n = 13, 18, 18 (Σ 49).
    # d = 0.2: ε = 95.2/49 = 1.9429, densities 0.23386, 0.12143, 0.43714 (all ≤ 1);
    # counts round(13·ε = 25.26) = 25, round(18·ε = 34.97) = 35, round(34.97) = 35.
    assert scaled_densities(TINY_SHAPES, "erk", 0.2) == pytest.approx(
        [95.2 / 49 * 13 / 108, 95.2 / 49 / 16, 95.2 / 49 * 9 / 40], rel=1e-12)
    assert layer_counts(_Tiny(), "erk", 0.2) == [25, 35, 35]
    # d = 0.5: ε = 238/49 = 4.857 puts the classifier at 4.857·9/40 = 1.093 > 1: dense (80). Then
    # ε = (238 − 80)/(13 + 18) = 158/31: densities 158/31·13/108 = 1027/1674 and 158/31/16 = 79/248;
    # counts round(66.26) = 66 and round(91.74) = 92; 66 + 92 + 80 = 238 = 0.5·476.
    assert scaled_densities(TINY_SHAPES, "erk", 0.5) == pytest.approx([1027 / 1674, 79 / 248, 1.0], rel=1e-12)
    assert layer_counts(_Tiny(), "erk", 0.5) == [66, 92, 80]
    # d = 0.8, two capping rounds: ε = 380.8/49 caps the classifier (1.749); then ε = 300.8/31 = 9.703 caps
    # the first conv (9.703·13/108 = 1.168); then ε = 192.8/18, and the middle conv gets 192.8/288 = 0.66944,
    # count round(192.8) = 193.
    assert scaled_densities(TINY_SHAPES, "erk", 0.8) == pytest.approx([1.0, 192.8 / 288, 1.0], rel=1e-12)
    assert layer_counts(_Tiny(), "erk", 0.8) == [108, 193, 80]
    # layer_densities reports the same numbers by parameter name; uniform is the density itself.
    assert layer_densities(_Tiny(), "erk", 0.8) == pytest.approx({"a.weight": 1.0, "b.weight": 192.8 / 288,
                                                                  "fc.weight": 1.0})
    assert layer_counts(_Tiny(), "uniform", 0.25) == [27, 72, 20]
