"""Sentences that the notebooks and the README show, computed from the profile and the results (analysis tier:
pandas, no torch). Nothing here is typed by hand: a number or a direction a reader sees comes from the profile's
settings, the plan (hslib.planning), the runs or the ledger, so it cannot contradict the outputs beside it.

- `scale_box(profile, notebook, runs)`: "what this scale can and cannot show", the box every notebook shows.
- `changes(...)`: how a quantity moved between two settings, per group, in words ("falls for 4 of 6 methods: ...").
- `readme_block(...)` / `with_block(...)`: the README's generated results section (`python -m hslib.prose`).
"""
from __future__ import annotations

from functools import lru_cache

import pandas as pd

from .claims import FIT, FIT_SHARE, MIN_SEEDS, VERDICTS, regime
from .config import profile as get_profile
from .findings import FAMILIES, FINDINGS, Finding
from .paper import ALL_FIGURES, FIGURES, PAIRS, Panel, figure, figures_of, stand_in
from .vocabulary import DATASETS, pair_label

# Notebooks whose figures are not the ones `hslib.paper` assigns to them.
FIGURES_OF = {"03_sparse_training": (2,), "08_claims": tuple(f.number for f in FIGURES),
              "09_exercise_your_own_method": ()}
EVERY_SUBSET = ("02_hard_sample_filtering",)  # notebooks about every EL2N-hard subset the profile trains on
FINAL_NOTEBOOK = "08_claims"  # trains every run the ledger still lacks, then decides every row
EXERCISE = "09_exercise_your_own_method"  # trains at its own seeds (hslib.exercise), not the profile's


def notebook_figures(notebook: str | None) -> tuple:
    """The numbers of the paper's figures a notebook draws or reads (None: every figure, the whole study)."""
    if notebook is None:
        return tuple(f.number for f in FIGURES)
    if notebook in FIGURES_OF:
        return FIGURES_OF[notebook]
    return tuple(f.number for f in ALL_FIGURES if f.notebook == notebook)  # the extension's notebook: E1, E2, ...


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# ------------------------------------------------------------------------------------------ seeds of a row
@lru_cache(maxsize=None)
def _plan(panel: Panel, profile: str, source: str) -> tuple:
    """(method, sparsity, data ratio, seed, run id) of every run the profile plans for a panel, or for the
    controls."""
    from .planning import control_configs, panel_configs

    configs = control_configs(profile) if source == "control" else panel_configs(panel, profile)
    return tuple((c.method, round(c.sparsity, 6), c.data_ratio, c.seed, c.id) for c in configs)


def _group_runs(f: Finding, number: int, letter: str, profile: str, side: str) -> tuple[set, frozenset] | None:
    """(the seeds the profile plans for every setting of one group of a finding on a panel, the ids of its runs on
    those seeds): a group's test uses only seeds that ran all of its settings (hslib.claims). None for the zero
    group, which has no runs."""
    g = getattr(f, side)
    if not g.methods:
        return None
    settings: dict = {}
    for method, sparsity, ratio, seed, run in _plan(figure(number).panel(g.panel.get(letter, letter)), profile,
                                                    g.source):
        inside = method in g.methods and g.ratio_min - 1e-9 <= ratio <= g.ratio_max + 1e-9 and (
            method == "dense" or g.sparsity_min - 1e-9 <= sparsity <= g.sparsity_max + 1e-9)
        if inside:
            settings.setdefault((method, sparsity, ratio), {})[seed] = run
    seeds = set.intersection(*(set(s) for s in settings.values())) if settings else set()
    return seeds, frozenset(run for s in settings.values() for seed, run in s.items() if seed in seeds)


@lru_cache(maxsize=None)
def _planned_ledger(profile: str) -> pd.DataFrame:
    """The ledger's rows as the profile plans them, in its order (hslib.claims): key, family, the figures and panels
    of the test and the number of seeds both groups share. As in the ledger, a confirmatory finding is one row over
    its panels, and a row that runs the same test on the very same runs as an earlier row is left out."""
    rows, seen = [], set()
    for f in FINDINGS:
        tests = [f.where()] if f.family == "confirmatory" else [[w] for w in f.where()]
        for panels in tests:
            seeds, same = None, [f.test, f.metric, f.margin]
            for n, x in panels:
                for side in ("a", "b"):
                    g, runs = getattr(f, side), _group_runs(f, n, x, profile, side)
                    same.append((g.minus_dense, g.best, g.metric, runs and runs[1]))
                    if runs is not None:
                        seeds = runs[0] if seeds is None else seeds & runs[0]
            if f.family != "confirmatory" and seeds:  # a test without runs is never "the same" as another
                if tuple(same) in seen:
                    continue
                seen.add(tuple(same))
            rows.append({"key": f.key, "family": f.family, "figures": frozenset(n for n, _ in panels),
                         "panel": f.panels if f.family == "confirmatory" else panels[0][1],
                         "seeds": len(seeds or ())})
    return pd.DataFrame(rows, columns=["key", "family", "figures", "panel", "seeds"])


