"""The names hslib understands, each a registry entry with its metadata: datasets, models, sparse methods,
corruptions, per-layer distributions and precisions.

This is the bottom of the specification tier (docs/architecture.md): it imports no torch, so a config can be
validated, a sweep planned and a ledger computed without loading the engine. The engine attaches the code to a
name (a method's class, a model's builder); what the name means for a config, a plan or a figure lives here.
"""
from __future__ import annotations

from dataclasses import dataclass

from .registry import Registry


# ------------------------------------------------------------------------------------------ datasets
@dataclass(frozen=True)
class DatasetInfo:
    label: str  # as titles print it
    num_classes: int
    image_size: int  # side of the square images the loader returns
    train_images: int  # training images after the 10% validation hold-out (the compute estimate's unit)
    example_classes: tuple  # Figure 1's two classes (the paper: CIFAR-100's apple and bus)


def _check_dataset(name, info):
    if not (isinstance(info, DatasetInfo) and info.num_classes >= 2 and info.image_size in (32, 64)):
        raise ValueError(f"dataset {name!r}: entry must be a DatasetInfo with num_classes >= 2 and image_size 32 or 64")


DATASETS = Registry("dataset", _check_dataset)
DATASETS.add("digits", DatasetInfo("digits", 10, 32, 1294, ("3", "8")))
DATASETS.add("cifar10", DatasetInfo("CIFAR-10", 10, 32, 45000, ("automobile", "truck")))
DATASETS.add("cifar100", DatasetInfo("CIFAR-100", 100, 32, 45000, ("apple", "bus")))
DATASETS.add("tinyimagenet", DatasetInfo("Tiny-ImageNet", 200, 64, 90000, (0, 1)))


# ------------------------------------------------------------------------------------------ models
@dataclass(frozen=True)
class ModelInfo:
    label: str
    family: str  # resnet | vgg: hslib.architectures holds each family's layer table


def _check_model(name, info):
    if not (isinstance(info, ModelInfo) and info.family in ("resnet", "vgg")):
        raise ValueError(f"model {name!r}: entry must be a ModelInfo with family 'resnet' or 'vgg'")


MODELS = Registry("model", _check_model)
MODELS.add("resnet18", ModelInfo("ResNet18", "resnet"))
MODELS.add("resnet34", ModelInfo("ResNet34", "resnet"))
MODELS.add("vgg16", ModelInfo("VGG16", "vgg"))
MODELS.add("vgg19", ModelInfo("VGG19", "vgg"))


def pair_label(dataset: str, model: str) -> str:
    """'CIFAR-100 / ResNet18' (unknown names are printed as they are)."""
    d, m = DATASETS.get(dataset), MODELS.get(model)
    return f"{d.label if d else dataset} / {m.label if m else model}"


# ------------------------------------------------------------------------------------------ sparse methods
# How a target density is shared among layers (hslib.erk explains each rule).
DISTRIBUTIONS = ("uniform", "er", "erk", "global")
PATTERNS = ("", "nm", "channel")  # unstructured, N:M groups, whole channels (docs/design.md#structured-sparsity)
NM_MAX_M = 16  # the largest group size an N:M density may need
NM_ALLOWED = (f"a density N/M with 1 <= N < M <= {NM_MAX_M}, e.g. 0.5 (2:4), 0.25 (1:4), 0.2 (1:5), 0.125 (1:8), "
              "0.1 (1:10)")


