"""The paper as one table: every figure, its panels, and what each panel draws.

Read this file to know what the study draws. Each figure of the paper is a `Figure` with the paper's panels
in the paper's letter order; each `Panel` names the (dataset, model) pair *of the paper* (`PAIRS`), the
experiment grid its runs come from, the data ratio, what is plotted (its renderer) and which methods. A profile
maps each paper pair to the pair it actually runs (`config.PROFILES[...]["stand_ins"]`), so every panel of every
figure exists at every profile, and a stand-in is named in the panel title. Planning (`hslib.planning`), figures
(`hslib.figures`), the claims ledger (`hslib.claims`, with the findings in `hslib.findings`) and the notebooks
all read this table; nothing else re-slices results by hand. Specification tier: no torch, no pandas.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .config import profile as get_profile
from .vocabulary import pair_label

# The paper's (dataset, model) pairs.
PAIRS = {
    "c100_r18": ("cifar100", "resnet18"),
    "tiny_r34": ("tinyimagenet", "resnet34"),
    "c100_v19": ("cifar100", "vgg19"),
    "c10_v16": ("cifar10", "vgg16"),
}
MAIN = ("gmp", "lth", "omp", "snip", "set")  # the main methods; dense is always drawn beside them
VARIANTS = ("omp_erk", "random_erk", "uniform")  # the SNN variants of the layer-density study

# Experiment grids. family: which data the runs see (EL2N-hard subsets, corrupted train+test, PGD training);
# sparsities: the profile's axis a panel sweeps when it does not fix a sparsity; ratios: the profile's
# data-ratio axis for panels that sweep data too (Figure 3).
GRIDS = {
    "el2n": {"family": "el2n", "sparsities": "sparsities"},
    "set_grid": {"family": "el2n", "sparsities": "grid_sparsities", "ratios": "grid_ratios"},
    "variants": {"family": "el2n"},  # its panels fix their sparsities
    "corruption": {"family": "corruption", "sparsities": "corruption_sparsities"},
    "corruption_vgg": {"family": "corruption", "sparsities": "corruption_sparsities"},
    "severity": {"family": "corruption", "sparsities": "severity_sparsities"},
    "corruption_variants": {"family": "corruption"},
    "adversarial": {"family": "adversarial"},
    # beyond the paper (EXTENSION below): planned only at a profile with "extension": True
    "structured": {"family": "el2n", "sparsities": "structured_sparsities", "extension": True},
    "structured_corruption": {"family": "corruption", "sparsities": "structured_sparsities", "extension": True},
}


@dataclass(frozen=True)
class Panel:
    letter: str
    pair: str  # a key of PAIRS: the paper's pair (a profile may run a stand-in)
    grid: str  # a key of GRIDS
    ratio: float | None  # data ratio; None = the grid's ratio axis (Figure 3)
    show: str  # the panel's renderer: a name of hslib.figures.RENDERERS
    methods: tuple = MAIN
    metric: str = "test_acc"
    sparsity: float | None = None  # one fixed sparsity (bars, layer densities, variants)
    severity: int = 5  # corruption severity (corruption grids only)

    @property
    def family(self) -> str:
        return GRIDS[self.grid]["family"]


@dataclass(frozen=True)
class Figure:
    number: int | str  # the paper's 1..14; "E1", "E2", ... for the figures beyond the paper
    name: str  # file stem: <outputs>/figures/<profile>/<name>.{png,pdf,json}
    title: str
    notebook: str  # the notebook that draws it
    panels: tuple = field(default_factory=tuple)
    wide: bool = False  # panels need a wider canvas (heat maps, per-layer profiles)

    @property
    def beyond_paper(self) -> bool:
        """An extension figure (EXTENSION): not in the paper, numbered apart, and its title says so."""
        return isinstance(self.number, str)

    def panel(self, letter: str) -> Panel:
        return next(p for p in self.panels if p.letter == letter)


def _curves(grid, pairs_ratios, **kw):
    return tuple(Panel("abcd"[i], pair, grid, ratio, "curve", **kw) for i, (pair, ratio) in enumerate(pairs_ratios))


def _adversarial(sparsity):
    """Figures 6 and 10: full data (a, b) then 50% (c, d); VGG16 / CIFAR-10 first, then ResNet18 / CIFAR-100."""
    return tuple(Panel("abcd"[i], p, "adversarial", r, "bars", metric="robust_acc", sparsity=sparsity)
                 for i, (r, p) in enumerate([(r, p) for r in (1.0, 0.5) for p in ("c10_v16", "c100_r18")]))


def _layers(*specs):
    """Figures 7, 11, 12: layer-wise densities at sparsity 0.8; specs = (pair, grid, data ratio) per panel."""
    return tuple(Panel("ab"[i], pair, grid, ratio, "layers", sparsity=0.8) for i, (pair, grid, ratio) in enumerate(specs))


_BOTH = ("c100_r18", "tiny_r34")
# Figures 13/14: "sparsity 0.8 and 0.7 ... data ratio 1.0 (a) and 0.3 (b), respectively" (the paper's caption).
_VARIANT_PANELS = (("a", 1.0, 0.8), ("b", 0.3, 0.7))
FIGURES = (
    Figure(1, "fig01_el2n_examples", "high- and low-EL2N training images", "01_el2n_scoring",
           (Panel("a", "c100_r18", "el2n", 1.0, "examples", methods=()),  # (a) highest EL2N
            Panel("b", "c100_r18", "el2n", 1.0, "examples", methods=()))),  # (b) lowest EL2N
    Figure(2, "fig02_hard_sample_accuracy", "accuracy on EL2N-hard subsets", "04_hard_sample_results",
           _curves("el2n", [(p, r) for r in (0.5, 0.3) for p in _BOTH])),
    Figure(3, "fig03_set_sparsity_data_grid", "SET on EL2N-hard subsets: sparsity × data ratio",
           "04_hard_sample_results",
           (Panel("a", "c100_r18", "set_grid", None, "set_acc", ("set",)),
            Panel("b", "c100_r18", "set_grid", None, "set_gap", ("set",))), wide=True),
    Figure(4, "fig04_corruption_accuracy", "corruption training, severity 5", "05_common_corruptions",
           _curves("corruption", [(p, r) for r in (1.0, 0.3) for p in _BOTH])),
    Figure(5, "fig05_corruption_vgg19", "corruption training, VGG19, severity 5", "05_common_corruptions",
           _curves("corruption_vgg", [("c100_v19", 1.0), ("c100_v19", 0.3)])),
    Figure(6, "fig06_adversarial_sparsity90", "adversarial training at sparsity 0.9", "06_adversarial",
           _adversarial(0.9)),
    Figure(7, "fig07_layer_density", "layer-wise density of conv layers, sparsity 0.8, 30% data", "07_layer_density",
           _layers(("c100_r18", "el2n", 0.3), ("c100_v19", "corruption_vgg", 0.3)), wide=True),
    Figure(8, "fig08_variants_flops", "SNN variants (a, b) and training FLOPs vs accuracy (c, d), 30% data",
           "07_layer_density",
           (Panel("a", "c100_r18", "variants", 0.3, "variant_bars", MAIN + VARIANTS, sparsity=0.8),
            Panel("b", "c100_r18", "corruption_variants", 0.3, "variant_bars", MAIN + VARIANTS, sparsity=0.8),
            Panel("c", "c100_r18", "el2n", 0.3, "flops"),
            Panel("d", "c100_r18", "corruption", 0.3, "flops"))),
    Figure(9, "fig09_corruption_severity", "corruption training across severities, 30% data", "05_common_corruptions",
           tuple(Panel("abc"[i], "c100_r18", "severity", 0.3, "curve", severity=s) for i, s in enumerate((2, 4, 6)))),
    Figure(10, "fig10_adversarial_sparsity80", "adversarial training at sparsity 0.8", "06_adversarial",
           _adversarial(0.8)),
    Figure(11, "fig11_layer_density", "layer-wise density of conv layers, sparsity 0.8", "07_layer_density",
           _layers(("c100_r18", "el2n", 0.5), ("c100_v19", "corruption_vgg", 1.0)), wide=True),
    Figure(12, "fig12_layer_density_tiny", "layer-wise density of conv layers, sparsity 0.8, 30% data",
           "07_layer_density",
           _layers(("tiny_r34", "el2n", 0.3), ("tiny_r34", "corruption", 0.3)), wide=True),
    Figure(13, "fig13_variants_el2n", "SNN variants on EL2N-hard data, sparsity 0.8 and 0.7", "04_hard_sample_results",
           tuple(Panel(x, "tiny_r34", "variants", r, "variant_bars", MAIN + VARIANTS, sparsity=s)
                 for x, r, s in _VARIANT_PANELS)),
    Figure(14, "fig14_variants_corruption", "SNN variants under corruption training, sparsity 0.8 and 0.7",
           "05_common_corruptions",
           tuple(Panel(x, "tiny_r34", "corruption_variants", r, "variant_bars", MAIN + VARIANTS, sparsity=s)
                 for x, r, s in _VARIANT_PANELS)),
)

# ------------------------------------------------------------------------------------------ beyond the paper
# The paper studies unstructured sparsity only and names structured sparsity as its future work (issue 22). The
# extension asks the paper's question of the sparsity patterns hardware can use: N:M (fine-grained; 2:4 at density
# 0.5) and whole output channels, beside the unstructured methods they are twins of, at matched density, on the same
# hard data. Its figures are numbered apart (E1, E2, ...; files ext01_...), every title says "beyond the paper", and
# a profile plans them only with "extension": True (hslib.config), so the paper's plans and estimates are unchanged.
UNSTRUCTURED = ("set", "snip", "omp")
NM = ("nm_omp", "nm_dynamic", "nm_random")  # one-shot from the dense parent, dynamic from scratch, random fixed
CHANNEL = ("channel_omp", "channel_dst")  # L1 channel pruning of the dense parent; Chase-like dynamic channels
STRUCTURED = NM + CHANNEL
EXTENSION_METHODS = UNSTRUCTURED + NM + CHANNEL
EXTENSION_NOTEBOOK = "10_structured_sparsity"
STRUCTURED_SPARSITY = 0.5  # the layer profiles' sparsity: 2:4, the pattern A100-class GPUs accelerate


def _ext(n, name, title, panels, **kw):
    return Figure(f"E{n}", f"ext{n:02d}_{name}", f"beyond the paper: {title}", EXTENSION_NOTEBOOK, panels, **kw)


EXTENSION = (
    _ext(1, "structured_accuracy", "structured (N:M, channel) vs unstructured sparsity at matched density",
         (Panel("a", "c100_r18", "structured", 0.5, "curve", EXTENSION_METHODS),
          Panel("b", "c100_r18", "structured", 0.3, "curve", EXTENSION_METHODS),
          Panel("c", "c100_r18", "structured_corruption", 0.3, "curve", EXTENSION_METHODS))),
    _ext(2, "structured_layer_density", "layer-wise density of the structured methods, EL2N top-30%",
         (Panel("a", "c100_r18", "structured", 0.3, "layers", NM, sparsity=STRUCTURED_SPARSITY),
          Panel("b", "c100_r18", "structured", 0.3, "layers", CHANNEL, sparsity=STRUCTURED_SPARSITY)), wide=True),
    _ext(3, "structured_speed", "accuracy vs measured inference speed, EL2N top-30%",
         (Panel("a", "c100_r18", "structured", 0.3, "speed", EXTENSION_METHODS),)),
)
ALL_FIGURES = FIGURES + EXTENSION
BY_NAME = {f.name: f for f in ALL_FIGURES}


def figure(name_or_number) -> Figure:
    """A figure of the paper (by name or number) or of the extension (by name or "E1", "E2", ...)."""
    for f in ALL_FIGURES:
        if name_or_number in (f.name, f.number):
            return f
    raise ValueError(f"figure={name_or_number!r} is not known; allowed values: {[f.name for f in ALL_FIGURES]}")


def extension(profile_name: str) -> bool:
    """Whether a profile plans the extension's figures (its "extension" flag)."""
    return bool(get_profile(profile_name).get("extension", False))