def planned_rows(profile: str, numbers) -> pd.DataFrame:
    """The rows of the ledger about the figures `numbers`, as the profile plans them (see _planned_ledger)."""
    rows = _planned_ledger(profile)
    return rows[[bool(f & set(numbers)) for f in rows.figures]]


# ------------------------------------------------------------------------------------------ the box
def _data_lines(P: dict, profile: str, numbers) -> list:
    pairs = sorted({p.pair for n in numbers for p in figure(n).panels} or set(PAIRS))
    ran = {stand_in(profile, p) for p in pairs}
    lines = []
    if any(stand_in(profile, p) != PAIRS[p] for p in pairs):
        lines.append(f"the paper's {', '.join(pair_label(*PAIRS[p]) for p in pairs)} run here as "
                     f"{', '.join(pair_label(*r) for r in sorted(ran))}"
                     + (f" ({len(pairs)} paper pairs as {len(ran)}: panels that differ only in their pair show the "
                        f"same runs)" if len(ran) < len(pairs) else ""))
    run = P["run"]
    size = f", images at {run['image_size']}×{run['image_size']}" if run.get("image_size") else ""
    steps = f" of {run['steps_per_epoch']} steps" if run.get("steps_per_epoch") else ""
    width = f", networks at {run['width']:g} of the paper's width" if run.get("width", 1) != 1 else ""
    lines.append(f"{run.get('epochs', 200)} epochs{steps} (the paper: 200){width}{size}")
    return lines


def _subset_line(profile: str, numbers, every_ratio: bool = False) -> str | None:
    """The sizes of the EL2N-hard subsets the figures `numbers` train on (every ratio the profile trains on)."""
    from .planning import el2n_ratios

    panels = [p for n in numbers for p in figure(n).panels if p.family == "el2n"]
    ratios = {p.ratio for p in panels if p.ratio is not None}
    if any(p.ratio is None for p in panels):  # a panel over the grid's data ratios (Figure 3)
        ratios |= set(get_profile(profile)["grid_ratios"])
    ratios = el2n_ratios(profile) if every_ratio else sorted(r for r in ratios if r < 1)
    dataset = stand_in(profile, "c100_r18")[0]
    if not ratios or dataset not in DATASETS:
        return None
    n = DATASETS[dataset].train_images
    sizes = ", ".join(f"top-{r:.0%} = {max(1, round(r * n)):,} images" for r in ratios)
    return (f"EL2N-hard subsets of the {n:,} {DATASETS[dataset].label} training images: {sizes} (the global top-x%, "
            f"not class-balanced; notebook 02 shows their class mix)")


def _seed_lines(P: dict, numbers, confirmatory: bool) -> list:
    """The seeds behind the figures `numbers`: the profile's, a grid's own (Figure 9's severity grid, the
    extension's), and the confirmatory runs' where a row about these figures is confirmatory."""
    grids = {p.grid for n in numbers for p in figure(n).panels}
    own: dict = {}  # seeds -> the figures whose grid runs them
    for g in sorted(grids & set(P["grid_seeds"])):
        own.setdefault(len(P["grid_seeds"][g]), set()).update(n for n in numbers for p in figure(n).panels
                                                              if p.grid == g)
    in_order = (lambda f: sorted(f, key=lambda x: (isinstance(x, str), x)))  # 6, 10, then E1, E2
    figs = {n: f"Figure{'s' if len(f) > 1 else ''} {', '.join(map(str, in_order(f)))}" for n, f in own.items()}
    if own and grids <= set(P["grid_seeds"]):  # every run here has its grid's own seeds
        line = "; ".join(f"{_count(n, 'seed')} per run ({figs[n]})" for n in sorted(own))
    else:
        line = f"{_count(len(P['seeds']), 'seed')} per run"
        if own:
            line += " (" + "; ".join(f"{figs[n]}: {n}" for n in sorted(own)) + ")"
    if P.get("confirmatory_seeds") and confirmatory:
        line += f"; {len(P['confirmatory_seeds'])} for the runs the confirmatory findings test"
    return [line]


