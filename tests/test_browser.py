"""The built book in a real browser: Debian's Chromium, headless, driven by Selenium through
chromium-driver (apt-get install -y chromium chromium-driver; .ci/run installs them when missing).

One browser session visits every page of the smoke book that tests/test_book.py builds (the shared
`executed_book` fixture, tests/conftest.py) at a phone's width, 390 px, with every host name
unresolvable (so the book is read offline), and records what each page shows; the tests below judge
those records. Then the Scorecard page is driven at 1400 px: each verdict filter must show exactly the
claims with that verdict. Marked `book` (it needs the built book), so it runs in `make test`.
"""
from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from selenium.common.exceptions import TimeoutException

pytestmark = pytest.mark.book

PHONE = (390, 844)
SCRIPT_TIMEOUT = 20  # seconds a page has to load and typeset
DESKTOP = (1400, 1000)
FILE_NAME = re.compile(r"(^|/)[\w.-]+\.(png|svg|jpe?g|gif|webp)$", re.IGNORECASE)
PACKAGES = "apt-get install -y chromium chromium-driver (Debian), then `make setup` for selenium"

# What a page reports: its widths, its images, its links and whether MathJax finished (run in the page).
SURVEY = """
const done = arguments[arguments.length - 1];
const typeset = window.MathJax && MathJax.startup && MathJax.startup.promise ? MathJax.startup.promise
                                                                              : Promise.resolve();
// MathJax typesets after the load event; wait for it, but never more than 10 s.
Promise.race([typeset.catch(() => null), new Promise(resolve => setTimeout(resolve, 10000))]).then(() => {
  const root = document.documentElement;
  done({
    scrollWidth: Math.max(root.scrollWidth, document.body.scrollWidth),
    viewport: window.innerWidth,
    wide: Array.from(document.querySelectorAll("body *")).filter(e => {
      const box = e.getBoundingClientRect();
      return box.width > 0 && box.right > 391 && getComputedStyle(e).position !== "fixed"  // 390 px + rounding
             && !e.closest(".table-scroll, .output, mjx-container, pre, .bd-sidebar-primary, .bd-sidebar-secondary");
    }).slice(0, 5).map(e => e.tagName + "." + e.className),
    images: Array.from(document.images).map(i => ({src: i.getAttribute("src"), alt: i.getAttribute("alt")})),
    links: Array.from(document.querySelectorAll("a[href]")).map(a => a.href),
  });
});
"""


@dataclass
class PageVisit:
    scroll_width: int
    viewport: int
    wide: list
    images: list
    links: list
    console: list = field(default_factory=list)


def _driver(width: int, height: int):
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as error:
        pytest.fail(f"selenium is not installed ({error}): {PACKAGES}")

    browser, driver = shutil.which("chromium") or shutil.which("chromium-browser"), shutil.which("chromedriver")
    if not browser or not driver:
        pytest.fail(f"Chromium or its driver is missing (chromium: {browser}, chromedriver: {driver}): {PACKAGES}")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--host-resolver-rules=MAP * ~NOTFOUND", "--disable-background-networking",
                     "--disable-component-update", "--no-first-run", f"--window-size={width},{height}"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=driver), options=options)


def _pages(built: Path) -> list[Path]:
    """The book's pages: not the theme's template fragments under _static/, nor index.html, which only
    redirects to the landing page (`test_the_index_redirects_to_the_landing_page`)."""
    return sorted(p for p in built.rglob("*.html")
                  if "_static" not in p.relative_to(built).parts and p.relative_to(built).as_posix() != "index.html")


@pytest.fixture(scope="module")
def browser():
    driver = _driver(*DESKTOP)
    driver.set_script_timeout(SCRIPT_TIMEOUT)
    yield driver
    driver.quit()


def _emulate(driver, width: int, height: int, mobile: bool) -> None:
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})


