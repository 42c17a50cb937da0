"""The extension beyond the paper (issue 22: structured sparsity through the same study): its figures in the table of
the paper, the profile flag that plans them, the estimate of their cost, their ledger rows on planted synthetic
results, and the speed measurement that Figure E3 draws."""
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from hslib import claims, config, estimate, figures, findings, paper, planning, series, tables  # noqa: E402
from hslib.synthetic import synthetic_results  # noqa: E402

EXT_METHODS = len(paper.EXTENSION_METHODS)  # 3 unstructured + 3 N:M + 2 channel
OFF = ("class", "gpu", "paper")


def ids(configs) -> set:
    return {c.id for c in configs}


def planned(configs) -> set:
    """Every run a sweep of `configs` trains: scoring runs and dense parents included."""
    return {c.id for wave in planning.plan(configs) for c in wave}


# ------------------------------------------------------------------------------------------ the table
def test_the_extension_is_numbered_apart_and_says_so_in_every_title():
    assert [f.number for f in paper.EXTENSION] == ["E1", "E2", "E3"]
    assert [f.name for f in paper.EXTENSION] == ["ext01_structured_accuracy", "ext02_structured_layer_density",
                                                 "ext03_structured_speed"]
    assert all(f.beyond_paper and f.title.startswith("beyond the paper: ") for f in paper.EXTENSION)
    assert not any(f.beyond_paper for f in paper.FIGURES) and paper.ALL_FIGURES == paper.FIGURES + paper.EXTENSION
    assert {f.notebook for f in paper.EXTENSION} == {"10_structured_sparsity"}
    # the series runs it after both lanes, alone: Figure E3 times inference, and a lane's training would load it
    assert series.FINAL[0] == ("10_structured_sparsity", {})
    assert all(name != "10_structured_sparsity" for lane in series.LANES for name, _ in lane)
    from hslib.vocabulary import METHODS  # the table's groups are the registry's patterns

    assert {m: METHODS[m].pattern for m in paper.EXTENSION_METHODS} == {
        **{m: "" for m in paper.UNSTRUCTURED}, **{m: "nm" for m in paper.NM}, **{m: "channel" for m in paper.CHANNEL}}
    e1 = paper.figure("E1")
    assert [(p.letter, p.family, p.ratio) for p in e1.panels] == [("a", "el2n", 0.5), ("b", "el2n", 0.3),
                                                                   ("c", "corruption", 0.3)]
    assert all(p.methods == paper.EXTENSION_METHODS for p in e1.panels)
    with pytest.raises(ValueError, match="figure='E9'.*ext03_structured_speed"):
        paper.figure("E9")


# ------------------------------------------------------------------------------------------ planning at smoke
def test_smoke_plans_the_extension_with_exact_run_counts():
    e1 = planning.figure_configs("ext01_structured_accuracy", "smoke")
    # 3 panels × (8 methods at the one structured sparsity + dense) × 1 seed
    assert config.PROFILES["smoke"]["structured_sparsities"] == [0.5] and config.PROFILES["smoke"]["seeds"] == [0]
    assert len(e1) == 3 * (EXT_METHODS + 1) == 27
    assert {c.density for c in e1 if c.method != "dense"} == {0.5}
    e2 = planning.figure_configs("ext02_structured_layer_density", "smoke")
    assert sorted(c.method for c in e2) == sorted(("dense",) + paper.STRUCTURED)  # dense shared by (a) and (b)
    e3 = planning.figure_configs("ext03_structured_speed", "smoke")
    assert len(e3) == EXT_METHODS + 1
    assert ids(e2) <= ids(e1) and ids(e3) <= ids(e1)  # E2 and E3 draw E1's runs: nothing more to train
    everything = planning.all_configs("smoke")
    assert ids(e1) <= ids(everything) and ids(planning.extension_configs("smoke")) == ids(e1)
    # What the extension adds to the smoke series: its 24 sparse runs. Dense on each panel's data is Figure 2's (a),
    # (c) and Figure 4's (c); the dense parents of OMP, one-shot N:M and channel pruning are those same runs; and
    # smoke's paper sparsities (0.8, 0.9) never reach 0.5, so SET, SNIP and OMP at 0.5 are new too.
    added = planned(everything) - planned(planning.paper_configs("smoke"))
    assert len(added) == 3 * EXT_METHODS == 24
    assert planning.grids_of("smoke")[-2:] == ("structured", "structured_corruption")


