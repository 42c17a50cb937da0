"""The executed notebooks of a profile as one static website: `python -m hslib.book --profile smoke`.

Sphinx builds it, with myst-nb (execution off: it renders the notebooks that `make reproduce` executed) and
sphinx-book-theme: a sidebar in reading order (`hslib.series.SERIES`), next/previous links, a search that
works offline, and each page's contents beside it. hslib only decides what goes in: the configuration (`conf`),
the tags that fold a copy's plumbing cells (`prepare`), the figures' alt text (`hslib.paper.FIGURES`), the index
with its figure index, the claims page, and the lab and reproduction pages when they exist. Nothing is fetched
at build or view time, and every link is relative, so outputs/book/<profile>/ can be moved, zipped or served as
is. A book is built beside the old one and renamed into place: a half-built book is never found under that name.
"""
from __future__ import annotations

import argparse
import ast
import csv
import os
import posixpath
import re
import shutil
import sys
import tempfile
from html import escape
from pathlib import Path

from . import store
from .files import replace_folder
from .claims import amount  # the ledger's words for a difference: pp for accuracies
from .config import PROFILES
from .findings import FAMILIES
from .paper import FIGURES
from .series import SERIES, label as label_of

# What the sweep and a training run print while they work: folded into one "training log" per cell.
LOG_LINE = re.compile(r"^\[(sweep|hslib|[0-9a-f]{12})\] ")
REPRODUCTION_TITLE = "Does this reproduction match the reference?"
LINK = re.compile(r"(?<!!)\[([^\]\n]+)\]\(([^)\s]+)\)")  # a Markdown link, not an image
CSS = """/* Figures take the text column's full width (width 100% per image: Sphinx then links it to the PNG itself),
   and the text column takes wide screens. */
div.cell_output img { max-width: 100%; height: auto; }
.bd-page-width { max-width: 110rem; }
/* Wide tables scroll inside their box instead of running off the page. */
div.cell_output .output.text_html, div.table-scroll { overflow-x: auto; max-width: 100%; }
table.book { border-collapse: collapse; font-size: 0.85em; }
table.book td, table.book th { border: 1px solid #ccc; padding: 2px 6px; vertical-align: top; text-align: left; }
table.book td.number { text-align: right; white-space: nowrap; }
table.claims td:nth-child(3) { min-width: 18em; } table.claims td:nth-child(4), table.claims td:nth-child(5) { min-width: 9em; }
img.thumb { max-width: 320px; }
details.training-log > summary { cursor: pointer; color: #555; }
.verdict-supported { background: #d5f5d5; } .verdict-contradicted, .verdict-fails { background: #f8d0d0; }
.verdict-inconclusive { background: #fdf3c4; } .verdict-holds { background: #dde8f5; }
.verdict-not-testable-at-this-profile, .verdict-runs-missing, .verdict-pending { background: #e8e8e8; }
.missing { color: #999; }
"""
FAMILY_NOTES = {
    "confirmatory": "The registered findings, one test each; p is Holm-adjusted within this family.",
    "exploratory": "One row per panel, raw p: a lead, not a result.",
    "control": "The controls beside LTH (equal training compute, a fresh initialisation), raw p.",
    "check": "Checks hold by construction and are never counted as support.",
}
# (claims.csv column or a derived one, its heading): the ledger as a reader needs it, differences in the metric's words.
CLAIM_COLUMNS = (("figure", "Figure"), ("panel", "Panel"), ("statement", "Statement"), ("group_a", "A"),
                 ("group_b", "B"), ("pair", "Data / model"), ("diff", "A − B"), ("ci", "95% CI"), ("d_z", "d_z"),
                 ("n_seeds", "Seeds"), ("p_value", "p"), ("p_adjusted", "p (Holm)"), ("verdict", "Verdict"))


