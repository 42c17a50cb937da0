"""The levers that put the course profile in the paper's regime (runs that fit their training set): a fixed
number of batches per epoch, a smaller input size, digits without mirroring, the fit measured on the run's own
training subset; the confirmatory seeds and the lottery-ticket controls in the plan."""
import pytest
import torch

from hslib import data as hdata
from hslib import planning
from hslib.architectures import IMAGE_SIZES, masked_layers, parameter_count
from hslib.config import RunConfig, base_config, profile
from hslib.findings import CONFIRMATORY, HIGH
from hslib.flops import dense_layer_flops
from hslib.models import build_model
from hslib.sparse import count
from hslib.sparse.check import initialised
from hslib.sparse.masks import global_topk_masks
from hslib.vocabulary import MODELS


# ------------------------------------------------------------------------------------------ the loader
def _images(n):
    return torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 3, 4, 4).contiguous()


@pytest.mark.parametrize("n, batches, bs", [(50, 7, 16), (50, 2, 16), (10, 5, 16), (130, 3, 64)])
def test_a_fixed_number_of_full_batches_per_epoch_made_of_whole_shuffled_passes(n, batches, bs):
    ld = hdata.Loader(_images(n), torch.arange(n), bs, train=True, seed=1, batches=batches)
    out = [i for i, _, _ in ld.epoch(0)]
    assert len(ld) == batches == len(out) and all(len(i) == bs for i in out)
    seen = torch.cat(out)
    passes = -(-batches * bs // n)
    for k in range(passes - 1):  # every pass but the last holds every sample once
        assert sorted(seen[k * n:(k + 1) * n].tolist()) == list(range(n))
    again = torch.cat([i for i, _, _ in hdata.Loader(_images(n), torch.arange(n), bs, train=True, seed=1,
                                                     batches=batches).epoch(0)])
    assert torch.equal(seen, again)  # fixed by (seed, epoch): resumable
    assert not torch.equal(seen, torch.cat([i for i, _, _ in ld.epoch(1)]))


def test_fixed_batches_refuse_bad_values_and_evaluation_loaders():
    with pytest.raises(ValueError, match=r"batches=-1 .*allowed values: 0 \(one pass\) or an integer >= 1"):
        hdata.Loader(_images(8), torch.arange(8), 4, train=True, batches=-1)
    with pytest.raises(ValueError, match="for training loaders"):
        hdata.Loader(_images(8), torch.arange(8), 4, train=False, batches=3)


def test_a_run_with_steps_per_epoch_takes_exactly_that_many_steps_whatever_its_data_ratio():
    for ratio in (0.1, 1.0):
        cfg = base_config("course", dataset="digits", model="resnet18", data_ratio=ratio)
        assert cfg.steps_per_epoch == 20
        n = round(ratio * 1294)
        ld = hdata.Loader(_images(n), torch.arange(n), cfg.batch_size, train=True, batches=cfg.steps_per_epoch)
        assert len(ld) * cfg.epochs == 20 * cfg.epochs == 240


# ------------------------------------------------------------------------------------------ resolution
def test_resize_averages_areas_when_shrinking_and_keeps_its_input_when_the_size_is_its_own():
    x = torch.randint(0, 256, (3, 3, 32, 32), dtype=torch.uint8)
    small = hdata.resize(x, 16)
    blocks = x.float().view(3, 3, 16, 2, 16, 2).mean((3, 5))
    assert small.dtype == torch.uint8 and small.shape == (3, 3, 16, 16)
    assert torch.equal(small, blocks.round().to(torch.uint8))
    assert hdata.resize(x, 0) is x and hdata.resize(x, 32) is x
    assert hdata.resize(small, 32).shape == (3, 3, 32, 32)


@pytest.mark.parametrize("size", [7, 12, 128, True, "16"])
def test_image_size_outside_the_models_sizes_is_one_clear_error(size):
    with pytest.raises(ValueError, match=r"image_size=.* allowed values: \[0, 16, 32, 64\]"):
        RunConfig(image_size=size)


@pytest.mark.parametrize("value", [-1, 2.5, True])
def test_steps_per_epoch_must_be_a_whole_number(value):
    with pytest.raises(ValueError, match=r"steps_per_epoch=.* allowed values: 0 \(one pass over the subset\)"):
        RunConfig(steps_per_epoch=value)


def test_padding_scales_with_the_side_and_digits_are_never_mirrored():
    assert hdata.augmentation("digits", 16) == {"crop": 1, "flip": False, "rotate": 0.0}
    assert hdata.augmentation("digits") == {"crop": 2, "flip": False, "rotate": 0.0}
    assert hdata.augmentation("tinyimagenet") == {"crop": 4, "flip": True, "rotate": 0.0}
    assert hdata.augmentation("cifar10", 16)["crop"] == 2
    assert hdata.augmentation("cifar100") == {"crop": 4, "flip": True, "rotate": 15.0}
    assert hdata.augmentation("cifar10", 64)["crop"] == 8


@pytest.mark.parametrize("model", list(MODELS))
def test_every_model_takes_16x16_inputs_and_its_table_matches_the_traced_flops(model):
    net = build_model(model, 10, width=0.125, image_size=16)
    assert net(torch.rand(2, 3, 16, 16)).shape == (2, 10)
    table = masked_layers(model, 10, 0.125, 16)
    traced = dense_layer_flops(net, 16)
    assert {r["name"]: r["flops"] for r in table} == traced
    assert parameter_count(model, 10, 0.125, 16) == sum(p.numel() for p in net.parameters())
    assert 16 in IMAGE_SIZES


# ------------------------------------------------------------------------------------------ lottery-ticket control
def test_lth_fresh_keeps_lths_mask_but_not_its_initial_weights():
    cfg, model, m, parent = initialised("lth_fresh")
    _, _, lth, _ = initialised("lth")
    sizes = m.masks.sizes()
    expect = global_topk_masks([parent["final"][n].abs() for n in m.masks.names], count(cfg.density, sum(sizes)))
    for i, (n, p) in enumerate(zip(m.masks.names, m.masks.params)):
        keep = m.masks.bool(i)
        assert torch.equal(keep, expect[i]) and torch.equal(keep, lth.masks.bool(i))
        assert torch.all(p.detach()[~keep] == 0)
        if keep.sum() > 8:  # a fresh draw: not the parent's initial weights that LTH rewinds to
            assert not torch.allclose(p.detach()[keep], parent["init"][n][keep])


def test_lth_fresh_leaves_the_global_generator_where_it_was():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    initialised("lth_fresh")  # builds a model (draws), then re-initialises inside a forked generator
    torch.manual_seed(5)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("model", list(MODELS))
def test_initialise_again_redraws_every_weight_with_the_models_own_rule(model):
    torch.manual_seed(0)
    net = build_model(model, 10, width=0.125)
    before = {k: v.clone() for k, v in net.state_dict().items() if k.endswith("weight")}
    net.initialise()
    after = net.state_dict()
    moved = [k for k in before if not torch.equal(before[k], after[k])]
    conv_linear = [n for n, mod in net.named_modules() if isinstance(mod, (torch.nn.Conv2d, torch.nn.Linear))]
    assert all(f"{n}.weight" in moved for n in conv_linear)


# ------------------------------------------------------------------------------------------ the plan
def test_only_the_confirmatory_runs_get_the_confirmatory_seeds():
    P = profile("course")
    configs = planning.all_configs("course")
    extra = [c for c in configs if c.seed not in P["seeds"]]
    assert {c.seed for c in extra} == set(P["confirmatory_seeds"]) - set(P["seeds"])
    methods = {m for f in CONFIRMATORY for g in (f.a, f.b) for m in g.methods} | {"dense"}
    assert {c.method for c in extra} <= methods
    # each extra seed repeats the same runs, and each of those runs exists at the exploratory seeds too
    per_seed = {s: sorted(c.replace(seed=0).id for c in extra if c.seed == s) for s in {c.seed for c in extra}}
    assert len({tuple(v) for v in per_seed.values()}) == 1
    base_ids = {c.id for c in configs if c.seed == 0}
    assert set(next(iter(per_seed.values()))) <= base_ids
    assert not [c for c in planning.all_configs("smoke") if c.seed not in profile("smoke")["seeds"]]


def test_the_lottery_ticket_controls_are_planned_at_high_sparsity_and_twice_the_epochs():
    controls = planning.control_configs("course")
    base = base_config("course")
    assert {c.method for c in controls} == {"set", "snip", "lth_fresh"}
    assert all(c.sparsity >= HIGH - 1e-9 and c.data_ratio == 1.0 and c.corruption for c in controls)
    assert all(c.epochs == (2 * base.epochs if c.method != "lth_fresh" else base.epochs) for c in controls)
    assert {c.seed for c in controls} == set(profile("course")["seeds"])
    assert set(c.id for c in controls) <= set(c.id for c in planning.all_configs("course"))
    waves = planning.plan(controls)
    assert all(planning.parent_config(c) in waves[1] for c in controls if c.method == "lth_fresh")


def test_cpu_training_stays_nchw_where_torchs_nhwc_backward_fails_on_odd_batches():
    from hslib.device import wants_channels_last

    assert wants_channels_last(torch.device("cuda")) and not wants_channels_last(torch.device("cpu"))
    model = build_model("resnet18", 10, width=0.125, image_size=16)  # strided 1×1 shortcuts
    x = torch.rand(3, 3, 16, 16)  # an odd batch, as a partial last batch often is
    torch.nn.functional.cross_entropy(model(x), torch.zeros(3, dtype=torch.long)).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters() if p.requires_grad)
