"""How the book stores and describes figures and captions (patchlib.figures, issue 24): each figure once,
SVG for plots and a palette PNG for images, with alt text that says what it shows; a caption's first
sentence and one provenance line in view, the rest behind a disclosure. Quick: no notebook, no book."""
from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest

from patchlib.figures import (
    BookFigure,
    alt_text,
    caption_parts,
    describe_figure,
    provenance_block,
    provenance_summary,
    split_first_sentence,
)

REPO = Path(__file__).resolve().parents[1]


def _record() -> dict:
    return json.loads(next((REPO / "results" / "vit").glob("fig7-cpu-*.json")).read_text())


def test_a_caption_splits_after_its_first_sentence_not_after_an_abbreviation():
    assert split_first_sentence("Accuracy vs. keep rate, e.g. at 0.7. Dashed: off the shelf.") == \
        ("Accuracy vs. keep rate, e.g. at 0.7.", "Dashed: off the shelf.")
    assert split_first_sentence("One sentence only") == ("One sentence only", "")
    assert split_first_sentence("As in Fig. 3 of the paper. Right: ours.")[0] == "As in Fig. 3 of the paper."


def test_a_plot_is_stored_once_as_svg_with_its_description():
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3], [10, 20, 15], marker="o", label="test")
    ax.set(xlabel="epoch", ylabel="top-1 accuracy (%)", title="Accuracy")
    ax.legend()
    stored = BookFigure(fig, alt_text(fig, "Test accuracy per epoch. Dashed: the paper."))
    assert not plt.get_fignums(), "the figure stays open: the inline backend would store a second copy"
    data, metadata = stored._repr_mimebundle_()
    assert set(data) == {"image/svg+xml", "text/plain"} and data["image/svg+xml"].lstrip().startswith("<?xml")
    alt = metadata["patchlib"]["alt"]
    assert alt.startswith("Test accuracy per epoch. ") and "Dashed" not in alt
    assert "top-1 accuracy (%)" in alt and "against epoch" in alt and "1 series: test" in alt


def test_a_figure_of_images_is_a_palette_png_at_its_nominal_width():
    fig, axes = plt.subplots(2, 3, figsize=(6, 4))
    for i, ax in enumerate(axes.flat):
        ax.imshow(np.random.default_rng(i).random((8, 8, 3)))
        ax.set_xticks([]), ax.set_yticks([])
        ax.set_title(f"layer {i % 3 + 1}")
    axes[0, 0].set_ylabel("cat")
    stored = BookFigure(fig, alt_text(fig))
    data, metadata = stored._repr_mimebundle_()
    from PIL import Image

    image = Image.open(io.BytesIO(base64.b64decode(data["image/png"])))
    assert image.mode == "P"  # 256 colours
    assert 500 <= metadata["image/png"]["width"] <= 620  # CSS px at 100 per inch, whatever the stored dpi
    assert "A grid of 6 images; columns: layer 1, layer 2, layer 3; rows: cat." in describe_figure(fig)


def test_a_figure_without_alt_text_is_refused():
    fig, _ = plt.subplots()
    with pytest.raises(ValueError, match="alt text"):
        BookFigure(fig, "  ")
    plt.close(fig)


def test_a_caption_shows_one_sentence_and_one_provenance_line_the_rest_behind_details():
    record = _record()
    head, details = caption_parts("Fig. 7 rebuilt. Left: the filters. Right: **distances**.", ("Training", record))
    assert head.markup.count('class="provenance-line"') == 1
    assert '<span class="caption-lead">Fig. 7 rebuilt.</span>' in head.markup
    assert "Left: the filters" not in head.markup and "<strong>distances</strong>" in details.markup
    assert details.markup.startswith('<details class="provenance-details">')
    assert "<strong>Training:</strong> Profile cpu" in details.markup  # the full provenance, labelled
    line = provenance_summary(record)
    assert line.startswith("cpu profile · CIFAR-10 · seed 0 · ") and "\n" not in line


def test_a_provenance_block_takes_a_chapters_own_wording_of_a_record():
    record = _record()
    block = provenance_block(("", record, "Profile cpu; 3,386 train people."), label="Training runs")
    assert "3,386 train people" in block.markup and "Training runs:" in block.markup
    assert provenance_summary(record) in block.markup.replace("&#x27;", "'")