def conf(profile: str) -> dict:
    """The Sphinx configuration of a profile's book (written out as its conf.py)."""
    return {
        "project": f"hslib book: {profile}",
        "html_title": f"hslib book: {profile}",
        "extensions": ["myst_nb"],
        "nb_execution_mode": "off",  # render what `make reproduce` executed; never run a notebook again
        "nb_ipywidgets_js": {},  # no widget scripts from a CDN
        "html_theme": "sphinx_book_theme",
        "html_theme_options": {"home_page_in_toc": True, "use_download_button": False, "show_toc_level": 2},
        "html_static_path": ["_static"],
        "html_css_files": ["book.css"],
        "html_extra_path": ["_extra"],  # the paper figures' PNG and PDF files, under figures/
        "html_copy_source": False,
        "html_show_sourcelink": False,
        "html_show_copyright": False,
        "exclude_patterns": ["_extra", "_static"],
        "language": "en",
    }


# ------------------------------------------------------------------------------------------ the notebooks
def _is_setup(source: str) -> bool:
    """Imports only, or the cell that calls hslib.notebook's `setup`: plumbing whose output still matters."""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython magics: not ours to judge
        return False
    calls = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    return bool(tree.body) and ("setup" in calls or all(isinstance(s, (ast.Import, ast.ImportFrom)) for s in tree.body))


def _fold_log(outputs: list) -> list:
    """The cell's outputs with every log line of the sweep and its runs moved into one collapsed block."""
    import nbformat

    kept, log, at = [], [], None
    for out in outputs:
        if out.get("output_type") != "stream":
            kept.append(out)
            continue
        lines = out["text"].splitlines(keepends=True)
        if at is None and any(LOG_LINE.match(line) for line in lines):
            at = len(kept)
        log += [line for line in lines if LOG_LINE.match(line)]
        if rest := "".join(line for line in lines if not LOG_LINE.match(line)):
            kept.append(nbformat.v4.new_output("stream", name=out["name"], text=rest))
    if log:
        text = "".join(log)
        html = (f'<details class="training-log"><summary>training log ({len(log)} lines)</summary>'
                f"<pre>{escape(text)}</pre></details>")
        kept.insert(at, nbformat.v4.new_output("display_data", {"text/html": html, "text/plain": text}))
    return kept


def relink(markdown: str, folder: str, at: str, pages: set) -> str:
    """Markdown written at `folder` of the repository, shown at `at` in the book: a link to a page of the book
    (`pages`, paths of the book's sources) leads there; a link to another file of the repository, which the
    book does not hold, becomes its text and the file's path."""
    def one(m):
        text, target = m.groups()
        if re.match(r"[a-z][a-z0-9+.-]*:|#", target):  # the web, or this page
            return m.group(0)
        path, _, anchor = target.partition("#")
        where = posixpath.normpath(posixpath.join(folder, path))
        if where in pages:
            return f"[{text}]({posixpath.relpath(where, at or '.')}{'#' * bool(anchor)}{anchor})"
        return f"{text} (`{where}`)"
    return LINK.sub(one, markdown)


def prepare(source: Path, label: str, extra: dict, target: Path, pages: set = frozenset()):
    """Copy an executed notebook to `target` ready for myst-nb: papermill's injected cell removed, the parameters
    and setup cells folded, logs folded, figures full width with alt text; the title names its extra parameters,
    and says so when a cell failed."""
    import nbformat

    try:
        nb = nbformat.read(source, as_version=4)
    except Exception as e:  # nbformat raises JSON, validation and reader errors alike
        raise ValueError(f"{source}: not a readable notebook ({type(e).__name__}: {e}); execute it again") from None
    failed = any(o.get("output_type") == "error" for c in nb.cells for o in c.get("outputs", []))
    suffix = "".join(f" ({k} = {v})" for k, v in extra.items()) + " (a cell failed)" * failed
    title = section = None
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = relink(cell.source, "notebooks", "notebooks", pages)
            for i, line in enumerate(lines := cell.source.splitlines()):
                if title is None and line.startswith("# "):
                    title = line[2:].strip() + suffix
                    lines[i] = f"# {title}"
                    cell.source = "\n".join(lines)
                elif line.startswith("##"):
                    section = line.lstrip("#").strip()
            continue
        if cell.cell_type != "code":
            continue
        tags = cell.metadata.setdefault("tags", [])
        if "injected-parameters" in tags:
            tags.append("remove-cell")  # papermill's values: the parameters cell above says the same
        elif "parameters" in tags or _is_setup(cell.source):
            tags.append("hide-input")
        cell.outputs = _fold_log(cell.get("outputs", []))
        for out in cell.outputs:
            if "text/markdown" in out.get("data", {}):
                out["data"]["text/markdown"] = relink(out["data"]["text/markdown"], "notebooks", "notebooks", pages)
        if any("image/png" in o.get("data", {}) for o in cell.outputs):
            figure = next((f for f in FIGURES if f.name in cell.source), None)
            alt = (f"Figure {figure.number}: {figure.title}" if figure
                   else ": ".join(filter(None, (title or label, section))))
            cell.metadata.setdefault("mystnb", {})["image"] = {"width": "100%", "alt": alt}
    if title is None:  # a page needs a title: the label
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(f"# {label}{suffix}"))
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(target))


