"""Overlays and figures: panel counts, shared scales, colour maps, byte-identical files."""
from __future__ import annotations

import json
import shutil
import subprocess

import matplotlib.image
import matplotlib.text
from matplotlib.backends.backend_agg import FigureCanvasAgg
import numpy as np
import pytest

from explain.base import AttributionMap, ExplainError
from explain.figure import (MIN_PANEL_IN, FigureRow, _chars, attribution_figure, column_width, panel_letter,
                            region_bar_chart, save_figure)
from explain.overlay import DENSITY_UNITS, Scale, blend, display_values, scales_for
from explain.regions import region_table

S = 32





def _map(values, layer="al1", contrast=None, method="gradcam") -> AttributionMap:
    return AttributionMap(np.asarray(values, np.float32), method, layer, 2, "surprise",
                          contrast=contrast, contrast_name=None if contrast is None else "negative")


def _rows(n_rows=2, contrast=False) -> list[FigureRow]:
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n_rows):
        maps = [_map(rng.random((S, S)), layer) for layer in ("al1", "al2", "al3", "al4")]
        maps.append(_map(rng.normal(size=(S, S)), None, method="ig"))
        if contrast:
            maps.append(_map(rng.normal(size=(S, S)), "head", contrast=0))
        di = (rng.random((S, S, 3)) * 255).astype(np.uint8)
        rows.append(FigureRow(f"clip {i}\nsurprise 0.{i + 5}", di, maps, apex=di[::-1].copy()))
    return rows


def test_density_and_relative_display_values():
    v = np.zeros((4, 4), np.float32)
    v[0, 0], v[1, 1], v[2, 2] = 3.0, 1.0, -4.0
    density = display_values(_map(v))
    assert density[0, 0] == pytest.approx(12.0) and density[2, 2] == 0.0  # 3 / mean(positive part) = 3 / 0.25
    assert density.mean() == pytest.approx(1.0)  # a density averages to one uniform map
    signed = display_values(_map(v, contrast=0))
    assert np.abs(signed).mean() == pytest.approx(1.0) and signed[2, 2] == pytest.approx(-8.0)
    assert display_values(_map(v), "per-map").max() == pytest.approx(1.0)
    assert not display_values(_map(np.zeros((4, 4)))).any()
    with pytest.raises(ExplainError, match="valid scales: shared, per-map"):
        display_values(_map(v), "log")


def test_shared_scale_spans_all_maps_and_separates_contrastive_ones():
    a, b = _map(np.eye(4)), _map(np.ones((4, 4)))
    c = _map(np.eye(4) - np.eye(4)[::-1], contrast=0)
    sa, sb, sc = scales_for([a, b, c], "shared", percentile=100)
    assert sa is sb and sa.vmin == 0 and sa.vmax == pytest.approx(4.0) and sa.cmap == "inferno"
    assert sa.label == DENSITY_UNITS
    assert sc.signed and sc.vmin == -sc.vmax and sc.cmap == "RdBu_r"
    per = scales_for([a, b], "per-map")
    assert (per[0].vmin, per[0].vmax) == (0.0, 1.0)


def test_blend_keeps_unattributed_pixels_and_colours_the_top():
    bg = np.full((4, 4, 3), 128, np.uint8)
    values = np.zeros((4, 4), np.float32)
    values[0, 0] = 2.0
    scale = Scale(0.0, 2.0, "inferno", "u", False)
    out = blend(bg, values, scale, alpha=1.0)
    assert out.shape == (4, 4, 3) and np.allclose(out[1:, 1:], 128 / 255)
    from matplotlib import colormaps

    np.testing.assert_allclose(out[0, 0], colormaps["inferno"](1.0)[:3])
    big = blend(np.zeros((8, 8, 3), np.uint8), values, scale)  # a larger background resizes the map
    assert big.shape == (8, 8, 3)


