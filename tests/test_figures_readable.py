"""Figures readable at course scale (issue 20, item 5), checked on the matplotlib objects `figures.draw` returns for
synthetic results tables (hslib.synthetic: no training): curves with a proper sparsity axis, legends that say
what shading and bubble sizes mean, notes only on the panels they concern, resolutions and seed counts read from
the runs, no control run drawn."""
import itertools

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from hslib import figures, paper, plots  # noqa: E402
from hslib.tables import panel_runs  # noqa: E402
from hslib.config import base_config, profile as profile_settings  # noqa: E402
from hslib.synthetic import synthetic_results  # noqa: E402


@pytest.fixture(scope="module")
def tables():
    return {p: synthetic_results(p) for p in ("course", "smoke")}


@pytest.fixture(scope="module")
def drawn(tables):
    """figures.draw of a (figure number, profile), drawn once for the module."""
    cache = {}

    def get(number, profile):
        if (number, profile) not in cache:
            with plt.rc_context({"figure.max_open_warning": 0}):  # every figure of two profiles stays open
                fig = figures.draw(number, tables[profile], profile)
            fig.canvas.draw()  # a renderer: text extents, marker positions in pixels
            cache[number, profile] = fig
        return cache[number, profile]

    yield get
    for fig in cache.values():
        plt.close(fig)


def _panels(fig):
    return [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]


def _flat(text):
    return text.replace("\n", " ")


def _legend_texts(fig):
    return [t.get_text() for t in fig.legends[0].get_texts()] if fig.legends else []


# ------------------------------------------------------------------------------------------ Figure 9: a curve
def test_figure_9_at_course_is_a_curve_of_three_sparsities_on_a_proper_axis(drawn):
    fig = drawn(9, "course")
    for ax in _panels(fig):
        assert [t for t in ax.get_xticks()] == pytest.approx([0.5, 0.8, 0.9])
        lo, hi = ax.get_xlim()
        assert 0.4 <= lo < 0.5 and 0.9 < hi <= 1.0  # the swept range, padded; not 0.76 … 0.84
        curves = [ln for ln in ax.get_lines() if len(ln.get_xdata()) >= 3]
        assert len(curves) == 5  # GMP, LTH, OMP, SNIP, SET: each a line through its three sparsities
        bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
        if len(profile_settings("course")["grid_seeds"]["severity"]) == 1:  # one seed: no spread, so no band
            assert not bands and "one seed (no spread)" in fig._suptitle.get_text()
        else:
            assert bands and all(np.ptp(p.vertices[:, 0]) >= 0.39 for c in bands for p in c.get_paths())  # no zero width


def test_a_single_sparsity_draws_side_by_side_points_with_error_bars(drawn):
    fig = drawn(9, "smoke")  # smoke sweeps only 0.8 for Figure 9
    for ax in _panels(fig):
        assert list(ax.get_xticks()) == pytest.approx([0.8])
        lo, hi = ax.get_xlim()
        assert hi - lo >= 0.1
        points = [ln for ln in ax.get_lines() if ln.get_marker() == "o"]
        xs = [float(ln.get_xdata()[0]) for ln in points]
        assert len(xs) == 5 and len(set(np.round(xs, 6))) == 5  # one per method, not on top of each other
        assert all(lo < x < hi for x in xs)
        assert "one swept" in ax.get_xlabel()


# ------------------------------------------------------------------------------------------ Figures 6, 10: shading
@pytest.mark.parametrize("number", [6, 10])
def test_the_adversarial_bar_legend_says_which_shading_is_clean_and_which_pgd(drawn, number):
    fig = drawn(number, "course")
    texts = _legend_texts(fig)
    assert any("clean" in t for t in texts) and any("PGD" in t for t in texts)
    assert all(isinstance(h, Patch) for h in fig.legends[0].legend_handles)  # bars, not lines
    light, solid = (h for h, t in zip(fig.legends[0].legend_handles, texts) if "clean" in t or "PGD" in t)
    assert light.get_alpha() < (solid.get_alpha() or 1.0)