def _load(driver, page: Path) -> None:
    """Open `page` and wait until the browser shows it, fully loaded (`get` can return while the
    previous document is still the current one)."""
    from selenium.webdriver.support.ui import WebDriverWait

    url = page.resolve().as_uri()
    driver.get(url)
    WebDriverWait(driver, SCRIPT_TIMEOUT).until(
        lambda d: d.execute_script("return document.URL === arguments[0] && document.readyState === 'complete'", url))


def _survey(driver, page: Path) -> dict | None:
    """What `page` reports (SURVEY) once loaded, or None if it does not answer in time."""
    _load(driver, page)
    try:
        return driver.execute_async_script(SURVEY)
    except TimeoutException:
        return None


@pytest.fixture(scope="module")
def visits(browser, executed_book) -> dict[str, PageVisit]:
    """Every page of the book at 390 px: what it reported, and its console messages."""
    _emulate(browser, *PHONE, mobile=True)
    found = {}
    browser.get_log("browser")  # start with an empty console
    for page in _pages(executed_book):
        report = _survey(browser, page)
        if report is None:  # now and then a page does not answer the first time: load it once more
            report = _survey(browser, page)
        if report is None:
            pytest.fail(f"{page.relative_to(executed_book)} did not answer within {SCRIPT_TIMEOUT} s, twice")
        found[page.relative_to(executed_book).as_posix()] = PageVisit(
            report["scrollWidth"], report["viewport"], report["wide"], report["images"], report["links"],
            browser.get_log("browser"))
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    return found


def test_no_page_scrolls_sideways_on_a_phone(visits):
    # A phone widens its layout viewport to a page's content (innerWidth follows), so the page's width is
    # held against the screen's, not against innerWidth.
    wide = {name: f"{v.scroll_width} px wide on a {PHONE[0]} px screen (widest: {', '.join(v.wide) or '?'})"
            for name, v in visits.items() if v.scroll_width > PHONE[0]}
    assert not wide, f"pages that scroll sideways at {PHONE[0]} px: {wide}"


def test_the_index_redirects_to_the_landing_page(browser, executed_book):
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get((executed_book / "index.html").resolve().as_uri())
    WebDriverWait(browser, 10).until(lambda driver: driver.current_url.endswith("/intro.html")
                                     and driver.find_elements("css selector", ".paper-rows"))


def test_every_image_has_alt_text_that_says_what_it_shows(visits):
    problems = []
    for name, visit in visits.items():
        for image in visit.images:
            alt = (image["alt"] or "").strip()
            if not alt or FILE_NAME.search(alt) or alt == image["src"] or len(alt) < 15:
                problems.append(f"{name}: {image['src']} has alt {alt!r}")
    assert not problems, "\n".join(problems)
    assert any(v.images for v in visits.values()), "the book shows no image at all"


def test_no_console_errors(visits):
    errors = [f"{name}: {entry['message']}" for name, visit in visits.items() for entry in visit.console
              if entry["level"] == "SEVERE"]
    assert not errors, "\n".join(errors)


def _ids(page: Path, cache: dict) -> set[str]:
    if page not in cache:
        cache[page] = set(re.findall(r'\b(?:id|name)="([^"]+)"', page.read_text(encoding="utf8")))
    return cache[page]


def test_every_internal_link_resolves(visits, executed_book):
    broken, cache = [], {}
    root = executed_book.resolve()
    for name, visit in visits.items():
        for link in visit.links:
            url = urlparse(link)
            if url.scheme != "file":
                continue  # the web (repository, Colab, Binder), mail: not part of the book
            target = Path(unquote(url.path))
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file() or not target.resolve().is_relative_to(root):
                broken.append(f"{name}: {link} (no such file in the book)")
            elif url.fragment and target.suffix == ".html" and unquote(url.fragment) not in _ids(target, cache):
                broken.append(f"{name}: {link} (no #{url.fragment} on {target.name})")
    assert not broken, "\n".join(broken)


# ---- the Scorecard page at 1400 px ----

def _visible_rows(driver) -> list:
    return [row for row in driver.find_elements("css selector", "table.scorecard-table tbody tr") if row.is_displayed()]


