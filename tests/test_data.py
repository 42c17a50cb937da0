import math
import re

import numpy as np
import pytest
import torch
from PIL import Image

from hslib import data as hdata
from hslib.data import Loader, augment, load_dataset, random_subset


def test_digits_splits_are_fixed_disjoint_and_rgb_32():
    (xtr, ytr), (xva, yva), (xte, yte) = (load_dataset("digits", split=s) for s in hdata.SPLITS)
    assert (len(ytr), len(yva), len(yte)) == (1294, 144, 359)  # 1,797 = 359 test + 90/10 of the rest
    for x, y in ((xtr, ytr), (xva, yva), (xte, yte)):
        assert x.dtype == torch.uint8 and x.shape[1:] == (3, 32, 32) and y.dtype == torch.int64
        assert torch.equal(x[:, 0], x[:, 1]) and torch.equal(x[:, 0], x[:, 2])  # grey replicated to RGB
    tr, va = hdata.train_val_indices(1438)
    assert len(np.intersect1d(tr, va)) == 0 and len(tr) + len(va) == 1438
    assert torch.equal(load_dataset("digits")[0], xtr)  # deterministic


def test_tiny_imagenet_loader_on_the_real_folder(shared_data, tmp_path, monkeypatch):
    root = shared_data
    monkeypatch.setenv("HSLIB_CACHE", str(tmp_path / "cache"))  # decode the JPEGs, not a cached .npz
    hdata._official.cache_clear()
    (xtr, ytr), (xva, yva), (xte, yte) = (load_dataset("tinyimagenet", root, s) for s in hdata.SPLITS)
    assert hdata.num_classes("tinyimagenet", root) == 20
    assert len(ytr) + len(yva) == 10_000 and len(yva) == 1_000  # 10% of the official train set held out
    assert len(yte) == 1_000  # the official val/ folder is the test split
    for x in (xtr, xva, xte):
        assert x.dtype == torch.uint8 and x.shape[1:] == (3, 64, 64)
    assert torch.bincount(torch.cat([ytr, yva]), minlength=20).tolist() == [500] * 20
    assert torch.bincount(yte, minlength=20).tolist() == [50] * 20
    base = root / "tiny-imagenet-200"
    wnids = (base / "wnids.txt").read_text().split()
    xall, yall, xtest, ytest, _ = hdata._official("tinyimagenet", str(root))
    # A training image sits under its class's folder: its label is the folder's index in wnids.txt.
    k = 7
    first = sorted((base / "train" / wnids[k] / "images").glob("*.JPEG"))[0]
    pos = k * 500
    assert np.array_equal(xall[pos], np.asarray(Image.open(first).convert("RGB")).transpose(2, 0, 1)) and yall[pos] == k
    # A validation image's label is its annotation line's wnid.
    fname, wnid = (base / "val" / "val_annotations.txt").read_text().splitlines()[5].split("\t")[:2]
    img = np.asarray(Image.open(base / "val" / "images" / fname).convert("RGB")).transpose(2, 0, 1)
    hits = [i for i in range(len(ytest)) if np.array_equal(xtest[i], img)]
    assert hits and all(ytest[i] == wnids.index(wnid) for i in hits)
    # Greyscale JPEGs come back as three equal channels, each equal to the file's grey values.
    k = 0
    files = sorted((base / "train" / wnids[k] / "images").glob("*.JPEG"))
    grey = [(i, p) for i, p in enumerate(files) if Image.open(p).mode == "L"]
    assert len(grey) == 8  # counted in the fixture: 8 of this class's 500 training images are greyscale
    for i, p in grey:
        values = np.asarray(Image.open(p))
        assert values.shape == (64, 64) and values.dtype == np.uint8 and values.std() > 0
        for c in range(3):
            assert np.array_equal(xall[k * 500 + i][c], values)
        assert yall[k * 500 + i] == k
    # The decoded arrays were cached on disk once; a fresh process (cache cleared) reads them back unchanged.
    assert len(list((tmp_path / "cache").glob("tinyimagenet-*.npz"))) == 1
    hdata._official.cache_clear()
    again = hdata._official("tinyimagenet", str(root))
    assert all(np.array_equal(a, b) for a, b in zip(again[:4], (xall, yall, xtest, ytest)))