# ------------------------------------------------------------------------------------------ Figures 7, 11, 12: LTH
@pytest.mark.parametrize("number", [7, 11, 12])
def test_a_layer_panel_with_lth_and_omp_says_lth_has_omps_mask(drawn, number):
    fig = drawn(number, "course")
    for ax in _panels(fig):
        texts = [t.get_text() for t in ax.get_legend().get_texts()]
        assert any("LTH" in t and "OMP's mask" in t for t in texts), texts
        # the key sits above density 1, in headroom no line reaches
        assert ax.get_ylim()[1] > 1.2


def test_the_lth_note_is_absent_where_omp_is_not_drawn(tables):
    df = tables["course"]
    fig = figures.draw(7, df[df.method != "omp"], "course")
    for ax in _panels(fig):
        assert not any("OMP's mask" in t.get_text() for t in ax.get_legend().get_texts())
    plt.close(fig)


# ------------------------------------------------------------------------------------------ Figure 8: bubbles
def _bubbles_px(ax):
    for coll in ax.collections:
        offs = np.asarray(coll.get_offsets(), dtype=float)
        if len(offs):
            r = np.sqrt(np.broadcast_to(coll.get_sizes(), (len(offs),))) * ax.figure.dpi / 72 / 2
            yield from zip(ax.transData.transform(offs), r)


@pytest.mark.parametrize("profile", ["course", "smoke"])
def test_figure_8_bubbles_have_a_size_key_fit_the_axes_and_ticks_do_not_collide(drawn, profile):
    fig = drawn(8, profile)
    renderer = fig.canvas.get_renderer()
    for ax in _panels(fig)[2:]:
        key = ax.get_legend()
        assert key is not None and "parameters" in key.get_title().get_text()
        assert len(key.get_texts()) >= 2
        box, keybox = ax.get_window_extent(), key.get_window_extent(renderer)
        bubbles = list(_bubbles_px(ax))
        assert bubbles
        for (x, y), r in bubbles:
            assert box.x0 <= x - r and x + r <= box.x1 and box.y0 <= y - r and y + r <= box.y1  # not clipped
            assert y + r <= keybox.y0 or not (keybox.x0 <= x <= keybox.x1)  # under the key, never beneath it
        lo, hi = ax.get_xlim()
        labels = [t for t, v in zip(ax.get_xticklabels(), ax.get_xticks()) if lo <= v <= hi and t.get_text()]
        assert len(labels) >= 2
        extents = [t.get_window_extent(renderer) for t in labels]
        for a, b in itertools.combinations(extents, 2):
            assert not a.overlaps(b), [t.get_text() for t in labels]


def test_figure_8_says_how_many_top_settings_it_shows(drawn, tables):
    fig = drawn(8, "course")
    for ax, letter in zip(_panels(fig)[2:], "cd"):
        rows = panel_runs(tables["course"], paper.figure(8).panel(letter), "course")
        n = rows[rows.method != "dense"].groupby("method").sparsity.nunique().max()
        assert n < figures.TOP_RUNS
        assert f"all {n} sparsities per method" in _flat(ax.get_title())
        assert f"top-{figures.TOP_RUNS} settings" not in _flat(ax.get_title())
    paper_table = synthetic_results("paper")
    rows = panel_runs(paper_table, paper.figure(8).panel("c"), "paper")
    assert figures.top_note(rows) == f"top-{figures.TOP_RUNS} of 9 sparsities per method"


# ------------------------------------------------------------------------------------------ notes where they belong
@pytest.mark.parametrize("profile", ["course", "smoke"])
def test_the_corrupted_test_set_note_is_only_on_corruption_panels(drawn, profile):
    for f in paper.FIGURES[1:]:
        fig = drawn(f.number, profile)
        assert "test set" not in fig._suptitle.get_text(), f.name
        for p, ax in zip(f.panels, _panels(fig)):
            assert ("test set:" in _flat(ax.get_title())) == (p.family == "corruption"), (f.name, p.letter)