def _press(driver, facet: str, value: str) -> None:
    driver.find_element("css selector", f'.filter-chip[data-facet="{facet}"][data-value="{value}"]').click()


def test_each_verdict_filter_shows_exactly_the_claims_with_that_verdict(browser, executed_book):
    from patchlib.claims import VERDICTS
    from patchlib.prose import verdict_words
    from patchlib.scorecard import collect

    claims = [claim for chapter in collect(executed_book.parents[1]) for claim in chapter.claims]
    browser.set_window_size(*DESKTOP)
    _load(browser, executed_book / "scorecard.html")
    rows = browser.find_elements("css selector", "table.scorecard-table tbody tr")
    assert len(rows) == len(claims) == len(_visible_rows(browser))
    reset = browser.find_element("css selector", "button.filter-reset")
    for verdict in VERDICTS:
        reset.click()
        _press(browser, "verdict", verdict)
        shown = _visible_rows(browser)
        expected = sum(claim.verdict == verdict for claim in claims)
        assert len(shown) == expected, f"{verdict}: {len(shown)} rows shown, {expected} claims have it"
        assert {row.get_attribute("data-verdict") for row in shown} <= {verdict}
        assert all(row.find_element("css selector", ".verdict-chip").text == verdict_words(verdict) for row in shown)
        chip = browser.find_element("css selector", f'.filter-chip[data-value="{verdict}"] .chip-count')
        assert chip.text == str(expected)
        status = browser.find_element("css selector", ".scorecard-status").text
        assert status == (f"Showing {expected} of {len(claims)} claims." if expected != len(claims)
                          else f"Showing all {len(claims)} claims.")
    # Facets combine: a verdict and a kind narrow each other; two verdicts add up.
    reset.click()
    _press(browser, "verdict", "reproduced")
    _press(browser, "kind", "paper")
    assert len(_visible_rows(browser)) == sum(c.verdict == "reproduced" and c.kind == "paper" for c in claims)
    _press(browser, "verdict", "not_tested")
    assert len(_visible_rows(browser)) == sum(c.verdict in ("reproduced", "not_tested") and c.kind == "paper"
                                              for c in claims)
    # The search keeps the rows that hold the words, beside the filters: "reproduced" is no filter.
    reset.click()
    search = browser.find_element("css selector", "input.scorecard-search")
    search.send_keys("reproduced")
    assert len(_visible_rows(browser)) >= sum(c.verdict == "reproduced" for c in claims)
    reset.click()


def test_the_scorecard_sorts_with_an_indicator_and_numbers_within_a_unit(browser, executed_book):
    browser.set_window_size(*DESKTOP)
    _load(browser, executed_book / "scorecard.html")
    headings = browser.find_elements("css selector", "table.scorecard-table thead th")
    ours = next(h for h in headings if h.text.strip().startswith("ours"))
    ours.find_element("css selector", "button.sort").click()
    assert ours.get_attribute("aria-sort") == "ascending"
    column = headings.index(ours)
    rows = browser.find_elements("css selector", "table.scorecard-table tbody tr")
    keyed = [(row.get_attribute("data-unit"), row.find_elements("css selector", "td")[column].get_attribute("data-number"))
             for row in rows]
    units = [unit for unit, _ in keyed]
    assert units == sorted(units), "rows of one unit are not kept together"
    for unit in set(units):
        numbers = [float(n) for u, n in keyed if u == unit and n]
        assert numbers == sorted(numbers), f"unit {unit!r}: not in ascending order"
    ours.find_element("css selector", "button.sort").click()
    assert ours.get_attribute("aria-sort") == "descending"


def test_the_landing_page_puts_the_legend_before_the_papers(browser, executed_book):
    browser.set_window_size(*DESKTOP)
    _load(browser, executed_book / "intro.html")
    legend = browser.find_element("css selector", ".verdict-legend").location["y"]
    rows = browser.find_elements("css selector", ".paper-row")
    assert rows and legend < min(row.location["y"] for row in rows)
    assert all(row.find_element("css selector", ".paper-outcome").text for row in rows)
