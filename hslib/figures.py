"""The paper's figures, one function each, from tidy result tables (hslib.sweep.run / hslib.store).

Each function takes the rows of the runs it plots and the profile's settings, and returns a matplotlib
figure; notebooks save it as figNN_<topic>.{png,pdf}. Panel letters follow the paper; when a profile has
fewer dataset/model pairs than the paper, a panel for a missing pair shows the profile's first pair and
says so in its title.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import plots
from .models import build_model
from .sparse.distributions import scaled_densities
from .sparse.masks import maskable

LETTERS = "abcdefgh"


def _pick(df, **eq) -> pd.DataFrame:
    mask = np.ones(len(df), bool)
    for k, v in eq.items():
        mask &= np.isclose(df[k], v) if isinstance(v, float) else (df[k] == v).to_numpy()
    return df[mask]


def _pair_for(pairs: list, index: int):
    """The profile's pair for a paper panel, and a note when the profile lacks that pair."""
    if index < len(pairs):
        return pairs[index], ""
    return pairs[0], " (profile has one pair: first pair shown)"


def _ratio_label(ratio, subset):
    if subset == "hard":
        return "full data" if ratio >= 1 else f"EL2N top-{ratio:.0%}"
    return "full data" if ratio >= 1 else f"{ratio:.0%} data"


def _title(i, dataset, model, extra):
    return f"({LETTERS[i]}) {plots.pair_label(dataset, model)}, {extra}"


def accuracy_grid(df, pairs, ratios, profile, text, subset="hard", metric="test_acc"):
    """Accuracy vs sparsity panels: ratio-major, pair-minor (Figures 2, 4, 5)."""
    specs = [(r, p) for r in ratios for p in pairs]
    fig, axes = plots.panels(len(specs))
    for i, (ax, (ratio, (dataset, model))) in enumerate(zip(axes, specs)):
        rows = _pick(df, dataset=dataset, model=model, data_ratio=float(ratio))
        plots.accuracy_vs_sparsity(ax, rows, metric, _title(i, dataset, model, _ratio_label(ratio, subset)))
    plots.suptitle(fig, text, profile)
    fig.tight_layout()
    return fig


def set_grid(df, pair, profile):
    """Figure 3: SET accuracy over sparsity × data ratio, and SET − dense."""
    dataset, model = pair
    rows = _pick(df, dataset=dataset, model=model)
    sett = rows[rows.method == "set"].groupby(["sparsity", "data_ratio"]).test_acc.mean().unstack("data_ratio")
    dense = rows[rows.method == "dense"].groupby("data_ratio").test_acc.mean()
    diff = sett - dense.reindex(sett.columns).to_numpy()[None, :]
    fig, axes = plots.panels(2, width=5.0, height=3.8)
    plots.heatmap(axes[0], sett.sort_index(ascending=False), f"(a) SET accuracy, {plots.pair_label(dataset, model)}")
    plots.heatmap(axes[1], diff.sort_index(ascending=False), "(b) SET − dense (same data ratio)", center=0.0)
    for ax in axes:
        ax.set_xlabel("EL2N top-x data ratio")
        ax.set_ylabel("sparsity")
    plots.suptitle(fig, "Figure 3: SET on EL2N-hard subsets", profile)
    fig.tight_layout()
    return fig


def adversarial(df, pairs, ratios, sparsity, profile, number):
    """Figures 6 and 10: clean and PGD robust accuracy per method at one sparsity (dense for reference)."""
    specs = [(p, r) for p in pairs for r in ratios]
    fig, axes = plots.panels(len(specs))
    keep = df[(df.method == "dense") | np.isclose(df.sparsity, sparsity)]
    for i, (ax, ((dataset, model), ratio)) in enumerate(zip(axes, specs)):
        rows = _pick(keep, dataset=dataset, model=model, data_ratio=float(ratio))
        plots.method_bars(ax, rows, ("clean_acc", "robust_acc"), _title(i, dataset, model, _ratio_label(ratio, "random")))
    plots.suptitle(fig, f"Figure {number}: adversarial training (PGD), sparsity {sparsity}", profile)
    fig.tight_layout()
    return fig


def conv_layers(layers: pd.DataFrame) -> pd.DataFrame:
    """Only conv layers (4-D weights), re-indexed 0… in forward order."""
    conv = layers[layers["shape"].apply(len) == 4].copy()
    conv["index"] = conv.groupby("id").cumcount()
    return conv


def reference_densities(model: str, density: float, width: float = 1.0) -> dict:
    """ERK and uniform per-layer densities of the conv layers of `model` (the prescriptions)."""
    m = build_model(model, 10, width=width)
    shapes = [tuple(p.shape) for _, p in maskable(m) if p.dim() == 4]
    return {"ERK": scaled_densities(shapes, "erk", density), "uniform": scaled_densities(shapes, "uniform", density)}


