"""The ViTPose chapter's training loop, recipe and verdict rules (the data pipeline, heatmaps and
evaluation have their own test files)."""
from __future__ import annotations

import ast
import copy
import json
import math
import re
import shutil
import tarfile
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from patchlib.data.root import DataNotFoundError
from patchlib.experiments import vitpose as chapter
from patchlib.experiments.vitpose import pieces
from patchlib.models import create_model
from patchlib.models.init_weights import INIT_ENV
from patchlib.pose.data import TopDownDataset
from patchlib.pose.synthetic import generate_people
from patchlib.pose.train import PoseTrainConfig, heatmap_loss, layer_wise_decay, pose_lr_factor, train_pose
from patchlib.train import parameter_groups
from prose_checks import assert_prose_states_only_facts  # tests/prose_checks.py


@pytest.fixture(scope="module")
def people(tmp_path_factory):
    """A few generated images in COCO's layout: (annotations json, image folder) per split."""
    root = tmp_path_factory.mktemp("people")
    files = {}
    for split, count in (("train", 6), ("val", 2)):
        annotations = generate_people(root, split, num_images=count, seed=3)
        files[split] = (annotations, root / split)
    return files


def _tiny_model():
    name, overrides = chapter.SIZES["smoke"].backbones["vit"]
    return create_model(name, **overrides)


def _datasets(people, image_size=(128, 96)):
    train = TopDownDataset(*people["train"], image_size=image_size, augment=chapter.SIZES["smoke"].augment, seed=1,
                           cache_images=True)
    val = TopDownDataset(*people["val"], image_size=image_size, cache_images=True)
    return train, val


def test_an_interrupted_run_resumes_to_identical_weights(people, tmp_path):
    train, val = _datasets(people)
    config = PoseTrainConfig(epochs=2, batch_size=4, lr=1e-3, warmup_steps=1, precision="fp32", flip_test=False)
    torch.manual_seed(0)
    straight = _tiny_model()
    whole = train_pose(straight, train, val, people["val"][0], config, seed=5, progress=False)
    torch.manual_seed(0)
    resumed = _tiny_model()
    checkpoint = tmp_path / "run.pt"
    first = train_pose(resumed, train, val, people["val"][0], config, seed=5, progress=False, checkpoint=checkpoint,
                       stop_after_epochs=1)
    assert not first["completed"]
    torch.manual_seed(123)  # a different process state: the checkpoint must carry everything
    again = _tiny_model()
    second = train_pose(again, train, val, people["val"][0], config, seed=5, progress=False, checkpoint=checkpoint)
    assert second["completed"] and whole["completed"]
    for (name, a), b in zip(straight.state_dict().items(), again.state_dict().values()):
        assert torch.equal(a, b), name
    assert second["history"][-1]["train_loss"] == whole["history"][-1]["train_loss"]
    assert second["final"]["AP"] == whole["final"]["AP"]


def test_the_gpu_recipe_builds_and_takes_a_step(people):
    """The gpu profile's models (ViTPose-B, SimpleBaseline ResNet-50, 256x192) with its optimiser
    (layer-wise decay 0.75, weight decay 0.1): construction and one optimisation step on CPU."""
    size = chapter.SIZES["gpu"]
    train, val = _datasets(people, image_size=size.image_size)
    single_batch = torch.utils.data.Subset(train, [0, 1])
    single_batch.image_size, single_batch.set_epoch = train.image_size, train.set_epoch
    config = replace(size.train, epochs=1, batch_size=2, num_workers=0, precision="fp32", warmup_steps=1)
    for backbone in chapter.BACKBONES:
        name, overrides = size.backbones[backbone]
        model = create_model(name, **overrides, decoder="simple")
        before = {k: v.clone() for k, v in model.state_dict().items() if v.dtype.is_floating_point}
        result = train_pose(model, single_batch, val, people["val"][0], config, seed=0, progress=False)
        assert result["completed"] and math.isfinite(result["history"][0]["train_loss"])
        changed = [k for k, v in model.state_dict().items() if k in before and not torch.equal(v, before[k])]
        assert changed, backbone


