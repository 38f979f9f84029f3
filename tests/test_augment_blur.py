"""The per-sample blur augmentation: closed form on a point, identity at sigma 0, mass kept."""
import numpy as np
import pytest
import torch

from learnet.train import Recipe, blur_batch


def test_blur_of_a_point_is_the_normalised_gaussian():
    x = torch.zeros(2, 1, 21, 21)
    x[:, :, 10, 10] = 1.0
    y = blur_batch(x, torch.tensor([0.0, 1.5]))
    assert torch.equal(y[0], x[0])  # sigma 0 leaves the image exactly as it was
    t = np.arange(-10, 11)
    radius = 5  # ceil(3 * 1.5)
    g = np.exp(-0.5 * (t / 1.5) ** 2) * (np.abs(t) <= radius)
    g /= g.sum()
    np.testing.assert_allclose(y[1, 0].numpy(), np.outer(g, g), atol=1e-7)
    assert float(y[1].sum()) == pytest.approx(1.0, abs=1e-6)


def test_blur_keeps_a_constant_image_and_is_checked_in_the_recipe():
    x = torch.full((3, 3, 8, 8), -0.25)
    assert torch.allclose(blur_batch(x, torch.tensor([0.3, 1.0, 2.0])), x)
    with pytest.raises(ValueError, match="augmentation out of range"):
        Recipe(blur=4.0)
