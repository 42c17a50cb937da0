"""The `class` profile of the two-hour lab (docs/lab.md): the course's runs, fewer of them, and exactly what its
plan and its claims ledger can and cannot decide (what its "about" and the lab handout say)."""
import pytest

from hslib import claims, planning
from hslib.config import PROFILES, base_config
from hslib.paper import figure
from hslib.synthetic import synthetic_results

FIG2 = "fig02_hard_sample_accuracy"
# Panels at the fixed sparsity 0.8 that draw from Figure 2's grid (EL2N-hard, the stand-in ResNet18).
ON_FIGURE_2_RUNS = [(7, "a"), (8, "c"), (11, "a"), (12, "a")]


@pytest.fixture(scope="module")
def fig2_ids():
    return {c.id for c in planning.figure_configs(FIG2, "class")}


def test_class_trains_the_course_runs_not_shorter_ones():
    """Same RunConfig as course (the converged regime) but for the profile name: fewer runs, never cheaper runs."""
    assert {**base_config("class").to_dict(), "profile": "course"} == base_config("course").to_dict()
    assert PROFILES["class"]["stand_ins"] == PROFILES["course"]["stand_ins"]


def test_figure_2_runs_three_seeds_and_every_other_run_one(fig2_ids):
    fig2 = planning.figure_configs(FIG2, "class")
    # (5 main methods × sparsities 0.5, 0.8 + dense) × top-50% and top-30% × 3 seeds; panels (b, d) share (a, c)'s
    # runs because both paper pairs stand in as digits / ResNet18.
    assert len(fig2) == (5 * 2 + 1) * 2 * 3
    assert {c.seed for c in fig2} == {0, 1, 2} and {c.sparsity for c in fig2 if c.method != "dense"} == {0.5, 0.8}
    others = [c for c in planning.all_configs("class") if c.id not in fig2_ids]
    assert others and {c.seed for c in others} == {0}


@pytest.mark.parametrize("number, letter", ON_FIGURE_2_RUNS)
def test_panels_at_sparsity_0_8_reuse_figure_2s_runs(fig2_ids, number, letter):
    runs = {c.id for c in planning.panel_configs(figure(number).panel(letter), "class")}
    assert runs and runs <= fig2_ids


def test_only_rows_on_figure_2s_runs_are_tested_and_every_other_row_says_not_testable():
    ledger = claims.ledger(synthetic_results("class"), "class")
    decided = ledger[ledger.family != "check"]
    tested = decided[decided.verdict != claims.NOT_TESTABLE]
    assert (tested.n_seeds == 3).all() and (decided[decided.verdict == claims.NOT_TESTABLE].n_seeds == 1).all()
    assert set(zip(tested.figure, tested.panel.str[0])) <= {(2, "a"), (2, "c"), *ON_FIGURE_2_RUNS}
    conf = decided[decided.family == "confirmatory"]
    assert list(conf[conf.verdict != claims.NOT_TESTABLE].figure) == [2, 2, 2]  # Figure 2's three, on 3 seeds
    assert set(conf[conf.verdict == claims.NOT_TESTABLE].figure) == {4, 8}  # one seed there


def test_a_large_planted_effect_on_figure_2_is_decided_on_three_seeds():
    effects = [{"method": ["set", "snip"], "data_ratio": 0.3, "sparsity_min": 0.8, "subset": "hard", "delta": 0.10}]
    ledger = claims.ledger(synthetic_results("class", effects=effects), "class")
    row = ledger[ledger.key == "set_snip_win_top30"].iloc[0]
    assert row.n_seeds == 3 and row.verdict == "supported" and row["diff"] == pytest.approx(0.10, abs=0.01)
    assert ledger[ledger.key == "set_snip_win_top50"].iloc[0].verdict == "inconclusive"  # planted at 30% only
