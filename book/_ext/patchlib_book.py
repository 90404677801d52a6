"""The book's own Sphinx extension (named in book/_config.yml): what Jupyter Book does not do itself.

- Alt text: every figure a chapter stores through `patchlib.figures` (`glue_figure`, `figure_output`)
  carries its description in the output's metadata (`patchlib.alt`); myst-nb writes the image under
  the SHA-256 of its bytes and sets no alt, so this puts the description on the image of the same
  bytes. An image left without alt text is a build warning (an error under -W), naming the page.
- Launch links: Colab and Binder open the chapter's *source* notebook, notebooks/<chapter>.ipynb in
  the repository (the theme's own launch buttons would point at book/chapters/, which holds executed
  copies that are never committed). Plain links in the page header: nothing is fetched at build time.
- One copy of each notebook: the theme's download button (which serves a second copy from _sources/)
  is off; each chapter links its executed notebook once, from its "Rerun this chapter" box.
- No console error on a first visit: the colour mode starts as "auto".
- Author-year labels in the bibliography ("Dosovitskiy et al., 2021"), as the text cites.
"""
from __future__ import annotations

import hashlib
import json
import os
from binascii import a2b_base64
from mimetypes import guess_extension
from pathlib import Path
from urllib.parse import urlparse

from docutils import nodes
from sphinx.util import logging

LOGGER = logging.getLogger(__name__)
COLAB = "https://colab.research.google.com"
BINDER = "https://mybinder.org"
BASE64_MIMES = {"image/png", "image/jpeg", "image/gif", "application/pdf"}
GLUE_PREFIX = "application/papermill.record/"


# ---- alt text ----

def _image_name(mime: str, content) -> str:
    """The file name myst-nb gives an image output: the SHA-256 of its bytes and the MIME type's
    extension (myst_nb.core.render.NbElementRenderer.render_image)."""
    content = "".join(content) if isinstance(content, list) else content
    if mime in BASE64_MIMES:
        data = a2b_base64(content)
    else:
        data = os.linesep.join(content.splitlines()).encode("utf-8")
    extension = guess_extension(mime) or "." + mime.rsplit("/")[-1]
    return hashlib.sha256(data).hexdigest() + (".jpeg" if extension == ".jpe" else extension)


def notebook_alt_texts(path: Path) -> dict[str, str]:
    """{image file name: alt text} of every output of the notebook at `path` that carries one."""
    notebook = json.loads(Path(path).read_text(encoding="utf8"))
    found = {}
    for cell in notebook.get("cells", []):
        for output in cell.get("outputs", []):
            alt = (output.get("metadata", {}).get("patchlib") or {}).get("alt")
            if not alt:
                continue
            for mime, content in output.get("data", {}).items():
                mime = mime.removeprefix(GLUE_PREFIX)
                if mime.startswith("image/"):
                    found[_image_name(mime, content)] = alt
    return found


def set_alt_texts(app, doctree) -> None:
    """doctree-read: the alt text of each image of a notebook page, from the notebook's outputs."""
    docname = app.env.docname
    source = Path(app.env.doc2path(docname))
    alts = notebook_alt_texts(source) if source.suffix == ".ipynb" else {}
    for image in doctree.findall(nodes.image):
        name = Path(image.get("uri", "")).name
        if name in alts:
            image["alt"] = alts[name]
        elif not image.get("alt"):
            LOGGER.warning(f"{docname}: the image {name} has no alt text; display figures through "
                           "patchlib.figures.glue_figure or figure_output (which describe them), or give the "
                           "image an :alt:", location=image)


# ---- launch links ----

def github_parts(url: str) -> tuple[str, str] | None:
    """(owner, repository) of a github.com URL, else None."""
    parsed = urlparse(url or "")
    parts = [p for p in parsed.path.strip("/").removesuffix(".git").split("/") if p]
    return (parts[0], parts[1]) if parsed.netloc == "github.com" and len(parts) >= 2 else None


