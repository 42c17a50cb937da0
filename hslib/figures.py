"""Every figure of the paper, drawn from a results table by one function: `draw(name, results, profile)`.

What each panel shows comes from the table in hslib.paper (its letter, the paper's pair, the data,
the axis); this module only draws. A panel whose pair the profile replaces by a stand-in says so in its
title; a panel without runs says "no runs" instead of disappearing, so letters never shift. Accuracies are
in %, mean ± sd over seeds (the figure title says over how many; where methods or settings differ, the legend
gives each method's range); one legend per figure sits below the panels; every method has one colour
everywhere (its registry entry). A panel draws only the methods it lists (hslib.paper), and only the runs of
its own schedule: control runs of another schedule (planning.control_configs: SET/SNIP at twice the epochs) are
not drawn beside the figure's runs. A panel title names what a reader needs to read it: the stand-in pair, the
resolution runs were trained at when the profile resizes images (`image_size`, read from the runs), and on a
corruption panel how its images were corrupted and where its test set came from. The returned figure carries
`fig.hslib_meta` (profile, panels, run ids), which `plots.save` writes beside the image as <name>.json.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import plots
from .registry import Registry
from .store import PROVENANCE
from .erk import scaled_densities
from .paper import FIGURES, PAIRS, Panel, figure, pair_note, stand_in
from .tables import as_shape, normalise, panel_runs, points
from .vocabulary import DATASETS

NAMES = tuple(f.name for f in FIGURES)
TOP_RUNS = 5  # Figure 8 (c, d): the five most accurate settings of each method


def _ratio_text(panel: Panel) -> str:
    if panel.ratio is None:
        return "data ratio × sparsity"
    if panel.ratio >= 1:
        return "full data"
    return f"EL2N top-{panel.ratio:.0%}" if panel.family == "el2n" else f"{panel.ratio:.0%} data"


def _sizes(rows: pd.DataFrame) -> list[int]:
    """The image sizes the runs were resized to (`image_size`; 0 = the data's own), as in the table."""
    if rows is None or not len(rows) or "image_size" not in rows:
        return []
    return sorted({int(v) for v in pd.to_numeric(rows["image_size"], errors="coerce").fillna(0)} - {0})


def _native(dataset: str) -> int | None:
    return DATASETS[dataset].image_size if dataset in DATASETS else None


def resolution_notes(panel: Panel, profile: str, rows: pd.DataFrame | None) -> tuple[str, str]:
    """(' at 16×16' for the run's dataset, 'corrupted at 32×32, resized to 16×16' on a corruption panel), read from
    the runs' `image_size`; empty strings where the runs keep the data's own resolution."""
    sizes = _sizes(rows)
    if not sizes:
        return "", ""
    dataset = stand_in(profile, panel.pair)[0]
    native = _native(dataset)
    if sizes == [native]:
        return "", ""
    size = "/".join(f"{s}×{s}" for s in sizes)
    corrupted = ""
    if panel.family == "corruption" and native:
        corrupted = f"corrupted at {native}×{native}, resized to {size}"
    return f" at {size}", corrupted


def corrupted_test_note(rows: pd.DataFrame | None) -> str:
    """'test set: generated (hslib.corruptions)' for a panel whose runs use a corrupted test set, else ''."""
    if rows is None or not len(rows) or "corruption_source" not in rows:
        return ""
    src = rows[rows.corruption != ""].corruption_source.dropna().astype(str)
    src = sorted(set(src) - {"", "none"})
    return f"test set: {'; '.join(src)}" if src else ""


def pair_text(panel: Panel, profile: str, rows: pd.DataFrame | None = None) -> str:
    """The panel's pair note with the run resolution: 'digits at 16×16 / ResNet18 (stand-in for ...)'."""
    note = pair_note(profile, panel.pair)
    at, _ = resolution_notes(panel, profile, rows)
    if at:
        dataset = stand_in(profile, panel.pair)[0]
        name = DATASETS[dataset].label if dataset in DATASETS else dataset
        note = note.replace(f"{name} / ", f"{name}{at} / ", 1)
    return note


def panel_title(panel: Panel, profile: str, rows: pd.DataFrame | None = None) -> str:
    """'(a) pair, data, severity, sparsity', then on a corruption panel how it was corrupted and its test set.
    `rows`: the panel's runs, which say the resolution and the test set's source (without them: neither)."""
    parts = [pair_text(panel, profile, rows), _ratio_text(panel)]
    if panel.family == "corruption":
        parts.append(f"severity {panel.severity}")
    if panel.sparsity is not None:
        parts.append(f"sparsity {panel.sparsity:g}")
    title = f"({panel.letter}) " + ", ".join(parts)
    notes = [n for n in (resolution_notes(panel, profile, rows)[1], corrupted_test_note(rows)) if n]
    return title + "".join(f"; {n}" for n in notes)


def _wrap(text: str, width: int = 60) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width))


