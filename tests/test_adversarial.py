"""hslib.adversarial: advertorch import shim, PGD attacks, BatchNorm mode, evaluation. CPU, real attacks.

The "trained model" tests use a small conv net (with BatchNorm) trained for ~3 s on scikit-learn's bundled
handwritten digits (8×8 grey images, stored as uint8 like every hslib dataset).
"""
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from hslib import adversarial as A


def small_net():
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10),
    )


@pytest.fixture(scope="module")
def digits():
    """(trained model in eval mode, test images uint8 N×1×8×8, test labels)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    images = torch.tensor(d.images, dtype=torch.float32).div(16).mul(255).round().to(torch.uint8).unsqueeze(1)
    labels = torch.tensor(d.target, dtype=torch.long)
    perm = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))
    train, test = perm[:1400], perm[1400:]
    torch.manual_seed(0)
    model = small_net()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x, y = images[train].float() / 255, labels[train]
    # 10 epochs of batch 100 at lr 1e-2, then 5 at 1e-3: without the decay the eval-mode model (BatchNorm
    # running statistics) varied with the seed, clean accuracy 0.83-0.98 over seeds 0-7 × OMP 1/2.
    for it in range(15 * 14):
        if it == 10 * 14:
            opt.param_groups[0]["lr"] = 1e-3
        idx = torch.randint(0, len(y), (100,))
        opt.zero_grad()
        F.cross_entropy(model(x[idx]), y[idx]).backward()
        opt.step()
    model.eval()
    return model, images[test], labels[test]


# --- the advertorch import shim ------------------------------------------------------------------------------

def test_import_advertorch_in_a_fresh_process():
    """The shim must work on the *first* import of advertorch in a process, and not clobber torch's names."""
    code = (
        "import sys, torch\n"
        "from hslib.adversarial import import_advertorch\n"
        "adv = import_advertorch()\n"
        "assert import_advertorch() is adv\n"
        "import advertorch\n"
        "from advertorch.attacks import LinfPGDAttack, L2PGDAttack\n"
        "assert callable(torch.autograd.gradcheck)\n"  # the attribute is still torch's function
        "t = torch.ones(2, requires_grad=True); t.sum().backward()\n"
        "sys.modules['torch.autograd.gradcheck'].zero_gradients([t])\n"
        "assert t.grad.abs().sum() == 0\n"
        "print(advertorch.__version__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "0.2.3"


def test_import_failure_is_a_clear_runtime_error(monkeypatch):
    monkeypatch.setattr(A, "_ADVERTORCH", None)
    monkeypatch.setitem(sys.modules, "advertorch", None)  # makes `import advertorch` fail
    with pytest.raises(RuntimeError, match=r"zero_gradients.*torch .*advertorch") as info:
        A.import_advertorch()
    assert torch.__version__ in str(info.value)


# --- attacks: constraints ------------------------------------------------------------------------------------

@pytest.mark.parametrize("norm,eps", [("linf", 8 / 255), ("l2", 0.5)])
def test_adversarial_examples_stay_in_the_ball_and_in_range(norm, eps):
    torch.manual_seed(1)
    model = small_net().eval()
    x = torch.rand(32, 1, 8, 8)
    x[:, :, :2] = 0.0  # pixels on the border of [0, 1], where clipping matters
    x[:, :, -2:] = 1.0
    y = torch.randint(0, 10, (32,))
    attack = A.make_attack(model, norm=norm, eps=eps, step=eps / 4, steps=10)
    x_adv = A.perturb(model, attack, x, y)
    assert not x_adv.requires_grad and x_adv.shape == x.shape
    assert x_adv.min() >= 0 and x_adv.max() <= 1
    delta = (x_adv - x).flatten(1)
    size = delta.abs().amax(1) if norm == "linf" else delta.norm(dim=1)
    assert (size <= eps + 1e-5).all()
    assert size.max() > 0.5 * eps  # it did move


def test_attack_classes_and_settings():
    model = small_net()
    advertorch = A.import_advertorch()
    linf = A.make_attack(model)
    assert isinstance(linf, advertorch.attacks.LinfPGDAttack)
    assert (linf.eps, linf.eps_iter, linf.nb_iter, linf.rand_init) == (8 / 255, 2 / 255, 10, True)
    assert (linf.clip_min, linf.clip_max, linf.targeted) == (0.0, 1.0, False)
    assert linf.loss_fn.reduction == "sum"
    l2 = A.make_attack(model, norm="l2", eps=1, step=1, steps=3, random_start=False)  # ints are accepted
    assert isinstance(l2, advertorch.attacks.L2PGDAttack) and l2.eps == 1.0 and l2.rand_init is False


# --- attacks: they work on a trained model ---------------------------------------------------------------------

def test_pgd_raises_the_loss(digits):
    model, images, labels = digits
    x = images.float() / 255
    attack = A.make_attack(model, eps=8 / 255, step=2 / 255, steps=10)
    x_adv = A.perturb(model, attack, x, labels, bn_mode="eval")
    with torch.no_grad():
        clean, adv = F.cross_entropy(model(x), labels), F.cross_entropy(model(x_adv), labels)
    # Measured over fixture seeds 0-7 × OMP 1/2: adv/clean 3.2-5.3 (seed 0: 0.134 -> 0.43); bound 1.5.
    assert adv > 1.5 * clean, (clean.item(), adv.item())


def test_pgd20_robust_accuracy_below_clean(digits):
    """Margins. The model is not adversarially trained, so nothing makes it robust. Measured over fixture
    seeds 0-7 (split and init) × OMP 1/2: clean 0.972-0.992 (bound 0.85); clean − PGD-20 at the paper's
    ε = 8/255 (about half the step between two of the 17 grey levels of these images) 0.088-0.141 (bound
    0.03); at ε = 0.1, 0.85-0.94 (bound 0.4); a random ±ε sign perturbation of the same L∞ size minus PGD at
    ε = 0.1, 0.79-0.87 (bound 0.3: the drop comes from following the gradient, not the size of the change)."""
    model, images, labels = digits
    res = A.evaluate_robust(model, images, labels, eps=8 / 255, step=2 / 255, steps=20, batch_size=100)
    assert res["n"] == len(labels)
    assert 0.85 < res["clean_acc"] <= 1
    assert 0 <= res["robust_acc"] <= res["clean_acc"] - 0.03, res

    eps = 0.1
    strong = A.evaluate_robust(model, images, labels, eps=eps, step=eps / 4, steps=20)
    assert strong["clean_acc"] == res["clean_acc"]
    assert strong["robust_acc"] < strong["clean_acc"] - 0.4, strong
    torch.manual_seed(0)
    x = images.float() / 255
    noisy = (x + eps * torch.randint(0, 2, x.shape).mul(2).sub(1)).clamp(0, 1)
    with torch.no_grad():
        noise_acc = (model(noisy).argmax(1) == labels).float().mean().item()
    assert strong["robust_acc"] < noise_acc - 0.3, (strong, noise_acc)


def test_l2_attack_lowers_accuracy(digits):
    model, images, labels = digits
    res = A.evaluate_robust(model, images, labels, norm="l2", eps=0.5, step=0.125, steps=20)
    assert res["robust_acc"] < res["clean_acc"] - 0.4, res  # measured gap, seeds 0-7 × OMP 1/2: 0.78-0.90


def test_evaluate_eps_zero_equals_clean_and_restores_mode(digits):
    model, images, labels = digits
    model.train()
    try:
        res = A.evaluate_robust(model, images, labels, eps=0.0, batch_size=64)  # 397 images: a ragged last batch
        assert model.training and all(m.training for m in model.modules())
    finally:
        model.eval()
    assert res["robust_acc"] == res["clean_acc"]
    with torch.no_grad():
        expected = (model(images.float() / 255).argmax(1) == labels).float().mean().item()
    assert res["clean_acc"] == pytest.approx(expected)


def test_freezing_parameters_does_not_change_the_attack(digits):
    """perturb() switches parameter gradients off while crafting; the adversarial example must be exactly the
    one advertorch produces on its own (same random start)."""
    model, images, labels = digits
    x = images[:64].float() / 255
    attack = A.make_attack(model, steps=5)
    torch.manual_seed(3)
    ours = A.perturb(model, attack, x, labels[:64], bn_mode="eval")
    torch.manual_seed(3)
    plain = attack.perturb(x, labels[:64])
    for p in model.parameters():
        p.grad = None
    assert torch.allclose(ours, plain, atol=1e-6)


# --- perturb(): BatchNorm mode, restored state, gradients ------------------------------------------------------

@pytest.mark.parametrize("start_training", [True, False])
def test_bn_mode_train_moves_running_stats_eval_does_not(start_training):
    torch.manual_seed(0)
    model = small_net().train(start_training)
    bn = model[1]
    x, y = torch.rand(16, 1, 8, 8), torch.randint(0, 10, (16,))
    attack = A.make_attack(model, steps=3)

    before = bn.running_mean.clone()
    A.perturb(model, attack, x, y, bn_mode="eval")
    assert torch.equal(bn.running_mean, before)
    assert bn.num_batches_tracked.item() == 0
    assert all(m.training == start_training for m in model.modules())

    A.perturb(model, attack, x, y, bn_mode="train")
    assert not torch.equal(bn.running_mean, before)
    assert bn.num_batches_tracked.item() == 3  # one update per attack step
    assert all(m.training == start_training for m in model.modules())


def test_perturb_restores_mixed_modes_and_requires_grad():
    model = small_net().train()
    model[4].eval()  # e.g. a frozen BatchNorm
    model[0].weight.requires_grad_(False)  # e.g. a frozen layer
    x, y = torch.rand(8, 1, 8, 8), torch.randint(0, 10, (8,))
    A.perturb(model, A.make_attack(model, steps=2), x, y, bn_mode="train")
    assert model.training and model[1].training and not model[4].training
    assert not model[0].weight.requires_grad
    assert all(p.requires_grad for name, p in model.named_parameters() if name != "0.weight")


def test_parameter_grads_are_none_after_perturb():
    model = small_net().train()
    x, y = torch.rand(8, 1, 8, 8), torch.randint(0, 10, (8,))
    F.cross_entropy(model(x), y).backward()  # stale gradients from somewhere else
    assert all(p.grad is not None for p in model.parameters())
    x_adv = A.perturb(model, A.make_attack(model, steps=2), x, y)
    assert all(p.grad is None for p in model.parameters())
    F.cross_entropy(model(x_adv), y).backward()  # the training step that follows works normally
    assert all(p.grad is not None for p in model.parameters())


# --- bad input -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,name", [
    ({"eps": -0.1}, "eps"),
    ({"eps": float("nan")}, "eps"),
    ({"step": 0.0}, "step"),
    ({"step": -1.0}, "step"),
    ({"steps": 0}, "steps"),
    ({"steps": 2.5}, "steps"),
    ({"norm": "l1"}, "norm"),
    ({"random_start": "yes"}, "random_start"),
])
def test_make_attack_rejects_bad_settings(kwargs, name):
    with pytest.raises(ValueError, match=rf"\b{name}="):
        A.make_attack(small_net(), **kwargs)


def test_make_attack_names_allowed_norms():
    with pytest.raises(ValueError, match=r"norm='L3'.*'linf', 'l2'"):
        A.make_attack(small_net(), norm="L3")


def test_perturb_rejects_unknown_bn_mode():
    model = small_net()
    with pytest.raises(ValueError, match=r"bn_mode='frozen'.*'train', 'eval'"):
        A.perturb(model, A.make_attack(model), torch.rand(2, 1, 8, 8), torch.zeros(2, dtype=torch.long), "frozen")


def test_evaluate_rejects_float_images_and_bad_settings():
    model = small_net()
    with pytest.raises(ValueError, match="uint8"):
        A.evaluate_robust(model, torch.rand(4, 1, 8, 8), torch.zeros(4, dtype=torch.long))
    images = torch.zeros(4, 1, 8, 8, dtype=torch.uint8)
    with pytest.raises(ValueError, match="steps="):
        A.evaluate_robust(model, images, torch.zeros(4, dtype=torch.long), steps=0)
    with pytest.raises(ValueError, match="batch_size="):
        A.evaluate_robust(model, images, torch.zeros(4, dtype=torch.long), batch_size=0)