def _fit_line(runs: pd.DataFrame | None, profile: str) -> str | None:
    """The convergence share from runs.csv, if there are runs of this profile."""
    if runs is None or not len(runs) or "train_acc" not in runs:
        return None
    r = regime(runs, profile)
    if not r["runs"]:
        return None
    verdict = "in the paper's regime" if r["fit_share"] >= FIT_SHARE else "**not** in the paper's regime"
    return (f"{r['fit']} of {r['runs']} finished non-adversarial runs ({100 * r['fit_share']:.1f}%) fit their "
            f"training set (≥ {FIT:.0%} training accuracy; criterion ≥ {FIT_SHARE:.0%} of runs): {verdict}")


def _corruption_line(runs: pd.DataFrame | None, profile: str, numbers) -> str | None:
    """How hard the corrupted data are at this scale: dense on all of the data at severity 5 (Figure 4 (a)'s runs)
    against dense on the clean data (the regime's reference), from the runs."""
    from .tables import panel_runs, points

    if runs is None or not len(runs) or not {4, 5, 9, 14} & set(numbers):
        return None
    panel = figure(4).panel("a")
    corrupted = points(panel_runs(runs, panel, profile), "test_acc")
    corrupted = corrupted[corrupted.method == "dense"]
    clean = regime(runs, profile)
    if not len(corrupted) or not clean["dense_seeds"]:
        return None
    c = corrupted.iloc[0]
    return (f"corruption at severity {panel.severity}: dense {clean['dense_label']} on all of the data reaches "
            f"{100 * c['mean']:.1f}% test accuracy over {_count(int(c.seeds), 'seed')} (clean data: "
            f"{100 * clean['dense_mean']:.1f}% over {_count(clean['dense_seeds'], 'seed')})")


def _keys(rows: pd.DataFrame, most: int = 8) -> str:
    """The findings of some rows by key, or how many there are when the list would be long."""
    keys = list(dict.fromkeys(rows.key))
    return ", ".join(keys) if len(keys) <= most else _count(len(keys), "finding")


def _row_lines(rows: pd.DataFrame, trains_everything: bool = True) -> tuple[list, list]:
    """(can, cannot) lines from the planned ledger rows of the notebook's figures. `trains_everything`: the notebook
    trains every run its rows need (08, the whole study); elsewhere a confirmatory or control row may wait for runs
    that only notebook 08 trains."""
    if not len(rows):
        return [], []
    checks = rows[rows.family == "check"]
    tested = rows[rows.family != "check"]
    can, cannot = [], []
    decided = tested[tested.seeds >= MIN_SEEDS]
    direction = tested[tested.seeds < MIN_SEEDS]
    if len(decided):
        by = decided.family.value_counts()
        can.append(f"a verdict on {_count(len(decided), 'tested row')} of the ledger about these figures ("
                   + ", ".join(f"{by[f]} {f}" for f in FAMILIES if f in by) + f"), each with ≥ {MIN_SEEDS} seeds"
                   + ("" if trains_everything or not {"confirmatory", "control"} & set(by.index) else
                      f" (the {' and '.join(f for f in ('confirmatory', 'control') if f in by)} rows once every run "
                      f"they need has finished: notebook 08 trains what is still missing)"))
    if len(checks):
        can.append(f"{_count(len(checks), 'check')} ({_keys(checks)}): they hold by "
                   f"construction and say whether the code does what it claims, never whether the paper is right")
    unplanned, few = direction[direction.seeds == 0], direction[direction.seeds > 0]
    if len(few):
        cannot.append(f"a verdict on {_count(len(few), 'tested row')} ({_keys(few)}): as few as "
                      f"{_count(int(few.seeds.min()), 'seed')}, so only the direction is shown (a test needs ≥ "
                      f"{MIN_SEEDS})")
    if len(unplanned):
        cannot.append(f"anything on {_count(len(unplanned), 'tested row')} ({_keys(unplanned)}): the profile runs none "
                      f"of the settings a group needs")
    return can, cannot