def _no_runs(ax, title):
    ax.set_title(_wrap(title + ": no runs"), fontsize=8)
    ax.text(0.5, 0.5, "no runs at this profile", ha="center", va="center", transform=ax.transAxes, color="0.4")


# ------------------------------------------------------------------------------------------ panels
def _set_tables(rows):
    shown = points(rows, "test_acc")  # the numbers of the sidecar and of the text under the figure
    sett = shown[shown.method == "set"].pivot(index="sparsity", columns="data_ratio", values="mean") * 100
    dense = shown[shown.method == "dense"].groupby("data_ratio")["mean"].mean() * 100
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


def top_note(rows: pd.DataFrame) -> str:
    """What Figure 8 (c, d) shows per method: the paper's top-5 settings, or all of them where fewer were swept."""
    swept = rows[rows.method != "dense"].groupby("method").sparsity.nunique()
    n = int(swept.max()) if len(swept) else 0
    if n > TOP_RUNS:
        return f"top-{TOP_RUNS} of {n} sparsities per method"
    return f"all {n} sparsit{'y' if n == 1 else 'ies'} per method (the paper: top {TOP_RUNS})"


def seed_counts(rows: pd.DataFrame) -> dict:
    """method -> (fewest, most) seeds behind one drawn mean (one panel, sparsity and data ratio)."""
    if not len(rows) or "seed" not in rows:
        return {}
    keys = [k for k in ("panel", "method", "sparsity", "data_ratio") if k in rows]
    n = rows.groupby(keys).seed.nunique().groupby(level="method").agg(["min", "max"])
    return {m: (int(r["min"]), int(r["max"])) for m, r in n.iterrows()}


def _range(lo: int, hi: int) -> str:
    return f"{lo}" if lo == hi else f"{lo}–{hi}"


def seed_notes(counts: dict, what: str = "mean ± sd", legend: bool = True) -> tuple[str, dict]:
    """(a title note 'mean ± sd over 3 seeds' or '... over 3–10 seeds (per method in the legend)', and the
    legend notes per method where the numbers differ: {'set': '3–10 seeds'}). Without a legend
    (`legend=False`) the title note names each method's number itself."""
    if not counts:
        return "", {}
    lo, hi = min(v[0] for v in counts.values()), max(v[1] for v in counts.values())
    if lo == hi:
        return (f"{what} over {lo} seeds" if lo > 1 else "one seed (no spread)"), {}
    per = {m: f"{_range(*v)} seed{'s' if v[1] > 1 else ''}" for m, v in counts.items()}
    if not legend:
        listed = ", ".join(f"{plots.label(m)} {per[m]}" for m in plots.methods_in(pd.DataFrame({"method": list(per)})))
        return f"{what} over seeds ({listed})", per
    return f"{what} over {_range(lo, hi)} seeds (per method in the legend)", per


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
    notes = []
    if {"lth", "omp"} <= set(conv.method):  # one mask: the global magnitude mask of the same trained parent
        from matplotlib.lines import Line2D

        notes.append(Line2D([], [], color=plots.colour("lth"), marker=".", lw=1,
                            label="LTH: OMP's mask (line under OMP's)"))
    return plots.layer_density(ax, conv, refs, _wrap(title), shortcuts, notes=notes)


