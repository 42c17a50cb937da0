"""The one training loop: a config in, a trained model, its per-epoch log and its result out.

`run(cfg)` is importable and idempotent: a finished run (complete result.json) is returned as is, an
interrupted one resumes from its newest complete checkpoint, and everything a run needs (data, the dense
parent, EL2N scores) is checked before any work starts. The loop keeps loss and accuracy on the device and
syncs once per epoch; the sparsity method hooks in after every optimizer step (one fused mask multiply) and
at its update events. It trains in `cfg.precision` (fp32 with TF32 on CUDA, or bf16 autocast), channels_last on
CUDA, optionally torch.compile'd.
"""
from __future__ import annotations

import sys
import time
import traceback
from pathlib import Path

import torch
import torch.nn.functional as F

from . import data as hdata
from . import files, scores, store
from .config import RunConfig
from .device import (autocast, evaluate, headless, resolve_device, wants_channels_last,
                     tf32_scope, uses_tf32)
from .flops import dense_layer_flops, forward_flops, nonzero_params
from .models import build_model
from .planning import parent_config
from .rundata import experiment_data
from .seeds import derive_seed
from .sparse.masks import maskable
from .sparse.methods import Context, implementation
from .store import MissingDependency

KEEP_CHECKPOINTS = 2
PARENT_FIELDS = ("dataset", "model", "width", "data_ratio", "subset", "el2n_epoch", "el2n_runs", "corruption",
                 "severity", "adversarial", "epochs", "batch_size", "precision", "seed", "profile")


# ------------------------------------------------------------------------------------------ helpers
def as_config(config) -> RunConfig:
    return config if isinstance(config, RunConfig) else RunConfig.from_dict(dict(config))


def check_parent(cfg: RunConfig, parent: RunConfig):
    bad = [f for f in PARENT_FIELDS if getattr(cfg, f) != getattr(parent, f)]
    if parent.method != "dense" or bad:
        raise ValueError(f"parent run {parent.id} does not match run {cfg.id}: it must be a dense run with the same "
                         f"{', '.join(PARENT_FIELDS)}; differs in {bad or ['method']}")


def lr_at(cfg: RunConfig, epoch: int) -> float:
    drops = sum(epoch >= round(m * cfg.epochs) for m in cfg.lr_milestones)
    return cfg.lr * cfg.lr_gamma ** drops


def check_ready(cfg: RunConfig, root, parent: RunConfig | None = None) -> RunConfig | None:
    """Every check that can fail, before any work: data cache writable, data present, parent finished (and
    sound), scores present."""
    hdata.check_cache()
    hdata.check_available(cfg.dataset, cfg.data_root or None)
    parent = parent or parent_config(cfg)
    if parent is not None:
        check_parent(cfg, parent)
        presult = store.run_file(store.run_dir(root, parent), "result")
        problem = store.result_problem(presult.parent, store.read_json(presult)) if presult.exists() else None
        if problem is not None:  # e.g. it lacks train_flops: found now, not as a KeyError after training
            raise MissingDependency(
                f"method={cfg.method!r} needs its dense parent run {parent.id}, whose {presult} is damaged "
                f"({problem}); the parent must be trained again (hslib.sweep.run does this for you)")
        if not store.is_finished(root, parent):
            raise MissingDependency(
                f"method={cfg.method!r} needs its dense parent run {parent.id} (same data, model and seed) to be "
                f"finished under {root}; run it first (hslib.sweep.run does this for you)")
    if cfg.uses_scores:
        scores.check_scores(cfg, root)
    return parent


# ------------------------------------------------------------------------------------------ the run
def run(config, root=None, progress: str = "auto", parent=None) -> dict:
    """Train one config (or return its finished result). Result also in <root>/<id>/result.json."""
    cfg = as_config(config)
    root = store.runs_root(root)
    if progress not in ("auto", "bar", "log", "none"):
        raise ValueError(f"progress={progress!r} is not allowed; allowed values: ['auto', 'bar', 'log', 'none']")
    directory = store.run_dir(root, cfg)
    done = store.read_result(directory)
    if done is not None:
        return done
    parent_cfg = check_ready(cfg, root, as_config(parent) if parent is not None else None)
    directory.mkdir(parents=True, exist_ok=True)
    with store.run_lock(directory):  # two sweeps asking for the same run: one trains, the other waits
        done = store.read_result(directory)
        if done is not None:
            return done
        store.write_json(store.run_file(directory, "config"), cfg.to_dict())
        try:
            with tf32_scope(resolve_device(cfg.device), cfg.precision):  # for the whole run, backward passes too
                result = _train(cfg, directory, root, parent_cfg, progress)
        except BaseException:
            _write_error(directory, traceback.format_exc())
            raise
        files.remove_temporaries(directory)  # e.g. a checkpoint's temporary left by a killed earlier attempt
    store.run_file(directory, "error").unlink(missing_ok=True)
    return result


