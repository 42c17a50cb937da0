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

from . import store
from .vocabulary import METHODS

METRIC_LABELS = {"test_acc": "test accuracy (%)", "clean_acc": "clean accuracy (%)", "robust_acc": "PGD accuracy (%)",
                 "val_acc": "validation accuracy (%)", "train_flops": "training FLOPs", "density": "density"}


def suptitle(fig, text: str, profile: str):
    note = ": proves the pipeline, not the science" if profile == "smoke" else ""
    fig.suptitle(f"{text} [{profile} profile{note}]", fontsize=10)


# Label, colour, line style and order of every method are read from its registry entry when a figure is drawn,
# so a method registered at run time (notebook 09) is drawn with its own label and colour.
def label(method: str) -> str:
    return METHODS[method].label


def colour(method: str) -> str:
    return METHODS[method].colour


def line_style(method: str) -> str:
    return "--" if method == "dense" or METHODS[method].dashed else "-"


def save(fig, name: str, out) -> list[Path]:
    """Save as <out>/<name>.png and .pdf; a figure drawn by hslib.figures also gets <name>.json (profile,
    panels, the run ids it used and the code that trained them, and the code that drew it). Returns the paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    
    paths = [out / f"{name}.png", out / f"{name}.pdf"]
    # Each file replaced atomically: a full disk leaves the old figure whole, never half a new one. The sidecar is
    # written after the images it describes.
    meta = getattr(fig, "hslib_meta", None)
    replaced = []
    try:
        store.write_figure(fig, paths[0], dpi=110, bbox_inches="tight")
        replaced.append(paths[0])
        store.write_figure(fig, paths[1], bbox_inches="tight", metadata={"CreationDate": None, "ModDate": None})
    except BaseException:
        if replaced:  # a new PNG beside the old PDF: the old sidecar describes neither pair; no sidecar instead
            (out / f"{name}.json").unlink(missing_ok=True)
        raise
    if meta is not None:
        paths.append(out / f"{name}.json")
        store.write_json(paths[-1], {**meta, "drawn_by": store.provenance()})
    else:  # an older sidecar describes other images
        (out / f"{name}.json").unlink(missing_ok=True)
    return paths


def panels(n: int, width=4.2, height=3.3, ncols=None):
    ncols = ncols or min(n, 4)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


def methods_in(df) -> list[str]:
    present = set(df["method"])
    return [m for m in METHODS if m in present]


def method_legend(fig, methods, extra=()):
    """One legend for the whole figure, below the panels (never over data): a line per method in its colour."""
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=colour(m), marker="o" if m != "dense" else None, ls=line_style(m), label=label(m))
               for m in methods]
    handles += list(extra)
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 8), fontsize=7, frameon=False,
               bbox_to_anchor=(0.5, -0.02))
    fig.tight_layout(rect=(0, 0.07, 1, 0.95))


def accuracy_vs_sparsity(ax, df: pd.DataFrame, metric: str = "test_acc", title: str = ""):
    """Sparse methods as lines over sparsity (mean ± sd over seeds, in %); dense as a dashed line and band."""
    for m in methods_in(df):
        rows = df[df.method == m]
        if m == "dense":
            v = 100 * rows[metric].astype(float)
            mean, sd = v.mean(), (v.std() if len(v) > 1 else 0.0)
            ax.axhline(mean, color=colour(m), ls="--", lw=1.2)
            ax.axhspan(mean - sd, mean + sd, color=colour(m), alpha=0.15)
            continue
        g = rows.groupby("sparsity")[metric].agg(["mean", "std"]).fillna(0.0) * 100
        ax.plot(g.index, g["mean"], color=colour(m), marker="o", ms=3, ls=line_style(m))
        ax.fill_between(g.index, g["mean"] - g["std"], g["mean"] + g["std"], color=colour(m), alpha=0.15)
    ax.set_title(title, fontsize=8)
    ax.set_xlabel("sparsity")
    ax.set_ylabel(METRIC_LABELS.get(metric, metric))


def method_bars(ax, df: pd.DataFrame, metric: str = "test_acc", title: str = "", second: str | None = None):
    """A bar per method (mean ± sd over seeds, in %), in the method's colour. With `second`, two bars per
    method: `metric` light (e.g. clean accuracy) and `second` solid (e.g. PGD accuracy)."""
    methods = methods_in(df)
    for i, m in enumerate(methods):
        rows = df[df.method == m]
        pairs = [(metric, 0.45, 0.0)] if second is None else [(metric, 0.35, -0.2), (second, 1.0, 0.2)]
        for col, alpha, dx in pairs:
            v = 100 * rows[col].astype(float)
            ax.bar(i + dx, v.mean(), width=0.4 if second else 0.7, color=colour(m), alpha=alpha if second else 0.85,
                   yerr=v.std() if len(v) > 1 else None, capsize=2, edgecolor="k", lw=0.4)
    ax.set_xticks(range(len(methods)), [label(m) for m in methods], rotation=35, ha="right", fontsize=7)
    ax.set_ylabel(METRIC_LABELS.get(metric, metric) if second is None else "accuracy (%)")
    ax.set_title(title, fontsize=8)


def heatmap(ax, table: pd.DataFrame, title: str, center=None, fmt=".1f"):
    sns.heatmap(table, annot=True, fmt=fmt, cmap="RdBu" if center is not None else "viridis", center=center, ax=ax,
                annot_kws={"fontsize": 6}, cbar_kws={"shrink": 0.8})
    ax.set_title(title, fontsize=8)


def layer_density(ax, layers: pd.DataFrame, references: dict | None = None, title: str = "", shortcuts=()):
    """Per-layer density of conv layers (x = conv layer in forward order, integer ticks) per method, with
    reference prescriptions (ERK, uniform) dashed, and the 1×1 shortcut convs marked by grey columns."""
    for i in shortcuts:
        ax.axvspan(i - 0.4, i + 0.4, color="0.85", zorder=0)
    for m in methods_in(layers):
        g = layers[layers.method == m].groupby("index")["density"].mean()
        ax.plot(g.index, g.values, color=colour(m), marker=".", lw=1, ls=line_style(m))
    for (name, dens), style in zip((references or {}).items(), ("k--", "k:", "k-.")):
        ax.plot(range(len(dens)), dens, style, lw=1, label=name)
    n = int(layers["index"].max()) + 1 if len(layers) else 0
    step = 1 if n <= 20 else 2
    ax.set_xticks(range(0, n, step))
    ax.tick_params(axis="x", labelsize=6)
    ax.set_xlabel("conv layer (input → output; grey: 1×1 shortcut)")
    ax.set_ylabel("density")
    ax.set_ylim(0, 1.05)
    ax.set_title(title, fontsize=8)
    if references:
        ax.legend(fontsize=6, loc="upper right")


def flops_bubbles(ax, points: pd.DataFrame, title: str = ""):
    """Training FLOPs vs accuracy (%), one point per (method, sparsity), bubble area ∝ parameter count."""
    biggest = points["params"].max() if len(points) else 1
    for _, row in points.iterrows():
        ax.scatter(row.train_flops, 100 * row.test_acc, s=20 + 400 * row.params / biggest, color=colour(row.method),
                   alpha=0.6, edgecolor="k", lw=0.4)
    ax.set_xscale("log")
    ax.set_xlabel("training FLOPs (log scale)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title, fontsize=8)