def test_missing_dataset_says_where_it_looked(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "tiny-imagenet-200")):
        load_dataset("tinyimagenet", tmp_path)
    with pytest.raises(FileNotFoundError, match="cifar-100-python"):
        load_dataset("cifar100", tmp_path)


def test_bad_dataset_or_split():
    with pytest.raises(ValueError, match="dataset='mnist'.*allowed values"):
        load_dataset("mnist")
    with pytest.raises(ValueError, match="split='dev'.*allowed values"):
        load_dataset("digits", split="dev")


def test_random_subsets_are_fixed_nested_and_exact():
    a, b = random_subset(1000, 0.3), random_subset(1000, 0.5)
    assert len(a) == 300 and len(b) == 500 and set(a) <= set(b)
    assert np.array_equal(a, random_subset(1000, 0.3))
    with pytest.raises(ValueError, match="data_ratio"):
        random_subset(1000, 0)


def test_noisy_labels_change_exactly_the_chosen_fraction():
    y = torch.arange(1000) % 10
    z = hdata.noisy_labels(y, 0.1, 10)
    changed = (z != y).nonzero().squeeze(1).numpy()
    assert np.array_equal(changed, hdata.noisy_indices(1000, 0.1)) and len(changed) == 100


def _loader(n=50, **kw):
    x = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 3, 8, 8).contiguous()
    return Loader(x, torch.arange(n), 16, **kw)


def test_loader_epoch_is_a_permutation_fixed_by_seed_and_epoch():
    ld = _loader(train=True, seed=3)
    idx0 = torch.cat([i for i, _, _ in ld.epoch(0)])
    assert sorted(idx0.tolist()) == list(range(50))
    assert torch.equal(idx0, torch.cat([i for i, _, _ in _loader(train=True, seed=3).epoch(0)]))
    assert not torch.equal(idx0, torch.cat([i for i, _, _ in ld.epoch(1)]))
    # Augmentation has its own generator: turning it on does not change the order.
    aug = _loader(train=True, seed=3, crop=2, flip=True)
    assert torch.equal(idx0, torch.cat([i for i, _, _ in aug.epoch(0)]))
    for i, x, y in aug.epoch(0):  # batches carry their indices
        assert torch.equal(y, i)


def test_eval_loader_is_ordered_and_unaugmented():
    batches = list(_loader().epoch(0))
    assert torch.equal(torch.cat([i for i, _, _ in batches]), torch.arange(50))
    x = batches[0][1]
    assert x.dtype == torch.float32 and torch.allclose(x[3], torch.full((3, 8, 8), 3 / 255))
    assert len(_loader(drop_last=True)) == 3 and len(_loader()) == 4


def test_batched_crop_flip_rotate():
    g = torch.Generator().manual_seed(0)
    x = torch.randint(1, 256, (64, 3, 8, 8), dtype=torch.uint8)
    out = augment(x, g, crop=2, flip=False)
    # Each crop is the image shifted by at most 2 pixels, zero padded: the overlap matches exactly.
    for i in range(64):
        ok = False
        for dy in range(-2, 3):
            for dx in range(-2, 3):
                s = torch.roll(x[i].float() / 255, (-dy, -dx), (1, 2))
                ys, xs = slice(max(0, -dy), 8 - max(0, dy)), slice(max(0, -dx), 8 - max(0, dx))
                ok |= torch.equal(out[i][:, ys, xs], s[:, ys, xs])
        assert ok
    assert (out == 0).any()  # some crops show padding
    f = augment(x, torch.Generator().manual_seed(1), crop=0, flip=True)
    flipped = [torch.equal(f[i], x[i].flip(2).float() / 255) for i in range(64)]
    same = [torch.equal(f[i], x[i].float() / 255) for i in range(64)]
    assert all(a or b for a, b in zip(flipped, same)) and 10 < sum(flipped) < 54


