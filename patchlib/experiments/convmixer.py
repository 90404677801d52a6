"""ConvMixer chapter: the CIFAR-10 training recipe and the kernel-size x patch-size ablation
(Trockman & Kolter, 2023, §3 and the CIFAR-10 experiments of the appendix).

Three kinds of cached records (pieces "grid", "recipe", "throughput"), each recomputable alone:
- one per grid cell (kernel k, patch p): a ConvMixer trained with the recipe, its parameter
  count and GMACs; the cells the kernel claim compares at the cheap patch sizes (`seeded_cells`)
  are trained again with further seeds (initialisation, data order and augmentation seeded);
- the recipe run: one model trained for longer, its accuracy per epoch;
- "throughput": every grid cell timed with the shared protocol (`patchlib.measure`); recompute it
  alone with `force={"throughput"}` when the machine is quiet.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch

from ..claims import Claim, claim_spread, combined_verdict, mean_and_error, noise_verdict, pooled_sd
from ..measure import ThroughputProtocol, flops, measure_throughput, parameter_count
from ..models import config_record, create_model
from ..train import TrainConfig, train
from .common import CORE_CODE, ChapterRun, record_source

CHAPTER = "convmixer"
PIECES = ("grid", "recipe", "throughput")
CODE = CORE_CODE + ("patchlib/models/convmixer.py", "patchlib/models/registry.py")

# Published values (../shared/paper_values.md §3).
README = "locuslab/convmixer-cifar10 README.md (official repository)"
PAPER = {
    "recipe_result": {"value": 92.5, "unit": "% test accuracy after 25 epochs", "status": "confirmed",
                      "source": f"{README}: \"around 92.5% accuracy in just 25 epochs\""},
    # Test accuracy per epoch of the README's 25-epoch run (ConvMixer-256/8, k=5, p=2, the recommended command).
    "recipe_log": {"unit": "% test accuracy per epoch", "status": "confirmed", "source": f"{README}, training log",
                   "value": [54.18, 61.57, 70.69, 77.08, 73.44, 76.55, 83.28, 76.55, 81.38, 78.91, 83.87, 83.12, 85.63,
                             87.00, 85.27, 89.07, 90.19, 90.68, 91.39, 92.40, 92.38, 92.48, 92.53, 92.55, 92.60]},
    "kernel_sweep": {"value": {3: 93.61, 5: 95.11, 7: 95.72, 9: 95.88}, "unit": "% CIFAR-10 top-1 by kernel size",
                     "status": "secondary", "source": "the paper's CIFAR-10 ablation as quoted by a third-party "
                     "project's documentation (secondary; patch size, width, depth and epochs not stated)"},
    "patch_sweep": {"value": {2: -0.80, 4: -3.27}, "unit": "pp top-1 relative to p=1", "status": "secondary",
                    "source": "the paper's CIFAR-10 ablation as quoted by a third-party project's documentation "
                              "(secondary)"},
    "p1_k9": {"value": 96.03, "unit": "% CIFAR-10 top-1 (p=1, k=9)", "status": "secondary",
              "source": "the paper's appendix table as quoted in locuslab/convmixer issue #15 (secondary)"},
}


# The convmixer-cifar10 recipe (README command: --lr-max=0.05 --ra-n=2 --ra-m=12 --wd=0.005
# --scale=1.0 --jitter=0 --reprob=0; 25 epochs, AdamW, the piecewise-linear one-cycle schedule of
# its train.py, batch 512 and mixed precision per its defaults, no label smoothing, no clipping).
def recipe(epochs: int, *, batch_size: int = 512, lr: float = 0.05, precision: str = "auto") -> TrainConfig:
    return TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=0.005,
                       warmup_epochs=epochs * 2 / 5, schedule="onecycle", label_smoothing=0.0,
                       augment="flip_randaugment_m12", grad_clip=None, precision=precision)


@dataclass(frozen=True, kw_only=True)
class Size:
    grid_model: str
    grid_overrides: dict             # width and depth of every grid cell
    kernel_sizes: tuple[int, ...]
    patch_sizes: tuple[int, ...]
    grid_train: TrainConfig
    grid_n_train: int | None         # None: the whole training set
    recipe_model: str
    recipe_overrides: dict
    recipe_train: TrainConfig
    recipe_n_train: int | None
    n_test: int | None
    channels_last: bool = True       # faster depthwise convolutions on CPU (measured ~1.3-4x)
    throughput: ThroughputProtocol = ThroughputProtocol()
    seeds: int = 1                   # seeds of the seeded cells: seed, seed + 1, ...
    seeded_cells: tuple[tuple[int, int], ...] = ()  # (kernel, patch) cells trained with every seed


# Batch 128 instead of 512 on CPU: the lr is scaled linearly (0.05 * 128/512 = 0.0125).
SIZES = {
    # Seconds on any CPU: the whole pipeline on the embedded synthetic data.
    "smoke": Size(grid_model="convmixer_micro", grid_overrides={"dim": 16, "depth": 2}, kernel_sizes=(3, 5, 7, 9),
                  patch_sizes=(1, 2, 4), grid_train=recipe(2, batch_size=128, lr=0.0125, precision="fp32"),
                  grid_n_train=768, recipe_model="convmixer_micro", recipe_overrides={},
                  recipe_train=recipe(3, batch_size=128, lr=0.0125, precision="fp32"),
                  recipe_n_train=1536, n_test=256, seeds=2, seeded_cells=((3, 4), (9, 4)),
                  throughput=ThroughputProtocol(batch_size=32, warmup=1, repeats=2, rounds=1)),
    # 56 min on 2 CPU cores (measured: the grid 38 min with the seeds, the recipe 18). Grid:
    # ConvMixer-64/4 (measured, bf16 + channels-last, batch 128: 190-320 train img/s at p=1,
    # 930-2400 at p=2, 2200-5500 at p=4), 4 epochs of a fixed 10,000-image subset, the
    # k=3 and k=9 cells at p=2 and p=4 with 3 seeds. Recipe curve: ConvMixer-128/4 (k=5, p=2), 5
    # epochs of all 50,000 images.
    "cpu": Size(grid_model="convmixer_256_8", grid_overrides={"dim": 64, "depth": 4}, kernel_sizes=(3, 5, 7, 9),
                patch_sizes=(1, 2, 4), grid_train=recipe(4, batch_size=128, lr=0.0125, precision="bf16"),
                grid_n_train=10_000, recipe_model="convmixer_256_8", recipe_overrides={"dim": 128, "depth": 4},
                recipe_train=recipe(5, batch_size=128, lr=0.0125, precision="bf16"), recipe_n_train=None, n_test=None,
                seeds=3, seeded_cells=((3, 2), (9, 2), (3, 4), (9, 4))),
    # The convmixer-cifar10 recipe exactly (ConvMixer-256/8, k=5, p=2, 25 epochs, batch 512,
    # lr 0.05; bf16 autocast where the original uses fp16 + GradScaler), and the grid with
    # ConvMixer-256/8 at the same 25-epoch recipe.
    "gpu": Size(grid_model="convmixer_256_8", grid_overrides={}, kernel_sizes=(3, 5, 7, 9), patch_sizes=(1, 2, 4),
                grid_train=recipe(25), grid_n_train=None, recipe_model="convmixer_256_8", recipe_overrides={},
                recipe_train=recipe(25), recipe_n_train=None, n_test=None, channels_last=False),
}


def _model_config(name: str, overrides: dict) -> dict:
    return config_record(create_model(name, **overrides).config)


def cell_config(ctx: ChapterRun, kernel_size: int, patch_size: int, seed: int | None = None) -> dict:
    """One grid cell; `seed`: a further seed (None or the chapter's seed: the main run)."""
    size = ctx.size
    overrides = size.grid_overrides | {"kernel_size": kernel_size, "patch_size": patch_size}
    suffix = "" if seed in (None, ctx.seed) else f"-s{seed}"
    config = ctx.config(f"grid-k{kernel_size}-p{patch_size}{suffix}-{ctx.profile}", dataset=ctx.profile_dataset(),
                        n_train=size.grid_n_train, n_test=size.n_test, model=size.grid_model,
                        model_config=_model_config(size.grid_model, overrides), train=asdict(size.grid_train),
                        channels_last=size.channels_last)
    return config | {"seed": seed} if suffix else config


def recipe_config(ctx: ChapterRun) -> dict:
    size = ctx.size
    return ctx.config(f"recipe-{ctx.profile}", dataset=ctx.profile_dataset(), n_train=size.recipe_n_train,
                      n_test=size.n_test, model=size.recipe_model,
                      model_config=_model_config(size.recipe_model, size.recipe_overrides),
                      train=asdict(size.recipe_train), channels_last=size.channels_last)


def throughput_config(ctx: ChapterRun, cells: list[dict]) -> dict:
    return ctx.config(f"throughput-{ctx.profile}", device_type=ctx.device.type, channels_last=ctx.size.channels_last,
                      throughput=ctx.size.throughput.record(), models=[cell["model_config"] for cell in cells])


def _build(model_name: str, model_config: dict, channels_last: bool):
    model = create_model(model_name, **model_config)
    return model.to(memory_format=torch.channels_last) if channels_last else model


def _train_one(ctx: ChapterRun, piece: str, config: dict) -> dict:
    """Train the ConvMixer of `config` with its recipe (or load the stored result)."""
    def compute(data) -> dict:
        torch.manual_seed(config["seed"])
        model = _build(config["model"], config["model_config"], config["channels_last"])
        trained = train(model, data, TrainConfig(**config["train"]), seed=config["seed"], device=ctx.device,
                        progress=ctx.progress, checkpoint=ctx.checkpoint(config))
        return {"history": trained["history"], "final": trained["final"], "train_time_s": trained["train_time_s"],
                "parameters": parameter_count(model), "cost": flops(model, (3, 32, 32))}

    return ctx.record(piece, config, compute)


DRY_RUN = {}  # dry-run overrides (see common.dry_run_size)


def context(profile: str = "smoke", **options) -> ChapterRun:
    return ChapterRun.resolve(chapter=CHAPTER, sizes=SIZES, pieces=PIECES, code=CODE, profile=profile,
                              dry_run_overrides=DRY_RUN, **options)


def run(profile: str = "smoke", *, seed: int = 0, device="auto", data_root=None, results_dir=None,
        force: bool | set[str] = False, progress: bool = True, dry_run: bool = False) -> dict:
    """Train (or load) every grid cell and the recipe run, and measure the cells' throughput.

    Returns {"grid": [cell records], "grid_seeds": [the seeded cells' further seeds], "recipe": record,
    "throughput": record, "claims": [Claim]}.
    """
    ctx = context(profile, seed=seed, device=device, data_root=data_root, results_dir=results_dir, force=force,
                  progress=progress, dry_run=dry_run)
    size = ctx.size
    cells = [cell_config(ctx, k, p) for p in size.patch_sizes for k in size.kernel_sizes]
    records = {"grid": [_train_one(ctx, "grid", cell) for cell in cells],
               "grid_seeds": [_train_one(ctx, "grid", cell_config(ctx, k, p, seed))
                              for seed in ctx.seeds[1:] for k, p in size.seeded_cells],
               "recipe": _train_one(ctx, "recipe", recipe_config(ctx))}
    speed = throughput_config(ctx, cells)

    def measure() -> dict:
        models = {f"cell{i}": _build(size.grid_model, config, size.channels_last)
                  for i, config in enumerate(speed["models"])}
        measured = measure_throughput(models, (3, 32, 32), size.throughput, device=ctx.device)
        return {"throughput": [measured["models"][name] for name in models], "protocol": measured["protocol"]}

    records["throughput"] = ctx.record("throughput", speed, measure, uses_data=False)
    records["claims"] = ctx.write_claims(claims(records))
    return records


def cell_accuracies(records: dict) -> dict[tuple[int, int], list[float]]:
    """(kernel, patch) -> test accuracy (%) per seed, the main run first."""
    out: dict[tuple[int, int], list[float]] = {}
    for record in records["grid"] + records.get("grid_seeds", []):
        model = record["config"]["model_config"]
        out.setdefault((model["kernel_size"], model["patch_size"]), []).append(record["result"]["final"]["test_acc"])
    return out


def grid_table(records: dict):
    """One row per grid cell: k, p, accuracy (the mean over seeds where a cell has several, with
    their standard deviation and number), parameters, GMACs, measured img/s."""
    import pandas as pd

    accuracies = cell_accuracies(records)
    rows = []
    for record, speed in zip(records["grid"], records["throughput"]["result"]["throughput"]):
        model, result = record["config"]["model_config"], record["result"]
        accs = accuracies[(model["kernel_size"], model["patch_size"])]
        rows.append({"kernel": model["kernel_size"], "patch": model["patch_size"],
                     "accuracy (%)": float(np.mean(accs)), "sd": float(np.std(accs, ddof=1)) if len(accs) > 1 else np.nan,
                     "seeds": len(accs), "parameters (M)": result["parameters"] / 1e6,
                     "GMACs": result["cost"]["gmacs"], "img/s": speed["images_per_s"],
                     "train min": result["train_time_s"] / 60})
    return pd.DataFrame(rows)


def seed_sd(records: dict) -> float:
    """The pooled seed-to-seed standard deviation of a cell's accuracy (pp) over the seeded cells
    (nan without any): the noise of one single-seed accuracy."""
    return pooled_sd(cell_accuracies(records).values())


@dataclass(frozen=True)
class Gain:
    """acc(one cell) - acc(another) judged against its noise: `gain` is the mean over the `n` seeds
    (paired per seed) where both cells have several, and `error` its standard error; a single-seed
    gain's error is that of one difference of two cells, sqrt(2) times the pooled seed-to-seed sd
    (nan without seeded cells: then its sign decides, `claims.noise_verdict`)."""
    gain: float
    error: float
    n: int
    verdict: str

    def __str__(self) -> str:
        error = "" if math.isnan(self.error) else f" ± {self.error:.2f} (s.e., {self.n} seed{'s' * (self.n > 1)})"
        return f"{self.gain:+.2f}{error}, {self.verdict.replace('_', ' ')}"


def grid_gains(records: dict) -> dict[str, dict[int, Gain]]:
    """The two grid comparisons: "kernel", per patch size p, acc(largest k) - acc(smallest k); and
    "patch", per kernel size k, acc(smallest p) - acc(largest p)."""
    accuracies = cell_accuracies(records)
    kernels, patches = sorted({k for k, _ in accuracies}), sorted({p for _, p in accuracies})
    single_seed_error = math.sqrt(2) * seed_sd(records)

    def judged(better: tuple[int, int], worse: tuple[int, int]) -> Gain:
        gains = [a - b for a, b in zip(accuracies[better], accuracies[worse])]
        gain, error = mean_and_error(gains) if len(gains) > 1 else (gains[0], single_seed_error)
        return Gain(gain, error, len(gains), noise_verdict(gain, error))

    return {"kernel": {p: judged((kernels[-1], p), (kernels[0], p)) for p in patches},
            "patch": {k: judged((k, patches[0]), (k, patches[-1])) for k in kernels}}


# ---- claims: each verdict is computed from the records by the rule stated beside it ----

def claims(records: dict) -> list[Claim]:
    """Both grid claims follow one noise-aware rule (`claims.noise_verdict`) per compared pair of
    cells (`grid_gains`, `Gain`): reproduced beyond two standard errors, not reproduced below minus
    two, within noise in between. The per-pair verdicts combine by `claims.combined_verdict`."""
    table = grid_table(records)
    profile = records["recipe"]["config"]["profile"]
    source = f"results/{CHAPTER}/grid-*-{profile}-*.json"
    kernels, patches = sorted(table["kernel"].unique()), sorted(table["patch"].unique())
    small, large = kernels[0], kernels[-1]
    gains = grid_gains(records)
    kernel_gains, patch_gains = gains["kernel"], gains["patch"]
    sd = seed_sd(records)
    noise_text = ("" if math.isnan(sd) else f"; pooled seed-to-seed sd of one cell {sd:.2f} pp, so a single-seed gain "
                  f"has an s.e. of {math.sqrt(2) * sd:.2f} pp")
    rule = ("rule (noise-aware): each gain is reproduced beyond two standard errors, not reproduced below minus two and "
            "within noise in between (per-seed pairs where the cells have several seeds; a single-seed gain against "
            "the pooled seed noise; by its sign without seeded cells); the claim combines them")
    kernel_mean = float(np.mean([g.gain for g in kernel_gains.values()]))
    kernel_error = math.sqrt(sum(g.error ** 2 for g in kernel_gains.values())) / len(kernel_gains)
    kernel_n = max(g.n for g in kernel_gains.values())
    gmacs = table.set_index(["patch", "kernel"])["GMACs"]
    cost_ratio = gmacs[(patches[0], small)] / gmacs[(patches[-1], small)]

    recipe_run = records["recipe"]
    recipe_acc = recipe_run["result"]["final"]["test_acc"]
    recipe_train = recipe_run["config"]["train"]
    exact_recipe = (recipe_run["config"]["model_config"] == _model_config("convmixer_256_8", {})
                    and recipe_train == asdict(recipe(25)))
    kernel_sweep, patch_sweep = PAPER["kernel_sweep"]["value"], PAPER["patch_sweep"]["value"]
    return [
        Claim(id="larger_kernels_help", claim="Larger depthwise kernels give higher accuracy",
              paper_value=round(kernel_sweep[9] - kernel_sweep[3], 2), our_value=round(kernel_mean, 2),
              spread=claim_spread(kernel_error),
              n=kernel_n if kernel_n > 1 else None,
              unit=f"mean over patch sizes of acc(k={large}) - acc(k={small}), points",
              verdict=combined_verdict([g.verdict for g in kernel_gains.values()]), profile=profile,
              evidence=f"{source}; {rule}. Gains: "
              + "; ".join(f"p={p}: {gain}" for p, gain in kernel_gains.items())
              + noise_text + "; the spread is the s.e. of the mean over patch sizes, n its most seeds",
              paper_source=PAPER["kernel_sweep"]["source"] + f": k=9 {kernel_sweep[9]}% vs k=3 {kernel_sweep[3]}%"),
        Claim(id="smaller_patches_help", claim="Smaller patches give higher accuracy, at a higher cost",
              paper_value=-patch_sweep[4],
              our_value=round(float(np.mean([g.gain for g in patch_gains.values()])), 2),
              unit=f"mean over kernel sizes of acc(p={patches[0]}) - acc(p={patches[-1]}), points",
              verdict=combined_verdict([g.verdict for g in patch_gains.values()]), profile=profile,
              evidence=f"{source}; {rule}. Gains: "
              + "; ".join(f"k={k}: {gain}" for k, gain in patch_gains.items())
              + noise_text + f"; p={patches[0]} costs {cost_ratio:.1f}x the GMACs of p={patches[-1]}",
              paper_source=PAPER["patch_sweep"]["source"] + f": p=4 loses {-patch_sweep[4]} pp against p=1"),
        Claim(id="recipe_25_epochs", claim="ConvMixer-256/8 (k=5, p=2) reaches ~92.5% in 25 epochs with the "
              "convmixer-cifar10 recipe", paper_value=PAPER["recipe_result"]["value"], our_value=round(recipe_acc, 2) if exact_recipe else None, unit="%",
              verdict=("reproduced" if recipe_acc >= PAPER["recipe_result"]["value"] - 1.0 else "not_reproduced") if exact_recipe
              else "not_tested", profile=profile,
              evidence=f"{record_source(recipe_run)}; rule: within 1 point "
              "below 92.5%, only for the exact recipe (gpu profile)" if exact_recipe else
              f"the {profile} profile trains a smaller model for {recipe_train['epochs']} epochs "
              f"({recipe_acc:.2f}% here); only the gpu profile runs the exact recipe",
              paper_source=PAPER["recipe_result"]["source"]),
    ]