@pytest.mark.parametrize("contrast,n_bars", [(False, 1), (True, 2)])
def test_figure_has_the_expected_panels(contrast, n_bars):
    rows = _rows(3, contrast)
    fig = attribution_figure(rows)
    n_cols = 2 + len(rows[0].maps)  # apex, DI, maps
    assert len(fig.axes) == 3 * n_cols + n_bars
    titles = [ax.get_title() for ax in fig.axes[:n_cols]]
    assert titles[:4] == ["apex frame", "dynamic image", "Grad-CAM AL1", "Grad-CAM AL2"]
    assert titles[6] == "IG"
    # each clip is named on one heading line above its panels
    assert [t.get_text() for t in fig.texts] == [f"clip {i}  ·  surprise 0.{i + 5}" for i in range(3)]
    assert fig.axes[-1].get_xlabel().startswith("target − contrast: " if contrast else "attribution density")
    no_apex = attribution_figure([FigureRow("r", rows[0].dynamic_image, rows[0].maps)])
    assert len(no_apex.axes) == 1 + len(rows[0].maps) + n_bars


def test_figure_errors():
    rows = _rows(2)
    with pytest.raises(ExplainError, match="same number of maps"):
        attribution_figure([rows[0], FigureRow("x", rows[1].dynamic_image, rows[1].maps[:2])])
    with pytest.raises(ExplainError, match="valid backgrounds: dynamic, apex"):
        attribution_figure(rows, background="flow")
    with pytest.raises(ExplainError, match="at least one row"):
        attribution_figure([])
    with pytest.raises(ExplainError, match="use one of .pdf, .svg, .png"):
        save_figure(attribution_figure(rows), "fig.jpg")


@pytest.mark.parametrize("suffix", [".pdf", ".svg", ".png"])
def test_same_inputs_give_byte_identical_files(tmp_path, suffix):
    a = save_figure(attribution_figure(_rows(2, True)), tmp_path / f"a{suffix}", dpi=60)
    b = save_figure(attribution_figure(_rows(2, True)), tmp_path / f"b{suffix}", dpi=60)
    assert a.read_bytes() == b.read_bytes()
    data = a.read_bytes()
    assert b"CreationDate" not in data and b"<dc:date>" not in data
    if suffix == ".png":
        img = matplotlib.image.imread(a)
        fig = attribution_figure(_rows(2, True))
        assert img.shape[:2] == (int(fig.get_figheight() * 60), int(fig.get_figwidth() * 60))


def test_region_bar_chart_bars(tmp_path):
    rng = np.random.default_rng(0)
    table = region_table({f"m{i}": rng.random((S, S)) for i in range(3)})
    fig = region_bar_chart(table, title="t")
    ax = fig.axes[0]
    assert len(fig.axes) == 1 and len(ax.patches) == 3 * len(table.columns)
    heights = np.array([p.get_height() for p in ax.patches]).reshape(3, -1)
    np.testing.assert_allclose(heights.sum(axis=1), 100.0)  # each map's shares, in percent
    save_figure(fig, tmp_path / "bars.svg")
    assert (tmp_path / "bars.svg").stat().st_size > 0
    json.dumps(table.as_dict())  # JSON-able for sidecars


def _texts(fig) -> list[matplotlib.text.Text]:
    """Every visible, non-empty text of a figure."""
    return [t for t in fig.findobj(matplotlib.text.Text) if t.get_visible() and t.get_text()]