def test_layer_wise_decay_scales_each_vit_block():
    model = create_model("vitpose_b")
    groups = parameter_groups(model, 0.1, layer_wise_decay(model, 0.75))
    scale_of = {id(p): g["lr_scale"] for g in groups for p in g["params"]}
    decay_of = {id(p): g["weight_decay"] for g in groups for p in g["params"]}
    vit = model.backbone.vit
    assert scale_of[id(vit.patch_embed.proj.weight)] == pytest.approx(0.75 ** 13)
    assert scale_of[id(vit.blocks[0].mlp.fc1.weight)] == pytest.approx(0.75 ** 12)
    assert scale_of[id(vit.blocks[11].mlp.fc1.weight)] == pytest.approx(0.75)
    assert scale_of[id(model.decoder.head.weight)] == 1.0
    assert decay_of[id(vit.pos_embed)] == 0 and decay_of[id(vit.blocks[0].mlp.fc1.bias)] == 0
    assert decay_of[id(vit.blocks[0].mlp.fc1.weight)] == 0.1
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))


def test_the_step_schedule_divides_by_ten_at_the_papers_epochs():
    config = PoseTrainConfig(epochs=210, warmup_steps=500)
    total = 210 * 100
    assert pose_lr_factor(0, total, config) == pytest.approx(0.001)
    assert pose_lr_factor(500, total, config) == 1.0
    assert pose_lr_factor(169 * 100, total, config) == 1.0
    assert pose_lr_factor(170 * 100, total, config) == pytest.approx(0.1)
    assert pose_lr_factor(200 * 100, total, config) == pytest.approx(0.01)


def test_unlabelled_keypoints_do_not_count_in_the_loss():
    predicted, target = torch.rand(2, 17, 8, 6), torch.rand(2, 17, 8, 6)
    weight = torch.ones(2, 17)
    weight[:, 3] = 0
    changed = predicted.clone()
    changed[:, 3] += 5
    assert heatmap_loss(changed, target, weight) == heatmap_loss(predicted, target, weight)
    assert heatmap_loss(predicted, target, torch.ones(2, 17)) > heatmap_loss(predicted, target, weight)


@pytest.mark.parametrize("field, value", [("epochs", 0), ("epochs", 1.5), ("lr", float("nan")), ("lr", -1),
                                          ("layer_decay", 1.5), ("schedule", "linear"), ("milestones", (1.2,))])
def test_bad_training_settings_name_the_field(field, value):
    with pytest.raises(ValueError, match=field if field != "milestones" else "milestones"):
        PoseTrainConfig(**{"epochs": 2, field: value})


def test_pretrained_backbones_load_when_asked_and_only_then(tmp_path, monkeypatch):
    """The paper's initialisation, behind an explicit option: a state dict of the book's ViT (loaded
    as ViTPose loads MAE: class token, head and final norm left out, position embeddings resized to
    the pose grid) or of a torchvision ResNet."""
    import torchvision

    ctx = chapter.context("smoke")
    monkeypatch.delenv(INIT_ENV["vit"], raising=False)
    monkeypatch.delenv(INIT_ENV["resnet"], raising=False)
    plain = chapter.train_config(ctx, "vit", "classic", 0)
    assert "init" not in plain and "pretrain" in plain  # no option: the book's own pretraining (tests/test_vitpose_pretrain.py)
    backbone = chapter.build_pose_model(ctx, "vit", "classic").config.backbone
    source = create_model("vit_micro", image_size=64, patch_size=16, num_classes=10, dim=backbone.dim,
                          depth=backbone.depth, heads=backbone.heads)  # a differently sized grid, with a head
    torch.save(source.state_dict(), tmp_path / "vit.pt")
    monkeypatch.setenv(INIT_ENV["vit"], str(tmp_path / "vit.pt"))
    model = chapter.build_pose_model(ctx, "vit", "classic", pretrained=True)
    assert torch.equal(model.backbone.vit.blocks[0].mlp.fc1.weight, source.blocks[0].mlp.fc1.weight)
    assert model.backbone.vit.pos_embed.shape[1] == 1 + 8 * 6
    assert "sha256" in chapter.train_config(ctx, "vit", "classic", 0)["init"]
    resnet = torchvision.models.resnet18(weights=None)
    torch.save(resnet.state_dict(), tmp_path / "resnet.pt")
    monkeypatch.setenv(INIT_ENV["resnet"], str(tmp_path / "resnet.pt"))
    model = chapter.build_pose_model(ctx, "resnet", "simple", pretrained=True)
    assert torch.equal(model.backbone.stem[0].weight, resnet.conv1.weight)
    assert torch.equal(model.backbone.stages[3][1].conv2.weight, resnet.layer4[1].conv2.weight)
    monkeypatch.setenv(INIT_ENV["vit"], str(tmp_path / "missing.pt"))
    with pytest.raises(FileNotFoundError, match="PATCHLIB_VITPOSE_VIT_INIT"):
        chapter.build_pose_model(ctx, "vit", "classic", pretrained=True)
    monkeypatch.setenv(INIT_ENV["vit"], "imagenet")
    with pytest.raises(ValueError, match="only the ResNet"):
        chapter.build_pose_model(ctx, "vit", "classic", pretrained=True)


