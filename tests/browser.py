"""Open local HTML files in headless Chromium (Selenium, the system chromedriver) and check what a reader sees:
every image decoded, every relative link and #anchor leading somewhere, nothing fetched from the web; for the book
(hslib.book) also its sidebar, next/previous links and search. Missing Chromium fails, never skips."""
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


def external_resources(driver) -> list:
    """What the open page would fetch from the web: scripts, stylesheets, fonts, icons, images, frames."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('script[src], link[href], img[src], iframe[src], source[src]'),"
        " e => e.getAttribute('src') || e.getAttribute('href')).filter(u => /^(https?:)?\\/\\//i.test(u))")


def sidebar(driver, page: Path) -> list:
    """The pages the open page's sidebar (sphinx-book-theme's primary navigation) lists, in order."""
    hrefs = driver.execute_script("return Array.from(document.querySelectorAll('nav.bd-docs-nav a.reference'), "
                                  "a => a.getAttribute('href'))")
    return [(page.parent / unquote(urlsplit(h).path)).resolve() if urlsplit(h).path else page for h in hrefs]


def click(driver, selector: str) -> Path:
    """Click the link `selector` as a reader does; return the local page it led to."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    before = driver.current_url
    link = driver.find_element(By.CSS_SELECTOR, selector)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", link)
    link.click()
    WebDriverWait(driver, 30).until(lambda d: d.current_url != before and d.execute_script(
        "return document.readyState === 'complete'"))
    return Path(unquote(urlsplit(driver.current_url).path)).resolve()


def search(driver, book: Path, query: str, timeout=30) -> list:
    """Search the book as a reader does: the sidebar's search button, `query`, Enter; Sphinx's search page then
    reads searchindex.js, offline. Return the pages it found."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get((book / "index.html").as_uri())
    driver.find_element(By.CSS_SELECTOR, "button.search-button-field").click()
    box = WebDriverWait(driver, timeout).until(lambda d: next(
        (e for e in d.find_elements(By.CSS_SELECTOR, "form.bd-search input") if e.is_displayed()), None))
    box.send_keys(query + Keys.ENTER)
    WebDriverWait(driver, timeout).until(lambda d: urlsplit(d.current_url).path.endswith("/search.html"))
    summary = "return (document.querySelector('#search-results .search-summary') || {}).textContent || ''"
    WebDriverWait(driver, timeout).until(lambda d: d.execute_script(summary).strip())
    hrefs = driver.execute_script("return Array.from(document.querySelectorAll('#search-results ul.search li a'),"
                                  " a => a.getAttribute('href'))")
    return [(book / unquote(urlsplit(h).path)).resolve() for h in hrefs]


def check_book(outputs: Path, profile: str, query: str = "SNIP") -> dict:
    """Open <outputs>/book/index.html and the profile's book in Chromium and read it as a student would: every
    page of the sidebar opens with its images decoded, its links resolving and nothing fetched from the web; the
    sidebar lists the executed notebooks in the series' reading order (hslib.series.SERIES), with the claims page
    after them; clicking "next" from the index walks the sidebar's pages in order and "previous" walks back; the
    claims page has one row per claims.csv row; each notebook page shows at least the PNG outputs its executed
    notebook holds, none without alt text; and the search page finds `query`. Returns what was seen."""
    import csv
    import json

    from hslib.series import SERIES, label

    book = Path(outputs) / "book"
    root = (book / profile).resolve()
    with chromium() as driver:
        driver.set_window_size(1400, 1000)  # wide enough for the sidebar and the page contents to show
        top = check_page(driver, book / "index.html")
        index = root / "index.html"
        assert index in top["pages"], f"{book / 'index.html'} does not link {index}"
        seen = check_page(driver, index)
        assert profile in seen["title"], seen["title"]
        assert not (fetched := external_resources(driver)), f"{index} fetches from the web: {fetched}"
        pages = sidebar(driver, index)
        assert pages[0] == index and len(set(pages)) == len(pages), pages
        executed = [p.stem for p in (Path(outputs) / "notebooks" / profile).glob("*.ipynb")]
        order = [label(n, extra) for n, extra in SERIES]
        order = list(dict.fromkeys(order)) + sorted(set(executed) - set(order))
        notebooks = [p for p in pages if p.parent.name == "notebooks"]
        assert [p.stem for p in notebooks] == [n for n in order if n in executed], [p.stem for p in notebooks]
        assert root / "claims.html" in pages[pages.index(notebooks[-1]):], "the claims page is not after the notebooks"

        walked = [index]  # next/previous, clicked: the sidebar's order forwards, then backwards
        while count(driver, "a.right-next") and len(walked) <= len(pages):
            walked.append(click(driver, "a.right-next"))
        assert walked == pages, f"next walks {walked}, the sidebar lists {pages}"
        back = [walked[-1]]
        while count(driver, "a.left-prev") and len(back) <= len(pages):
            back.append(click(driver, "a.left-prev"))
        assert back == pages[::-1], f"previous walks {back}"

        for page in pages[1:]:
            shown = check_page(driver, page)
            assert not (fetched := external_resources(driver)), f"{page} fetches from the web: {fetched}"
            assert sidebar(driver, page) == pages, f"{page}: its sidebar differs from the index's"
            alts = driver.execute_script("return Array.from(document.querySelectorAll('article img'), i => i.alt)")
            assert all(a and "No description" not in a for a in alts), f"{page}: images without alt text: {alts}"
            if page.parent.name == "notebooks":
                nb = json.loads((Path(outputs) / "notebooks" / profile / f"{page.stem}.ipynb").read_text())
                pngs = sum("image/png" in o.get("data", {}) for c in nb["cells"] for o in c.get("outputs", []))
                assert shown["images"] >= pngs, f"{page}: {shown['images']} images shown, the notebook has {pngs}"
                assert count(driver, "#pst-page-toc-nav a") or not count(driver, "article section section"), \
                    f"{page}: sections but no in-page contents"
        claims = Path(outputs) / "results" / profile / "claims.csv"
        with open(claims, newline="") as f:
            rows = sum(1 for _ in csv.DictReader(f))
        driver.get((root / "claims.html").as_uri())
        assert count(driver, "table.claims > tbody > tr") == rows, f"claims tables' rows != {rows} rows of {claims}"
        found = search(driver, root, query)
        assert found and set(found) <= set(pages), f"searching {query!r} found {found}"
    return {**seen, "pages": pages, "notebooks": notebooks, "claims": rows, "found": found}
