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

import numpy as np
import torch
import torch.nn.functional as F

from . import files, store
from .data import num_classes, resize, train_split
from .device import predict, resolve_device, tf32_scope
from .models import build_model
from .planning import scoring_configs
from .scores import _data_hash, load_scores, scores_dir
from .store import MissingDependency



def el2n(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-sample EL2N: L2 norm of softmax(logits) − onehot(labels)."""
    probs = F.softmax(logits.float(), dim=1)
    return (probs - F.one_hot(labels.to(probs.device), probs.shape[1]).float()).norm(dim=1)


def compute_scores(cfg, root=None) -> dict:
    """Score every training image with the finished scoring runs, average, save; return the scores.
    Never trains: missing scoring runs raise MissingDependency (train them with hslib.sweep.run or train.run).
    Damaged score files (checksums, NaNs) are recomputed; NaN or infinite scores are never saved."""
    s = load_scores(cfg, root)
    if s is not None:
        return s
    configs = scoring_configs(cfg)
    missing = [c.id for c in configs if not store.is_finished(root, c)]
    if missing:
        raise MissingDependency(
            f"EL2N scoring for dataset={cfg.dataset!r} model={cfg.model!r} needs its {len(configs)} scoring runs "
            f"finished under {root}; {len(missing)} are not ({', '.join(missing[:3])}…). Train them first: "
            f"hslib.sweep.run(hslib.planning.scoring_configs(cfg))")
    xs, ys = train_split(configs[0])
    xs = resize(xs, cfg.image_size)  # what the scoring runs trained on
    # Scoring logits are always fp32 (whatever precision the scoring runs trained in): no autocast.
    per_run = torch.stack([el2n(predict(m, xs, precision="fp32"), ys).cpu()
                           for m in _scoring_models(cfg, root, xs.shape[-1])])
    per_run = per_run.numpy().astype(np.float32)
    bad = int((~np.isfinite(per_run)).sum())
    if bad:  # never saved: a subset chosen by NaN scores would be arbitrary
        raise ValueError(f"EL2N scoring for dataset={cfg.dataset!r} model={cfg.model!r}: {bad} scores are NaN or "
                         f"infinite (a scoring run diverged: {', '.join(c.id for c in configs)}); nothing was saved")
    d = scores_dir(cfg, root)
    d.mkdir(parents=True, exist_ok=True)
    (d / "provenance.json").unlink(missing_ok=True)  # the folder is complete again only once all is rewritten
    for name, arr in (("per_run", per_run), ("el2n", per_run.mean(0)), ("el2n_sq", (per_run ** 2).mean(0))):
        files.write_npy_checked(d / f"{name}.npy", arr)
    store.write_json(d / "provenance.json", {
        "dataset": cfg.dataset, "model": cfg.model, "width": cfg.width, "el2n_epoch": cfg.el2n_epoch,
        "el2n_runs": cfg.el2n_runs, "seeds": [c.seed for c in configs], "runs": [c.id for c in configs],
        "profile": cfg.profile, "n": int(per_run.shape[1]), "data_hash": _data_hash(xs, ys),
        "label_noise": cfg.label_noise, "squared": "el2n_sq = mean over runs of EL2N²", "version": 1,
        **store.provenance(), "complete": True})
    s = load_scores(cfg, root)
    if s is None:
        raise OSError(f"EL2N scores just written under {d} do not read back as written (a failing disk?)")
    return s


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
        with tf32_scope(dev, "fp32"):  # the same fp32 precision as EL2N's logits (no autocast)
            g = per_sample_grads(params, x, labels[i:i + batch_size].to(dev))
        norms.append(torch.stack([t.flatten(1).pow(2).sum(1) for t in g.values()]).sum(0).sqrt())
    return torch.cat(norms).cpu()


def compute_grand(cfg, root=None, batch_size: int = 64) -> np.ndarray:
    """GraNd averaged over `cfg`'s finished scoring runs, cached as grand.npy beside the scores."""
    s = compute_scores(cfg, root)
    path = s["dir"] / "grand.npy"
    meta = store.read_json(path.with_suffix(".json"))
    if isinstance(meta, dict) and meta.get("complete") is True:
        arr = files.read_npy_checked(path)  # None when missing or not matching its checksum: recomputed
        if arr is not None and arr.shape == (s["provenance"]["n"],) and np.isfinite(arr).all():
            return arr
    xs, ys = train_split(cfg)
    xs = resize(xs, cfg.image_size)
    runs = [grand(m, xs, ys, batch_size) for m in _scoring_models(cfg, root, xs.shape[-1])]
    arr = torch.stack(runs).mean(0).numpy().astype(np.float32)
    if not np.isfinite(arr).all():
        raise ValueError(f"GraNd for dataset={cfg.dataset!r} model={cfg.model!r}: {int((~np.isfinite(arr)).sum())} "
                         "scores are NaN or infinite (a scoring run diverged?); nothing was saved")
    path.with_suffix(".json").unlink(missing_ok=True)
    files.write_npy_checked(path, arr)
    store.write_json(path.with_suffix(".json"), {"score": "GraNd = mean over scoring runs of per-sample ‖∇θ CE‖₂",
                                                 "runs": s["provenance"]["runs"], "n": int(len(arr)),
                                                 "complete": True})
    return arr


def _scoring_models(cfg, root, image_size: int):
    """The finished scoring runs' models, one at a time, on the training device."""
    for c in scoring_configs(cfg):
        model = build_model(c.model, _classes(c), width=c.width, image_size=image_size, dataset=c.dataset)
        model.load_state_dict(store.load_torch(store.run_file(store.run_dir(root, c), "final")))
        yield model.to(resolve_device(c.device))


def _classes(cfg) -> int:
    return num_classes(cfg.dataset, cfg.data_root or None)


def auroc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve of `scores` for the boolean `positive` (Mann–Whitney U, ties averaged)."""
    from scipy.stats import rankdata

    ranks = rankdata(scores)
    pos = np.asarray(positive, dtype=bool)
    n1, n0 = pos.sum(), (~pos).sum()
    return float((ranks[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))
