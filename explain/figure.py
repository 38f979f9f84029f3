"""Paper figures: a grid of overlays (rows = clips or classes) and a bar chart of region shares.

Figures are deterministic: same inputs, same bytes.  `save_figure` removes the timestamps matplotlib would
write (PDF CreationDate, SVG Date), fixes the SVG id salt and leaves PNGs without a Software stamp.
"""
from __future__ import annotations

import textwrap
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


# Print sizes (inches and points) for camera-ready figures: IEEE column widths and the type sizes a printed
# figure should keep (7-9 pt), so a figure made at its column width needs no scaling in LaTeX.
COLUMN_WIDTHS: dict[str, float] = {"single": 3.5, "double": 7.16}
DEFAULT_WIDTH = "double"  # `python -m explain figure` and the demo page's figure
DEFAULT_DPI = 300
TEXT_PT = 7.0  # panel titles, tick labels, colourbar label
HEADING_PT = 8.0  # the line naming each clip
LETTER_PT = 9.0  # panel letters
MIN_PANEL_IN = 0.72  # narrower panels cannot hold a 7 pt title such as "Grad-CAM AL1"
MAX_PANEL_IN = 1.45
_GAP_IN = 0.05  # between panels
_MARGIN_IN = 0.04
_CHAR_EM = 0.55  # average width of a DejaVu Sans character, in em: how many characters fit a width


def column_width(width: str | float | None) -> float | None:
    """`"single"` (3.5 in), `"double"` (7.16 in), a number of inches (1-20), or None (natural size)."""
    if width is None:
        return None
    if isinstance(width, str):
        key = width.strip().lower()
        if key in COLUMN_WIDTHS:
            return COLUMN_WIDTHS[key]
        try:
            width = float(key)
        except ValueError:
            raise ExplainError(f"unknown figure width {width!r}; use single, double or a width in inches") from None
    width = float(width)
    if not 1.0 <= width <= 20.0:
        raise ExplainError(f"figure width {width:g} in is outside 1-20 in")
    return width


def _chars(inches: float, points: float) -> int:
    """About how many characters of a `points` font fit in `inches`."""
    return max(4, int(inches * 72 / (points * _CHAR_EM)))


def _shorten(text: str, limit: int) -> str:
    """`text` cut in the middle with an ellipsis when longer than `limit` (both ends of a clip name matter)."""
    if len(text) <= limit:
        return text
    head = (limit - 1) // 2
    return text[:head] + "…" + text[len(text) - (limit - 1 - head):]