def test_fused_rotation_path_agrees_with_the_exact_crop_and_flip():
    # The rotation path composes shift, mirror and rotation into one resampling; at a vanishing angle it
    # must reproduce the exact gather path (same random draws: shift, mirror, then angle).
    x = torch.randint(0, 256, (32, 3, 16, 16), dtype=torch.uint8)
    exact = augment(x, torch.Generator().manual_seed(4), crop=3, flip=True, rotate=0)
    fused = augment(x, torch.Generator().manual_seed(4), crop=3, flip=True, rotate=1e-9)
    assert torch.allclose(exact, fused, atol=1e-5)


def test_rotation_by_zero_is_the_identity():
    x = torch.randint(0, 256, (8, 3, 17, 16), dtype=torch.uint8)
    out = augment(x, torch.Generator().manual_seed(0), crop=0, flip=False, rotate=1e-9)  # the rotation path
    assert torch.equal(out, x.float() / 255)


def test_rotation_moves_a_marked_block_to_where_the_drawn_angle_puts_it():
    # A 33×33 image (centre pixel (16, 16)), zero but for a 3×3 block of 200 centred 12 pixels right of the
    # centre and the centre pixel itself at 100. Output pixel q samples the source at R(θ)·q (pixel units,
    # origin at the centre, x right, y down), so the block's centre p = (12, 0) lands at
    # q = R(−θ)·p = (12·cos θ, −12·sin θ): 16 + 12 cos θ as column, 16 − 12 sin θ as row. The output pixel
    # nearest q samples within 0.71 px of p, i.e. inside the block; the centre pixel is a fixed point.
    B, S, c = 16, 33, 16
    x = torch.zeros(B, 3, S, S, dtype=torch.uint8)
    x[:, :, c - 1:c + 2, c + 12 - 1:c + 12 + 2] = 200
    x[:, :, c, c] = 100
    out = augment(x, torch.Generator().manual_seed(11), crop=0, flip=False, rotate=30)
    # The angles augment drew: replay its draws (row shift, column shift, then the angle; no flip draw).
    g = torch.Generator().manual_seed(11)
    torch.randint(0, 1, (B,), generator=g), torch.randint(0, 1, (B,), generator=g)
    angles = (torch.rand(B, generator=g) * 2 - 1) * math.radians(30)
    assert angles.abs().max() <= math.radians(30) and (angles > 0).any() and (angles < 0).any()
    assert torch.equal(out, out.mul(255).round().div(255))  # nearest neighbour: only source values
    for b, theta in enumerate(angles.tolist()):
        img = out[b].mul(255).round().long()
        assert torch.equal(img[0], img[1]) and torch.equal(img[0], img[2])
        assert set(img[0].unique().tolist()) <= {0, 100, 200}
        assert img[0, c, c] == 100  # the centre stays put
        qx, qy = c + 12 * math.cos(theta), c - 12 * math.sin(theta)
        assert img[0, round(qy), round(qx)] == 200, (b, math.degrees(theta))
        rows, cols = (img[0] == 200).nonzero(as_tuple=True)
        assert 5 <= len(rows) <= 13  # about the block's 9 pixels, resampled
        assert abs(rows.float().mean().item() - qy) < 1 and abs(cols.float().mean().item() - qx) < 1
        if abs(theta) > math.radians(10):  # moved off its place: 12·sin 10° > 2 rows away
            assert img[0, c, c + 12] == 0


# ---------------------------------------------------------------------------------------------- real formats
def _write_pickle(path, obj):
    import pickle

    path.write_bytes(pickle.dumps(obj, protocol=2))


