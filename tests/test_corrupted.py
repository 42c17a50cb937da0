import re

import numpy as np
import pytest
import torch

from hslib import corrupted, train
from hslib.config import RunConfig
from hslib.corruptions import corrupt
from hslib.data import load_dataset
from hslib.rundata import experiment_data
from hslib.seeds import derive_seed


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
    seed = derive_seed("digits", "val", "defocus_blur", 3) % 2**31
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
    d = experiment_data(cfg)
    clean_tr, _ = load_dataset("digits")
    clean_te, _ = load_dataset("digits", split="test")
    assert d["corruption_source"].startswith("generated")
    assert not torch.equal(d["train"][0], clean_tr[d["train_index"]])
    assert not torch.equal(d["test"][0], clean_te)
    r = train.run(cfg, tmp_path / "runs", progress="none")
    assert r["corruption_source"].startswith("generated")


TINY_C = ("gaussian_noise", "impulse_noise", "defocus_blur")


def _tiny_subset(shared_data, root, classes=2, train_per_class=20):
    """A small real-format tiny-imagenet-200 (the first `classes` classes of the fixture) under `root`."""
    import shutil

    src, dst = shared_data / "tiny-imagenet-200", root / "tiny-imagenet-200"
    wnids = (src / "wnids.txt").read_text().split()[:classes]
    (dst / "val" / "images").mkdir(parents=True)
    (dst / "wnids.txt").write_text("\n".join(wnids) + "\n")
    for w in wnids:
        (dst / "train" / w / "images").mkdir(parents=True)
        for p in sorted((src / "train" / w / "images").glob("*.JPEG"))[:train_per_class]:
            shutil.copy(p, dst / "train" / w / "images" / p.name)
    lines = [l for l in (src / "val" / "val_annotations.txt").read_text().splitlines() if l.split("\t")[1] in wnids]
    (dst / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    for l in lines:
        shutil.copy(src / "val" / "images" / l.split("\t")[0], dst / "val" / "images" / l.split("\t")[0])
    return wnids, [l.split("\t")[:2] for l in lines]


def _write_tiny_c(root, files, names=TINY_C, severity=5):
    """A Tiny-ImageNet-C tree in the official layout: each val image with a corner block marking its corruption
    (the first image of each corruption saved greyscale)."""
    from PIL import Image

    for k, name in enumerate(names):
        for j, (fname, wnid) in enumerate(files):
            img = np.asarray(Image.open(root / "tiny-imagenet-200" / "val" / "images" / fname).convert("RGB")).copy()
            img[:8, :8] = 40 + 80 * k
            d = root / "Tiny-ImageNet-C" / name / str(severity) / wnid
            d.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).convert("L" if j == 0 else "RGB").save(d / fname, quality=95)