def nm_pattern(density: float) -> tuple[int, int]:
    """(N, M) of the N:M pattern at `density`: N/M equals the density exactly, with the smallest group size
    M >= 4 (2:4 at 0.5, 1:4 at 0.25, 1:5 at 0.2, 1:10 at 0.1); a density that is no such fraction is refused."""
    from fractions import Fraction

    if isinstance(density, bool) or not isinstance(density, (int, float)) or not 0 < density < 1:
        raise ValueError(f"density={density!r} has no N:M pattern; allowed values: {NM_ALLOWED}")
    frac = Fraction(density).limit_denominator(NM_MAX_M)
    if frac.numerator == 0 or abs(float(frac) - density) > 1e-9:
        raise ValueError(f"density={density!r} has no N:M pattern; allowed values: {NM_ALLOWED}")
    scale = -(-4 // frac.denominator)  # groups of at least 4 weights (1:2 would be 2:4)
    return frac.numerator * scale, frac.denominator * scale


@dataclass(frozen=True)
class MethodInfo:
    """A sparse method as configs, plans and figures see it. `implementation` is the engine's class, or
    'module:Class' for a built-in one (resolved by hslib.sparse.implementation when a run starts)."""
    label: str  # legend and table label
    colour: str  # one colour per method in every figure
    distributions: tuple  # allowed per-layer distributions; the first is the default ("none" for dense)
    needs_parent: bool = False  # starts from a finished dense run of the same data and seed (LTH, OMP, OMP_ERK)
    sparse: bool = True
    dashed: bool = False  # drawn dashed (the paper code's SNIP variant)
    implementation: object = None
    code: str = ""  # a hash of a user-written implementation's code (part of its run ids); "" for built-ins
    pattern: str = ""  # the structure its masks keep: "" (unstructured), "nm" (N:M groups) or "channel"


def _check_method(name, info):
    if not isinstance(info, MethodInfo):
        raise ValueError(f"method {name!r}: entry must be a MethodInfo")
    if not (isinstance(info.label, str) and info.label.strip()):
        raise ValueError(f"method {name!r}: label={info.label!r} is not allowed; allowed: a non-empty string")
    if info.pattern not in PATTERNS:
        raise ValueError(f"method {name!r}: pattern={info.pattern!r} is not allowed; allowed: {list(PATTERNS)}")
    allowed = DISTRIBUTIONS if info.sparse else ("none",)
    if not (isinstance(info.distributions, tuple) and info.distributions
            and all(d in allowed for d in info.distributions)):
        raise ValueError(f"method {name!r}: distributions={info.distributions!r} is not allowed; allowed: a non-empty "
                         f"tuple of names from {list(allowed)}, the first the default")


METHODS = Registry("method", _check_method)
_ENGINE = "hslib.sparse.methods:"
for _name, _class, _info in (  # tab10 colours; this order is every legend's order
        ("dense", "Dense", MethodInfo("Dense", "#1f77b4", ("none",), sparse=False)),
        ("gmp", "GMP", MethodInfo("GMP", "#ff7f0e", ("global",))),
        ("lth", "LTH", MethodInfo("LTH", "#2ca02c", ("global",), needs_parent=True)),
        ("lth_fresh", "LTHFresh", MethodInfo("LTH, fresh init", "#98df8a", ("global",), needs_parent=True, dashed=True)),
        ("omp", "OMP", MethodInfo("OMP", "#d62728", ("global",), needs_parent=True)),
        ("snip", "SNIP", MethodInfo("SNIP", "#9467bd", ("global",))),
        ("snip_random", "SNIPRandom", MethodInfo("SNIP (paper code)", "#9467bd", ("global",), dashed=True)),
        ("set", "SET", MethodInfo("SET", "#8c564b", ("erk", "er", "uniform"))),
        ("rigl", "RigL", MethodInfo("RigL", "#e377c2", ("erk", "er", "uniform"))),
        ("omp_erk", "OMPERK", MethodInfo("OMP_ERK", "#7f7f7f", ("erk",), needs_parent=True)),
        ("random_erk", "RandomERK", MethodInfo("Random-ERK", "#bcbd22", ("erk",))),
        ("uniform", "Uniform", MethodInfo("Uniform", "#17becf", ("uniform",))),
        # Structured sparsity, beyond the paper (docs/design.md#structured-sparsity); no profile plans them by itself.
        ("nm_omp", "NMOMP", MethodInfo("N:M OMP", "#ff9896", ("uniform",), needs_parent=True, pattern="nm")),
        ("nm_dynamic", "NMDynamic", MethodInfo("N:M SET", "#c49c94", ("uniform",), pattern="nm")),
        ("nm_random", "NMRandom", MethodInfo("N:M random", "#dbdb8d", ("uniform",), pattern="nm")),
        ("channel_omp", "ChannelOMP", MethodInfo("Channel OMP (L1)", "#aec7e8", ("global",), needs_parent=True,
                                                 pattern="channel")),
        ("channel_dst", "ChannelDST", MethodInfo("Channel DST (Chase-like)", "#c5b0d5", ("erk", "er", "uniform"),
                                                 pattern="channel"))):
    METHODS.add(_name, MethodInfo(**{**_info.__dict__, "implementation": _ENGINE + _class}))
BUILTIN_METHODS = tuple(METHODS)  # a user's method may not take one of these names


# ------------------------------------------------------------------------------------------ corruptions
# The 19 corruptions as the CIFAR-C files spell them: the 15 of the benchmark, then the 4 extra ones
# (hslib.corruptions implements each; docs/corruptions.md gives the parameters).
CORRUPTIONS = ("gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur", "motion_blur",
               "zoom_blur", "snow", "frost", "fog", "brightness", "contrast", "elastic_transform", "pixelate",
               "jpeg_compression", "speckle_noise", "gaussian_blur", "spatter", "saturate")
SEVERITIES = (1, 2, 3, 4, 5, 6)  # 6 extrapolates one step past each parameter list

# ------------------------------------------------------------------------------------------ adversarial training
ADVERSARIAL = ("", "linf", "l2")  # no attack, L∞ PGD, L2 PGD
BN_MODES = ("train", "eval")  # BatchNorm mode while a training attack is crafted (the paper: train)

# ------------------------------------------------------------------------------------------ numerics
PRECISIONS = ("fp32", "bf16")  # fp32 (TF32 allowed on CUDA) or bfloat16 autocast
