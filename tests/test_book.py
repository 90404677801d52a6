"""The HTML book builds offline, with every Sphinx warning an error, and loads nothing from the web.

The fixture copies the book's sources to a temporary folder, executes the chapter notebooks
there with the smoke profile (`make notebooks`), and builds the copy with `make book`
(jupyter-book build -W -n --keep-going). Slow (it runs every chapter's smoke profile), so
marked `book`: `pytest -m book` runs it alone, `pytest -m "not book"` skips it. The toc's test is
quick and unmarked. (The Makefile's own behaviour: tests/test_make.py.)
"""

from __future__ import annotations

import re
import shutil
import subprocess
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


@pytest.fixture(scope="module")
def executed_book(tmp_path_factory) -> Path:
    """Build a copy of the book from freshly executed smoke-profile notebooks; return its
    `_build/html` folder."""
    dest = tmp_path_factory.mktemp("book") / "book"
    # All sources; not earlier outputs (chapters are re-executed, the build is redone).
    shutil.copytree(BOOK, dest, ignore=shutil.ignore_patterns("_build", "chapters", "_vendor"))
    subprocess.run(
        ["make", "notebooks", "PROFILE=smoke", f"BOOK_CHAPTERS={dest}/chapters"],
        cwd=REPO, check=True,
    )
    build = subprocess.run(
        ["make", "book", f"BOOK_DIR={dest}"],
        cwd=REPO, capture_output=True, text=True,
    )
    assert build.returncode == 0, f"book build failed:\n{build.stdout[-6000:]}\n{build.stderr[-6000:]}"
    return dest / "_build" / "html"


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
