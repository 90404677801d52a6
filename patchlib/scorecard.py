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

from .chapters import NAMES, get_chapter
from .claims import KINDS, VERDICTS, Claim, _fmt, format_ours, load_claims
from .results import default_results_dir

CLAIMS_ANCHOR = "paper-vs-ours"  # the section of a chapter page that holds its claims table


class ScorecardError(ValueError):
    """A file the scorecard reads is missing or damaged; the message names it and the fix."""


def short_name(chapter: str) -> str:
    """The paper's short name in tables ("ViT"), from the chapter registry."""
    return get_chapter(chapter).short


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
        try:
            record = json.loads(path.read_text(encoding="utf8"))
        except (OSError, ValueError) as error:
            raise ScorecardError(f"{path} is a damaged result record ({type(error).__name__}: {error}); restore it "
                                 f"(`git checkout -- {path}` for a committed one) or delete it and execute the "
                                 f"{chapter} chapter again") from error
        config, provenance = record.get("config", {}), record.get("provenance", {})
        if config.get("profile") == profile and bool(config.get("dry_run")) == dry_run and "device" in provenance:
            machines.add(f"{provenance['device']} ({provenance.get('device_name')}, {provenance.get('torch_threads')} "
                         f"threads), torch {provenance.get('torch')}")
    return tuple(sorted(machines))


def executed_chapter_runs(book_dir: Path) -> list[tuple[str, str, dict]]:
    """(chapter, page title, papermill parameters) of each executed notebook in `book_dir/chapters`,
    in the book's chapter order."""
    runs = []
    for chapter in NAMES:
        path = book_dir / "chapters" / f"{chapter}.ipynb"
        if not path.exists():
            continue
        try:
            notebook = json.loads(path.read_text(encoding="utf8"))
            title = next((line.lstrip("# ").strip() for cell in notebook["cells"] if cell["cell_type"] == "markdown"
                          for line in "".join(cell["source"]).splitlines() if line.startswith("# ")), chapter)
            parameters = notebook.get("metadata", {}).get("papermill", {}).get("parameters", {})
            if not isinstance(parameters, dict):
                raise TypeError(f"its papermill parameters are a {type(parameters).__name__}, not a mapping")
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            raise ScorecardError(
                f"{path} is not a readable executed notebook ({type(error).__name__}: {error}); execute the chapter "
                f"again with `make notebooks CHAPTERS={chapter} PROFILE=...` (the profile it ran with), which "
                "replaces it") from error
        runs.append((chapter, title, parameters))
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
        name = "claims.json" if profile == "cpu" else f"claims-{profile}.json"
        try:
            claims = load_claims(chapter, profile, results_dir=Path(results_dir))
        except (OSError, ValueError, TypeError) as error:
            raise ScorecardError(
                f"{Path(results_dir) / chapter / name} (the claims of the {profile} run that executed "
                f"{book_dir / 'chapters' / (chapter + '.ipynb')}) could not be read ({type(error).__name__}: {error}); "
                f"execute the chapter again with `make notebooks CHAPTERS={chapter} PROFILE={profile}`, which "
                "rewrites it") from error
        collected.append(ChapterClaims(chapter, title, profile, dry_run, claims,
                                       hardware(Path(results_dir), chapter, profile, dry_run)))
    return collected


def counts(chapters: list[ChapterClaims], kinds=("paper",)) -> dict[str, dict[str, int]]:
    """{chapter: {verdict: number of claims of `kinds`}} with every verdict present (0 when none).
    The headline counts the papers' findings alone (kind "paper"); other kinds are counted apart."""
    return {c.chapter: {v: sum(claim.verdict == v and claim.kind in kinds for claim in c.claims) for v in VERDICTS}
            for c in chapters}


KIND_HEADINGS = {"implementation": "implementation checks", "sanity": "sanity checks of this book's set-up",
                 "beyond": "beyond the papers"}


def render(chapters: list[ChapterClaims]) -> str:
    """The scorecard as MyST Markdown: the verdict counts of the papers' findings, the other kinds of
    claims counted apart, then the table of every claim."""
    table = counts(chapters)
    lines = ["**The papers' findings**, by verdict (implementation checks, sanity checks and questions beyond "
             "the papers are counted apart, below):", "",
             "| chapter | profile | " + " | ".join(VERDICTS) + " | findings |",
             "|---|---|" + "---|" * len(VERDICTS) + "---|"]
    for c in chapters:
        profile = c.profile + (" (dry run)" if c.dry_run else "")
        lines.append(f"| {{doc}}`{short_name(c.chapter)} </chapters/{c.chapter}>` | {profile} | "
                     + " | ".join(str(table[c.chapter][v]) for v in VERDICTS)
                     + f" | {sum(table[c.chapter].values())} |")
    totals = {v: sum(table[c.chapter][v] for c in chapters) for v in VERDICTS}
    lines.append("| **all chapters** | | " + " | ".join(f"**{totals[v]}**" for v in VERDICTS)
                 + f" | **{sum(totals.values())}** |")
    other = [kind for kind in KINDS if kind != "paper" and any(claim.kind == kind for c in chapters for claim in c.claims)]
    if other:
        lines += ["", "**Other claims**, by kind: reproduced of all (the rest by verdict in the table below):", "",
                  "| chapter | " + " | ".join(KIND_HEADINGS[kind] for kind in other) + " |",
                  "|---|" + "---|" * len(other)]
        for c in chapters:
            cells = []
            for kind in other:
                of_kind = [claim for claim in c.claims if claim.kind == kind]
                cells.append(f"{sum(claim.verdict == 'reproduced' for claim in of_kind)} of {len(of_kind)}"
                             if of_kind else "—")
            lines.append(f"| {{doc}}`{short_name(c.chapter)} </chapters/{c.chapter}>` | " + " | ".join(cells) + " |")
    machines = sorted({machine for c in chapters for machine in c.hardware})
    lines += ["", "Computed on: " + ("; ".join(machines) if machines else "no stored records found") + "."]
    rows = []
    for c in chapters:
        for claim in c.claims:
            cells = [f'<a href="chapters/{c.chapter}.html#{CLAIMS_ANCHOR}" title="{html.escape(c.title)}">'
                     f'{short_name(c.chapter)}</a>',
                     html.escape(claim.claim),
                     html.escape(_fmt(claim.paper_value)) + (f'<br><small>{html.escape(claim.paper_source)}</small>'
                                                              if claim.paper_source else ""),
                     html.escape(format_ours(claim)), html.escape(claim.unit),
                     f'<span class="verdict verdict-{claim.verdict}">{claim.verdict}</span>',
                     html.escape(claim.kind),
                     html.escape(claim.profile + (" (dry run)" if c.dry_run else "")),
                     f"<small>{html.escape(claim.evidence)}</small>"]
            rows.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    header = "".join(f"<th>{name}</th>" for name in ("chapter", "claim", "paper (source)", "ours", "unit",
                                                       "verdict", "kind", "profile", "evidence"))
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
    try:
        chapters = collect(book_dir)
    except ScorecardError as error:
        print(f"scorecard: {error}", file=sys.stderr)
        return 1
    out = book_dir / "_generated" / "scorecard.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(chapters))
    total = sum(len(c.claims) for c in chapters)
    print(f"scorecard: {total} claims of {len(chapters)} chapter(s) -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
