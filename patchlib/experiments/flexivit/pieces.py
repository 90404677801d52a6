"""FlexiViT chapter, the compute pieces in the order `run()` computes them (see the package docstring):
the models and their training runs (Fig. 3's ViTs and FlexiViT, §3.2; distillation, §3.5), the
evaluation at every patch size, the throughput per patch size, Fig. 4 (§3.4) and the two-knob
frontier (beyond the papers)."""
from __future__ import annotations

from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import nn

from ...data import ImageData, iterate_batches, normalize
from ...layers import KERNEL_RESIZE_METHODS, resample_patch_embed, resize_pos_embed
from ...losses import distillation_loss, random_patch_loss
from ...measure import flops, measure_throughput, parameter_count
from ...models import EViTConfig, config_record, create_model, evit_layers
from ...models.flexivit import AtPatchSize, FlexiViT, FlexiViTConfig, init_from_vit
from ...models.vit import VisionTransformer
from ...train import ClassificationTask, TrainConfig, evaluate, fit
from ..common import ChapterRun, check_checkpoint
from .config import FIXED, Size, distill_recipe


# ---- the models ----

def build_role_model(size: Size, role: str) -> nn.Module:
    """An untrained model of `role` ("vit_small", "vit_large", "flexi", "flexi_long" or "distill")."""
    if role in FIXED:
        patch = size.small_patch if role == "vit_small" else size.large_patch
        return create_model(size.vit_model, **size.model_overrides, image_size=size.image_size, patch_size=patch)
    return create_model(size.flexi_model, **size.model_overrides, image_size=size.image_size,
                        patch_sizes=size.patch_sizes)


def own_patch(size: Size, role: str) -> int | None:
    return {"vit_small": size.small_patch, "vit_large": size.large_patch}.get(role)


def roles(size: Size) -> tuple[str, ...]:
    return ((*FIXED, "flexi") + (("flexi_long",) if size.equal_compute else ())
            + (("distill",) if size.distill_epochs > 0 else ()))


def role_training(size: Size, role: str) -> TrainConfig:
    """The training settings of `role`: the profile's, except "flexi_long" (len(patch_sizes) x the epochs: as many
    steps at each patch size as a fixed ViT takes at its own) and "distill" (its epochs, and the official recipe's
    learning rate and weight decay scaled to the batch: `config.distill_recipe`)."""
    if role == "flexi_long":
        return replace(size.train, epochs=size.train.epochs * len(size.patch_sizes))
    if role == "distill":
        return replace(size.train, epochs=size.distill_epochs, **distill_recipe(size.train.batch_size))
    return size.train


def evaluation_cadence(size: Size, role: str) -> int:
    """Epochs between the test evaluations in `role`'s training history (the last epoch is always evaluated): every
    epoch, except "flexi_long" (every len(patch_sizes) epochs: the points that pair with a fixed ViT's epochs at equal
    compute per size) and "distill" (its last epoch only: nothing reads its history)."""
    return {"flexi_long": len(size.patch_sizes), "distill": size.distill_epochs}.get(role, 1)