@pytest.mark.parametrize("profile", ["course", "smoke"])  # both train at 16×16
def test_every_panel_says_its_resolution_and_corruption_panels_how_they_were_resized(drawn, profile):
    for f in paper.FIGURES[1:]:
        fig = drawn(f.number, profile)
        for p, ax in zip(f.panels, _panels(fig)):
            title = _flat(ax.get_title())
            assert "at 16×16" in title, (f.name, p.letter, title)
            assert ("corrupted at 32×32, resized to 16×16" in title) == (p.family == "corruption"), (f.name, title)


def test_the_resolution_comes_from_the_runs_not_the_profile_name(tables):
    for profile in ("course", "smoke"):  # the same runs read as if trained at the data's own size
        fig = figures.draw(4, tables[profile].assign(image_size=0), profile)
        assert not any("×16" in ax.get_title() or "resized" in ax.get_title() for ax in _panels(fig)), profile
        plt.close(fig)


def test_figure_3_colour_bars_are_labelled(drawn):
    fig = drawn(3, "course")
    bars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert len(bars) == 2
    assert all(ax.get_ylabel() for ax in bars)
    assert "dense" in bars[1].get_ylabel()


@pytest.mark.parametrize("profile", ["course", "smoke"])
def test_no_figure_legend_has_a_lone_entry_on_its_last_row(drawn, profile):
    for f in paper.FIGURES[1:]:
        fig = drawn(f.number, profile)
        for leg in fig.legends:
            n, ncol = len(leg.get_texts()), leg._ncols
            rows = -(-n // ncol)
            assert rows == 1 or n - (rows - 1) * ncol >= 2, (f.name, n, ncol)


def test_legend_columns_balance_rows():
    assert plots.legend_columns(["x"] * 9, width_in=6.0, most=8) == 5  # 5 + 4, not 8 + 1
    for n, width, text in itertools.product(range(2, 21), (4.2, 8.4, 10.8, 16.8), ("GMP", "Random-ERK (3–10 seeds)")):
        ncol = plots.legend_columns([text] * n, width_in=width)
        rows = -(-n // ncol)
        assert rows == 1 or ncol <= 2 or n - (rows - 1) * ncol >= 2, (n, width, text, ncol)


# ------------------------------------------------------------------------------------------ what is drawn
def test_controls_are_never_drawn(drawn, tables):
    df = tables["course"]
    epochs = base_config("course").epochs
    assert "lth_fresh" in set(df.method) and (df.epochs != epochs).any()  # the table holds the controls
    for f in paper.FIGURES[1:]:
        fig = drawn(f.number, "course")
        used = df[df.id.isin(fig.hslib_meta["run_ids"])]
        assert "lth_fresh" not in set(used.method), f.name
        assert set(used.epochs) == {epochs}, f.name  # not SET/SNIP at twice the epochs
        assert not any("fresh" in t for t in _legend_texts(fig))
        for p, ax in zip(f.panels, _panels(fig)):
            if p.show == "curve":
                colours = {matplotlib.colors.to_hex(ln.get_color()) for ln in ax.get_lines()}
                allowed = {plots.colour(m) for m in ("dense",) + paper.panel_methods(p, "course")}
                assert colours <= allowed | {"#000000"}, (f.name, p.letter)


def test_seed_counts_are_reported_per_method_when_they_differ(drawn, tables):
    fig = drawn(2, "course")  # dense and the confirmatory groups: 10 seeds; the rest 3
    title = fig._suptitle.get_text()
    assert "3–10 seeds" in title
    texts = _legend_texts(fig)
    assert "Dense (10 seeds)" in texts
    assert any(t.startswith("LTH (") and "3 seeds" in t for t in texts)
    counts = figures.seed_counts(panel_runs(tables["course"], paper.figure(2).panel("c"), "course")
                                 .assign(panel="c"))
    assert counts["dense"] == (10, 10) and counts["lth"] == (3, 3)
    one = drawn(9, "smoke")
    assert "one seed" in one._suptitle.get_text() and all("seed" not in t for t in _legend_texts(one))
    same = drawn(9, "course")  # the severity sweep: the same seeds everywhere (the profile's severity grid)
    n = len(profile_settings("course")["grid_seeds"]["severity"])
    assert (f"over {n} seeds" if n > 1 else "one seed") in same._suptitle.get_text()
    assert all("seed" not in t for t in _legend_texts(same))
