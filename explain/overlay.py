"""Colour scales and overlays of attribution maps, drawn with numpy and matplotlib colour maps only.

Raw units differ between methods (Grad-CAM: activation x gradient; IG: logit per pixel), so a scale shared
across methods needs a common unit.  We use the *attribution density*: each map's positive part divided by
its mean over the image, i.e. "times a uniform map" (1 = as much as a map without preference, 10 = ten times
that).  Class-contrastive maps keep their sign and are divided by the mean absolute value instead.  With
``scale="per-map"`` each map is divided by its own maximum instead ("fraction of the map's maximum").

Colour maps are perceptually uniform and colour-blind safe: 'inferno' (sequential) for plain maps and 'RdBu_r'
(diverging, centred on 0) for contrastive ones.  Captum's `visualize_image_attr` is not used: it always
renormalises each map and rejects all-zero maps, so it cannot share a scale.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from matplotlib import colormaps

from .base import AttributionMap, ExplainError

SCALES: tuple[str, ...] = ("shared", "per-map")
DENSITY_UNITS = "attribution density\n(× uniform map)"
RELATIVE_UNITS = "fraction of each\nmap's maximum"


@dataclass(frozen=True)
class Scale:
    """A colour scale: values in [vmin, vmax] mapped through `cmap`; `label` states the units."""

    vmin: float
    vmax: float
    cmap: str
    label: str
    signed: bool


def display_values(m: AttributionMap, scale: str = "shared") -> np.ndarray:
    """The values a figure shows for `m`: density (``"shared"``) or fraction of the maximum (``"per-map"``).

    Plain maps show their positive part only (evidence for the class); contrastive maps keep the sign.
    """
    if scale not in SCALES:
        raise ExplainError(f"unknown scale {scale!r}; valid scales: {', '.join(SCALES)}")
    v = m.values.astype(np.float64)
    if not m.signed:
        v = np.clip(v, 0.0, None)
    ref = np.abs(v).mean() if scale == "shared" else np.abs(v).max()
    return (v / ref if ref > 0 else np.zeros_like(v)).astype(np.float32)


def scales_for(
    maps: Sequence[AttributionMap],
    scale: str = "shared",
    *,
    cmap: str = "inferno",
    diverging_cmap: str = "RdBu_r",
    percentile: float = 100.0,
) -> list[Scale]:
    """One `Scale` per map; with ``"shared"`` all plain maps share one scale and all contrastive maps another.

    The shared maximum is the `percentile` of the displayed values over all maps (100 = the largest value; a
    lower percentile keeps one hot spot from washing out the other panels).
    """
    if not maps:
        return []
    out = {}
    for signed in (False, True):
        group = [m for m in maps if m.signed == signed]
        if not group:
            continue
        if scale == "per-map":
            top = 1.0
        else:
            vals = np.concatenate([np.abs(display_values(m, scale)).ravel() for m in group])
            top = float(np.percentile(vals, percentile)) or 1.0
        label = DENSITY_UNITS if scale == "shared" else RELATIVE_UNITS
        out[signed] = Scale(-top if signed else 0.0, top, diverging_cmap if signed else cmap, label, signed)
    display_values(maps[0], scale)  # validates the scale name even when every map is flat
    return [out[m.signed] for m in maps]


def to_rgb_float(image: np.ndarray) -> np.ndarray:
    """uint8 or float image (H, W) / (H, W, 3) -> float RGB in [0, 1]."""
    img = np.asarray(image)
    img = img.astype(np.float64) / 255.0 if img.dtype == np.uint8 else img.astype(np.float64)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ExplainError(f"expected an (H, W, 3) image, got shape {np.asarray(image).shape}")
    return np.clip(img, 0.0, 1.0)


def colorize(values: np.ndarray, scale: Scale) -> np.ndarray:
    """Map values through the scale's colour map: (H, W) -> (H, W, 3) float RGB."""
    norm = np.clip((values - scale.vmin) / (scale.vmax - scale.vmin), 0.0, 1.0)
    return colormaps[scale.cmap](norm)[..., :3]


def blend(background: np.ndarray, values: np.ndarray, scale: Scale, alpha: float = 0.7,
          grey: bool = True) -> np.ndarray:
    """Overlay display values on a background image; float RGB (H, W, 3) in [0, 1].

    Each pixel's opacity grows with its magnitude (up to `alpha` at the scale's end), so unattributed pixels
    show the face rather than the colour map's darkest colour.  The background is shown in grey by default so
    that a coloured dynamic image does not compete with the colour map.
    """
    bg = to_rgb_float(background)
    if bg.shape[:2] != values.shape:  # e.g. an apex frame kept at a larger size than the model input
        values = cv2.resize(values.astype(np.float32), (bg.shape[1], bg.shape[0]), interpolation=cv2.INTER_LINEAR)
    if grey:
        bg = np.repeat((bg @ np.array([0.299, 0.587, 0.114]))[..., None], 3, axis=2)
    top = max(abs(scale.vmin), abs(scale.vmax)) or 1.0
    w = alpha * np.clip(np.abs(values) / top if scale.signed else (values - scale.vmin) / (scale.vmax - scale.vmin),
                        0.0, 1.0)[..., None]
    return (1.0 - w) * bg + w * colorize(values, scale)
