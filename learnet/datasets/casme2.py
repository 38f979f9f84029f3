"""CASME II reader: `CASME2_RAW_selected/subXX/EPyy_zz/img{n}.jpg` (raw) or `Cropped/.../reg_img{n}.jpg`,
annotated by the coding spreadsheet `CASME2-coding-*.xlsx` (frame numbers counted from the recording's start).
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from .rows import coded_row, folder_sample, is_subject_root, numbered, read_rows, subdirs
from .schema import DatasetError, Sample
from .spreadsheet import find_file, read_coded_sheet


def casme2_frames_root(root: str | os.PathLike) -> Path:
    """The folder holding `subXX` folders: `root` itself, or its one `CASME2_RAW_selected`/`Cropped` child."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"the CASME II folder {root} does not exist")
    if is_subject_root(root, r"sub\d+"):
        return root
    candidates = [p for p in subdirs(root) if is_subject_root(p, r"sub\d+")]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise DatasetError(f"{root} holds no subXX folders (nor a CASME2_RAW_selected or Cropped folder with them)")
    names = ", ".join(p.name for p in candidates)
    raise DatasetError(f"{root} holds several CASME II releases ({names}); point at one of them")


def read_casme2(root: str | os.PathLike, annotation: str | os.PathLike | None = None) -> list[Sample]:
    """CASME II, raw (`CASME2_RAW_selected/subXX/EPyy_zz/img{n}.jpg`) or cropped (`Cropped/.../reg_img{n}.jpg`).

    Args:
        root: the release folder (or the folder holding `subXX`); the annotation `CASME2-coding-*.xlsx` is
            looked for there and in the two parent folders.
        annotation: the coding spreadsheet, if it lives elsewhere.

    About 21 apex cells hold "/": such samples get the middle frame (`apex_estimated`).  255 rows;
    246 under `casme2_5c`.
    """
    frames_root = casme2_frames_root(root)
    root = Path(root)
    if annotation is None:
        annotation = find_file(
            [root, frames_root, root.parent, root.parent.parent], ["CASME2-coding*.xlsx", "CASME2-coding*.csv"],
            "CASME II coding file",
        )
    annotation = Path(annotation)
    rows, h, cols, emotion = read_coded_sheet(
        annotation, ["Subject", "Filename", "OnsetFrame", "OffsetFrame"], ("estimatedemotion", "emotion"))

    def row(r: int, cells: list) -> Sample | None:
        return _casme2_row(cells, cols, emotion, frames_root, f"{annotation.name} row {r}")

    return read_rows(numbered(rows, h + 1), row, width=len(rows[h]))


def _casme2_row(cells: list, cols: Mapping[str, int], emotion: int, frames_root: Path, source: str) -> Sample | None:
    fields = coded_row(cells, cols, emotion, subject="sub{:02d}")
    if fields is None:
        return None
    subject, clip, numbers, label, aus = fields
    return folder_sample("casme2", subject, clip, frames_root / subject / clip, numbers, label, aus, source)
