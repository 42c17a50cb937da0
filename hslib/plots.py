"""Figure helpers (seaborn): every paper figure is a few calls of these, saved as figNN_<topic>.{png,pdf}.

Every figure's title names the profile, and a smoke-profile figure says that it proves the pipeline,
not the science. Accuracies are shown as mean ± sd over seeds (a single seed shows no band).
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

FIGURES = "outputs/figures"
METHOD_ORDER = ["dense", "gmp", "lth", "omp", "snip", "snip_random", "set", "rigl", "omp_erk", "random_erk", "uniform"]
LABELS = {"dense": "Dense", "gmp": "GMP", "lth": "LTH", "omp": "OMP", "snip": "SNIP", "snip_random": "SNIP (random)",
          "set": "SET", "rigl": "RigL", "omp_erk": "OMP_ERK", "random_erk": "Random-ERK", "uniform": "Uniform"}
PALETTE = dict(zip(METHOD_ORDER, sns.color_palette("tab10", 10) + [(0.4, 0.4, 0.4)]))
DATASET_LABELS = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100", "tinyimagenet": "Tiny-ImageNet", "digits": "digits"}
MODEL_LABELS = {"resnet18": "ResNet18", "resnet34": "ResNet34", "vgg16": "VGG16", "vgg19": "VGG19"}


def pair_label(dataset: str, model: str) -> str:
    return f"{DATASET_LABELS.get(dataset, dataset)} / {MODEL_LABELS.get(model, model)}"


def suptitle(fig, text: str, profile: str):
    note = ": proves the pipeline, not the science" if profile == "smoke" else ""
    fig.suptitle(f"{text} [{profile} profile{note}]", fontsize=10)


def save(fig, name: str, out=FIGURES) -> list[Path]:
    """Save as <out>/<name>.png and .pdf; return the paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{name}.png", out / f"{name}.pdf"]
    fig.savefig(paths[0], dpi=110, bbox_inches="tight")
    fig.savefig(paths[1], bbox_inches="tight", metadata={"CreationDate": None, "ModDate": None})
    return paths


def panels(n: int, width=4.2, height=3.3, ncols=None):
    ncols = ncols or min(n, 4)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


def methods_in(df) -> list[str]:
    return [m for m in METHOD_ORDER if m in set(df["method"])]


def accuracy_vs_sparsity(ax, df: pd.DataFrame, metric: str = "test_acc", title: str = ""):
    """Sparse methods as lines over sparsity (mean ± sd over seeds); dense as a horizontal band."""
    sparse = df[df.method != "dense"]
    if len(sparse):
        sns.lineplot(data=sparse, x="sparsity", y=metric, hue="method", hue_order=methods_in(sparse), palette=PALETTE,
                     marker="o", errorbar="sd", ax=ax, legend="brief")
    dense = df[df.method == "dense"][metric]
    if len(dense):
        m, s = dense.mean(), dense.std() if len(dense) > 1 else 0.0
        ax.axhline(m, color=PALETTE["dense"], ls="--", lw=1.2, label="dense")
        ax.axhspan(m - s, m + s, color=PALETTE["dense"], alpha=0.15)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("sparsity")
    ax.set_ylabel(metric.replace("_", " "))
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles, [LABELS.get(lab, lab) for lab in labels], fontsize=7)


def method_bars(ax, df: pd.DataFrame, metrics=("test_acc",), title: str = ""):
    """Bars per method (mean ± sd over seeds), one hue per metric."""
    long = df.melt(id_vars=["method", "seed"], value_vars=list(metrics), var_name="metric", value_name="accuracy")
    sns.barplot(data=long, x="method", y="accuracy", hue="metric" if len(metrics) > 1 else None,
                order=methods_in(df), errorbar="sd", ax=ax,
                palette=None if len(metrics) > 1 else [PALETTE[m] for m in methods_in(df)])
    ax.set_xticks(range(len(methods_in(df))), [LABELS[m] for m in methods_in(df)], rotation=35, ha="right", fontsize=7)
    ax.set_xlabel("")
    ax.set_title(title, fontsize=9)


def heatmap(ax, table: pd.DataFrame, title: str, center=None, fmt=".2f"):
    sns.heatmap(table, annot=True, fmt=fmt, cmap="RdBu" if center is not None else "viridis", center=center, ax=ax,
                annot_kws={"fontsize": 7}, cbar_kws={"shrink": 0.8})
    ax.set_title(title, fontsize=9)


def layer_density(ax, layers: pd.DataFrame, references: dict | None = None, title: str = ""):
    """Per-layer density of conv layers (x = layer index in forward order) per method, with reference
    prescriptions (e.g. ERK, uniform) drawn as dashed black/grey lines."""
    sns.lineplot(data=layers, x="index", y="density", hue="method", hue_order=methods_in(layers), palette=PALETTE,
                 marker=".", errorbar=None, ax=ax)
    for (name, dens), style in zip((references or {}).items(), ("k--", "k:", "k-.")):
        ax.plot(range(len(dens)), dens, style, lw=1, label=name)
    ax.set_xlabel("conv layer (input → output)")
    ax.set_ylabel("density")
    ax.set_ylim(0, 1.05)
    ax.set_title(title, fontsize=9)
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles, [LABELS.get(lab, lab) for lab in labels], fontsize=7)


def flops_bubbles(ax, df: pd.DataFrame, title: str = ""):
    """Training FLOPs vs accuracy per method, bubble area ∝ parameter count (means over seeds)."""
    g = df.groupby("method", as_index=False)[["train_flops", "test_acc", "params"]].mean()
    sizes = 1500 * g["params"] / g["params"].max()
    for _, row in g.iterrows():
        ax.scatter(row.train_flops, row.test_acc, s=sizes[_], color=PALETTE[row.method], alpha=0.6,
                   edgecolor="k", label=LABELS[row.method])
    ax.set_xscale("log")
    ax.set_xlabel("training FLOPs")
    ax.set_ylabel("test acc")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, markerscale=0.3)
