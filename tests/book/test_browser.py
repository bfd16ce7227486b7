"""The built book in a browser."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")


# The flags a closed network needs: no background connections that would be refused.
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"]


@pytest.fixture(scope="module")
def site(book_html: Path) -> Iterator[str]:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(book_html))
    handler.log_message = lambda *args: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.is_file(), "Debian's chromium is missing: `make test` installs it"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


def _pages(book_html: Path) -> list[str]:
    return sorted(str(path.relative_to(book_html)) for path in book_html.glob("chapters/*.html"))


def _open(browser, url: str):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text)
            if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(url, wait_until="load")
    return page, problems


def test_every_page_loads_without_errors_and_with_its_images(book_html, site, browser):
    shots = book_html.parent / "screenshots"
    shots.mkdir(exist_ok=True)
    pages = _pages(book_html)
    assert len(pages) >= 4
    for name in pages:
        page, problems = _open(browser, f"{site}/{name}")
        images = page.eval_on_selector_all(
            "img", "els => els.map(e => [e.currentSrc, e.complete && e.naturalWidth > 0])")
        page.screenshot(path=str(shots / (Path(name).stem + ".png")), full_page=True)
        page.close()
        assert problems == [], f"{name}: {problems}"
        broken = [src for src, shown in images if not shown]
        assert broken == [], f"{name}: images that did not load: {broken}"


# What a reader meets that does not fit: tables wider than the text column, code or output blocks
# that scroll sideways inside it (one pixel of slack for rounding), and a page wider than the
# screen. Hidden elements (collapsed cells, closed toggles) have no width and are not counted.
LAYOUT_SCRIPT = """() => {
  const article = document.querySelector('article.bd-article') || document.body;
  const column = article.getBoundingClientRect().width;
  const shown = e => e.offsetParent !== null && e.getBoundingClientRect().width > 0;
  const where = e => (e.closest('[id]') || {id: '?'}).id;
  const tables = [...article.querySelectorAll('table')].filter(shown)
      .filter(t => t.getBoundingClientRect().width > column + 1 || t.parentElement.scrollWidth > t.parentElement.clientWidth + 1)
      .map(t => 'table in #' + where(t));
  const blocks = [...article.querySelectorAll('pre')].filter(shown)
      .filter(p => p.scrollWidth > p.clientWidth + 1)
      .map(p => 'block in #' + where(p) + ': ' + p.textContent.split('\\n').find(l => l.length > 60));
  return {tables, blocks, page: document.documentElement.scrollWidth - window.innerWidth,
          markers: (document.body.innerText.match(/NBVAL_/g) || []).length};
}"""


def _layout(browser, url: str, width: int) -> dict:
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(url, wait_until="load")
    found = page.evaluate(LAYOUT_SCRIPT)
    page.close()
    return found


def test_every_table_and_block_fits_its_column_and_no_page_scrolls_sideways(book_html, site,
                                                                             browser):
    wide, sideways, markers = [], [], []
    for name in _pages(book_html):
        desktop = _layout(browser, f"{site}/{name}", 1280)
        wide += [f"{name}: {what}" for what in desktop["tables"] + desktop["blocks"]]
        markers += [name] * desktop["markers"]
        phone = _layout(browser, f"{site}/{name}", 390)
        if phone["page"] > 1:
            sideways.append(f"{name}: {phone['page']} px wider than a 390 px screen")
    assert markers == [], f"nbval markers visible on {sorted(set(markers))}"
    assert sideways == [], "\n".join(sideways)
    assert wide == [], f"{len(wide)} tables or blocks wider than the column at 1280 px:\n" + (
        "\n".join(wide[:40]))


def test_every_page_has_a_dark_mode_screenshot(book_html, site, browser):
    shots = book_html.parent / "screenshots"
    shots.mkdir(exist_ok=True)
    for name in _pages(book_html):
        page = browser.new_page(viewport={"width": 390, "height": 844}, color_scheme="dark")
        page.add_init_script("localStorage.setItem('theme', 'dark'); "
                             "localStorage.setItem('mode', 'dark');")
        page.goto(f"{site}/{name}", wait_until="load")
        theme = page.evaluate("document.documentElement.dataset.theme")
        path = shots / f"{Path(name).stem}-dark-390.png"
        page.screenshot(path=str(path), full_page=True)
        page.close()
        assert theme == "dark", f"{name} did not switch to dark mode ({theme})"
        assert path.stat().st_size > 0


def test_chapters_have_launch_buttons(book_html, site, browser):
    for name in _pages(book_html):
        if not (book_html.parent.parent / name.replace(".html", ".ipynb")).is_file():
            continue  # Markdown pages have no notebook to launch
        page, _ = _open(browser, f"{site}/{name}")
        links = page.eval_on_selector_all("a", "els => els.map(e => e.href)")
        page.close()
        assert any("colab.research.google.com" in link for link in links), name
        assert any("mybinder.org" in link for link in links), name


def test_the_animation_slider_changes_the_frame(book_html, site, browser):
    animated = [name for name in _pages(book_html)
                if 'class="anim-slider' in (book_html / name).read_text()]
    assert animated, "no page has an animation"
    for name in animated:
        page, problems = _open(browser, f"{site}/{name}")
        slider = page.locator("input.anim-slider").first
        frame = page.locator("img[id^='_anim_img']").first
        first = frame.get_attribute("src")
        slider.evaluate("(s) => { s.value = s.max; s.dispatchEvent(new Event('input')); }")
        page.wait_for_function("([img, src]) => img.src !== src", arg=[frame.element_handle(),
                                                                       first])
        assert frame.get_attribute("src") != first
        page.close()
        assert problems == [], f"{name}: {problems}"


def test_search_finds_lbfgs(site, browser):
    page, problems = _open(browser, f"{site}/search.html?q=L-BFGS")
    page.wait_for_selector("#search-results li", timeout=20_000)
    hits = page.locator("#search-results li").count()
    page.close()
    assert hits > 0
    assert problems == [], problems
