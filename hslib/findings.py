"""The paper's findings, each as two groups of runs within a panel of the table of the paper (hslib.paper):
what the claims ledger (hslib.claims) tests, and where in the paper each comes from (docs/paper_findings.md).
Specification tier: no torch, no pandas.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Group:
    """Runs of a panel: `methods` (and optional sparsity and data-ratio bounds) on the finding's metric.
    minus_dense: subtract the dense run of the same seed and data ratio from each run (a margin over dense).
    best: each method at its best sparsity, chosen on mean validation accuracy over seeds (never on the
          metric tested), then averaged over methods.
    panel: take the runs from this other panel of the same figure ({finding panel: other panel}).
    metric: read this metric instead of the finding's (a check compares a measurement with a formula).
    source: "panel" (the panel's own runs) or "control" (the runs of hslib.planning.control_configs)."""
    methods: tuple
    words: str
    sparsity_min: float = 0.0
    sparsity_max: float = 1.0
    ratio_min: float = 0.0
    ratio_max: float = 1.0
    minus_dense: bool = False
    best: bool = False
    panel: dict = field(default_factory=dict)
    metric: str = ""
    source: str = "panel"


# Families of rows (docs/paper_findings.md#how-the-ledger-decides):
#   confirmatory  one of the paper's headline findings, registered with its seeds and power calculation in
#                 docs/paper_findings.md before the run that decides it; ONE row, pooled over `panels` and `pooled`,
#                 Holm-adjusted within this family only.
#   exploratory   every other finding of the paper, one row per panel: raw p and 95% CI, a lead and not a result.
#   control       a labelled experiment of ours that explains another row (LTH's controls), tested like exploratory.
#   check         a property that holds by construction (parameters of a sparse run, a parent's FLOPs, ERK's
#                 formula): it says whether the code does what it claims, and is never counted as support.
FAMILIES = ("confirmatory", "exploratory", "control", "check")
# Tests (what `supported` means): difference A > B; equivalence |A − B| < margin (TOST); not_better
# A − B < margin ("comparable or worse"); not_worse A − B > −margin ("match or beat"); less_data_more_advantage
# A − B > 0 and A > 0 (intersection–union: A is the margin over dense with less data, B with more); checks:
# check_above A > B in every seed, check_equal |A − B| ≤ margin in every seed.
TESTS = ("difference", "equivalence", "not_better", "not_worse", "less_data_more_advantage", "check_above",
         "check_equal")
MARGIN = 0.02  # ±2 pp: what "comparable" means for an accuracy (the equivalence and non-inferiority margin)
ERK_TOLERANCE = 0.01  # a measured layer density within 0.01 of ERK's formula follows it


@dataclass(frozen=True)
class Finding:
    key: str
    figure: int
    panels: str  # letters of the figure's panels the finding is tested on (one row each, unless confirmatory)
    statement: str  # the paper's finding, in our words (a margin, where the test has one, is in the words)
    a: Group
    b: Group
    metric: str = "test_acc"  # test_acc, clean_acc, robust_acc, shallow_density, params, train_flops
    test: str = "difference"  # one of TESTS
    margin: float = 0.0  # the margin of equivalence, not_better, not_worse; the tolerance of check_equal
    family: str = "exploratory"  # one of FAMILIES
    extra: bool = False  # not a statement of the paper
    beyond_paper: bool = False  # about the extension beyond the paper (hslib.paper.EXTENSION): our question, not its
    pooled: tuple = ()  # more (figure, panel letters) the one confirmatory test pools with `panels`

    def __post_init__(self):
        if self.family not in FAMILIES or self.test not in TESTS:
            raise ValueError(f"{self.key}: family={self.family!r} (allowed: {FAMILIES}), test={self.test!r} "
                             f"(allowed: {TESTS})")
        if (self.family == "check") != self.test.startswith("check"):
            raise ValueError(f"{self.key}: a check (and only a check) uses a check_* test")
        if self.test in ("equivalence", "not_better", "not_worse", "check_equal") and not self.margin > 0:
            raise ValueError(f"{self.key}: test {self.test!r} needs a margin > 0")
        if self.pooled and self.family != "confirmatory":
            raise ValueError(f"{self.key}: only a confirmatory finding pools panels")
        if self.beyond_paper and self.family != "exploratory":
            raise ValueError(f"{self.key}: a finding beyond the paper is exploratory (outside the registered family)")

    def where(self) -> tuple:
        """Every (figure, panel letter) the finding is tested on."""
        return tuple((self.figure, x) for x in self.panels) + tuple((f, x) for f, xs in self.pooled for x in xs)


SNNS = ("gmp", "lth", "omp", "snip", "set")
ERK_BASED = ("set", "omp_erk", "random_erk")  # the SNNs whose layer densities follow ERK
HIGH = 0.8  # "high sparsity": the paper gives no number; 0.8 and 0.9 are the points its text singles out
LOW = 0.5  # "low sparsity"
PP = f"{100 * MARGIN:g} pp"
DENSE = Group(("dense",), "dense")
SET_SNIP_HIGH = Group(("set", "snip"), f"SET and SNIP at sparsity ≥ {HIGH}", sparsity_min=HIGH)
SNNS_HIGH = Group(SNNS, f"the main methods at sparsity ≥ {HIGH}", sparsity_min=HIGH)


def _margin(methods, words, panel=None, **kw):
    return Group(methods, words, minus_dense=True, panel=panel or {}, **kw)


def _less_data_more_advantage(kind, figure, words, less, more, methods=("set", "snip"), names="SET's and SNIP's",
                              high=True, panels="cd", mapping=None, **kw):
    """(methods) − dense on panels c, d (less data) vs a, b (more data) of the figure, intersection–union: the
    margin is larger with less data AND the low-data margin is above 0."""
    what = f"({', '.join(m.upper() for m in methods)}) − dense" + (f" at sparsity ≥ {HIGH}" if high else "")
    bounds = {"sparsity_min": HIGH} if high else {}
    return Finding(f"less_data_more_advantage_{kind}", figure, panels,
                   f"{names} margin over dense{' at high sparsity' if high else ''} is larger with {words}, and "
                   f"above zero there",
                   _margin(methods, f"{what}, {less}", **bounds),
                   _margin(methods, f"{what}, {more}", mapping or {"c": "a", "d": "b"}, **bounds),
                   test="less_data_more_advantage", **kw)


def _comparable(test):
    return {"test": test, "margin": MARGIN}


def _set_follows_erk(figure, suffix=""):
    return Finding(f"set_shallow_erk{suffix}", figure, "ab",
                   f"SET's shallow third of conv layers has the density of ERK's formula (within {ERK_TOLERANCE}), "
                   f"denser than its deep layers by construction",
                   Group(("set",), "SET's shallow-third density, measured"),
                   Group(("set",), "ERK's formula for the same layers", metric="erk_shallow_density"),
                   "shallow_density", test="check_equal", margin=ERK_TOLERANCE, family="check")


def _snip_shallow_denser(figure, suffix="", words=""):
    return Finding(f"snip_shallow_layers_denser{suffix}", figure, "ab",
                   f"{words}SNIP (data-dependent scores, not a formula) keeps the shallow third of conv layers denser "
                   f"than GMP, LTH and OMP", Group(("snip",), "SNIP"), Group(("gmp", "lth", "omp"), "GMP, LTH, OMP"),
                   "shallow_density")


def _variants(figure, words):
    """Figures 13 and 14 test what Figure 8 (a, b) states, on Tiny-ImageNet / ResNet34 (all data at sparsity 0.8,
    30% at 0.7); the paper cites them only as support for Section 4.2."""
    n = f"_{figure}"
    return (
        Finding(f"erk_snip_beat_uniform{n}", figure, "ab", f"{words}: Random-ERK and SNIP beat Uniform (as Figure 8)",
                Group(("random_erk", "snip"), "Random-ERK, SNIP"), Group(("uniform",), "Uniform")),
        Finding(f"erk_variants_match_dense{n}", figure, "ab",
                f"{words}: ERK-distributed SNNs (SET, OMP_ERK, Random-ERK) match or beat dense: not worse by more "
                f"than {PP} (as Figure 8)", Group(ERK_BASED, "SET, OMP_ERK, Random-ERK"), DENSE,
                **_comparable("not_worse")),
        Finding(f"shallow_dense_scratch_wins{n}", figure, "ab",
                f"{words}: from scratch, SNNs with denser shallow layers (SET, SNIP, Random-ERK) beat those with "
                f"sparser ones (GMP, Uniform) (as Figure 8)",
                Group(("set", "snip", "random_erk"), "SET, SNIP, Random-ERK"),
                Group(("gmp", "uniform"), "GMP, Uniform")),
    )


FINDINGS = (
    # ---- Figure 2: EL2N-hard subsets
    Finding("snn_match_or_beat_dense", 2, "abcd",
            f"Most SNNs trained on hard samples match or beat dense at some sparsity (abstract): each main method at "
            f"its best sparsity is not worse than dense by more than {PP}",
            Group(SNNS, "the main methods, each at its best sparsity on validation accuracy (mean over methods)",
                  best=True), DENSE, **_comparable("not_worse")),
    Finding("set_snip_win_top50", 2, "ab", "With EL2N top-50% data, SET and SNIP beat dense at high sparsity",
            SET_SNIP_HIGH, DENSE, family="confirmatory"),
    Finding("lth_declines_el2n", 2, "ab", "LTH falls below dense on EL2N-hard data",
            DENSE, Group(("lth",), "LTH, all sparsities")),
    Finding("set_snip_win_top30", 2, "cd",
            "With EL2N top-30% data, SET and SNIP beat dense at high sparsity, by a wide margin", SET_SNIP_HIGH, DENSE,
            family="confirmatory"),
    _less_data_more_advantage("el2n", 2, "30% than with 50% of the hard data", "top-30%", "top-50%",
                              family="confirmatory"),
    # ---- Figure 3: SET over sparsity × data ratio
    Finding("set_beats_dense_little_data", 3, "b",
            "With little hard data (≤ 30%), SET beats dense at high sparsity",
            _margin(("set",), f"SET − dense at sparsity ≥ {HIGH}, data ratio ≤ 0.3", sparsity_min=HIGH,
                    ratio_max=0.3),
            Group((), "zero (no margin)")),
    Finding("set_edge_grows_with_less_data", 3, "b",
            "SET's edge over dense is larger with little data (ratio ≤ 0.3) than with most of it (ratio ≥ 0.7), "
            "and above zero with little data",
            _margin(("set",), "SET − dense, data ratio ≤ 0.3", ratio_max=0.3),
            _margin(("set",), "SET − dense, data ratio ≥ 0.7", ratio_min=0.7), test="less_data_more_advantage",
            extra=True),
    # ---- Figure 4: corruption training, severity 5
    Finding("corruption_full_low_sparsity", 4, "ab",
            "Trained on fully corrupted data (severity 5), most SNNs beat dense at low sparsity",
            Group(SNNS, f"main methods at sparsity ≤ {LOW}", sparsity_max=LOW), DENSE),
    Finding("corruption_full_high_sparsity_no_gain", 4, "ab",
            f"Trained on fully corrupted data, SNNs at high sparsity are comparable to or worse than dense: not "
            f"better by more than {PP} (their advantage is 'mainly at lower sparsity')",
            SNNS_HIGH, DENSE, **_comparable("not_better")),
    Finding("lth_needs_low_sparsity", 4, "ab",
            "Under corruption with full data, LTH falls behind the other SNNs at high sparsity",
            Group(("gmp", "omp", "snip", "set"), f"GMP, OMP, SNIP, SET at sparsity ≥ {HIGH}", sparsity_min=HIGH),
            Group(("lth",), f"LTH at sparsity ≥ {HIGH}", sparsity_min=HIGH)),
    Finding("lth_below_omp", 4, "ab", "LTH (rewound to initialisation) is below OMP (kept trained weights) at high "
            "sparsity, with full corrupted data",
            Group(("omp",), f"OMP at sparsity ≥ {HIGH}", sparsity_min=HIGH),
            Group(("lth",), f"LTH at sparsity ≥ {HIGH}", sparsity_min=HIGH), family="confirmatory"),
    Finding("lth_control_equal_compute", 4, "a",
            "Control (equal training compute): LTH at high sparsity is more accurate than SET and SNIP trained for "
            "twice the epochs, as many as LTH and its dense parent together (full corrupted data)",
            Group(("lth",), f"LTH at sparsity ≥ {HIGH}", sparsity_min=HIGH),
            Group(("set", "snip"), f"SET and SNIP at sparsity ≥ {HIGH}, twice the epochs", sparsity_min=HIGH,
                  source="control"), family="control", extra=True),
    Finding("lth_control_fresh_init", 4, "a",
            "Control (lottery ticket): LTH at high sparsity is more accurate than the same mask with a fresh random "
            "initialisation, i.e. the rewound initialisation matters (full corrupted data)",
            Group(("lth",), f"LTH at sparsity ≥ {HIGH}", sparsity_min=HIGH),
            Group(("lth_fresh",), f"LTH's mask, fresh initialisation, at sparsity ≥ {HIGH}", sparsity_min=HIGH,
                  source="control"), family="control", extra=True),
    Finding("set_snip_win_corruption_30", 4, "cd",
            "With 30% corrupted data, SET and SNIP beat dense at high sparsity (ResNets, Fig. 4 c, d, and VGG19, "
            "Fig. 5 b, in one test)", SET_SNIP_HIGH, DENSE, family="confirmatory", pooled=((5, "b"),)),
    Finding("snns_win_corruption_30", 4, "cd",
            "With 30% corrupted data, most SNNs (the five main methods, not only SET and SNIP) beat dense at high "
            "sparsity", SNNS_HIGH, DENSE),
    _less_data_more_advantage("corruption", 4, "30% than with all of the corrupted data", "30% data", "full data"),
    # ---- Figure 5: VGG19
    Finding("set_snip_win_vgg19_30", 5, "b", "VGG19 with 30% corrupted data: SET and SNIP beat dense at high sparsity",
            SET_SNIP_HIGH, DENSE),
    # ---- Figure 6: adversarial training at sparsity 0.9
    Finding("adv_snn_robust_full", 6, "ab", "Adversarial training, full data, sparsity 0.9: most SNNs are more "
            "robust (PGD accuracy) than dense", Group(SNNS, "main methods at sparsity 0.9"), DENSE, "robust_acc"),
    Finding("adv_clean_comparable", 6, "ab", f"Adversarial training, full data, sparsity 0.9: SNNs' clean accuracy is "
            f"comparable to dense: within ±{PP}", Group(SNNS, "main methods at sparsity 0.9"), DENSE, "clean_acc",
            **_comparable("equivalence")),
    Finding("adv_set_best_full", 6, "ab", "Adversarial training, full data: SET is the most robust SNN",
            Group(("set",), "SET"), Group(("gmp", "lth", "omp", "snip"), "GMP, LTH, OMP, SNIP"), "robust_acc"),
    Finding("adv_lth_omp_lower_r18", 6, "b", "On CIFAR-100 / ResNet18, LTH and OMP are less robust than the other SNNs",
            Group(("gmp", "snip", "set"), "GMP, SNIP, SET"), Group(("lth", "omp"), "LTH, OMP"), "robust_acc"),
    Finding("adv_snn_robust_half", 6, "cd", "Adversarial training, 50% data: SNNs are more robust than dense",
            Group(SNNS, "main methods at sparsity 0.9"), DENSE, "robust_acc"),
    _less_data_more_advantage("adversarial", 6, "50% than with all of the data (adversarial training, robust "
                              "accuracy)", "50% data", "full data", methods=SNNS, names="SNNs'", high=False,
                              metric="robust_acc"),
    # ---- Figure 7: layer-wise densities
    _set_follows_erk(7),
    _snip_shallow_denser(7),
    # ---- Figure 8: variants (a, b), FLOPs and parameters (c, d)
    Finding("erk_snip_beat_uniform", 8, "ab",
            "At sparsity 0.8 with 30% data, ERK and SNIP layer-wise ratios help: Random-ERK and SNIP beat Uniform",
            Group(("random_erk", "snip"), "Random-ERK, SNIP"), Group(("uniform",), "Uniform"), family="confirmatory"),
    Finding("shallow_dense_scratch_wins", 8, "ab",
            "Trained from scratch, SNNs whose shallow layers are denser (SET, SNIP, Random-ERK) beat those whose "
            "shallow layers are sparser (GMP, Uniform), at sparsity 0.8 with 30% data (Sec. 4.2)",
            Group(("set", "snip", "random_erk"), "SET, SNIP, Random-ERK"), Group(("gmp", "uniform"), "GMP, Uniform"),
            family="confirmatory"),
    Finding("erk_variants_beat_uniform", 8, "ab", "ERK-based SNNs (SET, OMP_ERK, Random-ERK) beat Uniform",
            Group(ERK_BASED, "SET, OMP_ERK, Random-ERK"), Group(("uniform",), "Uniform")),
    Finding("snip_beats_uniform", 8, "ab", "SNIP's layer-wise ratios beat Uniform's", Group(("snip",), "SNIP"),
            Group(("uniform",), "Uniform")),
    Finding("erk_variants_match_dense", 8, "ab",
            f"ERK-distributed SNNs (SET, OMP_ERK, Random-ERK) match or beat dense: not worse by more than {PP}",
            Group(ERK_BASED, "SET, OMP_ERK, Random-ERK"), DENSE, **_comparable("not_worse")),
    Finding("win_twice_accuracy", 8, "cd",
            "SET and SNIP 'win twice': their best runs are more accurate than dense (and cheaper: see the checks)",
            Group(("set", "snip"), "SET and SNIP at their best sparsity on validation accuracy", best=True), DENSE),
    Finding("lth_omp_match_dense", 8, "cd",
            f"LTH and OMP match dense at some sparsity (with fewer parameters): their best runs are within ±{PP}",
            Group(("lth", "omp"), "LTH and OMP at their best sparsity on validation accuracy", best=True), DENSE,
            **_comparable("equivalence")),
    Finding("win_twice_fewer_params", 8, "cd", "SET's and SNIP's best runs use fewer parameters than dense",
            DENSE, Group(("set", "snip"), "SET and SNIP at their best sparsity on validation accuracy", best=True),
            "params", test="check_above", family="check"),
    Finding("set_snip_fewer_flops", 8, "cd", "SET's and SNIP's best runs use fewer training FLOPs than dense",
            DENSE, Group(("set", "snip"), "SET and SNIP at their best sparsity on validation accuracy", best=True),
            "train_flops", test="check_above", family="check"),
    Finding("lth_omp_fewer_params", 8, "cd", "LTH's and OMP's best runs use fewer parameters than dense",
            DENSE, Group(("lth", "omp"), "LTH and OMP at their best sparsity on validation accuracy", best=True),
            "params", test="check_above", family="check"),
    Finding("lth_omp_cost_more_flops", 8, "cd",
            "LTH and OMP cost more training FLOPs than SET and SNIP (they train a dense model first)",
            Group(("lth", "omp"), "LTH, OMP"), Group(("set", "snip"), "SET, SNIP"), "train_flops",
            test="check_above", family="check"),
    # ---- Figure 9: severities 2, 4, 6
    Finding("severity2_no_gain", 9, "a",
            f"At severity 2 most SNNs are comparable to or worse than dense (OMP excepted): not better by more than "
            f"{PP}", Group(("gmp", "lth", "snip", "set"), "GMP, LTH, SNIP, SET"), DENSE, **_comparable("not_better")),
    Finding("severity2_omp_gain", 9, "a", "At severity 2, OMP beats dense", Group(("omp",), "OMP"), DENSE),
    Finding("severity4_gain_grows", 9, "b", "The SNN advantage over dense is larger at severity 4 than at severity 2",
            _margin(SNNS, "main methods − dense, severity 4"),
            _margin(SNNS, "main methods − dense, severity 2", {"b": "a"})),
    Finding("severity6_gain_shrinks", 9, "c", "At severity 6 the SNN advantage is smaller than at severity 4",
            _margin(SNNS, "main methods − dense, severity 4", {"c": "b"}),
            _margin(SNNS, "main methods − dense, severity 6")),
    Finding("severity6_all_fall", 9, "c", "All accuracies fall from severity 4 to severity 6 (dense and the SNNs)",
            Group(("dense",) + SNNS, "dense and the main methods, severity 4", panel={"c": "b"}),
            Group(("dense",) + SNNS, "dense and the main methods, severity 6")),
    # ---- Figure 10: adversarial training at sparsity 0.8
    Finding("adv_snn_robust_s80", 10, "abcd", "As Figure 6 at sparsity 0.8: SNNs are more robust than dense",
            Group(SNNS, "main methods at sparsity 0.8"), DENSE, "robust_acc", extra=True),
    # ---- Figures 11, 12: layer-wise densities elsewhere
    _set_follows_erk(11, "_11"),
    _snip_shallow_denser(11, "_11", "As Figure 7 with other data ratios: "),
    _set_follows_erk(12, "_12"),
    _snip_shallow_denser(12, "_12", "As Figure 7 on Tiny-ImageNet / ResNet34: "),
    # ---- Figures 13, 14: the variants on Tiny-ImageNet / ResNet34
    *_variants(13, "EL2N-hard data, Tiny-ImageNet / ResNet34"),
    *_variants(14, "Corrupted data, Tiny-ImageNet / ResNet34"),
)



# ---- Beyond the paper (hslib.paper.EXTENSION, Figure E1): do structured SNNs keep the unstructured advantage on hard
# data? Each structured method against its unstructured twin at the same densities, on the same data: one-shot N:M
# against OMP (both prune the same dense parent once), dynamic N:M against SET (both rewire from scratch), channel
# sparsity against SET (the pairing: Chase starts from unstructured DST). "Keep" = not worse by more than the
# ledger's margin. Exploratory rows, outside the registered confirmatory family; the paper makes no such claim.
def _keeps_advantage(key, structured, words, twin, twin_words):
    return Finding(f"ext_{key}", "E1", "abc",
                   f"Beyond the paper: {words} keeps the unstructured advantage on hard data: not worse than "
                   f"{twin_words} at the same density by more than {PP}",
                   Group(structured, words), Group(twin, twin_words), **_comparable("not_worse"), beyond_paper=True)


EXTENSION_FINDINGS = (
    _keeps_advantage("nm_one_shot_keeps_omp", ("nm_omp",), "one-shot N:M (from the dense parent)", ("omp",), "OMP"),
    _keeps_advantage("nm_dynamic_keeps_set", ("nm_dynamic",), "dynamic N:M (from scratch)", ("set",), "SET"),
    _keeps_advantage("channel_keeps_set", ("channel_omp", "channel_dst"), "channel sparsity (L1-pruned and Chase-like)",
                     ("set",), "SET"),
)
FINDINGS = FINDINGS + EXTENSION_FINDINGS
BY_KEY = {f.key: f for f in FINDINGS}
CONFIRMATORY = tuple(f for f in FINDINGS if f.family == "confirmatory")