def _write_cifar(root, name, rng):
    """The official python-pickle layout with a few random images per file; returns the images (N×3×32×32),
    labels and class names the loader must give back, train then test."""
    if name == "cifar10":
        folder, label_key, classes = root / "cifar-10-batches-py", b"labels", 10
        train_files, sizes = [f"data_batch_{i}" for i in range(1, 6)], [4, 4, 4, 4, 3]
        test_files, meta_file, names_key = ["test_batch"], "batches.meta", b"label_names"
    else:
        folder, label_key, classes = root / "cifar-100-python", b"fine_labels", 100
        train_files, sizes, test_files, meta_file, names_key = ["train"], [35], ["test"], "meta", b"fine_label_names"
    folder.mkdir(parents=True)
    out = {}
    for split, files, ns in (("train", train_files, sizes), ("test", test_files, [6])):
        xs, ys = [], []
        for f, n in zip(files, ns):
            x = rng.randint(0, 256, (n, 3, 32, 32)).astype(np.uint8)
            y = rng.randint(0, classes, n)
            entry = {b"batch_label": f.encode(), b"data": x.reshape(n, 3072), label_key: y.tolist(),
                     b"filenames": [f"img_{i}.png".encode() for i in range(n)]}
            if name == "cifar100":
                entry[b"coarse_labels"] = (y // 5).tolist()
            _write_pickle(folder / f, entry)
            xs.append(x)
            ys.append(y)
        out[split] = (np.concatenate(xs), np.concatenate(ys))
    names = [f"class_{i:02d}".encode() for i in range(classes)]
    meta = {names_key: names, b"num_cases_per_batch": sizes[0]}
    if name == "cifar100":
        meta[b"coarse_label_names"] = [f"super_{i}".encode() for i in range(20)]
    _write_pickle(folder / meta_file, meta)
    return folder, out, [n.decode() for n in names]


@pytest.mark.parametrize("name,n_train,n_val,n_test", [("cifar10", 17, 2, 6), ("cifar100", 31, 4, 6)])
def test_cifar_pickle_layout_round_trips_exactly(tmp_path, monkeypatch, name, n_train, n_val, n_test):
    monkeypatch.setenv("HSLIB_CACHE", str(tmp_path / "cache"))
    folder, want, names = _write_cifar(tmp_path, name, np.random.RandomState(3))
    (xtr, ytr), (xva, yva), (xte, yte) = (load_dataset(name, root=tmp_path, split=s) for s in hdata.SPLITS)
    # CIFAR-10: 4 + 4 + 4 + 4 + 3 = 19 official training images, CIFAR-100: 35; round(10%) of them are
    # val: round(1.9) = 2 and round(3.5) = 4 (a truncating split would hold out 1 and 3).
    assert (len(ytr), len(yva), len(yte)) == (n_train, n_val, n_test)
    x_all, y_all = want["train"]
    tr, va = hdata.train_val_indices(len(y_all))
    assert len(np.intersect1d(tr, va)) == 0 and len(tr) + len(va) == len(y_all)
    for (x, y), pick in (((xtr, ytr), tr), ((xva, yva), va)):
        assert x.dtype == torch.uint8 and x.shape[1:] == (3, 32, 32) and y.dtype == torch.int64
        assert np.array_equal(x.numpy(), x_all[pick]) and np.array_equal(y.numpy(), y_all[pick])
    assert np.array_equal(xte.numpy(), want["test"][0]) and np.array_equal(yte.numpy(), want["test"][1])
    # The row layout itself: byte 1024 + 32·r + c of a row is the green value at row r, column c.
    row = hdata._unpickle(folder / ("test_batch" if name == "cifar10" else "test"))["data"][4]
    assert xte[4, 1, 5, 7] == row[1024 + 32 * 5 + 7] and xte[4, 2, 31, 0] == row[2048 + 32 * 31]
    assert hdata.class_names(name, tmp_path) == names and hdata.num_classes(name, tmp_path) == len(names)
    # Read once, cached on disk; read back from that cache (in-process cache cleared) unchanged.
    assert len(list((tmp_path / "cache").glob(f"{name}-*.npz"))) == 1
    hdata._official.cache_clear()
    assert torch.equal(load_dataset(name, root=tmp_path, split="val")[0], xva)


@pytest.mark.parametrize("name,damaged", [("cifar10", "data_batch_3"), ("cifar10", "batches.meta"),
                                          ("cifar100", "test"), ("cifar100", "meta")])
def test_a_truncated_cifar_file_is_named(tmp_path, monkeypatch, name, damaged):
    monkeypatch.setenv("HSLIB_CACHE", str(tmp_path / "cache"))
    folder, _, _ = _write_cifar(tmp_path, name, np.random.RandomState(0))
    blob = (folder / damaged).read_bytes()
    (folder / damaged).write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ValueError) as e:
        load_dataset(name, root=tmp_path)
    assert str(e.value).startswith(f"{folder / damaged}: damaged or not a CIFAR pickle file")
    assert not list((tmp_path / "cache").glob("*.npz"))  # nothing cached from a failed read


