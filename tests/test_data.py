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


def test_tiny_imagenet_loader_on_the_real_folder(shared_data):
    root = shared_data
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
    # Greyscale JPEGs come back as three equal channels.
    grey = [p for p in (base / "train").glob("*/images/*.JPEG") if Image.open(p).mode == "L"][:1]
    assert grey, "the fixture is documented to hold greyscale images"


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
    r = augment(x, torch.Generator().manual_seed(2), crop=0, flip=False, rotate=15)
    assert r.shape == (64, 3, 8, 8) and r.min() >= 0 and r.max() <= 1 and not torch.equal(r, x.float() / 255)


def test_fused_rotation_path_agrees_with_the_exact_crop_and_flip():
    # The rotation path composes shift, mirror and rotation into one resampling; at a vanishing angle it
    # must reproduce the exact gather path (same random draws: shift, mirror, then angle).
    x = torch.randint(0, 256, (32, 3, 16, 16), dtype=torch.uint8)
    exact = augment(x, torch.Generator().manual_seed(4), crop=3, flip=True, rotate=0)
    fused = augment(x, torch.Generator().manual_seed(4), crop=3, flip=True, rotate=1e-9)
    assert torch.allclose(exact, fused, atol=1e-5)
    # A real rotation moves content but keeps the image's centre pixel region roughly in place.
    rot = augment(x, torch.Generator().manual_seed(5), crop=0, flip=False, rotate=15)
    assert not torch.allclose(rot, x.float() / 255)
