"""Does a reproduction match the committed reference? `python -m hslib.reference --profile smoke [--check]`.

The committed reference of a profile is outputs/figures/<profile>/ (figures and their JSON sidecars) and
outputs/results/<profile>/ (runs.csv, layer_density.csv, claims.csv). A reproduction (`hslib.reproduce`) writes
its own into outputs/reproduced/ (hslib.store), and this module compares the two, row by row:

- every run, matched by id: each metric's difference ("identical" when bit-equal), its layer densities included;
- every ledger row: verdict equal or changed, and the change of its effect with both CIs;
- every figure with a sidecar: drawn from the same run ids or not, and whether the runs behind it moved.

Tolerances come from the reference itself: a metric of a run may move by the spread (max − min) of that metric
across the seeds of the run's own setting (every config field but the seed). A setting run with one seed has
no spread, so no tolerance: its differences are reported as measured, never judged. `check` fails on a run
outside its tolerance, a run missing or new, and a changed verdict of a ledger row tested on at least
CHECK_SEEDS seeds.

Report: outputs/results/<profile>/reproduction.md and reproduction.json (git-ignored; the book shows the page).
"""
from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import pandas as pd

from . import store
from .files import TEMP_GLOB, replace_folder
from .config import PROFILES, RunConfig

# What a run computed: the numeric results of store.SCALARS, not how long it took (wall_time).
METRICS = tuple(m for m in store.SCALARS if m not in ("wall_time", "corruption_source"))
LAYER_METRIC = "layer {:02d} density"  # one metric per masked layer, from layer_density.csv
# A setting is a config but its seed; where and how a run executed does not change it.
SETTING = tuple(f.name for f in fields(RunConfig) if f.name not in ("seed", "device", "compile", "data_root",
                                                                    "lr_milestones"))
LEDGER_KEY = ("key", "family", "figure", "panel", "dataset", "model")  # one ledger row (keys repeat across panels)
CHECK_SEEDS = 3  # a verdict on fewer seeds is a direction at best: its flip is reported, not failed
STATES = ("identical", "within tolerance", "outside tolerance", "no tolerance", "missing", "new")
SHOWN = 40  # runs listed by name in the Markdown report per state (all of them are in the JSON)
RUN_NAME = ("dataset", "model", "method", "sparsity", "data_ratio", "subset", "corruption", "adversarial", "seed")


@dataclass
class Snapshot:
    """The comparable content of one results folder and one figures folder."""
    runs: pd.DataFrame
    layers: pd.DataFrame
    claims: pd.DataFrame
    sidecars: dict = field(default_factory=dict)  # figure name -> its sidecar (None: an image without one)


# A float written by pandas must read back bit-equal, so that "identical" means identical: pandas >= 3 does so by
# default (and deprecates the option), older pandas needs float_precision="round_trip".
EXACT_FLOATS = {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}


def _csv(path: Path, **kw) -> pd.DataFrame:
    try:
        return pd.read_csv(path, **EXACT_FLOATS, **kw)
    except (FileNotFoundError, pd.errors.EmptyDataError):
        return pd.DataFrame()


def snapshot(results_dir, figures_dir) -> Snapshot:
    """Read a results folder (runs.csv, layer_density.csv, claims.csv) and a figures folder (sidecars)."""
    results_dir, figures_dir = Path(results_dir), Path(figures_dir)
    claims = _csv(results_dir / store.RESULT_FILES["claims"])
    for c in LEDGER_KEY:  # an empty panel or dataset reads as NaN: make it a key that matches itself
        if c in claims:
            claims[c] = claims[c].fillna("").astype(str)
    sidecars = {}
    if figures_dir.is_dir():
        for png in sorted(figures_dir.glob("*.png")):
            sidecars[png.stem] = store.read_json(png.with_suffix(".json"))
    return Snapshot(_csv(results_dir / store.RESULT_FILES["runs"]), _csv(results_dir / store.RESULT_FILES["layers"]),
                    claims, sidecars)


