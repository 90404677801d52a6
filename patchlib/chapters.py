"""The book's chapters, in reading order: the one list that the Makefile, the book's table of
contents, the command line (`python -m patchlib.experiments`), the scorecard and the tests read.

Adding a chapter is one `Chapter(...)` entry here plus its package `patchlib/experiments/<name>/`
and its notebook `notebooks/<name>.ipynb`. This module imports nothing but the standard library,
so `python3 patchlib/chapters.py` works before the environment exists (the Makefile calls it).

    python3 patchlib/chapters.py            the chapter names, one line
    python3 patchlib/chapters.py --toc      the book's _toc.yml, generated
    python3 patchlib/chapters.py --toc --book-dir book   the same, with each chapter's pretrained-profile
                                            page as a section where book/chapters/<chapter>_pretrained.ipynb exists
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Chapter:
    name: str        # package `patchlib.experiments.<name>`, notebook `notebooks/<name>.ipynb`, `results/<name>/`
    short: str       # the paper's short name in tables ("ViT")
    title: str       # the paper

    @property
    def module(self) -> str:
        return f"patchlib.experiments.{self.name}"

    @property
    def notebook(self) -> str:
        return f"notebooks/{self.name}.ipynb"


CHAPTERS: tuple[Chapter, ...] = (
    Chapter("vit", "ViT", "An Image is Worth 16x16 Words (Dosovitskiy et al., 2021)"),
    Chapter("flexivit", "FlexiViT", "FlexiViT: One Model for All Patch Sizes (Beyer et al., 2023)"),
    Chapter("evit", "EViT", "Not All Patches are What You Need (Liang et al., 2022)"),
    Chapter("convmixer", "ConvMixer", "Patches Are All You Need? (Trockman and Kolter, 2023)"),
    Chapter("mobilevit", "MobileViT", "MobileViT v1 (Mehta and Rastegari, 2022) and v2 (2023)"),
    Chapter("vitpose", "ViTPose", "ViTPose: Simple Vision Transformer Baselines for Human Pose Estimation "
                                  "(Xu et al., 2022)"),
)
NAMES: tuple[str, ...] = tuple(chapter.name for chapter in CHAPTERS)


def get_chapter(name: str) -> Chapter:
    """The registered chapter `name`; an unknown name is a ValueError listing the known ones."""
    for chapter in CHAPTERS:
        if chapter.name == name:
            return chapter
    raise ValueError(f"unknown chapter {name!r}; the chapters are: {', '.join(NAMES)}")


TOC_HEADER = """\
# Generated from patchlib/chapters.py by `python3 patchlib/chapters.py --toc` (make book):
# edit the registry, not this file. A chapter is its executed notebook book/chapters/<chapter>.ipynb.
format: jb-book
root: intro
parts:
  - caption: Results
    chapters:
      - file: scorecard
  - caption: Papers
    numbered: true
    chapters:
"""
TOC_FOOTER = """\
  - caption: Back matter
    chapters:
      - file: bibliography
"""


def toc(chapters: tuple[Chapter, ...] = CHAPTERS, book_dir: str | Path | None = None) -> str:
    """The book's `_toc.yml`: one numbered chapter per registered chapter, in order. With `book_dir`, a
    chapter whose pretrained-profile page `<book_dir>/chapters/<chapter>_pretrained.ipynb` exists (`make
    notebooks PROFILE=pretrained`) gets it as a section."""
    lines = []
    for chapter in chapters:
        lines.append(f"      - file: chapters/{chapter.name}\n")
        if book_dir is not None and (Path(book_dir) / "chapters" / f"{chapter.name}_pretrained.ipynb").is_file():
            lines.append(f"        sections:\n          - file: chapters/{chapter.name}_pretrained\n")
    return TOC_HEADER + "".join(lines) + TOC_FOOTER


def main(argv: list[str]) -> int:
    if argv == ["--toc"]:
        sys.stdout.write(toc())
    elif len(argv) == 3 and argv[:2] == ["--toc", "--book-dir"]:
        sys.stdout.write(toc(book_dir=argv[2]))
    elif not argv:
        print(" ".join(NAMES))
    else:
        print("usage: python3 patchlib/chapters.py [--toc [--book-dir BOOK]]", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
