"""The run store reads only plain data: a run folder from someone else cannot execute code when read."""
import pathlib

import pytest
import torch

from hslib import store, train


class _Planted:
    """Unpickling this calls pathlib.Path.touch on a marker file: the way a malicious pickle runs code."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def test_plain_checkpoints_round_trip(tmp_path):
    obj = {"epoch": 3, "model": {"w": torch.arange(6.).reshape(2, 3)}, "history": [{"lr": 0.1, "note": None}],
           "flags": (True, "x")}
    store.save_torch(tmp_path / "a.pt", obj)
    back = store.load_torch(tmp_path / "a.pt")
    assert back["epoch"] == 3 and torch.equal(back["model"]["w"], obj["model"]["w"])
    assert back["history"] == [{"lr": 0.1, "note": None}] and tuple(back["flags"]) == (True, "x")


def test_a_planted_pickle_is_refused_not_executed(tmp_path):
    marker = tmp_path / "executed"
    run = tmp_path / "run"
    run.mkdir()
    # A checkpoint as a foreign run folder could hold it: valid keys, plus an object whose unpickling runs code.
    torch.save({"epoch": 2, "model": {}, "optimizer": {}, "method": {}, "history": [], "x": _Planted(marker)},
               run / "ckpt-0002.pt")
    torch.save({"epoch": 1, "model": {}, "optimizer": {}, "method": {}, "history": []}, run / "ckpt-0001.pt")
    # The unrestricted unpickler would run it (this proves the plant is live) ...
    torch.load(run / "ckpt-0002.pt", weights_only=False)
    assert marker.exists()
    marker.unlink()
    # ... the store refuses it: read as damaged, nothing executed, resume falls back to the clean checkpoint.
    assert store.load_torch(run / "ckpt-0002.pt") is None and not marker.exists()
    assert train._latest_checkpoint(run)["epoch"] == 1 and not marker.exists()


def test_saving_anything_but_plain_data_is_refused(tmp_path):
    with pytest.raises(TypeError, match=r"obj\['x'\] is a _Planted"):
        store.save_torch(tmp_path / "b.pt", {"x": _Planted(tmp_path / "m")})
    with pytest.raises(TypeError, match=r"obj\['g'\]\[1\] is a Generator"):
        store.save_torch(tmp_path / "b.pt", {"g": [1, torch.Generator()]})
    assert not (tmp_path / "b.pt").exists()


def test_clean_runs_removes_exactly_the_generated_folders(tmp_path):
    import subprocess
    import sys

    for name in store.COMMITTED + store.GENERATED:
        (tmp_path / name).mkdir()
        (tmp_path / name / "x").write_text("x")
    out = subprocess.run([sys.executable, "-m", "hslib.store", "clean", "--outputs", str(tmp_path)],
                         capture_output=True, text=True, check=True).stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(store.COMMITTED)
    assert out.count("removed") == len(store.GENERATED)
    makefile = (pathlib.Path(__file__).resolve().parents[1] / "Makefile").read_text()
    assert "-m hslib.store clean" in makefile.split("clean-runs:")[1].split("\n\n")[0]
    with pytest.raises(ValueError, match="name='cache' is not a folder of the outputs layout"):
        store.folder("cache")