def profile_snapshot(profile: str, outputs=None, reference: bool = True) -> Snapshot:
    """The committed reference of a profile (reference=True) or what the last reproduction wrote (False)."""
    return snapshot(store.folder("results", profile, outputs, reference=reference),
                    store.folder("figures", profile, outputs, reference=reference))


# ------------------------------------------------------------------------------------------ runs
def _long(snap: Snapshot) -> pd.DataFrame:
    """One row per (run id, metric): its value, and the run's setting as one string."""
    runs = snap.runs
    if not len(runs):
        return pd.DataFrame(columns=["id", "setting", "metric", "value"])
    setting = runs[[c for c in SETTING if c in runs]].map(str).agg("|".join, axis=1)  # str(NaN) is "nan"
    keyed = runs[["id"]].assign(setting=setting.to_numpy())
    metrics = runs[["id", *[m for m in METRICS if m in runs]]].melt("id", var_name="metric")
    parts = [metrics]
    if len(snap.layers):
        layers = snap.layers[["id", "index", "density"]].rename(columns={"density": "value"})
        parts.append(layers.assign(metric=layers["index"].map(LAYER_METRIC.format)).drop(columns="index"))
    long = pd.concat(parts, ignore_index=True)
    long["value"] = pd.to_numeric(long["value"], errors="coerce")
    return long.merge(keyed, on="id")


def tolerances(snap: Snapshot, profile: str) -> pd.DataFrame:
    """(setting, metric) -> tolerance: the spread (max − min) of the metric across the reference's seeds of that
    setting, where it ran at least two; a profile of one seed has none."""
    long = _long(snap).dropna(subset=["value"])
    if len(PROFILES[profile]["seeds"]) < 2 or not len(long):
        return pd.DataFrame(columns=["setting", "metric", "tolerance", "seeds"])
    g = long.groupby(["setting", "metric"]).value
    tol = pd.DataFrame({"tolerance": g.max() - g.min(), "seeds": g.count()}).reset_index()
    return tol[tol.seeds >= 2]


def _state(row) -> str:
    """A metric's state. A value on one side only (a run without layer densities) is a difference like any."""
    ref, new, tol = row.value_ref, row.value_new, row.tolerance
    if row.presence != "both":  # the run itself is missing from the reproduction, or new in it
        return row.presence
    if (np.isnan(ref) and np.isnan(new)) or ref == new:
        return "identical"
    if np.isnan(tol):
        return "no tolerance"
    return "within tolerance" if abs(new - ref) <= tol else "outside tolerance"  # NaN on one side: outside


def compare_runs(ref: Snapshot, new: Snapshot, profile: str) -> pd.DataFrame:
    """One row per (run id, metric) of either side: reference value, fresh value, difference, tolerance, state."""
    a, b = _long(ref), _long(new)
    both = a.merge(b.drop(columns="setting"), on=["id", "metric"], how="outer", suffixes=("_ref", "_new"))
    both["presence"] = np.where(~both.id.isin(set(b.id)), "missing", np.where(~both.id.isin(set(a.id)), "new", "both"))
    both["setting"] = both.groupby("id").setting.transform("first")
    both = both.merge(tolerances(ref, profile), on=["setting", "metric"], how="left")
    both["diff"] = both.value_new - both.value_ref
    both["state"] = [_state(r) for r in both.itertuples(index=False)] if len(both) else []
    return both


def run_states(metrics: pd.DataFrame) -> pd.Series:
    """id -> the run's state: its worst metric (outside tolerance > no tolerance > within > identical)."""
    if not len(metrics):
        return pd.Series(dtype=object)
    rank = {s: i for i, s in enumerate(("identical", "within tolerance", "no tolerance", "outside tolerance",
                                        "new", "missing"))}
    worst = metrics.state.map(rank).groupby(metrics.id).max()
    return worst.map({i: s for s, i in rank.items()})


