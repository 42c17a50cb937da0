"""Datasets as uint8 tensors, fixed splits and subsets, and a tiny on-device loader with batched augmentation.

Every dataset comes back as `(images, labels)`: uint8 N×3×H×W and int64 N, whole, in memory. The official
training set is split once and for all into train (90%) and val (10%) with a fixed permutation; the official
test set is the test split (Tiny-ImageNet: the labelled official `val/` folder; digits: a fixed 20% hold-out,
since it ships no test set). Reduced-data subsets are fixed too, and independent of the run seed, so every
method and seed at one data ratio sees the same images.
"""
from __future__ import annotations

import functools
import hashlib
import math
import os
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .config import SEMANTICS
from .files import checked_problem, write_checked
from .seeds import derive_seed

SPLITS = ("train", "val", "test")
VAL_FRACTION = 0.1
SPLIT_SEED = 0  # the train/val permutation; never changes
SUBSET_SEED = 0  # the random reduced-data subsets; never changes
DOWNLOAD_ENV = "HSLIB_DOWNLOAD"  # set to 1 to let torchvision download CIFAR


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The data folder: the argument, else $HSLIB_DATA, else ./data."""
    return Path(root or os.environ.get("HSLIB_DATA") or "data").expanduser()


CACHE_ENV = "HSLIB_CACHE"  # decoded datasets and generated corruptions (default ~/.cache/hslib)


def _cache_dir() -> Path:
    d = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "hslib").expanduser()
    check_cache(d)
    return d


_CACHE_OK: set = set()  # cache folders found writable by this process


def check_cache(d: Path | None = None) -> Path:
    """The data cache folder, checked before any work: one clear error naming HSLIB_CACHE when it is not a
    writable folder (a file, read-only, not creatable). The cache is never silently skipped: decoding
    Tiny-ImageNet or generating corruptions again in every run would cost far more than the error."""
    if d is None:
        return _cache_dir()
    if d in _CACHE_OK:
        return d
    env = os.environ.get(CACHE_ENV)
    what = f"{CACHE_ENV}={env!r}" if env else f"the data cache {str(d)!r} ({CACHE_ENV} is not set)"
    fix = f"point {CACHE_ENV} at a writable folder" + ("" if env else " (or make that folder writable)")
    if d.exists() and not d.is_dir():
        raise ValueError(f"{what} is not a folder (it is a file); {fix}")
    probe = d / f".write-test-{os.getpid()}"
    try:
        d.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as e:
        try:
            probe.unlink(missing_ok=True)
        except OSError:
            pass
        raise ValueError(f"{what} cannot be written: {e.strerror or e} ({e.filename or d}); {fix}") from None
    _CACHE_OK.add(d)
    return d


# ---------------------------------------------------------------------------------------------- readers
# Each reader returns (train_images, train_labels, test_images, test_labels, class_names) as numpy arrays,
# train/test being the *official* splits (NCHW uint8, int64).

DIGITS_SIZE = 32  # the digits are upsampled to the CIFAR models' input size (part of the cache key)


def _read_digits(root):
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32)[:, None] * (255.0 / 16.0)  # 8x8, values 0..16
    # Upsample bilinearly to the 32x32 the CIFAR models expect, then grey -> RGB.
    x = F.interpolate(x, size=(DIGITS_SIZE, DIGITS_SIZE), mode="bilinear", align_corners=False)
    x = x.round().clamp(0, 255).to(torch.uint8).repeat(1, 3, 1, 1).numpy()
    y = d.target.astype(np.int64)
    # No official test split: hold out a fixed 20%.
    perm = np.random.RandomState(SPLIT_SEED).permutation(len(y))
    n_test = round(0.2 * len(y))
    test, train = perm[:n_test], perm[n_test:]
    return x[train], y[train], x[test], y[test], [str(i) for i in range(10)]


# The official python-pickle layout (https://www.cs.toronto.edu/~kriz/cifar.html): per file a dict with
# b"data" (uint8 N×3072: the R, G and B 32×32 planes of each image, row-major) and the labels; the class
# names are in the meta file. Read here directly rather than through torchvision, whose md5 check rejects
# any file but the official ones and whose errors do not say which file is wrong.
CIFAR_LAYOUT = {
    "cifar10": ("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], ["test_batch"], "labels",
                "batches.meta", "label_names"),
    "cifar100": ("cifar-100-python", ["train"], ["test"], "fine_labels", "meta", "fine_label_names"),
}


def _unpickle(path: Path) -> dict:
    """One CIFAR pickle as a dict with str keys (the files are Python 2 pickles: keys may come back as bytes)."""
    import pickle

    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; the CIFAR folder must hold the official python-pickle files")
    try:
        with open(path, "rb") as f:
            d = pickle.load(f, encoding="latin1")
    except Exception as e:  # truncated or not a pickle at all
        raise ValueError(f"{path}: damaged or not a CIFAR pickle file ({type(e).__name__}: {e})") from None
    if not isinstance(d, dict):
        raise ValueError(f"{path}: not a CIFAR pickle file (holds a {type(d).__name__}, expected a dict)")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in d.items()}


def _read_cifar_batches(paths: list, label_key: str):
    xs, ys = [], []
    for path in paths:
        d = _unpickle(path)
        if "data" not in d or label_key not in d:
            raise ValueError(f"{path}: lacks the 'data' or {label_key!r} entry of the CIFAR layout")
        x, y = np.asarray(d["data"]), np.asarray(d[label_key], dtype=np.int64)
        if x.dtype != np.uint8 or x.ndim != 2 or x.shape[1] != 3072 or len(y) != len(x):
            raise ValueError(f"{path}: expected uint8 data of shape N×3072 and N labels, got {x.dtype} "
                             f"{x.shape} and {len(y)} labels")
        xs.append(x.reshape(-1, 3, 32, 32))
        ys.append(y)
    return np.ascontiguousarray(np.concatenate(xs)), np.concatenate(ys)


def _read_cifar(root, name):
    folder_name, train_files, test_files, label_key, meta_file, names_key = CIFAR_LAYOUT[name]
    folder = root / folder_name
    download = os.environ.get(DOWNLOAD_ENV, "") == "1"
    if not folder.exists() and not download:
        raise FileNotFoundError(
            f"data_root={str(root)!r} has no dataset {name!r}: looked for {folder}. Put the torchvision CIFAR files there "
            f"(https://www.cs.toronto.edu/~kriz/cifar.html), point data_root / $HSLIB_DATA at their parent, "
            f"or set {DOWNLOAD_ENV}=1 to let torchvision download them.")
    if not folder.exists():
        import torchvision

        cls = torchvision.datasets.CIFAR10 if name == "cifar10" else torchvision.datasets.CIFAR100
        cls(str(root), train=True, download=True)  # fetches and unpacks the official archive
    xtr, ytr = _read_cifar_batches([folder / f for f in train_files], label_key)
    xte, yte = _read_cifar_batches([folder / f for f in test_files], label_key)
    meta = _unpickle(folder / meta_file)
    if names_key not in meta:
        raise ValueError(f"{folder / meta_file}: lacks the {names_key!r} entry of the CIFAR layout")
    names = [n.decode("latin1") if isinstance(n, bytes) else str(n) for n in meta[names_key]]
    return xtr, ytr, xte, yte, names


def _read_tinyimagenet(root):
    from PIL import Image

    base = root / "tiny-imagenet-200"
    if not (base / "wnids.txt").exists():
        raise FileNotFoundError(
            f"data_root={str(root)!r} has no dataset 'tinyimagenet': looked for {base / 'wnids.txt'}. Unzip tiny-imagenet-200.zip "
            f"(http://cs231n.stanford.edu/tiny-imagenet-200.zip) there, or point data_root / $HSLIB_DATA at its parent.")
    wnids = base.joinpath("wnids.txt").read_text().split()
    index = {w: i for i, w in enumerate(wnids)}

    def decode(p):
        # Some images are greyscale: convert("RGB") replicates them to three channels.
        try:
            with Image.open(p) as im:
                return np.asarray(im.convert("RGB")).transpose(2, 0, 1)
        except FileNotFoundError:
            raise FileNotFoundError(f"{p}: missing (listed by {base / 'val' / 'val_annotations.txt'})") from None
        except (OSError, ValueError, SyntaxError) as e:  # truncated, damaged or not an image
            raise ValueError(f"{p}: damaged or not a readable JPEG ({type(e).__name__}: {e})") from None

    def read(paths):
        return np.stack([decode(p) for p in paths])

    listed = base / "wnids.txt"
    unlisted = sorted(d.name for d in (base / "train").iterdir() if d.is_dir() and d.name not in index) \
        if (base / "train").is_dir() else []
    if unlisted:
        raise ValueError(f"{base / 'train'}: class folder(s) {unlisted[:5]} are not listed in {listed}")
    for w in wnids:
        if not (base / "train" / w / "images").is_dir():
            raise FileNotFoundError(f"{base / 'train' / w / 'images'}: missing; {listed} lists class {w!r}")
    train = [(p, index[w]) for w in wnids for p in sorted((base / "train" / w / "images").glob("*.JPEG"))]
    val = [(base / "val" / "images" / fname, index[wnid]) for fname, wnid in _tiny_val_list(base, index)]
    words = dict(l.split("\t", 1) for l in base.joinpath("words.txt").read_text().splitlines()) \
        if (base / "words.txt").exists() else {}
    names = [words.get(w, w).split(",")[0].strip() for w in wnids]
    return (read([p for p, _ in train]), np.array([c for _, c in train], dtype=np.int64),
            read([p for p, _ in val]), np.array([c for _, c in val], dtype=np.int64), names)


def _tiny_val_list(base: Path, index: dict) -> list[tuple[str, str]]:
    """(file name, wnid) of every official val/ image, in val_annotations.txt order (= the test split's order)."""
    listed, annotations = base / "wnids.txt", base / "val" / "val_annotations.txt"
    if not annotations.is_file():
        raise FileNotFoundError(f"{annotations}: missing; it labels the official val/ images (the test split)")
    val = []
    for n, line in enumerate(annotations.read_text().splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 2:
            raise ValueError(f"{annotations}, line {n}: expected '<file>\\t<wnid>\\t...', got {line!r}")
        fname, wnid = fields[:2]
        if wnid not in index:
            raise ValueError(f"{annotations}, line {n}: wnid {wnid!r} of {fname} is not listed in {listed}")
        val.append((fname, wnid))
    return val


def tinyimagenet_test_files(root=None) -> tuple[list[str], list[tuple[str, str]]]:
    """(wnids, [(file name, wnid)]) of Tiny-ImageNet's test split: image i of `load_dataset("tinyimagenet",
    root, "test")` is val/images/<file name i>, labelled wnids.index(wnid i)."""
    base = data_root(root) / "tiny-imagenet-200"
    if not (base / "wnids.txt").exists():
        _read_tinyimagenet(data_root(root))  # raises its clear 'not found' error
    wnids = base.joinpath("wnids.txt").read_text().split()
    return wnids, _tiny_val_list(base, {w: i for i, w in enumerate(wnids)})


READERS = {
    "digits": lambda root: _read_digits(root),
    "cifar10": lambda root: _read_cifar(root, "cifar10"),
    "cifar100": lambda root: _read_cifar(root, "cifar100"),
    "tinyimagenet": _read_tinyimagenet,
}


def _source_stamp(name: str, root: Path) -> str | None:
    """What identifies a dataset's source files (None: not there, let the reader raise its clear error)."""
    if name == "digits":
        return "sklearn-digits-v1"  # bundled with scikit-learn, never changes
    marker = {"cifar10": root / "cifar-10-batches-py", "cifar100": root / "cifar-100-python",
              "tinyimagenet": root / "tiny-imagenet-200" / "wnids.txt"}[name]
    if not marker.exists():
        return None
    return f"{name}:{marker.resolve()}:{marker.stat().st_mtime_ns}"


@functools.lru_cache(maxsize=4)
def _official(name: str, root: str):
    """Official splits, read once per process, and cached on disk as one .npz per source: decoding
    Tiny-ImageNet's JPEGs (or importing scikit-learn for digits) then happens once per machine."""

    stamp = _source_stamp(name, Path(root))
    if stamp is None:
        return READERS[name](Path(root))
    # The key holds the code's provenance too: another decoding (code, digits' size, decoder) is another file.
    stamp += f";{_decoding(name)}"
    cache = _cache_dir() / f"{name}-{hashlib.sha256(stamp.encode()).hexdigest()[:12]}.npz"
    if cache.exists():
        out = _read_official_cache(cache)
        if out is not None:
            return out
        print(f"[hslib] rebuilding the damaged data cache {cache}", file=sys.stderr)  # never trusted
    out = READERS[name](Path(root))
    write_checked(cache, lambda f: np.savez(f, xtr=out[0], ytr=out[1], xte=out[2], yte=out[3],
                                            names=np.array(out[4])))
    return out


# The functions whose code decides each dataset's decoded arrays (their source is part of the cache key).
DECODERS = {"digits": ("_read_digits",), "cifar10": ("_read_cifar", "_read_cifar_batches", "_unpickle"),
            "tinyimagenet": ("_read_tinyimagenet", "_tiny_val_list")}
DECODERS["cifar100"] = DECODERS["cifar10"]


def _decoding(name: str) -> str:
    """What, besides the source files, decides a dataset's decoded arrays: the training-semantics version, the
    decoding code itself (the source of its functions), its parameters and the decoders' versions. A change of
    decoding changes the code hashed here, so the cache follows it even before SEMANTICS is bumped."""
    import inspect
    from importlib.metadata import PackageNotFoundError, version

    def v(package):
        try:
            return version(package)
        except PackageNotFoundError:
            return "?"

    def source(f):
        try:
            return inspect.getsource(f)
        except (OSError, TypeError):  # no source shipped: the compiled code stands for it
            return repr((f.__code__.co_code, f.__code__.co_consts))

    code = hashlib.sha256("".join(source(globals()[f]) for f in DECODERS[name]).encode()).hexdigest()
    params = {"digits": f"size={DIGITS_SIZE};torch={torch.__version__};scikit-learn={v('scikit-learn')}",
              "tinyimagenet": f"rgb;pillow={v('Pillow')}"}.get(name, "")
    return f"semantics={SEMANTICS};code={code[:16]};{params}"


def _read_official_cache(cache: Path):
    """The official splits from a cache file, or None if it does not match its checksum or its arrays are
    not the layout `_official` returns (uint8 N×3×H×W images, int64 labels of the same lengths, names)."""

    if checked_problem(cache) is not None:
        return None
    try:
        with np.load(cache, allow_pickle=False) as z:
            xtr, ytr, xte, yte, names = z["xtr"], z["ytr"], z["xte"], z["yte"], z["names"]
    except Exception:  # damaged in any way: rebuilt
        return None
    ok = (all(x.dtype == np.uint8 and x.ndim == 4 and x.shape[1] == 3 for x in (xtr, xte))
          and xtr.shape[1:] == xte.shape[1:]
          and all(y.dtype == np.int64 and y.ndim == 1 for y in (ytr, yte))
          and len(xtr) == len(ytr) > 0 and len(xte) == len(yte) > 0 and names.ndim == 1 and len(names) > 0
          and int(max(ytr.max(), yte.max())) < len(names) and int(min(ytr.min(), yte.min())) >= 0)
    return (xtr, ytr, xte, yte, [str(n) for n in names]) if ok else None


def _check(name, split):
    if name not in READERS:
        raise ValueError(f"dataset={name!r} is not known; allowed values: {sorted(READERS)}")
    if split not in SPLITS:
        raise ValueError(f"split={split!r} is not known; allowed values: {list(SPLITS)}")


def train_val_indices(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Fixed split of the official training set: (train positions, val positions)."""
    perm = np.random.RandomState(SPLIT_SEED).permutation(n)
    n_val = int(round(VAL_FRACTION * n))
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def load_dataset(name: str, root=None, split: str = "train"):
    """`(images, labels)` of one split: uint8 N×3×H×W and int64 N (CPU tensors)."""
    _check(name, split)
    xtr, ytr, xte, yte, _ = _official(name, str(data_root(root)))
    if split == "test":
        return torch.from_numpy(xte), torch.from_numpy(yte)
    tr, va = train_val_indices(len(ytr))
    pick = tr if split == "train" else va
    return torch.from_numpy(xtr[pick]), torch.from_numpy(ytr[pick])


def class_names(name: str, root=None) -> list[str]:
    _check(name, "train")
    return list(_official(name, str(data_root(root)))[4])


def num_classes(name: str, root=None) -> int:
    return len(class_names(name, root))


def check_available(name: str, root=None):
    """Raise the dataset's clear 'not found' error now, before any work starts."""
    _check(name, "train")
    _official(name, str(data_root(root)))


def check_files(name: str, root=None):
    """Raise the dataset's 'not found' error (where the loader looked, how to get the files) if its files are not
    where the loader looks; reads no data, so a sweep can check every dataset it needs, once, before any run."""
    _check(name, "train")
    path = data_root(root)
    if _source_stamp(name, path) is not None:  # the loader's own marker (folder or index file) is there
        return
    if name in ("cifar10", "cifar100") and os.environ.get(DOWNLOAD_ENV, "") == "1":
        return  # the loader will download it
    READERS[name](path)  # its first check raises the FileNotFoundError before anything is read


def random_subset(n: int, ratio: float) -> np.ndarray:
    """A fixed random `ratio` of range(n), independent of any run seed (smaller ratios nest in larger ones)."""
    if not 0 < ratio <= 1:
        raise ValueError(f"data_ratio={ratio!r} is out of range; allowed: 0 < data_ratio <= 1")
    k = max(1, int(round(ratio * n)))
    return np.sort(np.random.RandomState(SUBSET_SEED).permutation(n)[:k])


NOISE_SEED = 0


def noisy_indices(n: int, fraction: float) -> np.ndarray:
    """The fixed positions whose labels `noisy_labels` replaces."""
    return np.sort(np.random.RandomState(NOISE_SEED).permutation(n)[:int(round(fraction * n))])


def noisy_labels(labels: torch.Tensor, fraction: float, num_classes: int) -> torch.Tensor:
    """A fixed `fraction` of labels replaced by a different class (uniform among the others)."""
    idx = noisy_indices(len(labels), fraction)
    shift = np.random.RandomState(NOISE_SEED + 1).randint(1, num_classes, size=len(idx))
    out = labels.clone()
    out[idx] = (labels[idx] + torch.from_numpy(shift)) % num_classes
    return out


def content_hash(images, labels, length: int = 16) -> str:
    """A short sha256 of a split's images and labels (tensors or arrays): what a cache or score file was built from."""
    h = hashlib.sha256(np.ascontiguousarray(np.asarray(images)).tobytes())
    h.update(np.ascontiguousarray(np.asarray(labels)).tobytes())
    return h.hexdigest()[:length]


# ---------------------------------------------------------------------------------------------- loader
class Loader:
    """Batches over uint8 images that already live on the training device.

    Order and augmentation draw from two generators re-seeded from (seed, epoch), so epoch e is the same
    whether or not the run was interrupted before it, and changing augmentation never changes the order.
    Augmentation is batched on the device: random crop with zero padding, horizontal flip, rotation.
    Each batch yields (indices into `images`, float images in [0, 1], labels). The last batch may be partial;
    `drop_last` drops it always, `drop_single` only when it holds a single sample (BatchNorm cannot train on
    one sample), which is how the training loop trains every other sample of every epoch. `batches=N` makes
    every epoch N full batches instead (consecutive shuffled passes; training only). `len()` is the number of
    batches an epoch yields.
    """

    def __init__(self, images, labels, batch_size, *, train=False, crop=0, flip=False, rotate=0.0, seed=0,
                 drop_last=False, drop_single=False, batches=0):
        if not (isinstance(batch_size, int) and batch_size >= 1):
            raise ValueError(f"batch_size={batch_size!r} is not allowed; allowed values: an integer >= 1")
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise ValueError(f"images must be a uint8 N×C×H×W tensor, got {images.dtype} {tuple(images.shape)}")
        self.images, self.labels = images, labels
        self.batch_size, self.train, self.drop_last, self.drop_single = batch_size, train, drop_last, drop_single
        self.crop, self.flip, self.rotate, self.seed = crop, flip, rotate, seed
        self.device = images.device
        if not (isinstance(batches, int) and batches >= 0):
            raise ValueError(f"batches={batches!r} is not allowed; allowed values: 0 (one pass) or an integer >= 1")
        if batches and not train:
            raise ValueError("batches=N (a fixed number of batches per epoch) is for training loaders (train=True)")
        self.batches = batches

    def __len__(self):
        if self.batches:
            return self.batches
        full, rest = divmod(len(self.labels), self.batch_size)
        if self.drop_last or (self.drop_single and rest == 1):
            return full
        return full + (rest > 0)

    def epoch(self, epoch: int = 0):
        n = len(self.labels)
        if self.train:
            order_gen = torch.Generator(self.device).manual_seed(derive_seed(self.seed, epoch, "order"))
            # A fixed number of batches: consecutive shuffled passes, so a small subset trains as many steps
            # as a large one (every batch full; the unused tail of the last pass is dropped).
            passes = -(-self.batches * self.batch_size // n) if self.batches else 1
            order = torch.cat([torch.randperm(n, generator=order_gen, device=self.device) for _ in range(passes)])
            aug_gen = torch.Generator(self.device).manual_seed(derive_seed(self.seed, epoch, "augment"))
        else:
            order, aug_gen = torch.arange(n, device=self.device), None
        for b in range(len(self)):
            idx = order[b * self.batch_size:(b + 1) * self.batch_size]
            x = self.images[idx]
            if self.train:
                x = augment(x, aug_gen, crop=self.crop, flip=self.flip, rotate=self.rotate)
            else:
                x = x.float().div_(255)
            yield idx, x, self.labels[idx]

    __iter__ = epoch


def augment(x, gen, crop=4, flip=True, rotate=0.0):
    """uint8 B×C×H×W -> float in [0, 1], each image randomly shifted by up to `crop` pixels with zero fill
    (= random crop of the zero-padded image), mirrored with probability ½, and rotated by up to ±`rotate`°.

    Without rotation, shift and mirror are one gather from the padded uint8 batch (exact pixel copies).
    With rotation, the three compose into one affine map per image, applied by one nearest-neighbour
    resampling: output coordinate u (normalised, pixel centres) samples the source at
    diag(±1, 1)·R(θ)·u + 2·shift/size, which is crop → flip → rotate with one lookup instead of three."""
    B, C, H, W = x.shape
    dev = x.device
    dy = torch.randint(-crop, crop + 1, (B,), generator=gen, device=dev)
    dx = torch.randint(-crop, crop + 1, (B,), generator=gen, device=dev)
    mirror = torch.rand(B, generator=gen, device=dev) < 0.5 if flip else torch.zeros(B, dtype=torch.bool, device=dev)
    if not rotate:
        xp = F.pad(x, (crop, crop, crop, crop))
        rows = (dy + crop)[:, None] + torch.arange(H, device=dev)  # B×H source rows in the padded image
        cols = torch.arange(W, device=dev).expand(B, W)
        cols = torch.where(mirror[:, None], W - 1 - cols, cols) + (dx + crop)[:, None]  # B×W
        idx = (rows[:, :, None] * (W + 2 * crop) + cols[:, None, :]).view(B, 1, H * W).expand(B, C, H * W)
        return xp.view(B, C, -1).gather(2, idx).view(B, C, H, W).float().div_(255)
    ang = (torch.rand(B, generator=gen, device=dev) * 2 - 1) * math.radians(rotate)
    cos, sin = torch.cos(ang)[:, None, None], torch.sin(ang)[:, None, None]
    sign = (1.0 - 2.0 * mirror.float())[:, None, None]
    u, v = _pixel_centres(H, W, dev)  # H×W normalised x and y of every output pixel
    gx = sign * (cos * u - sin * v) + (2.0 * dx / W)[:, None, None]
    gy = sin * u + cos * v + (2.0 * dy / H)[:, None, None]
    # Nearest neighbour, as torchvision's RandomRotation does by default; zeros outside the image.
    return F.grid_sample(x.float().div_(255), torch.stack([gx, gy], -1), mode="nearest", padding_mode="zeros",
                         align_corners=False)


@functools.lru_cache(maxsize=8)
def _pixel_centres(H: int, W: int, device):
    ys, xs = torch.meshgrid((torch.arange(H, device=device) * 2 + 1) / H - 1,
                            (torch.arange(W, device=device) * 2 + 1) / W - 1, indexing="ij")
    return xs, ys


def augmentation(dataset: str, image_size: int = 0) -> dict:
    """The paper's training augmentation: crop (4-px zero padding) + flip; CIFAR-100 adds ±15° rotation.
    A run resized to `image_size` pads in proportion: 1/8 of the side (4 px at 32×32, 2 px at 16×16).
    Digits differ twice, because a digit fills its whole frame where a CIFAR object sits in a scene: they are
    never mirrored (a mirrored digit is another symbol, or none), and they pad 1/16 of the side (2 px at 32×32,
    1 px at 16×16), since a shift by 1/8 cuts strokes off (measured: sparse runs on EL2N-hard digits then
    could not fit their training set in the course profile's steps; docs/paper_findings.md#course-regime)."""
    side = image_size or 32
    crop = max(1, round(side / 16)) if dataset == "digits" else max(1, round(side / 8))
    if not image_size and dataset != "digits":
        crop = 4  # the paper's 4 px at the data's own size (Tiny-ImageNet's 64×64 included)
    return {"crop": crop, "flip": dataset != "digits", "rotate": 15.0 if dataset == "cifar100" else 0.0}


def resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 N×C×H×W images at side `size` (0 or their own size: unchanged). Shrinking averages areas (no
    aliasing of noise corruptions); enlarging is bilinear. Rounded back to uint8, as stored images are."""
    if not size or images.shape[-1] == size == images.shape[-2]:
        return images
    x = images.float()
    if size < images.shape[-1]:
        x = F.interpolate(x, size=(size, size), mode="area")
    else:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return x.round_().clamp_(0, 255).to(torch.uint8)


def train_split(cfg):
    """The full training split (before subsetting and corruption), with label noise if asked."""
    droot = cfg.data_root or None
    x, y = load_dataset(cfg.dataset, droot, "train")
    if cfg.label_noise:
        y = noisy_labels(y, cfg.label_noise, num_classes(cfg.dataset, droot))
    return x, y