# ------------------------------------------------------------------------------------------ generated pages
def _raw(html: str) -> str:
    return f"```{{raw}} html\n{html}\n```\n"


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


def _figure_index(profile: str, outputs: Path, extra: Path, pages: set) -> str:
    """The paper's figures as a table: title and panels, notebook, thumbnail (a click opens the PNG), files."""
    import json

    rows, source = [], store.folder("figures", profile, outputs)
    (extra / "figures").mkdir(parents=True)
    for f in FIGURES:
        meta = json.loads(p.read_text()) if (p := source / f"{f.name}.json").exists() else {}
        panels = "<br>".join(escape(f"({q['letter']}) " * ("title" not in q) + q.get("title", q.get("shows", "")))
                             for q in meta.get("panels", []))
        nb = f'<a href="notebooks/{f.notebook}.html">{f.notebook}</a>' if f.notebook in pages else f.notebook
        files = [ext for ext in ("png", "pdf") if (source / f"{f.name}.{ext}").exists()]
        for ext in files:
            _check_figure(source / f"{f.name}.{ext}")  # a truncated figure stops the build, named
            shutil.copy2(source / f"{f.name}.{ext}", extra / "figures" / f"{f.name}.{ext}")
        alt = escape(f"Figure {f.number}: {f.title}", quote=True)
        thumb = (f'<a href="figures/{f.name}.png"><img class="thumb" src="figures/{f.name}.png" alt="{alt}"></a>'
                 if "png" in files else '<span class="missing">not drawn</span>')
        links = " ".join(f'<a href="figures/{f.name}.{ext}">{ext.upper()}</a>' for ext in files)
        rows.append(f'<tr id="fig-{f.number}"><td>{f.number}</td><td>{escape(f.title)}<br><small>{escape(f.name)}'
                    f"<br>{panels}</small></td><td>{nb}</td><td>{thumb}</td><td>{links}</td></tr>")
    return ('<div class="table-scroll"><table class="book" id="figures"><thead><tr><th>Figure</th>'
            "<th>Title and panels</th><th>Notebook</th><th>Figure (click to enlarge)</th><th>Files</th></tr></thead>"
            "<tbody>\n" + "\n".join(rows) + "\n</tbody></table></div>")


def _number(value: str) -> str:
    try:
        return f"{float(value):.3g}"
    except ValueError:
        return value


def _claim_cell(column: str, row: dict) -> str:
    get, metric = (lambda c: row.get(c) or ""), row.get("metric") or ""
    if column == "figure" and get("figure"):
        return f'<td><a href="index.html#fig-{escape(get("figure"))}">{escape(get("figure"))}</a></td>'
    if column == "pair":
        return f"<td>{escape(' / '.join(filter(None, (get('dataset'), get('model')))))}</td>"
    if column == "diff" and get("diff"):
        return f'<td class="number">{escape(amount(float(get("diff")), metric))}</td>'
    if column == "ci":
        low, high = get("ci_low"), get("ci_high")
        text = f"[{amount(float(low), metric)}, {amount(float(high), metric)}]" if low and high else ""
        return f'<td class="number">{escape(text)}</td>'
    if column in ("d_z", "p_value", "p_adjusted", "n_seeds"):
        return f'<td class="number">{escape(_number(get(column)))}</td>'
    return f"<td>{escape(get(column))}</td>"


