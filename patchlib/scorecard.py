"""The book's reproduction scorecard, generated: how each paper fared on the landing page, every claim
of every chapter on the Scorecard page, and the claims table of each chapter.

Which claims: for each chapter the book shows, the `claims.json` of the run that executed that
chapter's notebook (its papermill parameters say the profile, results folder and dry run), so
the landing page always agrees with the chapters next to it.

    python -m patchlib.scorecard BOOK_DIR      writes BOOK_DIR/_generated/{landing,scorecard,cite}.md

- landing.md: the verdict legend, then one row per paper: a one-sentence outcome, verdict chips with
  counts (the paper's findings apart from implementation checks, sanity checks and questions beyond
  the papers: `Claim.kind`), a scale badge (ours against the paper: data, parameters, epochs,
  hardware; ours from the records, the paper's from the chapter's `config.PAPER`) and a link.
- scorecard.md: when the results were computed and with which code, then every claim in one table
  that `book/_static/scorecard.js` filters exactly (verdict, kind, chapter) and sorts, offline.
- cite.md: "Cite this book", a BibTeX entry naming the repository (book/_config.yml) and the commit.

Chapters show their claims with `claims_html(claims)` (a styled table, the rule and provenance of each
claim behind a disclosure).
"""
from __future__ import annotations

import html
import importlib
import json
import math
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .chapters import NAMES, get_chapter
from .claims import KINDS, VERDICTS, Claim, _fmt, load_claims
from .figures import HTMLText, inline_html
from .prose import verdict_words
from .results import default_results_dir, record_problems

CLAIMS_ANCHOR = "paper-vs-ours"  # the section of a chapter page that holds its claims table
REPO_ROOT = Path(__file__).resolve().parent.parent

# What each verdict means (the legend on the landing page and the Scorecard; patchlib/claims.py).
VERDICT_MEANINGS = {
    "reproduced": "the difference the claim needs is shown, beyond two standard errors of its noise",
    "partially": "some of the claim's parts hold, others do not",
    "within_noise": "this run cannot decide: the difference lies within two standard errors",
    "not_reproduced": "the claim is refuted here, beyond two standard errors of its noise",
    "not_testable_here": "the run was made, but outside the regime in which the claim can be judged (its gate); "
                         "it says nothing about the paper",
    "not_tested": "no run of this profile tests it",
}
KIND_LABELS = {"paper": "paper findings", "implementation": "implementation checks", "sanity": "sanity checks",
               "beyond": "beyond the papers"}


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
    results_dir: Path | None = field(default=None, compare=False)  # where its records are


def _read_record(path: Path, chapter: str) -> dict:
    try:
        record = json.loads(path.read_text(encoding="utf8"))
        problems = record_problems(record)  # damage inside (a config list, a missing provenance entry, ...)
    except (OSError, ValueError) as error:
        problems = [f"{type(error).__name__}: {error}"]
    if problems:
        raise ScorecardError(f"{path} is a damaged result record ({'; '.join(problems[:3])}); restore it "
                             f"(`git checkout -- {path}` for a committed one) or delete it and execute the "
                             f"{chapter} chapter again")
    return record


def chapter_records(results_dir: Path, chapter: str, profile: str, dry_run: bool) -> list[dict]:
    """The records (not the claims) of a chapter computed with `profile` (and dry run or not). `collect`
    reads every record first (`hardware`, which names a damaged one with its fix); this reads them again
    for the landing page and the Scorecard."""
    records = []
    for path in sorted((Path(results_dir) / chapter).glob("*.json")):
        if path.name.startswith("claims"):
            continue
        record = _read_record(path, chapter)
        config = record.get("config", {})
        if config.get("profile") == profile and bool(config.get("dry_run")) == dry_run:
            records.append(record)
    return records