def launch_links(repository_url: str, branch: str, chapter: str) -> list[tuple[str, str]]:
    """(service, URL) opening the chapter's source notebook notebooks/<chapter>.ipynb on Colab and Binder."""
    parts = github_parts(repository_url)
    if parts is None:
        return []
    owner, repo = parts
    notebook = f"notebooks/{chapter}.ipynb"
    return [("Colab", f"{COLAB}/github/{owner}/{repo}/blob/{branch}/{notebook}"),
            ("Binder", f"{BINDER}/v2/gh/{owner}/{repo}/{branch}?labpath={notebook}")]


def add_launch_buttons(app, pagename, templatename, context, doctree) -> None:
    """html-page-context (after the theme's buttons): a "launch" menu on every chapter page."""
    if not pagename.startswith("chapters/") or "header_buttons" not in context:
        return
    options = app.config.html_theme_options
    page = pagename.split("/", 1)[1]
    # A pretrained-profile page (<chapter>_pretrained) is notebooks/pretrained.ipynb run with `chapter` set.
    source = "pretrained" if page.endswith("_pretrained") else page
    links = launch_links(options.get("repository_url", ""), options.get("repository_branch", "main"), source)
    if links:
        context["header_buttons"].insert(0, {
            "type": "group", "tooltip": "Run this chapter's notebook", "icon": "fas fa-rocket",
            "label": "launch-buttons",
            "buttons": [{"type": "link", "text": service, "tooltip": f"Open notebooks/{source}.ipynb on {service}",
                         "icon": "fas fa-play", "url": url, "label": f"launch-{service.lower()}"}
                        for service, url in links]})


def configure(app, config) -> None:
    """config-inited: the theme's download button off (one copy of each notebook, see the docstring);
    the colour mode "auto" named, so that a first visit (nothing stored yet) starts in it rather than
    logging the console error "Got invalid theme mode" (pydata-sphinx-theme reads html_context)."""
    config.html_theme_options["use_download_button"] = False
    config.html_context = {**config.html_context, "default_mode": config.html_context.get("default_mode", "auto")}


# ---- author-year bibliography ----

def register_author_year_style() -> None:
    """The pybtex style `authoryear`: unsrt entries sorted by author, year and title, labelled
    "Surname, year", "Surname and Surname, year" or "Surname et al., year" (a, b, ... where two agree)."""
    from pybtex.plugin import register_plugin
    from pybtex.style.formatting.unsrt import Style as UnsrtStyle
    from pybtex.style.labels import BaseLabelStyle
    from pybtex.style.sorting.author_year_title import SortingStyle

    def surname(person) -> str:
        return " ".join(person.last_names).replace("{", "").replace("}", "")

    class AuthorYearLabels(BaseLabelStyle):
        def format_labels(self, sorted_entries):
            labels = []
            for entry in sorted_entries:
                people = entry.persons.get("author") or entry.persons.get("editor") or []
                names = [surname(p) for p in people]
                who = (names[0] if len(names) == 1 else f"{names[0]} and {names[1]}" if len(names) == 2
                       else f"{names[0]} et al." if names else entry.fields.get("title", entry.key))
                labels.append(f"{who}, {entry.fields.get('year', 'n.d.')}")
            seen: dict[str, int] = {}
            for label in labels:  # same authors and year: 2022a, 2022b, in the sorted order
                if labels.count(label) > 1:
                    seen[label] = seen.get(label, 0) + 1
                    yield label + "abcdefghijklmnopqrstuvwxyz"[seen[label] - 1]
                else:
                    yield label

    class AuthorYearStyle(UnsrtStyle):
        default_label_style = AuthorYearLabels
        default_sorting_style = SortingStyle

    register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle, force=True)


def setup(app):
    register_author_year_style()
    app.connect("config-inited", configure)
    app.connect("doctree-read", set_alt_texts)
    app.connect("html-page-context", add_launch_buttons, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
