"""What a trained ViT has learned: the three analyses of ViT Figure 7 (§4.5, Appendix D.7).

- `patch_embedding_components`: principal components of the patch-embedding filters
  (Fig. 7 left): the plausible basis functions for a low-dimensional patch representation.
- `position_embedding_similarity`: cosine similarity of each position embedding to every
  other (Fig. 7 centre): closer patches get more similar embeddings, with row/column structure.
- `mean_attention_distance`: per layer and head, the image-space distance across which
  attention integrates information (Fig. 7 right), the analogue of a CNN's receptive field.
"""
from __future__ import annotations

import torch
from einops import rearrange

from .data import ImageData, iterate_batches, normalize


def patch_embedding_components(weight: torch.Tensor, count: int = 28) -> dict:
    """Top principal components of the filters `weight` [D, C, p, p] (one filter per width channel).

    The D filters are the samples; each component is a C×p×p filter. Returns the components
    [count, C, p, p] (unit norm, sign fixed so their mean is positive) and the fraction of the
    filters' variance each one explains.
    """
    filters = rearrange(weight.detach().double().cpu(), "d c ph pw -> d (c ph pw)")
    filters = filters - filters.mean(dim=0, keepdim=True)
    _, singular_values, vh = torch.linalg.svd(filters, full_matrices=False)
    count = min(count, vh.shape[0])
    components = vh[:count]
    components = components * torch.where(components.sum(dim=1, keepdim=True) < 0, -1.0, 1.0)
    variance = singular_values ** 2
    return {"components": components.reshape(count, *weight.shape[1:]).float(),
            "explained_variance_ratio": (variance[:count] / variance.sum()).float()}


def position_embedding_similarity(pos_embed: torch.Tensor, grid: tuple[int, int],
                                  num_prefix_tokens: int = 1) -> torch.Tensor:
    """Cosine similarity between the position embeddings of all patch positions.

    `pos_embed` is [1, prefix + gh*gw, D]; returns [gh, gw, gh, gw]: entry (i, j) is the map
    of similarities between position (i, j) and every position, as drawn in Fig. 7 (centre).
    """
    tokens = torch.nn.functional.normalize(pos_embed[0, num_prefix_tokens:].detach().float(), dim=-1)
    similarity = tokens @ tokens.T                                        # [N, N]
    return rearrange(similarity, "(a b) (c d) -> a b c d", a=grid[0], b=grid[1], c=grid[0], d=grid[1])


def patch_distances(grid: tuple[int, int], patch_size: int) -> torch.Tensor:
    """Pixel distance between the centres of every pair of patches: [N, N]."""
    rows, cols = torch.meshgrid(torch.arange(grid[0]), torch.arange(grid[1]), indexing="ij")
    centres = torch.stack([rows.flatten(), cols.flatten()], dim=1).float() * patch_size
    return torch.cdist(centres, centres)


def attention_distance(attention: torch.Tensor, distances: torch.Tensor, num_prefix_tokens: int = 1) -> torch.Tensor:
    """Mean attention distance of one layer's attention [B, heads, T, T], per image and head: [B, heads].

    Queries and keys are the patch tokens; each query's attention over the patch tokens is
    renormalised to sum to one (the class token carries no position), then the pixel
    distances are averaged under it and over queries.
    """
    patch_attention = attention[:, :, num_prefix_tokens:, num_prefix_tokens:]             # [B, h, N, N]
    patch_attention = patch_attention / patch_attention.sum(dim=-1, keepdim=True)
    per_query = (patch_attention * distances.to(attention.device)).sum(dim=-1)             # [B, h, N]
    return per_query.mean(dim=-1)


@torch.no_grad()
def mean_attention_distance(model, data: ImageData, *, mean, std, num_images: int = 512,
                            batch_size: int = 128, device: str | torch.device = "cpu") -> torch.Tensor:
    """Fig. 7 (right): mean attention distance in pixels of every head, [depth, heads],
    averaged over the first `num_images` images of `data`."""
    model.eval().to(device)
    distances = patch_distances(model.grid_size, model.patch_embed.patch_size[0])
    total, seen = None, 0
    for images, _ in iterate_batches(data, batch_size, shuffle=False):
        images = images[: num_images - seen]
        attentions = model.forward_intermediates(normalize(images.to(device), mean, std), attention=True).attention
        per_layer = torch.stack([attention_distance(a, distances).sum(dim=0) for a in attentions])  # [L, h]
        total = per_layer if total is None else total + per_layer
        seen += len(images)
        if seen >= num_images:
            break
    if seen < num_images:
        raise ValueError(f"asked for {num_images} images but the data holds only {seen}")
    return (total / seen).cpu()