# ------------------------------------------------------------------------------------------ ledger, figures
def compare_ledger(ref: Snapshot, new: Snapshot) -> pd.DataFrame:
    """One row per ledger row of either side: both verdicts, both effects with their CIs, the effect's change."""
    cols = [*LEDGER_KEY, "statement", "metric", "n_seeds", "diff", "ci_low", "ci_high", "verdict"]
    empty = pd.DataFrame(columns=cols)
    a = ref.claims.reindex(columns=cols) if len(ref.claims) else empty
    b = new.claims.reindex(columns=cols) if len(new.claims) else empty
    rows = a.merge(b, on=list(LEDGER_KEY), how="outer", suffixes=("_ref", "_new"), indicator="side")
    for c in ("statement", "metric"):  # a row of one side only has them from that side
        rows[c] = rows[f"{c}_ref"].fillna(rows[f"{c}_new"])
    for side in ("ref", "new"):  # "–" (not testable) and blanks read as no number
        for c in ("diff", "ci_low", "ci_high", "n_seeds"):
            rows[f"{c}_{side}"] = pd.to_numeric(rows[f"{c}_{side}"], errors="coerce")
    rows["effect_change"] = rows.diff_new - rows.diff_ref
    rows["verdict_equal"] = (rows.side == "both") & (rows.verdict_ref.map(str) == rows.verdict_new.map(str))
    rows["seeds"] = rows[["n_seeds_ref", "n_seeds_new"]].max(axis=1).fillna(0).astype(int)
    return rows.drop(columns="side")


def compare_figures(ref: Snapshot, new: Snapshot, states: pd.Series) -> list[dict]:
    """Per figure: same run ids or not (sidecars), and the states of the runs it draws."""
    out = []
    for name in sorted(set(ref.sidecars) | set(new.sidecars)):
        a, b = ref.sidecars.get(name), new.sidecars.get(name)
        row = {"figure": name, "in_reference": name in ref.sidecars, "in_reproduction": name in new.sidecars}
        if not (isinstance(a, dict) and isinstance(b, dict)):
            row["verdict"] = ("not compared: no sidecar" if row["in_reference"] and row["in_reproduction"]
                              else "missing from the reproduction" if row["in_reference"] else "new")
            out.append(row)
            continue
        ids_a, ids_b = set(a.get("run_ids", [])), set(b.get("run_ids", []))
        # a run id that no runs table lists (another runs folder's) cannot be compared: counted apart
        counts = states.reindex(sorted(ids_a & ids_b)).fillna("not in runs.csv").value_counts()
        row.update(same_runs=ids_a == ids_b, runs=len(ids_b), only_reference=sorted(ids_a - ids_b),
                   only_reproduction=sorted(ids_b - ids_a), states={s: int(n) for s, n in counts.items()})
        if ids_a != ids_b:
            row["verdict"] = "drawn from other runs"
        elif counts.get("outside tolerance", 0) or counts.get("missing", 0):
            row["verdict"] = "data changed beyond tolerance"
        elif counts.get("no tolerance", 0):
            row["verdict"] = "data differ (no tolerance available)"
        elif counts.get("within tolerance", 0):
            row["verdict"] = "data within tolerance"
        else:
            row["verdict"] = "same data"
        out.append(row)
    return out


# ------------------------------------------------------------------------------------------ the report
def _pp(v) -> str:
    return "–" if v is None or pd.isna(v) else f"{100 * v:+.2f} pp"


def _num(v) -> float | None:
    return None if v is None or pd.isna(v) else float(v)


def _plain(v):
    """A table cell as JSON: None for a blank, a Python number for a numpy one."""
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    return v.item() if hasattr(v, "item") else v


