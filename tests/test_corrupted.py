import numpy as np
import pytest
import torch

from hslib import corrupted, train
from hslib.config import RunConfig
from hslib.corruptions import corrupt
from hslib.data import load_dataset


def test_robustbench_layout_round_trips(tmp_path):
    arr = np.random.RandomState(0).randint(0, 256, (5 * 7, 32, 32, 3), dtype=np.uint8)
    labels = np.tile(np.arange(7), 5)
    corrupted.write_layout(tmp_path, "fog", arr, labels)
    back = corrupted.read_layout(tmp_path, "fog", 7, 5)
    assert back.shape == (5, 7, 32, 32, 3) and np.array_equal(back.reshape(35, 32, 32, 3), arr)
    assert np.array_equal(np.load(tmp_path / "labels.npy"), labels)
    assert corrupted.read_layout(tmp_path, "fog", 8, 5) is None  # wrong size: not trusted
    assert corrupted.read_layout(tmp_path, "snow", 7, 5) is None


def test_generated_split_is_cached_in_the_layout(tmp_path):
    x, y = load_dataset("digits", split="val")
    arr = corrupted.corrupted_split("digits", "val", x, y, "defocus_blur", cache=tmp_path)
    folder = corrupted.split_dir("digits", "val", x, y, tmp_path)
    assert arr.shape == (6, len(y), 32, 32, 3) and arr.dtype == np.uint8
    assert np.load(folder / "defocus_blur.npy").shape == (6 * len(y), 32, 32, 3)
    assert np.array_equal(np.load(folder / "labels.npy"), np.tile(y.numpy(), 6))
    stamp = (folder / "defocus_blur.npy").stat().st_mtime_ns
    again = corrupted.corrupted_split("digits", "val", x, y, "defocus_blur", cache=tmp_path)
    assert (folder / "defocus_blur.npy").stat().st_mtime_ns == stamp and np.array_equal(again, arr)
    # Severity s is block s-1 and equals corrupting the clean split directly with the recorded seed.
    seed = corrupted._seed("digits", "val", "defocus_blur", 3) % 2**31
    assert np.array_equal(arr[2], corrupt(x, "defocus_blur", 3, seed=seed).permute(0, 2, 3, 1).numpy())


def test_mixed_gives_each_image_its_assigned_corruption(tmp_path):
    x, y = load_dataset("digits", split="val")
    names = ("gaussian_noise", "impulse_noise", "defocus_blur")
    out = corrupted.mixed("digits", "val", x, y, names, 4, cache=tmp_path)
    which = corrupted.assignment(len(y), names, "val")
    assert set(np.unique(which)) == {0, 1, 2}
    for k, name in enumerate(names):
        ref = corrupted.corrupted_split("digits", "val", x, y, name, tmp_path)[3]
        sel = np.flatnonzero(which == k)
        assert np.array_equal(out[sel].permute(0, 2, 3, 1).numpy(), ref[sel])
    assert np.array_equal(which, corrupted.assignment(len(y), names, "val"))  # fixed, not per run


def test_real_cifar_c_folder_is_picked_up(tmp_path):
    n = 12
    labels = torch.arange(n) % 10
    folder = tmp_path / "CIFAR-10-C"
    rng = np.random.RandomState(1)
    for name in ("fog", "snow"):
        corrupted.write_layout(folder, name, rng.randint(0, 256, (5 * n, 32, 32, 3), dtype=np.uint8),
                               np.tile(labels.numpy(), 5))
    assert corrupted.real_folder("cifar10", tmp_path) == folder
    assert corrupted.real_folder("cifar100", tmp_path) is None
    out = corrupted.real_test("cifar10", labels, ("fog", "snow"), 2, tmp_path)
    which = corrupted.assignment(n, ("fog", "snow"), "test")
    for i in range(n):
        src = np.load(folder / f"{('fog', 'snow')[which[i]]}.npy")[n + i]  # severity 2 = second block
        assert np.array_equal(out[i].permute(1, 2, 0).numpy(), src)
    assert corrupted.real_test("cifar10", labels, ("fog",), 6, tmp_path) is None  # no real severity 6
    with pytest.raises(ValueError, match="does not match"):
        corrupted.real_test("cifar10", labels.flip(0), ("fog",), 2, tmp_path)


def test_a_corruption_run_trains_on_corrupted_train_and_test(tmp_path, monkeypatch):
    monkeypatch.setenv("HSLIB_CACHE", str(tmp_path / "cache"))
    cfg = RunConfig(dataset="digits", width=0.0625, epochs=1, batch_size=64, profile="smoke",
                    corruption="gaussian_noise+impulse_noise+defocus_blur", severity=5, data_ratio=0.3)
    d = train.experiment_data(cfg)
    clean_tr, _ = load_dataset("digits")
    clean_te, _ = load_dataset("digits", split="test")
    assert d["corruption_source"].startswith("generated")
    assert not torch.equal(d["train"][0], clean_tr[d["train_index"]])
    assert not torch.equal(d["test"][0], clean_te)
    r = train.run(cfg, tmp_path / "runs", progress="none")
    assert r["corruption_source"].startswith("generated")
