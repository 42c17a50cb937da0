"""Result tables as the analysis and presentation tiers read them (pandas, no torch): one normal form for a
table read from runs.csv or built in memory, and the rows a panel of the paper draws."""
from __future__ import annotations

import json

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
