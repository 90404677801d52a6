"""The HTML book builds offline, with every Sphinx warning an error, and loads nothing from the web.

The fixture (`executed_book`, tests/conftest.py, shared with the browser tests of
tests/test_browser.py) copies the book's sources to a temporary folder, executes the chapter
notebooks there with the smoke profile (`make notebooks`), and builds the copy with `make book`
(jupyter-book build -W -n --keep-going). Slow (it runs every chapter's smoke profile), so
marked `book`: `pytest -m book` runs it alone, `pytest -m "not book"` skips it. The toc's test is
quick and unmarked. (The Makefile's own behaviour: tests/test_make.py.)
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
BOOK = REPO / "book"

# (cite key, a string its bibliography entry must show)
BIB_ENTRIES = {
    "dosovitskiy2021vit": "2010.11929",
    "beyer2023flexivit": "2212.08013",
    "liang2022evit": "2202.07800",
    "mehta2022mobilevit": "2110.02178",
    "mehta2022mobilevitv2": "2206.02680",
    "trockman2023convmixer": "2201.09792",
    "xu2022vitpose": "2204.12484",
    "touvron2021deit": "2012.12877",
    "lin2014coco": "1405.0312",
    "krizhevsky2009cifar": "Learning multiple layers of features from tiny images",
}
REMOTE = re.compile(r"^\s*(https?:)?//", re.IGNORECASE)
REMOTE_IN_TEXT = re.compile(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", re.IGNORECASE)
CSS_REMOTE = re.compile(r"""(@import\s+(url\()?|url\()\s*['"]?\s*(https?:)?//""", re.IGNORECASE)


def toc_files(toc: dict) -> list[str]:
    """Every `file:` of a jupyter-book `_toc.yml`, root first."""
    found = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                found.append(entry["file"])
            walk(entry.get("sections"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return found


class _Resources(HTMLParser):
    """Collects what a page makes the browser fetch: script/style/font/image/frame URLs and
    the text of inline <script> and <style> elements."""

    def __init__(self):
        super().__init__()
        self.urls: list[tuple[str, str]] = []  # (tag, url)
        self.inline: list[tuple[str, str]] = []  # (tag, text)
        self._open: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "img", "iframe", "audio", "video", "source", "embed") and attrs.get("src"):
            self.urls.append((tag, attrs["src"]))
        if tag == "link" and attrs.get("href"):
            self.urls.append((f"link rel={attrs.get('rel')}", attrs["href"]))
        if tag == "object" and attrs.get("data"):
            self.urls.append((tag, attrs["data"]))
        if attrs.get("style"):
            self.inline.append(("style attribute", attrs["style"]))
        if tag in ("script", "style"):
            self._open = tag

    def handle_endtag(self, tag):
        if tag == self._open:
            self._open = None

    def handle_data(self, data):
        if self._open:
            self.inline.append((self._open, data))


def _resources(page: Path) -> _Resources:
    parser = _Resources()
    parser.feed(page.read_text(encoding="utf8"))
    return parser


@pytest.mark.book
def test_every_page_is_built(executed_book):
    toc = yaml.safe_load((BOOK / "_toc.yml").read_text(encoding="utf8"))
    files = toc_files(toc)
    assert any(f.startswith("chapters/") for f in files), "the toc names no chapter"
    assert (executed_book / "index.html").is_file()
    for name in files:
        assert (executed_book / f"{name}.html").is_file(), f"{name}.html not built"


@pytest.mark.book
def test_nothing_is_loaded_from_the_web(executed_book):
    problems = []
    for page in sorted(executed_book.rglob("*.html")):
        res = _resources(page)
        rel = page.relative_to(executed_book)
        for tag, url in res.urls:
            if tag.startswith("link rel=") and not any(
                kind in tag for kind in ("stylesheet", "preload", "icon", "modulepreload", "prefetch", "manifest")
            ):
                continue  # prev/next/index/search links are navigation, not resources
            if REMOTE.match(url):
                problems.append(f"{rel}: <{tag}> {url}")
        for tag, text in res.inline:
            if REMOTE_IN_TEXT.search(text):
                problems.append(f"{rel}: inline {tag} names {REMOTE_IN_TEXT.search(text).group(0)}")
    for css in sorted((executed_book / "_static").rglob("*.css")):
        if CSS_REMOTE.search(css.read_text(encoding="utf8", errors="replace")):
            problems.append(f"{css.relative_to(executed_book)}: remote @import/url()")
    assert not problems, "external resources:\n" + "\n".join(problems)


@pytest.mark.book
def test_mathjax_is_served_locally(executed_book):
    # Sphinx adds MathJax only to pages that hold math; the chapters do (e.g. ViT's attention distance).
    pages = [p.relative_to(executed_book).as_posix() for p in sorted(executed_book.rglob("*.html"))
             if 'class="math' in p.read_text(encoding="utf8")]
    assert "chapters/vit.html" in pages
    for page in pages:
        scripts = [url for tag, url in _resources(executed_book / page).urls if tag == "script"]
        mathjax = [url for url in scripts if "mathjax" in url.lower()]
        assert len(mathjax) == 1, f"{page}: MathJax scripts {mathjax}"
        target = (executed_book / page).parent / mathjax[0].split("?")[0]
        assert target.resolve().is_file(), f"{page}: {mathjax[0]} does not exist in the build"
    fonts = executed_book / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2"
    assert (fonts / "MathJax_Main-Regular.woff").is_file()


@pytest.mark.book
def test_bibliography_renders(executed_book):
    html = (executed_book / "bibliography.html").read_text(encoding="utf8")
    for key, shown in BIB_ENTRIES.items():
        assert f'id="cite-{key}"' in html, f"no entry for {key}"
        assert shown.lower() in html.lower(), f"entry {key} does not show {shown!r}"
    # Citations resolve to links into the bibliography (a broken one would fail -n -W too).
    intro = (executed_book / "intro.html").read_text(encoding="utf8")
    assert 'href="bibliography.html#cite-dosovitskiy2021vit"' in intro


@pytest.mark.book
def test_pages_hold_no_machine_paths(executed_book):
    """Captions and tables name data and results relative to their roots, never a machine's paths."""
    machine_path = re.compile(r"(?<![\w.<>-])/(work|root|home|tmp|Users)/[\w.-]+")
    for page in sorted((executed_book / "chapters").glob("*.html")):
        text = re.sub(r"<[^>]+>", " ", page.read_text(encoding="utf8"))  # visible text, not tag attributes
        found = machine_path.search(text)
        assert found is None, f"{page.name} shows a machine path: {found.group(0)}"


def test_the_toc_is_the_registrys():
    """book/_toc.yml is generated from patchlib/chapters.py (`make book` rewrites it when the registry
    changes): the committed copy must be that output, chapter for chapter."""
    from patchlib.chapters import NAMES, toc

    text = (BOOK / "_toc.yml").read_text(encoding="utf8")
    assert text == toc(), "book/_toc.yml is not the registry's: `python3 patchlib/chapters.py --toc > book/_toc.yml`"
    assert [f for f in toc_files(yaml.safe_load(text)) if f.startswith("chapters/")] == [f"chapters/{n}" for n in NAMES]


# ---- issue 24: the book as readers meet it ----

BOOK_BUDGET = 20 * 2**20   # bytes: the whole built book
PAGE_BUDGET = 3 * 2**20    # bytes: one page with everything of its own that it loads
VERDICT_IDENTIFIER = re.compile(r"\b(not_reproduced|within_noise|not_testable_here|not_tested)\b")


def _visible_text(page: Path) -> str:
    """A page's text as a reader sees it: no scripts, styles or tag attributes, entities decoded."""
    import html

    text = re.sub(r"<(script|style)\b.*?</\1>", " ", page.read_text(encoding="utf8"), flags=re.DOTALL)
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def _page_weight(built: Path, page: Path) -> int:
    """The bytes a page loads that are its own: the HTML, and every image, script, style or frame it
    names outside _static/ (the theme's and MathJax's files under _static/ are shared by all pages and
    budgeted with the whole book)."""
    total = page.stat().st_size
    for _, url in _resources(page).urls:
        if REMOTE.match(url) or url.startswith(("data:", "#")):
            continue
        target = (page.parent / url.split("?")[0].split("#")[0]).resolve()
        if target.is_file() and "_static" not in target.relative_to(built.resolve()).parts:
            total += target.stat().st_size
    return total


@pytest.mark.book
def test_the_book_and_every_page_stay_light(executed_book):
    total = sum(p.stat().st_size for p in executed_book.rglob("*") if p.is_file())
    assert total <= BOOK_BUDGET, f"the built book is {total / 2**20:.1f} MB, over {BOOK_BUDGET / 2**20:.0f} MB"
    heavy = {p.relative_to(executed_book).as_posix(): _page_weight(executed_book, p)
             for p in executed_book.rglob("*.html") if "_static" not in p.relative_to(executed_book).parts}
    over = {name: f"{size / 2**20:.1f} MB" for name, size in heavy.items() if size > PAGE_BUDGET}
    assert not over, f"pages over {PAGE_BUDGET / 2**20:.0f} MB: {over}"


@pytest.mark.book
def test_each_notebook_and_each_figure_ships_once(executed_book):
    notebooks = sorted(p.name for p in executed_book.rglob("*.ipynb"))
    assert notebooks == sorted(set(notebooks)), f"a notebook ships more than once: {notebooks}"
    assert len(notebooks) == len([f for f in toc_files(yaml.safe_load((BOOK / "_toc.yml").read_text()))
                                  if f.startswith("chapters/")])
    for path in executed_book.rglob("*.ipynb"):  # every output image stored once in the notebook
        images = [json.dumps(data) for cell in json.loads(path.read_text())["cells"] for out in cell.get("outputs", [])
                  for mime, data in out.get("data", {}).items() if "image/" in mime]
        assert len(images) == len(set(images)), f"{path.name} stores a figure twice"
    shown = sorted(p.suffix for p in (executed_book / "_images").iterdir())
    assert shown and set(shown) <= {".svg", ".png"}, shown
    assert ".svg" in shown  # line plots are vector graphics


@pytest.mark.book
def test_pages_speak_verdicts_in_words(executed_book):
    """No verdict identifier (not_reproduced, within_noise, ...) in the text a reader sees."""
    for page in sorted(executed_book.rglob("*.html")):
        found = VERDICT_IDENTIFIER.search(_visible_text(page))
        assert found is None, f"{page.relative_to(executed_book)} shows {found.group(0)!r}"


@pytest.mark.book
def test_chapters_show_styled_claims_tables_and_short_captions(executed_book):
    from patchlib.scorecard import collect

    chapters = {c.chapter: c for c in collect(executed_book.parents[1])}
    for name, chapter in chapters.items():
        html = (executed_book / "chapters" / f"{name}.html").read_text(encoding="utf8")
        table = re.search(r'<table class="claims-table">.*?</table>', html, re.DOTALL)
        assert table, f"{name}: no claims table"
        assert table.group(0).count('<tr class="claim-row"') == len(chapter.claims)
        assert table.group(0).count('<details class="claim-details">') == len(chapter.claims)
        for caption in re.findall(r"<figcaption>(.*?)</figcaption>", html, re.DOTALL):
            lead = re.search(r'<span class="caption-lead">(.*?)</span>', caption, re.DOTALL)
            assert lead, f"{name}: a caption without its lead sentence"
            assert caption.count('class="provenance-line"') <= 1
            assert len(re.sub(r"<[^>]+>", "", lead.group(1))) < 400, f"{name}: a caption lead of more than a sentence"


@pytest.mark.book
def test_the_book_names_its_repository_and_how_to_run_and_cite_it(executed_book):
    config = yaml.safe_load((BOOK / "_config.yml").read_text(encoding="utf8"))
    url = config["repository"]["url"]
    owner, repo = url.rstrip("/").split("/")[-2:]
    for page in sorted(executed_book.rglob("*.html")):
        name = page.relative_to(executed_book).as_posix()
        if name == "index.html" or name.startswith("_static/"):
            continue  # the redirect to the landing page; the theme's template fragments
        assert f'href="{url}"' in page.read_text(encoding="utf8"), f"{name}: no repository button"
    for chapter in [f.split("/")[1] for f in toc_files(yaml.safe_load((BOOK / "_toc.yml").read_text()))
                    if f.startswith("chapters/")]:
        html = (executed_book / "chapters" / f"{chapter}.html").read_text(encoding="utf8")
        notebook = f"notebooks/{chapter}.ipynb"
        assert f"https://colab.research.google.com/github/{owner}/{repo}/blob/main/{notebook}" in html
        assert f"https://mybinder.org/v2/gh/{owner}/{repo}/main?labpath={notebook}" in html
    intro = _visible_text(executed_book / "intro.html")
    assert "@misc{patchlib" in intro and f"\\url{{{url}}}" in intro and "Cite this book" in intro
    assert f"git clone {url}" in intro and "<this repository>" not in intro
    scorecard = _visible_text(executed_book / "scorecard.html")
    assert re.search(r"Results: \d+ records, computed \d{4}-\d\d-\d\d", scorecard), "no date of the results"
    # The smoke book of the tests reads records computed into a scratch folder (tests/../conftest.py):
    assert re.search(r"results/ last changed in commit [0-9a-f]{7,}|its records are not in the repository",
                     scorecard), "no commit of the results"


@pytest.mark.book
def test_the_bibliography_is_author_year(executed_book):
    html = _visible_text(executed_book / "bibliography.html")
    assert "[Dosovitskiy et al., 2021]" in html
    assert re.search(r"\[Mehta and Rastegari, 2022\w?\]", html)
    assert not re.search(r"\[\d+\]", html), "numbered labels in the bibliography"


CHECK_MARK = "# NBVAL_CHECK_OUTPUT"


def _checked_stdout(notebook: Path) -> dict[str, str]:
    """{cell source: its stdout} of the cells marked CHECK_MARK."""
    cells = json.loads(notebook.read_text(encoding="utf8"))["cells"]
    return {"".join(cell["source"]): "".join("".join(output.get("text", "")) for output in cell.get("outputs", [])
                                             if output.get("output_type") == "stream" and output.get("name") == "stdout")
            for cell in cells if cell["cell_type"] == "code" and CHECK_MARK in "".join(cell["source"])}


@pytest.mark.book
def test_the_executed_chapters_print_the_checked_outputs(executed_book):
    """nbval's check (`pytest --nbval-lax notebooks`) on the chapters the book fixture already executed:
    every cell marked NBVAL_CHECK_OUTPUT prints, in the smoke profile, exactly the output stored in
    notebooks/<chapter>.ipynb (`make check-outputs`), instead of executing every notebook a second time."""
    import os

    if os.environ.get("PATCHLIB_BUILT_BOOK"):
        pytest.skip("PATCHLIB_BUILT_BOOK: the stored outputs are the smoke profile's, that book may be another's")
    executed_chapters = executed_book.parents[1] / "chapters"
    from patchlib.chapters import CHAPTERS  # the chapters' notebooks (notebooks/pretrained.ipynb is no chapter's)

    sources = sorted(REPO / chapter.notebook for chapter in CHAPTERS)
    assert sources
    for source in sources:
        expected = _checked_stdout(source)
        assert expected and all(expected.values()), f"{source.name}: no stored output to check (make check-outputs)"
        found = _checked_stdout(executed_chapters / source.name)
        assert found == expected, f"{source.name}: the checked cells print other output than stored; if the " \
                                  "experiment changed on purpose, refresh them with make check-outputs"
