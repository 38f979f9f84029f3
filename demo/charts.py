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
        d.text((x(frame), top - 3 * SCALE), f"{name} {frame}", font=small, fill=PHASE_COLOURS[name],
               anchor=anchor)
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
                       reference: Sequence[float] | None = None, title: str = "") -> np.ndarray:
    """Shares (rows = maps, columns = facial regions) as a colour-coded table with percentages.

    `reference` (the regions' area shares, what a map without preference gets) is drawn as a last grey row;
    a cell's colour grows with its share, so a map's favourite regions stand out across the row.
    """
    values = np.asarray(values, float)
    col_w, row_h, label_w, head_h, title_h = 62 * SCALE, 24 * SCALE, 96 * SCALE, 34 * SCALE, 34 * SCALE
    n_rows = len(rows) + (reference is not None)
    W = label_w + col_w * len(columns) + 8 * SCALE
    H = title_h + head_h + row_h * n_rows + 8 * SCALE
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    font, bold, tiny = _font(11), _font(11, bold=True), _font(10)
    d.text((8 * SCALE, 8 * SCALE), title, font=_font(11, bold=True), fill=INK)
    top = title_h + head_h
    for j, name in enumerate(columns):
        words = name.replace("_", " ").split(" ")
        cx = label_w + col_w * j + col_w / 2
        for k, word in enumerate(words[-2:]):
            d.text((cx, title_h + head_h - 4 * SCALE - (len(words[-2:]) - 1 - k) * 13 * SCALE), word, font=tiny,
                   fill=INK, anchor="ms")
    cmap = colormaps["Blues"]
    top_share = max(1e-9, float(values.max()) if values.size else 1.0)
    table = [(r, v, False) for r, v in zip(rows, values)]
    if reference is not None:
        table.append(("area (uniform)", np.asarray(reference, float), True))
    for i, (name, row, is_ref) in enumerate(table):
        y0 = top + row_h * i
        d.text((label_w - 6 * SCALE, y0 + row_h / 2), name, font=tiny if is_ref else bold, fill=GREY if is_ref else INK,
               anchor="rm")
        best = int(np.argmax(row)) if row.size and not is_ref else -1
        for j, share in enumerate(row):
            x0 = label_w + col_w * j
            if is_ref:
                fill, ink = (245, 245, 245), GREY
            else:
                level = 0.05 + 0.75 * share / top_share
                fill = tuple(int(255 * c) for c in cmap(level)[:3])
                ink = "white" if level > 0.5 else INK
            d.rectangle([x0 + SCALE, y0 + SCALE, x0 + col_w - SCALE, y0 + row_h - SCALE], fill=fill)
            d.text((x0 + col_w / 2, y0 + row_h / 2), f"{100 * share:.0f}%", font=bold if j == best else font,
                   fill=ink, anchor="mm")
    return _finish(img)
