"""A port of the official ViTPose model for the parity tests (ViTAE-Transformer/ViTPose at
33f49cf): the backbone `mmpose/models/backbones/vit.py` (`ViT`, with timm's `drop_path`), the head
`mmpose/models/heads/topdown_heatmap_simple_head.py` (`TopdownHeatmapSimpleHead`, as the COCO
configs build it) and the MAE initialisation of `mmcv_custom/checkpoint.py:load_checkpoint`.
Written for the tests, kept close to the official lines; the class names are the official ones,
so their state dicts have the official keys ("backbone.*", "keypoint_head.*")."""
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn


def drop_path(x, drop_prob: float = 0., training: bool = False, scale_by_keep: bool = True):
    """timm's drop_path, which ViTPose's DropPath calls."""
    if drop_prob == 0. or not training:
        return x
    keep_prob = 1 - drop_prob
    shape = (x.shape[0],) + (1,) * (x.ndim - 1)
    random_tensor = x.new_empty(shape).bernoulli_(keep_prob)
    if keep_prob > 0.0 and scale_by_keep:
        random_tensor.div_(keep_prob)
    return x * random_tensor


class DropPath(nn.Module):
    def __init__(self, drop_prob=None):
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x):
        return drop_path(x, self.drop_prob, self.training)


class Mlp(nn.Module):
    def __init__(self, in_features, hidden_features=None, out_features=None, act_layer=nn.GELU, drop=0.):
        super().__init__()
        out_features = out_features or in_features
        hidden_features = hidden_features or in_features
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = act_layer()
        self.fc2 = nn.Linear(hidden_features, out_features)
        self.drop = nn.Dropout(drop)

    def forward(self, x):
        return self.drop(self.fc2(self.act(self.fc1(x))))