def _render_curve(ax, panel, rows, layers, profile, title):
    plots.accuracy_vs_sparsity(ax, rows, panel.metric if panel.metric != "robust_acc" else "test_acc", _wrap(title))


def _render_set_grid(ax, panel, rows, layers, profile, title):
    acc, gap = _set_tables(rows)
    at, _ = resolution_notes(panel, profile, rows)
    if panel.show == "set_acc":
        plots.heatmap(ax, acc, _wrap(f"({panel.letter}) SET test accuracy (%), {pair_text(panel, profile, rows)}"),
                      cbar_label="SET test accuracy (%)")
    else:
        plots.heatmap(ax, gap, _wrap(f"({panel.letter}) SET − dense (points of %), same data ratio"
                                     + (f"; images{at}" if at else "")),
                      center=0.0, cbar_label="SET − dense (points of %)")
    ax.set_xlabel("EL2N top-x data ratio")
    ax.set_ylabel("sparsity")


def _render_bars(ax, panel, rows, layers, profile, title):
    plots.method_bars(ax, rows, "clean_acc", _wrap(title), second="robust_acc")


def _render_variant_bars(ax, panel, rows, layers, profile, title):
    plots.method_bars(ax, rows, "test_acc", _wrap(title))


def _render_flops(ax, panel, rows, layers, profile, title):
    plots.flops_bubbles(ax, _flops_points(rows), _wrap(title + f"; {top_note(rows)}"))


SPEED = "images_per_second"  # the measured column a speed panel reads (hslib.speed.measure adds it)


def speed_points(rows: pd.DataFrame) -> pd.DataFrame:
    """Per (method, sparsity): mean test accuracy over seeds and the measured inference speed relative to dense
    (`speedup`: images per second ÷ dense's, both measured the same way on the same machine)."""
    rows = rows[rows[SPEED].notna()] if SPEED in rows else rows.iloc[:0].assign(**{SPEED: []})
    g = rows.groupby(["method", "sparsity"], as_index=False)[["test_acc", SPEED]].mean()
    dense = g.loc[g.method == "dense", SPEED]
    return g.assign(speedup=g[SPEED] / float(dense.mean()) if len(dense) else np.nan)


def speed_source(rows: pd.DataFrame) -> str:
    """Where a speed panel's numbers come from, as the measurement recorded it (`speed_source`)."""
    if "speed_source" not in rows:
        return ""
    return "; ".join(sorted(set(rows.speed_source.dropna().astype(str)) - {""}))


def _render_speed(ax, panel, rows, layers, profile, title):
    points = speed_points(rows)
    if not (points.method == "dense").any() or not (points.method != "dense").any():
        ax.set_title(_wrap(title + ": no measured speed"), fontsize=8)
        ax.text(0.5, 0.5, "no inference speed measured\n(hslib.speed.measure)", ha="center", va="center",
                transform=ax.transAxes, color="0.4")
        return None
    plots.accuracy_vs_speed(ax, points, _wrap(f"{title}; speed: {speed_source(rows)}", 70))


def _check_renderer(name, fn):
    if not callable(fn):
        raise ValueError(f"panel renderer {name!r}: {fn!r} is not allowed; allowed: a function "
                         "(ax, panel, rows, layers, profile, title)")


RENDERERS = Registry("panel renderer", _check_renderer)
for _name, _fn in (("layers", _render_layers), ("curve", _render_curve), ("set_acc", _render_set_grid),
                   ("set_gap", _render_set_grid), ("bars", _render_bars), ("variant_bars", _render_variant_bars),
                   ("flops", _render_flops), ("speed", _render_speed)):
    RENDERERS.add(_name, _fn)
WHOLE_FIGURE = ("examples",)  # Figure 1 is one picture of images, drawn by `examples`, not panel by panel
SPARSE_ONLY = ("set_acc", "set_gap")  # SET's heat maps: nothing to draw without SET (a curve draws dense alone)


ACCURACIES = ("test_acc", "clean_acc", "robust_acc")


