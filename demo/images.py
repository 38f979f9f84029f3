"""Pictures the page shows besides the charts: overlays on a shared scale and the downloadable figure files.

Everything returns RGB uint8 arrays (Gradio writes them as PNG) or file paths; nothing here knows about Gradio.
Overlays come from `explain.overlay` and the figure from `explain.figure`, so the page and the paper figures
colour maps the same way.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import matplotlib

matplotlib.use("Agg")  # a server has no display; figures are rendered to pixels
import numpy as np  # noqa: E402

from explain import AttributionMap, FigureRow, attribution_figure, save_figure  # noqa: E402
from explain.faithfulness import is_flat  # noqa: E402
from explain.figure import DEFAULT_DPI, DEFAULT_WIDTH  # noqa: E402
from explain.overlay import blend, display_values, scales_for  # noqa: E402


def enlarge(image: np.ndarray, size: int) -> np.ndarray:
    """Square image -> size x size with nearest neighbour (a 112 px dynamic image keeps its pixels visible)."""
    if image.shape[0] == size and image.shape[1] == size:
        return image
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_NEAREST)


def overlays(
    maps: Sequence[AttributionMap], background: np.ndarray, size: int, scale: str = "shared"
) -> list[tuple[np.ndarray, str]]:
    """One overlay per map on `background` (the dynamic image or the apex frame), all on one colour scale.

    Captions give each map's short name and its peak in the scale's unit, attribution density ("AL2 peak
    6.2×": six times what a map without preference puts on a pixel), so panels can be compared; a map with
    no positive evidence says so ("AL4 flat").
    """
    if not maps:
        return []
    # The 99th percentile, as in explain's figures: a few extreme pixels must not wash out the other panels.
    scales = scales_for(list(maps), scale, percentile=99.0)
    bg = enlarge(background, size) if background.shape[0] != size else background
    out = []
    for m, s in zip(maps, scales):
        values = display_values(m, scale)
        rgb = blend(bg, values, s)
        peak = float(np.abs(values).max())
        name = m.title.replace("Grad-CAM ", "")
        caption = f"{name} flat" if is_flat(m) else f"{name} peak {peak:.1f}×"
        out.append((np.round(rgb * 255).astype(np.uint8), caption))
    return out


def figure_files(rows: Sequence[FigureRow], folder: Path, stem: str, dpi: int = DEFAULT_DPI,
                 background: str = "dynamic") -> list[Path]:
    """The paper-style attribution figure (apex, dynamic image, every map) as PDF and PNG in `folder`, made
    with the settings of `python -m explain figure` (double-column width, its resolution, panel letters)."""
    fig = attribution_figure(list(rows), scale="shared", background=background, width=DEFAULT_WIDTH, letters=True)
    # Fast PNG compression: the page waits for these files, and a download does not mind 20% more bytes.
    return [save_figure(fig, folder / f"{stem}.pdf"),
            save_figure(fig, folder / f"{stem}.png", dpi=dpi, png_compression=1)]
