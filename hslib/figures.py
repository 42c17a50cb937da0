"""Every figure of the paper, drawn from a results table by one function: `draw(name, results, profile)`.

What each panel shows comes from the table in hslib.paper (its letter, the paper's pair, the data,
the axis); this module only draws. A panel whose pair the profile replaces by a stand-in says so in its
title; a panel without runs says "no runs" instead of disappearing, so letters never shift. Accuracies are
in %, mean ± sd over seeds; one legend per figure sits below the panels; every method has one colour
everywhere (its registry entry). The returned figure carries `fig.hslib_meta` (profile, panels, run ids),
which `plots.save` writes beside the image as <name>.json.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import plots
from .registry import Registry
from .store import PROVENANCE
from .erk import scaled_densities
from .paper import FIGURES, PAIRS, Panel, figure, pair_note, stand_in
from .tables import as_shape, normalise, panel_rows
from .vocabulary import DATASETS

NAMES = tuple(f.name for f in FIGURES)
TOP_RUNS = 5  # Figure 8 (c, d): the five most accurate settings of each method


def _ratio_text(panel: Panel) -> str:
    if panel.ratio is None:
        return "data ratio × sparsity"
    if panel.ratio >= 1:
        return "full data"
    return f"EL2N top-{panel.ratio:.0%}" if panel.family == "el2n" else f"{panel.ratio:.0%} data"


def panel_title(panel: Panel, profile: str) -> str:
    parts = [pair_note(profile, panel.pair), _ratio_text(panel)]
    if panel.family == "corruption":
        parts.append(f"severity {panel.severity}")
    if panel.sparsity is not None:
        parts.append(f"sparsity {panel.sparsity:g}")
    return f"({panel.letter}) " + ", ".join(parts)


def _wrap(text: str, width: int = 60) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width))


def _no_runs(ax, title):
    ax.set_title(_wrap(title + ": no runs"), fontsize=8)
    ax.text(0.5, 0.5, "no runs at this profile", ha="center", va="center", transform=ax.transAxes, color="0.4")


# ------------------------------------------------------------------------------------------ panels
def _set_tables(rows):
    sett = rows[rows.method == "set"].groupby(["sparsity", "data_ratio"]).test_acc.mean().unstack("data_ratio") * 100
    dense = rows[rows.method == "dense"].groupby("data_ratio").test_acc.mean() * 100
    return sett.sort_index(ascending=False), sett.sort_index(ascending=False) - dense.reindex(sett.columns).to_numpy()


def _erk_reference(layers: pd.DataFrame, density: float) -> dict:
    """ERK and uniform prescriptions for the *run's own* layers (its width, its classifier included), shown
    on its conv layers: a width-1/16 SET run then sits on its ERK line instead of seeming to drift."""
    one = layers[layers.id == layers.id.iloc[0]].sort_values("index")
    shapes = [tuple(s) for s in one["shape"]]
    conv = [i for i, s in enumerate(shapes) if len(s) == 4]
    out = {}
    for name, rule in (("ERK", "erk"), ("uniform", "uniform")):
        dens = scaled_densities(shapes, rule, density)
        out[name] = [dens[i] for i in conv]
    return out


def _conv_layers(layers: pd.DataFrame) -> tuple[pd.DataFrame, list[int]]:
    conv = layers[layers["shape"].apply(len) == 4].copy()
    conv = conv.sort_values(["id", "index"])
    conv["index"] = conv.groupby("id").cumcount()
    first = conv[conv.id == conv.id.iloc[0]]
    shortcuts = [int(i) for i, s in zip(first["index"], first["shape"]) if s[2] == 1 and s[3] == 1]
    return conv, shortcuts


def _flops_points(rows: pd.DataFrame) -> pd.DataFrame:
    """Per method, its TOP_RUNS most accurate sparsities (means over seeds); dense is one point."""
    g = rows.groupby(["method", "sparsity"], as_index=False)[["train_flops", "test_acc", "params"]].mean()
    return g.sort_values("test_acc", ascending=False).groupby("method").head(TOP_RUNS)


# ------------------------------------------------------------------------------------------ renderers
# One function per kind of panel (Panel.show names it): (ax, panel, rows, layers, profile, title).
def _render_layers(ax, panel, rows, layers, profile, title):
    ids = set(rows[rows.method != "dense"].id)
    lrows = layers[layers.id.isin(ids)] if layers is not None and len(layers) else pd.DataFrame()
    if not len(lrows):
        return _no_runs(ax, title)
    lrows = lrows.drop(columns=[c for c in ("method",) if c in lrows]).merge(rows[["id", "method"]], on="id")
    lrows = lrows.assign(shape=lrows["shape"].apply(as_shape))
    conv, shortcuts = _conv_layers(lrows)
    refs = _erk_reference(lrows, 1 - panel.sparsity)
    return plots.layer_density(ax, conv, refs, _wrap(title), shortcuts)


def _render_curve(ax, panel, rows, layers, profile, title):
    plots.accuracy_vs_sparsity(ax, rows, panel.metric if panel.metric != "robust_acc" else "test_acc", _wrap(title))


def _render_set_grid(ax, panel, rows, layers, profile, title):
    acc, gap = _set_tables(rows)
    if panel.show == "set_acc":
        plots.heatmap(ax, acc, _wrap(f"({panel.letter}) SET test accuracy (%), {pair_note(profile, panel.pair)}"))
    else:
        plots.heatmap(ax, gap, _wrap(f"({panel.letter}) SET − dense (points of %), same data ratio"), center=0.0)
    ax.set_xlabel("EL2N top-x data ratio")
    ax.set_ylabel("sparsity")


def _render_bars(ax, panel, rows, layers, profile, title):
    plots.method_bars(ax, rows, "clean_acc", _wrap(title), second="robust_acc")


def _render_variant_bars(ax, panel, rows, layers, profile, title):
    plots.method_bars(ax, rows, "test_acc", _wrap(title))


def _render_flops(ax, panel, rows, layers, profile, title):
    plots.flops_bubbles(ax, _flops_points(rows), _wrap(title + f"; top-{TOP_RUNS} settings per method"))


def _check_renderer(name, fn):
    if not callable(fn):
        raise ValueError(f"panel renderer {name!r}: {fn!r} is not allowed; allowed: a function "
                         "(ax, panel, rows, layers, profile, title)")


RENDERERS = Registry("panel renderer", _check_renderer)
for _name, _fn in (("layers", _render_layers), ("curve", _render_curve), ("set_acc", _render_set_grid),
                   ("set_gap", _render_set_grid), ("bars", _render_bars), ("variant_bars", _render_variant_bars),
                   ("flops", _render_flops)):
    RENDERERS.add(_name, _fn)
WHOLE_FIGURE = ("examples",)  # Figure 1 is one picture of images, drawn by `examples`, not panel by panel


def _draw_panel(ax, panel: Panel, rows: pd.DataFrame, layers, profile: str):
    render = RENDERERS[panel.show]
    title = panel_title(panel, profile)
    if panel.show != "layers" and (not len(rows) or not (rows.method != "dense").any()):
        return _no_runs(ax, title)
    return render(ax, panel, rows, layers, profile, title)


def draw(name, results, profile: str, layers: pd.DataFrame | None = None):
    """Figure `name` (a figure file stem from NAMES, or its number) from a results table of `profile`.
    `layers`: the layer table for layer-density panels (default: results.attrs['layers']).
    Figure 1 takes the EL2N images instead: a dict with images, labels, scores and class names."""
    fig_spec = figure(name)
    if fig_spec.number == 1:
        return examples(results, profile)
    if layers is None:
        layers = results.attrs.get("layers")
    results = normalise(results)
    n = len(fig_spec.panels)
    wide = fig_spec.wide
    fig, axes = plots.panels(n, width=5.4 if wide else 4.2, height=3.9 if wide else 3.4)
    used, described = set(), []
    for ax, panel in zip(axes, fig_spec.panels):
        rows = panel_rows(results, panel, profile)
        _draw_panel(ax, panel, rows, layers, profile)
        used |= set(rows.id)
        described.append({"letter": panel.letter, "paper_pair": list(PAIRS[panel.pair]),
                          "run_pair": list(stand_in(profile, panel.pair)),
                          "stand_in": stand_in(profile, panel.pair) != PAIRS[panel.pair],
                          "grid": panel.grid, "data_ratio": panel.ratio, "sparsity": panel.sparsity,
                          "severity": panel.severity if panel.family == "corruption" else None,
                          "shows": panel.show, "runs": int(len(rows)), "title": panel_title(panel, profile)})
    title = f"Figure {fig_spec.number}: {fig_spec.title}"
    adv = results[results.id.isin(used) & (results.adversarial != "")] if len(results) else results
    if fig_spec.number in (6, 10) and len(adv):
        title += (f"; PGD-{int(adv.adv_steps.iloc[0])} training, PGD-{int(adv.adv_eval_steps.iloc[0])} evaluation"
                  "; light bars clean, solid bars PGD")
    if any(p.family == "corruption" for p in fig_spec.panels) and len(results):
        src = results[results.id.isin(used) & (results.corruption != "")].corruption_source.dropna().astype(str)
        if len(set(src) - {""}):
            title += f"; test set: {', '.join(sorted(set(src) - {''}))}"
    plots.suptitle(fig, title, profile)
    shown = plots.methods_in(results[results.id.isin(used)]) if used else []
    if all(p.show == "layers" for p in fig_spec.panels):
        shown = [m for m in shown if m != "dense"]  # layer panels show sparse masks only
    if fig_spec.number in (3,):
        fig.tight_layout(rect=(0, 0, 1, 0.95))
    else:
        plots.method_legend(fig, shown)
    fig.hslib_meta = {"figure": fig_spec.number, "name": fig_spec.name, "profile": profile, "panels": described,
                      "run_ids": sorted(used), "trained_by": trained_by(results[results.id.isin(used)] if used else results)}
    return fig


def trained_by(rows: pd.DataFrame) -> list[dict]:
    """The code versions that trained these runs: one entry per (hslib version, semantics, commit, dirty), with
    how many runs it trained. Runs written before provenance was recorded count under None."""
    counts: dict = {}
    for r in rows.reindex(columns=list(PROVENANCE)).itertuples(index=False):
        key = tuple(None if pd.isna(v) else (v.item() if hasattr(v, "item") else v) for v in r)
        counts[key] = counts.get(key, 0) + 1
    return [{**dict(zip(PROVENANCE, key)), "runs": n} for key, n in counts.items()]


def examples(data: dict, profile: str, k: int = 5):
    """Figure 1: the k highest- (a) and k lowest-EL2N (b) training images of the figure's two classes.
    `data`: images (N×C×H×W uint8), labels, scores, names (class names) and dataset."""
    import matplotlib.pyplot as plt

    images, labels, scores, names = (np.asarray(data[k_]) for k_ in ("images", "labels", "scores", "names"))
    picks = DATASETS[data["dataset"]].example_classes if data["dataset"] in DATASETS else (0, 1)
    classes = [list(names).index(c) if isinstance(c, str) else c for c in picks]
    fig, axes = plt.subplots(2 * len(classes), k, figsize=(1.5 * k, 1.7 * 2 * len(classes)))
    for r, c in enumerate(classes):
        idx = np.flatnonzero(labels == c)
        order = idx[np.argsort(-scores[idx], kind="stable")]
        for row, pick, tag in ((2 * r, order[:k], "(a) highest"), (2 * r + 1, order[::-1][:k], "(b) lowest")):
            for j, i in enumerate(pick):
                ax = axes[row, j]
                ax.imshow(images[i].transpose(1, 2, 0))
                ax.set_xticks([])
                ax.set_yticks([])
                ax.set_title(f"EL2N {scores[i]:.2f}", fontsize=7)
            axes[row, 0].set_ylabel(f"{names[c]}\n{tag}", fontsize=8)
    pair = pair_note(profile, "c100_r18")
    plots.suptitle(fig, f"Figure 1: high- and low-EL2N training images, {pair}", profile)
    fig.tight_layout()
    fig.hslib_meta = {"figure": 1, "name": FIGURES[0].name, "profile": profile,
                      "panels": [{"letter": "a", "shows": "highest EL2N"}, {"letter": "b", "shows": "lowest EL2N"}],
                      "classes": [str(names[c]) for c in classes], "run_ids": list(data.get("run_ids", []))}
    return fig
