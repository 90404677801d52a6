"""Code fingerprints of definitions (`patchlib.fingerprint`): what a record's fingerprint covers,
what leaves it unchanged (moves, splits, docstrings, comments) and what does not (constants,
expressions), and the re-fingerprinting of records against the source of their revision."""
import functools
import subprocess
import textwrap

import pytest

from patchlib import fingerprint
from patchlib.fingerprint import SourceIndex, stale_definitions

LAYERS = '''
"""Shared layers."""
SCALE = 2


def helper(x):
    """Doubles."""
    return x * SCALE  # a comment


class Block:
    def forward(self, x):
        return helper(x) + 1
'''
PIECES = '''
from .layers import Block, helper
from . import layers


def piece_a(size):
    return Block().forward(size)


def piece_b(size):
    return layers.helper(size) - 1


def piece_c(size):
    from .lazy import later
    return later(size)


def unrelated():
    return 0
'''
LAZY = '''
def later(x):
    return x
'''


def index(**modules) -> SourceIndex:
    sources = {"pkg": ("", True)} | {f"pkg.{name}": (textwrap.dedent(text), False) for name, text in modules.items()}
    return SourceIndex(sources)


def closure(idx: SourceIndex, entry: str) -> dict:
    return idx.closure([idx.modules["pkg.pieces"].definitions[entry]])


BASE = index(layers=LAYERS, pieces=PIECES, lazy=LAZY)


def test_closure_follows_names_imports_attributes_and_lazy_imports():
    assert set(closure(BASE, "piece_a")) == {"piece_a", "Block", "helper", "SCALE"}
    assert set(closure(BASE, "piece_b")) == {"piece_b", "helper", "SCALE"}   # through `layers.helper`
    assert set(closure(BASE, "piece_c")) == {"piece_c", "later"}             # an import inside the function
    assert "unrelated" not in closure(BASE, "piece_a")


def test_moving_a_definition_to_another_module_or_splitting_a_file_changes_nothing():
    moved = index(layers=LAYERS.replace("SCALE = 2", "from .constants import SCALE"),
                  constants="SCALE = 2\n", pieces=PIECES, lazy=LAZY)
    assert closure(moved, "piece_a") == closure(BASE, "piece_a")
    split = index(layers="from .blocks import Block\nfrom .helpers import helper, SCALE\n",
                  blocks="from .helpers import helper\n\n\nclass Block:\n    def forward(self, x):\n        return helper(x) + 1\n",
                  helpers='SCALE = 2\n\n\ndef helper(x):\n    return x * SCALE\n', pieces=PIECES, lazy=LAZY)
    assert closure(split, "piece_a") == closure(BASE, "piece_a")
    assert stale_definitions(closure(BASE, "piece_a"), split) == []


def test_docstrings_comments_and_formatting_change_nothing():
    edited = index(layers=LAYERS.replace('"""Doubles."""', '"""Doubles its input (Eq. 1)."""')
                   .replace("# a comment", "# another comment").replace("x * SCALE", "x  *  SCALE"),
                   pieces=PIECES, lazy=LAZY)
    assert closure(edited, "piece_a") == closure(BASE, "piece_a")


def test_a_changed_constant_or_expression_is_named():
    record = closure(BASE, "piece_a")
    constant = index(layers=LAYERS.replace("SCALE = 2", "SCALE = 3"), pieces=PIECES, lazy=LAZY)
    assert stale_definitions(record, constant) == ["SCALE"]
    expression = index(layers=LAYERS.replace("helper(x) + 1", "helper(x) + 2"), pieces=PIECES, lazy=LAZY)
    assert stale_definitions(record, expression) == ["Block"]
    removed = index(layers=LAYERS, pieces=PIECES.replace("def piece_a", "def piece_renamed"), lazy=LAZY)
    assert stale_definitions(record, removed) == ["piece_a"]