def _coco_mini_fixture(root: Path, damage: str) -> Path:
    """A coco-mini-val2017.tar.gz (COCO layout, two images of generated people) in the data root
    `root`, "truncated" or with "unlabelled" people (every keypoint v=0)."""
    source = root / "source"
    annotations = generate_people(source, "val2017", num_images=2, seed=0, image_size=(64, 64))
    if damage == "unlabelled":
        data = json.loads(annotations.read_text())
        for annotation in data["annotations"]:
            annotation["keypoints"] = [0] * 51
        annotations.write_text(json.dumps(data))
    archive = root / "coco-mini-val2017.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(source, arcname="coco-mini")
    if damage == "truncated":
        archive.write_bytes(archive.read_bytes()[:archive.stat().st_size // 2])
    shutil.rmtree(source)
    return archive


@pytest.mark.parametrize("damage, error", [("truncated", "DataNotFoundError"), ("unlabelled", "ValueError")])
def test_a_damaged_coco_mini_fixture_leaves_out_the_optional_figure_with_a_note(tmp_path, monkeypatch, damage, error):
    """The fixture only feeds the optional out-of-domain figure: a damaged one is reported in the
    record (and a warning) instead of failing the chapter; the required data still fails loudly."""
    monkeypatch.setenv("PATCHLIB_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "data"
    root.mkdir()
    archive = _coco_mini_fixture(root, damage)
    note = r"the coco-mini fixture at .*coco-mini-val2017\.tar\.gz could not be read .*out-of-domain figure is left out"
    if damage == "truncated":
        with pytest.warns(UserWarning, match=note + r".*" + re.escape(str(archive))):
            assert chapter.coco_mini_files(root) is None  # the page's figure cell draws nothing

    ctx = chapter.context("smoke", data_root=root, progress=False)
    monkeypatch.setattr(pieces, "trained_model", lambda *args, **kwargs: None)

    def predict(model, dataset, **kwargs):  # no trained weights needed: every keypoint at the crop's corner
        return torch.arange(len(dataset)), torch.zeros(len(dataset), 17, 2), torch.full((len(dataset), 17), 0.5)
    monkeypatch.setattr(pieces, "predict", predict)
    with pytest.warns(UserWarning, match=note):
        result = pieces.qualitative(ctx)
    assert result["coco_mini"] is None and len(result["predictions"]) == 4
    assert result["coco_mini_note"].startswith("the coco-mini fixture at <data root>/coco-mini-val2017.tar.gz could "
                                               f"not be read ({error}: ")
    assert str(tmp_path) not in result["coco_mini_note"]  # records hold no absolute paths

    if damage == "truncated":
        gpu = replace(ctx, size=replace(ctx.size, dataset="coco"))  # COCO is the required data: still loud
        with pytest.raises(DataNotFoundError, match="damaged"):
            pieces.annotation_files(gpu)


REPO = Path(__file__).resolve().parents[1]
# What the chapter's readers and figures may import (issue 21): records in, tables and pictures out.
READS = {"patchlib.claims", "patchlib.results", "patchlib.experiments.vitpose.config"}
ALLOWED = {
    "patchlib/experiments/vitpose/readers.py": READS | {"patchlib.experiments.vitpose.prose", "patchlib.prose",
                                                        "__future__", "math", "statistics", "pandas"},
    "patchlib/experiments/vitpose/prose.py": READS | {"patchlib.experiments.vitpose.readers", "patchlib.prose",
                                                      "patchlib.experiments.vitpose.setting", "__future__", "math",
                                                      "statistics", "pandas"},
    "patchlib/experiments/vitpose/setting.py": READS | {"patchlib.experiments.vitpose.readers", "__future__", "math",
                                                        "pandas"},
    "patchlib/figures/vitpose.py": READS | {"patchlib.experiments.vitpose.readers", "patchlib.figures",
                                            "patchlib.experiments.vitpose.setting", "patchlib.pose.keypoints",
                                            "__future__", "json", "pathlib", "matplotlib.pyplot", "numpy", "PIL"},
}


def _imported_modules(path: Path) -> set[str]:
    """Every module `path` imports (relative imports resolved), at the top or inside functions."""
    package = ".".join(path.relative_to(REPO).with_suffix("").parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[:len(package.split(".")) - node.level + 1] if node.level else []
            found.add(".".join(base + ([node.module] if node.module else [])))
    return found


@pytest.mark.parametrize("path", sorted(ALLOWED))
def test_the_readers_prose_and_figures_import_records_not_compute_code(path):
    assert _imported_modules(REPO / path) <= ALLOWED[path], sorted(_imported_modules(REPO / path) - ALLOWED[path])


# ---- the claims (issue 22): kinds, gates, relative losses, like-for-like counts, prose from the records ----

from patchlib.claims import claim_record  # noqa: E402
from patchlib.experiments.vitpose import prose as page  # noqa: E402
from patchlib.experiments.vitpose import readers  # noqa: E402

DECODER_IDS = ("decoder_gap_cnn_vs_vit", "cnn_needs_classic_decoder", "vit_simple_decoder_enough",
               "cnn_loss_is_precision", "simple_catches_up")


def _committed() -> dict:
    """The committed cpu records, read straight from results/vitpose (no run, no data)."""
    records = {"train": {}}
    for path in sorted((REPO / "results" / "vitpose").glob("*-cpu-*.json")):
        record = json.loads(path.read_text())
        name = record["config"]["name"]
        if name.startswith("train-"):
            _, backbone, decoder, *_ = name.split("-")
            records["train"][(backbone, decoder, record["config"]["seed"])] = record
        elif name.startswith("pretrain-"):
            records.setdefault("pretrain", {})[name.split("-")[1]] = record
        else:
            records[name.split("-")[0]] = record
    return records


def _with(records: dict, final: dict, *, crop=(256, 192), ap50: dict | None = None, start: dict | None = None) -> dict:
    """The committed records with made-up final AP (x100, one value per seed) per (backbone, decoder), AP50
    (default AP + 10), a crop, and a linear history from `start` (x100 per (backbone, decoder); default 0)."""
    records = copy.deepcopy(records)
    for (backbone, decoder, seed), record in records["train"].items():
        ap = final[(backbone, decoder)][seed]
        record["config"]["model_config"]["image_size"] = list(crop)
        record["config"]["model_config"]["backbone"]["image_size"] = list(crop)
        record["result"]["final"] |= {"AP": ap / 100, "AP50": (ap50 or {}).get((backbone, decoder), [ap + 10] * 3)[seed] / 100}
        first = (start or {}).get((backbone, decoder), 0.0)
        history = [e for e in record["result"]["history"] if "AP" in e]
        for i, entry in enumerate(history):
            entry["AP"] = (first + (ap - first) * i / (len(history) - 1)) / 100
    return records


PAPER_LIKE = {("resnet", "classic"): [71.8, 72.1, 71.5], ("resnet", "simple"): [53.1, 53.6, 52.7],
              ("vit", "classic"): [75.8, 76.0, 75.6], ("vit", "simple"): [75.5, 75.8, 75.2]}
PAPER_AP50 = {("resnet", "classic"): [89.8, 89.9, 89.7], ("resnet", "simple"): [86.9, 87.1, 86.6]}
PAPER_START = {("vit", "classic"): 67.6, ("vit", "simple"): 63.8}


def _verdicts(records: dict) -> dict[str, str]:
    return {c.id: c.verdict for c in readers.claims(records)}


def test_every_claim_states_its_kind_gate_rule_and_paper_status():
    found = readers.claims(_committed())
    kinds = {c.id: c.kind for c in found}
    assert kinds == {**dict.fromkeys(DECODER_IDS, "paper"), "data_not_trivial": "sanity", "vitpose_b_params":
                     "implementation", "vitpose_b_gflops": "implementation", "coco_ap": "paper"}
    for claim in found:
        assert claim.gate and claim.rule and claim.paper_status in ("confirmed", "secondary", "not sourced"), claim.id
        assert set(claim_record(claim)) >= {"gate", "rule", "paper_status"}
        if claim.id in DECODER_IDS:  # the catching up's relative gap is undefined where a classic model scored 0
            # a spread over seeds, except for the catching up where a seed's relative gap is undefined
            undefined = claim.id == "simple_catches_up" and "undefined" in claim.evidence
            assert claim.n == 3 and (claim.spread is None) == undefined, claim.id


VIT_IDS = ("decoder_gap_cnn_vs_vit", "vit_simple_decoder_enough", "simple_catches_up")
RESNET_IDS = ("cnn_needs_classic_decoder", "cnn_loss_is_precision")


def test_below_the_gate_the_vit_claims_are_not_testable_here():
    """The committed cpu records (128x96 crops): the MAE-pretrained ViT stays far below 18.7 AP on an 8x6
    map (the paper's is 16x12 at 256x192), so its claims are not judged; the ResNet-18 at stride 16 has the
    paper's 8x6 map and passes the AP gate, so its two claims are judged (issue 23 §2). Before the stride
    change its map was 4x3 and every decoder claim was not testable."""
    found = {c.id: c for c in readers.claims(_committed())}
    for claim_id in VIT_IDS:
        assert found[claim_id].verdict == "not_testable_here", claim_id
        assert "NOT met" in found[claim_id].gate and "map 8x6 (paper 16x12)" in found[claim_id].gate, claim_id
        assert re.search(r"ViT classic AP \d+\.\d\d", found[claim_id].gate), claim_id
    for claim_id in RESNET_IDS:
        assert found[claim_id].verdict != "not_testable_here", claim_id
        assert "map 8x6 (paper 8x6) (met)" in found[claim_id].gate, claim_id
    assert found["cnn_needs_classic_decoder"].paper_value == pytest.approx(26.0)  # 18.7 of 71.8, relative


def test_each_gate_alone_stops_a_judgement():
    """The paper's numbers at 128x96 with torchvision's ResNet (last stride 2: a 4x3 map) and our ViT (8x6)
    are not testable; at 256x192 with a ViT that only reaches 8.7 AP the ViT's claims are not either, the
    ResNet's are."""
    coarse = _with(_committed(), PAPER_LIKE, crop=(128, 96))
    for (backbone, _, _), record in coarse["train"].items():
        if backbone == "resnet":
            record["config"]["model_config"]["backbone"]["last_stride"] = 2
    assert set(_verdicts(coarse)[i] for i in DECODER_IDS) == {"not_testable_here"}
    weak_vit = PAPER_LIKE | {("vit", "classic"): [8.4, 9.4, 8.2], ("vit", "simple"): [2.5, 3.7, 2.8]}
    verdicts = _verdicts(_with(_committed(), weak_vit, ap50=PAPER_AP50))
    assert [verdicts[i] for i in DECODER_IDS] == ["not_testable_here", "reproduced", "not_testable_here", "reproduced",
                                                  "not_testable_here"]


def test_paper_like_inverted_and_noisy_records():
    """Within the gate: the paper's Table 2 and curves reproduce every decoder claim; swapped backbones
    refute them; a ViT loss whose noise straddles the tolerance is within noise."""
    paper = _with(_committed(), PAPER_LIKE, ap50=PAPER_AP50, start=PAPER_START)
    assert [_verdicts(paper)[i] for i in DECODER_IDS] == ["reproduced"] * 5
    swapped = {(("vit" if b == "resnet" else "resnet"), d): v for (b, d), v in PAPER_LIKE.items()}
    inverted = _verdicts(_with(_committed(), swapped, start={("vit", "classic"): 60.0, ("vit", "simple"): 60.0}))
    assert [inverted[i] for i in DECODER_IDS[:3]] == ["not_reproduced"] * 3
    assert inverted["simple_catches_up"] == "not_reproduced"  # the gap grows from 0 to 26 %
    noisy = PAPER_LIKE | {("vit", "simple"): [60.0, 70.0, 75.6]}  # losses 20.8, 7.9, 0.0 %: mean 9.6 +- 6.1
    assert _verdicts(_with(_committed(), noisy, ap50=PAPER_AP50))["vit_simple_decoder_enough"] == "within_noise"


def test_one_seed_is_judged_by_its_value_and_says_so():
    one = _with(_committed(), PAPER_LIKE, ap50=PAPER_AP50, start=PAPER_START)
    one["train"] = {key: record for key, record in one["train"].items() if key[2] == 0}
    found = {c.id: c for c in readers.claims(one)}
    assert found["cnn_needs_classic_decoder"].verdict == "reproduced" and found["cnn_needs_classic_decoder"].n == 1
    assert found["cnn_needs_classic_decoder"].spread is None and "seed noise not measured" in \
        found["cnn_needs_classic_decoder"].evidence


def test_vitpose_b_counts_are_compared_backbone_to_backbone():
    """Issue 22: Table 6's 17.1 GFLOPs and Table 9's 86 M count ViTPose-B's backbone. A cost record with
    backbone + decoder totals only (90.0 / 85.9 M, as before 2026-12-06) is not testable; the backbone's own
    counts are judged as printed."""
    records = _committed()
    found = {c.id: c for c in readers.claims(records)}
    assert found["vitpose_b_params"].our_value == pytest.approx(85.79, abs=0.01)  # the committed backbone count
    totals = copy.deepcopy(records)  # a record from before the backbone was counted alone
    for row in totals["cost"]["result"]["models"].values():
        row.pop("backbone", None)
    found = {c.id: c for c in readers.claims(totals)}
    for claim_id in ("vitpose_b_params", "vitpose_b_gflops"):
        assert found[claim_id].verdict == "not_testable_here" and found[claim_id].kind == "implementation"
        assert "result.models[label].backbone" in found[claim_id].evidence
    for params, gmacs, verdicts in ((85.8e6, 17.2, ("reproduced", "reproduced")),
                                    (85.4e6, 18.2, ("not_reproduced", "not_reproduced"))):
        measured = copy.deepcopy(records)
        for label in ("ViTPose-B classic", "ViTPose-B simple"):
            measured["cost"]["result"]["models"][label]["backbone"] = {"parameters": params, "cost": {"gmacs": gmacs}}
        found = {c.id: c for c in readers.claims(measured)}
        assert (found["vitpose_b_params"].verdict, found["vitpose_b_gflops"].verdict) == verdicts


def test_the_data_check_is_a_sanity_check_of_this_book():
    """Issue 22: the data's difficulty is this book's own check, not a reproduced paper result."""
    claim = next(c for c in readers.claims(_committed()) if c.id == "data_not_trivial")
    assert claim.kind == "sanity" and claim.verdict == "reproduced" and claim.paper_value is None




@pytest.mark.parametrize("variant", ["committed", "paper-like"])
def test_every_number_in_the_prose_comes_from_the_records(variant):
    records = _committed() if variant == "committed" else _with(_committed(), PAPER_LIKE, ap50=PAPER_AP50,
                                                                start=PAPER_START)
    records["claims"] = readers.claims(records)
    facts = readers.facts(records)
    assert_prose_states_only_facts(readers.prose(records), facts)


def test_captions_and_prose_count_people_and_images_as_the_tables_do():
    """Issue 22: the captions said "3,386 train / 290 test images" where the data table has 3,386 / 290
    people in 1,500 / 150 images; the out-of-domain note spoke of the build machine."""
    from patchlib.figures.vitpose import provenance_line

    records = _committed()
    records["claims"] = readers.claims(records)
    parts = readers.prose_parts(records)
    data = records["data"]["result"]
    people = f"{data['train']['people']:,} train / {data['val']['people']:,} val people"
    images = f"{data['train']['images']:,} / {data['val']['images']:,} images"
    for record in (records["data"], records["qualitative"], next(iter(records["train"].values()))):
        line = provenance_line(record, records["data"])
        assert f"{people} in {images}" in line and "test images" not in line
    assert f"{people} in {images}" in parts["data"]
    assert f"{data['train']['images']:,} images, {data['train']['people']:,} people" in parts["data_caption"]
    assert "here" not in parts["coco_mini"] and "data root here" not in " ".join(readers.prose(records))
    assert "3.8 AP" in parts["curves"] and "after 10 epochs" in parts["curves"]  # from the official logs in PAPER
    assert "not testable here" in parts["verdicts"] and "8×6 against the paper's 16×12" in parts["verdicts"]


def test_the_pages_markdown_types_no_numbers():
    """Every number of the page comes from the readers: the notebook's markdown cells state none (math,
    code, headings and the shared rerun box aside)."""
    notebook = json.loads((REPO / "notebooks" / "vitpose.ipynb").read_text())
    for cell in notebook["cells"]:
        if cell["cell_type"] != "markdown" or cell.get("id") == "rerun-vitpose":
            continue
        text = "".join(cell["source"])
        for pattern in (r"```.*?```", r"\$\$.*?\$\$", r"`[^`]*`", r"^#.*$"):
            text = re.sub(pattern, "", text, flags=re.S | re.M)
        assert not re.search(r"\d", text), text


def test_tables_show_each_paper_values_status():
    records = _committed()
    assert set(readers.paper_table()["status"]) == {"confirmed"}
    costs = readers.cost_table(records)
    assert costs.loc["ViTPose-B classic", "paper status"] == "confirmed"
    assert costs.loc["ours: vit classic", "paper status"] == "not sourced"
    assert set(page.setup_table(records)["paper status"]) == {"confirmed"}
    frame = page.claims_frame(readers.claims(records))
    assert {"kind", "paper status"} <= set(frame.columns) and "Gate: " in frame["evidence"].iloc[0]
    assert "not testable here" in set(frame["verdict"])


# ---- the smoke chapter end to end (issue 23 §2: pretraining, then the ablation on it) ----

def test_the_smoke_chapter_pretrains_then_fine_tunes_from_its_pretraining(tmp_path, monkeypatch):
    """run() in the smoke profile: a pretrain record per backbone before the training runs, whose configs name
    it; both backbones end in the paper's 8x6 map; the page's prose states only the records' numbers and the
    pretraining figure draws; a second run loads every record and computes nothing."""
    import matplotlib.pyplot as plt

    from patchlib.experiments.vitpose import setting
    from patchlib.figures.vitpose import pretrain_figure

    for name in INIT_ENV.values():
        monkeypatch.delenv(name, raising=False)
    records = chapter.run("smoke", results_dir=tmp_path, progress=False)
    assert set(records["pretrain"]) == {"vit", "resnet"} and len(records["train"]) == 8
    for (backbone, _, _), record in records["train"].items():
        pretrained = records["pretrain"][backbone]
        assert record["config"]["pretrain"] == f"{pretrained['config']['name']}-{pretrained['config_hash']}"
    assert readers.feature_map(records, "resnet") == readers.feature_map(records, "vit") == (8, 6)
    gates = {c.id: c.gate for c in records["claims"]}
    assert "ResNet classic AP" in gates["cnn_needs_classic_decoder"] and "map 8x6 (paper 8x6)" in \
        gates["cnn_needs_classic_decoder"]
    parts = readers.prose_parts(records)
    assert {"pretraining", "stride", "pretrain_text", "pretrain_caption"} <= set(parts)
    assert "masked autoencoder" in parts["pretraining"] and "shapes10" in parts["pretraining"]
    assert "mechanism" not in parts  # the ResNet's map is the paper's: no 4x3 excuse
    assert_prose_states_only_facts(readers.prose(records), readers.facts(records))
    assert list(setting.pretrain_table(records).index) == ["ViT", "ResNet"]
    figure = pretrain_figure(records)
    assert len(figure.axes) == 2
    plt.close(figure)
    stored = {path.name: path.read_bytes() for path in (tmp_path / "vitpose").glob("*.json") if "claims" not in path.name}
    again = chapter.run("smoke", results_dir=tmp_path, progress=False)
    assert {path.name: path.read_bytes() for path in (tmp_path / "vitpose").glob("*.json")
            if "claims" not in path.name} == stored
    assert again["pretrain"]["vit"]["config_hash"] == records["pretrain"]["vit"]["config_hash"]