@pytest.mark.parametrize("width,inches,lines", [("single", 3.5, 2), ("double", 7.16, 1), (5, 5.0, 2)])
def test_column_widths_wrap_panels_and_keep_text_printable(width, inches, lines):
    # apex, DI, AL1-AL4, IG = 7 panels: one line at 7.16 in; 4 + 3 where 7 panels would be under 0.72 in
    fig = attribution_figure(_rows(2), width=width, letters=True)
    assert fig.get_figwidth() == pytest.approx(inches)
    panels = fig.axes[:-1]
    assert len(panels) == 14
    tops = sorted({round(ax.get_position().y1, 6) for ax in panels}, reverse=True)
    assert len(tops) == 2 * lines  # lines per clip x 2 clips
    widths = [ax.get_position().width * inches for ax in panels]
    assert min(widths) >= MIN_PANEL_IN and max(widths) == pytest.approx(min(widths))
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    sizes = [t.get_fontsize() for t in _texts(fig)]
    assert min(sizes) >= 7 and max(sizes) <= 9  # points at the printed size: no scaling in LaTeX
    for t in _texts(fig):  # nothing runs off the page
        box = t.get_window_extent(canvas.get_renderer())
        assert box.x0 >= -0.5 and box.x1 <= fig.bbox.width + 0.5, t.get_text()
    # the colourbar is under the panels and no taller than one fifth of a panel
    bar = fig.axes[-1].get_position()
    assert bar.y1 < min(ax.get_position().y0 for ax in panels)
    assert bar.height * fig.get_figheight() <= 0.2 * min(widths)
    letters = [t.get_text() for ax in panels for t in ax.texts]
    assert letters == list("abcdefghijklmn")


def test_long_clip_names_are_shortened_in_the_middle():
    rows = _rows(1)
    rows[0].label = "session_04_subject_17_" + "x" * 80 + "_take_3.mp4\nsurprise 0.97\nexplained: negative"
    fig = attribution_figure(rows, width="single")
    heading = fig.texts[0].get_text()
    limit = _chars(3.5 - 0.08, 8.0)  # 55 characters of 8 pt in 3.42 in
    # the name keeps half the line (13 + 1 + 13 characters: both ends), the rest is cut at the end
    assert heading == "session_04_su…xx_take_3.mp4  ·  surprise 0.97  ·  expl…"
    assert len(heading) == limit == 55
    assert [panel_letter(i) for i in (0, 1, 25, 26, 27, 51, 52)] == ["a", "b", "z", "aa", "ab", "az", "ba"]


def test_width_errors():
    assert column_width(None) is None and column_width("Single") == 3.5 and column_width("7.16") == 7.16
    with pytest.raises(ExplainError, match="^unknown figure width 'wide'; use single, double or a width in inches$"):
        attribution_figure(_rows(1), width="wide")
    with pytest.raises(ExplainError, match="^figure width 0.5 in is outside 1-20 in$"):
        column_width(0.5)


def test_pdf_fonts_are_embedded_truetype(tmp_path):
    if shutil.which("pdffonts") is None:
        pytest.skip("pdffonts (poppler-utils) is not installed, so the PDF's font types cannot be listed")
    pdf = save_figure(attribution_figure(_rows(2, True), width="single", letters=True), tmp_path / "f.pdf")
    out = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout.splitlines()
    fonts = [line for line in out[2:] if line.strip()]
    assert len(fonts) == 2  # DejaVu Sans and its bold (the panel letters)
    for line in fonts:
        assert "CID TrueType" in line and "Type 3" not in line, line
        assert line.split()[-5:-3] == ["yes", "yes"], line  # embedded, subset


def _lightness(rgb: np.ndarray) -> np.ndarray:
    """CIE L* of sRGB colours in [0, 1] (what a greyscale print keeps)."""
    lin = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    y = lin @ np.array([0.2126, 0.7152, 0.0722])
    return np.where(y > (6 / 29) ** 3, 116 * np.cbrt(y) - 16, y * (29 / 3) ** 3)


def test_colour_maps_read_in_greyscale():
    from matplotlib import colormaps

    t = np.linspace(0, 1, 256)
    # the sequential map of plain maps: lightness rises all the way, so a greyscale print keeps the order
    inferno = _lightness(colormaps["inferno"](t)[:, :3])
    assert np.all(np.diff(inferno) > 0) and inferno[-1] - inferno[0] > 90
    # the diverging map of contrastive maps: white at 0, darker with |value| on both sides (the sign is in
    # the hue, for colour-blind readers blue against red)
    rdbu = _lightness(colormaps["RdBu_r"](t)[:, :3])
    assert np.all(np.diff(rdbu[:128]) > -0.5) and np.all(np.diff(rdbu[128:]) < 0.5)
    assert rdbu[127] > 95 and rdbu[0] < 35 and rdbu[-1] < 35
