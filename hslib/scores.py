"""Where EL2N scores live and the subsets they define: the scoring runs behind a score file, reading and
checking a score file, and turning scores into the hard / easy / balanced subsets runs train on.

Computing the scores is hslib.el2n's job; this module only stores and reads them, so the training loop can
find its subset without importing the scoring code.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from . import files, store
from .data import random_subset, train_split
from .config import SEMANTICS
from .planning import scoring_configs
from .store import MissingDependency

KINDS = ("hard", "easy", "hard_balanced", "random")


def scores_dir(cfg, root=None) -> Path:
    """<the runs folder's scores>/<dataset>-<model>-<key>: the key hashes the scoring runs' ids (which hold the
    semantics version; it is named here too, so the key says it on its own)."""
    blob = " ".join(c.id for c in scoring_configs(cfg)) + f" semantics={SEMANTICS}"
    key = hashlib.sha256(blob.encode()).hexdigest()[:12]
    return store.scores_root(root) / f"{cfg.dataset}-{cfg.model}-{key}"


def _data_hash(images, labels) -> str:
    from .data import content_hash  # the one data hash (corruption cache keys use it too)

    return content_hash(images, labels, 16)


ARRAYS = ("el2n", "el2n_sq", "per_run")


def _read_scores(d: Path):
    """(scores dict, None) or (None, what is missing or wrong) for the score folder `d`."""
    from . import config

    prov = store.read_json(d / "provenance.json")
    if not isinstance(prov, dict) or prov.get("complete") is not True:
        return None, f"{d / 'provenance.json'} is missing or incomplete"
    if prov.get("semantics") != config.SEMANTICS:
        return None, f"{d} was computed by code of semantics {prov.get('semantics')}, not {config.SEMANTICS}"
    arrays = {}
    for k in ARRAYS:
        problem = files.checked_problem(d / f"{k}.npy")  # same-size garbage (reversed, NaNs written in) too
        if problem is not None:
            return None, problem
        arrays[k] = files.read_npy_checked(d / f"{k}.npy")
        if arrays[k] is None or arrays[k].dtype.kind != "f":
            return None, f"{d / (k + '.npy')} is not a float array"
    n, runs = prov.get("n"), len(prov.get("runs") or ())
    if arrays["el2n"].shape != (n,) or arrays["el2n_sq"].shape != (n,) or arrays["per_run"].shape != (runs, n):
        return None, f"{d}: the arrays' shapes are not the {runs} runs × {n} images its provenance.json says"
    bad = int((~np.isfinite(arrays["per_run"])).sum() + (~np.isfinite(arrays["el2n"])).sum())
    if bad:
        return None, f"{d}: {bad} EL2N scores are NaN or infinite (a scoring run diverged?)"
    return {**arrays, "provenance": prov, "dir": d}, None


def load_scores(cfg, root=None) -> dict | None:
    """{'el2n', 'el2n_sq', 'per_run', 'provenance'} or None when missing or damaged (checksums, shapes, NaNs)."""
    return _read_scores(scores_dir(cfg, root))[0]


def check_scores(cfg, root=None) -> dict:
    """The scores for `cfg`'s subset; a clear error when they are missing or belong to other data."""
    s, problem = _read_scores(scores_dir(cfg, root))
    if s is None:
        raise MissingDependency(
            f"EL2N scores for dataset={cfg.dataset!r} model={cfg.model!r} (el2n_epoch={cfg.el2n_epoch}, "
            f"el2n_runs={cfg.el2n_runs}) are missing or damaged under {scores_dir(cfg, root)} ({problem}); compute "
            f"them with hslib.el2n.compute_scores(cfg) after training its scoring runs (notebook 01), or let "
            f"hslib.sweep.run do both")
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
    if scores.dtype.kind in "fc" and not np.isfinite(scores).all():  # NaN sorts anywhere: the subset would be noise
        raise ValueError(f"scores hold {int((~np.isfinite(scores)).sum())} NaN or infinite values; allowed: finite "
                         "numbers (recompute them: hslib.el2n.compute_scores)")
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
    score_hash = hashlib.sha256(s["el2n"].tobytes()).hexdigest()[:16]
    record = store.read_json(path.with_suffix(".json"))
    saved = files.read_npy_checked(path)
    # The index file is a record of what trained: rewritten when damaged or made from other scores.
    if not (isinstance(record, dict) and record.get("score_hash") == score_hash and saved is not None
            and np.array_equal(saved, idx)):
        path.with_suffix(".json").unlink(missing_ok=True)
        files.write_npy_checked(path, idx)
        counts = np.bincount(labels.numpy()[idx], minlength=int(labels.max()) + 1)
        store.write_json(path.with_suffix(".json"), {
            "kind": cfg.subset, "ratio": cfg.data_ratio, "n": int(len(idx)), "scores": str(s["dir"]),
            "score_hash": score_hash, "per_class": counts.tolist()})
    return idx
