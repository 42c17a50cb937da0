"""Open local HTML files in headless Chromium (Selenium, the system chromedriver) and check what a reader sees:
every image decoded, every relative link and #anchor leading somewhere. Missing Chromium fails, never skips."""
import contextlib
import shutil
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

INSTALL = ("the browser tests need Chromium, its chromedriver and selenium: `apt-get install -y chromium "
           "chromium-driver` (Debian; `make test` does it as root) and `pip install -e '.[dev]'`")
LOADED = "return Array.from(document.images).every(i => i.complete)"


@contextlib.contextmanager
def chromium():
    """A headless Chromium driven by /usr/bin/chromedriver (or the first on PATH)."""
    binary = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
    driver_path = shutil.which("chromedriver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail(f"selenium is not installed: {INSTALL}")
    if not binary or not driver_path:
        pytest.fail(f"chromium={binary!r}, chromedriver={driver_path!r}: {INSTALL}")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def check_page(driver, path: Path, timeout=30) -> dict:
    """Open `path`; assert every <img> decoded and every internal link resolves; return
    {"title", "images" (count), "pages" (the local .html files it links to)}."""
    from selenium.webdriver.support.ui import WebDriverWait

    path = Path(path).resolve()
    driver.get(path.as_uri())
    WebDriverWait(driver, timeout).until(lambda d: d.execute_script(LOADED))
    broken = driver.execute_script("return Array.from(document.images).filter(i => !(i.naturalWidth > 0))"
                                   ".map(i => (i.getAttribute('src') || '').slice(0, 80))")
    assert not broken, f"{path}: images that did not load: {broken}"
    pages = set()
    hrefs = driver.execute_script("return Array.from(document.querySelectorAll('a[href]'), a => a.getAttribute('href'))")
    for href in hrefs:
        url = urlsplit(href)
        if url.scheme in ("http", "https", "mailto"):
            continue  # the outside world: not checked
        assert not url.scheme and not url.path.startswith("/"), f"{path}: link {href!r} is not relative"
        target = (path.parent / unquote(url.path)).resolve() if url.path else path
        assert target.exists(), f"{path}: link {href!r} leads to {target}, which does not exist"
        if target == path and url.fragment:  # as a browser looks it up: the id as written, else percent-decoded
            assert driver.execute_script("return arguments.length && Array.from(arguments).some(i => "
                                         "document.getElementById(i) !== null)", url.fragment, unquote(url.fragment)), \
                f"{path}: no element with the id of link {href!r}"
        elif target.suffix == ".html" and target != path:
            pages.add(target)
    return {"title": driver.title, "images": driver.execute_script("return document.images.length"), "pages": pages}


def count(driver, selector: str) -> int:
    return driver.execute_script("return document.querySelectorAll(arguments[0]).length", selector)


def check_book(outputs: Path, profile: str) -> dict:
    """Open <outputs>/book/index.html and the profile's book in Chromium: every image decoded, every link
    resolving, one claims row per claims.csv row, and each notebook page titled by its label and showing at
    least the PNG outputs its executed notebook holds. Returns what was seen, for further checks."""
    import csv
    import json

    book = Path(outputs) / "book"
    with chromium() as driver:
        top = check_page(driver, book / "index.html")
        index = book / profile / "index.html"
        assert index.resolve() in top["pages"], f"{book / 'index.html'} does not link {index}"
        seen = check_page(driver, index)
        assert profile in seen["title"], seen["title"]
        claims = Path(outputs) / "results" / profile / "claims.csv"
        with open(claims, newline="") as f:
            rows = sum(1 for _ in csv.DictReader(f))
        assert count(driver, "table#claims > tbody > tr") == rows, f"claims table rows != {rows} rows of {claims}"
        notebooks = sorted(p for p in seen["pages"] if p.parent.name == "notebooks")
        for page in notebooks:
            nb = json.loads((Path(outputs) / "notebooks" / profile / f"{page.stem}.ipynb").read_text())
            pngs = sum("image/png" in o.get("data", {}) for c in nb["cells"] for o in c.get("outputs", []))
            shown = check_page(driver, page)
            assert shown["title"] == page.stem, (page, shown["title"])
            assert shown["images"] >= pngs, f"{page}: {shown['images']} images shown, the notebook has {pngs}"
    return {**seen, "notebooks": notebooks, "claims": rows}