def test_real_tiny_imagenet_c_folder_is_the_test_split(shared_data, tmp_path, monkeypatch):
    from PIL import Image

    from hslib import data as hdata

    root = tmp_path / "data"
    monkeypatch.setenv("HSLIB_CACHE", str(tmp_path / "cache"))
    hdata._official.cache_clear()
    wnids, files = _tiny_subset(shared_data, root)
    _write_tiny_c(root, files)
    (root / "Tiny-ImageNet-C" / "fog" / "5" / "n00000000").mkdir(parents=True)  # extra folders are ignored
    cfg = RunConfig(dataset="tinyimagenet", model="resnet18", width=0.0625, epochs=1, batch_size=16,
                    profile="smoke", corruption="+".join(TINY_C), severity=5, data_root=str(root))
    d = experiment_data(cfg)
    assert d["corruption_source"] == "real Tiny-ImageNet-C"
    xte, yte = d["test"]
    clean, clean_y = load_dataset("tinyimagenet", root, "test")
    assert len(yte) == len(files) == 100 and torch.equal(yte, clean_y)
    assert xte.dtype == torch.uint8 and xte.shape == (100, 3, 64, 64)
    which = corrupted.assignment(len(yte), TINY_C, "test")
    assert set(np.unique(which)) == {0, 1, 2}
    for i, (fname, wnid) in enumerate(files):  # image i is file i of val_annotations.txt, decoded, with its label
        path = root / "Tiny-ImageNet-C" / TINY_C[which[i]] / "5" / wnid / fname
        assert np.array_equal(xte[i].numpy(), np.asarray(Image.open(path).convert("RGB")).transpose(2, 0, 1))
        assert yte[i] == wnids.index(wnid)
        assert not torch.equal(xte[i], clean[i])
    assert torch.equal(xte[0, 0], xte[0, 1]) and torch.equal(xte[0, 0], xte[0, 2])  # greyscale file -> RGB
    # The decoded arrays are cached (one per corruption and severity) and read back without decoding again.
    cached = sorted((tmp_path / "cache" / "corrupted" / "Tiny-ImageNet-C").glob("*.npy"))
    assert [p.name.rsplit("-", 1)[0] for p in cached] == sorted(f"{n}-5" for n in TINY_C)
    stamps = [p.stat().st_mtime_ns for p in cached]
    again = experiment_data(cfg)
    assert torch.equal(again["test"][0], xte) and [p.stat().st_mtime_ns for p in cached] == stamps
    # Severity 6 does not exist in the real data: the test split is generated, and the source says so.
    d6 = experiment_data(cfg.replace(severity=6))
    assert d6["corruption_source"].startswith("generated") and "no severity 6" in d6["corruption_source"]
    assert d6["test"][0].shape == xte.shape and not torch.equal(d6["test"][0], xte)


def test_real_tiny_imagenet_c_missing_or_damaged_files_are_named(shared_data, tmp_path, monkeypatch):
    import shutil

    from hslib import data as hdata

    root = tmp_path / "data"
    monkeypatch.setenv("HSLIB_CACHE", str(tmp_path / "cache"))
    hdata._official.cache_clear()
    _, files = _tiny_subset(shared_data, root, train_per_class=2)
    _write_tiny_c(root, files, names=("gaussian_noise", "impulse_noise"))
    _, yte = load_dataset("tinyimagenet", root, "test")
    names = ("gaussian_noise", "impulse_noise")
    assert corrupted.real_test("tinyimagenet", yte, names, 5, root).shape == (100, 3, 64, 64)  # now cached
    assert corrupted.real_test("tinyimagenet", yte, names, 6, root) is None  # no real severity 6
    folder = root / "Tiny-ImageNet-C"
    with pytest.raises(FileNotFoundError, match=re.escape(str(folder / "defocus_blur" / "5"))):  # corruption not there
        corrupted.real_test("tinyimagenet", yte, ("defocus_blur",), 5, root)
    with pytest.raises(FileNotFoundError, match=re.escape(str(folder / "gaussian_noise" / "4"))):  # severity not there
        corrupted.real_test("tinyimagenet", yte, names, 4, root)
    # A damaged JPEG is named, even though the split was decoded and cached before.
    fname, wnid = files[3]
    bad = folder / "impulse_noise" / "5" / wnid / fname
    bad.write_bytes(bad.read_bytes()[:200])
    with pytest.raises(ValueError, match=re.escape(f"{bad}: damaged or not a readable JPEG")):
        corrupted.real_test("tinyimagenet", yte, names, 5, root)
    # A missing class folder: the first of its files is named, with the folder.
    shutil.rmtree(folder / "gaussian_noise" / "5" / wnid)
    first = next(f for f, w in files if w == wnid)
    with pytest.raises(FileNotFoundError, match=re.escape(f"{folder / 'gaussian_noise' / '5' / wnid / first}: missing")):
        corrupted.real_test("tinyimagenet", yte, names, 5, root)
    with pytest.raises(ValueError, match="does not match"):
        corrupted.real_test("tinyimagenet", yte.flip(0), names, 5, root)
