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
from .tables import points
from .vocabulary import METHODS

METRIC_LABELS = {"test_acc": "test accuracy (%)", "clean_acc": "clean accuracy (%)", "robust_acc": "PGD accuracy (%)",
                 "val_acc": "validation accuracy (%)", "train_flops": "training FLOPs", "density": "density"}


def suptitle(fig, text: str, profile: str):
    """The figure's title with its profile note, wrapped to the figure's width."""
    import textwrap

    note = ": proves the pipeline, not the science" if profile == "smoke" else ""
    width = max(40, int(fig.get_figwidth() * 72 / (10 * 0.55)))  # characters of 10 pt that fit across
    tag = f"[{profile} profile{note}]".replace(" ", "\0")  # the profile tag is never broken across lines
    lines = textwrap.wrap(f"{text} {tag}", width, break_long_words=False)
    fig.suptitle("\n".join(lines).replace("\0", " "), fontsize=10)


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


def method_handle(method: str, kind: str = "line", text: str | None = None):
    """A legend handle for a method: a line (curves, layer profiles) or a filled patch (bars, bubbles)."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    text = label(method) if text is None else text
    if kind == "bar":
        return Patch(facecolor=colour(method), edgecolor="k", lw=0.4, alpha=0.85, label=text)
    return Line2D([], [], color=colour(method), marker="o" if method != "dense" else None, ls=line_style(method),
                  label=text)


def legend_columns(labels, width_in: float, most: int = 10) -> int:
    """Columns for a one-legend-per-figure row layout: as many as fit across the figure, then balanced over the
    rows, so that no row holds a lone entry (9 entries in two rows are 5 + 4, never 8 + 1)."""
    labels = list(labels)
    if not labels:
        return 1
    entry_pt = 7 * 0.6 * max(len(t) for t in labels) + 34  # text at 7 pt, handle, padding
    fit = max(1, min(most, int(width_in * 72 / entry_pt)))
    n = len(labels)
    rows = int(np.ceil(n / fit))
    ncol = int(np.ceil(n / rows))
    while rows > 1 and ncol > 2 and n - (rows - 1) * ncol == 1:  # e.g. 10 in threes: 3+3+3+1 -> twos
        ncol -= 1
        rows = int(np.ceil(n / ncol))
    return ncol


def layout(fig, legend_rows: int = 0):
    """tight_layout that leaves room for the (possibly wrapped) suptitle above and the figure legend below; the
    figure grows by what a second title line or legend row takes, so the panels keep their height."""
    title = fig._suptitle.get_text().count("\n") + 1 if fig._suptitle is not None else 0
    if not getattr(fig, "_hslib_grown", False):
        fig.set_figheight(fig.get_figheight() + (13 * max(title - 1, 0) + 12 * max(legend_rows - 1, 0)) / 72)
        fig._hslib_grown = True
    height = fig.get_figheight() * 72
    top = 1 - (title * 13 + 8) / height if title else 1
    bottom = (legend_rows * 12 + 8) / height if legend_rows else 0
    fig.tight_layout(rect=(0, bottom, 1, top))


def method_legend(fig, methods, extra=(), kind: str = "line", counts: dict | None = None):
    """One legend for the whole figure, below the panels (never over data): an entry per method in its colour
    (`kind`: "line" or "bar"), then `extra` handles. `counts`: method -> a note appended to its label
    (e.g. "3–10 seeds")."""
    counts = counts or {}
    handles = [method_handle(m, kind, f"{label(m)} ({counts[m]})" if m in counts else None) for m in methods]
    handles += list(extra)
    ncol = legend_columns([h.get_label() for h in handles], fig.get_figwidth())
    rows = int(np.ceil(len(handles) / ncol)) if handles else 0
    # matplotlib fills a legend column by column; order the handles so that it reads row by row
    handles = [handles[i * ncol + j] for j in range(ncol) for i in range(rows) if i * ncol + j < len(handles)]
    fig.legend(handles=handles, loc="lower center", ncol=ncol, fontsize=7, frameon=False,
               bbox_to_anchor=(0.5, 0.0))
    layout(fig, rows)


def accuracy_vs_sparsity(ax, df: pd.DataFrame, metric: str = "test_acc", title: str = ""):
    """Sparse methods as lines over sparsity (mean ± sd over seeds, in %); dense as a dashed line and band.
    The x axis has a tick at every sparsity swept. A single sparsity is no curve: there every method is a point
    with its ± sd bar, side by side around that sparsity, and the axis says so."""
    sparse = [m for m in methods_in(df) if m != "dense"]
    xs = sorted({round(float(x), 6) for x in df[df.method != "dense"]["sparsity"]})
    single = len(xs) == 1
    shown = points(df, metric, by=["method", "sparsity"])  # the numbers the figure's sidecar and text quote
    for m in methods_in(df):
        g = shown[shown.method == m].set_index("sparsity")[["mean", "sd"]] * 100
        if m == "dense":
            mean, sd = float(g["mean"].iloc[0]), float(g["sd"].iloc[0])
            ax.axhline(mean, color=colour(m), ls="--", lw=1.2)
            if sd > 0:
                ax.axhspan(mean - sd, mean + sd, color=colour(m), alpha=0.15)
            continue
        if single:
            dx = 0.1 * (sparse.index(m) - (len(sparse) - 1) / 2) / max(1, len(sparse))
            ax.errorbar(g.index + dx, g["mean"], yerr=g["sd"], color=colour(m), marker="o", ms=4, ls="none",
                        capsize=2, lw=1)
            continue
        ax.plot(g.index, g["mean"], color=colour(m), marker="o", ms=3, ls=line_style(m))
        if (g["sd"] > 0).any():
            ax.fill_between(g.index, g["mean"] - g["sd"], g["mean"] + g["sd"], color=colour(m), alpha=0.15)
    if xs:
        pad = 0.08 if single else 0.06 * (xs[-1] - xs[0])
        ax.set_xlim(xs[0] - pad, xs[-1] + pad)
        if len(xs) <= 12:
            ax.set_xticks(xs, [f"{x:g}" for x in xs])
    ax.set_title(title, fontsize=8)
    ax.set_xlabel("sparsity (one swept at this profile; methods side by side)" if single else "sparsity",
                  fontsize=8 if single else None)
    ax.set_ylabel(METRIC_LABELS.get(metric, metric))


def method_bars(ax, df: pd.DataFrame, metric: str = "test_acc", title: str = "", second: str | None = None):
    """A bar per method (mean ± sd over seeds, in %), in the method's colour. With `second`, two bars per
    method: `metric` light (e.g. clean accuracy) and `second` solid (e.g. PGD accuracy)."""
    methods = methods_in(df)
    pairs = [(metric, 0.45, 0.0)] if second is None else [(metric, 0.35, -0.2), (second, 1.0, 0.2)]
    for col, alpha, dx in pairs:
        shown = points(df, col, by=["method"]).set_index("method")
        for i, m in enumerate(methods):
            if m not in shown.index:  # no value of this metric
                continue
            mean, sd, seeds = shown.loc[m]
            ax.bar(i + dx, 100 * mean, width=0.4 if second else 0.7, color=colour(m), alpha=alpha if second else 0.85,
                   yerr=100 * sd if seeds > 1 else None, capsize=2, edgecolor="k", lw=0.4)
    ax.set_xticks(range(len(methods)), [label(m) for m in methods], rotation=35, ha="right", fontsize=7)
    ax.set_ylabel(METRIC_LABELS.get(metric, metric) if second is None else "accuracy (%)")
    ax.set_title(title, fontsize=8)


def heatmap(ax, table: pd.DataFrame, title: str, center=None, fmt=".1f", cbar_label: str = ""):
    """An annotated heat map; `cbar_label` names what the colour bar measures."""
    sns.heatmap(table, annot=True, fmt=fmt, cmap="RdBu" if center is not None else "viridis", center=center, ax=ax,
                annot_kws={"fontsize": 6}, cbar_kws={"shrink": 0.8, "label": cbar_label})
    ax.collections[0].colorbar.ax.yaxis.label.set_size(8)
    ax.set_title(title, fontsize=8)


def layer_density(ax, layers: pd.DataFrame, references: dict | None = None, title: str = "", shortcuts=(),
                  notes=()):
    """Per-layer density of conv layers (x = conv layer in forward order, integer ticks) per method, with
    reference prescriptions (ERK, uniform) dashed, and the 1×1 shortcut convs marked by grey columns. The panel's
    key (the references, then `notes`: extra legend handles such as "LTH's mask = OMP's") sits in headroom
    above density 1, never over a line."""
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
    ax.set_ylim(0, 1.32)
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.axhline(1.0, color="0.6", lw=0.5, zorder=0)
    ax.set_title(title, fontsize=8)
    handles = ax.get_legend_handles_labels()[0] + list(notes)
    if handles:
        ax.legend(handles=handles, fontsize=6, loc="upper center", ncol=len(handles), frameon=False,
                  borderaxespad=0.2, handlelength=2.2, columnspacing=1.2)


def _round_count(v: float) -> float:
    """The largest round number (1, 2 or 5 times a power of ten) not above v, for a size key: a key bubble is
    never bigger than the biggest bubble drawn."""
    if v <= 0:
        return v
    e = 10 ** np.floor(np.log10(v))
    return max(k for k in (1, 2, 5) if k * e <= v * (1 + 1e-9)) * e


def count_text(v: float) -> str:
    """12000 -> '12k', 3.4e6 -> '3.4M'."""
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(v) >= div:
            return f"{v / div:.3g}{unit}"
    return f"{v:.3g}"


def bubble_size(params, biggest):
    return 20 + 400 * np.asarray(params, dtype=float) / biggest


def flops_bubbles(ax, points: pd.DataFrame, title: str = ""):
    """Training FLOPs vs accuracy (%), one point per (method, sparsity), bubble area ∝ parameter count. A
    bubble-size key (parameters) sits in headroom above the points; x ticks at 1, 2 and 5 × 10^k only, so
    labels never collide; `keep_markers_inside` (after the figure's layout) makes room for every bubble."""
    from matplotlib.lines import Line2D
    from matplotlib.ticker import EngFormatter, LogLocator, NullFormatter

    biggest = points["params"].max() if len(points) else 1
    for _, row in points.iterrows():
        ax.scatter(row.train_flops, 100 * row.test_acc, s=bubble_size(row.params, biggest), color=colour(row.method),
                   alpha=0.6, edgecolor="k", lw=0.4)
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(EngFormatter(places=0, sep=""))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.tick_params(axis="x", labelsize=7)
    ax.set_xlabel("training FLOPs (log scale)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title, fontsize=8)
    if not len(points):
        return
    x = np.log10(points["train_flops"].astype(float))
    xspan = max(float(x.max() - x.min()), 0.3)
    ax.set_xlim(10 ** (x.min() - 0.12 * xspan), 10 ** (x.max() + 0.12 * xspan))
    y = 100 * points["test_acc"].astype(float)
    yspan = max(float(y.max() - y.min()), 2.0)
    ax.set_ylim(y.min() - 0.18 * yspan, y.max() + 0.9 * yspan)  # the top ~40%: the size key
    smallest = points["params"].min()
    refs = sorted({_round_count(v) for v in (smallest, np.sqrt(smallest * biggest), biggest)})
    refs = [v for v in refs if v > 0][-3:]
    key = [Line2D([], [], ls="none", marker="o", markersize=np.sqrt(bubble_size(v, biggest)), color="0.75",
                  markeredgecolor="k", markeredgewidth=0.4, alpha=0.6, label=count_text(v)) for v in refs]
    tall = 1.2 * np.sqrt(bubble_size(refs[-1], biggest)) / 6  # the biggest key bubble, in font sizes (6 pt)
    ax.legend(handles=key, title="parameters (bubble area)", loc="upper center", ncol=len(key), fontsize=6,
              title_fontsize=6, frameon=False, borderaxespad=0.2, columnspacing=1.0, handletextpad=0.3,
              handleheight=tall, handlelength=tall)


PATTERN_MARKERS = {"": ("o", "unstructured"), "nm": ("s", "N:M"), "channel": ("^", "channel")}  # by registry pattern


def pattern_marker(method: str) -> str:
    """A marker per sparsity pattern (the method's registry entry): circle unstructured and dense, square N:M,
    triangle channel; the colour stays the method's."""
    return PATTERN_MARKERS[METHODS[method].pattern][0]


def accuracy_vs_speed(ax, points: pd.DataFrame, title: str = ""):
    """Test accuracy (%) against measured inference speed relative to dense (×), one point per (method, sparsity),
    marked by sparsity pattern; dense sits at 1× on a dotted line, so a point to its right is faster than dense."""
    for _, row in points.iterrows():
        ax.scatter(row.speedup, 100 * row.test_acc, s=36, color=colour(row.method), marker=pattern_marker(row.method),
                   edgecolor="k", lw=0.4, alpha=0.85, zorder=3)
    ax.axvline(1.0, color="0.5", ls=":", lw=1)
    span = max(float(points.speedup.max() - points.speedup.min()), 0.2)
    ax.set_xlim(float(points.speedup.min()) - 0.15 * span, float(points.speedup.max()) + 0.15 * span)
    ax.set_xlabel("measured inference speed relative to dense (×)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title, fontsize=8)
    from matplotlib.lines import Line2D

    key = [Line2D([], [], ls="none", marker=m, color="0.6", markeredgecolor="k", markeredgewidth=0.4, label=name)
           for m, name in PATTERN_MARKERS.values()]
    ax.legend(handles=key, title="pattern", fontsize=6, title_fontsize=6, frameon=False, loc="best")


def mask_cells(ax, mask, title: str = "", group: int = 0, shade_rows=(), shade_columns=()):
    """A 2-D binary mask as cells: black kept, white pruned (rows: output channels; columns: the inputs in the order
    the mask is read). `group` > 0 draws a line after every `group` columns (N:M groups); `shade_rows` and
    `shade_columns` tint the rows or columns a pattern removed as a whole (pruned channels)."""
    mask = np.asarray(mask, dtype=float)
    for r in shade_rows:
        ax.axhspan(r - 0.5, r + 0.5, color="#fcbba1", zorder=0)
    for c in shade_columns:
        ax.axvspan(c - 0.5, c + 0.5, color="#fcbba1", zorder=0)
    ax.imshow(np.ma.masked_equal(mask, 0), cmap="Greys", vmin=0, vmax=1, interpolation="nearest", aspect="auto")
    ax.set_xlim(-0.5, mask.shape[1] - 0.5)
    ax.set_ylim(mask.shape[0] - 0.5, -0.5)
    if group:
        for x in np.arange(group, mask.shape[1], group):
            ax.axvline(x - 0.5, color="#3182bd", lw=0.8)
    ax.set_xlabel("input weight", fontsize=8)
    ax.set_ylabel("output channel", fontsize=8)
    ax.tick_params(labelsize=6)
    ax.set_title(title, fontsize=8)


def keep_markers_inside(ax, margin_px: float = 2.0, rounds: int = 4):
    """Widen the axis limits until every scatter marker (its full bubble, not only its centre) lies inside the
    axes. Call it after the figure's layout: the room a bubble needs depends on the axes' size in pixels."""
    fig = ax.figure
    for _ in range(rounds):
        box = ax.get_window_extent()
        over = np.zeros(4)  # left, right, bottom, top, in pixels
        for coll in ax.collections:
            offs = np.asarray(coll.get_offsets(), dtype=float)
            if not len(offs):
                continue
            sizes = np.broadcast_to(np.asarray(coll.get_sizes(), dtype=float), (len(offs),))
            pix = ax.transData.transform(offs)
            r = np.sqrt(sizes) * fig.dpi / 72 / 2 + margin_px
            over = np.maximum(over, [(box.x0 - (pix[:, 0] - r)).max(), ((pix[:, 0] + r) - box.x1).max(),
                                     (box.y0 - (pix[:, 1] - r)).max(), ((pix[:, 1] + r) - box.y1).max()])
        if (over <= 0).all():
            return
        for axis, lo, hi, size, get, put in ((ax.xaxis, over[0], over[1], box.width, ax.get_xlim, ax.set_xlim),
                                             (ax.yaxis, over[2], over[3], box.height, ax.get_ylim, ax.set_ylim)):
            if lo <= 0 and hi <= 0:
                continue
            t = axis.get_transform()
            a, b = t.transform(np.asarray(get(), dtype=float))
            per_px = (b - a) / size
            a, b = a - max(lo, 0) * per_px * 1.1, b + max(hi, 0) * per_px * 1.1
            put(*t.inverted().transform([a, b]))