def hardware(results_dir: Path, chapter: str, profile: str, dry_run: bool) -> tuple[str, ...]:
    """The distinct machines (device, threads, torch) of a chapter's records for `profile`."""
    machines = set()
    for path in sorted((results_dir / chapter).glob("*.json")):
        if path.name.startswith("claims"):
            continue
        record = _read_record(path, chapter)  # a damaged one is named with its fix
        config, provenance = record.get("config", {}), record.get("provenance", {})
        if config.get("profile") == profile and bool(config.get("dry_run")) == dry_run and "device" in provenance:
            machines.add(f"{provenance['device']} ({provenance.get('device_name')}, {provenance.get('torch_threads')} "
                         f"threads), torch {provenance.get('torch')}")
    return tuple(sorted(machines))


def executed_chapter_runs(book_dir: Path, suffix: str = "") -> list[tuple[str, str, dict]]:
    """(chapter, page title, papermill parameters) of each executed notebook in `book_dir/chapters`
    (`<chapter><suffix>.ipynb`: suffix "_pretrained" for the pretrained profile's pages), in the book's
    chapter order."""
    runs = []
    for chapter in NAMES:
        path = book_dir / "chapters" / f"{chapter}{suffix}.ipynb"
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


def collect(book_dir: Path, suffix: str = "") -> list[ChapterClaims]:
    """The claims behind each executed chapter of the book (see the module docstring); with suffix
    "_pretrained", behind each executed pretrained-profile page."""
    from .experiments.common import dry_run_results_dir

    collected = []
    for chapter, title, parameters in executed_chapter_runs(book_dir, suffix):
        default = "pretrained" if suffix == "_pretrained" else "smoke"  # the notebook's own default profile
        profile, dry_run = parameters.get("profile", default), bool(parameters.get("dry_run", False))
        results_dir = parameters.get("results_dir")
        if results_dir is None:
            results_dir = dry_run_results_dir() if dry_run else default_results_dir()
        name = "claims.json" if profile == "cpu" else f"claims-{profile}.json"
        try:
            claims = load_claims(chapter, profile, results_dir=Path(results_dir))
        except (OSError, ValueError, TypeError) as error:
            raise ScorecardError(
                f"{Path(results_dir) / chapter / name} (the claims of the {profile} run that executed "
                f"{book_dir / 'chapters' / (chapter + suffix + '.ipynb')}) could not be read ({type(error).__name__}: "
                f"{error}); execute the chapter again with `make notebooks CHAPTERS={chapter} PROFILE={profile}`, "
                "which rewrites it") from error
        collected.append(ChapterClaims(chapter, title, profile, dry_run, claims,
                                       hardware(Path(results_dir), chapter, profile, dry_run), Path(results_dir)))
    return collected


def counts(chapters: list[ChapterClaims], kinds=("paper",)) -> dict[str, dict[str, int]]:
    """{chapter: {verdict: number of claims of `kinds`}} with every verdict present (0 when none).
    The headline counts the papers' findings alone (kind "paper"); other kinds are counted apart."""
    return {c.chapter: {v: sum(claim.verdict == v and claim.kind in kinds for claim in c.claims) for v in VERDICTS}
            for c in chapters}


KIND_HEADINGS = {"implementation": "implementation checks", "sanity": "sanity checks of this book's set-up",
                 "beyond": "beyond the papers"}


# ---- small pieces of HTML ----

def verdict_chip(verdict: str, count: int | None = None) -> str:
    """A verdict in words, in its colour (book/_static/custom.css), with a count where given."""
    number = f'<span class="chip-count">{count}</span> ' if count is not None else ""
    return (f'<span class="verdict-chip verdict-{verdict}" title="{html.escape(VERDICT_MEANINGS[verdict])}">'
            f"{number}{html.escape(verdict_words(verdict))}</span>")


def legend_html() -> str:
    """The verdict legend: each verdict's chip and what it means."""
    items = "".join(f"<li>{verdict_chip(v)} {html.escape(VERDICT_MEANINGS[v])}</li>" for v in VERDICTS)
    kinds = "; ".join(f"<em>{html.escape(KIND_LABELS[k])}</em>: {html.escape(text)}" for k, text in KINDS.items())
    return (f'<div class="verdict-legend"><p><strong>Verdicts</strong> (each claim\'s rule and noise are in its '
            f'evidence):</p><ul>{items}</ul><p class="kind-legend"><strong>Kinds of claim.</strong> {kinds}. '
            "Only the papers' findings are counted as the papers' results.</p></div>")


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return None if math.isnan(value) else float(value)