@pytest.mark.parametrize("profile", OFF)
def test_a_profile_without_the_flag_plans_exactly_the_papers_runs(profile):
    assert config.PROFILES[profile]["extension"] is False and not paper.extension(profile)
    configs = planning.all_configs(profile)
    drawn = {c.id for f in paper.FIGURES for c in planning.figure_configs(f.name, profile)}
    assert ids(configs) == drawn | ids(planning.control_configs(profile))  # main's definition: paper figures + controls
    assert [c.id for c in configs] == [c.id for c in planning.paper_configs(profile)]
    assert not {c.method for c in configs} & set(paper.STRUCTURED)
    assert "structured" not in planning.grids_of(profile)
    with pytest.raises(ValueError, match=f"experiment='structured' is beyond the paper and profile '{profile}' leaves "
                                         "the extension out; allowed values"):
        planning.grid("structured", profile)


def test_the_estimate_states_the_extensions_cost_apart():
    for profile in ("course", "smoke"):
        plain = estimate.compute_estimate(profile)
        asked = estimate.compute_estimate(profile, extension=True)
        assert "extension" not in plain and {k: v for k, v in asked.items() if k != "extension"} == plain
        assert asked["extension"]["included"] is paper.extension(profile)
    # smoke: the 24 runs above. course (flag on, what its hour allows): the 5 structured methods at density 0.5 on the
    # three panels' data at one seed; SET, SNIP and OMP at sparsity 0.5 are runs Figures 2 and 4 train already.
    assert estimate.compute_estimate("smoke", extension=True)["extension"]["runs"] == 24
    course = estimate.compute_estimate("course", extension=True)["extension"]
    assert course["runs"] == 5 * 3 and course["gpu_hours"] > 0 and course["included"]
    # course runs 20 steps of 64 images per epoch for 12 epochs: every added run is 15,360 image passes
    assert course["image_passes"] == 15 * 20 * 64 * 12


# ------------------------------------------------------------------------------------------ the ledger
@pytest.fixture
def course_with_extension(monkeypatch):
    """The course profile with its extension at 3 seeds (course itself runs it at one seed: direction only), so
    that the ledger's tests of the extension rows have a test to run."""
    seeds = {g: s for g, s in config.PROFILES["course"]["grid_seeds"].items() if not g.startswith("structured")}
    monkeypatch.setitem(config.PROFILES["course"], "grid_seeds", seeds)
    _clear_plan_caches()  # plans cached by profile name by the tests before: they hold the course's own seeds
    yield "course"
    _clear_plan_caches()  # and the tests after must not see these seeds


def _clear_plan_caches():
    from hslib import prose

    for cached in (claims._plan, claims._control_ids, prose._plan, prose._planned_ledger, tables._planned):
        cached.cache_clear()


def _ledger(profile, effects=None):
    return claims.ledger(synthetic_results(profile, effects=effects), profile).set_index(["key", "panel"])


def test_the_extension_rows_are_exploratory_beyond_the_paper_and_apart_from_the_confirmatory_family(
        course_with_extension):
    ledger = _ledger(course_with_extension).reset_index()
    ext = ledger[ledger.key.str.startswith("ext_")]
    keys = [f.key for f in findings.EXTENSION_FINDINGS]
    assert sorted(zip(ext.key, ext.panel)) == sorted((k, x) for k in keys for x in "abc")  # one row per panel
    assert set(ext.family) == {"exploratory"} and ext.beyond_paper.all() and ext.p_adjusted.isna().all()
    assert not ledger[~ledger.key.str.startswith("ext_")].beyond_paper.any()
    assert list(ledger[ledger.family == "confirmatory"].key) == [f.key for f in findings.CONFIRMATORY]
    # no planted effect: twins differ by seed noise only, so no row is contradicted (with 3 seeds a noisy draw can
    # leave a row inconclusive rather than supported)
    assert (ext.n_seeds == 3).all() and ext.p_value.notna().all()
    assert set(ext.verdict) <= {"supported (exploratory)", "inconclusive (exploratory)"}
    assert (ext.verdict == "supported (exploratory)").sum() >= 6
    text = claims.summary(ledger, "course")
    assert "## Beyond the paper (exploratory)" in text and f"{len(ext)} rows on the extension" in text


