"""Plotting shared by the chapters: one look for every figure, each figure stored once in the format
that suits it with a description for readers who cannot see it, and its provenance as one short line
with the rest a click away.

    style()                                  the book's plotting style (every notebook calls it first)
    glue_figure(name, fig, caption, *sources)  a figure, its caption and its provenance, for
                                             ```{glue:figure}``` (see `glue_figure` for the Markdown)
    figure_output(fig, alt)                  a figure to display() directly, stored once, with alt text
    provenance(record)                       the full provenance of one record (one paragraph)
    provenance_block(*sources)               one provenance line, the full text behind a disclosure
"""
from __future__ import annotations

import base64
import html
import io
import re
from collections.abc import Iterable

from ..results import code_changes, stale_code

# ---- provenance ----


def provenance(record: dict) -> str:
    """One line naming the profile, data, seed, hardware, code revision and run time of a result,
    followed by a warning when the record was computed with source files that have changed since."""
    from ..experiments.common import relative_to_data_root

    config, prov = record["config"], record["provenance"]
    data = prov.get("data") or {}
    count = lambda key: f"{data[key]:,}" if isinstance(data.get(key), int) else "?"
    source = relative_to_data_root(str(data.get("source") or config.get("dataset")), None)
    source = source.replace("<data root>", "(data root)")  # captions are Markdown: no angle brackets
    data_text = (f"{source}, "
                 f"{count('n_train')} train / {count('n_test')} test images") if data else \
        config.get("dataset", "none (random inputs)")
    minutes = prov["wall_time_s"] / 60
    hardware = f"{prov['device']} ({prov['device_name']}, {prov['torch_threads']} threads)"
    revision = prov["git_revision"][:12].replace("+dirty", "")
    recorded = prov.get("dirty_files") or []  # records rewritten by the same recompute are not code: left out
    dirty = code_changes(recorded) if recorded else (["(files not recorded)"] if prov["git_revision"].endswith(
        "+dirty") else [])
    code = f"code {revision}" + (f" with uncommitted changes to {', '.join(dirty)}" if dirty else "")
    text = (f"Profile {config.get('profile', '?')}; data: {data_text}; seed {config.get('seed')}; hardware: {hardware}; "
            f"torch {prov['torch']}; {code}; computed {prov['started_at']} in {minutes:.1f} min.")
    if config.get("dry_run"):
        from ..experiments.common import DRY_RUN_NOTE

        text = f"**{DRY_RUN_NOTE}.** " + text
    if record.get("data_note"):
        text += f" **Data differs:** {relative_to_data_root(record['data_note'], None).replace('<data root>', '(data root)')}."
    changed = stale_code(record)
    if changed:
        text += (f" **Computed with older code** (changed since: {', '.join(changed)}); "
                 "recompute with `force=True` to bring it up to date.")
    return text


def data_name(record: dict) -> str:
    """The short name of a record's data ("CIFAR-10", "patchlib.pose.synthetic"): its provenance's
    source up to the first qualifier; the config's dataset where the record holds no data."""
    data = (record.get("provenance") or {}).get("data") or {}
    source = str(data.get("source") or record.get("config", {}).get("dataset") or "random inputs")
    for stop in (":", " (", ",", ";"):
        source = source.split(stop)[0]
    return source.replace(" train split", "").strip()


def _is_record(source) -> bool:
    return isinstance(source, dict) and "config" in source and "provenance" in source


def _labelled(sources) -> list[tuple[str, object, str | None]]:
    """(label, record or text, full text or None) for each source: a record, a text, a (label,
    record-or-text) pair, or a (label, record, full text) triple whose text replaces `provenance(record)`
    (a chapter's own wording of it, e.g. people rather than images)."""
    out = []
    for source in sources:
        if isinstance(source, tuple) and len(source) == 3:
            out.append((str(source[0]), source[1], str(source[2])))
        elif isinstance(source, tuple):
            out.append((str(source[0]), source[1], None))
        else:
            out.append(("", source, None))
    return out


def _spread(values: Iterable[str]) -> str:
    distinct = sorted({v for v in values if v})
    return distinct[0] if len(distinct) == 1 else " / ".join(distinct)