def figures_of(profile_name: str) -> tuple:
    """The figures a profile draws: the paper's, and the extension's where its flag asks for them."""
    return ALL_FIGURES if extension(profile_name) else FIGURES


def grids_of(profile_name: str) -> tuple:
    """The experiment grids a profile runs (those of its figures), in GRIDS order."""
    used = {p.grid for f in figures_of(profile_name) for p in f.panels}
    return tuple(g for g in GRIDS if g in used)


# ------------------------------------------------------------------------------------------ stand-ins
def stand_in(profile_name: str, pair: str) -> tuple[str, str]:
    """The (dataset, model) a profile runs for a paper pair."""
    return tuple(get_profile(profile_name)["stand_ins"][pair])


def pair_note(profile_name: str, pair: str) -> str:
    """'CIFAR-100 / ResNet18', or 'digits / ResNet18 (stand-in for CIFAR-100 / ResNet18)'."""
    run = stand_in(profile_name, pair)
    if run == PAIRS[pair]:
        return pair_label(*run)
    return f"{pair_label(*run)} (stand-in for {pair_label(*PAIRS[pair])})"


# The paper's released code runs SNIP as its per-layer counts with random positions (our `snip_random`); a
# profile that lists it in `paper_code_snip` sweeps it beside canonical SNIP on the accuracy-vs-sparsity panels
# of the EL2N and corruption figures, drawn dashed, so a reader sees whether that choice moves a finding.
PAPER_CODE_GRIDS = ("el2n", "corruption", "corruption_vgg")


def panel_methods(panel: Panel, profile_name: str) -> tuple:
    """The sparse methods a panel draws at a profile: its own, plus the paper-code SNIP where swept."""
    extra = get_profile(profile_name).get("paper_code_snip", [])
    if panel.show == "curve" and panel.grid in PAPER_CODE_GRIDS:
        return tuple(panel.methods) + tuple(m for m in extra if m not in panel.methods)
    return tuple(panel.methods)
