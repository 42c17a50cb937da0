"""What every notebook does right after its `parameters` cell: validate the parameters, find the project's
folders, and hand back a small session object whose `.sweep(configs)` trains with the chosen executor.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from . import experiments, figures, store
from . import sweep as hsweep
from .config import PROFILES, profile as get_profile
from .sparse.methods import METHODS
from .plots import save


def project_root(start: Path | None = None) -> Path:
    """The folder holding pyproject.toml (notebooks run from notebooks/ interactively, from the root under
    papermill); $HSLIB_PROJECT overrides; else the current folder."""
    if os.environ.get("HSLIB_PROJECT"):
        return Path(os.environ["HSLIB_PROJECT"])
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / "pyproject.toml").exists() and (d / "hslib").is_dir():
            return d
    return here


@dataclass
class Session:
    profile: str
    executor: str
    workers: int | None
    data_root: str
    root: Path  # project root
    settings: dict = field(repr=False, default_factory=dict)

    @property
    def outputs(self) -> Path:
        """$HSLIB_OUTPUTS (tests, scratch series) or <project>/outputs."""
        return Path(os.environ.get("HSLIB_OUTPUTS") or self.root / store.OUTPUTS)

    @property
    def runs(self) -> Path:
        return store.outputs_dir("runs", self.outputs)

    @property
    def figures(self) -> Path:
        return store.outputs_dir("figures", self.outputs)

    @property
    def results(self) -> Path:
        return store.outputs_dir("results", self.outputs)

    def grid(self, experiment: str, methods=None):
        return hsweep.grid(experiment, self.profile, methods=methods, data_root=self.data_root)

    def sweep(self, configs):
        """Train what is missing (dependencies first) and return the runs' results as a DataFrame."""
        opts = hsweep.slurm_options_from_env() if self.executor == "slurm" else {}
        df = hsweep.run(configs, executor=self.executor, root=self.runs, workers=self.workers, **opts)
        if df.attrs.get("failed"):
            raise RuntimeError(f"{len(df.attrs['failed'])} run(s) failed: {df.attrs['failed'][:5]}; "
                               f"see error.txt in their folders under {self.runs}")
        return df

    def save(self, fig, name: str):
        return save(fig, name, self.figures)

    def table(self, configs):
        """Train what is missing of `configs`, then their runs table with the layer table attached
        (`df.attrs['layers']`), as hslib.figures.draw and hslib.claims.evaluate take it."""
        df = self.sweep(configs)
        df.attrs["layers"] = store.layers_for(configs, self.runs)
        return df

    def figure(self, name: str):
        """Run (or find) every run a paper figure draws, draw it from the table in hslib.experiments, and save
        it with its sidecar (profile, panels, run ids) under outputs/figures. Returns (figure, its runs)."""
        df = self.table(experiments.figure_configs(name, self.profile, data_root=self.data_root))
        fig = figures.draw(name, df, self.profile)
        self.save(fig, name)
        return fig, df


def setup(profile: str = "smoke", executor: str = "inline", workers: int = 0, data_root: str = "",
          **extra) -> Session:
    """Validate a notebook's parameters (one clear ValueError naming the parameter) and return a Session."""
    # papermill injects whatever literal it was given: check types before membership (a list is unhashable).
    if not isinstance(profile, str) or profile not in PROFILES:
        raise ValueError(f"profile={profile!r} is not known; allowed values: {sorted(PROFILES)}")
    if not isinstance(executor, str) or executor not in hsweep.EXECUTORS:
        raise ValueError(f"executor={executor!r} is not known; allowed values: {list(hsweep.EXECUTORS)}")
    if not (isinstance(workers, int) and not isinstance(workers, bool) and workers >= 0):
        raise ValueError(f"workers={workers!r} is not allowed; allowed values: 0 (automatic) or an integer >= 1")
    if workers and executor != "local":
        raise ValueError(f"workers={workers!r} only applies to executor='local', not executor={executor!r}; "
                         f"allowed values: 0 with executor={executor!r}")
    if not isinstance(data_root, (str, os.PathLike)) or (data_root and not Path(data_root).expanduser().is_dir()):
        raise ValueError(f"data_root={data_root!r} is not a folder; allowed values: '' (use $HSLIB_DATA or ./data) "
                         f"or an existing folder")
    if "method" in extra and (not isinstance(extra["method"], str) or extra["method"] not in METHODS):
        raise ValueError(f"method={extra['method']!r} is not known; allowed values: {sorted(METHODS)}")
    root = project_root()
    return Session(profile, executor, workers or None, str(Path(data_root).expanduser()) if data_root else "",
                   root, get_profile(profile))
