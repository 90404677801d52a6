"""The shape of the code: figures and readers compute nothing, chapters are small packages in one
registry, and code fingerprints survive moves but not edits (on a copy of the real package)."""
import ast
import shutil
from pathlib import Path

import pytest

from patchlib import chapters
from patchlib.fingerprint import SourceIndex, stale_definitions

PACKAGE = Path(__file__).resolve().parents[1] / "patchlib"
# What a figure or a reader may import from patchlib: records, claims, other readers and figures,
# chapter configs (data), keypoint names. Nothing that trains, measures or builds models.
READER_IMPORTS = ("patchlib.claims", "patchlib.results", "patchlib.figures", "patchlib.pose.keypoints",
                  "patchlib.chapters", "patchlib.profiles", "patchlib.data.recipes",
                  "patchlib.experiments.common.record_source",
                  "patchlib.experiments.common.DRY_RUN_NOTE", "patchlib.experiments.common.relative_to_data_root",
                  "patchlib.interpret.patch_distances",  # the pure geometry of a patch grid
                  "patchlib.prose")


def patchlib_imports(path: Path) -> set[str]:
    """The patchlib modules (or module.name) a file imports, relative imports resolved."""
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    package = package.removesuffix(".__init__")
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            found |= {f"{base}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return {name for name in found if name.startswith("patchlib")}


def allowed_for_readers(name: str) -> bool:
    parts = name.split(".")
    if name.startswith(READER_IMPORTS):
        return True
    # patchlib.experiments.<chapter>.readers / .config (and names imported from them); the pretrained
    # profile's package (patchlib.experiments.pretrained) has the same shape
    return len(parts) >= 4 and parts[1] == "experiments" and parts[2] in (*chapters.NAMES, "pretrained") \
        and parts[3] not in ("pieces", "__init__")


# A chapter's files other than its config, pieces and run() read records: readers.py, prose.py, ...
READER_FILES = sorted([*PACKAGE.glob("figures/*.py"),
                       *(path for path in PACKAGE.glob("experiments/*/*.py") if path.parent.name in chapters.NAMES
                         and path.name not in ("__init__.py", "config.py", "pieces.py"))])


@pytest.mark.parametrize("path", READER_FILES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_figures_and_readers_import_no_compute_module(path):
    bad = sorted(name for name in patchlib_imports(path) if not allowed_for_readers(name))
    assert not bad, f"{path.relative_to(PACKAGE)} imports compute code: {bad}"


def test_every_registered_chapter_is_a_small_package_of_the_same_shape():
    for chapter in chapters.NAMES:
        folder = PACKAGE / "experiments" / chapter
        files = {p.name for p in folder.glob("*.py")}
        assert {"__init__.py", "config.py", "pieces.py", "readers.py"} <= files, chapter  # more readers may join
        for path in folder.glob("*.py"):
            lines = len(path.read_text().splitlines())
            assert lines <= 380, f"{path.relative_to(PACKAGE)} has {lines} lines"
        assert (PACKAGE.parent / chapters.get_chapter(chapter).notebook).exists()


def test_the_books_table_of_contents_is_the_registry():
    assert (PACKAGE.parent / "book" / "_toc.yml").read_text() == chapters.toc()
    with pytest.raises(ValueError, match="unknown chapter 'nosuch'.*vit, flexivit"):
        chapters.get_chapter("nosuch")


@pytest.fixture(scope="module")
def package_copy(tmp_path_factory):
    root = tmp_path_factory.mktemp("copy") / "patchlib"
    shutil.copytree(PACKAGE, root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def edit(root: Path, name: str, old: str, new: str) -> None:
    path = root / name
    text = path.read_text()
    assert old in text, f"{old!r} not in {name}"
    path.write_text(text.replace(old, new, 1))


def test_on_the_real_package_moves_and_docstrings_keep_fingerprints_and_edits_do_not(package_copy):
    index = SourceIndex.from_directory(package_copy)
    train = index.modules["patchlib.train"].definitions["train"]
    record = index.closure([train])
    assert {"train", "lr_factor", "TrainConfig", "channel_stats"} <= set(record)
    # move lr_factor from train.py to data/augment.py, and edit train's docstring
    source = (package_copy / "train.py").read_text()
    start = source.index("def lr_factor(")
    end = source.index("\n\n\n", start) + 3
    moved = source[start:end]
    (package_copy / "train.py").write_text(source[:start] + source[end:])
    (package_copy / "data/augment.py").write_text((package_copy / "data/augment.py").read_text() + "\n\n" + moved)
    edit(package_copy, "train.py", "from .data.augment import augment_to_device, channel_stats",
         "from .data.augment import augment_to_device, channel_stats, lr_factor")
    edit(package_copy, "train.py", '"""', '"""Edited docstring. ')
    assert stale_definitions(record, SourceIndex.from_directory(package_copy)) == []
    # a changed constant (an expression of a default) is named
    edit(package_copy, "data/augment.py", "total = torch.zeros(images.shape[1], dtype=torch.float64)",
         "total = torch.zeros(images.shape[1], dtype=torch.float32)")
    assert stale_definitions(record, SourceIndex.from_directory(package_copy)) == ["channel_stats"]
