"""SAMM reader: `SAMM/<006>/<006_1_2>/006_05562.jpg` (grayscale, absolute frame numbers), annotated by
`SAMM_Micro_FACS_Codes*.xlsx`, whose header row follows a text preamble.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from .rows import coded_row, folder_sample, numbered, read_rows
from .schema import DatasetError, Sample
from .spreadsheet import cell_text, find_file, read_coded_sheet


def read_samm(root: str | os.PathLike, annotation: str | os.PathLike | None = None) -> list[Sample]:
    """SAMM: `SAMM/<006>/<006_1_2>/006_05562.jpg` (grayscale, absolute frame numbers).

    The spreadsheet (`SAMM_Micro_FACS_Codes*.xlsx`) opens with a text preamble; the header is the first row
    that holds "Subject" and "Filename".  An offset of -1 or 0 (not coded) becomes the clip's last frame.
    159 rows; 136 under `samm_5c`, 133 under `samm_3c`.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"the SAMM folder {root} does not exist")
    if annotation is None:
        annotation = find_file([root, root.parent], ["SAMM*.xlsx", "SAMM*.csv"], "SAMM coding file")
    annotation = Path(annotation)
    rows, h, cols, emotion = read_coded_sheet(
        annotation, ["Subject", "Filename", "Onset Frame", "Offset Frame"], ("estimatedemotion",))

    def row(r: int, cells: list) -> Sample | None:
        return _samm_row(cells, cols, emotion, root, f"{annotation.name} row {r}")

    return read_rows(numbered(rows, h + 1), row, width=len(rows[h]))


def _samm_row(cells: list, cols: Mapping[str, int], emotion: int, root: Path, source: str) -> Sample | None:
    # SAMM codes "not coded" as -1 or 0; an uncoded offset is the clip's last frame
    fields = coded_row(cells, cols, emotion, subject="{:03d}", zero_is_uncoded=True)
    if fields is None:
        return None
    subject, clip, numbers, label, aus = fields
    extra = {"objective_class": cell_text(cells[cols["objectiveclasses"]])} if "objectiveclasses" in cols else {}
    return folder_sample(
        "samm", subject, clip, root / subject / clip, numbers, label, aus, source, missing_offset="last", extra=extra,
    )