def _value_text(value) -> str:
    return "—" if value is None else _fmt(value)


def ours_html(claim: Claim) -> str:
    """Our value, its standard error and seeds on a second line."""
    text = html.escape(_value_text(claim.our_value))
    if claim.spread is not None:
        seeds = f"n = {claim.n}" if claim.n and claim.n > 1 else "one run"
        text += f'<br><small>± {html.escape(_fmt(claim.spread))} s.e., {seeds}</small>'
    elif claim.n == 1 and _number(claim.our_value) is not None:
        text += "<br><small>one run</small>"
    return text


def difference(claim: Claim) -> float | None:
    """Ours minus the paper's, where both are numbers and the claim was judged (else None)."""
    if claim.verdict in ("not_tested", "not_testable_here"):
        return None
    ours, paper = _number(claim.our_value), _number(claim.paper_value)
    return None if ours is None or paper is None else ours - paper


def in_words(text: str) -> str:
    """Verdict identifiers in a rule or evidence ("not_reproduced") as the book says them ("not reproduced")."""
    return re.sub(r"\b(?:" + "|".join(v for v in VERDICTS if "_" in v) + r")\b",
                  lambda match: verdict_words(match.group(0)), text)


def short_evidence(evidence: str, limit: int = 180) -> str:
    """The evidence without its leading source (a results path, kept in the details), cut at a word
    boundary after `limit` characters."""
    parts = [part.strip() for part in evidence.split("; ")]
    if len(parts) > 1 and parts[0].startswith("results/"):
        parts = parts[1:]
    text = in_words("; ".join(parts))
    if len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0].rstrip(",;:") + " …"
    return text[:1].upper() + text[1:]


def evidence_html(claim: Claim) -> str:
    """Short evidence, then everything behind the verdict (rule, gate, full evidence, sources) in a disclosure."""
    rows = [("Evidence", claim.evidence), ("Rule", claim.rule), ("Gate", claim.gate), ("Unit", claim.unit),
            ("Paper value", " — ".join(x for x in (claim.paper_source, claim.paper_status) if x)),
            ("Kind", f"{KIND_LABELS[claim.kind]} ({KINDS[claim.kind]})"), ("Profile", claim.profile),
            ("Claim id", claim.id)]
    details = "".join(f"<p><strong>{name}:</strong> {inline_html(in_words(str(text)))}</p>"
                      for name, text in rows if text and name != "Claim id")
    return (f'<span class="evidence-short">{inline_html(short_evidence(claim.evidence))}</span>'
            f'<details class="claim-details"><summary>rule, gate and evidence</summary>{details}</details>')


def claims_html(claims: list[Claim]) -> HTMLText:
    """A chapter's claims as the book shows them: claim (and kind), the paper's value, ours, the
    difference where both are numbers and the claim was judged, the verdict in colour, short evidence
    with the rule, gate and provenance behind a disclosure. On a phone each claim is a card, its verdict
    under the claim (book/_static/custom.css)."""
    rows = []
    for claim in claims:
        delta = difference(claim)
        paper = html.escape(_value_text(claim.paper_value)) + (
            f"<br><small>{html.escape(claim.paper_status)}</small>" if claim.paper_status else "")
        rows.append(
            f'<tr class="claim-row" data-verdict="{claim.verdict}" data-kind="{claim.kind}">'
            f'<td data-label="claim">{html.escape(claim.claim)}<br><span class="kind-tag kind-{claim.kind}">'
            f'{html.escape(KIND_LABELS[claim.kind])}</span></td>'
            f'<td data-label="paper">{paper}</td><td data-label="ours">{ours_html(claim)}</td>'
            f'<td data-label="ours − paper">{"—" if delta is None else html.escape(f"{delta:+.4g}")}</td>'
            f'<td data-label="verdict">{verdict_chip(claim.verdict)}</td>'
            f'<td data-label="evidence">{evidence_html(claim)}</td></tr>')
    header = "".join(f'<th scope="col">{name}</th>' for name in ("claim", "paper", "ours", "ours − paper",
                                                                 "verdict", "evidence"))
    markup = (f'<div class="table-scroll"><table class="claims-table"><thead><tr>{header}</tr></thead>'
              f'<tbody>{"".join(rows)}</tbody></table></div>')
    text = "\n".join(f"{c.id}: {verdict_words(c.verdict)}" for c in claims)
    return HTMLText(markup, text)


