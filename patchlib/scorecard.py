"""The book's reproduction scorecard: every claim of every chapter in one table, generated.

Which claims: for each chapter the book shows, the `claims.json` of the run that executed that
chapter's notebook (its papermill parameters say the profile, results folder and dry run), so
the landing page always agrees with the chapters next to it.

    python -m patchlib.scorecard BOOK_DIR      writes BOOK_DIR/_generated/scorecard.md

The page holds a count of verdicts per chapter and an HTML table of every claim that
`book/_static/scorecard.js` makes sortable and filterable (in the page, offline).
"""
from __future__ import annotations

import html
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from .claims import VERDICTS, Claim, _fmt, format_ours, load_claims
from .results import default_results_dir

CHAPTERS = ("vit", "flexivit", "evit", "convmixer", "mobilevit", "vitpose")
SHORT_NAMES = {"vit": "ViT", "flexivit": "FlexiViT", "evit": "EViT", "convmixer": "ConvMixer", "mobilevit": "MobileViT",
               "vitpose": "ViTPose"}
CLAIMS_ANCHOR = "paper-vs-ours"  # the section of a chapter page that holds its claims table


@dataclass(frozen=True)
class ChapterClaims:
    chapter: str
    title: str
    profile: str
    dry_run: bool
    claims: list[Claim]
    hardware: tuple[str, ...] = ()   # the machines its records were computed on


def hardware(results_dir: Path, chapter: str, profile: str, dry_run: bool) -> tuple[str, ...]:
    """The distinct machines (device, threads, torch) of a chapter's records for `profile`."""
    machines = set()
    for path in sorted((results_dir / chapter).glob("*.json")):
        if path.name.startswith("claims"):
            continue
        record = json.loads(path.read_text())
        config, provenance = record.get("config", {}), record.get("provenance", {})
        if config.get("profile") == profile and bool(config.get("dry_run")) == dry_run and "device" in provenance:
            machines.add(f"{provenance['device']} ({provenance.get('device_name')}, {provenance.get('torch_threads')} "
                         f"threads), torch {provenance.get('torch')}")
    return tuple(sorted(machines))


def executed_chapter_runs(book_dir: Path) -> list[tuple[str, str, dict]]:
    """(chapter, page title, papermill parameters) of each executed notebook in `book_dir/chapters`,
    in the book's chapter order."""
    runs = []
    for chapter in CHAPTERS:
        path = book_dir / "chapters" / f"{chapter}.ipynb"
        if not path.exists():
            continue
        notebook = json.loads(path.read_text())
        title = next((line.lstrip("# ").strip() for cell in notebook["cells"] if cell["cell_type"] == "markdown"
                      for line in "".join(cell["source"]).splitlines() if line.startswith("# ")), chapter)
        runs.append((chapter, title, notebook.get("metadata", {}).get("papermill", {}).get("parameters", {})))
    return runs


def collect(book_dir: Path) -> list[ChapterClaims]:
    """The claims behind each executed chapter of the book (see the module docstring)."""
    from .experiments.common import dry_run_results_dir

    collected = []
    for chapter, title, parameters in executed_chapter_runs(book_dir):
        profile, dry_run = parameters.get("profile", "smoke"), bool(parameters.get("dry_run", False))
        results_dir = parameters.get("results_dir")
        if results_dir is None:
            results_dir = dry_run_results_dir() if dry_run else default_results_dir()
        claims = load_claims(chapter, profile, results_dir=Path(results_dir))
        collected.append(ChapterClaims(chapter, title, profile, dry_run, claims,
                                       hardware(Path(results_dir), chapter, profile, dry_run)))
    return collected


def counts(chapters: list[ChapterClaims]) -> dict[str, dict[str, int]]:
    """{chapter: {verdict: number of claims}} with every verdict present (0 when none)."""
    return {c.chapter: {v: sum(claim.verdict == v for claim in c.claims) for v in VERDICTS} for c in chapters}


def render(chapters: list[ChapterClaims]) -> str:
    """The scorecard as MyST Markdown: the verdict counts, then the table of every claim."""
    table = counts(chapters)
    lines = ["| chapter | profile | " + " | ".join(VERDICTS) + " | claims |",
             "|---|---|" + "---|" * len(VERDICTS) + "---|"]
    for c in chapters:
        profile = c.profile + (" (dry run)" if c.dry_run else "")
        lines.append(f"| {{doc}}`{SHORT_NAMES.get(c.chapter, c.chapter)} </chapters/{c.chapter}>` | {profile} | "
                     + " | ".join(str(table[c.chapter][v]) for v in VERDICTS) + f" | {len(c.claims)} |")
    totals = {v: sum(table[c.chapter][v] for c in chapters) for v in VERDICTS}
    lines.append("| **all chapters** | | " + " | ".join(f"**{totals[v]}**" for v in VERDICTS)
                 + f" | **{sum(len(c.claims) for c in chapters)}** |")
    machines = sorted({machine for c in chapters for machine in c.hardware})
    lines += ["", "Computed on: " + ("; ".join(machines) if machines else "no stored records found") + "."]
    rows = []
    for c in chapters:
        for claim in c.claims:
            cells = [f'<a href="chapters/{c.chapter}.html#{CLAIMS_ANCHOR}" title="{html.escape(c.title)}">'
                     f'{SHORT_NAMES.get(c.chapter, c.chapter)}</a>',
                     html.escape(claim.claim),
                     html.escape(_fmt(claim.paper_value)) + (f'<br><small>{html.escape(claim.paper_source)}</small>'
                                                              if claim.paper_source else ""),
                     html.escape(format_ours(claim)), html.escape(claim.unit),
                     f'<span class="verdict verdict-{claim.verdict}">{claim.verdict}</span>',
                     html.escape(claim.profile + (" (dry run)" if c.dry_run else "")),
                     f"<small>{html.escape(claim.evidence)}</small>"]
            rows.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    header = "".join(f"<th>{name}</th>" for name in ("chapter", "claim", "paper (source)", "ours", "unit",
                                                       "verdict", "profile", "evidence"))
    return "\n".join([
        *lines, "",
        "```{raw} html",
        '<div class="scorecard">',
        '<label>Filter: <input type="search" class="scorecard-filter" placeholder="chapter, claim, verdict ..."></label>',
        "<small>(click a column's heading to sort by it)</small>",
        f'<table class="scorecard-table"><thead><tr>{header}</tr></thead><tbody>',
        *rows,
        "</tbody></table></div>",
        "```", ""])


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m patchlib.scorecard BOOK_DIR", file=sys.stderr)
        return 2
    book_dir = Path(args[0])
    chapters = collect(book_dir)
    out = book_dir / "_generated" / "scorecard.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(chapters))
    total = sum(len(c.claims) for c in chapters)
    print(f"scorecard: {total} claims of {len(chapters)} chapter(s) -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