def scale_box(profile: str, notebook: str | None = None, runs: pd.DataFrame | None = None) -> str:
    """'What this scale can and cannot show', as Markdown, for a notebook at a profile: its data and schedule against
    the paper's, its seeds, the EL2N-hard subsets it trains on, and which ledger rows about its figures get a verdict,
    which show a direction only and which are checks; with `runs` (a runs table such as runs.csv) also the share of
    runs that fit their training set and, for the corruption figures, what severity 5 costs dense. `notebook` None:
    the whole study."""
    P = get_profile(profile)
    planned = {f.number for f in figures_of(profile)}  # the extension's figures only where the profile's flag asks
    left_out = [n for n in notebook_figures(notebook) if n not in planned]
    numbers = tuple(n for n in notebook_figures(notebook) if n in planned)
    rows = planned_rows(profile, numbers)
    drawn = f", and every panel of Figure{'s' if len(numbers) > 1 else ''} {', '.join(map(str, numbers))}" if numbers \
        else ""
    can = [f"every stage running end to end{drawn}"]
    row_can, cannot = _row_lines(rows, notebook in (None, FINAL_NOTEBOOK))
    can += row_can
    facts = _data_lines(P, profile, numbers) + _seed_lines(P, numbers, (rows.family == "confirmatory").any())
    if notebook == EXERCISE:
        from .exercise import DEFAULT_SEEDS

        facts[-1] = (f"each method of the exercise once per seed of its `seeds` parameter ({len(DEFAULT_SEEDS)} by "
                     f"default, whatever the profile's own {_count(len(P['seeds']), 'seed')} per run)")
    for line in (_subset_line(profile, numbers, notebook in EVERY_SUBSET), _fit_line(runs, profile),
                 _corruption_line(runs, profile, numbers)):
        if line:
            facts.append(line)
    if left_out:
        cannot.append(f"Figure{'s' if len(left_out) > 1 else ''} {', '.join(map(str, left_out))} as part of this "
                      f"profile's study: its `extension` flag leaves the extension beyond the paper out, so `make "
                      f"reproduce` skips this notebook and the ledger has no rows on it (run by hand, the notebook "
                      f"still trains and draws it)")
    if stand_in(profile, "c100_r18") != PAIRS["c100_r18"]:
        cannot.append("whether the paper's numbers hold on its own datasets: only the `gpu` and `paper` profiles run "
                      "them; a result here is a result about the stand-in")
    if len(P["seeds"]) < MIN_SEEDS and not P.get("confirmatory_seeds") and notebook != EXERCISE:
        cannot.append(f"any finding: with {_count(len(P['seeds']), 'seed')} no row can be tested, and a number can "
                      f"flip sign on another machine")
    lines = [f"> **What this scale can and cannot show** (`{profile}` profile{', ' + notebook if notebook else ''}; "
             f"generated by `hslib.prose.scale_box`)", ">", "> *This scale:* " + "; ".join(facts) + ".", ">",
             "> *It can show:* " + "; ".join(can) + "."]
    if cannot:
        lines += [">", "> *It cannot show:* " + "; ".join(cannot) + "."]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ directions in words
def changes(before: pd.Series, after: pd.Series, what: str, names=None, tolerance: float = 0.0) -> str:
    """How `what` moved from `before` to `after` (two Series indexed by the same groups), in words with each
    group's numbers: 'rises for 2 of 6 (OMP 0.351 → 0.418, SET 0.228 → 0.326), falls for 4 (...)'. A change within
    `tolerance` counts as unchanged. `names` maps a group to its label."""
    names = names or {}
    both = pd.concat({"before": before, "after": after}, axis=1).dropna()
    if not len(both):
        return f"{what}: no groups with both values"
    delta = both.after - both.before
    parts = []
    same = f"stays within ±{tolerance:g}" if tolerance else "is unchanged"
    for word, mask in (("rises", delta > tolerance), ("falls", delta < -tolerance), (same, delta.abs() <= tolerance)):
        if mask.any():
            listed = ", ".join(f"{names.get(k, k)} {both.before[k]:.3g} → {both.after[k]:.3g}" for k in both.index[mask])
            parts.append(f"{word} for {int(mask.sum())} of {len(both)} ({listed})")
    return f"{what} " + "; ".join(parts)


def method_means(results: pd.DataFrame, name, profile: str, metric: str = "test_acc") -> pd.DataFrame:
    """Per method (rows) and panel letter (columns): the mean over the sparsities a panel draws of the means it
    draws (hslib.tables.points over tables.panel_runs), i.e. the figure's own numbers, for a sentence or a table
    beside it."""
    from .tables import panel_runs, points

    columns = {}
    for panel in figure(name).panels:
        shown = points(panel_runs(results, panel, profile), metric)
        columns[panel.letter] = shown.groupby("method")["mean"].mean()
    return pd.DataFrame(columns)


