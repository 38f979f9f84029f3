"""Where a map's positive attribution lands on the face: shares per named region of the canonical template.

`learnet.template.region_masks` gives disjoint masks (brows, eyes, nose, cheeks, mouth, chin, forehead and
"other") that cover the square once, so the shares of one map sum to 1.  Because regions differ in size, the
table can carry an "area" row: the share a uniform map would give, the fair reference for each column.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from learnet.template import REGION_NAMES, region_label_map

from .base import AttributionMap, ExplainError

AREA_ROW = "area (uniform map)"


@lru_cache(maxsize=8)
def _labels(size: int) -> np.ndarray:
    labels = region_label_map(size).ravel()
    labels.flags.writeable = False  # shared by every call
    return labels


def _values(m: AttributionMap | np.ndarray) -> np.ndarray:
    v = m.values if isinstance(m, AttributionMap) else np.asarray(m, dtype=np.float64)
    if v.ndim != 2 or v.shape[0] != v.shape[1]:
        raise ExplainError(f"region shares need a square (S, S) map in the face template, got shape {v.shape}")
    return v


def region_shares(m: AttributionMap | np.ndarray) -> dict[str, float]:
    """Share of the map's positive attribution in each region of `REGION_NAMES` (sums to 1).

    Negative values (evidence against the class) are ignored; a map with no positive value has nothing to
    share and gets 0 everywhere.
    """
    v = np.clip(_values(m).astype(np.float64), 0.0, None)
    total = v.sum()
    if total <= 0:
        return {name: 0.0 for name in REGION_NAMES}
    # One pass over the pixels: sum the map per region label (the masks are disjoint and cover the square).
    sums = np.bincount(_labels(v.shape[0]), weights=v.ravel(), minlength=len(REGION_NAMES))
    return {name: float(s / total) for name, s in zip(REGION_NAMES, sums)}


def region_areas(size: int) -> dict[str, float]:
    """Fraction of the (size, size) square each region covers (the shares of a uniform map)."""
    counts = np.bincount(_labels(size), minlength=len(REGION_NAMES))
    return {name: float(c / size**2) for name, c in zip(REGION_NAMES, counts)}


@dataclass
class RegionTable:
    """Rows = maps (or classes x layers), columns = `REGION_NAMES`, values = shares of positive attribution."""

    rows: list[str]
    columns: list[str]
    values: np.ndarray  # (rows, columns) float

    def as_dict(self) -> dict[str, dict[str, float]]:
        """{row: {region: share}}."""
        return {r: dict(zip(self.columns, map(float, self.values[i]))) for i, r in enumerate(self.rows)}

    def to_csv(self, path: str | Path | None = None, digits: int = 4) -> str:
        """CSV text (header `map,<regions...>`); also written to `path` if given."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["map", *self.columns])
        for r, row in zip(self.rows, self.values):
            w.writerow([r, *(f"{v:.{digits}f}" for v in row)])
        text = buf.getvalue()
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def to_latex(self, path: str | Path | None = None, percent: bool = True, caption: str | None = None) -> str:
        """A booktabs `tabular` (shares in percent by default), the largest share of each row in bold."""
        head = " & ".join(["map", *(_tex(c.replace("_", " ")) for c in self.columns)])
        lines = [r"\begin{tabular}{l" + "r" * len(self.columns) + "}", r"\toprule", head + r" \\", r"\midrule"]
        for r, row in zip(self.rows, self.values):
            best = int(np.argmax(row))
            cells = [f"{v * 100:.1f}" if percent else f"{v:.3f}" for v in row]
            cells[best] = r"\textbf{" + cells[best] + "}"
            lines.append(" & ".join([_tex(r), *cells]) + r" \\")
        lines += [r"\bottomrule", r"\end{tabular}"]
        text = "\n".join(lines) + "\n"
        if caption:
            text = (r"\begin{table}" + "\n" + r"\centering" + "\n" + text + r"\caption{" + _tex(caption) + "}\n"
                    + r"\end{table}" + "\n")
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text


def region_table(
    maps: Sequence[AttributionMap] | Mapping[str, AttributionMap | np.ndarray], include_area: bool = True
) -> RegionTable:
    """Region shares of several maps, one row each (row names: the mapping's keys or the maps' titles).

    With `include_area`, a last row gives each region's area share: what a map without preference would get.
    """
    items = list(maps.items()) if isinstance(maps, Mapping) else [(_row_name(m), m) for m in maps]
    if not items:
        raise ExplainError("region_table needs at least one map")
    columns = list(REGION_NAMES)
    rows = [name for name, _ in items]
    values = [list(region_shares(m).values()) for _, m in items]
    if include_area:
        rows.append(AREA_ROW)
        values.append(list(region_areas(_values(items[0][1]).shape[0]).values()))
    return RegionTable(rows, columns, np.asarray(values, dtype=np.float64))


def _row_name(m: AttributionMap) -> str:
    return f"{m.title} ({m.target_label})"


def _tex(s: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"), ("#", r"\#")):
        s = s.replace(a, b)
    return s