def provenance_summary(*sources) -> str:
    """One line for the records among `sources`: profile, data, seeds, hardware, when and with which
    code, and how many were computed with code that has changed since (`provenance` has the details)."""
    records = [source for _, source, _ in _labelled(sources) if _is_record(source)]
    if not records:
        return ""
    profiles = _spread(str(r["config"].get("profile", "?")) + (" (dry run)" if r["config"].get("dry_run") else "")
                       for r in records)
    data = _spread(data_name(r) for r in records)
    seeds = sorted({r["config"].get("seed") for r in records if r["config"].get("seed") is not None})
    hardware = _spread(f"{r['provenance'].get('device')}, {r['provenance'].get('torch_threads')} threads"
                       for r in records)
    days = sorted({str(r["provenance"].get("started_at", ""))[:10] for r in records} - {""})
    when = days[0] if len(days) == 1 else f"{days[0]} to {days[-1]}" if days else "?"
    revisions = _spread(str(r["provenance"].get("git_revision", "?"))[:12].replace("+dirty", "") for r in records)
    stale = sum(bool(stale_code(r)) for r in records)
    line = (f"{profiles} profile · {data} · seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds)) or '—'}"
            f" · {hardware} · computed {when}, code {revisions}")
    if stale:
        line += (" · computed with older code" if stale == len(records) and len(records) == 1 else
                 f" · {stale} of {len(records)} records computed with older code")
    return line


def inline_html(text: str) -> str:
    """A line of the book's Markdown (**bold**, *italic*, `code`) as HTML, everything else escaped."""
    out = html.escape(text, quote=False)
    out = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", out)
    out = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"<em>\1</em>", out)
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", out)


class HTMLText:
    """HTML for the book (`text/html`), with its plain text for other front ends (`text/plain`)."""

    def __init__(self, markup: str, text: str):
        self.markup, self.text = markup, text

    def _repr_html_(self) -> str:
        return self.markup

    def __repr__(self) -> str:
        return self.text


def _details_html(paragraphs: list[tuple[str, str]], summary: str) -> str:
    """A closed disclosure holding labelled paragraphs (label, Markdown line)."""
    body = "".join(f"<p>{f'<strong>{html.escape(label)}:</strong> ' if label else ''}{inline_html(text)}</p>"
                   for label, text in paragraphs if text)
    return (f'<details class="provenance-details"><summary>{html.escape(summary)}</summary>{body}</details>'
            if body else "")


def _full_texts(sources) -> list[tuple[str, str]]:
    return [(label, text if text is not None else provenance(source) if _is_record(source) else str(source))
            for label, source, text in _labelled(sources)]


def provenance_block(*sources, label: str = "Results from") -> HTMLText:
    """Where a table or paragraph's numbers come from: one line (`provenance_summary`), the full
    provenance of every source behind a "details" disclosure. A source is a record, a text (e.g. a
    timing protocol) or a (label, record-or-text) pair."""
    line = provenance_summary(*sources)
    markup = (f'<div class="provenance-block"><p class="provenance-line"><strong>{html.escape(label)}:</strong> '
              f'{html.escape(line)}</p>{_details_html(_full_texts(sources), "Full provenance")}</div>')
    return HTMLText(markup, f"{label}: {line}")


# ---- captions ----

_ABBREVIATIONS = ("e.g.", "i.e.", "Fig.", "Figs.", "vs.", "et al.", "cf.", "approx.", "No.", "Eq.", "Sec.")


def split_first_sentence(text: str) -> tuple[str, str]:
    """(the first sentence, the rest) of a caption; a sentence ends at . ! or ? followed by a space
    and a capital, a digit or an opening bracket, never after a common abbreviation."""
    text = " ".join(text.split())
    for match in re.finditer(r"[.!?](?=\s+[A-Z0-9(*\"'“])", text):
        head = text[:match.end()]
        if not head.endswith(_ABBREVIATIONS):
            return head, text[match.end():].strip()
    return text, ""