def test_a_planted_structured_loss_is_found_on_its_panel_only(course_with_extension):
    # channel sparsity 20 pp worse than SET on the EL2N top-30% only; dynamic N:M 20 pp worse under corruption only
    effects = [{"method": list(paper.CHANNEL), "data_ratio": 0.3, "corruption": "", "delta": -0.2},
               {"method": "nm_dynamic", "corruption": "gaussian_noise+impulse_noise+defocus_blur", "delta": -0.2}]
    ledger = _ledger(course_with_extension, effects)
    assert ledger.loc[("ext_channel_keeps_set", "b"), "verdict"] == "contradicted (exploratory)"
    assert abs(ledger.loc[("ext_channel_keeps_set", "b"), "diff"] + 0.2) < 0.01
    assert ledger.loc[("ext_nm_dynamic_keeps_set", "c"), "verdict"] == "contradicted (exploratory)"
    plain = _ledger(course_with_extension)
    for key, letter in [("ext_channel_keeps_set", "a"), ("ext_channel_keeps_set", "c"),
                        ("ext_nm_dynamic_keeps_set", "a"), ("ext_nm_dynamic_keeps_set", "b"),
                        ("ext_nm_one_shot_keeps_omp", "a"), ("ext_nm_one_shot_keeps_omp", "b"),
                        ("ext_nm_one_shot_keeps_omp", "c")]:  # nothing planted: the same verdict as without effects
        assert ledger.loc[(key, letter), "verdict"] == plain.loc[(key, letter), "verdict"], (key, letter)
        assert not ledger.loc[(key, letter), "verdict"].startswith("contradicted")
    # the paper's confirmatory rows do not see the extension's runs
    conf = [(f.key, f.panels) for f in findings.CONFIRMATORY]
    assert ledger.loc[conf, "p_value"].tolist() == pytest.approx(plain.loc[conf, "p_value"].tolist())


def test_a_profile_without_the_extension_has_no_extension_rows():
    ledger = claims.ledger(synthetic_results("smoke"), "smoke")
    assert ledger.key.str.startswith("ext_").sum() == 3 * len(findings.EXTENSION_FINDINGS)  # smoke: flag on
    assert (ledger[ledger.beyond_paper].verdict == claims.NOT_TESTABLE).all()  # one seed
    gpu = claims.ledger(synthetic_results("gpu"), "gpu")
    assert not gpu.key.str.startswith("ext_").any() and not gpu.beyond_paper.any()


def test_a_finding_beyond_the_paper_must_be_exploratory():
    f = findings.EXTENSION_FINDINGS[0]
    with pytest.raises(ValueError, match="beyond the paper is exploratory"):
        findings.Finding(f.key, f.figure, f.panels, f.statement, f.a, f.b, test="difference", family="confirmatory",
                         beyond_paper=True)


