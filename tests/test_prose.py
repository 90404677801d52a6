"""Every sentence a chapter prints that states a number comes from its records (issue 22 §5).

For each chapter, the committed cpu records are loaded (no data, no training) and the readers'
prose is rendered; every number in it must be one of the numbers the readers computed from those
records (`readers.facts`), as printed, and no verdict is printed as a code identifier."""
import math
import re
import shutil

import pytest

from patchlib.chapters import NAMES
from patchlib.claims import VERDICTS
from patchlib.results import REPO_ROOT

# References to the papers' own parts, years, and names with digits are not measurements.
NOT_MEASUREMENTS = re.compile(
    r"(?:Fig(?:ure)?s?\.?|Tables?|§|Eqs?\.|Sections?|Algorithm|arXiv:?)\s*\d[\d.,\-–a-z]*"
    r"|Appendix\s+[A-Z]\b"
    r"|\b(?:19|20)\d\d[a-z]?\b"                      # years
    r"|[A-Za-z]+[-_/]?\d[\w.\-/]*"                   # names: ViT-B/16, v2, ResNet-18, p2, 4x4 ...
    r"|\d+(?:\.\d+)?\s*[x×]\s*\d+(?:\.\d+)?")       # sizes: 32x32, 8 × 6
NUMBER = re.compile(r"(?<![\w.])[-+−]?\d{1,3}(?:,\d{3})+(?:\.\d+)?|(?<![\w.])[-+−]?\d+(?:\.\d+)?")


def printed_numbers(text: str) -> list[str]:
    return NUMBER.findall(NOT_MEASUREMENTS.sub(" ", text))


def matches(printed: str, facts: list[float]) -> bool:
    value = float(printed.replace(",", "").replace("−", "-").lstrip("+"))
    decimals = len(printed.split(".")[1]) if "." in printed else 0
    for fact in facts:
        if isinstance(fact, bool) or not isinstance(fact, (int, float)) or math.isnan(fact):
            continue
        for candidate in (fact, abs(fact)):
            if round(candidate, decimals) == abs(value) or f"{candidate:.{decimals}f}" == f"{abs(value):.{decimals}f}":
                return True
    return False


@pytest.fixture(scope="module")
def cpu_records(tmp_path_factory):
    results = tmp_path_factory.mktemp("results")
    shutil.copytree(REPO_ROOT / "results", results, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("checkpoints", "*-smoke-*", "claims-smoke.json"))
    return results


@pytest.mark.parametrize("name", NAMES)
def test_every_number_in_the_prose_comes_from_the_records(name, cpu_records, tmp_path, monkeypatch):
    import importlib

    monkeypatch.setenv("PATCHLIB_DATA", str(tmp_path / "no-data"))  # stored records need no data
    chapter = importlib.import_module(f"patchlib.experiments.{name}")
    records = chapter.run("cpu", results_dir=cpu_records, progress=False)
    texts = chapter.readers.prose(records)
    facts = list(chapter.readers.facts(records).values())
    assert texts and all(isinstance(text, str) for text in texts)
    unexplained = [(number, text[:120]) for text in texts for number in printed_numbers(text)
                   if number.strip("+-−") not in ("0", "1", "2") and not matches(number, facts)]
    assert not unexplained, f"{name}: numbers printed that are not facts of the records: {unexplained[:10]}"
    leaked = [v for v in VERDICTS if "_" in v and any(v in text for text in texts)]
    assert not leaked, f"{name}: prose prints verdict identifiers {leaked}"


def test_the_number_extraction_skips_references_and_names():
    assert printed_numbers("Fig. 7 of ViT-B/16 (2021) on 32x32 images: 64.65 % and 1,024 images") == \
        ["64.65", "1,024"]
    assert printed_numbers("Appendix Fig. 11 caption, Table 2, §3.5, Eq. 3") == []
    assert matches("64.7", [64.65001]) and not matches("64.8", [64.65001]) and matches("1,024", [1024])