def compare(ref: Snapshot, new: Snapshot, profile: str) -> dict:
    """The whole comparison as plain data (what reproduction.json holds)."""
    if profile not in PROFILES:
        raise ValueError(f"profile={profile!r} is not known; allowed values: {sorted(PROFILES)}")
    metrics = compare_runs(ref, new, profile)
    states = run_states(metrics)
    ledger = compare_ledger(ref, new)
    moved = metrics[~metrics.state.isin(["identical"])]
    runs = []
    for rid, m in moved.groupby("id", sort=True):
        src = new.runs if rid in set(new.runs.get("id", [])) else ref.runs
        desc = src[src.id == rid].iloc[0]
        runs.append({"id": rid, "state": states[rid],
                     "run": {k: _plain(v) for k, v in desc.items() if k in RUN_NAME},
                     "metrics": [{"metric": r.metric, "reference": _num(r.value_ref), "reproduction": _num(r.value_new),
                                  "diff": _num(r.diff), "tolerance": _num(r.tolerance), "state": r.state}
                                 for r in m.itertuples(index=False) if r.state not in ("identical", "missing", "new")]})
    rows = [{**{k: _plain(r[k]) for k in LEDGER_KEY}, "statement": _str(r.statement),
             "metric": _str(r.metric), "seeds": int(r.seeds), "verdict_reference": _str(r.verdict_ref),
             "verdict_reproduction": _str(r.verdict_new), "verdict_equal": bool(r.verdict_equal),
             "effect_reference": _num(r.diff_ref), "ci_reference": [_num(r.ci_low_ref), _num(r.ci_high_ref)],
             "effect_reproduction": _num(r.diff_new), "ci_reproduction": [_num(r.ci_low_new), _num(r.ci_high_new)],
             "effect_change": _num(r.effect_change)} for _, r in ledger.iterrows()]
    acc = moved.loc[(moved.metric == "test_acc") & moved.state.isin(["within tolerance", "outside tolerance",
                                                                     "no tolerance"]), "diff"].abs()
    return {"profile": profile, "seeds": list(PROFILES[profile]["seeds"]), "tolerance_available":
            len(PROFILES[profile]["seeds"]) >= 2,
            "counts": {s: int((states == s).sum()) for s in STATES}, "runs": runs, "ledger": rows,
            "figures": compare_figures(ref, new, states),
            "test_acc_change": {"runs": int(len(acc)), "median": _num(acc.median()) if len(acc) else None,
                                "max": _num(acc.max()) if len(acc) else None}}


def _str(v):
    return None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)


def changed_verdicts(report: dict) -> list[dict]:
    return [r for r in report["ledger"] if not r["verdict_equal"]]


def _row_name(r: dict) -> str:
    where = f"Fig {r['figure']} ({r['panel']})" if r.get("panel") else f"Fig {r['figure']}"
    return f"{r['key']} [{r['family']}, {where}, {r['dataset']}/{r['model']}]"


