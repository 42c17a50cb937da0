"""Synthetic results: a complete results table of any profile, fabricated from a documented accuracy model, so
the figures and the claims ledger are verified at paper scale on a CPU (analysis tier: pandas, no torch).

The tests plant effects on one pair and ratio and check that exactly that row of the ledger turns `supported`
(or `contradicted` when reversed) while everything else stays `inconclusive`.
"""
from __future__ import annotations

import functools
import zlib

import numpy as np
import pandas as pd

from .architectures import masked_layers, parameter_count
from .erk import scaled_densities
from .paper import STRUCTURED, STRUCTURED_SPARSITY
from .planning import all_configs
from .store import PROVENANCE, SCALARS
from .vocabulary import DATASETS

# The accuracy model behind `synthetic_results` (fractions, not %):
#   acc = BASE[dataset] − 0.15·(1 − data ratio) − 0.02·(severity − 5 if corrupted) + effects + N(0, NOISE) per run
# No method or sparsity changes the expectation: without `effects` every group of runs the ledger compares
# differs only by seed noise, so every statistical verdict must be `inconclusive`, and a planted effect must
# be found on exactly the panel it was planted on. Adversarial rows: clean_acc = acc, robust_acc = 0.45·acc
# (+ effects on robust_acc). FLOPs and parameters follow the method's density (structural, not noisy).
# Layer tables: every sparse run at sparsity 0.8 (the paper's layer figures), and the extension's structured runs at
# its layer figure's sparsity (paper.STRUCTURED_SPARSITY), which get uniform densities (N:M is N/M in every layer).
BASE = {"cifar100": 0.72, "tinyimagenet": 0.58, "cifar10": 0.90, "digits": 0.93}
NOISE = 0.004


def _noise(seed: int, run_id: str, what: str) -> float:
    rng = np.random.default_rng([seed, zlib.crc32(f"{run_id}/{what}".encode())])
    return float(rng.normal(0, NOISE))


def _planted(effects, row: dict, metric: str) -> float:
    delta = 0.0
    for e in effects or []:
        if e.get("metric", "test_acc") not in (metric, "all"):
            continue
        match = True
        for k, v in e.items():
            if k in ("delta", "metric"):
                continue
            if k == "sparsity_min":
                match &= row["sparsity"] >= v - 1e-9
            elif isinstance(v, float):
                match &= bool(np.isclose(row[k], v))
            elif isinstance(v, (list, tuple)):
                match &= row[k] in v
            else:
                match &= row[k] == v
        if match:
            delta += e["delta"]
    return delta


@functools.lru_cache(maxsize=None)
def _model_facts(model: str, width: float, image_size: int):
    """(masked layer shapes, dense forward FLOPs per image, parameter count) of a 10-class model."""
    layers = masked_layers(model, 10, width, image_size)
    return [layer["shape"] for layer in layers], sum(layer["flops"] for layer in layers), \
        parameter_count(model, 10, width, image_size)


def synthetic_results(profile: str, effects=None, seed: int = 0) -> pd.DataFrame:
    """A complete results table for `profile` (the columns of runs.csv; one row per run of its grids, every
    seed) whose accuracies follow the documented model above. `effects`: a list of dicts, each a filter on
    row fields (e.g. method, dataset, model, data_ratio, severity, sparsity_min) plus `delta` (added to the
    accuracy) and optionally `metric` (test_acc, the default; robust_acc; or all). The layer table of the
    layer-density runs is attached as `df.attrs["layers"]` (per-layer densities: the ERK prescription for
    ERK methods and SNIP, uniform for magnitude pruning and Uniform)."""

    configs = all_configs(profile)
    models = {}
    rows, layers = [], []
    for c in configs:
        key = (c.model, c.width, DATASETS[c.dataset].image_size)
        if key not in models:
            models[key] = _model_facts(*key)
        shapes, fwd, params = models[key]
        row = {**c.to_dict(), "id": c.id, "sparsity": round(1 - c.density, 6)}
        row.pop("lr_milestones")
        acc = BASE.get(c.dataset, 0.8) - 0.15 * (1 - c.data_ratio)
        if c.corruption:
            acc -= 0.02 * (c.severity - 5)
        acc += _planted(effects, row, "test_acc") + _noise(seed, c.id, "acc")
        n_train = DATASETS[c.dataset].train_images * c.data_ratio
        flops = 3 * fwd * c.density * n_train * c.epochs
        if c.method in ("lth", "omp", "omp_erk"):
            flops += 3 * fwd * n_train * c.epochs  # the dense parent's training
        elif c.method == "gmp":
            flops = 3 * fwd * n_train * c.epochs * (1 - 0.5 * row["sparsity"])  # dense early, sparse late
        result = {k: None for k in SCALARS + PROVENANCE}
        result.update(test_acc=acc, test_loss=1 - acc, val_acc=acc, train_acc=min(1.0, acc + 0.2),
                      density=c.density, train_flops=flops, params=int(params * c.density), wall_time=0.0,
                      corruption_source="synthetic" if c.corruption else "", epochs_run=c.epochs)
        if c.adversarial:
            robust = 0.45 * acc + _planted(effects, row, "robust_acc") + _noise(seed, c.id, "robust")
            result.update(clean_acc=acc, robust_acc=robust, train_robust_acc=robust + 0.1, robust_gap=0.1)
        rows.append({**row, **result})
        structured = c.method in STRUCTURED and np.isclose(row["sparsity"], STRUCTURED_SPARSITY)
        if c.method != "dense" and (np.isclose(row["sparsity"], 0.8) or structured):
            rule = "uniform" if c.method in ("gmp", "lth", "omp", "uniform") + STRUCTURED else "erk"
            dens = scaled_densities(shapes, rule, c.density)
            for i, (shape, d) in enumerate(zip(shapes, dens)):
                layers.append({"id": c.id, "dataset": c.dataset, "model": c.model, "method": c.method,
                               "density_target": c.density, "data_ratio": c.data_ratio, "subset": c.subset,
                               "corruption": c.corruption, "severity": c.severity, "adversarial": c.adversarial,
                               "seed": c.seed, "profile": c.profile, "index": i, "layer": f"layer{i}",
                               "shape": list(shape), "params": int(np.prod(shape)),
                               "density": float(np.clip(d + _noise(seed, c.id, f"layer{i}"), 0, 1))})
    df = pd.DataFrame(rows)
    df.attrs["layers"] = pd.DataFrame(layers)
    return df
