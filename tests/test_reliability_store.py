"""Caches, run results, figures and tables under hostile conditions: code changes, same-size garbage, damaged or
foreign result.json files, full disks, read-only folders and a bad HSLIB_CACHE. Every case is detected and
either rebuilt / retrained or reported as one clear error naming the thing."""
import json
import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from faults import Faults
from hslib import config, corrupted, el2n, files, planning, scores, store, sweep, train
from hslib import data as hdata
from hslib.config import RunConfig

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(dataset="digits", model="resnet18", width=0.0625, epochs=1, batch_size=64, data_ratio=0.3,
            profile="smoke", device="cpu")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty HSLIB_CACHE, and no decoded data held in memory before or after the test."""
    monkeypatch.setenv("HSLIB_CACHE", str(tmp_path / "cache"))
    hdata._official.cache_clear()
    yield tmp_path / "cache"
    hdata._official.cache_clear()


# ------------------------------------------------------------------------- A: code provenance in cache keys
def test_digits_cache_is_not_reused_when_the_decoding_changes(cache, tmp_path, monkeypatch):
    x32, _ = hdata.load_dataset("digits", split="train")
    assert x32.shape[-2:] == (32, 32)
    # Decoded at another size: the 32×32 cache must not be returned.
    monkeypatch.setattr(hdata, "DIGITS_SIZE", 16, raising=False)
    hdata._official.cache_clear()
    x16, _ = hdata.load_dataset("digits", split="train")
    assert x16.shape[-2:] == (16, 16)
    # ... and it is what a fresh cache gives.
    monkeypatch.setenv("HSLIB_CACHE", str(tmp_path / "fresh"))
    hdata._official.cache_clear()
    assert torch.equal(hdata.load_dataset("digits", split="train")[0], x16)
    # The decoding code changes (here: it mirrors the images): decoded again, once, never the old cache.
    monkeypatch.setattr(hdata, "DIGITS_SIZE", 32, raising=False)
    calls = []
    reader = hdata._read_digits

    def mirrored(root):
        calls.append(root)
        xtr, ytr, xte, yte, names = reader(root)
        return xtr[..., ::-1].copy(), ytr, xte[..., ::-1].copy(), yte, names

    monkeypatch.setattr(hdata, "_read_digits", mirrored)
    for _ in range(2):
        hdata._official.cache_clear()
        assert torch.equal(hdata.load_dataset("digits", split="train")[0], x32.flip(-1))
    assert len(calls) == 1


def test_corruption_cache_is_not_reused_by_code_of_another_semantics(tmp_path, monkeypatch):
    x = torch.randint(0, 256, (12, 3, 32, 32), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    y = torch.arange(12) % 10
    old = np.array(corrupted.corrupted_split("digits", "train", x, y, "gaussian_noise", tmp_path))
    # The corruption code changes (here: to an identity) and its semantics version is bumped.
    monkeypatch.setattr(corrupted, "corrupt", lambda images, name, severity, seed: images.clone())
    monkeypatch.setattr(config, "SEMANTICS", config.SEMANTICS + 1)
    new = np.array(corrupted.corrupted_split("digits", "train", x, y, "gaussian_noise", tmp_path))
    assert not np.array_equal(new, old)
    assert np.array_equal(new[4], x.permute(0, 2, 3, 1).numpy())  # what the new code makes
    # The corruption cache and the score provenance hash data with one helper.
    assert scores._data_hash(x, y).startswith(corrupted._hash(x, y))


# ------------------------------------------------------------------------- B: same-size garbage in caches
def test_a_zeroed_block_in_a_cached_corruption_is_rebuilt(tmp_path):
    x = torch.randint(0, 256, (64, 3, 32, 32), generator=torch.Generator().manual_seed(1), dtype=torch.uint8)
    y = torch.arange(64) % 10
    good = np.array(corrupted.corrupted_split("digits", "val", x, y, "impulse_noise", tmp_path))
    path = corrupted.split_dir("digits", "val", x, y, tmp_path) / "impulse_noise.npy"
    size = path.stat().st_size
    with open(path, "r+b") as f:  # 64 KB zeroed in the middle: same size, still a valid .npy
        f.seek(size // 2)
        f.write(bytes(65536))
    assert path.stat().st_size == size
    again = np.array(corrupted.corrupted_split("digits", "val", x, y, "impulse_noise", tmp_path))
    assert np.array_equal(again, good)


@pytest.mark.parametrize("how", ["wrong shapes", "same shapes, reversed images"])
def test_a_rewritten_digits_cache_is_rebuilt(cache, how):
    xtr, ytr = hdata.load_dataset("digits", split="train")
    xte, _ = hdata.load_dataset("digits", split="test")
    [npz] = cache.glob("digits-*.npz")
    with np.load(npz) as z:
        arrays = {k: z[k] for k in z.files}
    if how == "wrong shapes":
        arrays.update(xtr=arrays["xtr"][:5], ytr=arrays["ytr"][:7], xte=arrays["xte"][:, :, :4])
    else:
        arrays.update(xtr=arrays["xtr"][::-1].copy())
    np.savez(npz, **arrays)
    hdata._official.cache_clear()
    x2, y2 = hdata.load_dataset("digits", split="train")  # was: IndexError, or the reversed images
    assert torch.equal(x2, xtr) and torch.equal(y2, ytr)
    assert torch.equal(hdata.load_dataset("digits", split="test")[0], xte)


SCORED = dict(TINY, epochs=2, el2n_epoch=2, el2n_runs=2, subset="hard", data_ratio=0.5)


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """Two finished scoring runs and their scores, in a folder each test copies."""
    root = tmp_path_factory.mktemp("scored") / "outputs" / "runs"
    cfg = RunConfig(**SCORED)
    for c in planning.scoring_configs(cfg):
        train.run(c, root, progress="none")
    s = el2n.compute_scores(cfg, root)
    return cfg, root, {k: np.array(s[k]) for k in ("el2n", "el2n_sq", "per_run")}


def _save_valid(path, arr):
    """Replace a score file by other contents that are valid as a file (with a matching checksum)."""
    files.write_npy_checked(path, arr)


def _copy(scored, tmp_path):
    cfg, root, original = scored
    shutil.copytree(root.parent, tmp_path / "outputs")
    return cfg, tmp_path / "outputs" / "runs", original


@pytest.mark.parametrize("damage", ["reversed", "450 NaNs"])
def test_damaged_scores_are_recomputed_never_used(scored, tmp_path, damage):
    cfg, root, original = _copy(scored, tmp_path)
    path = scores.scores_dir(cfg, root) / "el2n.npy"
    bad = original["el2n"][::-1].copy() if damage == "reversed" else original["el2n"].copy()
    if damage == "450 NaNs":
        bad[:450] = np.nan
    np.save(path, bad)  # same size, same dtype: only the checksum tells
    assert scores.load_scores(cfg, root) is None
    with pytest.raises(train.MissingDependency, match=r"el2n\.npy does not match its checksum"):
        scores.check_scores(cfg, root)
    with pytest.raises(train.MissingDependency, match="missing or damaged"):  # a run never trains on them
        train.run(cfg.replace(method="set", density=0.2), root, progress="none")
    s = el2n.compute_scores(cfg, root)  # the scoring runs are there: recomputed exactly
    assert np.array_equal(s["el2n"], original["el2n"])
    assert np.array_equal(scores.load_scores(cfg, root)["el2n"], original["el2n"])


def test_nan_scores_are_refused_with_a_clear_error(scored, tmp_path, monkeypatch):
    cfg, root, original = _copy(scored, tmp_path)
    d = scores.scores_dir(cfg, root)
    # NaNs with a matching checksum (e.g. written by an older version): refused, not sorted into a subset.
    nan = original["el2n"].copy()
    nan[:450] = np.nan
    _save_valid(d / "el2n.npy", nan)
    with pytest.raises(train.MissingDependency, match="450 EL2N scores are NaN or infinite"):
        scores.check_scores(cfg, root)
    with pytest.raises(ValueError, match="scores hold 450 NaN or infinite values"):
        scores.subset_indices(nan, 0.5)
    # A scoring run that gives NaN logits: computing refuses to save anything.
    shutil.rmtree(d)
    monkeypatch.setattr(el2n, "el2n", lambda logits, labels: torch.full((len(labels),), float("nan")))
    with pytest.raises(ValueError, match="scores are NaN or infinite"):
        el2n.compute_scores(cfg, root)
    assert not (d / "provenance.json").exists() and scores.load_scores(cfg, root) is None


def test_a_subset_record_of_other_scores_is_rewritten(scored, tmp_path):
    cfg, root, original = _copy(scored, tmp_path)
    idx = scores.subset_for(cfg, root)
    d = scores.scores_dir(cfg, root)
    record = d / "subset-hard-0.50.json"
    assert json.loads(record.read_text())["score_hash"]
    # Other (valid) scores: the saved index file and its score_hash follow them, never keep the old subset.
    _save_valid(d / "el2n.npy", original["el2n"][::-1].copy())
    new = scores.subset_for(cfg, root)
    assert not np.array_equal(new, idx)
    s = scores.load_scores(cfg, root)
    import hashlib
    assert json.loads(record.read_text())["score_hash"] == hashlib.sha256(s["el2n"].tobytes()).hexdigest()[:16]
    assert np.array_equal(np.load(d / "subset-hard-0.50.npy"), new)


def test_scores_of_another_semantics_are_not_used(scored, tmp_path, monkeypatch):
    cfg, root, _ = _copy(scored, tmp_path)
    d = scores.scores_dir(cfg, root)
    prov = json.loads((d / "provenance.json").read_text())
    store.write_json(d / "provenance.json", {**prov, "semantics": config.SEMANTICS - 1})
    assert scores.load_scores(cfg, root) is None
    monkeypatch.setattr(config, "SEMANTICS", config.SEMANTICS + 1)
    assert scores.scores_dir(RunConfig(**SCORED), root) != d


# ------------------------------------------------------------------------- C: result.json is checked
@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """Finished 1-epoch dense runs of seeds 0-2 (copied by each test)."""
    root = tmp_path_factory.mktemp("finished") / "outputs" / "runs"
    cfgs = [RunConfig(**TINY, seed=s) for s in range(3)]
    for c in cfgs:
        train.run(c, root, progress="none")
    return cfgs, root


def _finished_copy(finished, tmp_path):
    cfgs, root = finished
    shutil.copytree(root.parent, tmp_path / "outputs")
    return cfgs, tmp_path / "outputs" / "runs"


def _edit(path, **changes):
    r = json.loads(path.read_text())
    for k, v in changes.items():
        if v is KeyError:
            r.pop(k)
        else:
            r[k] = v
    path.write_text(json.dumps(r))


@pytest.mark.parametrize("changes,needle", [
    ({"test_acc": "oops"}, "test_acc='oops' is not a number in [0, 1]"),
    ({"test_acc": 7.5}, "test_acc=7.5 is not a number in [0, 1]"),
    ({"test_acc": None}, "test_acc=None is not a number in [0, 1]"),
    ({"test_acc": True}, "test_acc=True is not a number in [0, 1]"),
    ({"val_acc": -0.1}, "val_acc=-0.1 is not a number in [0, 1]"),
    ({"density": 0}, "density=0 is not a number in (0, 1]"),
    ({"train_flops": -1}, "train_flops=-1 is not a number >= 0"),
    ({"train_flops": KeyError}, "lacks 'train_flops'"),
    ({"layer_density": [1.0]}, "layer_density=[1.0] is not a dict"),
    ({"layers": "x"}, "layers='x' is not a list of dicts"),
    ({"config": "dense"}, "config is a str, not a dict of RunConfig fields"),
    ({"config": {"dataset": "digits", "colour": "red"}}, "config is not a valid RunConfig"),
    ({"id": "0123456789ab"}, "id='0123456789ab' is not its folder name"),
    ({"complete": "yes"}, "complete='yes', not true"),
    ({"test_acc": KeyError}, "lacks ['test_acc']"),
])
def test_a_damaged_result_is_named_and_not_finished(finished, tmp_path, changes, needle):
    cfgs, root = _finished_copy(finished, tmp_path)
    d = root / cfgs[0].id
    _edit(d / "result.json", **changes)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        assert store.read_result(d) is None and not store.is_finished(root, cfgs[0])
        df = store.results(root)
        paths = store.write_tables(root, tmp_path / "tables")  # was: a traceback for config="dense"
    assert cfgs[0].id not in set(df["id"]) and len(df) == 2
    assert set(pd.read_csv(paths["runs"])["id"]) == {c.id for c in cfgs[1:]}
    named = [w for w in seen if str(d / "result.json") in str(w.message) and needle in str(w.message)]
    assert named and all(issubclass(w.category, store.DamagedResult) for w in named)


def test_a_result_of_other_code_semantics_is_stale_not_damaged(finished, tmp_path):
    cfgs, root = _finished_copy(finished, tmp_path)
    assert store.read_result(root / cfgs[0].id)["semantics"] == config.SEMANTICS
    _edit(root / cfgs[0].id / "result.json", semantics=config.SEMANTICS - 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not finished for this code, silently: it is not damaged
        assert store.read_result(root / cfgs[0].id) is None
        assert set(store.results(root)["id"]) == {c.id for c in cfgs[1:]}


def test_damaged_and_foreign_results_are_retrained_by_the_sweep(finished, tmp_path):
    cfgs, root = _finished_copy(finished, tmp_path)
    s0, s1, s2 = (root / c.id for c in cfgs)
    # Seed 0's folder copied over seed 1's, and once more over seed 2's with its id made to look right.
    for dst in (s1, s2):
        shutil.rmtree(dst)
        shutil.copytree(s0, dst)
    _edit(s2 / "result.json", id=cfgs[2].id)
    _edit(s0 / "result.json", test_acc="oops")
    init0 = store.load_torch(s0 / "init.pt")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        df = sweep.run(cfgs, root=root, progress="none")
    assert not df.attrs["failed"] and sorted(df["seed"]) == [0, 1, 2]
    assert any(str(s2) in str(w.message) and "copied from another run's folder" in str(w.message) for w in seen)
    for c in cfgs:
        r = store.read_result(root / c.id)
        assert r["id"] == c.id and r["config"]["seed"] == c.seed and 0 <= r["test_acc"] <= 1
    # Seed 1 trained from its own initialisation, not from seed 0's init.pt copied with the folder.
    init1 = store.load_torch(s1 / "init.pt")
    assert any(not torch.equal(init0[k], init1[k]) for k in init0 if init0[k].is_floating_point())


def test_a_parent_without_train_flops_is_retrained_before_its_child(finished, tmp_path):
    cfgs, root = _finished_copy(finished, tmp_path)
    parent = cfgs[0]
    child = parent.replace(method="lth", density=0.2)
    _edit(root / parent.id / "result.json", train_flops=KeyError)
    # Directly: one clear error before any work (was: trains the child fully, then KeyError on every retry).
    with pytest.raises(train.MissingDependency, match=rf"{parent.id}.*lacks 'train_flops'"):
        train.run(child, root, progress="none")
    assert not (root / child.id).exists()
    # The sweep redoes the parent, then trains the child.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = sweep.run([child], root=root, progress="none")
    assert list(df["id"]) == [child.id] and not df.attrs["failed"]
    p, c = store.read_result(root / parent.id), store.read_result(root / child.id)
    assert p["train_flops"] > 0 and c["train_flops"] > p["train_flops"]


# ------------------------------------------------------------------------- D: figures and the book
def _figure(colour):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 2))
    ax.imshow(np.random.RandomState(colour).rand(20, 20))
    fig.hslib_meta = {"figure": 1, "drawn": colour}
    return fig


@pytest.mark.parametrize("trigger", ["fig01.png", "fig01.pdf"])
def test_a_full_disk_never_leaves_a_truncated_figure_or_a_wrong_sidecar(tmp_path, monkeypatch, trigger):
    from PIL import Image

    from hslib import plots

    out = tmp_path / "figures"
    plots.save(_figure(1), "fig01", out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    Faults(monkeypatch, out, "full", room=100, trigger=trigger)
    with pytest.raises(OSError):
        plots.save(_figure(2), "fig01", out)
    monkeypatch.undo()
    assert not list(out.glob(".*"))  # no temporary left
    assert (out / "fig01.pdf").read_bytes() == before["fig01.pdf"]
    assert ((out / "fig01.png").read_bytes() == before["fig01.png"]) == trigger.endswith(".png")
    with Image.open(out / "fig01.png") as im:
        im.load()  # whole: the old one, or (the PDF failed) the new one
    if trigger.endswith(".png"):  # nothing was replaced: the sidecar still describes the (old) images
        assert json.loads((out / "fig01.json").read_text())["drawn"] == 1
    else:  # the new PNG beside the old PDF: no sidecar rather than one describing either wrongly
        assert not (out / "fig01.json").exists()


def test_the_book_refuses_a_truncated_figure_and_names_it(tmp_path, capsys):
    import nbformat

    from hslib import book, paper

    out = tmp_path / "outputs"
    (out / "notebooks" / "smoke").mkdir(parents=True)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# 00 · Quickstart")]
    nbformat.write(nb, str(out / "notebooks" / "smoke" / "00_quickstart.ipynb"))
    figures = out / "figures" / "smoke"
    figures.mkdir(parents=True)
    name = paper.FIGURES[0].name
    from hslib import plots
    plots.save(_figure(3), name, figures)
    png = (figures / f"{name}.png").read_bytes()
    (figures / f"{name}.png").write_bytes(png[: len(png) // 2])  # truncated, as by a full disk
    with pytest.raises(ValueError, match=rf"{name}\.png: damaged or not a readable PNG"):
        book.build("smoke", out)
    assert not (out / "book" / "smoke").exists()
    assert book.main(["--profile", "smoke", "--outputs", str(out)]) == 1
    assert f"{name}.png: damaged" in capsys.readouterr().err
    assert [p.name for p in (out / "book").iterdir() if p.name.startswith(".")] == []  # no half-built book


# ------------------------------------------------------------------------- E: a full disk leaves no debris
def test_a_full_disk_mid_run_leaves_no_temporary_and_a_readable_error(tmp_path, monkeypatch):
    cfg = RunConfig(**{**TINY, "epochs": 2})
    root = tmp_path / "runs"
    d = root / cfg.id
    Faults(monkeypatch, root, "full", room=300, trigger=".ckpt-0002.pt.tmp")
    with pytest.raises(OSError):
        train.run(cfg, root, progress="none")
    monkeypatch.undo()
    assert list(d.glob(".*.tmp-*")) == []  # the failed checkpoint's temporary is gone
    error = (d / "error.txt").read_text()  # was: 0 bytes
    assert "No space left on device" in error and "could not be written" in error
    assert (d / "ckpt-0001.pt").exists()
    # A temporary left by a writer that was killed (no chance to clean up) goes when the run finishes.
    (d / ".ckpt-0002.pt.tmp-99999").write_bytes(b"x" * 1000)
    r = train.run(cfg, root, progress="none")
    assert r["epochs_run"] == 2 and list(d.glob(".*.tmp-*")) == [] and not (d / "error.txt").exists()


def test_unwritable_tables_are_one_line_not_a_traceback(finished, tmp_path, monkeypatch, capsys):
    cfgs, root = _finished_copy(finished, tmp_path)
    results = root.parent / "results"
    Faults(monkeypatch, results, "full", room=0)
    df = sweep.run(cfgs, root=root, progress="none")  # was: OSError traceback from write_tables
    assert len(df) == 3 and not df.attrs["failed"]
    err = capsys.readouterr().err
    line = [x for x in err.splitlines() if "tables not written" in x]
    assert len(line) == 1 and str(results / "smoke") in line[0] and "No space left on device" in line[0]
    assert "Traceback" not in err
    assert not any(p.name.startswith(".") for p in results.rglob("*"))


# ------------------------------------------------------------------------- F: a read-only outputs folder
def test_a_read_only_outputs_folder_reads_and_says_it_cannot_write(finished, tmp_path, monkeypatch, capsys):
    cfgs, root = _finished_copy(finished, tmp_path)
    outputs = root.parent
    fs = Faults(monkeypatch, outputs, "readonly")
    df = store.results(root)
    assert len(df) == 3 and len(store.layer_table(root)) == 3 * 21
    assert len(store.results_for(cfgs, root)) == 3 and len(store.layers_for(cfgs, root)) == 3 * 21
    assert all(train.run(c, root) == store.read_result(root / c.id) for c in cfgs)  # finished: read back
    assert fs.attempts == []  # reading never writes
    with pytest.raises(OSError, match=f"cannot write the results tables .* to the folder {re.escape(str(outputs / 'results'))}"):
        store.write_tables(root, outputs / "results")
    df = sweep.run(cfgs, root=root, progress="none")  # was: Errno 30 traceback
    assert len(df) == 3 and not df.attrs["failed"]
    err = capsys.readouterr().err
    assert "tables not written" in err and "Read-only file system" in err and "Traceback" not in err


# ------------------------------------------------------------------------- G: HSLIB_CACHE unusable
def test_hslib_cache_set_to_a_file_is_one_clear_error_before_any_work(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "cache-file"
    bad.write_text("not a folder")
    monkeypatch.setenv("HSLIB_CACHE", str(bad))
    hdata._official.cache_clear()
    cfg = RunConfig(**TINY)
    with pytest.raises(ValueError, match=re.escape(f"HSLIB_CACHE='{bad}' is not a folder")):
        train.run(cfg, tmp_path / "runs", progress="none")
    with pytest.raises(ValueError, match="HSLIB_CACHE="):
        sweep.run([cfg], root=tmp_path / "runs", progress="none")
    assert not (tmp_path / "runs").exists()
    with pytest.raises(SystemExit) as e:
        sweep.main(["--profile", "smoke", "--experiment", "el2n", "--outputs", str(tmp_path)])
    assert e.value.code == 2 and "HSLIB_CACHE=" in capsys.readouterr().err
    hdata._official.cache_clear()


def test_a_read_only_hslib_cache_is_one_clear_error_before_any_work(tmp_path, monkeypatch):
    ro = tmp_path / "ro-cache"
    ro.mkdir()
    monkeypatch.setenv("HSLIB_CACHE", str(ro))
    hdata._official.cache_clear()
    Faults(monkeypatch, ro, "readonly")
    with pytest.raises(ValueError, match=re.escape(f"HSLIB_CACHE='{ro}' cannot be written: Read-only file system")):
        train.run(RunConfig(**TINY), tmp_path / "runs", progress="none")
    assert not (tmp_path / "runs").exists()
    hdata._official.cache_clear()


# ------------------------------------------------------------------------- F, G on a real read-only mount
def _read_only_mount_available(tmp_path) -> bool:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        return False
    probe = tmp_path / "probe"
    probe.mkdir()
    cmd = f"mount --bind {probe} {probe} && mount -o remount,bind,ro {probe} && ! touch {probe}/x 2>/dev/null"
    return subprocess.run(["unshare", "-m", "sh", "-c", cmd], capture_output=True).returncode == 0


def test_on_a_real_read_only_mount(finished, tmp_path):
    """The simulated tests' cases on a real read-only bind mount (root, in a private mount namespace)."""
    if not _read_only_mount_available(tmp_path):
        pytest.skip("needs root and unshare to make a read-only bind mount")
    cfgs, root = _finished_copy(finished, tmp_path)
    outputs, ro_cache = root.parent, tmp_path / "ro-cache"
    (tmp_path / "cache").mkdir()
    ro_cache.mkdir()
    code = f"""
import json, os, sys
from hslib import data, store, sweep, train
from hslib.config import RunConfig
cfgs = [RunConfig.from_dict(d) for d in json.loads(sys.argv[1])]
assert len(store.results({str(root)!r})) == 3
df = sweep.run(cfgs, root={str(root)!r}, progress="none")
assert len(df) == 3 and not df.attrs["failed"], df
os.environ["HSLIB_CACHE"] = {str(ro_cache)!r}
data._official.cache_clear()
try:
    train.run(cfgs[0].replace(seed=7), {str(tmp_path / "runs")!r}, progress="none")
except ValueError as e:
    print("CACHE:", e)
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HSLIB_CACHE": str(tmp_path / "cache")}
    script = " && ".join(f"mount --bind {d} {d} && mount -o remount,bind,ro {d}" for d in (outputs, ro_cache))
    p = subprocess.run(["unshare", "-m", "sh", "-c", script + ' && exec "$@"', "sh", sys.executable, "-c", code,
                        json.dumps([c.to_dict() for c in cfgs])], capture_output=True, text=True, env=env,
                       timeout=300)
    assert p.returncode == 0, p.stderr
    assert "[sweep] tables not written: cannot write the results tables" in p.stderr
    assert str(outputs / "results" / "smoke") in p.stderr and "Read-only file system" in p.stderr
    assert "Traceback" not in p.stderr
    assert f"CACHE: HSLIB_CACHE='{ro_cache}' cannot be written: Read-only file system" in p.stdout
    assert not (tmp_path / "runs").exists()
