"""The page's two small charts, drawn directly with Pillow: the motion-energy curve and the region-share table.

Matplotlib took 0.3-0.8 s per chart on a 2-core machine (layout, ticks, text), more than the model itself, so
these are drawn with a few rectangles, lines and text at twice the size, then downsampled for smooth edges.
Text uses the DejaVu Sans font that matplotlib ships.  The downloadable paper figure still comes from
`explain.figure` (matplotlib, vector PDF).
"""
from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from matplotlib import colormaps, font_manager
from PIL import Image, ImageDraw, ImageFont

from learnet.motion import PhaseEstimate

SCALE = 2  # supersampling factor
PHASE_COLOURS = {"onset": (0, 114, 178), "apex": (213, 94, 0), "offset": (0, 158, 115)}  # Okabe-Ito
INK, GREY, LIGHT = (30, 30, 30), (150, 150, 150), (222, 236, 247)


@lru_cache(maxsize=8)
def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    path = font_manager.findfont(font_manager.FontProperties(family="DejaVu Sans",
                                                             weight="bold" if bold else "normal"))
    return ImageFont.truetype(path, size * SCALE)


def _nice_step(span: float, target: int = 5) -> float:
    """A 1-2-5 tick step giving about `target` ticks over `span`."""
    if span <= 0:
        return 1.0
    raw = span / target
    power = 10 ** np.floor(np.log10(raw))
    return float(power * min((m for m in (1, 2, 5, 10) if m * power >= raw), default=10))


def _vertical_text(img: Image.Image, xy: tuple[float, float], text: str, font: ImageFont.FreeTypeFont) -> None:
    """Paste `text` rotated by 90 degrees (reading upwards), centred on xy."""
    box = font.getbbox(text)
    label = Image.new("L", (box[2] - box[0] + 2, box[3] - box[1] + 2), 0)
    ImageDraw.Draw(label).text((-box[0] + 1, -box[1] + 1), text, font=font, fill=255)
    label = label.rotate(90, expand=True)
    ink = Image.new("RGB", label.size, INK)
    img.paste(ink, (int(xy[0] - label.width / 2), int(xy[1] - label.height / 2)), label)


def _finish(img: Image.Image) -> np.ndarray:
    # Supersampling: each output pixel is the mean of its SCALE x SCALE block (Lanczos took 10x longer).
    return np.asarray(img.reduce(SCALE).convert("RGB"))


def motion_chart(estimate: PhaseEstimate, used: tuple[int, int, int], fps: float, manual: bool,
                 size: tuple[int, int] = (560, 200)) -> np.ndarray:
    """The motion-energy curve (raw grey, smoothed black), the window used (shaded) and its three frames."""
    W, H = size[0] * SCALE, size[1] * SCALE
    left, right, top, bottom = 56 * SCALE, 14 * SCALE, 50 * SCALE, 34 * SCALE
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    small, tiny = _font(11), _font(10)
    n = estimate.num_frames
    curves = [np.asarray(estimate.energy, float), np.asarray(estimate.smoothed, float)]
    ymax = max(1e-6, max(float(c.max()) for c in curves)) * 1.1

    def x(t: float) -> float:
        return left + (W - left - right) * (t / max(1, n - 1))

    def y(v: float) -> float:
        return H - bottom - (H - top - bottom) * (v / ymax)

    onset, apex, offset = used
    d.rectangle([x(onset), top, x(offset), H - bottom], fill=LIGHT)
    step = _nice_step(ymax, 4)
    for v in np.arange(0, ymax, step):
        d.line([(left, y(v)), (W - right, y(v))], fill=(235, 235, 235), width=SCALE)
        d.text((left - 6 * SCALE, y(v)), f"{v:g}", font=tiny, fill=INK, anchor="rm")
    xstep = max(1, int(_nice_step(n - 1, 6)))
    for t in range(0, n, xstep):
        d.line([(x(t), H - bottom), (x(t), H - bottom + 4 * SCALE)], fill=INK, width=SCALE)
        d.text((x(t), H - bottom + 6 * SCALE), str(t), font=tiny, fill=INK, anchor="mt")
    if estimate.reliable and not manual:  # the crossing level that set onset and offset, dotted
        for x0 in np.arange(left, W - right, 8 * SCALE):
            d.line([(x0, y(estimate.level)), (min(x0 + 4 * SCALE, W - right), y(estimate.level))], fill=GREY,
                   width=SCALE)
    for curve, colour, width in zip(curves, (GREY, INK), (SCALE, 2 * SCALE)):
        d.line([(x(t), y(v)) for t, v in enumerate(curve)], fill=colour, width=width, joint="curve")
    for (name, frame), anchor in zip(zip(("onset", "apex", "offset"), used), ("rs", "ms", "ls")):
        d.line([(x(frame), top), (x(frame), H - bottom)], fill=PHASE_COLOURS[name], width=2 * SCALE)
        text = f"{name} {frame}"
        # Kept inside the picture: an offset on the last frame would otherwise run off the right edge.
        width = d.textlength(text, font=small)
        start = {"r": x(frame) - width, "m": x(frame) - width / 2, "l": x(frame)}[anchor[0]]
        start = min(max(start, 2 * SCALE), W - 2 * SCALE - width)
        d.text((start, top - 3 * SCALE), text, font=small, fill=PHASE_COLOURS[name], anchor="ls")
    d.line([(left, top), (left, H - bottom), (W - right, H - bottom)], fill=INK, width=SCALE)
    if manual:
        how = "window set by hand"
    else:
        how = "window estimated" if estimate.reliable else "no clear motion: whole clip"
    # Titles sit top left: the page shows these images without a label badge; its buttons are top right.
    d.text((8 * SCALE, 8 * SCALE), f"Motion energy (a heuristic) - {how}", font=_font(11, bold=True), fill=INK)
    d.text((W - right, H - 4 * SCALE), f"frame ({fps:g} fps)", font=tiny, fill=INK, anchor="rd")
    _vertical_text(img, (12 * SCALE, (top + H - bottom) / 2), "grey levels", tiny)
    return _finish(img)


