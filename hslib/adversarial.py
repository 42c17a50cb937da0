"""PGD adversarial training and evaluation with advertorch (the paper's attack library).

Setting (docs/design.md#adversarial): L∞ PGD, ε = 8/255, step 2/255, 10 random-start steps to craft the training batch,
PGD-20 on the final checkpoint for evaluation. Models take inputs in [0, 1] and normalise internally, so every
attack clips to [0, 1]. The paper crafted training attacks with the model in *train* mode (BatchNorm uses batch
statistics and its running statistics move during the attack); `perturb(..., bn_mode="eval")` is the alternative.

Two details beyond advertorch itself:
- advertorch 0.2.3 imports `zero_gradients` from `torch.autograd.gradcheck`, removed in torch 1.9;
  `import_advertorch()` restores it (the only compatibility step, applied once, before the first import).
- advertorch's PGD calls `loss.backward()`, which would also compute and accumulate every parameter's gradient
  at every attack step. `perturb` switches `requires_grad` off for the parameters while crafting (the input
  gradient, hence the adversarial example, is unchanged), then restores the flags and sets `.grad = None`, so
  nothing from the attack reaches the optimizer step. Skipping the weight gradients makes each attack step
  cheaper than a training step's backward pass (see benchmarks/bench_adversarial.py).
"""
from __future__ import annotations

import importlib
import numbers
import sys

import torch
from torch import nn

from .vocabulary import ADVERSARIAL, BN_MODES

NORMS = tuple(a for a in ADVERSARIAL if a)  # the attack norms

_ADVERTORCH = None  # the imported module, once import_advertorch() succeeded


def _zero_gradients(x):
    """Stand-in for the function torch removed in 1.9: zero the .grad of a tensor or of an iterable of them."""
    if isinstance(x, torch.Tensor):
        if x.grad is not None:
            x.grad.detach_()
            x.grad.zero_()
    elif isinstance(x, (list, tuple)):
        for item in x:
            _zero_gradients(item)


def import_advertorch():
    """Import advertorch on a modern torch and return it (idempotent).

    advertorch 0.2.3 (the newest release) does `from torch.autograd.gradcheck import zero_gradients` while
    importing its attacks; torch >= 1.9 no longer has that function. We define it on the *module* object
    `sys.modules["torch.autograd.gradcheck"]` (the attribute `torch.autograd.gradcheck` is the function
    `gradcheck`, not the module) before the first import. Nothing else is patched.
    """
    global _ADVERTORCH
    if _ADVERTORCH is not None:
        return _ADVERTORCH
    importlib.import_module("torch.autograd.gradcheck")  # make sure the module is in sys.modules
    gradcheck_module = sys.modules["torch.autograd.gradcheck"]
    if not hasattr(gradcheck_module, "zero_gradients"):
        gradcheck_module.zero_gradients = _zero_gradients
    try:
        import advertorch
        import advertorch.attacks  # noqa: F401  (the import that needs zero_gradients)
    except Exception as err:
        try:
            from importlib.metadata import version
            adv_version = version("advertorch")
        except Exception:
            adv_version = "not installed"
        raise RuntimeError(
            "could not import advertorch after defining zero_gradients on the module "
            f"sys.modules['torch.autograd.gradcheck'] (torch {torch.__version__}, advertorch {adv_version}): "
            f"{type(err).__name__}: {err}. The project pins advertorch==0.2.3; install it with "
            "`pip install advertorch==0.2.3`."
        ) from err
    _ADVERTORCH = advertorch
    return advertorch