# ---- scale: ours against the paper ----

@dataclass(frozen=True)
class Scale:
    data: str
    parameters: str
    epochs: str
    hardware: str


NOT_SOURCED = "not sourced"


def _range(values, unit: str = "", scale: float = 1.0, digits: int = 2) -> str:
    values = sorted({round(v / scale, digits) for v in values})
    if not values:
        return ""
    text = f"{values[0]:g}" if len(values) == 1 else f"{values[0]:g}–{values[-1]:g}"
    return f"{text}{unit}"


def _baseline(record: dict, results_dir: Path) -> dict | None:
    """The record another chapter's run started from (`config.baseline`: chapter, name, config hash)."""
    ref = record.get("config", {}).get("baseline")
    if not isinstance(ref, dict) or not {"chapter", "name", "config_hash"} <= set(ref):
        return None
    path = Path(results_dir) / ref["chapter"] / f"{ref['name']}-{ref['config_hash']}.json"
    return _read_record(path, ref["chapter"]) if path.exists() else None


def our_scale(records: list[dict], results_dir: Path) -> Scale:
    """Data, parameters, epochs and hardware of a chapter's records (a fine-tuned chapter counts the
    model and epochs of the record it started from, `config.baseline`)."""
    from .figures import data_name

    baselines = [b for b in (_baseline(r, results_dir) for r in records) if b is not None]
    with_data = [r for r in records + baselines if (r.get("provenance") or {}).get("data")]
    sizes = [r["provenance"]["data"].get("n_train") for r in with_data
             if isinstance(r["provenance"]["data"].get("n_train"), int)]
    names = sorted({data_name(r) for r in with_data})
    data = (", ".join(names) + (f" ({max(sizes):,} training examples)" if sizes else "")) if names else "random inputs"
    parameters = [r["result"]["parameters"] for r in records + baselines
                  if isinstance(r.get("result", {}).get("parameters"), (int, float))]

    def epochs_of(group):
        return [r["config"]["train"]["epochs"] for r in group
                if isinstance(r.get("config", {}).get("train"), dict) and "epochs" in r["config"]["train"]]

    own, base = epochs_of(records), epochs_of(baselines)
    epochs = _range(own) + (f" (after {_range(base)} of the baseline)" if base else "") if own else _range(base)
    machines = sorted({f"{r['provenance'].get('device')}, {r['provenance'].get('torch_threads')} threads"
                       for r in records if "device" in r.get("provenance", {})})
    return Scale(data=data, parameters=_range(parameters, " M", 1e6) or "not recorded",
                 epochs=(epochs + " epochs") if epochs else "none trained", hardware="; ".join(machines) or "—")


def _paper(config, key: str, text=None) -> str:
    """A `config.PAPER` value as the scale badge shows it: `text` (default: the value) with its status
    where it is not confirmed; "not sourced" for a value outside the project's sourced values."""
    entry = config.PAPER[key]
    status = entry.get("status", "")
    if status == "not sourced":
        return NOT_SOURCED
    shown = str(entry["value"] if text is None else text)
    return shown + (f" ({status})" if status not in ("", "confirmed") else "")