class Attention(nn.Module):
    def __init__(self, dim, num_heads=8, qkv_bias=False, qk_scale=None, attn_drop=0., proj_drop=0.):
        super().__init__()
        self.num_heads = num_heads
        head_dim = dim // num_heads
        self.scale = qk_scale or head_dim ** -0.5
        self.qkv = nn.Linear(dim, head_dim * num_heads * 3, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(head_dim * num_heads, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x):
        B, N, _ = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        q = q * self.scale
        attn = (q @ k.transpose(-2, -1)).softmax(dim=-1)
        attn = self.attn_drop(attn)
        x = (attn @ v).transpose(1, 2).reshape(B, N, -1)
        return self.proj_drop(self.proj(x))


class Block(nn.Module):
    def __init__(self, dim, num_heads, mlp_ratio=4., qkv_bias=False, drop=0., attn_drop=0., drop_path=0.,
                 norm_layer=nn.LayerNorm):
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.attn = Attention(dim, num_heads=num_heads, qkv_bias=qkv_bias, attn_drop=attn_drop, proj_drop=drop)
        self.drop_path = DropPath(drop_path) if drop_path > 0. else nn.Identity()
        self.norm2 = norm_layer(dim)
        self.mlp = Mlp(in_features=dim, hidden_features=int(dim * mlp_ratio), drop=drop)

    def forward(self, x):
        x = x + self.drop_path(self.attn(self.norm1(x)))
        x = x + self.drop_path(self.mlp(self.norm2(x)))
        return x


class PatchEmbed(nn.Module):
    def __init__(self, img_size=224, patch_size=16, in_chans=3, embed_dim=768, ratio=1):
        super().__init__()
        img_size, patch_size = (img_size, img_size) if isinstance(img_size, int) else img_size, (patch_size, patch_size)
        self.num_patches = (img_size[1] // patch_size[1]) * (img_size[0] // patch_size[0]) * (ratio ** 2)
        self.patch_shape = (int(img_size[0] // patch_size[0] * ratio), int(img_size[1] // patch_size[1] * ratio))
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=(patch_size[0] // ratio),
                              padding=4 + 2 * (ratio // 2 - 1))

    def forward(self, x):
        x = self.proj(x)
        Hp, Wp = x.shape[2], x.shape[3]
        return x.flatten(2).transpose(1, 2), (Hp, Wp)


class ViT(nn.Module):
    def __init__(self, img_size=224, patch_size=16, in_chans=3, embed_dim=768, depth=12, num_heads=12, mlp_ratio=4.,
                 qkv_bias=False, drop_rate=0., attn_drop_rate=0., drop_path_rate=0., ratio=1):
        super().__init__()
        norm_layer = partial(nn.LayerNorm, eps=1e-6)
        self.patch_embed = PatchEmbed(img_size=img_size, patch_size=patch_size, in_chans=in_chans,
                                      embed_dim=embed_dim, ratio=ratio)
        num_patches = self.patch_embed.num_patches
        self.pos_embed = nn.Parameter(torch.zeros(1, num_patches + 1, embed_dim))
        dpr = [x.item() for x in torch.linspace(0, drop_path_rate, depth, device="cpu")]  # (cpu: meta-safe)
        self.blocks = nn.ModuleList([
            Block(dim=embed_dim, num_heads=num_heads, mlp_ratio=mlp_ratio, qkv_bias=qkv_bias, drop=drop_rate,
                  attn_drop=attn_drop_rate, drop_path=dpr[i], norm_layer=norm_layer) for i in range(depth)])
        self.last_norm = norm_layer(embed_dim)

    def forward(self, x):
        B = x.shape[0]
        x, (Hp, Wp) = self.patch_embed(x)
        x = x + self.pos_embed[:, 1:] + self.pos_embed[:, :1]
        for blk in self.blocks:
            x = blk(x)
        x = self.last_norm(x)
        return x.permute(0, 2, 1).reshape(B, -1, Hp, Wp).contiguous()


class TopdownHeatmapSimpleHead(nn.Module):
    """The head with `num_deconv_layers` deconvolutions of kernel 4 (padding 1, output_padding 0,
    no bias) + BN + ReLU and a final conv, or with `upsample` (bilinear after ReLU) and none."""

    def __init__(self, in_channels, out_channels, num_deconv_layers=2, num_deconv_filters=(256, 256),
                 final_conv_kernel=1, upsample=0):
        super().__init__()
        self.upsample = upsample
        layers = []
        for planes in num_deconv_filters[:num_deconv_layers]:
            layers += [nn.ConvTranspose2d(in_channels, planes, 4, stride=2, padding=1, output_padding=0, bias=False),
                       nn.BatchNorm2d(planes), nn.ReLU(inplace=True)]
            in_channels = planes
        self.deconv_layers = nn.Sequential(*layers) if layers else nn.Identity()
        self.final_layer = nn.Conv2d(in_channels, out_channels, final_conv_kernel, stride=1,
                                     padding=1 if final_conv_kernel == 3 else 0)

    def forward(self, x):
        if self.upsample > 0:
            x = F.interpolate(F.relu(x), scale_factor=self.upsample, mode="bilinear", align_corners=False)
        return self.final_layer(self.deconv_layers(x))


class TopDown(nn.Module):
    def __init__(self, backbone: ViT, keypoint_head: TopdownHeatmapSimpleHead):
        super().__init__()
        self.backbone, self.keypoint_head = backbone, keypoint_head

    def forward(self, x):
        return self.keypoint_head(self.backbone(x))


def load_mae(model: ViT, state_dict: dict, patch_padding: str = "pad") -> None:
    """mmcv_custom/checkpoint.py `load_checkpoint` (after the container is unwrapped), strict=False."""
    state_dict = dict(state_dict)
    if 'patch_embed.proj.weight' in state_dict:
        proj_weight = state_dict['patch_embed.proj.weight']
        orig_size = proj_weight.shape[2:]
        current_size = model.patch_embed.proj.weight.shape[2:]
        padding_size = current_size[0] - orig_size[0]
        padding_l = padding_size // 2
        padding_r = padding_size - padding_l
        if orig_size != current_size and 'pad' in patch_padding:
            proj_weight = F.pad(proj_weight, (padding_l, padding_r, padding_l, padding_r))
            state_dict['patch_embed.proj.weight'] = proj_weight
    if 'pos_embed' in state_dict:
        pos_embed_checkpoint = state_dict['pos_embed']
        embedding_size = pos_embed_checkpoint.shape[-1]
        H, W = model.patch_embed.patch_shape
        num_patches = model.patch_embed.num_patches
        num_extra_tokens = model.pos_embed.shape[-2] - num_patches
        orig_size = int((pos_embed_checkpoint.shape[-2] - num_extra_tokens) ** 0.5)
        extra_tokens = pos_embed_checkpoint[:, :num_extra_tokens]
        pos_tokens = pos_embed_checkpoint[:, num_extra_tokens:]
        pos_tokens = pos_tokens.reshape(-1, orig_size, orig_size, embedding_size).permute(0, 3, 1, 2)
        pos_tokens = F.interpolate(pos_tokens, size=(H, W), mode='bicubic', align_corners=False)
        pos_tokens = pos_tokens.permute(0, 2, 3, 1).flatten(1, 2)
        state_dict['pos_embed'] = torch.cat((extra_tokens, pos_tokens), dim=1)
    model.load_state_dict(state_dict, strict=False)


def official_vitpose(*, img_size=(256, 192), patch_size=16, embed_dim=768, depth=12, num_heads=12,
                     drop_path_rate=0.0, decoder="classic", deconv_filters=256, num_keypoints=17) -> TopDown:
    """The official TopDown model as ViTPose_*_coco_256x192.py (classic) or *_simple_*.py builds it."""
    backbone = ViT(img_size=img_size, patch_size=patch_size, embed_dim=embed_dim, depth=depth, num_heads=num_heads,
                   ratio=1, mlp_ratio=4, qkv_bias=True, drop_path_rate=drop_path_rate)
    if decoder == "classic":
        head = TopdownHeatmapSimpleHead(embed_dim, num_keypoints, 2, (deconv_filters, deconv_filters), 1)
    else:
        head = TopdownHeatmapSimpleHead(embed_dim, num_keypoints, 0, (), 3, upsample=4)
    return TopDown(backbone, head)


@torch.no_grad()
def randomize(model: nn.Module, seed: int = 0) -> nn.Module:
    """Every parameter and BatchNorm statistic drawn at random (no initialisation hides a difference)."""
    generator = torch.Generator().manual_seed(seed)
    for name, tensor in model.state_dict().items():
        if tensor.is_floating_point():
            noise = torch.randn(tensor.shape, generator=generator, dtype=torch.float64).to(tensor.dtype)
            if name.endswith("running_var"):
                tensor.copy_(noise.abs() + 0.5)
            elif name.endswith("weight") and tensor.ndim == 1:       # norms: around 1
                tensor.copy_(1 + 0.2 * noise)
            else:
                tensor.copy_(0.2 * noise)
    return model