def _verdict_class(verdict: str) -> str:
    """'supported (exploratory)' -> 'supported': the colour says the verdict, the section says its family."""
    return "-".join(verdict.split(" (")[0].split())


def _claims_page(profile: str, outputs: Path) -> str:
    path = store.results_file(profile, "claims", outputs)
    head = (f"# Claims: what `{profile}` says about the paper\n\nOne row per test of `claims.csv` (notebook 08 "
            "writes it), each family apart. A − B and its 95% confidence interval are in the metric's words: "
            "percentage points (pp) for accuracies. The colour is the verdict.\n\n")
    if not path.exists():
        return head + f"`{path.name}` does not exist at this profile: notebook 08_claims writes it.\n"
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    found = {r.get("family") or "" for r in rows}
    parts = [head]
    for family in (*FAMILIES, *sorted(found - set(FAMILIES))):
        members = [r for r in rows if (r.get("family") or "") == family]
        if not members:
            continue
        body = "\n".join(f'<tr class="verdict-{_verdict_class(r.get("verdict") or "")}">'
                         + "".join(_claim_cell(c, r) for c, _ in CLAIM_COLUMNS) + "</tr>" for r in members)
        heads = "".join(f"<th>{escape(h)}</th>" for _, h in CLAIM_COLUMNS)
        parts.append(f"## {family.capitalize() or 'Without a family'} ({len(members)} rows)\n\n"
                     f"{FAMILY_NOTES.get(family, '')}\n\n"
                     + _raw(f'<div class="table-scroll"><table class="book claims" id="claims-{family or "none"}">'
                            f"<thead><tr>{heads}</tr></thead><tbody>\n{body}\n</tbody></table></div>"))
    return "\n".join(parts)


def _titled(text: str, title: str) -> str:
    """A Markdown page that opens with a title: its own first heading, else `title`."""
    return text if text.lstrip().startswith("# ") else f"# {title}\n\n{text}"


def _index_page(profile: str, entries: list, missing: list, figures: str) -> str:
    """The root page: what the book is, its contents (the sidebar's toctrees) and the figure index."""
    toctrees = "\n".join(f"```{{toctree}}\n:caption: {caption}\n:maxdepth: 1\n\n"
                         + "\n".join(docs) + "\n```\n"
                         for caption, docs in entries if docs)
    absent = (f"Not executed at this profile: {', '.join(f'`{m}`' for m in missing)}.\n\n" if missing else "")
    return (f"# hslib book: {profile}\n\n"
            f"The notebooks of *Are Sparse Neural Networks Better Hard Sample Learners?* (Xiao et al., BMVC 2024) "
            f"as `make reproduce PROFILE={profile}` executed them, in reading order: profile `{profile}`, "
            f"{PROFILES[profile].get('about', '')}. Code that only sets a notebook up is folded (click to show "
            f"it); every figure opens full size on a click. <a href='../index.html'>All profiles</a>.\n\n"
            f"{toctrees}\n{absent}## Figures\n\n{_raw(figures)}")


# ------------------------------------------------------------------------------------------ the build
def _sphinx(source: Path, doctrees: Path, target: Path):
    from sphinx.cmd.build import build_main

    warnings = source.parent / "warnings.txt"  # also shown as they come
    code = build_main(["-b", "html", "-q", "-E", "-d", str(doctrees), "-w", str(warnings), str(source), str(target)])
    if code:
        tail = warnings.read_text(errors="replace")[-2000:] if warnings.exists() else ""
        raise RuntimeError(f"sphinx-build failed (exit status {code}) on the book's sources: {tail}")


