"""Where EL2N scores live and the subsets they define: the scoring runs behind a score file, reading and
checking a score file, and turning scores into the hard / easy / balanced subsets runs train on.

Computing the scores is hslib.el2n's job; this module only stores and reads them, so the training loop can
find its subset without importing the scoring code.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from . import store
from .data import random_subset, train_split
from .planning import scoring_configs
from .store import MissingDependency

KINDS = ("hard", "easy", "hard_balanced", "random")


def scores_dir(cfg, root=None) -> Path:
    """<the runs folder's scores>/<dataset>-<model>-<key>: the key hashes the scoring runs' ids."""
    key = hashlib.sha256(" ".join(c.id for c in scoring_configs(cfg)).encode()).hexdigest()[:12]
    return store.scores_root(root) / f"{cfg.dataset}-{cfg.model}-{key}"


def _data_hash(images, labels) -> str:
    h = hashlib.sha256(images.numpy().tobytes())
    h.update(labels.numpy().tobytes())
    return h.hexdigest()[:16]


def load_scores(cfg, root=None) -> dict | None:
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


def check_scores(cfg, root=None) -> dict:
    """The scores for `cfg`'s subset; a clear error when they are missing or belong to other data."""
    s = load_scores(cfg, root)
    if s is None:
        raise MissingDependency(
            f"EL2N scores for dataset={cfg.dataset!r} model={cfg.model!r} (el2n_epoch={cfg.el2n_epoch}, "
            f"el2n_runs={cfg.el2n_runs}) are missing under {scores_dir(cfg, root)}; compute them with "
            f"hslib.el2n.compute_scores(cfg) after training its scoring runs (notebook 01), or let hslib.sweep.run do both")
    prov = s["provenance"]
    if (prov["dataset"], prov["model"]) != (cfg.dataset, cfg.model):
        raise ValueError(f"score file {s['dir']} was computed for dataset={prov['dataset']!r} model={prov['model']!r}, "
                         f"not dataset={cfg.dataset!r} model={cfg.model!r}")
    return s


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
        pick = random_subset(n, ratio)
    else:
        if labels is None:
            raise ValueError("kind='hard_balanced' needs labels")
        labels = np.asarray(labels)
        pick = np.concatenate([order[labels[order] == c][:max(1, int(round(ratio * (labels == c).sum())))]
                               for c in np.unique(labels)])
    return np.sort(pick)


def subset_for(cfg, root=None) -> np.ndarray:
    """The training indices of `cfg`'s EL2N subset; also saved as an index file with provenance."""
    s = check_scores(cfg, root)
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
