"""The book (hslib.book, Sphinx + myst-nb + sphinx-book-theme) of a tiny synthetic outputs folder: its files, what
it folds and labels, its errors, and how it reads in Chromium (sidebar, next/previous, search)."""
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

FIGURE = paper.FIGURES[0]


def png(colour=(200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(buf, format="PNG")
    return buf.getvalue()


def image():
    return nbformat.v4.new_output("display_data", {"image/png": base64.b64encode(png()).decode(),
                                                   "text/plain": "<Figure>"})


def stream(text):
    return nbformat.v4.new_output("stream", name="stdout", text=text)


def write_notebook(path, heading, cells=()):
    """An executed notebook as papermill leaves it: heading, parameters, injected parameters, setup, then `cells`."""
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "hslib", "language": "python",
                                                           "display_name": "Python (hslib)"},
                                            "language_info": {"name": "python", "pygments_lexer": "ipython3"}})
    params = nbformat.v4.new_code_cell('profile = "smoke"', execution_count=1)
    params.metadata["tags"] = ["parameters"]
    injected = nbformat.v4.new_code_cell('# Parameters\nexecutor = "INJECTED-VALUE"', execution_count=2)
    injected.metadata["tags"] = ["injected-parameters"]
    setup = nbformat.v4.new_code_cell("from hslib.notebook import setup\n\nS = setup(profile=profile)",
                                      outputs=[stream("smoke - the profile's description\n")], execution_count=3)
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {heading}\n\nSome text."), params, injected, setup, *cells]
    nbformat.write(nb, str(path))