def paper_scale(chapter: str) -> Scale:
    """The paper's data, parameters, epochs and hardware, read from the chapter's `config.PAPER` (values
    sourced in ../shared/paper_values.md); a field the chapter has no sourced value for says so."""
    def value(key):
        return config.PAPER[key]["value"]

    readers = {
        "vit": lambda: Scale(data=_paper(config, "vit_l16_jft_cifar10", "JFT-300M pre-training, then CIFAR-10"),
                             parameters=_paper(config, "vit_l16_params", f"{value('vit_l16_params')} M (ViT-L)"),
                             epochs=NOT_SOURCED, hardware=NOT_SOURCED),
        "flexivit": lambda: Scale(
            data=_paper(config, "fig3_budget", config.PAPER["fig3_budget"]["unit"].split(" on ")[-1]
                        + f" at {value('input_resolution')} px"),
            parameters=NOT_SOURCED,
            epochs=_paper(config, "fig3_budget", f"{value('fig3_budget')['FlexiViT-B']} (FlexiViT-B, Fig. 3)"),
            hardware=NOT_SOURCED),
        "evit": lambda: Scale(data=_paper(config, "model_zoo", "ImageNet-1k"),
                              parameters=_paper(config, "model_zoo", f"{value('model_zoo')[0]['params_m']} M (DeiT-S)"),
                              epochs=_paper(config, "recipe", value("recipe")["epochs"]),
                              hardware=_paper(config, "throughput_setting",
                                              f"{value('throughput_setting')['device']} (timing)")),
        "convmixer": lambda: Scale(data=_paper(config, "recipe_command", "CIFAR-10 (the official CIFAR-10 recipe)"),
                                   parameters=NOT_SOURCED,
                                   epochs=_paper(config, "recipe_command",
                                                 f"{value('recipe_command')['epochs']} "
                                                 f"({value('recipe_command')['model']})"),
                                   hardware=NOT_SOURCED),
        "mobilevit": lambda: Scale(data=_paper(config, "top1", config.PAPER["top1"]["unit"].split("% ")[-1]
                                               .split(" top-1")[0]),
                                   parameters=_paper(config, "params_m", _range(value("params_m").values(), " M")),
                                   epochs=_paper(config, "recipe", value("recipe")["epochs"]), hardware=NOT_SOURCED),
        "vitpose": lambda: Scale(data=_paper(config, "setup", value("setup")["data"]),
                                 parameters=_paper(config, "table9", f"{value('table9')['ViTPose-B']['params_m']} M "
                                                                     "(ViTPose-B)"),
                                 epochs=_paper(config, "table1", value("table1")["epochs"]), hardware=NOT_SOURCED),
    }
    if chapter not in readers:
        return Scale(NOT_SOURCED, NOT_SOURCED, NOT_SOURCED, NOT_SOURCED)
    config = importlib.import_module(f"patchlib.experiments.{chapter}.config")
    return readers[chapter]()


def scale_html(ours: Scale, paper: Scale) -> str:
    rows = "".join(f"<tr><th scope=\"row\">{name}</th><td>{html.escape(getattr(ours, key))}</td>"
                   f"<td>{html.escape(getattr(paper, key))}</td></tr>"
                   for name, key in (("data", "data"), ("parameters", "parameters"), ("epochs", "epochs"),
                                     ("hardware", "hardware")))
    return (f'<table class="scale-badge"><thead><tr><th></th><th scope="col">ours</th><th scope="col">paper</th>'
            f"</tr></thead><tbody>{rows}</tbody></table>")


# ---- the landing page ----

def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def outcome(c: ChapterClaims) -> str:
    """One sentence: how the paper's findings fared in this run, from the verdicts."""
    findings = [claim for claim in c.claims if claim.kind == "paper"]
    if not findings:
        return f"No finding of the paper is tested by the {c.profile} profile."
    tally = {v: sum(claim.verdict == v for claim in findings) for v in VERDICTS}
    judged = [f"{tally[v]} {verdict_words(v)}" for v in ("reproduced", "partially", "not_reproduced") if tally[v]]
    open_ = [f"{tally[v]} {verdict_words(v)}" for v in ("within_noise", "not_testable_here", "not_tested") if tally[v]]
    head = f"Of {len(findings)} finding{'s' if len(findings) > 1 else ''} of the paper, "
    if judged:
        text = head + _join(judged) + (f"; {_join(open_)}" if open_ else "")
    else:
        text = head + "none could be decided at this scale: " + _join(open_)
    return text + f" ({c.profile} profile{', dry run' if c.dry_run else ''})."


def stale_count(records: list[dict]) -> int:
    """How many of `records` were computed with code that has changed since (`results.stale_code`)."""
    from .results import stale_code

    return sum(bool(stale_code(record)) for record in records)


