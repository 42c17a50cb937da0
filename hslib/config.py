"""One run's configuration, its validation and stable id, and the named profiles.

Every default below is the paper's setting (docs/design.md#method-semantics); profiles override a few. A `RunConfig` is
frozen: `cfg.replace(density=0.2)` makes a new one. Its `id` is a short hash of every field that changes the
result (not of where data lives or which device runs it), so the same experiment always lands in the same
run directory and a finished run is never trained twice.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import numbers
import re
from dataclasses import dataclass, fields

from .architectures import IMAGE_SIZES
from .vocabulary import (ADVERSARIAL, BN_MODES, CORRUPTIONS, DATASETS, METHODS, MODELS, NM_ALLOWED, PRECISIONS,
                         SEVERITIES, nm_pattern)

SUBSETS = ("random", "hard", "easy", "hard_balanced")  # hard/easy = EL2N top/bottom x%
# The version of what a run computes. Bump it whenever a change to the code would change a finished run's
# results (training loop, a method, data decoding, augmentation, corruption parameters, EL2N): it is part of
# every run id and every data cache key, so runs and caches of older semantics are never silently reused.
SEMANTICS = 2  # 2: train_acc is the fit of the run's own training subset (eval mode, no augmentation)
# Fields that say where or how a run executes, not what it computes: left out of the id.
EXECUTION_FIELDS = ("device", "compile", "data_root")


def _fail(name, value, allowed):
    raise ValueError(f"{name}={value!r} is not allowed; allowed values: {allowed}")


@dataclass(frozen=True)
class RunConfig:
    # --- what is trained
    dataset: str = "cifar100"
    model: str = "resnet18"
    width: float = 1.0  # channel multiplier; 1.0 = the paper's models
    method: str = "dense"  # a name of hslib.vocabulary.METHODS
    density: float = 1.0  # fraction of masked weights kept (sparsity = 1 - density)
    distribution: str = ""  # per-layer density rule; "" = the method's default
    # --- which data
    data_ratio: float = 1.0  # fraction of the training split used
    subset: str = "random"  # how that fraction is chosen: random, or by EL2N score (hard/easy/hard_balanced)
    el2n_epoch: int = 20  # EL2N scoring: epochs of dense training before scoring
    el2n_runs: int = 10  # EL2N scoring: independent runs averaged
    image_size: int = 0  # train and test at this side length (images resized after corruption); 0 = the data's own
    label_noise: float = 0.0  # fraction of training labels replaced by another class (fixed draw; tests, teaching)
    corruption: str = ""  # "" or corruption names joined by "+"; one drawn per image
    severity: int = 5
    adversarial: str = ""  # "" (none), "linf" or "l2" PGD adversarial training
    adv_eps: float = 8 / 255
    adv_step: float = 2 / 255
    adv_steps: int = 10
    adv_eval_steps: int = 20
    adv_bn_mode: str = "train"  # the paper crafts training attacks with BN in train mode
    # --- optimisation (SGD, step lr schedule)
    epochs: int = 200
    stop_epoch: int = 0  # stop after this many epochs of the `epochs` schedule (EL2N scoring); 0 = all
    batch_size: int = 128
    # 0 = an epoch is one pass over the training subset (the paper). N = every epoch is N batches, drawn as
    # consecutive shuffled passes: every run then takes the same number of optimizer steps whatever its data
    # ratio, so a 30% subset is not starved of steps (the course profile, where runs must converge).
    steps_per_epoch: int = 0
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    lr_milestones: tuple = (0.5, 0.75)  # fractions of `epochs` where lr is multiplied by lr_gamma
    lr_gamma: float = 0.1
    # "fp32" (float32; TF32 matmuls/convolutions allowed on CUDA) or "bf16" (bfloat16 autocast, CUDA or CPU)
    precision: str = "fp32"
    # --- sparse-method knobs (ignored by methods that do not use them)
    update_every: float = 4.0  # epochs between mask updates (GMP prune events, SET/RigL rewiring)
    zeta: float = 0.2  # SET/RigL initial rewiring fraction (cosine-decayed)
    zeta_final: float = 0.001
    gmp_start: float = 0.1  # GMP prunes from 10% ...
    gmp_end: float = 0.8  # ... to 80% of training
    snip_batch: int = 128
    zero_momentum: bool = False  # also zero the momentum of pruned weights (paper code: no)
    # --- bookkeeping
    seed: int = 0
    profile: str = "paper"
    # --- execution only (not part of the id)
    device: str = "auto"  # auto = cuda if available, else cpu
    compile: bool = False  # torch.compile the model (CUDA)
    data_root: str = ""  # "" = $HSLIB_DATA or ./data

    def __post_init__(self):
        try:
            object.__setattr__(self, "lr_milestones", tuple(float(m) for m in self.lr_milestones))
        except (TypeError, ValueError):
            _fail("lr_milestones", self.lr_milestones, "a list of fractions of training in (0, 1)")
        self.validate()
        if not self.distribution:
            object.__setattr__(self, "distribution", METHODS[self.method].distributions[0])

    # ------------------------------------------------------------------ derived
    @property
    def sparsity(self) -> float:
        return round(1.0 - self.density, 10)

    @property
    def uses_scores(self) -> bool:
        """True when the training subset is chosen by EL2N score (a full-data 'subset' needs no scores)."""
        return self.subset != "random" and self.data_ratio < 1

    @property
    def corruptions(self) -> tuple:
        return tuple(self.corruption.split("+")) if self.corruption else ()

    def unused_fields(self) -> tuple:
        """Fields this run does not read: the id treats them as defaults, so that e.g. every dense run of
        the same data shares one id whatever SET knobs its profile set, and is trained once."""
        unused = ()
        if self.method == "dense":
            unused += SPARSE_KNOBS
        if not self.uses_scores:
            unused += ("subset", "el2n_epoch", "el2n_runs")  # all of the data is all of the data
        if not self.corruption:
            unused += ("severity",)
        if not self.adversarial:
            unused += ADVERSARIAL_KNOBS
        return unused

    @functools.cached_property  # a frozen config's id never changes; sweeps ask for it often
    def id(self) -> str:
        ident = {k: v for k, v in self.to_dict().items() if k not in EXECUTION_FIELDS}
        for name in self.unused_fields():
            ident[name] = _DEFAULTS[name]
        ident["lr_milestones"] = list(ident["lr_milestones"])
        ident["semantics"] = SEMANTICS
        if METHODS[self.method].code:  # a user-written method: its code is part of what the run computes
            ident["method_code"] = METHODS[self.method].code
        blob = json.dumps(ident, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    def to_dict(self) -> dict:
        d = {name: getattr(self, name) for name in _FIELD_NAMES}  # every value is a plain literal
        d["lr_milestones"] = list(d["lr_milestones"])
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "RunConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown RunConfig field(s) {unknown}; allowed fields: {sorted(known)}")
        return cls(**d)

    def replace(self, **changes) -> "RunConfig":
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown RunConfig field(s) {unknown}; allowed fields: {sorted(known)}")
        if "method" in changes and "distribution" not in changes:
            changes["distribution"] = ""  # the new method's default
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------------ validation
    def validate(self):
        """Raise one ValueError naming the field and the allowed values; nothing has run yet."""
        # Types first, so that a wrong type (e.g. a string from a command line or notebook parameter) gets
        # this one error rather than a TypeError from a comparison below.
        for name, allowed in _NUMBERS.items():
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or math.isnan(v):
                _fail(name, v, allowed)
        for name in ("nesterov", "zero_momentum", "compile"):
            if not isinstance(getattr(self, name), bool):
                _fail(name, getattr(self, name), [True, False])
        for name in ("dataset", "model", "method", "distribution", "subset", "corruption", "adversarial",
                     "adv_bn_mode", "precision", "profile", "device", "data_root"):
            if not isinstance(getattr(self, name), str):
                allowed = {"method": sorted(METHODS), "profile": sorted(PROFILES)}.get(name, _STRINGS.get(name))
                _fail(name, getattr(self, name), allowed or "a string")
        if self.dataset not in DATASETS:
            _fail("dataset", self.dataset, list(DATASETS))
        if self.model not in MODELS:
            _fail("model", self.model, list(MODELS))
        if not (isinstance(self.width, (int, float)) and 0 < self.width <= 4):
            _fail("width", self.width, "a number in (0, 4]")
        if self.method not in METHODS:
            _fail("method", self.method, sorted(METHODS))
        if not (isinstance(self.density, (int, float)) and 0 < self.density <= 1):
            _fail("density", self.density, "a number in (0, 1]")
        spec = METHODS[self.method]
        if self.method == "dense" and self.density != 1:
            _fail("density", self.density, "1.0 for method='dense'")
        if self.method != "dense" and self.density == 1:
            _fail("density", self.density, f"a number in (0, 1) for sparse method {self.method!r}")
        if spec.pattern == "nm":  # only densities that are a fraction N/M have an N:M pattern
            try:
                nm_pattern(self.density)
            except ValueError:
                _fail("density", self.density, f"{NM_ALLOWED} for the N:M method {self.method!r}")
        if self.distribution and self.distribution not in spec.distributions:
            _fail("distribution", self.distribution, f"{list(spec.distributions)} for method {self.method!r}")
        if not (isinstance(self.data_ratio, (int, float)) and 0 < self.data_ratio <= 1):
            _fail("data_ratio", self.data_ratio, "a number in (0, 1]")
        if not (isinstance(self.label_noise, (int, float)) and 0 <= self.label_noise < 1):
            _fail("label_noise", self.label_noise, "a number in [0, 1)")
        if isinstance(self.image_size, bool) or self.image_size not in (0,) + IMAGE_SIZES:
            _fail("image_size", self.image_size, [0, *IMAGE_SIZES])
        if not (isinstance(self.steps_per_epoch, int) and not isinstance(self.steps_per_epoch, bool)
                and self.steps_per_epoch >= 0):
            _fail("steps_per_epoch", self.steps_per_epoch, "0 (one pass over the subset) or an integer >= 1")
        if self.subset not in SUBSETS:
            _fail("subset", self.subset, list(SUBSETS))
        for name in ("el2n_epoch", "el2n_runs", "epochs", "batch_size", "snip_batch", "adv_steps", "adv_eval_steps"):
            v = getattr(self, name)
            if not (isinstance(v, int) and not isinstance(v, bool) and v >= 1):
                _fail(name, v, "an integer >= 1")
        if self.uses_scores and self.el2n_epoch > self.epochs:
            _fail("el2n_epoch", self.el2n_epoch, f"an integer in [1, epochs={self.epochs}]")
        if self.corruption:
            for c in self.corruptions:
                if c not in CORRUPTIONS:
                    _fail("corruption", self.corruption, f"'' or '+'-joined names from {list(CORRUPTIONS)}")
        if isinstance(self.severity, bool) or self.severity not in SEVERITIES:
            _fail("severity", self.severity, list(SEVERITIES))
        if self.adversarial not in ADVERSARIAL:
            _fail("adversarial", self.adversarial, list(ADVERSARIAL))
        if not (self.adv_eps >= 0):
            _fail("adv_eps", self.adv_eps, "a number >= 0")
        if not (self.adv_step > 0):
            _fail("adv_step", self.adv_step, "a number > 0")
        if self.adv_bn_mode not in BN_MODES:
            _fail("adv_bn_mode", self.adv_bn_mode, list(BN_MODES))
        if not (isinstance(self.stop_epoch, int) and not isinstance(self.stop_epoch, bool)
                and 0 <= self.stop_epoch <= self.epochs):
            _fail("stop_epoch", self.stop_epoch, f"an integer in [0, epochs={self.epochs}]")
        if not self.lr > 0:
            _fail("lr", self.lr, "a number > 0")
        if not 0 < self.lr_gamma <= 1:
            _fail("lr_gamma", self.lr_gamma, "a number in (0, 1]")
        if not 0 <= self.momentum < 1:
            _fail("momentum", self.momentum, "a number in [0, 1)")
        if not self.weight_decay >= 0:
            _fail("weight_decay", self.weight_decay, "a number >= 0")
        if self.precision not in PRECISIONS:
            _fail("precision", self.precision, list(PRECISIONS))
        if not all(0 < m < 1 for m in self.lr_milestones):
            _fail("lr_milestones", self.lr_milestones, "fractions of training in (0, 1)")
        if not self.update_every > 0:
            _fail("update_every", self.update_every, "a number of epochs > 0")
        if not 0 < self.zeta_final <= self.zeta < 1:
            _fail("zeta", (self.zeta, self.zeta_final), "0 < zeta_final <= zeta < 1")
        if not 0 <= self.gmp_start < self.gmp_end <= 1:
            _fail("gmp_start/gmp_end", (self.gmp_start, self.gmp_end), "0 <= gmp_start < gmp_end <= 1")
        if not (isinstance(self.seed, int) and not isinstance(self.seed, bool) and self.seed >= 0):
            _fail("seed", self.seed, "an integer >= 0")
        if self.profile not in PROFILES:
            _fail("profile", self.profile, sorted(PROFILES))
        if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", str(self.device)):
            _fail("device", self.device, "'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'")


_DEFAULTS = {f.name: f.default for f in fields(RunConfig)}
_FIELD_NAMES = tuple(_DEFAULTS)
# The real-valued fields and what each allows (its range is checked in validate).
_NUMBERS = {"width": "a number in (0, 4]", "density": "a number in (0, 1]", "data_ratio": "a number in (0, 1]",
            "label_noise": "a number in [0, 1)", "adv_eps": "a number >= 0", "adv_step": "a number > 0",
            "lr": "a number > 0", "momentum": "a number in [0, 1)", "weight_decay": "a number >= 0",
            "lr_gamma": "a number in (0, 1]", "update_every": "a number of epochs > 0",
            "zeta": "a number in (0, 1)", "zeta_final": "a number in (0, zeta]", "gmp_start": "a number in [0, 1)",
            "gmp_end": "a number in (0, 1]"}
_STRINGS = {"dataset": list(DATASETS), "model": list(MODELS), "subset": list(SUBSETS),
            "adversarial": list(ADVERSARIAL), "adv_bn_mode": list(BN_MODES), "precision": list(PRECISIONS),
            "corruption": "'' or '+'-joined corruption names (hslib.vocabulary.CORRUPTIONS)",
            "data_root": "'' ($HSLIB_DATA or ./data) or a folder path",
            "device": "'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'"}
SPARSE_KNOBS = ("update_every", "zeta", "zeta_final", "gmp_start", "gmp_end", "snip_batch", "zero_momentum")
ADVERSARIAL_KNOBS = ("adv_eps", "adv_step", "adv_steps", "adv_eval_steps", "adv_bn_mode")


# ---------------------------------------------------------------------- profiles
# A profile = RunConfig overrides (`run`) + the grids the notebooks sweep. Pairs are (dataset, model).
# Literals only, in one place; `profile(name)` hands out a deep copy.
_ALL = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
_PAPER = {
    "about": "the paper's full matrix: 200 epochs, sparsity 0.1...0.9, three seeds (GPU cluster)",
    "run": {},  # RunConfig overrides; the paper's settings are RunConfig's defaults
    "seeds": [0, 1, 2],
    "grid_seeds": {},  # experiment grid -> its seeds, where they differ from "seeds"
    "confirmatory_seeds": [],  # seeds of the runs the confirmatory family tests, where they exceed "seeds"
    # The (dataset, model) each of the paper's pairs (hslib.paper.PAIRS) runs as; a profile without the
    # paper's data names a stand-in, and every panel title says so.
    "stand_ins": {"c100_r18": ["cifar100", "resnet18"], "tiny_r34": ["tinyimagenet", "resnet34"],
                  "c100_v19": ["cifar100", "vgg19"], "c10_v16": ["cifar10", "vgg16"]},
    # Sparsity axes of the panels that sweep sparsity (hslib.paper.GRIDS names which one a grid uses);
    # data ratios, fixed sparsities and severities are the paper's and live in the table of figures.
    "sparsities": _ALL,  # Figure 2
    "grid_sparsities": _ALL,  # Figure 3: SET sparsity x data ratio
    "grid_ratios": _ALL,
    "corruptions": ["gaussian_noise", "impulse_noise", "defocus_blur"],  # one drawn per image
    "paper_code_snip": ["snip_random"],  # also sweep SNIP as the paper's code runs it (hslib.paper)
    "corruption_sparsities": _ALL,  # Figures 4, 5
    "severity_sparsities": _ALL,  # Figure 9
    # Beyond the paper (hslib.paper.EXTENSION: N:M and channel sparsity beside their unstructured twins): planned
    # only where True, so the paper's plan and compute estimate are unchanged unless asked for
    # (hslib.estimate.compute_estimate(..., extension=True) states its cost either way).
    "extension": False,
    "structured_sparsities": [0.5, 0.75],  # densities 0.5 and 0.25: 2:4 and 1:4 (N:M needs N/M densities)
}
PROFILES = {
    "paper": _PAPER,
    "gpu": {**_PAPER,
            "about": "the paper's design on one GPU in a day: every pair, 3 seeds, 20 epochs, sparsities 0.1/0.5/0.8/0.9",
            "run": {"epochs": 20, "el2n_epoch": 2, "el2n_runs": 2, "update_every": 1.0, "precision": "bf16"},
            "seeds": [0, 1, 2],
            "sparsities": [0.1, 0.5, 0.8, 0.9], "grid_sparsities": [0.5, 0.9], "grid_ratios": [0.1, 0.3, 0.5, 0.7, 0.9],
            "corruption_sparsities": [0.1, 0.5, 0.8, 0.9], "severity_sparsities": [0.5, 0.8, 0.9]},
    "course": {**_PAPER,
               "about": "the paper's regime on a laptop: digits at 16×16, width 1/8, 12 epochs of 20 steps (>= 95% of "
                        "runs fit their training set), 3 seeds (severity, adversarial and structured grids: 1), 10 for the "
                        "confirmatory family (2-core CPU, <= 60 min)",
               # Levers (measured on this 2-core CPU, docs/paper_findings.md#course): 16×16 inputs (a step costs ~¼ of
               # one at 32×32), a fixed 20 steps per epoch whatever the data ratio (a 30% subset is not starved),
               # width 1/8 (1/16 could not fit a sparse network's training set), batch 64, lr schedule as the paper.
               "run": {"epochs": 12, "steps_per_epoch": 20, "batch_size": 64, "width": 0.125, "image_size": 16,
                       "el2n_epoch": 3, "el2n_runs": 4, "update_every": 1.0, "adv_steps": 2, "adv_eval_steps": 5},
               "seeds": [0, 1, 2],  # every run: exploratory rows get a t-test with 2 degrees of freedom
               # Exploratory grids trimmed to fit the hour (docs/paper_findings.md, amendments): PGD training costs
               # 7/3 of a clean step, one seed; the severity grid (Figure 9) one seed, which makes room for the
               # extension beyond the paper at one matched density (2:4) and one seed. Their rows give the direction
               # only (a test needs >= 3 seeds).
               "grid_seeds": {"adversarial": [0], "severity": [0], "structured": [0], "structured_corruption": [0]},
               "confirmatory_seeds": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],  # the runs the confirmatory family tests
               "paper_code_snip": [],
               "stand_ins": {"c100_r18": ["digits", "resnet18"], "tiny_r34": ["digits", "resnet18"],
                             "c100_v19": ["digits", "vgg19"], "c10_v16": ["digits", "vgg16"]},
               "sparsities": [0.5, 0.8, 0.9], "grid_sparsities": [0.5, 0.9], "grid_ratios": [0.1, 0.3, 0.7],
               "corruption_sparsities": [0.5, 0.8, 0.9], "severity_sparsities": [0.5, 0.8, 0.9],
               # Beyond the paper, what the hour allows: N:M and channel sparsity at density 0.5 (2:4) beside SET,
               # SNIP and OMP at sparsity 0.5 (runs the paper's grids already train), one seed.
               "extension": True, "structured_sparsities": [0.5]},
    "smoke": {**_PAPER,
              "about": "embedded digits dataset at 16×16, tiny widths, a few epochs, one seed: proves the pipeline, not the science",
              # 16×16 as `course`: a run costs ~1/3 of one at 32×32 (measured on this CPU), which keeps the whole
              # series (every notebook, the extension and the exercise) within its 10 minutes on 2 cores
              "run": {"epochs": 3, "width": 0.0625, "batch_size": 32, "image_size": 16, "el2n_epoch": 1, "el2n_runs": 2,
                      "update_every": 1.0, "adv_steps": 1, "adv_eval_steps": 2},
              "seeds": [0],
              "paper_code_snip": [],
              "stand_ins": {"c100_r18": ["digits", "resnet18"], "tiny_r34": ["digits", "resnet18"],
                            "c100_v19": ["digits", "vgg19"], "c10_v16": ["digits", "vgg16"]},
              "sparsities": [0.8, 0.9], "grid_sparsities": [0.8, 0.9], "grid_ratios": [0.3, 0.5, 0.9],
              "corruption_sparsities": [0.8, 0.9], "severity_sparsities": [0.8],
              # beyond the paper, kept small: one matched density (2:4), so the series stays within 10 minutes
              "extension": True, "structured_sparsities": [0.5]},
}
# A two-hour lab (docs/lab.md) cannot wait for `course`'s hour, and unconverged runs would teach the wrong regime: `class`
# trains exactly the course's runs (same "run" overrides), fewer of them. Sparsities 0.5 and 0.8 are the findings'
# "low" and "high" (hslib.findings.LOW, HIGH) and the sparsity that Figures 7 (a), 8 (c), 11 (a) and 12 (a) fix on
# Figure 2's data, so those panels reuse its runs. Three seeds on Figure 2's grid only (the grid of the lab's core path, notebooks
# 00-04); every other grid one seed; no extra confirmatory seeds.
PROFILES["class"] = {
    **PROFILES["course"],
    "about": "the course's runs (digits at 16×16, width 1/8, 12 epochs of 20 steps, in which runs fit their training set) "
             "for a 2-hour lab: sparsities 0.5 and 0.8; 3 seeds on Figure 2's grid, so its rows are tested (2 "
             "degrees of freedom, low power; its confirmatory rows wait for the whole family and have 3 seeds, not "
             "the registered 10); 1 seed on every other grid, so those rows give a direction only (2-core CPU; "
             "the lab's core path, notebooks 00-04: docs/lab.md)",
    "grid_seeds": {"set_grid": [0], "variants": [0], "corruption": [0], "corruption_vgg": [0], "severity": [0],
                   "corruption_variants": [0], "adversarial": [0]},
    "confirmatory_seeds": [],
    "sparsities": [0.5, 0.8], "grid_sparsities": [0.5, 0.8], "grid_ratios": [0.1, 0.3, 0.7],
    "corruption_sparsities": [0.5, 0.8], "severity_sparsities": [0.8],
    "extension": False,  # the lab's core path (00-04) does not reach notebook 10
}


def profile(name: str) -> dict:
    """A deep copy of a named profile's settings."""
    if name not in PROFILES:
        _fail("profile", name, sorted(PROFILES))
    return json.loads(json.dumps(PROFILES[name]))


def base_config(profile_name: str, **overrides) -> RunConfig:
    """The RunConfig every run of a profile starts from, with `overrides` on top."""
    settings = profile(profile_name)
    return RunConfig(**{**settings["run"], "profile": profile_name, **overrides})