# ------------------------------------------------------------------------------------------ the figures
def test_every_extension_figure_draws_every_panel_at_smoke(tmp_path):
    df = synthetic_results("smoke")
    # a planted speed measurement: dense and masked networks 1000 images/s, channel-pruned ones 2500
    df["images_per_second"] = np.where(df.method.isin(paper.CHANNEL), 2500.0, 1000.0)
    df["speed_source"] = "planted by the test"
    for f in paper.EXTENSION:
        fig = figures.draw(f.name, df, "smoke")
        meta = fig.hslib_meta
        assert [p["letter"] for p in meta["panels"]] == [p.letter for p in f.panels]
        assert all(p["runs"] > 0 for p in meta["panels"]), f.name
        assert fig._suptitle.get_text().startswith(f"Figure {f.number}: beyond the paper: ")
        titles = [ax.get_title() for ax in fig.axes if ax.get_visible() and ax.get_title()]
        assert len(titles) == len(f.panels) and not any("no runs" in t or "no measured" in t for t in titles)
        plt.close(fig)
    rows = tables.panel_runs(df, paper.figure("E3").panel("a"), "smoke")
    points = figures.speed_points(rows).set_index("method")
    assert points.speedup.to_dict() == {m: 2.5 if m in paper.CHANNEL else 1.0 for m in points.index}
    assert figures.speed_source(rows) == "planted by the test"


def test_a_speed_panel_without_a_measurement_says_so():
    fig = figures.draw("ext03_structured_speed", synthetic_results("smoke"), "smoke")
    assert "no measured speed" in fig.axes[0].get_title()
    plt.close(fig)


def test_notebook_10_is_stored_without_outputs_and_validates_its_parameters_first():
    nb = json.loads((Path(__file__).resolve().parents[1] / "notebooks" / "10_structured_sparsity.ipynb").read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(not c["outputs"] and c["execution_count"] is None for c in code)
    assert "parameters" in code[0]["metadata"].get("tags", []) and "setup(" in "".join(code[1]["source"])
    text = "".join("".join(c["source"]) for c in code)
    assert all(f'"{f.name}"' in text for f in paper.EXTENSION)


# ------------------------------------------------------------------------------------------ the speed measurement
def test_speed_is_measured_on_the_network_as_deployed(tmp_path):
    from hslib import speed, store
    from hslib.config import base_config
    from hslib.models import build_model

    cfg = base_config("smoke", dataset="digits", model="resnet18")
    with pytest.raises(ValueError, match=r"batch=0 is not allowed; allowed values: an integer >= 1"):
        speed.measure([cfg], tmp_path, batch=0)
    with pytest.raises(store.MissingDependency, match=f"run {cfg.id} \\(dense\\) has no final.pt"):
        speed.measure([cfg], tmp_path)
    model = build_model("resnet18", 10, width=cfg.width, image_size=32, dataset="digits")
    directory = store.run_dir(tmp_path, cfg)
    directory.mkdir()
    store.save_torch(store.run_file(directory, "final"), model.state_dict())
    out = speed.measure([cfg], tmp_path, batch=8, rounds=2)
    assert list(out.columns) == ["id", "images_per_second", "deployed_params", "speed_source"]
    assert out.id.tolist() == [cfg.id] and out.images_per_second.iloc[0] > 0
    assert out.deployed_params.iloc[0] == sum(p.numel() for p in model.parameters())
    assert "batch 8, fastest of 2 round-robin rounds" in out.speed_source.iloc[0]


def test_a_channel_sparse_run_is_timed_compacted(tmp_path):
    import torch

    from hslib import speed, store
    from hslib.config import base_config
    from hslib.models import build_model

    cfg = base_config("smoke", dataset="digits", model="resnet18", method="channel_omp", density=0.5)
    model = build_model("resnet18", 10, width=cfg.width, image_size=32, dataset="digits")
    with torch.no_grad():  # channels 0 and 1 of the first block's inner stream: written by conv1, read by conv2
        model.layer1[0].conv1.weight[:2] = 0
        model.layer1[0].conv2.weight[:, :2] = 0
    directory = store.run_dir(tmp_path, cfg)
    directory.mkdir()
    store.save_torch(store.run_file(directory, "final"), model.state_dict())
    full = sum(p.numel() for p in model.parameters())
    # width 1/16: conv1 loses 2 filters of 4×3×3, its BatchNorm 2 weights and 2 biases, conv2 2 input slices of 4×3×3
    assert speed.deployed(cfg, tmp_path).layer1[0].conv1.out_channels == 2
    assert speed.measure([cfg], tmp_path, batch=4, rounds=1).deployed_params.iloc[0] == full - (72 + 4 + 72)
