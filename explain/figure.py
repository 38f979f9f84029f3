"""Paper figures: a grid of overlays (rows = clips or classes) and a bar chart of region shares.

Figures are deterministic: same inputs, same bytes.  `save_figure` removes the timestamps matplotlib would
write (PDF CreationDate, SVG Date), fixes the SVG id salt and leaves PNGs without a Software stamp.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # figures are files; never open a window (and work on headless machines)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.cm import ScalarMappable  # noqa: E402
from matplotlib.colors import Normalize  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from .base import AttributionMap, ExplainError  # noqa: E402
from .overlay import SCALES, blend, display_values, scales_for, to_rgb_float  # noqa: E402
from .regions import AREA_ROW, RegionTable  # noqa: E402

BACKGROUNDS: tuple[str, ...] = ("dynamic", "apex")
FORMATS: tuple[str, ...] = (".pdf", ".svg", ".png")
# Okabe & Ito (2008): a qualitative palette distinguishable with every common colour-vision deficiency.
OKABE_ITO = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000")


@dataclass
class FigureRow:
    """One row of the grid: a label (clip, class and probability), its dynamic image, apex frame and maps."""

    label: str
    dynamic_image: np.ndarray  # (S, S, 3) uint8, the DI as shown (learnet.dynamic.to_uint8)
    maps: list[AttributionMap] = field(default_factory=list)
    apex: np.ndarray | None = None  # aligned apex frame (S', S', 3) uint8, or None


def attribution_figure(
    rows: Sequence[FigureRow],
    *,
    scale: str = "shared",
    background: str = "dynamic",
    show_apex: bool = True,
    cmap: str = "inferno",
    diverging_cmap: str = "RdBu_r",
    alpha: float = 0.7,
    percentile: float = 99.0,
    panel_inches: float = 1.45,
) -> Figure:
    """Grid figure: columns = [apex frame], dynamic image, one per map; one colourbar per scale in use.

    The shared scale ends at the 99th percentile of all displayed values by default, so a few extreme
    pixels (IG and SmoothGrad are pixel-sharp) do not wash out the coarse Grad-CAM panels.

    All rows must have the same number of maps (same methods and layers).  The axes count is
    ``rows * (show_apex + 1 + maps) + colourbars``, where colourbars is 1 or 2 (plain and contrastive maps).
    """
    if not rows:
        raise ExplainError("a figure needs at least one row")
    if scale not in SCALES:
        raise ExplainError(f"unknown scale {scale!r}; valid scales: {', '.join(SCALES)}")
    if background not in BACKGROUNDS:
        raise ExplainError(f"unknown background {background!r}; valid backgrounds: {', '.join(BACKGROUNDS)}")
    n_maps = len(rows[0].maps)
    if any(len(r.maps) != n_maps for r in rows):
        raise ExplainError("every row of a figure needs the same number of maps")
    show_apex = show_apex and all(r.apex is not None for r in rows)
    if background == "apex" and not all(r.apex is not None for r in rows):
        raise ExplainError("background='apex' needs an apex frame in every row")
    all_maps = [m for r in rows for m in r.maps]
    scales = scales_for(all_maps, scale, cmap=cmap, diverging_cmap=diverging_cmap, percentile=percentile)
    distinct = list(dict.fromkeys(scales))  # plain first, then contrastive, in order of appearance
    n_img = int(show_apex) + 1 + n_maps
    # Each colourbar gets a spacer column before it, so its ticks and label do not run into the panels.
    widths = [1.0] * n_img + [0.6, 0.07] * len(distinct)
    fig = Figure(figsize=(panel_inches * (n_img + 0.7 * len(distinct)) + 0.9, panel_inches * len(rows) + 0.45))
    grid = fig.add_gridspec(len(rows), len(widths), width_ratios=widths, wspace=0.06, hspace=0.08,
                            left=0.5 / fig.get_figwidth() + 0.02, right=1 - 0.3 / fig.get_figwidth(),
                            top=1 - 0.35 / fig.get_figheight(),
                            bottom=0.02)
    k = 0
    for i, row in enumerate(rows):
        panels = ([("apex frame", to_rgb_float(row.apex))] if show_apex else []) + [
            ("dynamic image", to_rgb_float(row.dynamic_image))
        ]
        bg = row.apex if background == "apex" else row.dynamic_image
        for m in row.maps:
            title = m.title + (f"\n{m.target_label}" if m.signed else "")  # which classes are contrasted
            panels.append((title, blend(bg, display_values(m, scale), scales[k], alpha=alpha)))
            k += 1
        for j, (title, img) in enumerate(panels):
            ax = fig.add_subplot(grid[i, j])
            ax.imshow(img, interpolation="none")  # vector formats embed the pixels as they are
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if i == 0:
                ax.set_title(title, fontsize=8)
            if j == 0:
                ax.set_ylabel(row.label, fontsize=7)
    for c, s in enumerate(distinct):
        cax = fig.add_subplot(grid[:, n_img + 2 * c + 1])
        bar = fig.colorbar(ScalarMappable(Normalize(s.vmin, s.vmax), s.cmap), cax=cax)
        label = ("target − contrast\n" if s.signed else "") + s.label
        bar.set_label(label, fontsize=7)
        bar.ax.yaxis.set_label_position("left")  # the label sits in the spacer column, ticks on the right
        bar.ax.tick_params(labelsize=6)
    return fig


def region_bar_chart(table: RegionTable, *, title: str | None = None, percent: bool = True,
                     inches: tuple[float, float] = (7.0, 2.6)) -> Figure:
    """Grouped bars: one group per region, one bar per table row; the area row (uniform-map reference) is
    drawn as black ticks so each bar can be read against what a map without preference gives."""
    fig = Figure(figsize=inches)
    ax = fig.add_subplot(1, 1, 1)
    rows = [(r, v) for r, v in zip(table.rows, table.values) if r != AREA_ROW]
    area = [v for r, v in zip(table.rows, table.values) if r == AREA_ROW]
    x = np.arange(len(table.columns))
    width = 0.8 / max(1, len(rows))
    f = 100.0 if percent else 1.0
    for i, (name, values) in enumerate(rows):
        ax.bar(x - 0.4 + width * (i + 0.5), values * f, width, label=name, color=OKABE_ITO[i % len(OKABE_ITO)])
    if area:
        ax.hlines(area[0] * f, x - 0.4, x + 0.4, colors="black", linewidth=1.0, label="area (uniform map)")
    ax.set_xticks(x, [c.replace("_", " ") for c in table.columns], rotation=30, ha="right", fontsize=7)
    ax.set_ylabel("share of positive attribution (%)" if percent else "share of positive attribution", fontsize=7)
    ax.tick_params(axis="y", labelsize=7)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(fontsize=6, frameon=False, ncols=min(4, len(rows) + bool(area)))
    if title:
        ax.set_title(title, fontsize=8)
    fig.tight_layout()
    return fig


def save_figure(fig: Figure, path: str | Path, dpi: int = 300, png_compression: int = 6) -> Path:
    """Save as PDF, SVG or PNG (by suffix) with no timestamps, so equal figures give equal bytes.

    `png_compression` is zlib's level for PNG (0-9): 1 writes about 30% faster and 20% larger files.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ExplainError(f"unsupported figure format {path.suffix!r}; use one of {', '.join(FORMATS)}")
    metadata = {".pdf": {"CreationDate": None, "ModDate": None}, ".svg": {"Date": None},
                ".png": {"Software": None}}[suffix]
    path.parent.mkdir(parents=True, exist_ok=True)
    with plt.rc_context({"svg.hashsalt": "learnet-explain", "pdf.compression": 6}):
        extra = {"pil_kwargs": {"compress_level": int(png_compression)}} if suffix == ".png" else {}
        fig.savefig(path, dpi=dpi, metadata=metadata, **extra)
    return path