def test_a_registry_that_only_gained_entries_is_unchanged_for_earlier_records():
    """A new profile (a new key of PROFILES or of a chapter's SIZES) leaves the records computed before
    it fresh: they looked up entries that are all still there. Changing or removing an entry, or adding
    more entries than `REGISTRY_ADDITIONS` at once, is named as before."""
    registry = '''
SIZES = {"smoke": 1, "cpu": 2}


def size_of(profile):
    return SIZES[profile]
'''
    pieces = "from .config import size_of\n\n\ndef piece(profile):\n    return size_of(profile)\n"
    record = index(config=registry, pieces=pieces).closure(
        [index(config=registry, pieces=pieces).modules["pkg.pieces"].definitions["piece"]])
    assert "SIZES" in record

    def stale(new_registry: str) -> list[str]:
        return stale_definitions(record, index(config=new_registry, pieces=pieces))

    assert stale(registry.replace('"cpu": 2}', '"cpu": 2, "pretrained": 3}')) == []
    assert stale(registry.replace('{"smoke"', '{"first": 0, "smoke"')) == []            # anywhere in the order
    assert stale(registry.replace('"cpu": 2}', '"cpu": 2, "a": 3, "b": 4, "c": 5}')) == []
    assert stale(registry.replace('"cpu": 2}', '"cpu": 2, "a": 3, "b": 4, "c": 5, "d": 6}')) == ["SIZES"]
    assert stale(registry.replace('"cpu": 2}', '"cpu": 4, "pretrained": 3}')) == ["SIZES"]  # an entry changed
    assert stale(registry.replace(', "cpu": 2}', "}")) == ["SIZES"]                        # an entry removed
    assert stale(registry.replace('"cpu": 2}', '"pretrained": 3, "cpu": 2}').replace('"smoke": 1, ', "")) == \
        ["SIZES"]


def test_editing_one_piece_stales_its_records_and_no_others():
    records = {piece: closure(BASE, piece) for piece in ("piece_a", "piece_b", "piece_c")}
    edited = index(layers=LAYERS, pieces=PIECES.replace("forward(size)", "forward(size + 1)"), lazy=LAZY)
    assert {piece: stale_definitions(fp, edited) for piece, fp in records.items()} == \
        {"piece_a": ["piece_a"], "piece_b": [], "piece_c": []}


def test_a_compute_function_lifted_out_of_its_enclosing_function_is_its_counterpart():
    old = index(pieces="def run(ctx, size):\n    def compute(data):\n        return size * data + ctx\n"
                       "    return compute\n")
    lifted = index(pieces="def compute(ctx, size, data):\n    return size * data + ctx\n")
    changed = index(pieces="def compute(ctx, size, data):\n    return size * data - ctx\n")
    entry = lambda idx: idx.modules["pkg.pieces"].definitions["compute"]  # noqa: E731
    assert old.counterpart(entry(lifted)) is not None
    assert old.counterpart(entry(changed)) is None
    assert fingerprint.unverified(changed, [entry(changed)], old) == ["pkg.pieces.compute"]


def test_live_entries_partials_lambdas_and_registered_models():
    from patchlib import train
    from patchlib.experiments.common import load_profile_data

    idx = fingerprint.current_index()
    names = lambda fn: {d.name for d in fingerprint.callable_entries(idx, fn)}  # noqa: E731
    assert names(functools.partial(train.train, "model")) == {"train"}
    assert names(lambda data: train.evaluate(data)) == set()  # a test's lambda: outside the package
    record = fingerprint.fingerprint_record(functools.partial(train.train), {"model": "vit_tiny_cifar"},
                                            extra=(load_profile_data,))
    assert {"train", "load_profile_data", "vit_tiny_cifar", "VisionTransformer", "EMBEDDED_DATA_SEED"} <= set(record)
    assert "convmixer_256_8" not in record and "ConvMixer" not in record


def test_the_package_as_committed_is_its_own_counterpart():
    """The index of HEAD (from git) and of the files here agree on every unchanged definition."""
    try:
        head = SourceIndex.from_git("HEAD")
    except (subprocess.CalledProcessError, OSError):
        pytest.skip("no git history here")
    idx = fingerprint.current_index()
    definition = idx.modules["patchlib.registry" if "patchlib.registry" in idx.modules else "patchlib.models.registry"] \
        .definitions["create_model"]
    assert head.counterpart(definition) is not None


def test_a_lazy_import_of_a_moved_definition_changes_nothing():
    before = index(pieces="def piece(x):\n    from .layers import helper\n    return helper(x)\n", layers=LAYERS)
    after = index(pieces="def piece(x):\n    from .helpers import helper\n    return helper(x)\n",
                  helpers="SCALE = 2\n\n\ndef helper(x):\n    return x * SCALE\n", layers="")
    entry = lambda idx: idx.modules["pkg.pieces"].definitions["piece"]  # noqa: E731
    assert after.closure([entry(after)]) == before.closure([entry(before)])
