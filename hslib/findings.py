"""The paper's findings, each as two groups of runs within a panel of the table of the paper (hslib.paper):
what the claims ledger (hslib.claims) tests, and where in the paper each comes from (docs/paper_findings.md).
Specification tier: no torch, no pandas.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Group:
    """Runs of a panel: `methods` (and optional sparsity bounds) on `metric`.
    margin: subtract the dense run of the same seed and data ratio from each run.
    best: each method at its best sparsity (highest mean over seeds), then averaged over methods.
    panel: take the runs from this other panel of the same figure ({finding panel: other panel})."""
    methods: tuple
    words: str
    sparsity_min: float = 0.0
    sparsity_max: float = 1.0
    ratio_min: float = 0.0
    ratio_max: float = 1.0
    margin: bool = False
    best: bool = False
    panel: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Finding:
    key: str
    figure: int
    panels: str  # letters of the figure's panels the finding is tested on, one row each
    statement: str  # the paper's finding, in our words
    a: Group
    b: Group
    metric: str = "test_acc"  # test_acc, robust_acc, shallow_density, params, train_flops
    structural: bool = False
    extra: bool = False  # not a statement of the paper
    # confirmatory: one of the paper's headline findings, declared with its seeds and power calculation in
    # docs/paper_findings.md before the run that decides it; tested once, pooled over `panels` and `pooled`,
    # Holm-adjusted within the confirmatory family only. exploratory: raw p and CI, outside the family.
    family: str = "exploratory"
    pooled: tuple = ()  # more (figure, panel letters) the one confirmatory test pools with `panels`

    def where(self) -> tuple:
        """Every (figure, panel letter) the finding is tested on."""
        return tuple((self.figure, x) for x in self.panels) + tuple((f, x) for f, xs in self.pooled for x in xs)


SNNS = ("gmp", "lth", "omp", "snip", "set")
HIGH = 0.8  # "high sparsity": the paper gives no number; 0.8 and 0.9 are the points its text singles out
LOW = 0.5  # "low sparsity"
DENSE = Group(("dense",), "dense")
SET_SNIP_HIGH = Group(("set", "snip"), f"SET and SNIP at sparsity ≥ {HIGH}", sparsity_min=HIGH)


def _margin(methods, words, panel=None, **kw):
    return Group(methods, words, margin=True, panel=panel or {}, **kw)


def _less_data_more_advantage(kind, figure, words, less, more, **kw):
    """(SET, SNIP) − dense at high sparsity on panels c, d (less data) vs a, b (more data) of the figure."""
    what = f"(SET, SNIP) − dense at sparsity ≥ {HIGH}"
    return Finding(f"less_data_more_advantage_{kind}", figure, "cd",
                   f"SET's and SNIP's margin over dense at high sparsity is larger with {words}",
                   _margin(("set", "snip"), f"{what}, {less}", sparsity_min=HIGH),
                   _margin(("set", "snip"), f"{what}, {more}", {"c": "a", "d": "b"}, sparsity_min=HIGH), **kw)


FINDINGS = (
    Finding("snn_match_or_beat_dense", 2, "abcd",
            "Most SNNs trained on hard samples match or beat dense at some sparsity (abstract)",
            Group(SNNS, "the main methods, each at its best sparsity (mean over methods)", best=True), DENSE),
    Finding("set_snip_win_top50", 2, "ab", "With EL2N top-50% data, SET and SNIP beat dense at high sparsity",
            SET_SNIP_HIGH, DENSE, family="confirmatory"),
    Finding("lth_declines_el2n", 2, "ab", "LTH falls below dense on EL2N-hard data",
            DENSE, Group(("lth",), "LTH, all sparsities")),
    Finding("set_snip_win_top30", 2, "cd",
            "With EL2N top-30% data, SET and SNIP beat dense at high sparsity, by a wide margin", SET_SNIP_HIGH, DENSE,
            family="confirmatory"),
    _less_data_more_advantage("el2n", 2, "30% than with 50% of the hard data", "top-30%", "top-50%",
                              family="confirmatory"),
    Finding("set_beats_dense_little_data", 3, "b",
            "With little hard data (≤ 30%), SET beats dense at high sparsity",
            _margin(("set",), "SET − dense at sparsity ≥ 0.8, data ratio ≤ 0.3", sparsity_min=HIGH, ratio_max=0.3),
            Group((), "zero (no margin)")),
    Finding("set_edge_grows_with_less_data", 3, "b",
            "SET's edge over dense is larger with little data (ratio ≤ 0.3) than with most of it (ratio ≥ 0.7)",
            _margin(("set",), "SET − dense, data ratio ≤ 0.3", ratio_max=0.3),
            _margin(("set",), "SET − dense, data ratio ≥ 0.7", ratio_min=0.7), extra=True),
    Finding("corruption_full_low_sparsity", 4, "ab",
            "Trained on fully corrupted data (severity 5), most SNNs beat dense at low sparsity",
            Group(SNNS, f"main methods at sparsity ≤ {LOW}", sparsity_max=LOW), DENSE),
    Finding("lth_needs_low_sparsity", 4, "ab",
            "Under corruption with full data, LTH falls behind the other SNNs at high sparsity",
            Group(("gmp", "omp", "snip", "set"), f"GMP, OMP, SNIP, SET at sparsity ≥ {HIGH}", sparsity_min=HIGH),
            Group(("lth",), f"LTH at sparsity ≥ {HIGH}", sparsity_min=HIGH)),
    Finding("lth_below_omp", 4, "ab", "LTH (rewound to initialisation) is below OMP (kept trained weights) at high "
            "sparsity, with full corrupted data",
            Group(("omp",), f"OMP at sparsity ≥ {HIGH}", sparsity_min=HIGH),
            Group(("lth",), f"LTH at sparsity ≥ {HIGH}", sparsity_min=HIGH), family="confirmatory"),
    Finding("set_snip_win_corruption_30", 4, "cd",
            "With 30% corrupted data, SET and SNIP beat dense at high sparsity (ResNets, Fig. 4 c, d, and VGG19, "
            "Fig. 5 b, in one test)", SET_SNIP_HIGH, DENSE, family="confirmatory", pooled=((5, "b"),)),
    _less_data_more_advantage("corruption", 4, "30% than with all of the corrupted data", "30% data", "full data"),
    Finding("set_snip_win_vgg19_30", 5, "b", "VGG19 with 30% corrupted data: SET and SNIP beat dense at high sparsity",
            SET_SNIP_HIGH, DENSE),
    Finding("adv_snn_robust_full", 6, "ab", "Adversarial training, full data, sparsity 0.9: most SNNs are more "
            "robust (PGD accuracy) than dense", Group(SNNS, "main methods at sparsity 0.9"), DENSE, "robust_acc"),
    Finding("adv_set_best_full", 6, "ab", "Adversarial training, full data: SET is the most robust SNN",
            Group(("set",), "SET"), Group(("gmp", "lth", "omp", "snip"), "GMP, LTH, OMP, SNIP"), "robust_acc"),
    Finding("adv_lth_omp_lower_r18", 6, "b", "On CIFAR-100 / ResNet18, LTH and OMP are less robust than the other SNNs",
            Group(("gmp", "snip", "set"), "GMP, SNIP, SET"), Group(("lth", "omp"), "LTH, OMP"), "robust_acc"),
    Finding("adv_snn_robust_half", 6, "cd", "Adversarial training, 50% data: SNNs are more robust than dense",
            Group(SNNS, "main methods at sparsity 0.9"), DENSE, "robust_acc"),
    Finding("shallow_layers_denser", 7, "ab",
            "SET (ERK) and SNIP keep the shallow third of conv layers denser than GMP, LTH and OMP",
            Group(("set", "snip"), "SET, SNIP"), Group(("gmp", "lth", "omp"), "GMP, LTH, OMP"),
            "shallow_density", structural=True),
    Finding("erk_snip_beat_uniform", 8, "ab",
            "At sparsity 0.8 with 30% data, ERK and SNIP layer-wise ratios help: Random-ERK and SNIP beat Uniform",
            Group(("random_erk", "snip"), "Random-ERK, SNIP"), Group(("uniform",), "Uniform"), family="confirmatory"),
    Finding("shallow_dense_scratch_wins", 8, "ab",
            "Trained from scratch, SNNs whose shallow layers are denser (SET, SNIP, Random-ERK) beat those whose "
            "shallow layers are sparser (GMP, Uniform), at sparsity 0.8 with 30% data (Sec. 4.2)",
            Group(("set", "snip", "random_erk"), "SET, SNIP, Random-ERK"), Group(("gmp", "uniform"), "GMP, Uniform"),
            family="confirmatory"),
    Finding("win_twice_accuracy", 8, "cd",
            "SET and SNIP 'win twice': their best runs are more accurate than dense (and cheaper, see params)",
            Group(("set", "snip"), "SET and SNIP at their best sparsity", best=True), DENSE),
    Finding("win_twice_fewer_params", 8, "cd", "SET's and SNIP's best runs use fewer parameters than dense",
            DENSE, Group(("set", "snip"), "SET and SNIP at their best sparsity", best=True), "params", structural=True),
    Finding("lth_omp_cost_more_flops", 8, "cd",
            "LTH and OMP cost more training FLOPs than SET and SNIP (they train a dense model first)",
            Group(("lth", "omp"), "LTH, OMP"), Group(("set", "snip"), "SET, SNIP"), "train_flops", structural=True),
    Finding("severity2_no_gain", 9, "a",
            "At severity 2 most SNNs are comparable to or worse than dense (OMP excepted): dense ≥ them",
            DENSE, Group(("gmp", "lth", "snip", "set"), "GMP, LTH, SNIP, SET")),
    Finding("severity2_omp_gain", 9, "a", "At severity 2, OMP beats dense", Group(("omp",), "OMP"), DENSE),
    Finding("severity4_gain_grows", 9, "b", "The SNN advantage over dense is larger at severity 4 than at severity 2",
            _margin(SNNS, "main methods − dense, severity 4"),
            _margin(SNNS, "main methods − dense, severity 2", {"b": "a"})),
    Finding("severity6_gain_shrinks", 9, "c", "At severity 6 the SNN advantage is smaller than at severity 4",
            _margin(SNNS, "main methods − dense, severity 4", {"c": "b"}),
            _margin(SNNS, "main methods − dense, severity 6")),
    Finding("adv_snn_robust_s80", 10, "abcd", "As Figure 6 at sparsity 0.8: SNNs are more robust than dense",
            Group(SNNS, "main methods at sparsity 0.8"), DENSE, "robust_acc", extra=True),
    Finding("shallow_layers_denser_11", 11, "ab", "As Figure 7 with other data ratios: SET and SNIP keep shallow "
            "layers denser than GMP, LTH and OMP", Group(("set", "snip"), "SET, SNIP"),
            Group(("gmp", "lth", "omp"), "GMP, LTH, OMP"), "shallow_density", structural=True),
    Finding("shallow_layers_denser_12", 12, "ab", "As Figure 7 on Tiny-ImageNet / ResNet34",
            Group(("set", "snip"), "SET, SNIP"), Group(("gmp", "lth", "omp"), "GMP, LTH, OMP"), "shallow_density",
            structural=True),
)

CONFIRMATORY = tuple(f for f in FINDINGS if f.family == "confirmatory")
