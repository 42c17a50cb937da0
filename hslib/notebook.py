"""What every notebook does right after its `parameters` cell: validate the parameters, find the project's
folders, and hand back a small session object whose `.sweep(configs)` trains with the chosen executor.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from . import sweep as hsweep
from .config import PROFILES, profile as get_profile
from .sparse.methods import METHODS


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
        return Path(os.environ.get("HSLIB_OUTPUTS") or self.root / "outputs")

    @property
    def runs(self) -> Path:
        return self.outputs / "runs"

    @property
    def figures(self) -> Path:
        return self.outputs / "figures"

    @property
    def results(self) -> Path:
        return self.outputs / "results"

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
        from .plots import save
        return save(fig, name, self.figures)


def setup(profile: str = "smoke", executor: str = "inline", workers: int = 0, data_root: str = "",
          **extra) -> Session:
    """Validate a notebook's parameters (one clear ValueError naming the parameter) and return a Session."""
    if profile not in PROFILES:
        raise ValueError(f"profile={profile!r} is not known; allowed values: {sorted(PROFILES)}")
    if executor not in hsweep.EXECUTORS:
        raise ValueError(f"executor={executor!r} is not known; allowed values: {list(hsweep.EXECUTORS)}")
    if not (isinstance(workers, int) and workers >= 0):
        raise ValueError(f"workers={workers!r} is not allowed; allowed values: 0 (automatic) or an integer >= 1")
    if data_root and not Path(data_root).expanduser().is_dir():
        raise ValueError(f"data_root={data_root!r} is not a folder; allowed values: '' (use $HSLIB_DATA or ./data) "
                         f"or an existing folder")
    if "method" in extra and extra["method"] not in METHODS:
        raise ValueError(f"method={extra['method']!r} is not known; allowed values: {sorted(METHODS)}")
    root = project_root()
    return Session(profile, executor, workers or None, str(Path(data_root).expanduser()) if data_root else "",
                   root, get_profile(profile))