def landing_html(chapters: list[ChapterClaims], pretrained: list[ChapterClaims] = ()) -> str:
    """The verdict legend, then one row per paper (see the module docstring); a paper whose released
    checkpoints were evaluated (`pretrained`: the pretrained profile's pages) says how they fared."""
    released = {c.chapter: c for c in pretrained}
    rows = []
    for c in chapters:
        findings = counts([c])[c.chapter]
        chips = "".join(verdict_chip(v, findings[v]) for v in VERDICTS if findings[v])
        others = []
        for kind in ("implementation", "sanity", "beyond"):
            of_kind = [claim for claim in c.claims if claim.kind == kind]
            if of_kind:
                others.append(f"{KIND_LABELS[kind]}: {sum(cl.verdict == 'reproduced' for cl in of_kind)} of "
                              f"{len(of_kind)} reproduced")
        records = chapter_records(c.results_dir, c.chapter, c.profile, c.dry_run) if c.results_dir else []
        stale = stale_count(records)
        note = (f'<p class="stale-note">{stale} of {len(records)} records were computed with code that has changed '
                "since; the verdicts stand as computed until they are recomputed (each figure names the changes).</p>"
                if stale else "")
        scale = scale_html(our_scale(records, c.results_dir), paper_scale(c.chapter)) if c.results_dir else ""
        rows.append(
            f'<section class="paper-row" id="paper-{c.chapter}">'
            f'<h3><a href="chapters/{c.chapter}.html">{html.escape(short_name(c.chapter))}</a> '
            f"<small>{html.escape(get_chapter(c.chapter).title)}</small></h3>"
            f'<p class="paper-outcome">{html.escape(outcome(c))}</p>'
            f'<p class="paper-verdicts"><span class="label">Paper findings:</span> {chips or "none"}</p>'
            + (f'<p class="paper-other">{html.escape("; ".join(others))}.</p>' if others else "")
            + (f'<div class="paper-scale"><span class="label">Scale, ours against the paper:</span>{scale}</div>'
               if scale else "")
            + (f'<p class="paper-other"><a href="chapters/{c.chapter}_pretrained.html">Released checkpoints</a>: '
               f'{html.escape(outcome(released[c.chapter]))}</p>' if c.chapter in released else "")
            + note + f'<p class="paper-link"><a href="chapters/{c.chapter}.html#{CLAIMS_ANCHOR}">'
            f"The {html.escape(short_name(c.chapter))} chapter's claims →</a></p></section>")
    return (legend_html() + '<div class="paper-rows">' + "".join(rows) + "</div>"
            + '<p class="scorecard-link"><a href="scorecard.html">Every claim, filterable: the Scorecard →</a></p>')


# ---- the Scorecard page ----

def git_commit(path: str | None = None) -> tuple[str, str] | None:
    """(short hash, date) of the last commit (touching `path`, if given), or None outside a git checkout."""
    command = ["git", "log", "-1", "--format=%h %cs"] + (["--", path] if path else [])
    try:
        out = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return None
    return (out[0], out[1]) if len(out) == 2 else None


def results_dates(chapters: list[ChapterClaims]) -> str:
    """When the book's records were computed and with which code, and when results/ last changed in git."""
    days, revisions, total = set(), set(), 0
    for c in chapters:
        for record in chapter_records(c.results_dir, c.chapter, c.profile, c.dry_run) if c.results_dir else []:
            total += 1
            provenance = record.get("provenance", {})
            days.add(str(provenance.get("started_at", ""))[:10])
            revisions.add(str(provenance.get("git_revision", "?"))[:12].replace("+dirty", ""))
    days.discard("")
    when = (f"{min(days)} to {max(days)}" if len(days) > 1 else next(iter(days))) if days else "no records found"
    changed = []
    for folder in sorted({Path(c.results_dir).resolve() for c in chapters if c.results_dir}):
        if not folder.is_relative_to(REPO_ROOT):
            changed.append("its records are not in the repository (a results folder outside it)")
            continue
        relative = folder.relative_to(REPO_ROOT).as_posix()
        commit = git_commit(relative)
        changed.append(f"{relative}/ last changed in commit {commit[0]} ({commit[1]})" if commit else
                       f"the git history of {relative}/ is not available here (not a git checkout)")
    return (f"{total} records, computed {when} with code {', '.join(sorted(revisions)) or '—'}"
            + (f"; {'; '.join(changed)}" if changed else "") + ".")


