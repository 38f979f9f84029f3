"""Grad-CAM (Selvaraju et al., ICCV 2017) on LEARNet's accretion layers, fused concat and last conv.

Grad-CAM weights each channel of a layer's activation A^k by the spatial mean of d score / d A^k, sums the
channels and keeps the positive part, then upsamples bilinearly to the input.  `gradcam` is one layer through
Captum's `LayerGradCam`; `gradcam_layers` computes several layers from one forward and one backward pass
(hooks keep the activations, `torch.autograd.grad` takes the gradients of all of them at once), which is what
makes "all four accretion layers" cost about one forward+backward instead of four.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from captum.attr import LayerAttribution, LayerGradCam

from learnet.model import ACCRETION_LAYERS, LEARNet

from .base import (
    AttributionMap,
    ExplainError,
    attribution_mode,
    attribution_target,
    check_input,
    get_layer,
    register,
    resolve_class,
)


@register("gradcam", title="Grad-CAM", needs_layer=True, aliases=("grad-cam",))
def gradcam(
    model: LEARNet,
    x: torch.Tensor,
    *,
    layer: str = "head",
    target: int | str | None = None,
    contrast: int | str | None = None,
) -> AttributionMap:
    """Grad-CAM of one layer (`al1`..`al4`, `fuse`, `head`) through Captum's LayerGradCam.

    The ReLU is applied only for a plain map; a class-contrastive map (target minus contrast) keeps its sign,
    so negative values show where the evidence favours the contrast class.
    """
    x = check_input(model, x)
    module = get_layer(model, layer)
    with attribution_mode(model):
        ex = attribution_target(model, x, target, contrast)
        cam = LayerGradCam(ex.net, module).attribute(x, target=ex.index, relu_attributions=contrast is None)
        cam = LayerAttribution.interpolate(cam, tuple(x.shape[-2:]), "bilinear")
    return AttributionMap(
        cam[0, 0].detach().cpu().numpy(), "gradcam", layer.strip().lower(),
        params={"interpolation": "bilinear", "relu": contrast is None}, **ex.names(model),
    )


def gradcam_layers(
    model: LEARNet,
    x: torch.Tensor,
    layers: Sequence[str] = ACCRETION_LAYERS,
    *,
    target: int | str | None = None,
    contrast: int | str | None = None,
) -> dict[str, AttributionMap]:
    """Grad-CAM of several layers from one shared forward/backward pass; same maps as `gradcam` per layer.

    Forward hooks only store each layer's output and are removed before returning, even on error.
    """
    x = check_input(model, x)
    names = [name.strip().lower() for name in layers]
    if not names:
        raise ExplainError("gradcam_layers needs at least one layer")
    modules = [get_layer(model, name) for name in names]
    acts: dict[int, torch.Tensor] = {}
    handles = []
    try:
        for i, module in enumerate(modules):
            handles.append(module.register_forward_hook(_keeper(acts, i)))
        with attribution_mode(model):
            logits = model(x)[0]
            t = int(logits.argmax()) if target is None else resolve_class(model, target)
            c = None if contrast is None else resolve_class(model, contrast)
            if c == t:
                raise ExplainError(f"a contrastive map needs two different classes, got {model.class_names[t]!r} twice")
            score = logits[t] if c is None else logits[t] - logits[c]
            grads = torch.autograd.grad(score, [acts[i] for i in range(len(modules))])
    finally:
        for h in handles:
            h.remove()
    maps = {}
    with torch.no_grad():
        for i, name in enumerate(names):
            a, g = acts[i], grads[i]
            cam = (g.mean(dim=(2, 3), keepdim=True) * a).sum(dim=1, keepdim=True)
            if c is None:
                cam = F.relu(cam)
            cam = F.interpolate(cam, size=tuple(x.shape[-2:]), mode="bilinear")
            maps[name] = AttributionMap(
                cam[0, 0].cpu().numpy(), "gradcam", name, target=t, target_name=model.class_names[t],
                contrast=c, contrast_name=None if c is None else model.class_names[c],
                score=float(score.detach()), params={"interpolation": "bilinear", "relu": c is None},
            )
    return maps


def _keeper(store: dict[int, torch.Tensor], i: int):
    def hook(_module, _inputs, output):
        store[i] = output
    return hook