def region_table_chart(rows: Sequence[str], columns: Sequence[str], values: np.ndarray,
                       reference: Sequence[float], title: str = "",
                       flat: Sequence[bool] | None = None) -> np.ndarray:
    """Where each map's positive attribution lands, relative to the regions' sizes, as a colour-coded table.

    `values` holds shares (rows = maps, columns = facial regions), `reference` each region's share of the
    image (what a map without preference gives).  A region's share alone misleads ("other", two thirds of
    the image, gets most of every map), so each cell shows share / area share: "2.5x" = two and a half
    times what the region's size alone would give, 1x = no preference.  The table is drawn transposed
    (regions down, maps across) so it stays narrow enough to read on a phone.  Maps marked `flat` (no
    positive evidence) get a dash instead of numbers.
    """
    values = np.asarray(values, float)
    area = np.asarray(reference, float)
    flat = list(flat) if flat is not None else [not np.any(v > 0) for v in values]
    ratio = np.where(area[None, :] > 0, values / np.where(area > 0, area, 1.0)[None, :], 0.0)
    col_w, row_h, label_w, head_h, title_h = 48 * SCALE, 24 * SCALE, 74 * SCALE, 34 * SCALE, 40 * SCALE
    n_cols = len(rows) + 1  # the maps, then the area column
    W = label_w + col_w * n_cols + 8 * SCALE
    H = title_h + head_h + row_h * len(columns) + 8 * SCALE
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    font, bold, tiny = _font(12), _font(12, bold=True), _font(11)
    d.text((8 * SCALE, 6 * SCALE), title, font=_font(12, bold=True), fill=INK)
    d.text((8 * SCALE, 22 * SCALE), "× its area: map's share / image share (1× = no preference)",
           font=tiny, fill=GREY)
    cmap = colormaps["Blues"]
    cap = np.log2(max(2.0, float(ratio[~np.asarray(flat, bool)].max()) if not all(flat) else 2.0))
    heads = [(name, is_flat) for name, is_flat in zip(rows, flat)] + [("area", False)]
    for j, (name, is_flat) in enumerate(heads):
        cx = label_w + col_w * j + col_w / 2
        d.text((cx, title_h + head_h - 16 * SCALE), name, font=bold if j < len(rows) else tiny,
               fill=INK if j < len(rows) else GREY, anchor="ms")
        if is_flat:
            d.text((cx, title_h + head_h - 4 * SCALE), "flat", font=tiny, fill=GREY, anchor="ms")
    top = title_h + head_h
    best = [int(np.argmax(r)) if not f else -1 for r, f in zip(ratio, flat)]
    for i, region in enumerate(columns):
        y0 = top + row_h * i
        d.text((label_w - 6 * SCALE, y0 + row_h / 2), region.replace("_", " "), font=tiny, fill=INK, anchor="rm")
        for j in range(n_cols):
            x0 = label_w + col_w * j
            if j == len(rows):  # the reference column: the region's share of the image
                fill, ink, text = (245, 245, 245), GREY, f"{100 * area[i]:.1f}%"
            elif flat[j]:
                fill, ink, text = (245, 245, 245), GREY, "–"
            else:
                r = ratio[j, i]
                level = 0.05 + 0.75 * float(np.clip(np.log2(max(r, 1e-9)) / cap, 0.0, 1.0))
                fill = tuple(int(255 * c) for c in cmap(level)[:3])
                ink = "white" if level > 0.5 else INK
                text = f"{r:.1f}×" if r < 10 else f"{r:.0f}×"
            d.rectangle([x0 + SCALE, y0 + SCALE, x0 + col_w - SCALE, y0 + row_h - SCALE], fill=fill)
            d.text((x0 + col_w / 2, y0 + row_h / 2), text, font=bold if j < len(rows) and best[j] == i else font,
                   fill=ink, anchor="mm")
    return _finish(img)


def placeholder(text: str, size: tuple[int, int] = (560, 60)) -> np.ndarray:
    """A pale panel naming what will appear there, shown before the first analysis and while one runs."""
    img = Image.new("RGB", (size[0] * SCALE, size[1] * SCALE), (248, 248, 248))
    ImageDraw.Draw(img).text((size[0] * SCALE / 2, size[1] * SCALE / 2), text, font=_font(12), fill=GREY,
                             anchor="mm")
    return _finish(img)