def _sort_key(value) -> str:
    number = _number(value)
    return "" if number is None else repr(number)


def scorecard_html(chapters: list[ChapterClaims]) -> str:
    """Every claim in one table, with the filters and counts that book/_static/scorecard.js drives."""
    rows = []
    for c in chapters:
        order = NAMES.index(c.chapter) if c.chapter in NAMES else len(NAMES)
        for claim in c.claims:
            profile = claim.profile + (" (dry run)" if c.dry_run else "")
            rows.append(
                f'<tr data-verdict="{claim.verdict}" data-kind="{claim.kind}" data-chapter="{c.chapter}" '
                f'data-unit="{html.escape(claim.unit)}">'
                f'<td data-sort="{order}"><a href="chapters/{c.chapter}.html#{CLAIMS_ANCHOR}" '
                f'title="{html.escape(c.title)}">{html.escape(short_name(c.chapter))}</a><br><small>{profile}</small></td>'
                f"<td>{html.escape(claim.claim)}</td>"
                f'<td data-number="{_sort_key(claim.paper_value)}">{html.escape(_value_text(claim.paper_value))}'
                + (f"<br><small>{html.escape(claim.paper_source)}</small>" if claim.paper_source else "") + "</td>"
                f'<td data-number="{_sort_key(claim.our_value)}">{ours_html(claim)}</td>'
                f"<td>{html.escape(claim.unit)}</td>"
                f'<td data-sort="{VERDICTS.index(claim.verdict)}">{verdict_chip(claim.verdict)}</td>'
                f'<td data-sort="{list(KINDS).index(claim.kind)}">{html.escape(KIND_LABELS[claim.kind])}</td>'
                f"<td>{evidence_html(claim)}</td></tr>")
    columns = (("chapter", "order"), ("claim", "text"), ("paper (source)", "number"), ("ours", "number"),
               ("unit", "text"), ("verdict", "order"), ("kind", "order"), ("evidence", ""))
    header = "".join(
        '<th scope="col"' + (f' data-sort-type="{kind}" aria-sort="none"><button type="button" class="sort">'
                             f'{name}<span class="sort-indicator" aria-hidden="true"></span></button>' if kind
                             else f">{name}") + "</th>" for name, kind in columns)
    total = {v: sum(claim.verdict == v for c in chapters for claim in c.claims) for v in VERDICTS}
    kinds = {k: sum(claim.kind == k for c in chapters for claim in c.claims) for k in KINDS}

    def chip(facet: str, value: str, label: str, count: int, extra: str = "") -> str:
        return (f'<button type="button" class="filter-chip {extra}" data-facet="{facet}" data-value="{value}" '
                f'aria-pressed="false">{html.escape(label)} <span class="chip-count">{count}</span></button>')

    verdict_chips = "".join(chip("verdict", v, verdict_words(v), total[v], f"verdict-{v}") for v in VERDICTS)
    kind_chips = "".join(chip("kind", k, KIND_LABELS[k], kinds[k]) for k in KINDS)
    options = "".join(f'<option value="{c.chapter}">{html.escape(short_name(c.chapter))} '
                      f"({len(c.claims)})</option>" for c in chapters)
    n = sum(len(c.claims) for c in chapters)
    return "\n".join([
        '<div class="scorecard">',
        '<div class="scorecard-controls">',
        f'<div class="filter-group" role="group" aria-label="verdict"><span class="label">Verdict</span>{verdict_chips}</div>',
        f'<div class="filter-group" role="group" aria-label="kind"><span class="label">Kind</span>{kind_chips}</div>',
        ('<div class="filter-group"><label><span class="label">Chapter</span> <select class="filter-select" '
         f'data-facet="chapter"><option value="">all chapters</option>{options}</select></label>'),
        ('<label><span class="label">Search</span> <input type="search" class="scorecard-search" '
         'placeholder="words in a claim or its evidence" aria-label="search the claims"></label>'),
        '<button type="button" class="filter-reset">Clear filters</button></div>',
        f'<p class="scorecard-status" aria-live="polite">Showing all {n} claims.</p>',
        "</div>",
        '<div class="table-scroll"><table class="scorecard-table">',
        f"<thead><tr>{header}</tr></thead><tbody>",
        *rows,
        "</tbody></table></div></div>"])