def caption_parts(caption: str, *sources) -> tuple[HTMLText, HTMLText]:
    """A figure's caption as the book shows it: (the first sentence and one provenance line; the rest
    of the caption and the full provenance behind a disclosure)."""
    lead, rest = split_first_sentence(caption)
    line = provenance_summary(*sources)
    head = (f'<span class="caption-lead">{inline_html(lead)}</span>'
            + (f' <span class="provenance-line">{html.escape(line)}</span>' if line else ""))
    paragraphs = [("", rest)] + _full_texts(sources)
    details = _details_html(paragraphs, "More about this figure: what it shows and how it was made")
    return HTMLText(head, f"{lead} {line}".strip()), HTMLText(details, " ".join(t for _, t in paragraphs if t))


# ---- figures: stored once, with alt text ----

SVG_LIMIT = 600_000     # bytes: a plot heavier than this as SVG (thousands of markers) is stored as a PNG
PNG_DPI = 150           # pixels per inch of a stored PNG (shown at 100 px per inch: sharp at 1.5x)
PNG_MAX_SIDE = 2400     # pixels: a larger figure is stored at a lower resolution


def _holds_images(fig) -> bool:
    return any(ax.images for ax in fig.axes)


def _png(fig) -> tuple[bytes, int]:
    """The figure as a palette PNG (256 colours, no dithering: flat plot colours and image tiles
    compress well) and its width in CSS pixels at 100 px per inch."""
    from PIL import Image

    width_in, height_in = fig.get_size_inches()
    dpi = min(PNG_DPI, PNG_MAX_SIDE / max(width_in, height_in))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    image = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    palette = image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    out = io.BytesIO()
    palette.save(out, format="PNG", optimize=True)
    return out.getvalue(), round(image.width * 100 / dpi)


