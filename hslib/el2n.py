"""EL2N hardness scores (Paul et al. 2021) and the hard / easy / balanced subsets built from them.

EL2N(x, y) = ‖softmax(f(x)) − onehot(y)‖₂, averaged over `el2n_runs` independent dense models, each trained
for `el2n_epoch` epochs of the experiment's normal schedule (same architecture, full training split) and
evaluated in eval mode on the un-augmented training images. Scoring runs are ordinary runs of the run store
(dense, `stop_epoch = el2n_epoch`, seeds 1000, 1001, …), so they are cached, resumable and sweepable.
Scores are saved aligned with the training split's indices, beside a provenance file.

GraNd(x, y) = ‖∇_θ CE(f(x), y)‖₂ (the same paper's gradient-norm score) is the optional second score: computed
per sample for a whole batch at once with torch.func (vmap of grad), on the same scoring checkpoints.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import store

SCORE_SEED = 1000  # scoring runs use seeds 1000.. so they never coincide with an experiment's run
KINDS = ("hard", "easy", "hard_balanced", "random")


def el2n(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-sample EL2N: L2 norm of softmax(logits) − onehot(labels)."""
    probs = F.softmax(logits.float(), dim=1)
    return (probs - F.one_hot(labels.to(probs.device), probs.shape[1]).float()).norm(dim=1)


# ------------------------------------------------------------------------------------------ scoring
def scoring_configs(cfg) -> list:
    """The dense runs whose scores define `cfg`'s subset: full data, clean, `el2n_epoch` epochs each."""
    base = cfg.replace(method="dense", density=1.0, data_ratio=1.0, subset="random", corruption="",
                       adversarial="", stop_epoch=cfg.el2n_epoch)
    return [base.replace(seed=SCORE_SEED + i) for i in range(cfg.el2n_runs)]


def scores_dir(cfg, root=store.DEFAULT_ROOT) -> Path:
    """<root>/../scores/<key>: the key hashes the scoring runs' ids."""
    key = hashlib.sha256(" ".join(c.id for c in scoring_configs(cfg)).encode()).hexdigest()[:12]
    return store.outputs_dir("scores", Path(root).parent) / f"{cfg.dataset}-{cfg.model}-{key}"


def _data_hash(images, labels) -> str:
    h = hashlib.sha256(images.numpy().tobytes())
    h.update(labels.numpy().tobytes())
    return h.hexdigest()[:16]


def load_scores(cfg, root=store.DEFAULT_ROOT) -> dict | None:
    """{'el2n', 'el2n_sq', 'per_run', 'provenance'} or None when missing or damaged."""
    d = scores_dir(cfg, root)
    prov = store.read_json(d / "provenance.json")
    try:
        arrays = {k: np.load(d / f"{k}.npy") for k in ("el2n", "el2n_sq", "per_run")}
    except (OSError, ValueError):
        return None
    if not isinstance(prov, dict) or prov.get("complete") is not True or len(arrays["el2n"]) != prov.get("n"):
        return None
    return {**arrays, "provenance": prov, "dir": d}


def check_scores(cfg, root=store.DEFAULT_ROOT) -> dict:
    """The scores for `cfg`'s subset; a clear error when they are missing or belong to other data."""
    from .train import MissingDependency

    s = load_scores(cfg, root)
    if s is None:
        raise MissingDependency(
            f"EL2N scores for dataset={cfg.dataset!r} model={cfg.model!r} (el2n_epoch={cfg.el2n_epoch}, "
            f"el2n_runs={cfg.el2n_runs}) are missing under {scores_dir(cfg, root)}; compute them with "
            f"hslib.el2n.compute_scores(cfg) (notebook 01) or let hslib.sweep.run do it")
    prov = s["provenance"]
    if (prov["dataset"], prov["model"]) != (cfg.dataset, cfg.model):
        raise ValueError(f"score file {s['dir']} was computed for dataset={prov['dataset']!r} model={prov['model']!r}, "
                         f"not dataset={cfg.dataset!r} model={cfg.model!r}")
    return s


def compute_scores(cfg, root=store.DEFAULT_ROOT, progress="auto") -> dict:
    """Train (or reuse) the scoring runs, score every training image, average, save; return the scores."""
    from . import train

    s = load_scores(cfg, root)
    if s is not None:
        return s
    configs = scoring_configs(cfg)
    for c in configs:
        train.run(c, root, progress=progress)
    xs, ys = train.train_split(configs[0])
    per_run = torch.stack([el2n(train.predict(m, xs), ys).cpu() for m in _scoring_models(cfg, root, xs.shape[-1])])
    per_run = per_run.numpy().astype(np.float32)
    d = scores_dir(cfg, root)
    d.mkdir(parents=True, exist_ok=True)
    for name, arr in (("per_run", per_run), ("el2n", per_run.mean(0)), ("el2n_sq", (per_run ** 2).mean(0))):
        store.write_npy(d / f"{name}.npy", arr)
    store.write_json(d / "provenance.json", {
        "dataset": cfg.dataset, "model": cfg.model, "width": cfg.width, "el2n_epoch": cfg.el2n_epoch,
        "el2n_runs": cfg.el2n_runs, "seeds": [c.seed for c in configs], "runs": [c.id for c in configs],
        "profile": cfg.profile, "n": int(per_run.shape[1]), "data_hash": _data_hash(xs, ys),
        "label_noise": cfg.label_noise, "squared": "el2n_sq = mean over runs of EL2N²", "version": 1,
        "complete": True})
    return load_scores(cfg, root)