def _heading(label: str, limit: int) -> str:
    """A row label ("clip.mp4\\nsurprise 0.98") as one line of at most `limit` characters: the clip name is
    shortened in the middle (keeping at least half the line), then anything still too long at the end."""
    parts = [p.strip() for p in label.split("\n") if p.strip()]
    if not parts:
        return ""
    name, rest = parts[0], "  ·  ".join(parts[1:])
    sep = "  ·  " if rest else ""
    room = max(limit - len(rest) - len(sep), min(len(name), limit // 2))
    text = _shorten(name, room) + sep + rest
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _wrap(title: str, limit: int) -> list[str]:
    lines: list[str] = []
    for part in title.split("\n"):
        lines += textwrap.wrap(part, limit, break_long_words=True) or [""]
    return lines


def panel_letter(i: int) -> str:
    """a, b, ..., z, aa, ab, ... for the i-th panel (0-based)."""
    out = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        out = chr(ord("a") + r) + out
    return out


@dataclass(frozen=True)
class _GridLayout:
    """Where a figure's panels go, in inches from the top-left corner."""

    inches: float  # figure width
    height: float
    per_line: int  # panels per line
    n_lines: int  # lines of panels per clip
    panel: float  # panel side
    x0: float  # left edge of the grid
    grid_w: float
    wrapped: list[list[str]]  # each panel's title, wrapped
    title_h: list[float]  # height of the titles over each line (first clip only)
    heading_h: float
    bar_h: float

    def box(self, left: float, top: float, w: float, h: float) -> list[float]:
        """Axes rectangle (figure fractions) from inches measured from the figure's top-left corner."""
        return [left / self.inches, 1 - (top + h) / self.height, w / self.inches, h / self.height]


def _check_rows(rows: Sequence[FigureRow], scale: str, background: str) -> None:
    if not rows:
        raise ExplainError("a figure needs at least one row")
    if scale not in SCALES:
        raise ExplainError(f"unknown scale {scale!r}; valid scales: {', '.join(SCALES)}")
    if background not in BACKGROUNDS:
        raise ExplainError(f"unknown background {background!r}; valid backgrounds: {', '.join(BACKGROUNDS)}")
    if any(len(r.maps) != len(rows[0].maps) for r in rows):
        raise ExplainError("every row of a figure needs the same number of maps")
    if background == "apex" and not all(r.apex is not None for r in rows):
        raise ExplainError("background='apex' needs an apex frame in every row")


def _grid_layout(inches: float | None, n_img: int, n_rows: int, titles: list[str], n_bars: int) -> _GridLayout:
    """Panels per line: as many as fit at MIN_PANEL_IN, then spread evenly over the lines (7 -> 4 + 3)."""
    if inches is None:
        per_line, panel = n_img, 1.2
        inches = 2 * _MARGIN_IN + n_img * panel + (n_img - 1) * _GAP_IN
    else:
        usable = inches - 2 * _MARGIN_IN
        fit = max(1, int((usable + _GAP_IN) // (MIN_PANEL_IN + _GAP_IN)))
        n_lines = -(-n_img // fit)
        per_line = -(-n_img // n_lines)
        panel = min(MAX_PANEL_IN, (usable - (per_line - 1) * _GAP_IN) / per_line)
    n_lines = -(-n_img // per_line)
    grid_w = per_line * panel + (per_line - 1) * _GAP_IN
    wrapped = [_wrap(t, _chars(panel, TEXT_PT)) for t in titles]
    line_h = TEXT_PT * 1.25 / 72
    heading_h = HEADING_PT * 1.5 / 72
    title_h = [max(len(w) for w in wrapped[k * per_line:(k + 1) * per_line]) * line_h + 0.03
               for k in range(n_lines)]
    # Heights, top to bottom: per clip its heading and its lines of panels (titles over the first clip's).
    blocks = [heading_h + sum((title_h[k] if i == 0 else 0.0) + panel + _GAP_IN for k in range(n_lines))
              for i in range(n_rows)]
    bar_h = 0.07 + 0.04 + 2 * line_h + 0.05  # bar, gap, ticks and label
    height = _MARGIN_IN + sum(blocks) + 0.06 + n_bars * bar_h + _MARGIN_IN
    return _GridLayout(inches, height, per_line, n_lines, panel, (inches - grid_w) / 2, grid_w, wrapped,
                       title_h, heading_h, bar_h)


def _draw_panel(fig: Figure, g: _GridLayout, image: np.ndarray, left: float, top: float,
                title: list[str] | None, letter: str | None) -> None:
    ax = fig.add_axes(g.box(left, top, g.panel, g.panel))
    ax.imshow(image, interpolation="none")  # vector formats embed the pixels as they are
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title is not None:
        ax.set_title("\n".join(title), fontsize=TEXT_PT, pad=2)
    if letter is not None:
        ax.text(0.04, 0.96, letter, transform=ax.transAxes, ha="left", va="top",
                fontsize=LETTER_PT, fontweight="bold", color="black",
                bbox={"boxstyle": "square,pad=0.12", "facecolor": "white", "edgecolor": "none"})


def _draw_colourbars(fig: Figure, g: _GridLayout, distinct: list, top: float) -> None:
    """Horizontal, under the grid, one above the other, as wide as the panels (at most 2.6 in)."""
    bar_w = min(2.6, g.grid_w)
    for s in distinct:
        cax = fig.add_axes(g.box((g.inches - bar_w) / 2, top, bar_w, 0.07))
        bar = fig.colorbar(ScalarMappable(Normalize(s.vmin, s.vmax), s.cmap), cax=cax, orientation="horizontal")
        label = ("target − contrast: " if s.signed else "") + " ".join(s.label.split())
        bar.set_label(label, fontsize=TEXT_PT, labelpad=1)
        bar.ax.tick_params(labelsize=TEXT_PT, length=2, pad=1)
        bar.outline.set_linewidth(0.5)
        top += g.bar_h


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
    width: str | float | None = None,
    letters: bool = False,
) -> Figure:
    """Grid figure: per clip a heading line, then its panels ([apex frame], dynamic image, one per map); one
    horizontal colourbar per scale in use under the grid.

    `width` is the printed width (`"single"` 3.5 in, `"double"` 7.16 in, or inches; None: 1.2 in panels in
    one line per clip).  Panels wrap onto several lines when they would be narrower than `MIN_PANEL_IN`, and
    all text is `TEXT_PT`-`LETTER_PT` points at that size.  `letters` puts a, b, c, ... on the panels
    (row by row) for captions to refer to.

    The shared scale ends at the 99th percentile of all displayed values by default, so a few extreme
    pixels (IG and SmoothGrad are pixel-sharp) do not wash out the coarse Grad-CAM panels.

    All rows must have the same number of maps (same methods and layers).  The axes count is
    ``rows * (show_apex + 1 + maps) + colourbars``, where colourbars is 1 or 2 (plain and contrastive maps).
    """
    _check_rows(rows, scale, background)
    show_apex = show_apex and all(r.apex is not None for r in rows)
    all_maps = [m for r in rows for m in r.maps]
    scales = scales_for(all_maps, scale, cmap=cmap, diverging_cmap=diverging_cmap, percentile=percentile)
    distinct = list(dict.fromkeys(scales))  # plain first, then contrastive, in order of appearance
    n_img = int(show_apex) + 1 + len(rows[0].maps)
    titles = ["apex frame"] * show_apex + ["dynamic image"] + [
        m.title + (f"\n{m.target_label}" if m.signed else "") for m in rows[0].maps]  # contrasted classes
    g = _grid_layout(column_width(width), n_img, len(rows), titles, len(distinct))
    fig = Figure(figsize=(g.inches, g.height))

    heading_chars = _chars(g.inches - 2 * _MARGIN_IN, HEADING_PT)
    top = _MARGIN_IN
    k = 0
    panel_no = 0
    for i, row in enumerate(rows):
        fig.text(g.x0 / g.inches, 1 - (top + g.heading_h * 0.8) / g.height, _heading(row.label, heading_chars),
                 fontsize=HEADING_PT, ha="left", va="baseline")
        top += g.heading_h
        panels = ([to_rgb_float(row.apex)] if show_apex else []) + [to_rgb_float(row.dynamic_image)]
        bg = row.apex if background == "apex" else row.dynamic_image
        for m in row.maps:
            panels.append(blend(bg, display_values(m, scale), scales[k], alpha=alpha))
            k += 1
        for line in range(g.n_lines):
            if i == 0:
                top += g.title_h[line]
            for j in range(line * g.per_line, min(n_img, (line + 1) * g.per_line)):
                left = g.x0 + (j - line * g.per_line) * (g.panel + _GAP_IN)
                _draw_panel(fig, g, panels[j], left, top, g.wrapped[j] if i == 0 else None,
                            panel_letter(panel_no) if letters else None)
                panel_no += 1
            top += g.panel + _GAP_IN
    _draw_colourbars(fig, g, distinct, top + 0.06)
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
    ax.legend(fontsize=7, frameon=False, ncols=min(4, len(rows) + bool(area)))
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
    # TrueType (42) instead of Type 3 fonts: journals' PDF checks (IEEE PDF eXpress) refuse Type 3.
    with plt.rc_context({"svg.hashsalt": "learnet-explain", "pdf.compression": 6, "pdf.fonttype": 42,
                         "ps.fonttype": 42}):
        extra = {"pil_kwargs": {"compress_level": int(png_compression)}} if suffix == ".png" else {}
        fig.savefig(path, dpi=dpi, metadata=metadata, **extra)
    return path