def test_a_missing_or_misshapen_cifar_file_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("HSLIB_CACHE", str(tmp_path / "cache"))
    folder, _, _ = _write_cifar(tmp_path / "a", "cifar10", np.random.RandomState(0))
    (folder / "test_batch").unlink()
    with pytest.raises(FileNotFoundError, match="^" + re.escape(f"{folder / 'test_batch'}: missing")):
        load_dataset("cifar10", root=tmp_path / "a")
    folder, _, _ = _write_cifar(tmp_path / "b", "cifar100", np.random.RandomState(0))
    _write_pickle(folder / "train", {b"data": np.zeros((4, 3000), np.uint8), b"fine_labels": [0, 1, 2, 3]})
    with pytest.raises(ValueError, match="^" + re.escape(f"{folder / 'train'}: expected uint8 data of shape N×3072")):
        load_dataset("cifar100", root=tmp_path / "b")


def _small_tiny_imagenet(shared, root, per_class=3, val_per_class=2):
    """A copy of two classes of the real fixture, a few images each, in the official layout."""
    src, dst = shared / "tiny-imagenet-200", root / "tiny-imagenet-200"
    wnids = (src / "wnids.txt").read_text().split()[:2]
    (dst / "val" / "images").mkdir(parents=True)
    (dst / "wnids.txt").write_text("\n".join(wnids) + "\n")
    for w in wnids:
        (dst / "train" / w / "images").mkdir(parents=True)
        for p in sorted((src / "train" / w / "images").glob("*.JPEG"))[:per_class]:
            (dst / "train" / w / "images" / p.name).write_bytes(p.read_bytes())
    lines = []
    for w in wnids:
        mine = [l for l in (src / "val" / "val_annotations.txt").read_text().splitlines() if l.split("\t")[1] == w]
        for l in mine[:val_per_class]:
            fname = l.split("\t")[0]
            (dst / "val" / "images" / fname).write_bytes((src / "val" / "images" / fname).read_bytes())
            lines.append(l)
    (dst / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    return dst, wnids


def test_a_small_copy_of_the_tiny_imagenet_fixture_loads(shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv("HSLIB_CACHE", str(tmp_path / "cache"))
    base, wnids = _small_tiny_imagenet(shared_data, tmp_path)
    (xtr, ytr), (xva, yva), (xte, yte) = (load_dataset("tinyimagenet", tmp_path, s) for s in hdata.SPLITS)
    assert (len(ytr), len(yva), len(yte)) == (5, 1, 4)  # 2 classes × 3 images, round(0.6) = 1 held out; 2 × 2
    assert yte.tolist() == [0, 0, 1, 1] and sorted(torch.cat([ytr, yva]).tolist()) == [0, 0, 0, 1, 1, 1]
    assert hdata.class_names("tinyimagenet", tmp_path) == wnids  # no words.txt: the wnids themselves
    first = sorted((base / "train" / wnids[1] / "images").glob("*.JPEG"))[0]
    all_x = torch.cat([xtr, xva])[np.argsort(np.concatenate(hdata.train_val_indices(6)))]
    assert np.array_equal(all_x[3].numpy(), np.asarray(Image.open(first).convert("RGB")).transpose(2, 0, 1))


@pytest.mark.parametrize("how", ["truncated", "garbage"])
def test_a_damaged_tiny_imagenet_jpeg_is_named(shared_data, tmp_path, monkeypatch, how):
    monkeypatch.setenv("HSLIB_CACHE", str(tmp_path / "cache"))
    base, wnids = _small_tiny_imagenet(shared_data, tmp_path)
    bad = sorted((base / "train" / wnids[1] / "images").glob("*.JPEG"))[1]
    blob = bad.read_bytes()
    bad.write_bytes(blob[: len(blob) // 2] if how == "truncated" else b"not a jpeg at all" * 20)
    with pytest.raises(ValueError) as e:
        load_dataset("tinyimagenet", tmp_path)
    assert str(e.value).startswith(f"{bad}: damaged or not a readable JPEG")
    assert not list((tmp_path / "cache").glob("*.npz"))


def test_a_val_image_listed_but_missing_is_named(shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv("HSLIB_CACHE", str(tmp_path / "cache"))
    base, _ = _small_tiny_imagenet(shared_data, tmp_path)
    fname = (base / "val" / "val_annotations.txt").read_text().splitlines()[2].split("\t")[0]
    (base / "val" / "images" / fname).unlink()
    with pytest.raises(FileNotFoundError, match="^" + re.escape(f"{base / 'val' / 'images' / fname}: missing")):
        load_dataset("tinyimagenet", tmp_path)


def test_a_wnid_missing_from_wnids_txt_is_named(shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv("HSLIB_CACHE", str(tmp_path / "cache"))
    # A val annotation naming a class that wnids.txt does not list.
    base, wnids = _small_tiny_imagenet(shared_data, tmp_path / "a")
    ann = base / "val" / "val_annotations.txt"
    lines = ann.read_text().splitlines()
    fname = lines[3].split("\t")[0]
    lines[3] = "\t".join([fname, "n99999999", *lines[3].split("\t")[2:]])
    ann.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError) as e:
        load_dataset("tinyimagenet", tmp_path / "a")
    assert str(e.value) == (f"{ann}, line 4: wnid 'n99999999' of {fname} is not listed in {base / 'wnids.txt'}")
    # A train/ class folder that wnids.txt does not list.
    base, wnids = _small_tiny_imagenet(shared_data, tmp_path / "b")
    (base / "wnids.txt").write_text(wnids[0] + "\n")  # drops the second class
    with pytest.raises(ValueError) as e:
        load_dataset("tinyimagenet", tmp_path / "b")
    assert str(e.value) == f"{base / 'train'}: class folder(s) {[wnids[1]]} are not listed in {base / 'wnids.txt'}"
    # A class that wnids.txt lists but that has no train/ folder.
    base, wnids = _small_tiny_imagenet(shared_data, tmp_path / "c")
    (base / "wnids.txt").write_text("\n".join([*wnids, "n99999999"]) + "\n")
    with pytest.raises(FileNotFoundError, match="^" + re.escape(f"{base / 'train' / 'n99999999' / 'images'}: missing")):
        load_dataset("tinyimagenet", tmp_path / "c")


@pytest.mark.parametrize("n,sizes", [(130, [64, 64, 2]), (129, [64, 64]), (128, [64, 64]), (65, [64]),
                                     (66, [64, 2]), (1, [])])
def test_training_loader_drops_only_a_trailing_single_sample(n, sizes):
    x = torch.zeros(n, 3, 4, 4, dtype=torch.uint8)
    ld = Loader(x, torch.arange(n), 64, train=True, seed=0, drop_single=True)
    batches = [len(y) for _, _, y in ld.epoch(0)]
    assert batches == sizes and len(ld) == len(sizes)  # len() = the steps an epoch really takes
    assert sum(batches) == n - (n % 64 == 1)  # every sample is trained but a single trailing one
