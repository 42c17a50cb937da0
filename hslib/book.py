"""The executed notebooks of a profile as one static website: `python -m hslib.book --profile smoke`.

outputs/book/<profile>/index.html holds the figure index (thumbnails, PNG and PDF), the notebooks in reading
order and the claims table; notebooks/<label>.html are the pages (images embedded, no script from the web) and
figures/ the copied figure files. Every link is relative, so the folder can be moved, zipped or served as is.
A book is built beside the old one and renamed into place: a half-built book is never found under that name.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import sys
import tempfile
from html import escape
from pathlib import Path

from . import store
from .config import PROFILES
from .paper import FIGURES

# The lab template without the scripts it fetches from a CDN (require.js, MathJax, Mermaid), plus a way back.
TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block body_header -%}{{ super() }}<p><a href="../index.html">&larr; book index</a></p>{%- endblock body_header -%}
"""
CSS = """body{font:14px/1.4 sans-serif;margin:2em auto;max-width:1200px}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:3px 6px;vertical-align:top;text-align:left}img.thumb{max-width:240px}
.verdict-supported{background:#d5f5d5}.verdict-contradicted{background:#f8d0d0}.verdict-inconclusive{background:#fdf3c4}
.verdict-not-testable-at-this-profile,.verdict-runs-missing,.verdict-pending{background:#e8e8e8}
.verdict-holds{background:#dde8f5}.verdict-fails{background:#f8d0d0}.missing{color:#999}"""
# The ledger's columns as claims.csv holds them (hslib.claims.COLUMNS): the family and verdict are shown as written.
CLAIM_COLUMNS = ("family", "figure", "panel", "key", "statement", "dataset", "model", "test", "diff", "ci_low",
                 "ci_high", "d_z", "df", "n_seeds", "p_value", "p_adjusted", "verdict")
NUMBERS = ("diff", "ci_low", "ci_high", "d_z", "p_value", "p_adjusted")


def _page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f"<style>{CSS}</style></head>\n<body>\n<h1>{escape(title)}</h1>\n{body}\n</body></html>\n")


def _cell(column: str, value: str) -> str:
    if column == "figure" and value:
        return f'<td><a href="#fig-{escape(value)}">{escape(value)}</a></td>'
    try:
        value = f"{float(value):.3g}" if column in NUMBERS and value else value
    except ValueError:
        pass
    return f"<td>{escape(value)}</td>"


def _figures(profile: str, outputs: Path, tmp: Path, pages: set) -> str:
    rows, source = [], store.folder("figures", profile, outputs)
    (tmp / "figures").mkdir()
    for f in FIGURES:
        meta = json.loads(p.read_text()) if (p := source / f"{f.name}.json").exists() else {}
        panels = "<br>".join(escape(f"({q['letter']}) " * ("title" not in q) + q.get("title", q.get("shows", "")))
                             for q in meta.get("panels", []))
        nb = f'<a href="notebooks/{f.notebook}.html">{f.notebook}</a>' if f.notebook in pages else f.notebook
        files = [ext for ext in ("png", "pdf") if (source / f"{f.name}.{ext}").exists()]
        for ext in files:
            _check_figure(source / f"{f.name}.{ext}")  # a truncated figure stops the build, named
            shutil.copy2(source / f"{f.name}.{ext}", tmp / "figures" / f"{f.name}.{ext}")
        thumb = (f'<a href="figures/{f.name}.png"><img class="thumb" src="figures/{f.name}.png" alt="{f.name}"></a>'
                 if "png" in files else '<span class="missing">not drawn</span>')
        links = " ".join(f'<a href="figures/{f.name}.{ext}">{ext.upper()}</a>' for ext in files)
        rows.append(f'<tr id="fig-{f.number}"><td>{f.number}</td><td>{escape(f.name)}<br>{escape(f.title)}'
                    f"<br><small>{panels}</small></td><td>{nb}</td><td>{thumb}</td><td>{links}</td></tr>")
    return ("<table id=\"figures\"><thead><tr><th>Figure</th><th>Name and panels</th><th>Notebook</th><th>Figure</th>"
            "<th>Files</th></tr></thead><tbody>\n" + "\n".join(rows) + "\n</tbody></table>")


def _check_figure(path: Path):
    """Raise a ValueError naming `path` unless it is a whole figure: a PNG that decodes, a PDF with its end."""
    redraw = "redraw it (run its notebook again), or delete it"
    if path.suffix == ".pdf":
        data = path.read_bytes()
        if not data.startswith(b"%PDF-") or b"%%EOF" not in data[-2048:]:
            raise ValueError(f"{path}: damaged or truncated PDF (no %PDF- header or %%EOF end); {redraw}")
        return
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.verify()  # chunk structure and checksums
        with Image.open(path) as im:
            im.load()  # and every pixel decodes
    except Exception as e:  # PIL raises OSError, SyntaxError, ValueError, ... for damaged files
        raise ValueError(f"{path}: damaged or not a readable PNG ({type(e).__name__}: {e}); {redraw}") from None


