"""Overlays and figures: panel counts, shared scales, colour maps, byte-identical files."""
from __future__ import annotations

import json

import matplotlib.image
import numpy as np
import pytest

from explain.base import AttributionMap, ExplainError
from explain.figure import FigureRow, attribution_figure, region_bar_chart, save_figure
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
    assert fig.axes[0].get_ylabel() == "clip 0\nsurprise 0.5"
    assert "attribution density" in fig.axes[-1].get_ylabel()
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