def _write_error(directory: Path, text: str):
    """error.txt: the traceback, atomically; if that cannot be written (a full disk), a short message;
    never an empty file. Never raises: the run's own error is what the caller must see."""
    path = store.run_file(directory, "error")
    try:
        store._atomic_bytes(path, text.encode())
        return
    except OSError as e:
        lines = text.strip().splitlines()
        short = f"{lines[-1][:500] if lines else 'the run failed'}\n(the full traceback could not be written: {e})\n"
    try:
        with open(path, "w") as f:
            f.write(short)
    except OSError:
        pass
    try:
        if path.stat().st_size == 0:
            path.unlink()
    except OSError:
        pass


def _latest_checkpoint(directory: Path):
    """The newest checkpoint that loads; damaged ones are skipped (and reported)."""
    for path in reversed(store.checkpoints(directory)):
        ckpt = store.load_torch(path)
        if isinstance(ckpt, dict) and {"epoch", "model", "optimizer", "method", "history"} <= set(ckpt):
            return ckpt
        print(f"[hslib] ignoring damaged checkpoint {path}", file=sys.stderr)
    return None


def _train(cfg: RunConfig, directory: Path, root, parent_cfg, progress) -> dict:
    device = resolve_device(cfg.device)
    show_bar = progress == "bar" or (progress == "auto" and not headless())
    log_lines = progress == "log" or (progress == "auto" and headless())
    d = experiment_data(cfg, root)
    xtr, ytr = (t.to(device) for t in d["train"])
    torch.manual_seed(cfg.seed)  # model initialisation is the only use of the global RNG before training
    model = build_model(cfg.model, d["num_classes"], width=cfg.width, image_size=xtr.shape[-1], dataset=cfg.dataset)
    model = model.to(device)
    nhwc = wants_channels_last(device)
    if nhwc:
        model = model.to(memory_format=torch.channels_last)
    # LTH rewinds its children to this. Written whenever the run starts from scratch: an init.pt left in the
    # folder by a damaged result (another run's folder copied here) is never kept.
    init = store.run_file(directory, "init")
    if cfg.method == "dense" and (not init.exists() or not store.checkpoints(directory)):
        store.save_torch(init, model.state_dict())

    # Every sample is trained every epoch, the partial last batch included, except a last batch of one sample
    # (BatchNorm cannot train on it); or, with cfg.steps_per_epoch, a fixed number of full batches per epoch.
    # steps_per_epoch (the sparse methods' schedules) counts the batches trained.
    loader = hdata.Loader(xtr, ytr, cfg.batch_size, train=True, seed=cfg.seed, drop_single=True,
                          batches=cfg.steps_per_epoch, **hdata.augmentation(cfg.dataset, cfg.image_size))
    steps_per_epoch = len(loader)
    method = implementation(cfg.method)(cfg, model, steps_per_epoch)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov,
                          weight_decay=cfg.weight_decay, foreach=True)
    layer_flops = dense_layer_flops(model, xtr.shape[-1])
    attack = None
    if cfg.adversarial:
        from . import adversarial  # advertorch: imported only by adversarial runs (it needs a shim, see there)
        attack = adversarial.make_attack(model, cfg.adversarial, cfg.adv_eps, cfg.adv_step, cfg.adv_steps)
    # One step = forward + backward (3× forward); each PGD step adds forward + input gradient (2× forward).
    step_cost = 3 + (2 * cfg.adv_steps if cfg.adversarial else 0)

    ckpt = _latest_checkpoint(directory)
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        method.load_state_dict(ckpt["method"])
        start, history, flops, wall = ckpt["epoch"], ckpt["history"], ckpt["train_flops"], ckpt["wall_time"]
    else:
        parent = None
        if parent_cfg is not None:
            pdir = store.run_dir(root, parent_cfg)
            parent = {k: store.load_torch(store.run_file(pdir, k)) for k in ("init", "final")}
            if parent["init"] is None or parent["final"] is None:
                raise MissingDependency(f"dense parent {parent_cfg.id} lacks init.pt/final.pt under {pdir}")
            # Masks and weights come from the parent's *model*; a mismatch means another architecture.
            if set(parent["final"]) != set(model.state_dict()):
                raise ValueError(f"parent run {parent_cfg.id} has another architecture than {cfg.model!r}")
        snip_loader = hdata.Loader(xtr, ytr, 1, train=True, seed=cfg.seed + 7919, **hdata.augmentation(cfg.dataset, cfg.image_size))

        def batch(n):
            snip_loader.batch_size = min(n, len(ytr))
            _, x, y = next(iter(snip_loader.epoch(0)))
            return x, y

        method.init(Context(batch=batch, parent=parent))
        start, history, flops, wall = 0, [], 0.0, 0.0

    model_fwd = torch.compile(model) if cfg.compile else model
    stop = cfg.stop_epoch or cfg.epochs
    fwd = forward_flops(layer_flops, method.layer_density())
    step = start * steps_per_epoch
    for epoch in range(start, stop):
        t0 = time.perf_counter()
        lr = lr_at(cfg, epoch)
        for g in opt.param_groups:
            g["lr"] = lr
        torch.manual_seed(derive_seed(cfg.seed, epoch, "global"))  # e.g. PGD random starts, resumable
        model.train()
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.long)
        seen = 0
        batches = loader.epoch(epoch)
        if show_bar:
            from tqdm.auto import tqdm
            batches = tqdm(batches, total=steps_per_epoch, leave=False, desc=f"{cfg.method} epoch {epoch + 1}/{stop}")
        for _, x, y in batches:
            if nhwc:
                x = x.contiguous(memory_format=torch.channels_last)
            if attack is not None:
                x = adversarial.perturb(model, attack, x, y, cfg.adv_bn_mode)
            with autocast(device, cfg.precision):
                out = model_fwd(x)
                loss = F.cross_entropy(out, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            method.after_step(opt)  # one fused mask multiply
            step += 1
            loss_sum += loss.detach() * len(y)
            correct += (out.argmax(1) == y).sum()
            seen += len(y)
            flops += step_cost * fwd * len(y)
            if method.is_event(step):
                method.update(step, opt)
                fwd = forward_flops(layer_flops, method.layer_density())
        train_time = time.perf_counter() - t0
        val_loss, val_acc = evaluate(model, *d["val"], precision=cfg.precision)
        train_loss, train_acc = (torch.stack([loss_sum, correct.float()]) / max(seen, 1)).tolist()  # the epoch's sync
        wall += time.perf_counter() - t0
        history.append({"epoch": epoch + 1, "lr": lr, "train_loss": train_loss, "train_acc": train_acc,
                        "val_loss": val_loss, "val_acc": val_acc, "density": method.updates[-1]["density"],
                        "train_flops": flops, "train_time": train_time, "wall_time": wall})
        store.save_torch(store.checkpoint(directory, epoch + 1), {
            "epoch": epoch + 1, "model": model.state_dict(), "optimizer": opt.state_dict(),
            "method": method.state_dict(), "history": history, "train_flops": flops, "wall_time": wall})
        for old in store.checkpoints(directory)[:-KEEP_CHECKPOINTS]:
            old.unlink()
        store.write_jsonl(store.run_file(directory, "log"), history)
        _die_if_asked(cfg)
        if log_lines:
            h = history[-1]
            print(f"[{cfg.id}] {cfg.method} d={cfg.density:g} epoch {epoch + 1}/{stop} lr {lr:.4g} "
                  f"loss {train_loss:.3f} acc {train_acc:.3f} val {val_acc:.3f} density {h['density']:.3f} "
                  f"{time.perf_counter() - t0:.1f}s", flush=True)
    return _finish(cfg, directory, root, model, method, d, history, flops, wall, parent_cfg, device)


def _plateau(history) -> float | None:
    """How much an adversarial run's (PGD) training accuracy still moved at the end: the mean of its epochs'
    running training accuracy over the last quarter of training minus that over the quarter before. A run has
    plateaued when this is within ±0.02 (hslib.claims.PLATEAU)."""
    q = len(history) // 4
    if q < 1:
        return None
    acc = [h["train_acc"] for h in history]
    return sum(acc[-q:]) / q - sum(acc[-2 * q:-q]) / q


def _die_if_asked(cfg):
    """Test hook: HSLIB_TEST_KILL_RUN=<run id> makes that run `kill -9` its own process after its first epoch
    (a worker lost to the OOM killer, mid-run, its lock held), so the tests can check that a sweep survives it."""
    import os
    import signal

    if os.environ.get("HSLIB_TEST_KILL_RUN") == cfg.id:
        os.kill(os.getpid(), signal.SIGKILL)


def _finish(cfg, directory, root, model, method, d, history, flops, wall, parent_cfg, device) -> dict:
    test_loss, test_acc = evaluate(model, *d["test"], precision=cfg.precision)
    layers = method.masks.table() if method.masks is not None else [
        {"layer": n, "shape": list(p.shape), "params": p.numel(), "active": p.numel(), "density": 1.0}
        for n, p in maskable(model)]
    layer_density = {r["layer"]: r["density"] for r in layers}
    if parent_cfg is not None:  # the dense run this one was pruned from is part of its training cost
        parent_result = store.read_result(store.run_dir(root, parent_cfg))
        if parent_result is None:  # damaged since the preflight checked it: a clear error, not a TypeError
            raise MissingDependency(f"dense parent {parent_cfg.id}'s result under {store.run_dir(root, parent_cfg)} "
                                    "is missing or damaged; train the parent again")
        flops += parent_result["train_flops"]
    result = {
        "id": cfg.id, "config": cfg.to_dict(), "complete": True,
        "test_acc": test_acc, "test_loss": test_loss,
        "val_acc": history[-1]["val_acc"] if history else None,
        # Does the run fit its training set (the paper's regime)? Accuracy on its own training subset (corrupted
        # if it trained corrupted), eval mode, without augmentation; the last epoch's running accuracy (with
        # augmentation, weights still moving; adversarial examples for adversarial runs) is kept beside it.
        "train_acc": evaluate(model, *d["train"], precision=cfg.precision)[1],
        "train_acc_last_epoch": history[-1]["train_acc"] if history else None,
        "adv_train_acc_change": _plateau(history) if cfg.adversarial else None,
        "density": sum(r["active"] for r in layers) / sum(r["params"] for r in layers),
        "layer_density": layer_density, "layers": layers,
        "train_flops": flops, "params": nonzero_params(model, layer_density),
        "wall_time": wall, "epochs_run": len(history), "parent": parent_cfg.id if parent_cfg else None,
        "corruption_source": d["corruption_source"], "device": str(device), "torch": torch.__version__,
        "precision": cfg.precision, "tf32": uses_tf32(device, cfg.precision), **store.provenance(),
    }
    if cfg.adversarial:
        from . import adversarial
        kw = dict(norm=cfg.adversarial, eps=cfg.adv_eps, step=cfg.adv_step, steps=cfg.adv_eval_steps)
        test = adversarial.evaluate_robust(model, *d["test"], **kw)
        n = min(len(d["test"][1]), len(d["train"][1]))
        train = adversarial.evaluate_robust(model, d["train"][0][:n], d["train"][1][:n], **kw)
        result.update(clean_acc=test["clean_acc"], robust_acc=test["robust_acc"],
                      train_robust_acc=train["robust_acc"], robust_gap=train["robust_acc"] - test["robust_acc"])
    store.save_torch(store.run_file(directory, "final"), model.state_dict())
    if method.masks is not None:
        store.save_torch(store.run_file(directory, "masks"), method.masks.state_dict())
    store.write_jsonl(store.run_file(directory, "updates"), method.updates)
    store.write_json(store.run_file(directory, "result"), result)  # last: from here on the run counts as finished
    for ckpt in store.checkpoints(directory):
        ckpt.unlink()
    return result
