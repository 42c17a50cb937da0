import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from hslib import store, train
from hslib.config import RunConfig
from hslib.models import build_model
from hslib.rundata import experiment_data

TINY = dict(dataset="digits", model="resnet18", width=0.0625, epochs=4, batch_size=64, data_ratio=0.3,
            profile="smoke", device="cpu")


def test_a_smoke_run_learns_and_writes_its_files(tmp_path):
    cfg = RunConfig(dataset="digits", model="resnet18", width=0.125, epochs=8, batch_size=64, profile="smoke")
    r = train.run(cfg, tmp_path, progress="none")
    assert r["test_acc"] > 0.6  # chance 0.1; measured over seeds 0-4 × OMP 1/2: 0.944-0.972
    d = tmp_path / cfg.id
    for name in ("config.json", "log.jsonl", "init.pt", "final.pt", "result.json", "updates.jsonl"):
        assert (d / name).exists(), name
    assert not list(d.glob("ckpt-*.pt"))  # checkpoints are removed once the result is written
    assert {k: r[k] for k in store.provenance()} == store.provenance()  # the code that trained it
    assert RunConfig.from_dict(json.loads((d / "config.json").read_text())) == cfg
    log = [json.loads(line) for line in (d / "log.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in log] == list(range(1, 9))
    assert [h["lr"] for h in log] == pytest.approx([0.1] * 4 + [0.01] * 2 + [0.001] * 2)  # x0.1 at 50%, 75%
    model = build_model("resnet18", 10, width=0.125)
    assert r["density"] == 1.0 and r["params"] == sum(p.numel() for p in model.parameters())
    # A second call reads the finished run back instead of training.
    t = time.perf_counter()
    assert train.run(cfg, tmp_path) == r and time.perf_counter() - t < 1


def _child(root, cfg):
    code = ("import sys, json; from hslib import train; from hslib.config import RunConfig; "
            f"train.run(RunConfig.from_dict(json.loads(sys.argv[1])), {str(root)!r}, progress='none')")
    return subprocess.Popen([sys.executable, "-c", code, json.dumps(cfg.to_dict())], start_new_session=True)


@pytest.mark.parametrize("method,density", [("dense", 1.0), ("set", 0.2)])
def test_killed_run_resumes_and_matches_an_uninterrupted_run(tmp_path, method, density):
    cfg = RunConfig(**TINY, method=method, density=density, update_every=1.0)
    ref = train.run(cfg, tmp_path / "ref", progress="none")
    p = _child(tmp_path / "killed", cfg)
    ckpt = tmp_path / "killed" / cfg.id / "ckpt-0002.pt"
    deadline = time.time() + 120
    while not ckpt.exists() and p.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    assert ckpt.exists() and not (tmp_path / "killed" / cfg.id / "result.json").exists()
    resumed = train.run(cfg, tmp_path / "killed", progress="none")
    for k in ("test_acc", "test_loss", "val_acc", "train_acc", "density", "train_flops"):
        assert resumed[k] == ref[k], k
    a = store.load_torch(tmp_path / "ref" / cfg.id / "final.pt")
    b = store.load_torch(tmp_path / "killed" / cfg.id / "final.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)
    if method == "set":  # the rewired masks after resuming are the uninterrupted run's
        ma = store.load_torch(tmp_path / "ref" / cfg.id / "masks.pt")
        mb = store.load_torch(tmp_path / "killed" / cfg.id / "masks.pt")
        assert all(torch.equal(ma[k], mb[k]) for k in ma)
        assert resumed["layer_density"] == ref["layer_density"]


def test_damaged_files_are_detected_and_not_used(tmp_path, monkeypatch, capsys):
    cfg = RunConfig(**TINY)
    d = tmp_path / "runs" / cfg.id
    metrics = ("test_acc", "test_loss", "val_acc", "train_acc", "density", "train_flops")

    # Train all 4 epochs but stop before the result is written: checkpoints 3 and 4 are left (2 are kept).
    class Stop(Exception):
        pass

    def stop(*args, **kwargs):
        raise Stop

    monkeypatch.setattr(train, "_finish", stop)
    with pytest.raises(Stop):
        train.run(cfg, tmp_path / "runs", progress="none")
    monkeypatch.undo()
    assert sorted(p.name for p in d.glob("ckpt-*.pt")) == ["ckpt-0003.pt", "ckpt-0004.pt"]
    # The newest checkpoint is truncated: it is skipped (and reported), and the run resumes from epoch 3,
    # training only the 4th epoch again.
    blob = (d / "ckpt-0004.pt").read_bytes()
    (d / "ckpt-0004.pt").write_bytes(blob[: len(blob) // 2])
    assert store.load_torch(d / "ckpt-0004.pt") is None and train._latest_checkpoint(d)["epoch"] == 3
    capsys.readouterr()
    resumed = train.run(cfg, tmp_path / "runs", progress="log")
    out, err = capsys.readouterr()
    assert f"ignoring damaged checkpoint {d / 'ckpt-0004.pt'}" in err
    assert [line.split(" epoch ")[1].split()[0] for line in out.splitlines() if " epoch " in line] == ["4/4"]
    resumed_weights = store.load_torch(d / "final.pt")
    # A truncated result.json is not a finished run: the next call trains it again, from scratch (the
    # checkpoints went with the finished run), and writes a readable result.json. That uninterrupted run
    # ends exactly where the resumed one did: the older checkpoint was a sound place to resume from.
    text = (d / "result.json").read_text()
    (d / "result.json").write_text(text[: len(text) // 2])
    assert store.read_result(d) is None and not store.is_finished(tmp_path / "runs", cfg)
    again = train.run(cfg, tmp_path / "runs", progress="log")
    out, _ = capsys.readouterr()
    assert [line.split(" epoch ")[1].split()[0] for line in out.splitlines() if " epoch " in line] == \
        ["1/4", "2/4", "3/4", "4/4"]
    assert all(again[k] == resumed[k] for k in metrics) and store.read_result(d) == again
    weights = store.load_torch(d / "final.pt")
    assert weights.keys() == resumed_weights.keys()
    assert all(torch.equal(weights[k], resumed_weights[k]) for k in weights)


@pytest.mark.parametrize("fields,needle", [
    ({"dataset": "tinyimagenet", "data_root": "/nonexistent/data"}, "/nonexistent/data/tiny-imagenet-200"),
    ({"dataset": "cifar100", "data_root": "/nonexistent/data"}, "cifar-100-python"),
])
def test_missing_data_fails_before_any_work(tmp_path, fields, needle):
    cfg = RunConfig(**{**TINY, **fields})
    with pytest.raises(FileNotFoundError, match=needle):
        train.run(cfg, tmp_path)
    assert not (tmp_path / cfg.id).exists()


def test_child_without_parent_fails_before_any_work(tmp_path):
    cfg = RunConfig(**TINY, method="lth", density=0.2)
    with pytest.raises(store.MissingDependency, match="dense parent run"):
        train.run(cfg, tmp_path)
    assert not (tmp_path / cfg.id).exists()


def test_a_parent_of_another_dataset_or_model_is_refused_before_training(tmp_path):
    child = RunConfig(**TINY, method="omp", density=0.2)
    for other in (child.replace(method="dense", density=1.0, model="vgg19"),
                  child.replace(method="dense", density=1.0, dataset="tinyimagenet"),
                  child.replace(method="dense", density=1.0, seed=3)):
        with pytest.raises(ValueError, match="does not match"):
            train.run(child, tmp_path, parent=other)
    assert not (tmp_path / child.id).exists()


def test_bad_progress_value(tmp_path):
    with pytest.raises(ValueError, match="progress='fancy'"):
        train.run(RunConfig(**TINY), tmp_path, progress="fancy")


def test_adversarial_training_keeps_masks_exact_and_reports_robustness(tmp_path):
    from hslib.sparse import layer_counts
    cfg = RunConfig(**{**TINY, "epochs": 2}, method="set", density=0.2, adversarial="linf", adv_steps=1,
                    adv_eval_steps=2)
    r = train.run(cfg, tmp_path, progress="none")
    assert 0 <= r["robust_acc"] <= r["clean_acc"] and r["robust_gap"] == r["train_robust_acc"] - r["robust_acc"]
    weights, masks = store.load_torch(tmp_path / cfg.id / "final.pt"), store.load_torch(tmp_path / cfg.id / "masks.pt")
    counts = layer_counts(build_model("resnet18", 10, width=0.0625), "erk", 0.2)
    assert [int(m.sum()) for m in masks.values()] == counts  # SET rewired, counts unchanged
    for name, m in masks.items():
        assert torch.all(weights[name][~m] == 0)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_precision_is_recorded_and_every_sample_is_trained(tmp_path, precision):
    from hslib.flops import dense_layer_flops, forward_flops
    cfg = RunConfig(**{**TINY, "epochs": 1}, precision=precision)
    r = train.run(cfg, tmp_path, progress="none")
    # On a CPU: fp32 is plain float32 (no TF32), bf16 is CPU bfloat16 autocast (allowed, it runs).
    assert r["precision"] == precision and r["config"]["precision"] == precision and r["tf32"] is False
    assert 0 <= r["test_acc"] <= 1 and r["test_loss"] == r["test_loss"]  # finite, not NaN
    # One dense epoch costs 3 x forward FLOPs per trained sample: the partial last batch was trained
    # (here 388 = 6 x 64 + 4 samples), not dropped.
    n = len(experiment_data(cfg, tmp_path)["train"][1])
    assert n % cfg.batch_size > 1
    fwd = forward_flops(dense_layer_flops(build_model("resnet18", 10, width=cfg.width), 32), r["layer_density"])
    assert r["train_flops"] == pytest.approx(3 * fwd * n)


def test_precision_contexts():
    from hslib import device as D
    lin = torch.nn.Linear(4, 2)
    with D.autocast(torch.device("cpu"), "bf16"):
        assert lin(torch.rand(3, 4)).dtype == torch.bfloat16
    with D.autocast(torch.device("cpu"), "fp32"):
        assert lin(torch.rand(3, 4)).dtype == torch.float32
    assert D.predict(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 2)),
                     torch.zeros(5, 3, 2, 2, dtype=torch.uint8), precision="bf16").dtype == torch.float32
    assert D.uses_tf32("cuda", "fp32") and not D.uses_tf32("cuda", "bf16") and not D.uses_tf32("cpu", "fp32")
    # The TF32 flags are set for an fp32 CUDA scope only, and restored afterwards (the flags exist without a GPU).
    flags = lambda: (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)  # noqa: E731
    before = flags()
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        with D.tf32_scope(torch.device("cuda"), "fp32"):
            assert flags() == (True, True)
        assert flags() == (False, False)
        with D.tf32_scope(torch.device("cpu"), "fp32"):
            assert flags() == (False, False)
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before
    with pytest.raises(ValueError, match=r"precision='fp16' is not allowed; allowed values: \['fp32', 'bf16'\]"):
        D.autocast(torch.device("cpu"), "fp16")
