import pytest

from hslib.config import PROFILES, RunConfig, base_config, profile


def test_id_is_stable_and_content_derived():
    a = RunConfig(dataset="digits", method="set", density=0.2)
    b = RunConfig.from_dict(a.to_dict())
    assert a.id == b.id and len(a.id) == 12
    assert a.replace(seed=1).id != a.id
    assert a.replace(density=0.3).id != a.id


def test_execution_fields_and_unused_fields_do_not_change_the_id():
    a = RunConfig(dataset="digits", method="dense")
    assert a.replace(device="cpu", compile=True, data_root="/elsewhere").id == a.id
    assert a.replace(update_every=1.0, zeta=0.3).id == a.id  # dense runs read no sparse knobs
    assert a.replace(adv_steps=3).id == a.id  # not adversarial
    assert a.replace(severity=2).id == a.id  # not corrupted
    assert a.replace(subset="hard").id == a.id  # at data_ratio 1 every subset is all the data
    assert a.replace(subset="hard", data_ratio=0.5).id != a.replace(data_ratio=0.5).id


def test_method_default_distribution_is_filled_in():
    assert RunConfig(method="set", density=0.2).distribution == "erk"
    assert RunConfig(method="snip", density=0.2).distribution == "global"
    assert RunConfig(method="uniform", density=0.2).distribution == "uniform"


def test_profiles_are_literal_and_build_valid_configs():
    for name in PROFILES:
        p = profile(name)
        cfg = base_config(name)
        assert cfg.profile == name
        for k, v in p["run"].items():
            assert getattr(cfg, k) == v
    p = profile("smoke")
    p["seeds"].append(99)  # a copy: the literal table is untouched
    assert 99 not in PROFILES["smoke"]["seeds"]


@pytest.mark.parametrize("fields,name,allowed", [
    ({"dataset": "mnist"}, "dataset", "cifar100"),
    ({"model": "resnet50"}, "model", "vgg19"),
    ({"profile": "huge"}, "profile", "smoke"),
    ({"method": "magic", "density": 0.5}, "method", "set"),
    ({"method": "set", "density": 0.5, "distribution": "global"}, "distribution", "erk"),
    ({"method": "set", "density": 1.5}, "density", "(0, 1]"),
    ({"method": "set", "density": 0.0}, "density", "(0, 1]"),
    ({"method": "dense", "density": 0.5}, "density", "1.0 for method='dense'"),
    ({"data_ratio": 0.0}, "data_ratio", "(0, 1]"),
    ({"data_ratio": 1.2}, "data_ratio", "(0, 1]"),
    ({"batch_size": 0}, "batch_size", "integer >= 1"),
    ({"subset": "hardest"}, "subset", "hard_balanced"),
    ({"corruption": "fog+rain"}, "corruption", "gaussian_noise"),
    ({"severity": 7, "corruption": "fog"}, "severity", "6"),
    ({"adversarial": "l1"}, "adversarial", "linf"),
    ({"device": "tpu"}, "device", "cuda"),
    ({"precision": "fp16"}, "precision", "['fp32', 'bf16']"),
    ({"precision": 16}, "precision", "['fp32', 'bf16']"),
])
def test_bad_values_raise_one_clear_error(fields, name, allowed):
    with pytest.raises(ValueError) as e:
        RunConfig(**fields)
    msg = str(e.value)
    assert msg.startswith(f"{name}=") and allowed in msg


def test_unknown_field_is_named():
    with pytest.raises(ValueError, match="unknown RunConfig field"):
        RunConfig.from_dict({"dataset": "digits", "sparsity": 0.5})
    with pytest.raises(ValueError, match="unknown RunConfig field"):
        RunConfig().replace(lr_schedule="cosine")


def test_precision_is_part_of_the_id():
    from hslib.config import EXECUTION_FIELDS

    a = RunConfig(dataset="digits")
    assert a.precision == "fp32" and "precision" not in EXECUTION_FIELDS
    assert a.replace(precision="bf16").id != a.id
    assert RunConfig.from_dict(a.replace(precision="bf16").to_dict()).precision == "bf16"
    s = RunConfig(dataset="digits", method="set", density=0.2)  # sparse and scoring runs too
    assert s.replace(precision="bf16").id != s.id