def summary_line(report: dict) -> str:
    """'N runs identical, M within tolerance, K outside; verdicts: all equal' (and what else there is)."""
    c = report["counts"]
    line = (f"{c['identical']} runs identical, {c['within tolerance']} within tolerance, "
            f"{c['outside tolerance']} outside")
    extra = [f"{c[s]} {'differ without a tolerance' if s == 'no tolerance' else s}"
             for s in ("no tolerance", "missing", "new") if c[s]]
    line += "".join(f", {e}" for e in extra)
    changed = changed_verdicts(report)
    if not changed:
        return line + "; verdicts: all equal"
    names = ", ".join(r["key"] for r in changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
    return line + f"; verdicts: {len(changed)} changed ({names})"


def failures(report: dict) -> list[str]:
    """Why `--check` fails (empty: it passes): runs outside tolerance, runs missing or new, and changed verdicts
    of ledger rows tested on at least CHECK_SEEDS seeds."""
    c, out = report["counts"], []
    if c["outside tolerance"]:
        out.append(f"{c['outside tolerance']} run(s) outside tolerance")
    if c["missing"] or c["new"]:
        out.append(f"{c['missing']} run(s) missing and {c['new']} new: the reference was made by other code or "
                   f"another plan (regenerate it deliberately with `make reference PROFILE={report['profile']}`)")
    flipped = [r for r in changed_verdicts(report) if r["seeds"] >= CHECK_SEEDS]
    if flipped:
        out.append(f"{len(flipped)} verdict(s) on ≥ {CHECK_SEEDS} seeds changed: "
                   + "; ".join(f"{_row_name(r)}: {r['verdict_reference']} → {r['verdict_reproduction']}"
                               for r in flipped))
    return out


def _run_name(r: dict) -> str:
    d = r["run"]
    parts = [f"{d.get('dataset')}/{d.get('model')}", str(d.get("method")), f"sparsity {d.get('sparsity')}",
             f"data {d.get('data_ratio')} {d.get('subset')}"]
    parts += [str(d[k]) for k in ("corruption", "adversarial") if isinstance(d.get(k), str) and d.get(k)]
    return f"`{r['id']}` " + ", ".join(parts) + f", seed {d.get('seed')}"


def _metric_text(m: dict) -> str:
    if m["state"] in ("missing", "new"):
        return m["metric"]
    tol = "no tolerance" if m["tolerance"] is None else f"tolerance {m['tolerance']:.4g}"
    return f"{m['metric']} {m['reference']:.6g} → {m['reproduction']:.6g} (Δ {m['diff']:+.3g}, {tol})" \
        if m["reference"] is not None and m["reproduction"] is not None else f"{m['metric']} (one side is empty)"


def markdown(report: dict) -> str:
    """reproduction.md: the summary line, then runs, ledger rows and figures, each as measured."""
    c, profile = report["counts"], report["profile"]
    lines = ["# Does this reproduction match the reference?", "",
             f"Profile `{profile}`: the results of this reproduction (`outputs/reproduced/`) against the committed "
             f"reference (`outputs/results/{profile}/`, `outputs/figures/{profile}/`), generated by "
             "`hslib.reference`.", "", f"**{summary_line(report)}.**", ""]
    fails = failures(report)
    lines += [f"`make reproduce CHECK=1` would **fail**: {'; '.join(fails)}." if fails else
              "`make reproduce CHECK=1` passes.", ""]
    lines += ["## Tolerance", ""]
    change = report["test_acc_change"]
    measured = (f"{change['runs']} run(s) differ in test accuracy, by {100 * change['median']:.2f} pp (median) and "
                f"{100 * change['max']:.2f} pp at most" if change["runs"] else "no run differs in test accuracy")
    if report["tolerance_available"]:
        lines += ["A metric may move by its spread (max − min) across the reference's seeds of the run's own "
                  "setting (every config field but the seed). A setting with one seed has no spread: its runs are "
                  f"counted as 'differ without a tolerance', reported and never judged. Here {measured}.", ""]
    else:
        lines += [f"No tolerance available: `{profile}` runs one seed per setting ({report['seeds']}), so no spread "
                  f"across seeds tells float noise from a change. Float noise across CPUs is this large: {measured}. "
                  "On one machine a reproduction is bit-identical; on another CPU the last bits of every sum "
                  "differ and training amplifies them (README, *Same machine, same numbers*).", ""]
    lines += ["## Runs", "", "| state | runs |", "| --- | ---: |"] + [f"| {s} | {c[s]} |" for s in STATES] + [""]
    for state in ("outside tolerance", "missing", "new", "no tolerance", "within tolerance"):
        listed = [r for r in report["runs"] if r["state"] == state]
        if not listed:
            continue
        lines += [f"### {state.capitalize()} ({len(listed)})", ""]
        for r in listed[:SHOWN]:
            if not r["metrics"]:  # a run missing or new: nothing to set against it
                lines.append(f"- {_run_name(r)}")
                continue
            ms = "; ".join(_metric_text(m) for m in r["metrics"][:4]) + (
                f"; and {len(r['metrics']) - 4} more metrics" if len(r["metrics"]) > 4 else "")
            lines.append(f"- {_run_name(r)}: {ms}")
        if len(listed) > SHOWN:
            lines.append(f"- … and {len(listed) - SHOWN} more (all in reproduction.json)")
        lines.append("")
    lines += ["## Ledger", "", f"{sum(r['verdict_equal'] for r in report['ledger'])} of {len(report['ledger'])} rows "
              "keep their verdict. Effects are the ledger's `diff` (A − B), with its 95% CI.", "",
              "| row | seeds | verdict (reference → reproduction) | effect, reference | effect, reproduction "
              "| change |",
              "| --- | ---: | --- | --- | --- | --- |"]
    order = sorted(report["ledger"], key=lambda r: (r["verdict_equal"], -abs(r["effect_change"] or 0)))
    for r in order:
        verdict = (r["verdict_reproduction"] if r["verdict_equal"]
                   else f"**{r['verdict_reference']} → {r['verdict_reproduction']}**")
        lines.append(f"| {_row_name(r)} | {r['seeds']} | {verdict} | {_effect(r, 'reference')} | "
                     f"{_effect(r, 'reproduction')} | {_change(r)} |")
    lines += ["", "## Figures", "", "| figure | same run ids | runs behind it | verdict |", "| --- | --- | --- | --- |"]
    for f in report["figures"]:
        same = "–" if "same_runs" not in f else ("yes" if f["same_runs"] else
                                                   f"no (−{len(f['only_reference'])} +{len(f['only_reproduction'])})")
        states = ", ".join(f"{n} {s}" for s, n in f.get("states", {}).items()) or "–"
        lines.append(f"| {f['figure']} | {same} | {states} | {f['verdict']} |")
    return "\n".join(lines) + "\n"


def _is_accuracy(metric) -> bool:
    return isinstance(metric, str) and metric.endswith("_acc")


def _effect(r: dict, side: str) -> str:
    v, (lo, hi) = r[f"effect_{side}"], r[f"ci_{side}"]
    if v is None:
        return "–"
    fmt = _pp if _is_accuracy(r["metric"]) else (lambda x: "–" if x is None else f"{x:+.4g}")
    return fmt(v) + (f" [{fmt(lo)}, {fmt(hi)}]" if lo is not None and hi is not None else "")


def _change(r: dict) -> str:
    v = r["effect_change"]
    if v is None:
        return "–"
    if v == 0:
        return "identical"
    return _pp(v) if _is_accuracy(r["metric"]) else f"{v:+.4g}"


def write(report: dict, outputs=None) -> list[Path]:
    """Write reproduction.md and reproduction.json into the profile's committed results folder and beside the
    reproduction's tables (its book, built while it runs, reads the reproduction's folders)."""
    profile, text, written = report["profile"], markdown(report), []
    for side in (True, False):
        md, data = (store.results_file(profile, k, outputs, side) for k in ("reproduction", "reproduction_data"))
        md.parent.mkdir(parents=True, exist_ok=True)
        store.write_text(md, text)
        store.write_json(data, report)
        written += [md, data]
    return written


def report(profile: str, outputs=None, reference: Snapshot | None = None) -> dict:
    """Compare what the last reproduction of `profile` wrote with its reference (default: the committed one; a
    `reference` snapshot taken before `make reference` rewrote it), write the report, return it."""
    if profile not in PROFILES:
        raise ValueError(f"profile={profile!r} is not known; allowed values: {sorted(PROFILES)}")
    fresh_reference = reference is not None  # make reference: the fresh results are the new committed ones
    ref = reference if fresh_reference else profile_snapshot(profile, outputs, reference=True)
    new = profile_snapshot(profile, outputs, reference=fresh_reference)
    result = compare(ref, new, profile)
    write(result, outputs)  # beside the reproduction's tables too, where its book looks
    return result


REPORT_FILES = tuple(store.RESULT_FILES[k] for k in ("reproduction", "reproduction_data"))  # git-ignored


def _prepared(target: Path) -> Path:
    """An empty temporary sibling of `target` to prepare its replacement in (a leftover one is removed first)."""
    tmp = target.with_name(f".{target.name}.promoting")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    return tmp


def _copy_executed(profile: str, labels: list, outputs, into: Path) -> None:
    """The executed notebooks `labels` (notebooks/<profile>/<label>.ipynb) into `into`, with the machine's paths made
    relative to the project (papermill's input and output paths, run folders printed by a sweep)."""
    source = store.folder("notebooks", profile, outputs)
    missing = [lb for lb in labels if not (source / f"{lb}.ipynb").exists()]
    if missing:
        raise FileNotFoundError(f"{source} lacks the executed notebooks {missing}: nothing was copied")
    into.mkdir(parents=True)
    roots = sorted({str(store.outputs_root(outputs).resolve().parent), str(store.project_root())}, key=len,
                   reverse=True)  # the longer first, so a root inside the other is replaced whole
    for lb in labels:
        text = (source / f"{lb}.ipynb").read_text(encoding="utf-8")
        for r in roots:
            text = text.replace(r + "/", "")
        store.write_text(into / f"{lb}.ipynb", text)


def promote(profile: str, outputs=None, executed: list | None = None) -> list[Path]:
    """Make what a finished reproduction of `profile` wrote the committed reference: its figures and results folders
    (reproduced/figures|results/<profile>/, its report files and any temporary left out: `report` writes the report)
    and, with `executed` (notebook labels), its executed notebooks (`commit_executed`). Every folder is first copied
    complete beside its target, then all of them are renamed into place one after the other, so a copy that fails
    (a full disk, an interrupt) leaves the whole reference as it was. `make reference` runs the series as a
    reproduction and calls this only after every notebook finished."""
    sources = {name: store.folder(name, profile, outputs, reference=False) for name in ("figures", "results")}
    missing = [str(s) for s in sources.values() if not s.is_dir()]
    if missing:
        raise FileNotFoundError(f"the reproduction wrote no {missing}: the committed reference was left as it was")
    prepared: dict = {}
    try:
        for name, source in sources.items():
            target = store.folder(name, profile, outputs, reference=True)
            prepared[target] = _prepared(target)
            shutil.copytree(source, prepared[target], ignore=shutil.ignore_patterns(*REPORT_FILES, TEMP_GLOB))
        if executed is not None:
            target = store.folder("executed", profile, outputs, reference=True)
            prepared[target] = _prepared(target)
            _copy_executed(profile, executed, outputs, prepared[target])
    except BaseException:
        for tmp in prepared.values():
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    return [replace_folder(tmp, target) for target, tmp in prepared.items()]  # back to back, all complete


def commit_executed(profile: str, labels: list, outputs=None) -> Path:
    """Copy the executed notebooks `labels` of `profile` (notebooks/<profile>/<label>.ipynb) into the committed
    executed/<profile>/, replacing what was there, with the machine's paths made relative to the project: the whole
    series or nothing. `make reference` does this inside `promote` for the profiles in store.EXECUTED_REFERENCE."""
    target = store.folder("executed", profile, outputs, reference=True)
    tmp = _prepared(target)
    try:
        _copy_executed(profile, labels, outputs, tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return replace_folder(tmp, target)  # never a half-copied folder under the committed name


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m hslib.reference", description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="smoke", choices=sorted(PROFILES))
    ap.add_argument("--outputs", default=None, help="outputs root (default: $HSLIB_OUTPUTS, else <project>/outputs)")
    ap.add_argument("--check", action="store_true", help="exit 1 when a run moved outside tolerance, a run is "
                    f"missing or new, or a verdict on ≥ {CHECK_SEEDS} seeds changed")
    args = ap.parse_args(argv)
    result = report(args.profile, args.outputs)
    print(f"[reference] {summary_line(result)}")
    print(f"[reference] report: {store.results_file(args.profile, 'reproduction', args.outputs, reference=True)}")
    fails = failures(result) if args.check else []
    for f in fails:
        print(f"[reference] check failed: {f}", file=sys.stderr)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
