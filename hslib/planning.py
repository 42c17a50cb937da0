"""Planning: pure functions from the specification (the table of the paper, a profile) to run configs and the
waves that run them in dependency order (EL2N scoring runs, then runs without a parent and dense parents, then
the runs that start from a parent). No torch: a plan is made and checked before the engine is loaded.
"""
from __future__ import annotations

import itertools

from .config import RunConfig, base_config, profile as get_profile
from .findings import CONFIRMATORY
from .paper import EXTENSION, GRIDS, Panel, extension, figure, figures_of, grids_of, panel_methods, stand_in
from .vocabulary import METHODS

SCORE_SEED = 1000  # EL2N scoring runs use seeds 1000.. so they never coincide with an experiment's run


def parent_config(cfg: RunConfig) -> RunConfig | None:
    """The dense run that LTH/OMP/OMP_ERK start from: same data, model, schedule and seed."""
    if not METHODS[cfg.method].needs_parent:
        return None
    return cfg.replace(method="dense", density=1.0)


def scoring_configs(cfg: RunConfig) -> list[RunConfig]:
    """The dense runs whose EL2N scores define `cfg`'s subset: full data, clean, `el2n_epoch` epochs each."""
    base = cfg.replace(method="dense", density=1.0, data_ratio=1.0, subset="random", corruption="",
                       adversarial="", stop_epoch=cfg.el2n_epoch)
    return [base.replace(seed=SCORE_SEED + i) for i in range(cfg.el2n_runs)]


def expand(base: RunConfig, **axes) -> list[RunConfig]:
    """Cartesian product of `axes` (field -> list of values) on top of `base`; dense runs get density 1."""
    for k, v in axes.items():
        if not isinstance(v, (list, tuple)) or not v:
            raise ValueError(f"grid axis {k}={v!r} must be a non-empty list")
    out = []
    for values in itertools.product(*axes.values()):
        fields = dict(zip(axes, values))
        if fields.get("method", base.method) == "dense":
            fields["density"] = 1.0
        out.append(base.replace(**fields))
    return unique(out)


def unique(configs) -> list[RunConfig]:
    """Configs in order, each run id once (configs that differ only in fields a run ignores share an id)."""
    seen, out = set(), []
    for c in configs:
        if c.id not in seen:
            seen.add(c.id)
            out.append(c)
    return out


def panel_configs(panel: Panel, profile_name: str, **overrides) -> list[RunConfig]:
    """Every run a panel draws: its methods (and dense) over its sparsities, ratios and the profile's seeds."""
    if panel.show == "examples":
        return []
    P = get_profile(profile_name)
    dataset, model = stand_in(profile_name, panel.pair)
    base = base_config(profile_name, dataset=dataset, model=model, **overrides)
    spec = GRIDS[panel.grid]
    ratios = [panel.ratio] if panel.ratio is not None else P[spec["ratios"]]
    if panel.sparsity is not None:
        sparsities = [panel.sparsity]
    else:
        sparsities = P[spec["sparsities"]]
    extra = {}
    if panel.family == "el2n":
        extra = {"subset": ["hard"]}
    elif panel.family == "corruption":
        extra = {"corruption": ["+".join(P["corruptions"])], "severity": [panel.severity]}
    elif panel.family == "adversarial":
        extra = {"adversarial": ["linf"]}
    densities = [round(1 - s, 6) for s in sparsities]
    seeds = panel_seeds(panel, P)
    configs = []
    methods = panel_methods(panel, profile_name)
    if methods:
        configs += expand(base, method=list(methods), density=densities, data_ratio=ratios, seed=seeds, **extra)
    configs += expand(base, method=["dense"], data_ratio=ratios, seed=seeds, **extra)
    return configs + _confirmatory_seeds(panel, configs, seeds)


def panel_seeds(panel: Panel, P: dict) -> list[int]:
    """The seeds every run of a panel gets: its grid's (`grid_seeds`), else the profile's `seeds`."""
    return P["grid_seeds"].get(panel.grid, P["seeds"])


def _confirmatory_seeds(panel: Panel, configs: list, seeds: list) -> list[RunConfig]:
    """The panel's runs that a confirmatory finding tests, again at the profile's `confirmatory_seeds` beyond
    its `seeds` (the number its power calculation asks for, docs/paper_findings.md): only the groups' methods
    at the groups' sparsities and data ratios, and dense beside them."""
    P = get_profile(configs[0].profile) if configs else {}
    more = [s for s in P.get("confirmatory_seeds", []) if s not in seeds]
    wanted = []
    for f in CONFIRMATORY:
        for number, letter in f.where():
            for g in (f.a, f.b):
                if figure(number).panel(g.panel.get(letter, letter)) == panel:
                    wanted.append(g)
    if not more or not wanted:
        return []

    def tested(c):
        return c.method == "dense" or any(
            c.method in g.methods and g.sparsity_min - 1e-9 <= c.sparsity <= g.sparsity_max + 1e-9
            and g.ratio_min - 1e-9 <= c.data_ratio <= g.ratio_max + 1e-9 for g in wanted)

    return unique([c.replace(seed=s) for c in configs if c.seed == seeds[0] and tested(c) for s in more])