def panel_points(rows: pd.DataFrame) -> dict:
    """{metric: [{method, sparsity, data_ratio, mean, sd, seeds}, ...]}: the accuracies a panel draws
    (hslib.tables.points over its runs), written to the figure's sidecar so that a reader, the text under the
    figure and the tests can check them against the ledger."""
    out = {}
    for metric in ACCURACIES:
        if metric in rows and rows[metric].notna().any():
            p = points(rows, metric)
            out[metric] = [{"method": r.method, "sparsity": float(r.sparsity), "data_ratio": float(r.data_ratio),
                            "mean": float(r.mean), "sd": float(r.sd), "seeds": int(r.seeds)} for r in p.itertuples()]
    return out


def _draw_panel(ax, panel: Panel, rows: pd.DataFrame, layers, profile: str):
    render = RENDERERS[panel.show]
    title = panel_title(panel, profile, rows)
    sparse = len(rows) and (rows.method != "dense").any()
    if panel.show != "layers" and (not len(rows) or (panel.show in SPARSE_ONLY and not sparse)):
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
    used, described, drawn = set(), [], []
    for ax, panel in zip(axes, fig_spec.panels):
        rows = panel_runs(results, panel, profile)
        _draw_panel(ax, panel, rows, layers, profile)
        used |= set(rows.id)
        drawn.append(rows.assign(panel=panel.letter))
        described.append({"letter": panel.letter, "paper_pair": list(PAIRS[panel.pair]),
                          "run_pair": list(stand_in(profile, panel.pair)),
                          "stand_in": stand_in(profile, panel.pair) != PAIRS[panel.pair],
                          "grid": panel.grid, "data_ratio": panel.ratio, "sparsity": panel.sparsity,
                          "severity": panel.severity if panel.family == "corruption" else None,
                          "shows": panel.show, "runs": int(len(rows)), "title": panel_title(panel, profile, rows),
                          "points": panel_points(rows)})
    drawn = pd.concat(drawn) if drawn else results.iloc[:0]
    layer_figure = all(p.show == "layers" for p in fig_spec.panels)
    if layer_figure and "method" in drawn:
        drawn = drawn[drawn.method != "dense"]  # layer panels show sparse masks only
    title = f"Figure {fig_spec.number}: {fig_spec.title}"
    adv = results[results.id.isin(used) & (results.adversarial != "")] if len(results) else results
    if fig_spec.number in (6, 10) and len(adv):
        title += f"; PGD-{int(adv.adv_steps.iloc[0])} training, PGD-{int(adv.adv_eval_steps.iloc[0])} evaluation"
    lines = max((ax.get_title().count("\n") + 1 for ax in axes), default=1)
    if lines > 2:  # long panel titles (stand-in, resolution, corruption, test set) must not squash the panels
        fig.set_figheight(fig.get_figheight() + 0.13 * (lines - 2))
    heat = fig_spec.number in (3,)  # heat maps of means; no method legend
    seeds_note, per_method = seed_notes(seed_counts(drawn), "mean" if layer_figure or heat else "mean ± sd",
                                        legend=not heat)
    if seeds_note:
        title += f"; {seeds_note}"
    plots.suptitle(fig, title, profile)
    shown = plots.methods_in(drawn) if len(drawn) else []
    if heat:
        plots.layout(fig)
    else:
        bars = all(p.show in ("bars", "variant_bars", "flops", "speed") for p in fig_spec.panels)
        extra = ()
        if any(p.show == "bars" for p in fig_spec.panels):  # clean and PGD bars side by side: say which is which
            from matplotlib.patches import Patch

            extra = (Patch(facecolor="0.55", alpha=0.35, edgecolor="k", lw=0.4, label="light: clean accuracy"),
                     Patch(facecolor="0.55", edgecolor="k", lw=0.4, label="solid: PGD accuracy"))
        plots.method_legend(fig, shown, extra, kind="bar" if bars else "line", counts=per_method)
    for ax, panel in zip(axes, fig_spec.panels):
        if panel.show in ("flops", "speed"):
            plots.keep_markers_inside(ax)
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