# ------------------------------------------------------------------------------------------ the README
BEGIN = "<!-- BEGIN generated results: python -m hslib.prose writes this block from outputs/results/; do not edit -->"
END = "<!-- END generated results -->"
README_PROFILES = ("course", "smoke")  # the profiles whose results are committed
CONTROLLED = "lth_below_omp"  # the registered row the control rows explain (LTH): the README shows them under it


def _verdict_words(row) -> str:
    """A ledger row in one line: its statement, A − B with its CI over its seeds, its verdict (and power)."""
    from .claims import PENDING, amount

    if not row.n_seeds:  # no seed ran every setting: what is missing, in the ledger's words
        return f"{row.statement}: {row.evidence} → **{row.verdict}**."
    ci = f", 95% CI [{amount(row.ci_low, row.metric)}, {amount(row.ci_high, row.metric)}]" if pd.notna(row.ci_low) else ""
    power = f" (power {row.power:.2f})" if pd.notna(row.power) else ""
    so_far = " finished so far" if row.verdict == PENDING else ""
    return (f"{row.statement}: A − B = {amount(row['diff'], row.metric)}{ci} over {_count(int(row.n_seeds), 'seed')}"
            f"{so_far} → **{row.verdict}**{power}.")


def _found(ledger: pd.DataFrame, runs: pd.DataFrame, profile: str) -> list:
    """What a profile found, in a few lines: its regime, each confirmatory verdict (LTH's with its controls beside
    it), the other families counted."""
    from .claims import PENDING

    lines = [f"**What `{profile}` found** (from [`claims.csv`](outputs/results/{profile}/claims.csv) and "
             f"[`runs.csv`](outputs/results/{profile}/runs.csv); every row with its test: "
             f"[`summary.md`](outputs/results/{profile}/summary.md)):", ""]
    r = regime(runs, profile)
    if r["runs"]:
        lines.append(f"- Regime: {r['fit']} of {r['runs']} non-adversarial runs ({100 * r['fit_share']:.1f}%) fit their "
                     f"training set (criterion ≥ {FIT_SHARE:.0%}); dense {r['dense_label']} on all of the data: "
                     f"{100 * r['dense_mean']:.2f}% test accuracy over {_count(r['dense_seeds'], 'seed')}.")
    conf, controls = ledger[ledger.family == "confirmatory"], ledger[ledger.family == "control"]
    for _, row in conf.iterrows():
        lines.append(f"- {_verdict_words(row)}")
        if row.key == CONTROLLED:
            lines += [f"  - {_verdict_words(c)}" for _, c in controls.iterrows()]
    for family in ("exploratory", "control", "check"):
        part = ledger[ledger.family == family]
        if len(part) and not (family == "control" and (conf.key == CONTROLLED).any()):
            counts = part.verdict.value_counts()
            lines.append(f"- {family.capitalize()} rows: " + ", ".join(f"{v} {counts[v]}" for v in VERDICTS
                                                                       if v in counts) + ".")
    if (conf.verdict == PENDING).any():
        lines.append(f"- *{PENDING}*: a confirmatory verdict waits for every run of its family.")
    return lines


def readme_block(outputs=None, profiles=README_PROFILES) -> str:
    """The README's results section, from the committed results of each profile (claims.csv, runs.csv under
    `outputs`, default the project's outputs/): what it found, and what its scale can and cannot show."""
    from .store import project_root, results_file

    outputs = outputs or project_root() / "outputs"
    lines = [BEGIN, ""]
    for profile in profiles:
        claims_csv, runs_csv = (results_file(profile, k, outputs) for k in ("claims", "runs"))
        if not (claims_csv.exists() and runs_csv.exists()):
            lines += [f"*`{profile}`: no committed results (outputs/results/{profile}/).*", ""]
            continue
        runs = pd.read_csv(runs_csv)
        lines += _found(pd.read_csv(claims_csv), runs, profile) + ["", scale_box(profile, None, runs), ""]
    return "\n".join(lines + [END])


def with_block(readme: str, block: str, begin: str = BEGIN, end: str = END, name: str = "README.md") -> str:
    """`readme` with its generated block replaced by `block` (the markers must be there, once each)."""
    if readme.count(begin) != 1 or readme.count(end) != 1 or readme.index(begin) > readme.index(end):
        raise ValueError(f"{name} must hold the markers {begin!r} and {end!r} once each, in that order")
    head, rest = readme.split(begin)
    return head + block + rest.split(end, 1)[1]


