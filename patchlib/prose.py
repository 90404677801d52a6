"""The tools every chapter's prose is written with (`patchlib/experiments/<chapter>/prose.py`).

A chapter's prose states numbers only through a `Numbers`, which formats each one and keeps it
by name, so that the chapter's `readers.facts(records)` lists every number its page prints (the
tests check each printed number against it). Verdicts are printed in words (`verdict_words`),
never as identifiers. `entry_points(package)` gives a chapter's readers the three functions the
notebooks and tests call: `prose_parts`, `prose` and `facts`.
"""
from __future__ import annotations

import importlib
from typing import Callable

VERDICT_WORDS = {"reproduced": "reproduced", "partially": "partially reproduced", "within_noise": "within the noise",
                 "not_reproduced": "not reproduced", "not_testable_here": "not testable here",
                 "not_tested": "not tested"}


def verdict_words(verdict: str) -> str:
    """A verdict as the page says it ("within the noise", never the identifier)."""
    return VERDICT_WORDS.get(verdict, verdict.replace("_", " "))


class Numbers:
    """Formats numbers for the prose and keeps each one, by name, for `facts`."""

    def __init__(self):
        self.values: dict[str, float] = {}

    def __call__(self, name: str, value, spec: str = "") -> str:
        self.values[name] = float(value)
        return format(value, spec)


def entry_points(package: str) -> tuple[Callable, Callable, Callable]:
    """`prose_parts(records)` (the page's prose by place), `prose(records)` (in page order) and
    `facts(records)` (every number the prose prints, by name) of the chapter `package`, whose
    `prose` module defines `parts` and `facts` (imported when first called: it imports the readers)."""

    def prose_parts(records: dict) -> dict[str, str]:
        return importlib.import_module(f"{package}.prose").parts(records)

    def prose(records: dict) -> list[str]:
        return list(prose_parts(records).values())

    def facts(records: dict) -> dict[str, float]:
        return importlib.import_module(f"{package}.prose").facts(records)

    return prose_parts, prose, facts
