"""The book (hslib.book) of a tiny synthetic outputs folder: its files, its errors, and how it looks in Chromium."""
import base64
import csv
import io
import json
import re

import nbformat
import pytest
from PIL import Image

from browser import check_book
from hslib import book, paper


def png(colour=(200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(buf, format="PNG")
    return buf.getvalue()


def write_notebook(path, heading, image=True):
    nb = nbformat.v4.new_notebook()
    outputs = [nbformat.v4.new_output("display_data", {"image/png": base64.b64encode(png()).decode(),
                                                       "text/plain": "<Figure>"})] if image else []
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {heading}\n\nSome text."),
                nbformat.v4.new_code_cell("show()", outputs=outputs, execution_count=1)]
    nbformat.write(nb, str(path))


@pytest.fixture
def outputs(tmp_path):
    """Two executed notebooks, one paper figure (PNG, PDF, sidecar) and a claims.csv of three rows."""
    out = tmp_path / "outputs"
    (out / "notebooks" / "smoke").mkdir(parents=True)
    write_notebook(out / "notebooks" / "smoke" / "00_quickstart.ipynb", "00 · Quickstart")
    write_notebook(out / "notebooks" / "smoke" / "08_claims.ipynb", "08 · Claims", image=False)
    figures = out / "figures" / "smoke"
    figures.mkdir(parents=True)
    spec = paper.FIGURES[0]
    (figures / f"{spec.name}.png").write_bytes(png((30, 30, 200)))
    (figures / f"{spec.name}.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
    (figures / f"{spec.name}.json").write_text(json.dumps(
        {"figure": 1, "name": spec.name, "profile": "smoke", "panels": [{"letter": "a", "shows": "highest EL2N"}]}))
    (out / "results" / "smoke").mkdir(parents=True)
    with open(out / "results" / "smoke" / "claims.csv", "w", newline="") as f:
        w = csv.DictWriter(f, ["key", "figure", "panel", "statement", "kind", "diff", "verdict"])
        w.writeheader()
        for i, verdict in enumerate(["supported", "contradicted", "not testable at this profile"]):
            w.writerow({"key": f"k{i}", "figure": 1, "panel": "a", "statement": f"a <finding>, with\na newline {i}",
                        "kind": "statistical", "diff": 0.0123 * i, "verdict": verdict})
    return out


def test_book_files(outputs):
    index = book.build("smoke", outputs)
    assert index == outputs / "book" / "smoke" / "index.html"
    pages = sorted(p.name for p in (index.parent / "notebooks").iterdir())
    assert pages == ["00_quickstart.html", "08_claims.html"]
    name = paper.FIGURES[0].name
    assert sorted(p.name for p in (index.parent / "figures").iterdir()) == [f"{name}.pdf", f"{name}.png"]
    html = index.read_text()
    assert "not executed" in html and 'href="notebooks/01_el2n_scoring.html"' not in html
    assert "not drawn" in html  # figures 2-14 have no files here
    assert "&lt;finding&gt;" in html and 'class="verdict-contradicted"' in html
    assert html.index("00_quickstart") < html.index("03_sparse_training-set") < html.index("08_claims")
    assert not re.search(r"<script[^>]*\bsrc=", (index.parent / "notebooks" / "00_quickstart.html").read_text())
    assert 'href="smoke/index.html"' in (outputs / "book" / "index.html").read_text()
    # A rebuild replaces the book whole: a notebook gone from the folder is gone from the book.
    (outputs / "notebooks" / "smoke" / "08_claims.ipynb").unlink()
    book.build("smoke", outputs)
    assert not (index.parent / "notebooks" / "08_claims.html").exists()
    assert sorted(p.name for p in (outputs / "book").iterdir()) == ["index.html", "smoke"]  # no temporary left


def test_book_errors(tmp_path, capsys):
    missing = tmp_path / "notebooks" / "smoke"
    with pytest.raises(FileNotFoundError, match="make reproduce PROFILE=smoke") as e:
        book.build("smoke", tmp_path)
    assert str(missing) in str(e.value)
    assert not (tmp_path / "book" / "smoke").exists()
    assert book.main(["--profile", "smoke", "--outputs", str(tmp_path)]) == 1
    assert "make reproduce PROFILE=smoke" in capsys.readouterr().err
    with pytest.raises(ValueError, match="allowed values"):
        book.build("nope", tmp_path)


def test_book_opens_in_a_browser(outputs):
    book.build("smoke", outputs)
    seen = check_book(outputs, "smoke")
    assert seen["claims"] == 3 and seen["images"] == 1  # the one figure's thumbnail
    assert [p.name for p in seen["notebooks"]] == ["00_quickstart.html", "08_claims.html"]