def _is_real(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def make_attack(model, norm: str = "linf", eps: float = 8 / 255, step: float = 2 / 255, steps: int = 10,
                random_start: bool = True):
    """An advertorch PGD attack on `model`: `LinfPGDAttack` (norm="linf") or `L2PGDAttack` (norm="l2").

    Untargeted, cross-entropy loss summed over the batch (advertorch's default), `steps` steps of size `step`
    inside the ε-ball, optional uniform random start, inputs clipped to [0, 1]. Invalid settings raise one
    ValueError listing every bad parameter and its allowed values, before anything is built.
    """
    problems = []
    if norm not in NORMS:
        problems.append(f"norm={norm!r} is not known; allowed values: {list(NORMS)}")
    if not (_is_real(eps) and eps >= 0):  # NaN fails `>= 0`
        problems.append(f"eps={eps!r} must be a real number >= 0 (not NaN)")
    if not (_is_real(step) and step > 0):
        problems.append(f"step={step!r} must be a real number > 0")
    if not (isinstance(steps, numbers.Integral) and not isinstance(steps, bool) and steps >= 1):
        problems.append(f"steps={steps!r} must be an integer >= 1")
    if not isinstance(random_start, bool):
        problems.append(f"random_start={random_start!r} must be True or False")
    if problems:
        raise ValueError("invalid attack settings: " + "; ".join(problems))
    attacks = import_advertorch().attacks
    cls = attacks.LinfPGDAttack if norm == "linf" else attacks.L2PGDAttack
    # advertorch asserts float (not int) eps and step.
    return cls(model, loss_fn=nn.CrossEntropyLoss(reduction="sum"), eps=float(eps), nb_iter=int(steps),
               eps_iter=float(step), rand_init=random_start, clip_min=0.0, clip_max=1.0, targeted=False)


def perturb(model: nn.Module, attack, x: torch.Tensor, y: torch.Tensor, bn_mode: str = "train") -> torch.Tensor:
    """Adversarial version of the batch `x` (detached), crafted with `model` in `bn_mode` ("train": BatchNorm
    uses batch statistics and updates its running statistics at every attack step, as in the paper; "eval":
    running statistics are used and left untouched).

    Afterwards every module's train/eval flag and every parameter's `requires_grad` are as before, and every
    parameter's `.grad` is None (so call this before computing the training gradient, not in the middle of an
    accumulation).
    """
    if bn_mode not in BN_MODES:
        raise ValueError(f"bn_mode={bn_mode!r} is not known; allowed values: {list(BN_MODES)}")
    modes = [(m, m.training) for m in model.modules()]
    params = list(model.parameters())
    flags = [p.requires_grad for p in params]
    try:
        model.train(bn_mode == "train")
        for p in params:
            p.requires_grad_(False)  # only the input gradient is needed; see the module docstring
        with torch.enable_grad():
            x_adv = attack.perturb(x, y)
    finally:
        for m, training in modes:
            m.training = training
        for p, flag in zip(params, flags):
            p.requires_grad_(flag)
            p.grad = None
    return x_adv.detach()


def evaluate_robust(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, *, norm: str = "linf",
             eps: float = 8 / 255, step: float = 2 / 255, steps: int = 20, batch_size: int = 256,
             device=None) -> dict:
    """Clean and PGD (default PGD-20, L∞ 8/255, random start) accuracy of `model` in eval mode.

    `images`: uint8 N×C×H×W (converted to float [0, 1] batch by batch on the device); `labels`: int N.
    `device`: where to run; None = where the model's parameters are (the model is moved if a device is given).
    Counts stay on the device; the host syncs once at the end. The model's train/eval flags are restored.
    Returns {"clean_acc", "robust_acc"} as fractions in [0, 1] and "n", the number of images; a point counts
    as robust only if it is classified right both clean and attacked, so robust_acc <= clean_acc always.
    """
    if not (isinstance(images, torch.Tensor) and images.dtype == torch.uint8 and images.dim() == 4):
        raise ValueError("images must be a uint8 tensor N×C×H×W, got "
                         f"{getattr(images, 'dtype', type(images))} of shape {tuple(getattr(images, 'shape', ()))}")
    if not (isinstance(labels, torch.Tensor) and labels.dim() == 1 and len(labels) == len(images) > 0):
        raise ValueError(f"labels must be a 1-D tensor with one label per image (N={len(images)} > 0)")
    if not (isinstance(batch_size, numbers.Integral) and not isinstance(batch_size, bool) and batch_size >= 1):
        raise ValueError(f"batch_size={batch_size!r} must be an integer >= 1")
    if device is None:
        device = next(model.parameters()).device
    model.to(device)
    attack = make_attack(model, norm=norm, eps=eps, step=step, steps=steps, random_start=True)
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    clean = torch.zeros((), dtype=torch.long, device=device)
    robust = torch.zeros((), dtype=torch.long, device=device)
    try:
        for i in range(0, len(images), batch_size):
            x = images[i:i + batch_size].to(device, non_blocking=True).float().div_(255)
            y = labels[i:i + batch_size].to(device, non_blocking=True).long()
            with torch.no_grad():
                ok = model(x).argmax(1) == y
            clean += ok.sum()
            x_adv = perturb(model, attack, x, y, bn_mode="eval")
            with torch.no_grad():
                # Robust = right on the clean image *and* under attack (RobustBench's convention): a point the
                # model already gets wrong is not robust, even if a random start happens to land on its label.
                robust += (ok & (model(x_adv).argmax(1) == y)).sum()
    finally:
        for m, training in modes:
            m.training = training
    n = len(labels)
    clean_count, robust_count = torch.stack([clean, robust]).tolist()  # the one host sync
    return {"clean_acc": clean_count / n, "robust_acc": robust_count / n, "n": n}
