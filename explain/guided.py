"""Guided Grad-CAM (Selvaraju et al., ICCV 2017): guided backpropagation times the upsampled Grad-CAM.

Guided backpropagation only passes positive gradients through positive activations, which Captum implements
by hooking every `nn.ReLU` module; LEARNet uses a separate `nn.ReLU` module for every activation (never the
functional form), so every ReLU of the network is guided.  The result is pixel-sharp where Grad-CAM is coarse.
"""
from __future__ import annotations

import warnings

import torch
from captum.attr import GuidedGradCam

from learnet.model import LEARNet

from .base import AttributionMap, attribution_mode, attribution_target, check_input, get_layer, register, to_map


@register("guided", title="Guided Grad-CAM", needs_layer=True, aliases=("guided-gradcam", "guided-grad-cam"))
def guided_gradcam(
    model: LEARNet,
    x: torch.Tensor,
    *,
    layer: str = "head",
    target: int | str | None = None,
    contrast: int | str | None = None,
) -> AttributionMap:
    """Guided Grad-CAM of one layer; channels of the (3, H, W) result are summed into one map."""
    x = check_input(model, x)
    module = get_layer(model, layer)
    with attribution_mode(model):
        ex = attribution_target(model, x, target, contrast)
        with warnings.catch_warnings():  # Captum announces its (temporary) ReLU hooks on every call
            warnings.filterwarnings("ignore", message="Setting backward hooks on ReLU")
            attr = GuidedGradCam(ex.net, module).attribute(x, target=ex.index, interpolate_mode="bilinear")
    return AttributionMap(
        to_map(attr), "guided", layer.strip().lower(),
        params={"interpolation": "bilinear", "channels": "sum"}, **ex.names(model),
    )