@pytest.fixture
def outputs(tmp_path, monkeypatch):
    """Three executed notebooks (one of them notebook 03 for method 'set'), one paper figure (PNG, PDF, sidecar),
    a claims.csv of four rows in three families, a reproduction report, and a project with docs/lab.md."""
    out = tmp_path / "outputs"
    executed = out / "notebooks" / "smoke"
    executed.mkdir(parents=True)
    figure_cell = nbformat.v4.new_code_cell(
        f'fig, df = S.figure("{FIGURE.name}")', execution_count=4,
        outputs=[stream("[sweep] 1/2 done, 0 failed\n"), stream("[0123456789ab] snip epoch 1/3 loss 1.0\n"),
                 stream("test accuracy 0.969\n"), stream("[sweep] 2/2 done, 0 failed\n"), image()])
    write_notebook(executed / "00_quickstart.ipynb", "00 · Quickstart",
                   [nbformat.v4.new_markdown_cell("## Training SNIP\n\nSNIP prunes once, before training ([how the ledger "
                                                   "decides](../docs/paper_findings.md#ledger), [claims](08_claims.ipynb))."),
                    figure_cell, nbformat.v4.new_markdown_cell("## A plot of our own"),
                    nbformat.v4.new_code_cell("plt.plot()", outputs=[image()], execution_count=5)])
    write_notebook(executed / "03_sparse_training-set.ipynb", "03 · Training one method")
    write_notebook(executed / "08_claims.ipynb", "08 · Claims")
    figures = out / "figures" / "smoke"
    figures.mkdir(parents=True)
    (figures / f"{FIGURE.name}.png").write_bytes(png((30, 30, 200)))
    (figures / f"{FIGURE.name}.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
    (figures / f"{FIGURE.name}.json").write_text(json.dumps(
        {"figure": 1, "name": FIGURE.name, "profile": "smoke", "panels": [{"letter": "a", "shows": "highest EL2N"}]}))
    results = out / "results" / "smoke"
    results.mkdir(parents=True)
    with open(results / "claims.csv", "w", newline="") as f:
        w = csv.DictWriter(f, ["key", "family", "figure", "panel", "statement", "metric", "diff", "ci_low", "ci_high",
                               "verdict"])
        w.writeheader()
        for i, (family, verdict) in enumerate([("check", "holds"), ("confirmatory", "supported"),
                                               ("confirmatory", "contradicted"),
                                               ("exploratory", "not testable at this profile")]):
            w.writerow({"key": f"k{i}", "family": family, "figure": 1, "panel": "a", "metric": "test_acc",
                        "statement": f"a <finding>, with\na newline {i}", "diff": 0.0123 * i,
                        "ci_low": 0.0123 * i - 0.005, "ci_high": 0.0123 * i + 0.005, "verdict": verdict})
    (results / "reproduction.md").write_text("Every row matches the reference.\n")
    project = tmp_path / "project"
    (project / "docs").mkdir(parents=True)
    (project / "docs" / "lab.md").write_text("# The two-hour lab\n\n## Learning objectives\n\nRead a figure "
                                              "([the quickstart](../notebooks/00_quickstart.ipynb)).\n")
    monkeypatch.setenv("HSLIB_PROJECT", str(project))
    return out


def article(page) -> str:
    """The page's article (what the notebook says), without the theme's sidebar and header."""
    html = page.read_text(encoding="utf-8")
    return html[html.index("<article"):html.index("</article>")]


def test_book_files(outputs):
    index = book.build("smoke", outputs)
    root = index.parent
    assert index == outputs / "book" / "smoke" / "index.html"
    assert sorted(p.name for p in (root / "notebooks").iterdir()) == [
        "00_quickstart.html", "03_sparse_training-set.html", "08_claims.html"]
    assert sorted(p.name for p in (root / "figures").iterdir()) == [f"{FIGURE.name}.pdf", f"{FIGURE.name}.png"]
    assert {"claims.html", "lab.html", "reproduction.html", "search.html", "searchindex.js"} <= {
        p.name for p in root.iterdir()}
    html = index.read_text()
    assert "not drawn" in html  # figures 2-14 have no files here
    assert re.search(r"Not executed at this profile: .*<code[^>]*><span class=\"pre\">01_el2n_scoring</span>", html, re.S)
    assert f'alt="Figure 1: {FIGURE.title}"' in html and f'href="figures/{FIGURE.name}.png"' in html
    assert "Does this reproduction match the reference?" in html and "The two-hour lab" in html

    # The plumbing is folded, papermill's injected cell is gone, the training log is one collapsed block.
    quick = article(root / "notebooks" / "00_quickstart.html")
    assert "INJECTED-VALUE" not in quick and "Parameters" not in quick
    assert len(re.findall(r'class="cell tag_parameters tag_hide-input', quick)) == 1
    assert len(re.findall(r'class="cell tag_hide-input', quick)) == 1  # the setup cell; its output stays
    assert "the profile&#39;s description" in quick or "the profile's description" in quick
    log = re.findall(r'<details class="training-log"><summary>training log \((\d) lines\)</summary><pre>(.*?)</pre>',
                     quick, re.S)
    assert [n for n, _ in log] == ["3"] and "snip epoch 1/3" in log[0][1]
    assert "test accuracy 0.969" in quick.split('class="training-log"')[1]  # after the log, outside it
    assert "test accuracy 0.969" not in log[0][1]
    # Figures: full width, a link to the PNG itself, alt text from the figure table or the section.
    images = re.findall(r'<a class="reference internal image-reference" href="(\.\./_images/[0-9a-f]+\.png)">'
                        r'<img alt="([^"]*)" src="\1" style="width: 100%;"', quick)
    assert [alt for _, alt in images] == [f"Figure 1: {FIGURE.title}", "00 · Quickstart: A plot of our own"]
    assert all((root / "notebooks" / src).resolve().is_file() for src, _ in images)
    assert "(method = set)" in article(root / "notebooks" / "03_sparse_training-set.html")
    # A link to a book page leads there; one to a repository file the book does not hold names the file.
    assert re.search(r'<a class="reference internal" href="08_claims.html"><span[^>]*>claims</span></a>', quick)
    assert 'how the ledger decides (<code class="docutils literal notranslate"><span class="pre">docs/paper_findings.md' \
           '</span></code>)' in quick
    assert re.search(r'href="notebooks/00_quickstart.html"><span[^>]*>the quickstart', article(root / "lab.html"))

    # The claims page: each family apart, confirmatory first, differences in pp, verdict colours.
    claims = article(root / "claims.html")
    assert [m for m in re.findall(r'id="claims-(\w+)"', claims)] == ["confirmatory", "exploratory", "check"]
    assert "&lt;finding&gt;" in claims and 'class="verdict-contradicted"' in claims
    assert '<td class="number">+1.2 pp</td>' in claims and "[+0.7 pp, +1.7 pp]" in claims

    # Nothing fetched from the web when the book is read, and no source copies shipped.
    for page in [*root.rglob("*.html"), *root.rglob("*.css")]:
        text = page.read_text(encoding="utf-8", errors="replace")
        assert not re.search(r"<(script|link|img|iframe)\b[^>]*\b(src|href)=[\"']?(https?:)?//", text), page
        assert not re.search(r"url\([\"']?(https?:)?//", text), page
    assert not (root / "_sources").exists() and not (root / ".buildinfo").exists()
    assert 'href="smoke/index.html"' in (outputs / "book" / "index.html").read_text()

    # A rebuild replaces the book whole: a notebook, the lab and the report gone from their folders are gone here.
    (outputs / "notebooks" / "smoke" / "08_claims.ipynb").unlink()
    (outputs / "results" / "smoke" / "reproduction.md").unlink()
    (outputs.parent / "project" / "docs" / "lab.md").unlink()
    book.build("smoke", outputs)
    assert not (root / "notebooks" / "08_claims.html").exists()
    assert not (root / "lab.html").exists() and not (root / "reproduction.html").exists()
    assert sorted(p.name for p in (outputs / "book").iterdir()) == ["index.html", "smoke"]  # no temporary left


def test_book_errors(tmp_path, capsys):
    missing = tmp_path / "notebooks" / "smoke"
    with pytest.raises(FileNotFoundError, match="make reproduce PROFILE=smoke") as e:
        book.build("smoke", tmp_path)
    assert str(missing) in str(e.value)
    assert not (tmp_path / "book" / "smoke").exists()
    assert book.main(["--profile", "smoke", "--outputs", str(tmp_path)]) == 1
    assert "make reproduce PROFILE=smoke" in capsys.readouterr().err
    with pytest.raises(ValueError, match=r"profile='nope' is not known; allowed values: \['class', 'course'"):
        book.build("nope", tmp_path)
    missing.mkdir(parents=True)
    (missing / "00_quickstart.ipynb").write_text('{"cells": [')  # cut short, as by a full disk
    with pytest.raises(ValueError, match=r"00_quickstart\.ipynb: not a readable notebook .*execute it again"):
        book.build("smoke", tmp_path)
    assert sorted(p.name for p in (tmp_path / "book").iterdir()) == []  # nothing half-built left


def test_book_opens_in_a_browser(outputs):
    book.build("smoke", outputs)
    seen = check_book(outputs, "smoke", query="SNIP")
    assert [p.name for p in seen["pages"]] == ["index.html", "lab.html", "00_quickstart.html",
                                               "03_sparse_training-set.html", "08_claims.html", "claims.html",
                                               "reproduction.html"]
    assert seen["claims"] == 4 and seen["images"] == 1  # the one drawn figure's thumbnail
    # The pages that say SNIP: the notebook, and the index (03_sparse_training-snip is listed as not executed).
    assert sorted(p.name for p in seen["found"]) == ["00_quickstart.html", "index.html"]