class CadencedTask(ClassificationTask):
    """`patchlib.train.ClassificationTask` (what `train` fits) evaluated every `eval_every` epochs."""

    def __init__(self, *args, eval_every: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.eval_every = eval_every


def _base(ctx: ChapterRun, name: str, **entries) -> dict:
    size = ctx.size
    return ctx.config(name, dataset=ctx.profile_dataset(), n_train=size.n_train, n_test=size.n_test,
                      image_size=size.image_size) | entries


def trained_runs(ctx: ChapterRun) -> list[tuple[str, int]]:
    """(role, seed) of every training run: each role with the chapter's seed, then the seeded
    roles this profile trains with the further seeds (as many as `size.fewer_seeds` gives a role)."""
    size, trained = ctx.size, roles(ctx.size)
    return [(role, ctx.seed) for role in trained] + [
        (role, seed) for n, seed in enumerate(ctx.seeds[1:], 2) for role in size.seeded_roles
        if role in trained and n <= size.fewer_seeds.get(role, size.seeds)]


def run_key(ctx: ChapterRun, role: str, seed: int) -> str:
    """How results name a run: the role for the chapter's seed, `<role>-s<seed>` for the others."""
    return role if seed == ctx.seed else f"{role}-s{seed}"


def train_config(ctx: ChapterRun, role: str, seed: int | None = None) -> dict:
    size = ctx.size
    seed = ctx.seed if seed is None else seed
    config = _base(ctx, f"train-{run_key(ctx, role, seed)}-{ctx.profile}", role=role,
                   model=size.vit_model if role in FIXED else size.flexi_model,
                   model_config=config_record(build_role_model(size, role).config))
    config = config | {"seed": seed, "train": role_training(size, role).record(),
                       "eval_every": evaluation_cadence(size, role)}
    if role in FIXED:
        return config | {"objective": "cross-entropy at the model's patch size"}
    if role in ("flexi", "flexi_long"):
        return config | {"objective": "cross-entropy at a patch size drawn uniformly per step (the epoch's shared "
                                      "generator)"}
    return config | {"objective": "KL(teacher || student), student at a uniformly drawn patch size, same view",
                     "temperature": size.distill_temperature, "teacher": train_config(ctx, "vit_small"),
                     "init": "teacher (init_from_vit: PI-resized kernel, resized position embeddings)",
                     "recipe": "big_vision i1k_deit3_distill.py lr and wd, scaled linearly to the batch "
                               "(config.distill_recipe)"}


class TrainedModels:
    """The chapter's trained models within one `run()`: each (role, seed)'s record (trained or
    loaded once) and its weights from the training checkpoint."""

    def __init__(self, ctx: ChapterRun):
        self.ctx = ctx
        self.records: dict[tuple[str, int], dict] = {}

    def record(self, role: str, seed: int | None = None) -> dict:
        key = (role, self.ctx.seed if seed is None else seed)
        if key not in self.records:
            self.records[key] = self._train(*key)
        return self.records[key]

    def _train(self, role: str, seed: int, *, force: bool = False) -> dict:
        ctx, size = self.ctx, self.ctx.size
        config = train_config(ctx, role, seed)
        checkpoint = ctx.checkpoint(config)

        def compute(data) -> dict:
            torch.manual_seed(seed)
            model, loss_fn, train_cfg = build_role_model(size, role), None, role_training(size, role)
            if role in ("flexi", "flexi_long"):
                loss_fn = random_patch_loss(size.patch_sizes, size.train.label_smoothing)
            elif role == "distill":
                teacher = self.model("vit_small")
                init_from_vit(model, teacher)
                loss_fn = distillation_loss(teacher, size.patch_sizes, size.distill_temperature)
            task = CadencedTask(data, train_cfg, device=ctx.device, loss_fn=loss_fn,
                                eval_every=evaluation_cadence(size, role))
            trained = fit(model, task, seed=seed, device=ctx.device, checkpoint=checkpoint, progress=ctx.progress)
            history = trained["history"]
            return {"history": history, "final": {k: history[-1][k] for k in ("test_loss", "test_acc")},
                    "train_time_s": trained["train_time_s"], "normalization": {"mean": task.mean, "std": task.std},
                    "parameters": parameter_count(model), "checkpoint": checkpoint.name}

        return ctx.record(role, config, compute, force=force)

    def model(self, role: str, seed: int | None = None) -> nn.Module:
        """The trained weights of `role`, from its checkpoint (retrained if the checkpoint is gone)."""
        seed = self.ctx.seed if seed is None else seed
        self.record(role, seed)
        checkpoint = self.ctx.checkpoint(train_config(self.ctx, role, seed))
        if not checkpoint.exists():
            self.records[(role, seed)] = self._train(role, seed, force=True)
        model = build_role_model(self.ctx.size, role)
        model.load_state_dict(check_checkpoint(checkpoint)["model"])
        return model.to(self.ctx.device).eval()

    def flexible(self, role: str, seed: int | None = None) -> FlexiViT:
        """The model of `role` as a FlexiViT (fixed ViTs keep their own kernel and grid as base)."""
        model = self.model(role, seed)
        return model if isinstance(model, FlexiViT) else FlexiViT.from_vit(model, self.ctx.size.patch_sizes).eval()


def plain_resized_vit(vit: VisionTransformer, patch_size: int) -> VisionTransformer:
    """FlexiViT Fig. 3's baseline (§3.2): a fixed ViT run at another patch size with its patch-embedding kernel resized
    bilinearly like an image (`resample_patch_embed(method="resize")`, no PI-resize) and its position embeddings resized
    bilinearly to the new grid. Both resizes take FlexiViT's interpolation settings (`FlexiViTConfig`), so this differs
    from `FlexiViT.from_vit` (the book's PI-resize curve) in the kernel's resize alone."""
    settings = FlexiViTConfig()
    config = replace(vit.config, patch_size=patch_size)
    resized = VisionTransformer(config).to(next(vit.parameters()).device)
    state = vit.state_dict()
    kernel = resample_patch_embed(state["patch_embed.proj.weight"], patch_size, method="resize",
                                  interpolation=settings.kernel_interpolation, antialias=settings.kernel_antialias)
    pos_embed = resize_pos_embed(state["pos_embed"], resized.grid_size, old_grid=tuple(vit.grid_size),
                                 interpolation=settings.posemb_interpolation, antialias=settings.posemb_antialias)
    resized.load_state_dict(state | {"patch_embed.proj.weight": kernel, "pos_embed": pos_embed})
    return resized.eval()


# ---- the pieces ----

FIXED_VIT_RESIZES = {
    "acc": "the book's addition: kernel PI-resized, position embeddings resized bilinearly (FlexiViT.from_vit)",
    "acc_plain": "FlexiViT Fig. 3: kernel and position embeddings resized bilinearly (plain_resized_vit)",
}


def evaluate_models(ctx: ChapterRun, models: TrainedModels) -> dict:
    """Test accuracy of every trained run at every patch size; the fixed ViTs at the sizes they were not trained for
    both ways of `FIXED_VIT_RESIZES` ("acc" and "acc_plain": identical at their own size)."""
    size = ctx.size
    runs = trained_runs(ctx)
    config = _base(ctx, f"evaluate-{ctx.profile}", patch_sizes=list(size.patch_sizes),
                   models={run_key(ctx, role, seed): train_config(ctx, role, seed) for role, seed in runs},
                   eval_batch_size=size.train.eval_batch_size, precision="fp32", fixed_vit_resizes=FIXED_VIT_RESIZES)

    def compute(data) -> dict:
        accuracy = {}
        for role, seed in runs:
            norm = models.record(role, seed)["result"]["normalization"]

            def test(model: nn.Module) -> dict:
                return evaluate(model, data.test, mean=norm["mean"], std=norm["std"], device=ctx.device,
                                batch_size=size.train.eval_batch_size, precision="fp32")

            model = models.flexible(role, seed)
            metrics = [test(AtPatchSize(model, p)) for p in size.patch_sizes]
            entry = {"acc": [m["acc"] for m in metrics], "loss": [m["loss"] for m in metrics],
                     "own_patch": own_patch(size, role), "role": role, "seed": seed}
            if role in FIXED:
                vit, own = models.model(role, seed), own_patch(size, role)
                plain = [metrics[i] if p == own else test(plain_resized_vit(vit, p))
                         for i, p in enumerate(size.patch_sizes)]
                entry |= {"acc_plain": [m["acc"] for m in plain], "loss_plain": [m["loss"] for m in plain]}
            accuracy[run_key(ctx, role, seed)] = entry
        return {"patch_sizes": list(size.patch_sizes),
                "seq_len": [(size.image_size // p) ** 2 for p in size.patch_sizes], "models": accuracy,
                "chance": 100.0 / len(data.test.classes)}

    return ctx.record("evaluate", config, compute)


def measure_patch_sizes(ctx: ChapterRun) -> dict:
    """Inference throughput (cache warm) and GMACs of the FlexiViT at each patch size."""
    size = ctx.size
    config = ctx.config(f"measure-{ctx.profile}", model_config=config_record(build_role_model(size, "flexi").config),
                        patch_sizes=list(size.patch_sizes), device_type=ctx.device.type,
                        throughput=size.throughput.record())

    def compute() -> dict:
        torch.manual_seed(ctx.seed)
        model = build_role_model(size, "flexi").to(ctx.device).eval()
        shape = (3, size.image_size, size.image_size)
        pinned = {f"p{p}": AtPatchSize(model, p) for p in size.patch_sizes}
        with torch.no_grad():  # fill the cache: the resize is done once per size, not per image
            for module in pinned.values():
                module(torch.zeros(1, *shape, device=ctx.device))
        measured = measure_throughput(pinned, shape, size.throughput, device=ctx.device)
        rows = [{"patch_size": p, "seq_len": (size.image_size // p) ** 2, "gmacs": flops(pinned[f"p{p}"], shape)["gmacs"],
                 "images_per_s": measured["models"][f"p{p}"]["images_per_s"],
                 "images_per_s_rounds": measured["models"][f"p{p}"]["rounds"]} for p in size.patch_sizes]
        return {"rows": rows, "protocol": measured["protocol"], "parameters": parameter_count(model),
                "note": "resized kernel and position embeddings cached (computed once per size), not counted"}

    return ctx.record("measure", config, compute, uses_data=False)


@torch.no_grad()
def upsampled_accuracy(model: nn.Module, data: ImageData, *, mean, std, factor: int, device,
                       batch_size: int = 256) -> float:
    """Top-1 accuracy (%) on normalised images upsampled by `factor` (bilinear, no antialiasing,
    align_corners=False: the operator PI-resize inverts)."""
    model.eval()
    correct = 0
    for images, labels in iterate_batches(data, batch_size, shuffle=False):
        x = normalize(images.to(device), mean, std)
        if factor != 1:
            x = F.interpolate(x, size=(x.shape[-2] * factor, x.shape[-1] * factor), mode="bilinear",
                              antialias=False, align_corners=False)
        correct += (model(x).argmax(dim=1) == labels.to(device)).sum().item()
    return 100.0 * correct / len(data)


def figure4(ctx: ChapterRun, models: TrainedModels) -> dict:
    """FlexiViT Fig. 4: image and patch upsampled together (token grid fixed), kernel resampled by
    each method, position embeddings unchanged."""
    size = ctx.size
    config = _base(ctx, f"figure4-{ctx.profile}", model=train_config(ctx, "vit_small"),
                   factors=list(size.figure4_factors), methods=list(KERNEL_RESIZE_METHODS),
                   image_resize="bilinear, antialias=False, align_corners=False, on normalised images",
                   kernel_interpolation="bilinear", kernel_antialias=False)

    def compute(data) -> dict:
        vit = models.model("vit_small")
        norm = models.record("vit_small")["result"]["normalization"]
        state = vit.state_dict()
        acc = {method: [] for method in KERNEL_RESIZE_METHODS}
        for factor in size.figure4_factors:
            scaled = VisionTransformer(replace(vit.config, image_size=vit.config.image_size * factor,
                                               patch_size=vit.config.patch_size * factor)).to(ctx.device)
            for method in KERNEL_RESIZE_METHODS:
                if factor == 1 and method != KERNEL_RESIZE_METHODS[0]:
                    acc[method].append(acc[KERNEL_RESIZE_METHODS[0]][0])  # every method leaves the kernel as is
                    continue
                kernel = resample_patch_embed(state["patch_embed.proj.weight"].double(), vit.config.patch_size * factor,
                                              method=method, interpolation="bilinear", antialias=False)
                scaled.load_state_dict(state | {"patch_embed.proj.weight": kernel.float()})
                acc[method].append(upsampled_accuracy(scaled, data.test, mean=norm["mean"], std=norm["std"],
                                                      factor=factor, device=ctx.device))
        return {"factors": list(size.figure4_factors),
                "patch_sizes": [vit.config.patch_size * k for k in size.figure4_factors],
                "image_sizes": [vit.config.image_size * k for k in size.figure4_factors],
                "grid": list(vit.grid_size), "accuracy": acc}

    return ctx.record("figure4", config, compute)


def frontier_model(size: Size, state: dict, keep_rate: float) -> FlexiViT:
    """The chapter's FlexiViT with EViT's reorganisation (fused, in `evit_layers(depth)`) at `keep_rate`."""
    model = build_role_model(size, "flexi")
    model = FlexiViT(replace(model.config, evit=EViTConfig(keep_rate=keep_rate, layers=evit_layers(model.config.depth),
                                                           fuse_inattentive=True)))
    model.load_state_dict(state)
    return model.eval()


def frontier(ctx: ChapterRun, models: TrainedModels) -> dict:
    """Beyond the papers: one trained FlexiViT, two compute knobs. Accuracy (test set), GMACs and
    measured throughput at every patch size x EViT keep rate, the reorganisation applied to the
    trained FlexiViT as it is (no training with it)."""
    size = ctx.size
    config = _base(ctx, f"frontier-{ctx.profile}", model=train_config(ctx, "flexi"), patch_sizes=list(size.patch_sizes),
                   keep_rates=list(size.frontier_keep_rates), fuse=True, device_type=ctx.device.type,
                   throughput=size.throughput.record(), eval_batch_size=size.train.eval_batch_size, precision="fp32")

    def compute(data) -> dict:
        state = models.model("flexi").state_dict()
        norm = models.record("flexi")["result"]["normalization"]
        shape = (3, size.image_size, size.image_size)
        pinned, points = {}, []
        for keep_rate in size.frontier_keep_rates:
            model = frontier_model(size, state, keep_rate).to(ctx.device)
            for patch in size.patch_sizes:
                at = AtPatchSize(model, patch)
                metrics = evaluate(at, data.test, mean=norm["mean"], std=norm["std"], device=ctx.device,
                                   batch_size=size.train.eval_batch_size, precision="fp32")
                name = f"p{patch}-k{keep_rate:g}"
                pinned[name] = at
                points.append({"name": name, "patch_size": patch, "keep_rate": keep_rate, "acc": metrics["acc"],
                               "gmacs": flops(at, shape)["gmacs"]})
        measured = measure_throughput(pinned, shape, size.throughput, device=ctx.device)
        for point in points:
            point["images_per_s"] = measured["models"][point["name"]]["images_per_s"]
        return {"points": points, "protocol": measured["protocol"], "n_test": len(data.test)}

    return ctx.record("frontier", config, compute)
