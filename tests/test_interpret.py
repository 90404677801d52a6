import torch

import patchlib
from patchlib.experiments.vit.readers import low_frequency_share, pos_embed_structure
from patchlib.interpret import (attention_distance, patch_distances, patch_embedding_components,
                                position_embedding_similarity)


def test_patch_distances_in_pixels():
    d = patch_distances((2, 3), patch_size=4)
    assert d.shape == (6, 6)
    assert d[0, 1] == 4 and d[0, 3] == 4 and torch.isclose(d[0, 4], torch.tensor(32.0).sqrt())


def test_attention_distance_extremes():
    grid, patch = (4, 4), 2
    distances = patch_distances(grid, patch)
    n = 1 + 16
    self_attention = torch.eye(n).expand(1, 3, n, n)
    assert torch.allclose(attention_distance(self_attention, distances), torch.zeros(1, 3))
    uniform = torch.full((1, 3, n, n), 1.0 / n)  # includes the class token: renormalised away
    assert torch.allclose(attention_distance(uniform, distances), distances.mean().expand(1, 3))


def test_position_embedding_similarity_shape_and_diagonal():
    pos = torch.randn(1, 1 + 12, 8)
    similarity = position_embedding_similarity(pos, (3, 4))
    assert similarity.shape == (3, 4, 3, 4)
    for i in range(3):
        for j in range(4):
            assert torch.isclose(similarity[i, j, i, j], torch.tensor(1.0))


def test_pca_components_are_orthonormal_and_ordered():
    weight = torch.randn(64, 3, 4, 4)
    pca = patch_embedding_components(weight, count=10)
    flat = pca["components"].reshape(10, -1).double()
    torch.testing.assert_close(flat @ flat.T, torch.eye(10, dtype=torch.float64), atol=1e-5, rtol=0)
    ratios = pca["explained_variance_ratio"]
    assert torch.all(ratios[:-1] >= ratios[1:]) and ratios.sum() <= 1


def test_structure_measures_tell_structured_from_random_embeddings():
    rows, cols = torch.meshgrid(torch.arange(6.0), torch.arange(6.0), indexing="ij")
    # Embeddings that encode the row and the column separately (one-hot each): row/column structure.
    structured = torch.cat([torch.nn.functional.one_hot(rows.flatten().long(), 6),
                            torch.nn.functional.one_hot(cols.flatten().long(), 6)], dim=1).float()
    sim = position_embedding_similarity(torch.cat([torch.zeros(1, 12), structured])[None], (6, 6))
    measures = pos_embed_structure(sim)
    assert measures["same_row_or_column"] - measures["other"] > 0.4 and measures["distance_correlation"] < -0.3
    random = position_embedding_similarity(torch.randn(1, 37, 64, generator=torch.Generator().manual_seed(0)), (6, 6))
    measures = pos_embed_structure(random)
    assert abs(measures["same_row_or_column"] - measures["other"]) < 0.05


def test_low_frequency_share_separates_smooth_from_noisy_filters():
    smooth = torch.ones(8, 3, 8, 8)
    noisy = torch.randn(8, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    assert low_frequency_share(smooth) > 0.99 > 0.5 > low_frequency_share(noisy)


def test_mean_attention_distance_of_a_model_runs():
    from patchlib.data import load_dataset
    from patchlib.interpret import mean_attention_distance

    data = load_dataset("shapes10", n_train=16, n_test=40, seed=0)
    model = patchlib.create_model("vit_micro")
    distance = mean_attention_distance(model, data.test, mean=[0.5] * 3, std=[0.25] * 3, num_images=40, batch_size=16)
    assert distance.shape == (2, 2) and torch.all(distance > 0)