def layer_density(panels_spec: list, profile: str, number: int, width: float = 1.0):
    """Figures 7, 11, 12. panels_spec: [(title, layers DataFrame of one model, model name, density)]."""
    fig, axes = plots.panels(len(panels_spec), width=5.2, height=3.6)
    for i, (ax, (title, layers, model, density)) in enumerate(zip(axes, panels_spec)):
        if len(layers):
            refs = reference_densities(model, density, width)
            plots.layer_density(ax, conv_layers(layers), refs, f"({LETTERS[i]}) {title}")
        else:
            ax.set_title(f"({LETTERS[i]}) {title}: no runs", fontsize=9)
    plots.suptitle(fig, f"Figure {number}: layer-wise density of conv layers", profile)
    fig.tight_layout()
    return fig


def variants(df, sparsity, ratio, profile, text, letters="ac"):
    """Figure 8 halves: (a) accuracy of SNN variants vs main methods, (c) training FLOPs vs accuracy."""
    rows = df[((df.method == "dense") | np.isclose(df.sparsity, sparsity)) & np.isclose(df.data_ratio, ratio)]
    fig, axes = plots.panels(2, width=5.2, height=3.8)
    pair = plots.pair_label(rows.dataset.iloc[0], rows.model.iloc[0]) if len(rows) else ""
    plots.method_bars(axes[0], rows, ("test_acc",), f"({letters[0]}) {pair}: sparsity {sparsity}, {ratio:.0%} data")
    plots.flops_bubbles(axes[1], rows, f"({letters[1]}) training FLOPs vs accuracy (bubble = parameters)")
    plots.suptitle(fig, text, profile)
    fig.tight_layout()
    return fig


def variants_grid(df, sparsities, ratios, profile, text, subset="hard"):
    """Figures 13 and 14: variant accuracy, one panel per data ratio, bars per method and sparsity."""
    fig, axes = plots.panels(len(ratios), width=5.6, height=3.6)
    for i, (ax, ratio) in enumerate(zip(axes, ratios)):
        rows = df[np.isclose(df.data_ratio, ratio) & ((df.method == "dense") | df.sparsity.round(6).isin(sparsities))]
        rows = rows.assign(setting=np.where(rows.method == "dense", "dense", "sparsity " + rows.sparsity.round(2).astype(str)))
        import seaborn as sns
        sns.barplot(data=rows, x="method", y="test_acc", hue="setting", order=plots.methods_in(rows), errorbar="sd", ax=ax)
        ax.set_xticks(range(len(plots.methods_in(rows))), [plots.LABELS[m] for m in plots.methods_in(rows)],
                      rotation=35, ha="right", fontsize=7)
        pair = plots.pair_label(rows.dataset.iloc[0], rows.model.iloc[0]) if len(rows) else ""
        ax.set_title(f"({LETTERS[i]}) {pair}, {_ratio_label(ratio, subset)}", fontsize=9)
        ax.set_xlabel("")
    plots.suptitle(fig, text, profile)
    fig.tight_layout()
    return fig


def severity(df, severities, ratio, profile):
    """Figure 9: corruption severities at one data ratio, accuracy vs sparsity per severity."""
    fig, axes = plots.panels(len(severities))
    for i, (ax, sev) in enumerate(zip(axes, severities)):
        rows = _pick(df, severity=sev, data_ratio=float(ratio))
        pair = plots.pair_label(rows.dataset.iloc[0], rows.model.iloc[0]) if len(rows) else ""
        plots.accuracy_vs_sparsity(ax, rows, "test_acc", f"({LETTERS[i]}) {pair}, severity {sev}, {ratio:.0%} data")
    plots.suptitle(fig, "Figure 9: corruption training across severities", profile)
    fig.tight_layout()
    return fig


def examples(images, labels, scores, classes, names, profile, k=5):
    """Figure 1: the k highest- and k lowest-EL2N training images of each class in `classes`."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2 * len(classes), k, figsize=(1.5 * k, 1.7 * 2 * len(classes)))
    for r, c in enumerate(classes):
        idx = np.flatnonzero(labels == c)
        order = idx[np.argsort(-scores[idx], kind="stable")]
        for row, pick, tag in ((2 * r, order[:k], "highest"), (2 * r + 1, order[::-1][:k], "lowest")):
            for j, i in enumerate(pick):
                ax = axes[row, j]
                ax.imshow(images[i].transpose(1, 2, 0))
                ax.set_xticks([])
                ax.set_yticks([])
                ax.set_title(f"{scores[i]:.2f}", fontsize=7)
            axes[row, 0].set_ylabel(f"{names[c]}\n{tag}", fontsize=8)
    plots.suptitle(fig, "Figure 1: high- and low-EL2N training images", profile)
    fig.tight_layout()
    return fig