CONTROL_PANEL = (4, "a")  # full corrupted data: where LTH's inheritance from its parent shows most


def control_configs(profile_name: str, **overrides) -> list[RunConfig]:
    """The two lottery-ticket controls (hslib.findings: family 'control'), on the runs of Figure 4 a at high
    sparsity and the profile's seeds:
    - equal compute: LTH trains its dense parent and then itself, so SET and SNIP get twice the epochs
      (parent epochs counted) at the same sparsities;
    - fresh initialisation: LTH's mask with a fresh random initialisation (method lth_fresh)."""
    from .findings import HIGH

    number, letter = CONTROL_PANEL
    runs = [c for c in panel_configs(figure(number).panel(letter), profile_name, **overrides)
            if c.method == "lth" and c.sparsity >= HIGH - 1e-9 and c.seed in get_profile(profile_name)["seeds"]]
    return unique([c.replace(method=m, epochs=2 * c.epochs) for c in runs for m in ("set", "snip")] +
                  [c.replace(method="lth_fresh") for c in runs])


def plan(configs) -> list[list[RunConfig]]:
    """Waves in dependency order: [scoring runs], [runs without parent + dense parents], [children]."""
    scoring, free, children = [], [], []
    for c in configs:
        if c.uses_scores:
            scoring += scoring_configs(c)
        p = parent_config(c)
        if p is None:
            free.append(c)
        else:
            free.append(p)
            children.append(c)
            if p.uses_scores:
                scoring += scoring_configs(p)
    return [unique(scoring), unique(free), unique(children)]


def figure_configs(name, profile_name: str, **overrides) -> list[RunConfig]:
    return unique([c for p in figure(name).panels for c in panel_configs(p, profile_name, **overrides)])


def grid(experiment: str, profile_name: str, methods=None, **overrides) -> list[RunConfig]:
    """The runs of one experiment grid: the union of what every panel drawing from it needs (a profile therefore
    runs nothing that no figure draws). `methods` keeps only those methods (dense only if listed); `overrides`
    are RunConfig fields (e.g. data_root, device)."""
    if experiment not in GRIDS:
        raise ValueError(f"experiment={experiment!r} is not known; allowed values: {list(GRIDS)}")
    if GRIDS[experiment].get("extension") and not extension(profile_name):
        raise ValueError(f"experiment={experiment!r} is beyond the paper and profile {profile_name!r} leaves the "
                         f"extension out; allowed values: {list(grids_of(profile_name))} (or a profile with "
                         f'"extension": True)')
    unknown = [m for m in (methods or []) if m not in METHODS]
    if unknown:
        raise ValueError(f"methods={unknown} are not known; allowed values: {list(METHODS)}")
    configs = unique([c for f in figures_of(profile_name) for p in f.panels if p.grid == experiment
                      for c in panel_configs(p, profile_name, **overrides)])
    if methods:
        configs = [c for c in configs if c.method in methods]
    if not configs:
        raise ValueError(f"grid {experiment!r} of profile {profile_name!r} with methods={methods} has no runs")
    return configs


def paper_configs(profile_name: str, **overrides) -> list[RunConfig]:
    """Every run of the paper's figures at a profile, and the controls (the extension left out)."""
    return unique([c for e in grids_of(profile_name) if not GRIDS[e].get("extension")
                   for c in grid(e, profile_name, **overrides)] + control_configs(profile_name, **overrides))


def all_configs(profile_name: str, **overrides) -> list[RunConfig]:
    """Every run of every figure the profile draws, and the controls: the paper's, then the extension's where the
    profile's flag asks for it."""
    more = extension_configs(profile_name, **overrides) if extension(profile_name) else []
    return unique(paper_configs(profile_name, **overrides) + more)


def extension_configs(profile_name: str, **overrides) -> list[RunConfig]:
    """Every run the extension's figures draw at a profile, whether or not its flag includes them (the estimate
    states what turning it on would cost); runs the paper's figures share are among them."""
    return unique([c for f in EXTENSION for p in f.panels for c in panel_configs(p, profile_name, **overrides)])


def el2n_pairs(profile_name: str) -> list[tuple[str, str]]:
    """The (dataset, model) pairs a profile scores with EL2N (those of its EL2N-hard panels), first pair first."""
    out = []
    for f in figures_of(profile_name):
        for p in f.panels:
            pair = stand_in(profile_name, p.pair)
            if p.family == "el2n" and pair not in out:
                out.append(pair)
    return out


def el2n_ratios(profile_name: str) -> list[float]:
    """Every data ratio below 1 that a profile trains on EL2N-hard subsets (its figures' and its grid's)."""
    P = get_profile(profile_name)
    ratios = {p.ratio for f in figures_of(profile_name) for p in f.panels if p.family == "el2n" and p.ratio is not None}
    ratios |= set(P["grid_ratios"])
    return sorted(r for r in ratios if r < 1)


def scoring_base(profile_name: str, dataset: str, model: str, **overrides) -> RunConfig:
    """A config that trains on an EL2N-hard subset of the pair: the key to its scores and subset files."""
    return base_config(profile_name, dataset=dataset, model=model, subset="hard",
                       data_ratio=min(el2n_ratios(profile_name)), **overrides)
