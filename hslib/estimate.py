"""What a profile costs, read from its plan (analysis tier: no torch): runs, image passes and GPU-hours."""
from __future__ import annotations

import functools

from .architectures import masked_layers
from .paper import extension as paper_extension
from .planning import all_configs, extension_configs, paper_configs, plan
from .vocabulary import DATASETS


@functools.lru_cache(maxsize=None)
def _forward_flops(model: str, width: float, image_size: int) -> float:
    """Dense forward FLOPs per image of a 10-class model (the classifier's share is negligible)."""
    return sum(layer["flops"] for layer in masked_layers(model, 10, width, image_size))


def _cost(runs) -> dict:
    """Runs, image passes and ResNet18-equivalent image passes of a list of configs (compute_estimate)."""
    ref = _forward_flops("resnet18", 1.0, 32)
    passes = equivalents = 0.0
    for c in runs:
        per_epoch = c.steps_per_epoch * c.batch_size or DATASETS[c.dataset].train_images * c.data_ratio
        n = per_epoch * (c.stop_epoch or c.epochs)
        relative = _forward_flops(c.model, c.width, c.image_size or DATASETS[c.dataset].image_size) / ref
        step = (3 + 2 * c.adv_steps) / 3 if c.adversarial else 1.0
        passes += n
        equivalents += n * relative * step
    return {"runs": len(runs), "image_passes": passes, "resnet18_equivalents": equivalents}


def _waves(configs) -> list:
    return [c for wave in plan(configs) for c in wave]


def compute_estimate(profile_name: str, images_per_second: float = 20000.0, extension: bool = False) -> dict:
    """What a profile costs, from its table: every run it trains (EL2N scoring runs and dense parents
    included) × training images per epoch (or steps_per_epoch × batch) × epochs, in ResNet18-on-32×32 image passes (another model or image size
    counts by its dense forward FLOPs; a PGD-k step costs (3 + 2k)/3 clean steps). Sparse runs count as dense:
    GPU kernels do not skip zeros. GPU-hours follow from the ResNet18 throughput `images_per_second`.
    `extension=True` adds the cost of the extension beyond the paper (hslib.paper.EXTENSION) on its own, under
    "extension": the runs it adds to the profile's other runs (shared runs are not counted twice), whether or not
    the profile's "extension" flag includes it; the totals above it are the profile's plan as it stands."""
    runs = _waves(all_configs(profile_name))
    out = {"profile": profile_name, **_cost(runs), "images_per_second": images_per_second}
    out["gpu_hours"] = out["resnet18_equivalents"] / images_per_second / 3600
    if extension:
        base = {c.id for c in _waves(paper_configs(profile_name))}
        added = [c for c in _waves(paper_configs(profile_name) + extension_configs(profile_name)) if c.id not in base]
        cost = _cost(added)
        out["extension"] = {**cost, "gpu_hours": cost["resnet18_equivalents"] / images_per_second / 3600,
                            "included": paper_extension(profile_name)}
    return out
