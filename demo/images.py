"""Pictures the page shows: motion-energy plot, overlays on a shared scale, the region chart, figure files.

Everything returns RGB uint8 arrays (Gradio writes them as PNG) or file paths; nothing here knows about Gradio.
Overlays come from `explain.overlay` so the page and the paper figures colour maps the same way.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import matplotlib

matplotlib.use("Agg")  # a server has no display; figures are rendered to pixels
import numpy as np  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from explain import AttributionMap, FigureRow, attribution_figure, region_bar_chart, save_figure  # noqa: E402
from explain.overlay import blend, display_values, scales_for  # noqa: E402
from explain.regions import RegionTable  # noqa: E402
from learnet.motion import PhaseEstimate  # noqa: E402

PHASE_COLOURS = {"onset": "#0072B2", "apex": "#D55E00", "offset": "#009E73"}  # Okabe-Ito, colour-blind safe


def figure_to_array(fig: Figure, dpi: int = 100) -> np.ndarray:
    """Render a matplotlib figure to an RGB uint8 array."""
    canvas = FigureCanvasAgg(fig)
    fig.set_dpi(dpi)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def enlarge(image: np.ndarray, size: int) -> np.ndarray:
    """Square image -> size x size with nearest neighbour (a 112 px dynamic image keeps its pixels visible)."""
    if image.shape[0] == size and image.shape[1] == size:
        return image
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_NEAREST)


def motion_plot(estimate: PhaseEstimate, used: tuple[int, int, int], fps: float, manual: bool) -> np.ndarray:
    """The motion-energy curve with the window the dynamic image used; labelled a heuristic."""
    fig = Figure(figsize=(5.2, 1.9))
    ax = fig.add_subplot(1, 1, 1)
    t = np.arange(estimate.num_frames)
    ax.plot(t, estimate.energy, color="#999999", linewidth=0.8, label="energy")
    ax.plot(t, estimate.smoothed, color="#000000", linewidth=1.4, label="smoothed")
    onset, apex, offset = used
    ax.axvspan(onset, offset, color="#56B4E9", alpha=0.15, linewidth=0)
    for name, frame in zip(("onset", "apex", "offset"), used):
        ax.axvline(frame, color=PHASE_COLOURS[name], linewidth=1.3, label=f"{name} {frame}")
    if estimate.reliable:
        ax.axhline(estimate.level, color="#999999", linewidth=0.7, linestyle=":")
    source = "chosen by hand" if manual else ("heuristic estimate" if estimate.reliable else "no clear motion: whole clip")
    ax.set_title(f"Motion energy (a heuristic) - window {source}", fontsize=8)
    ax.set_xlabel(f"frame ({fps:g} fps)", fontsize=7)
    ax.set_ylabel("grey levels", fontsize=7)
    ax.tick_params(labelsize=6)
    ax.set_xlim(0, max(1, estimate.num_frames - 1))
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(fontsize=6, frameon=False, ncols=5, loc="upper center", bbox_to_anchor=(0.5, -0.32))
    fig.subplots_adjust(left=0.1, right=0.98, top=0.87, bottom=0.38)
    return figure_to_array(fig)


def overlays(
    maps: Sequence[AttributionMap], background: np.ndarray, size: int, scale: str = "shared"
) -> list[tuple[np.ndarray, str]]:
    """One overlay per map on `background` (the dynamic image or the apex frame), all on one colour scale.

    Captions give each map's peak in the scale's unit and the shared maximum, so panels can be compared.
    """
    if not maps:
        return []
    scales = scales_for(list(maps), scale)
    bg = enlarge(background, size) if background.shape[0] != size else background
    out = []
    for m, s in zip(maps, scales):
        values = display_values(m, scale)
        rgb = blend(bg, values, s)
        peak = float(np.abs(values).max())
        caption = f"{m.title}: peak {peak:.1f}x uniform (scale 0-{s.vmax:.1f}, shared)"
        out.append((np.round(rgb * 255).astype(np.uint8), caption))
    return out


def region_chart(table: RegionTable, title: str) -> np.ndarray:
    """Grouped bar chart of region shares (one bar per map), as an image."""
    fig = region_bar_chart(table, title=title, inches=(7.0, 2.6))
    return figure_to_array(fig, dpi=100)


def figure_files(rows: Sequence[FigureRow], folder: Path, stem: str, dpi: int = 200,
                 background: str = "dynamic") -> list[Path]:
    """The paper-style attribution figure (apex, dynamic image, every map) as PDF and PNG in `folder`."""
    fig = attribution_figure(list(rows), scale="shared", background=background)
    return [save_figure(fig, folder / f"{stem}.pdf"), save_figure(fig, folder / f"{stem}.png", dpi=dpi)]
