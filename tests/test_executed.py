"""The executed notebooks committed with a profile's reference (store.EXECUTED_REFERENCE: the course), so that a
teacher renders the course book without the hour of training: copied whole or not at all, with no path of the
machine that ran them, never stale against the notebooks they were executed from, and what `make book` renders
in a checkout that has not run the profile."""
import json
import pathlib

import pytest

from hslib import book, paper, reference, store
from hslib.series import EXTENSION_NOTEBOOKS, SERIES, label

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _cells(nb: dict) -> list:
    """(type, source) of every cell but papermill's injected parameters."""
    return [(c["cell_type"], "".join(c["source"]) if isinstance(c["source"], list) else c["source"])
            for c in nb["cells"] if "injected-parameters" not in c.get("metadata", {}).get("tags", [])]


def _labels(profile):
    return [label(n, extra) for n, extra in SERIES if paper.extension(profile) or n not in EXTENSION_NOTEBOOKS]


@pytest.mark.parametrize("profile", store.EXECUTED_REFERENCE)
def test_the_committed_executed_notebooks_are_the_whole_series_from_the_current_sources(profile):
    folder = ROOT / "outputs" / "executed" / profile
    assert sorted(p.stem for p in folder.glob("*.ipynb")) == sorted(_labels(profile))
    for name, extra in SERIES:
        if not (folder / f"{label(name, extra)}.ipynb").exists():
            continue
        text = (folder / f"{label(name, extra)}.ipynb").read_text(encoding="utf-8")
        assert "/tmp/" not in text and str(ROOT) not in text, f"{name}: a path of the machine that ran it"
        executed = json.loads(text)
        assert executed["metadata"]["papermill"]["parameters"]["profile"] == profile
        assert executed["metadata"]["papermill"]["parameters"] == {**executed["metadata"]["papermill"]["parameters"],
                                                                   **extra}
        source = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text(encoding="utf-8"))
        # every cell as the notebook has it now: a notebook edited since `make reference` fails here until the
        # reference is regenerated
        assert _cells(executed) == _cells(source), f"{label(name, extra)} is stale: run make reference PROFILE={profile}"
        errors = [o for c in executed["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, label(name, extra)


def _executed(folder: pathlib.Path, name: str, body: str):
    folder.mkdir(parents=True, exist_ok=True)
    nb = {"cells": [{"cell_type": "code", "metadata": {}, "source": "print(1)", "execution_count": 1,
                     "outputs": [{"output_type": "stream", "name": "stdout", "text": body}]}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (folder / f"{name}.ipynb").write_text(json.dumps(nb), encoding="utf-8")


def test_commit_executed_copies_all_or_nothing_and_makes_paths_relative(tmp_path):
    outputs = tmp_path / "outputs"
    fresh = store.folder("notebooks", "course", outputs)
    _executed(fresh, "01_a", f"scores -> {outputs}/scores/digits-resnet18-abc\n")
    _executed(fresh, "02_b", "no path\n")
    target = reference.commit_executed("course", ["01_a", "02_b"], outputs)
    assert target == outputs / "executed" / "course"
    assert sorted(p.name for p in target.iterdir()) == ["01_a.ipynb", "02_b.ipynb"]
    text = (target / "01_a.ipynb").read_text()
    assert "scores -> outputs/scores/digits-resnet18-abc" in text and str(tmp_path) not in text
    # a label without its executed notebook: one error naming it, and the committed copies stay as they were
    with pytest.raises(FileNotFoundError, match=r"lacks the executed notebooks \['03_c'\]: nothing was copied"):
        reference.commit_executed("course", ["01_a", "03_c"], outputs)
    assert sorted(p.name for p in target.iterdir()) == ["01_a.ipynb", "02_b.ipynb"]
    assert [p.name for p in target.parent.iterdir()] == ["course"]  # no temporary folder left beside it
    # a second copy replaces the folder: a notebook no longer in the series does not linger
    reference.commit_executed("course", ["02_b"], outputs)
    assert [p.name for p in target.iterdir()] == ["02_b.ipynb"]


def test_a_book_renders_the_committed_executed_notebooks_where_the_checkout_has_none(tmp_path):
    outputs = tmp_path / "outputs"
    with pytest.raises(FileNotFoundError, match=r"holds no executed notebooks: run `make reproduce PROFILE=course`"):
        book.executed_notebooks("course", outputs)
    _executed(outputs / "executed" / "course", "01_a", "x\n")
    assert book.executed_notebooks("course", outputs) == outputs / "executed" / "course"
    _executed(outputs / "notebooks" / "course", "01_a", "y\n")  # this checkout's own reproduction comes first
    assert book.executed_notebooks("course", outputs) == outputs / "notebooks" / "course"


@pytest.mark.slow  # Sphinx renders the 17 course notebooks (about 30 s)
def test_the_course_book_renders_from_the_committed_reference_alone(tmp_path):
    import shutil

    outputs = tmp_path / "outputs"  # a fresh clone: the committed reference, nothing executed here
    for name in store.COMMITTED:
        shutil.copytree(ROOT / "outputs" / name / "course", outputs / name / "course")
    index = book.build("course", outputs)
    assert index == outputs / "book" / "course" / "index.html"
    pages = {p.stem for p in (index.parent / "notebooks").glob("*.html")}
    assert pages == set(_labels("course"))
    assert (index.parent / "claims.html").exists()