def _verdict_class(verdict: str) -> str:
    """'supported (exploratory)' -> 'supported': the colour says the verdict, the family column says its weight."""
    return "-".join(verdict.split(" (")[0].split())


def _claims(profile: str, outputs: Path) -> str:
    path = store.results_file(profile, "claims", outputs)
    if not path.exists():
        return f'<p class="missing">{escape(str(path))} does not exist (notebook 08_claims writes it).</p>'
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    body = "\n".join(f'<tr class="verdict-{_verdict_class(r.get("verdict", ""))}">'
                     + "".join(_cell(c, r.get(c) or "") for c in CLAIM_COLUMNS) + "</tr>" for r in rows)
    head = "".join(f"<th>{c}</th>" for c in CLAIM_COLUMNS)
    note = ("<p>One row per test, as <code>claims.csv</code> holds it: the confirmatory findings first (Holm-adjusted "
            "within their family), then exploratory and control rows (raw p, verdicts labelled with their family) and "
            "the checks (they hold by construction and are never counted as support).</p>")
    return f'{note}\n<table id="claims"><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>'


def build(profile: str, outputs: str | Path | None = None) -> Path:
    """Render outputs/notebooks/<profile>/*.ipynb into outputs/book/<profile>/; return its index.html."""
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    from .series import SERIES, label as label_of

    if profile not in PROFILES:
        raise ValueError(f"profile={profile!r} is not known; allowed values: {sorted(PROFILES)}")
    outputs = store.outputs_root(outputs).resolve()
    source = store.folder("notebooks", profile, outputs)
    if not source.is_dir() or not any(source.glob("*.ipynb")):
        raise FileNotFoundError(f"{source} holds no executed notebooks: run `make reproduce PROFILE={profile}` first")
    labels = list(dict.fromkeys(label_of(n, extra) for n, extra in SERIES))
    labels += sorted({p.stem for p in source.glob("*.ipynb")} - set(labels))  # notebooks outside the series last
    book = store.folder("book", profile, outputs).parent  # one index of every profile's book, then one per profile
    book.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{profile}.building-", dir=book))
    old = tmp.with_name(tmp.name.replace("building", "old"))
    try:
        exporter = HTMLExporter(template_name="lab", template_file="book.html.j2",
                                extra_loaders=[DictLoader({"book.html.j2": TEMPLATE})])
        (tmp / "notebooks").mkdir()
        items = []
        for label in labels:
            nb = source / f"{label}.ipynb"
            if not nb.exists():
                items.append(f'<li>{escape(label)} <span class="missing">not executed</span></li>')
                continue
            html, _ = exporter.from_filename(str(nb))
            (tmp / "notebooks" / f"{label}.html").write_text(html, encoding="utf-8")
            cells = json.loads(nb.read_text())["cells"]
            failed = any(o.get("output_type") == "error" for c in cells for o in c.get("outputs", []))
            heading = next((line.lstrip("# ") for c in cells if c["cell_type"] == "markdown"
                            for line in "".join(c["source"]).splitlines() if line.startswith("#")), "")
            items.append(f'<li><a href="notebooks/{label}.html">{escape(label)}</a> {escape(heading)}'
                         f'{" <b>(a cell failed)</b>" * failed}</li>')
        pages = {p.stem for p in (tmp / "notebooks").glob("*.html")}
        body = (f'<p>Profile <b>{profile}</b>: {escape(PROFILES[profile].get("about", ""))}. '
                f'<a href="../index.html">All profiles</a></p>\n<h2 id="figures-index">Figures</h2>\n'
                f"{_figures(profile, outputs, tmp, pages)}\n<h2 id=\"notebooks\">Notebooks</h2>\n<ol>"
                + "\n".join(items) + f'</ol>\n<h2 id="claims-ledger">Claims</h2>\n{_claims(profile, outputs)}')
        (tmp / "index.html").write_text(_page(f"hslib book: {profile}", body), encoding="utf-8")
        tmp.chmod(0o755)
        final = book / profile
        if final.exists():
            final.rename(old)
        tmp.rename(final)
    finally:
        for d in (tmp, old):
            shutil.rmtree(d, ignore_errors=True)
    built = sorted(d.name for d in book.iterdir() if not d.name.startswith(".") and (d / "index.html").exists())
    links = "\n".join(f'<li><a href="{p}/index.html">{p}</a></li>' for p in built)
    top = book / f".index.html.tmp-{os.getpid()}"
    top.write_text(_page("hslib book", f"<ul>\n{links}\n</ul>"), encoding="utf-8")
    os.replace(top, book / "index.html")
    return final / "index.html"


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m hslib.book", description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="smoke", choices=sorted(PROFILES))
    ap.add_argument("--outputs", default=None, help="outputs root (default: $HSLIB_OUTPUTS, else <project>/outputs)")
    args = ap.parse_args(argv)
    try:
        print(f"[book] {build(args.profile, args.outputs)}")
    except (FileNotFoundError, ValueError) as e:
        print(f"[book] failed: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
