"""A masked autoencoder (MAE; He et al., "Masked Autoencoders Are Scalable Vision Learners",
CVPR 2022, §3) around ViTPose's plain ViT backbone (`patchlib.models.vitpose.PoseViT`): the
self-supervised pretraining the paper's ViTs start from (ViTPose §4.1), at the book's scale.

As the official facebookresearch/mae `models_mae.py` (`MaskedAutoencoderViT`), written anew here:

- masking (§3 "Masking"): per image, a uniformly random 75 % of the patch tokens are removed
  (random noise per token, sorted; the lowest `visible_tokens` are kept);
- encoder (§3 "MAE encoder"): the pose model's own `PoseViT` (patch embedding, position
  embeddings, blocks, final norm) applied to the visible tokens only, so its weights load into a
  `TopDownPose` by name (`pretrained_encoder_state`). Unlike MAE's encoder, no class token goes
  through it: ViTPose has none (it adds the class slot's position embedding to every patch, zero
  and fixed here during pretraining, as MAE's is);
- decoder (§3 "MAE decoder"): a linear map to the decoder's width, a shared learned mask token in
  every masked position, the decoder's own position embeddings, a few Transformer blocks
  (`patchlib.layers.Block`), a norm and a linear prediction of each patch's pixels;
- target and loss (§3 "Reconstruction target"): each patch's pixels normalised by the patch's
  own mean and variance (`norm_pix_loss`), mean squared error over the masked patches only;
- initialisation (`initialize_weights`): fixed 2-D sine-cosine position embeddings in encoder and
  decoder, the patch kernel Xavier-uniform as a linear map, linear layers Xavier-uniform with
  zero biases, the mask token normal(0.02), LayerNorms at identity.

The targets are the patches of the unpadded grid; ViTPose's padded patch embedding (2 px) reads
each patch's window 2 px up and left of it, which the encoder learns to undo.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from einops import rearrange
from torch import nn

from ..layers import Block, check_int
from .vitpose import PoseViT, PoseViTConfig


@dataclass(frozen=True)
class MAEConfig:
    """The encoder (the pose model's backbone config) and the MAE's own parts (official
    defaults for ViT-B: decoder 512 wide, 8 blocks, 16 heads; mask ratio 0.75; norm_pix_loss)."""

    encoder: PoseViTConfig
    decoder_dim: int = 512
    decoder_depth: int = 8
    decoder_heads: int = 16
    mask_ratio: float = 0.75
    norm_pix_loss: bool = True

    def __post_init__(self):
        if isinstance(self.encoder, dict):  # a config read back from a record
            fields = {key: tuple(value) if isinstance(value, list) else value for key, value in self.encoder.items()}
            object.__setattr__(self, "encoder", PoseViTConfig(**fields))
        if not isinstance(self.encoder, PoseViTConfig):
            raise ValueError(f"MAEConfig.encoder must be a PoseViTConfig, got {type(self.encoder).__name__}")
        for name in ("decoder_dim", "decoder_depth", "decoder_heads"):
            check_int(getattr(self, name), f"MAEConfig.{name}")
        if self.decoder_dim % self.decoder_heads:
            raise ValueError(f"MAEConfig.decoder_dim {self.decoder_dim} is not divisible by decoder_heads "
                             f"{self.decoder_heads}")
        for owner, dim in (("encoder.dim", self.encoder.dim), ("decoder_dim", self.decoder_dim)):
            if dim % 4:
                raise ValueError(f"MAEConfig.{owner} {dim} must be divisible by 4 for 2-D sine-cosine position "
                                 "embeddings (sine and cosine of rows and of columns)")
        ratio = self.mask_ratio
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 <= ratio < 1:
            raise ValueError(f"MAEConfig.mask_ratio must be a fraction in [0, 1), got {ratio!r}")
        if not 1 <= self.visible_tokens <= self.tokens:
            raise ValueError(f"MAEConfig.mask_ratio {ratio} leaves {self.visible_tokens} of {self.tokens} tokens "
                             "visible; the encoder needs at least one")
        if not isinstance(self.norm_pix_loss, bool):
            raise ValueError(f"MAEConfig.norm_pix_loss must be True or False, got {self.norm_pix_loss!r}")

    @property
    def tokens(self) -> int:
        """N: patch tokens per image."""
        return self.encoder.grid_size[0] * self.encoder.grid_size[1]

    @property
    def visible_tokens(self) -> int:
        """Tokens the encoder sees per image: round(N (1 - mask_ratio)) (MAE truncates instead; the two
        agree wherever N (1 - mask_ratio) is a whole number, as for 48 tokens at 0.75)."""
        return round(self.tokens * (1 - self.mask_ratio))


def sincos_position_embedding(dim: int, grid: tuple[int, int]) -> torch.Tensor:
    """MAE's fixed 2-D sine-cosine embeddings (`util/pos_embed.py`), [gh * gw, dim] in row-major
    order: the first half of the channels encodes the column, the second the row, each as
    sin(pos * w_k) then cos(pos * w_k) with w_k = 10000^(-k / (dim / 4)), k = 0 .. dim / 4 - 1."""
    if dim % 4:
        raise ValueError(f"sine-cosine position embeddings need a width divisible by 4, got {dim}")
    omega = 1.0 / 10000 ** (torch.arange(dim // 4, dtype=torch.float64) / (dim / 4))
    rows, columns = torch.meshgrid(torch.arange(grid[0], dtype=torch.float64),
                                   torch.arange(grid[1], dtype=torch.float64), indexing="ij")

    def one_axis(positions: torch.Tensor) -> torch.Tensor:
        angles = positions.reshape(-1, 1) * omega                                  # [N, dim / 4]
        return torch.cat([angles.sin(), angles.cos()], dim=1)                      # [N, dim / 2]

    return torch.cat([one_axis(columns), one_axis(rows)], dim=1).float()


def patchify(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """[B, C, H, W] -> [B, N, p * p * C]: the patches of the grid in row-major order, each patch's
    pixels row by row, channels last (MAE's `patchify`)."""
    return rearrange(images, "b c (gh p) (gw q) -> b (gh gw) (p q c)", p=patch_size, q=patch_size)


def random_masking(batch: int, tokens: int, visible: int, *, generator: torch.Generator | None = None,
                   device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """MAE's per-image random masking (`random_masking`): (indices of the visible tokens [B, visible],
    in the order of their noise; mask [B, N], 1 where a token is removed). The noise is drawn on the
    CPU from `generator` (so a seeded run draws the same masks on any device)."""
    noise = torch.rand(batch, tokens, generator=generator)
    keep = noise.argsort(dim=1)[:, :visible]
    mask = torch.ones(batch, tokens).scatter_(1, keep, 0.0)
    return keep.to(device), mask.to(device)


def masked_patch_loss(predicted: torch.Tensor, images: torch.Tensor, mask: torch.Tensor, patch_size: int, *,
                      norm_pix_loss: bool = True) -> torch.Tensor:
    """MAE's loss (`forward_loss`): the mean squared error between `predicted` [B, N, p * p * C] and
    the patches of `images`, each normalised by its own mean and variance with `norm_pix_loss`
    (eps 1e-6), averaged per patch and then over the masked patches only (mask [B, N], 1: masked)."""
    target = patchify(images.float(), patch_size)
    if norm_pix_loss:
        mean, var = target.mean(dim=-1, keepdim=True), target.var(dim=-1, keepdim=True)
        target = (target - mean) / (var + 1e-6) ** 0.5
    per_patch = ((predicted.float() - target) ** 2).mean(dim=-1)                    # [B, N]
    return (per_patch * mask).sum() / mask.sum()


class MaskedAutoencoder(nn.Module):
    """MAE around a `PoseViT` encoder (see the module docstring). `forward(images, generator)`
    draws the masks and returns {"loss", "predicted" [B, N, p * p * C], "mask" [B, N]}."""

    def __init__(self, config: MAEConfig):
        super().__init__()
        self.config = config
        encoder = config.encoder
        self.encoder = PoseViT(encoder)
        self.decoder_embed = nn.Linear(encoder.dim, config.decoder_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, config.decoder_dim))
        self.decoder_pos_embed = nn.Parameter(torch.zeros(1, config.tokens, config.decoder_dim), requires_grad=False)
        self.decoder_blocks = nn.ModuleList(Block(config.decoder_dim, heads=config.decoder_heads, mlp_ratio=4.0,
                                                  qkv_bias=True) for _ in range(config.decoder_depth))
        self.decoder_norm = nn.LayerNorm(config.decoder_dim, eps=1e-6)
        self.decoder_pred = nn.Linear(config.decoder_dim, encoder.patch_size ** 2 * encoder.in_channels)
        self.initialize_weights()

    def initialize_weights(self) -> None:
        """MAE's `initialize_weights` (see the module docstring). The encoder's position embeddings
        (class slot zero) and the decoder's are fixed during pretraining, as MAE's."""
        grid = self.config.encoder.grid_size
        encoder_pos = sincos_position_embedding(self.config.encoder.dim, grid)
        with torch.no_grad():
            self.encoder.pos_embed.copy_(torch.cat([torch.zeros(1, encoder_pos.shape[1]), encoder_pos])[None])
            self.decoder_pos_embed.copy_(sincos_position_embedding(self.config.decoder_dim, grid)[None])
        self.encoder.pos_embed.requires_grad_(False)
        kernel = self.encoder.patch_embed.proj.weight
        nn.init.xavier_uniform_(kernel.view(kernel.shape[0], -1))
        nn.init.normal_(self.mask_token, std=0.02)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def encode(self, images: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
        """The encoder on the visible tokens only: [B, 3, H, W], indices [B, V] -> [B, V, D] (as
        `PoseViT.forward`, with the removed tokens taken out after the position embeddings)."""
        vit = self.encoder
        if tuple(images.shape[-2:]) != vit.config.image_size:
            raise ValueError(f"expected crops of size {vit.config.image_size}, got {tuple(images.shape[-2:])}")
        tokens = vit.patch_embed(images) + vit.pos_embed[:, 1:] + vit.pos_embed[:, :1]   # [B, N, D]
        x = torch.gather(tokens, 1, visible[..., None].expand(-1, -1, tokens.shape[-1]))  # [B, V, D]
        for block in vit.blocks:
            x = block(x)
        return vit.norm(x)

    def decode(self, latent: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
        """[B, V, D] at the visible positions -> predicted pixels of every patch [B, N, p * p * C]:
        mask tokens everywhere else, the decoder's position embeddings, its blocks and prediction."""
        x = self.decoder_embed(latent)                                                  # [B, V, Dd]
        batch, width = x.shape[0], x.shape[-1]
        full = self.mask_token.to(x.dtype).expand(batch, self.config.tokens, width)
        x = full.scatter(1, visible[..., None].expand(-1, -1, width), x) + self.decoder_pos_embed
        for block in self.decoder_blocks:
            x = block(x)
        return self.decoder_pred(self.decoder_norm(x))

    def forward(self, images: torch.Tensor, generator: torch.Generator | None = None) -> dict:
        config = self.config
        visible, mask = random_masking(len(images), config.tokens, config.visible_tokens, generator=generator,
                                       device=images.device)
        predicted = self.decode(self.encode(images, visible), visible)
        loss = masked_patch_loss(predicted, images, mask, config.encoder.patch_size,
                                 norm_pix_loss=config.norm_pix_loss)
        return {"loss": loss, "predicted": predicted, "mask": mask}

    def pretrained_encoder_state(self) -> dict[str, torch.Tensor]:
        """The encoder's weights as an MAE checkpoint's encoder part (the `PoseViT` names), to load
        into a pose model's backbone as ViTPose loads MAE's (`checkpoints.load_checkpoint(...,
        format="mae")`: the final norm is not carried over)."""
        return {key: value.detach().clone() for key, value in self.encoder.state_dict().items()}

