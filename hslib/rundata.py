"""What a run trains and is tested on: the training split (with label noise if asked), the run's subset of it
(random, or chosen by EL2N score), and the validation and test splits, corrupted when the run asks.
"""
from __future__ import annotations

import torch

from . import corrupted, scores
from . import data as hdata
from .config import RunConfig
from .data import train_split


def experiment_data(cfg: RunConfig, root=None) -> dict:
    """The run's train subset, val and test splits (uint8, CPU), with corruption applied if asked."""
    droot = cfg.data_root or None
    xtr, ytr = train_split(cfg)
    (xva, yva), (xte, yte) = (hdata.load_dataset(cfg.dataset, droot, s) for s in ("val", "test"))
    out = {"corruption_source": "none"}
    if cfg.corruption:
        xtr, xva, (xte, yte), out["corruption_source"] = corrupted.experiment_splits(cfg, xtr, xva, (xte, yte))
    if not cfg.uses_scores:
        idx = hdata.random_subset(len(ytr), cfg.data_ratio)
    else:
        idx = scores.subset_for(cfg, root)
    idx_t = torch.as_tensor(idx, dtype=torch.long)
    # Resized last, after any corruption: corruptions keep the parameters made for the data's own size.
    xtr, xva, xte = (hdata.resize(x, cfg.image_size) for x in (xtr[idx_t], xva, xte))
    out.update(train=(xtr, ytr[idx_t]), train_index=idx_t, val=(xva, yva), test=(xte, yte),
               num_classes=hdata.num_classes(cfg.dataset, droot))
    return out