def _svg(fig) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def _number_words(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def _axis_words(ax, axis: str) -> str:
    """An axis in words: its label and the range of its ticks ("epoch (1 to 8)")."""
    label = (ax.get_xlabel() if axis == "x" else ax.get_ylabel()).replace("\n", " ").strip()
    low, high = sorted(ax.get_xlim() if axis == "x" else ax.get_ylim())
    ticks = [t for t in (ax.get_xticks() if axis == "x" else ax.get_yticks()) if low - 1e-9 <= t <= high + 1e-9]
    if len(ticks) >= 2:
        low, high = min(ticks), max(ticks)
    log = (ax.get_xscale() if axis == "x" else ax.get_yscale()) == "log"
    return f"{label or axis + ' axis'} ({_number_words(low)} to {_number_words(high)}{', log scale' if log else ''})"


def _marks(ax) -> list[str]:
    """What a panel draws its data with: lines, points (markers or scatter), bars."""
    from matplotlib.container import BarContainer

    marks = []
    if any(line.get_linestyle() not in ("None", "", " ") for line in ax.lines):
        marks.append("lines")
    if ax.collections or any(line.get_marker() not in ("None", "", " ", None) for line in ax.lines):
        marks.append("points")
    if any(isinstance(container, BarContainer) for container in ax.containers):
        marks.append("bars")
    return marks


def describe_figure(fig) -> str:
    """What a matplotlib figure shows, in words, from its own axes: each panel's title, axes and series
    (legend entries), and grids of images by their column titles and row labels."""
    panels = [ax for ax in fig.axes if not hasattr(ax, "_colorbar") and ax.get_visible()]
    tiles = [ax for ax in panels if ax.images and not ax.lines and not ax.get_xlabel()]
    charts = [ax for ax in panels if ax not in tiles]
    words = []
    title = fig._suptitle.get_text() if getattr(fig, "_suptitle", None) else ""
    if title:
        words.append(title.rstrip(".") + ".")
    if len(tiles) > 1:
        columns = [t for t in dict.fromkeys(ax.get_title().replace("\n", " ") for ax in tiles) if t]
        rows = [t for t in dict.fromkeys(ax.get_ylabel().replace("\n", " ") for ax in tiles) if t]
        words.append(f"A grid of {len(tiles)} images" + (f"; columns: {', '.join(columns)}" if columns else "")
                     + (f"; rows: {', '.join(rows)}" if rows else "") + ".")
    elif tiles:
        charts = tiles + charts
    for ax in charts:
        name = ax.get_title().replace("\n", " ").strip()
        if ax.images and not ax.lines:
            axes_named = " by ".join(label for label in (ax.get_xlabel(), ax.get_ylabel()) if label)
            text = f"an image{f' ({name})' if name else ''}{', ' + axes_named if axes_named else ''}"
        else:
            marks = _marks(ax)
            text = (f"{name + ': ' if name else ''}{_axis_words(ax, 'y')} against {_axis_words(ax, 'x')}"
                    f"{', as ' + ' and '.join(marks) if marks else ''}")
        labels = [label for label in ax.get_legend_handles_labels()[1] if label and not label.startswith("_")]
        if labels:
            text += f"; {len(labels)} series: {'; '.join(labels)}"
        words.append(text[0].upper() + text[1:] + ".")
    panels = len(charts) + (len(tiles) > 1)
    if panels > 1:
        words.insert(1 if title else 0, f"{panels} panels.")
    return " ".join(words)


def alt_text(fig, caption: str = "") -> str:
    """A figure's alt text: the first sentence of its caption, then what its axes show (`describe_figure`)."""
    lead = split_first_sentence(caption)[0] if caption else ""
    return " ".join(part for part in (lead, describe_figure(fig)) if part)


class BookFigure:
    """A matplotlib figure rendered once for the book, then closed (so that the notebook's inline
    backend does not store a second copy): SVG for plots of lines, markers and bars, a palette PNG for
    figures that hold images or whose SVG would be heavy. Its alt text travels in the output's metadata
    (`patchlib.alt`), where the book's extension (book/_ext/patchlib_book.py) puts it on the image."""

    def __init__(self, fig, alt: str):
        import matplotlib.pyplot as plt

        if not alt.strip():
            raise ValueError("BookFigure needs alt text: say what the figure shows (alt_text(fig, caption))")
        self.alt = " ".join(alt.split())
        self.width = None
        svg = None if _holds_images(fig) else _svg(fig)
        if svg is not None and len(svg.encode()) <= SVG_LIMIT:
            self.mime, self.data = "image/svg+xml", svg
        else:
            png, self.width = _png(fig)
            self.mime, self.data = "image/png", base64.b64encode(png).decode("ascii")
        plt.close(fig)

    def _repr_mimebundle_(self, include=None, exclude=None):
        metadata = {"patchlib": {"alt": self.alt}}
        if self.width:
            metadata[self.mime] = {"width": self.width}
        return {self.mime: self.data, "text/plain": f"<figure: {self.alt[:80]}>"}, metadata


def figure_output(fig, alt: str) -> BookFigure:
    """A figure to `display()` in a chapter: stored once, with its alt text."""
    return BookFigure(fig, alt)


def glue_figure(name: str, fig, caption: str, *sources) -> None:
    """Glue a figure for the book under `name`, stored once with its alt text (`alt_text`), and its
    caption as `<name>_caption` (the first sentence and one provenance line) and `<name>_details` (the
    rest of the caption and the full provenance of `sources`, behind a disclosure). The page holds:

        :::{glue:figure} <name>
        :name: fig-<chapter>-<name>

        {glue}`<name>_caption`

        ```{glue} <name>_details
        ```
        :::
    """
    from myst_nb import glue

    glue(name, BookFigure(fig, alt_text(fig, caption)), display=False)
    head, details = caption_parts(caption, *sources)
    glue(f"{name}_caption", head, display=False)
    glue(f"{name}_details", details, display=False)


def style() -> None:
    """The book's plotting style: one theme for every chapter; figures are stored by `BookFigure`
    (SVG, or a PNG at `PNG_DPI`), with stable SVG ids so that an unchanged figure is unchanged bytes."""
    import matplotlib as mpl
    import seaborn as sns

    sns.set_theme(context="notebook", style="whitegrid", font_scale=0.9)
    mpl.rcParams.update({"figure.dpi": 100, "savefig.dpi": 200, "savefig.bbox": "tight",
                         "axes.titleweight": "bold", "svg.hashsalt": "patchlib", "svg.fonttype": "path"})
    try:
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("retina")  # a figure shown directly (not through BookFigure): PNG at 2x
    except ImportError:  # outside IPython
        pass