def render(chapters: list[ChapterClaims]) -> str:
    """The Scorecard page's generated part (MyST Markdown): the results' dates and commits, the
    machines, then the table of every claim."""
    machines = sorted({machine for c in chapters for machine in c.hardware})
    return "\n".join([
        f"**Results:** {results_dates(chapters)}", "",
        "**Computed on:** " + ("; ".join(machines) if machines else "no stored records found") + ".", "",
        "```{raw} html", '<details class="legend-details"><summary>What the verdicts and kinds mean</summary>',
        legend_html(), "</details>", scorecard_html(chapters), "```", ""])


def render_landing(chapters: list[ChapterClaims], pretrained: list[ChapterClaims] = ()) -> str:
    """The landing page's generated part (MyST Markdown): the legend and one row per paper."""
    return "\n".join(["```{raw} html", landing_html(chapters, pretrained), "```", ""])


def book_config(book_dir: Path) -> dict:
    """The book's book/_config.yml (title, author, repository URL)."""
    import yaml

    path = Path(book_dir) / "_config.yml"
    try:
        return yaml.safe_load(path.read_text(encoding="utf8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ScorecardError(f"{path} (the book's configuration: title, author, repository URL) could not be "
                             f"read ({type(error).__name__}: {error}); restore it (`git checkout -- book/_config.yml`)")\
            from error


def repository_url(config: dict) -> str:
    return (config.get("repository") or {}).get("url") or ""


def render_cite(config: dict) -> str:
    """"Cite this book": a BibTeX entry with the book's title, authors, repository (book/_config.yml)
    and the commit it was built from."""
    url = repository_url(config)
    commit = git_commit()
    version = f"commit {commit[0]}" if commit else "commit unknown (built outside a git checkout)"
    year = commit[1][:4] if commit else "n.d."
    entry = ["@misc{patchlib,", f"  title        = {{{config.get('title', 'patchlib')}}},",
             f"  author       = {{{{{config.get('author', 'the patchlib contributors')}}}}},",
             f"  year         = {{{year}}},", f"  howpublished = {{\\url{{{url}}}}}," if url else None,
             f"  note         = {{Companion book to patchlib, {version}}}", "}"]
    return "\n".join(["```bibtex", *[line for line in entry if line], "```", ""])


def render_reproduce(config: dict) -> str:
    """The commands that reproduce the book, from a clone of the repository (book/_config.yml)."""
    url = repository_url(config) or "<the repository URL: book/_config.yml, repository.url>"
    return "\n".join(["```bash", f"git clone {url} patchlib && cd patchlib",
                      "make setup                     # virtual environment, pinned packages",
                      "make test                      # the test suite",
                      "make reproduce PROFILE=smoke   # or cpu, gpu: run the chapters, build the book", "```", ""])


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m patchlib.scorecard BOOK_DIR", file=sys.stderr)
        return 2
    book_dir = Path(args[0])
    try:
        chapters = collect(book_dir)
        config = book_config(book_dir)
        released = collect(book_dir, "_pretrained")  # the pretrained profile's pages, where executed
        pages = {"scorecard.md": render(chapters), "landing.md": render_landing(chapters, released),
                 "cite.md": render_cite(config), "reproduce.md": render_reproduce(config)}
    except ScorecardError as error:
        print(f"scorecard: {error}", file=sys.stderr)
        return 1
    out = book_dir / "_generated"
    out.mkdir(parents=True, exist_ok=True)
    for name, text in pages.items():
        (out / name).write_text(text)
    total = sum(len(c.claims) for c in chapters)
    print(f"scorecard: {total} claims of {len(chapters)} chapter(s) -> {out}/{{{','.join(pages)}}}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