def grand(model, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
    """Per-sample GraNd of uint8 images in eval mode: the L2 norm of the loss gradient over all parameters."""
    from torch.func import functional_call, grad, vmap

    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r} is not allowed; allowed values: an integer >= 1")
    model.eval()  # BN uses its running statistics, so each sample's gradient depends on that sample only
    dev = next(model.parameters()).device
    params = {k: v.detach() for k, v in model.named_parameters()}
    buffers = {k: v.detach() for k, v in model.named_buffers()}

    def loss(p, x, y):
        return F.cross_entropy(functional_call(model, (p, buffers), (x[None],)).float(), y[None])

    per_sample_grads = vmap(grad(loss), in_dims=(None, 0, 0))
    norms = []
    for i in range(0, len(images), batch_size):
        x = images[i:i + batch_size].to(dev).float().div_(255)
        g = per_sample_grads(params, x, labels[i:i + batch_size].to(dev))
        norms.append(torch.stack([t.flatten(1).pow(2).sum(1) for t in g.values()]).sum(0).sqrt())
    return torch.cat(norms).cpu()


def compute_grand(cfg, root=store.DEFAULT_ROOT, batch_size: int = 64) -> np.ndarray:
    """GraNd averaged over `cfg`'s scoring runs (trained first if needed), cached as grand.npy with the scores."""
    from . import train

    s = compute_scores(cfg, root, progress="none")
    path = s["dir"] / "grand.npy"
    meta = store.read_json(path.with_suffix(".json"))
    if isinstance(meta, dict) and meta.get("complete") is True and path.exists():
        arr = np.load(path)
        if len(arr) == s["provenance"]["n"]:
            return arr
    xs, ys = train.train_split(cfg)
    runs = [grand(m, xs, ys, batch_size) for m in _scoring_models(cfg, root, xs.shape[-1])]
    arr = torch.stack(runs).mean(0).numpy().astype(np.float32)
    store.write_npy(path, arr)
    store.write_json(path.with_suffix(".json"), {"score": "GraNd = mean over scoring runs of per-sample ‖∇θ CE‖₂",
                                                 "runs": s["provenance"]["runs"], "n": int(len(arr)),
                                                 "complete": True})
    return arr


def _scoring_models(cfg, root, image_size: int):
    """The finished scoring runs' models, one at a time, on the training device."""
    from .models import build_model
    from .train import resolve_device

    for c in scoring_configs(cfg):
        model = build_model(c.model, _classes(c), width=c.width, image_size=image_size, dataset=c.dataset)
        model.load_state_dict(store.load_torch(store.run_dir(root, c) / "final.pt"))
        yield model.to(resolve_device(c.device))


def _classes(cfg) -> int:
    from .data import num_classes
    return num_classes(cfg.dataset, cfg.data_root or None)


# ------------------------------------------------------------------------------------------ subsets
def subset_indices(scores: np.ndarray, ratio: float, kind: str = "hard", labels=None) -> np.ndarray:
    """Sorted training indices of a subset: `hard` = global top ratio by score (the paper's), `easy` = the
    lowest, `hard_balanced` = the top ratio within every class, `random` = the fixed random subset."""
    if not (isinstance(ratio, (int, float)) and 0 < ratio <= 1):
        raise ValueError(f"ratio={ratio!r} is out of range; allowed: 0 < ratio <= 1")
    if kind not in KINDS:
        raise ValueError(f"kind={kind!r} is not known; allowed values: {list(KINDS)}")
    scores = np.asarray(scores)
    n = len(scores)
    k = max(1, int(round(ratio * n)))
    # Ties are broken by index (stable sort), so a score file and a ratio always give the same subset.
    order = np.argsort(-scores, kind="stable")
    if kind == "hard":
        pick = order[:k]
    elif kind == "easy":
        pick = np.argsort(scores, kind="stable")[:k]
    elif kind == "random":
        from .data import random_subset
        pick = random_subset(n, ratio)
    else:
        if labels is None:
            raise ValueError("kind='hard_balanced' needs labels")
        labels = np.asarray(labels)
        pick = np.concatenate([order[labels[order] == c][:max(1, int(round(ratio * (labels == c).sum())))]
                               for c in np.unique(labels)])
    return np.sort(pick)


def subset_for(cfg, root=store.DEFAULT_ROOT) -> np.ndarray:
    """The training indices of `cfg`'s EL2N subset; also saved as an index file with provenance."""
    s = check_scores(cfg, root)
    from .train import train_split
    _, labels = train_split(cfg)
    idx = subset_indices(s["el2n"], cfg.data_ratio, cfg.subset, labels.numpy())
    path = s["dir"] / f"subset-{cfg.subset}-{cfg.data_ratio:.2f}.npy"
    if not path.exists():
        store.write_npy(path, idx)
        counts = np.bincount(labels.numpy()[idx], minlength=int(labels.max()) + 1)
        store.write_json(path.with_suffix(".json"), {
            "kind": cfg.subset, "ratio": cfg.data_ratio, "n": int(len(idx)), "scores": str(s["dir"]),
            "score_hash": hashlib.sha256(s["el2n"].tobytes()).hexdigest()[:16], "per_class": counts.tolist()})
    return idx


def auroc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve of `scores` for the boolean `positive` (Mann–Whitney U, ties averaged)."""
    from scipy.stats import rankdata

    ranks = rankdata(scores)
    pos = np.asarray(positive, dtype=bool)
    n1, n0 = pos.sum(), (~pos).sum()
    return float((ranks[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))
