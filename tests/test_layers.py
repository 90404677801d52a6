import pytest
import torch
from einops import rearrange

from patchlib.layers import Attention, Block, PatchEmbed, resize_pos_embed


def test_patch_embed_is_a_linear_map_of_flattened_patches():
    torch.manual_seed(0)
    embed = PatchEmbed(image_size=8, patch_size=4, in_channels=3, dim=5)
    images = torch.randn(2, 3, 8, 8)
    patches = rearrange(images, "b c (gh ph) (gw pw) -> b (gh gw) (c ph pw)", ph=4, pw=4)
    expected = patches @ embed.proj.weight.reshape(5, -1).T + embed.proj.bias
    torch.testing.assert_close(embed(images), expected, rtol=1e-5, atol=1e-5)
    assert embed.grid_size == (2, 2) and embed.num_patches == 4


def test_patch_embed_rejects_sizes_that_do_not_divide():
    with pytest.raises(ValueError, match="not divisible"):
        PatchEmbed(image_size=30, patch_size=4, dim=8)
    with pytest.raises(ValueError, match="expected images of size"):
        PatchEmbed(image_size=32, patch_size=4, dim=8)(torch.zeros(1, 3, 16, 16))


@pytest.mark.parametrize("kwargs, match", [
    (dict(image_size=32, patch_size=0), "patch_size"), (dict(image_size=32, patch_size=(4, 0)), "patch_size"),
    (dict(image_size=0, patch_size=4), "image_size"), (dict(image_size=32, patch_size=4.0), "patch_size"),
])
def test_patch_embed_rejects_sizes_that_are_not_positive_ints(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PatchEmbed(**kwargs, dim=8)


def test_attention_rejects_heads_that_are_not_positive_ints():
    for heads in (0, -2, 2.0):
        with pytest.raises(ValueError, match="heads"):
            Attention(32, heads=heads)


def test_attention_fused_and_explicit_paths_agree():
    torch.manual_seed(0)
    attention = Attention(32, heads=4)
    x = torch.randn(3, 10, 32)
    out_explicit, maps = attention(x, return_attention=True)
    torch.testing.assert_close(attention(x), out_explicit, rtol=1e-5, atol=1e-5)
    assert maps.shape == (3, 4, 10, 10)
    torch.testing.assert_close(maps.sum(dim=-1), torch.ones(3, 4, 10))


def test_block_returns_attention_without_changing_output():
    torch.manual_seed(0)
    block = Block(16, heads=2)
    x = torch.randn(2, 5, 16)
    out, maps = block(x, return_attention=True)
    torch.testing.assert_close(block(x), out, rtol=1e-5, atol=1e-5)
    assert maps.shape == (2, 2, 5, 5)


def test_attention_rejects_width_not_divisible_by_heads():
    with pytest.raises(ValueError, match="not divisible"):
        Attention(30, heads=4)


def test_resize_pos_embed_identity_and_shapes():
    pos = torch.randn(1, 1 + 16, 8)
    assert resize_pos_embed(pos, (4, 4)) is pos
    resized = resize_pos_embed(pos, (6, 3))
    assert resized.shape == (1, 1 + 18, 8)
    torch.testing.assert_close(resized[:, :1], pos[:, :1])  # the class token keeps its embedding


def test_resize_pos_embed_preserves_a_constant_grid():
    pos = torch.cat([torch.zeros(1, 1, 4), torch.ones(1, 9, 4) * 2.5], dim=1)
    resized = resize_pos_embed(pos, (5, 5), interpolation="bilinear", antialias=False)
    torch.testing.assert_close(resized[:, 1:], torch.full((1, 25, 4), 2.5))


def test_resize_pos_embed_needs_old_grid_when_not_square():
    with pytest.raises(ValueError, match="old_grid"):
        resize_pos_embed(torch.randn(1, 1 + 6, 4), (3, 3))
