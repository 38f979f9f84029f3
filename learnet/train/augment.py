"""Augmentation of whole batches of dynamic images in torch: small shifts and zooms, brightness, flips, blur."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..dynamic import uint8_to_input
from .recipe import Recipe


def augment_batch(batch: torch.Tensor, recipe: Recipe, generator: torch.Generator) -> torch.Tensor:
    """uint8 DIs (B, 3, S, S) -> model input (the recipe's scaling) with a random small shift/scale,
    brightness and flip each.

    Geometry uses one `affine_grid` + `grid_sample` for the whole batch (border padding, so no black edges
    that would look like motion); brightness is an additive offset, clamped to [0, 1], for minmax input only.
    """
    x = uint8_to_input(batch, recipe.input_scaling)
    b = x.shape[0]
    if recipe.shift or recipe.scale:
        zoom = 1.0 + (torch.rand(b, generator=generator) * 2 - 1) * recipe.scale
        shift = (torch.rand(b, 2, generator=generator) * 2 - 1) * (2 * recipe.shift)  # grid units span 2
        theta = torch.zeros(b, 2, 3)
        theta[:, 0, 0] = theta[:, 1, 1] = 1.0 / zoom
        theta[:, :, 2] = shift
        grid = F.affine_grid(theta.to(x.device), list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    if recipe.applied_brightness:
        offset = (torch.rand(b, generator=generator) * 2 - 1) * recipe.applied_brightness
        x.add_(offset.view(b, 1, 1, 1).to(x.device)).clamp_(0, 1)
    if recipe.flip:
        flip = (torch.rand(b, generator=generator) < 0.5).to(x.device)
        x[flip] = x[flip].flip(-1)
    if recipe.blur:
        x = blur_batch(x, torch.rand(b, generator=generator) * recipe.blur)
    return x


def blur_batch(x: torch.Tensor, sigmas: torch.Tensor) -> torch.Tensor:
    """Each image of (B, C, H, W) blurred by its own Gaussian sigma (px; 0 leaves it unchanged), separably,
    with replicated borders (a zero border would look like motion)."""
    b, c, h, w = x.shape
    radius = max(1, int(np.ceil(3 * float(sigmas.max()))))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    s = sigmas.to(x.device, x.dtype).clamp_min(1e-3).view(b, 1)
    k = torch.exp(-0.5 * (t.view(1, -1) / s) ** 2)
    k = (k / k.sum(dim=1, keepdim=True)).repeat_interleave(c, dim=0)  # (B*C, K)
    y = F.pad(x.reshape(1, b * c, h, w), (radius, radius, radius, radius), mode="replicate")
    y = F.conv2d(y, k.view(b * c, 1, 1, -1), groups=b * c)
    y = F.conv2d(y, k.view(b * c, 1, -1, 1), groups=b * c)
    return y.view(b, c, h, w)