def _write_sources(profile: str, outputs: Path, notebooks: Path, src: Path):
    """Everything Sphinx reads: conf.py, the index, the prepared notebooks, claims, lab and reproduction."""
    labels = [(label_of(n, extra), extra) for n, extra in SERIES]
    labels = list(dict(labels).items())
    labels += [(p.stem, {}) for p in sorted(notebooks.glob("*.ipynb")) if p.stem not in dict(labels)]  # others last
    pages, missing = [], []
    sources = {f"notebooks/{label}.ipynb" for label, _ in labels if (notebooks / f"{label}.ipynb").exists()}
    for label, extra in labels:
        if not (notebooks / f"{label}.ipynb").exists():
            missing.append(label)
            continue
        prepare(notebooks / f"{label}.ipynb", label, extra, src / "notebooks" / f"{label}.ipynb", sources)
        pages.append(f"notebooks/{label}")  # titled by its first heading
    lab = store.project_root() / "docs" / "lab.md"
    reproduction = store.folder("results", profile, outputs) / "reproduction.md"
    results = ["claims"]
    if reproduction.exists():
        here = Path(os.path.relpath(reproduction.parent, store.project_root())).as_posix()  # where its links start
        text = relink(reproduction.read_text(), here, "", sources)
        (src / "reproduction.md").write_text(_titled(text, REPRODUCTION_TITLE), encoding="utf-8")
        results.append(f"{REPRODUCTION_TITLE} <reproduction>")  # the sidebar asks the question, whatever its heading
    guide = []
    if lab.exists():
        (src / "lab.md").write_text(_titled(relink(lab.read_text(), "docs", "", sources), "The lab"), encoding="utf-8")
        guide.append("lab")
    (src / "claims.md").write_text(_claims_page(profile, outputs), encoding="utf-8")
    figures = _figure_index(profile, outputs, src / "_extra", {d.split("/")[1] for d in pages})
    entries = [("The lab", guide), ("Notebooks", pages), ("Results", results)]
    (src / "index.md").write_text(_index_page(profile, entries, missing, figures), encoding="utf-8")
    (src / "_static").mkdir()
    (src / "_static" / "book.css").write_text(CSS, encoding="utf-8")
    (src / "conf.py").write_text("".join(f"{k} = {v!r}\n" for k, v in conf(profile).items()), encoding="utf-8")


def _page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f"<style>body{{font:15px/1.4 sans-serif;margin:2em auto;max-width:50em}}</style></head>\n"
            f"<body>\n<h1>{escape(title)}</h1>\n{body}\n</body></html>\n")


def executed_notebooks(profile: str, outputs=None) -> Path:
    """The folder of executed notebooks a book renders: this checkout's own (notebooks/<profile>/, from `make
    reproduce`), else the committed ones of the profile's reference (executed/<profile>/, store.EXECUTED_REFERENCE)."""
    for folder in (store.folder("notebooks", profile, outputs), store.folder("executed", profile, outputs, reference=True)):
        if folder.is_dir() and any(folder.glob("*.ipynb")):
            return folder
    raise FileNotFoundError(f"{store.folder('notebooks', profile, outputs)} holds no executed notebooks: run "
                            f"`make reproduce PROFILE={profile}` first")


def build(profile: str, outputs: str | Path | None = None) -> Path:
    """Render the executed notebooks of `profile` (executed_notebooks) into outputs/book/<profile>/; return its
    index.html."""
    if profile not in PROFILES:
        raise ValueError(f"profile={profile!r} is not known; allowed values: {sorted(PROFILES)}")
    outputs = store.outputs_root(outputs).resolve()
    notebooks = executed_notebooks(profile, outputs)
    book = store.folder("book", profile, outputs).parent  # one index of every profile's book, then one per profile
    book.mkdir(parents=True, exist_ok=True)
    # Sources, doctrees and myst-nb's side folder (beside the HTML, by its design) all stay in this one folder.
    tmp = Path(tempfile.mkdtemp(prefix=f".{profile}.building-", dir=book))
    html = tmp / "html"
    try:
        (tmp / "src").mkdir()
        _write_sources(profile, outputs, notebooks, tmp / "src")
        _sphinx(tmp / "src", tmp / "doctrees", html)
        (html / ".buildinfo").unlink(missing_ok=True)  # Sphinx's incremental-build record: no use in a finished book
        shutil.rmtree(html / "_sources", ignore_errors=True)  # left empty, as no source is copied
        html.chmod(0o755)
        final = replace_folder(html, book / profile)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
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
    except (FileNotFoundError, ValueError, RuntimeError) as e:
        print(f"[book] failed: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
