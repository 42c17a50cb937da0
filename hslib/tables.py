"""Result tables as the analysis and presentation tiers read them (pandas, no torch): one normal form for a
table read from runs.csv or built in memory, and the rows a panel of the paper draws."""
from __future__ import annotations

import json
from functools import lru_cache

import numpy as np
import pandas as pd

from .config import base_config
from .paper import Panel, panel_methods, stand_in

STRING_COLUMNS = ("corruption", "adversarial", "subset", "distribution")


def as_shape(shape) -> list:
    """A layer's weight shape as a list, whether in memory (list/tuple) or read back from a CSV ("[64, 3, 3, 3]")."""
    return json.loads(shape) if isinstance(shape, str) else list(shape)


def normalise(results: pd.DataFrame) -> pd.DataFrame:
    """A results table as read from runs.csv or built in memory: empty strings, not NaN, for 'none'."""
    if results.attrs.get("normalised"):
        return results
    df = results.copy()
    df.attrs = {"normalised": True}  # (pandas deep-copies attrs on every operation: keep them tiny)
    for c in STRING_COLUMNS:
        if c in df:
            df[c] = df[c].fillna("").astype(str)
    if "sparsity" not in df and "density" in df:
        df["sparsity"] = (1 - df["density"]).round(6)
    return df


def panel_rows(results: pd.DataFrame, panel: Panel, profile_name: str) -> pd.DataFrame:
    """The rows of `results` that a panel draws (dense included), for this profile's stand-in pair."""
    df = normalise(results)
    if not len(df):
        return df
    dataset, model = stand_in(profile_name, panel.pair)
    keep = (df.dataset == dataset) & (df.model == model) & (df.profile == profile_name)
    if "label_noise" in df:
        keep &= df.label_noise.fillna(0) == 0
    if "stop_epoch" in df:
        keep &= df.stop_epoch.fillna(0) == 0  # EL2N scoring runs are not results
    if "epochs" in df:  # the profile's schedule: the equal-compute controls train longer and are not drawn
        keep &= df.epochs == base_config(profile_name).epochs
    if panel.family == "el2n":
        keep &= (df.corruption == "") & (df.adversarial == "") & ((df.subset == "hard") | (df.data_ratio >= 1))
    elif panel.family == "corruption":
        keep &= (df.corruption != "") & (df.severity == panel.severity) & (df.adversarial == "")
    else:
        keep &= df.adversarial != ""
    if panel.ratio is not None:
        keep &= np.isclose(df.data_ratio, panel.ratio)
    keep &= df.method.isin(("dense",) + panel_methods(panel, profile_name))
    if panel.sparsity is not None:
        keep &= (df.method == "dense") | np.isclose(df.sparsity, panel.sparsity)
    return df[keep]


def _setting(method, sparsity, ratio) -> tuple:
    return method, round(float(sparsity), 6), round(float(ratio), 6)


@lru_cache(maxsize=None)
def _planned(panel: Panel, profile_name: str) -> tuple[dict, frozenset]:
    """({(method, sparsity, data ratio): the seeds the profile plans for it on this panel}, every seed the profile
    plans anywhere)."""
    from .config import profile as get_profile
    from .planning import panel_configs

    seeds: dict = {}
    for c in panel_configs(panel, profile_name):
        seeds.setdefault(_setting(c.method, 1 - c.density, c.data_ratio), set()).add(c.seed)
    P = get_profile(profile_name)
    known = set(P["seeds"]) | set(P.get("confirmatory_seeds", [])) | {s for v in P["grid_seeds"].values() for s in v}
    return {k: frozenset(v) for k, v in seeds.items()}, frozenset(known)


def panel_runs(results: pd.DataFrame, panel: Panel, profile_name: str) -> pd.DataFrame:
    """The runs of a panel: what its figure draws, what the ledger tests on it and what the text under it quotes.
    panel_rows, narrowed to what the profile plans for this panel: its settings (method, sparsity, data ratio) and,
    of the seeds the profile plans anywhere, those it plans for this panel. Where panels share a stand-in (at
    `course` every pair is digits), another panel's runs never join it: not Figure 13 (b)'s sparsity 0.7 on Figure 2
    (c)'s data, nor the confirmatory family's extra seeds of SET at sparsity 0.9 in Figure 3's grid. A seed the
    profile never plans (a hand-made table) is kept."""
    rows = panel_rows(results, panel, profile_name)
    if not len(rows):
        return rows
    planned, known = _planned(panel, profile_name)
    keep = [(seed not in known or seed in planned[setting]) if setting in planned else False
            for setting, seed in zip(map(_setting, rows.method, rows.sparsity, rows.data_ratio), rows.seed)]
    return rows.loc[np.array(keep, dtype=bool)]


def points(rows: pd.DataFrame, metric: str, by=("method", "sparsity", "data_ratio")) -> pd.DataFrame:
    """What a panel shows of `metric`: one row per setting (`by`: method, sparsity, data ratio) with the mean, the sd
    (0 for one seed) and the number of runs. The figures draw these numbers and the text under them quotes them."""
    keys = list(by)
    if not len(rows) or metric not in rows:
        return pd.DataFrame(columns=keys + ["mean", "sd", "seeds"])
    values = rows.assign(_v=rows[metric].astype(float))
    out = values.groupby(keys, sort=True)["_v"].agg(mean="mean", sd="std", seeds="count").reset_index()
    out["sd"] = out["sd"].fillna(0.0)
    return out