# ------------------------------------------------------------------------------------------ the lab's timings
LAB_BEGIN = ("<!-- BEGIN generated lab timings: python -m hslib.prose writes this table from docs/lab_timings.json "
             "(benchmarks/lab_timings.py) and outputs/results/course/runs.csv; do not edit -->")
LAB_END = "<!-- END generated lab timings -->"


def duration(seconds: float) -> str:
    """42 s, 3 min 05 s, 1 h 02 min."""
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def lab_block(timings: dict | None, course_runs: pd.DataFrame | None) -> str:
    """docs/lab.md's timing table: each core-path notebook's measured elapsed time (`timings`, the record
    benchmarks/lab_timings.py writes), the runs it trained, and what the same runs took in the committed `course` run."""
    lines = [LAB_BEGIN, ""]
    if not timings:
        return "\n".join(lines + ["*Not measured yet: run `python benchmarks/lab_timings.py`.*", "", LAB_END])
    wall = dict(zip(course_runs.id, course_runs.wall_time)) if course_runs is not None else {}
    wall.update(_as_course_runs(timings, wall))
    lines += ["| notebook | runs it trains | their training time in the `course` run | measured (elapsed) |",
              "| --- | ---: | ---: | ---: |"]
    total_runs, total_course, total = 0, 0.0, 0.0
    for nb in timings["notebooks"]:
        known = [wall[r] for r in nb["runs"] if r in wall]
        course = duration(sum(known)) + ("" if len(known) == len(nb["runs"]) else
                                         f" ({len(nb['runs']) - len(known)} not in the course run)")
        lines.append(f"| `{nb['notebook']}` | {len(nb['runs'])} | {course} | {duration(nb['seconds'])} |")
        total_runs, total_course, total = total_runs + len(nb["runs"]), total_course + sum(known), total + nb["seconds"]
    lines += [f"| **core path** | **{total_runs}** | **{duration(total_course)}** | **{duration(total)}** |", ""]
    load = timings["load_average"]
    lines += [f"Measured at commit `{timings['commit']}` on {timings['date']} ({timings['machine']}) with "
              f"`{timings['command']}`, from an empty outputs folder; 1-minute load average {load['start']} at the "
              f"start, median {load['median']}, highest {load['max']} (sampled every 30 s).", "", LAB_END]
    return "\n".join(lines)


def _as_course_runs(timings: dict, wall: dict) -> dict:
    """{measured run id: the wall_time of the same run in the course}: a `class` run is the course's run of the same
    config (the profile name is part of a run's id, nothing else differs), found through the measured profile's plan."""
    import dataclasses

    from .planning import all_configs, plan as waves

    if timings.get("profile") in (None, "course"):
        return {}
    plan = {c.id: c for wave in waves(all_configs(timings["profile"])) for c in wave}
    ids = [r for nb in timings["notebooks"] for r in nb["runs"] if r in plan]
    course = {r: dataclasses.replace(plan[r], profile="course").id for r in ids}
    return {r: wall[c] for r, c in course.items() if c in wall}


def _lab_inputs(root):
    import json

    record = root / "docs" / "lab_timings.json"
    runs = root / "outputs" / "results" / "course" / "runs.csv"
    return (json.loads(record.read_text()) if record.exists() else None,
            pd.read_csv(runs) if runs.exists() else None)


def main(argv=None) -> int:
    """python -m hslib.prose [--check]: rewrite the generated blocks of README.md (results) and docs/lab.md
    (timings), or, with --check, fail if one differs."""
    import argparse

    from .store import project_root, write_text

    parser = argparse.ArgumentParser(description="Rewrite the generated blocks of README.md and docs/lab.md.")
    parser.add_argument("--check", action="store_true", help="only fail (exit 1) if the block is stale")
    check = parser.parse_args(argv).check
    root = project_root()
    stale = []
    for path, block, markers in ((root / "README.md", readme_block(), (BEGIN, END)),
                                 (root / "docs" / "lab.md", lab_block(*_lab_inputs(root)), (LAB_BEGIN, LAB_END))):
        old = path.read_text()
        new = with_block(old, block, *markers, name=path.name)
        if new != old:
            stale.append(path.relative_to(root).as_posix())
            if not check:
                write_text(path, new)
    if check and stale:
        print(f"generated text is stale in {', '.join(stale)}: run python -m hslib.prose")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

