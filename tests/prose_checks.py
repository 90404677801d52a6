"""One strict check shared by the chapters' prose tests: every number a chapter's prose prints is
one of the numbers its readers computed from the records (`readers.facts`), within the precision
it is printed at, and no verdict appears as its identifier. (tests/test_prose.py runs the same idea
over every chapter's committed records; the chapter tests add synthetic records.)"""
import re

from patchlib.claims import printed_precision

NUMBER = re.compile(r"(?<![\w.\-/])[+-]?\d+(?:,\d{3})*(?:\.\d+)?|(?<=/)\d+")
VERDICT_IDENTIFIER = re.compile(r"not_reproduced|within_noise|not_testable_here|not_tested")


def assert_prose_states_only_facts(texts: list[str], facts: dict[str, float]) -> None:
    for text in texts:
        assert not VERDICT_IDENTIFIER.search(text), text
        for printed in NUMBER.findall(text):
            value = float(printed.replace(",", ""))
            assert any(abs(value - fact) <= printed_precision(printed) + 1e-9 for fact in facts.values()), \
                (printed, text)
