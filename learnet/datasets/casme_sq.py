"""CAS(ME)^2 reader: `rawpic/s15/15_0101disgustingteeth/img{n}.jpg`, long recordings at 30 fps, annotated by
the headerless `code_final.xlsx`, whose naming-rule sheets tie videos and participants to folders.
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from .rows import folder_sample, frame_numbers, numbered, read_rows, subdirs
from .schema import DatasetError, Sample
from .spreadsheet import action_units, cell_int, cell_text, find_file, read_table, sheet_names

# code_final.xlsx columns: participant, video, onset, apex, offset, action units, emotion, expression type.
_COLUMNS = 8
_FRAME_COLUMNS = {"onset": 2, "apex": 3, "offset": 4}


def _casme_sq_naming(annotation: Path) -> tuple[dict[str, str], dict[int, str]]:
    """The naming-rule sheets of `code_final.xlsx`: video name -> 4-digit code, participant -> folder number."""
    codes: dict[str, str] = {}
    subjects: dict[int, str] = {}
    for name in sheet_names(annotation)[1:]:
        for row in read_table(annotation, name):
            cells = [cell_text(c) for c in row if cell_text(c)]
            code = next((c for c in cells if re.fullmatch(r"\d{4}", c)), None)
            word = next((c for c in cells if re.fullmatch(r"[A-Za-z]+\d*", c)), None)
            if code and word:
                codes[word.lower()] = code
            ints = [c for c in cells if re.fullmatch(r"\d{1,3}", c)]
            if len(cells) == 2 and len(ints) == 2:  # participant -> folder number
                subjects[int(ints[0])] = ints[1]
    return codes, subjects


def read_casme_sq(
    root: str | os.PathLike, annotation: str | os.PathLike | None = None, *, include_macro: bool = False
) -> list[Sample]:
    """CAS(ME)^2: `rawpic/s15/15_0101disgustingteeth/img{n}.jpg`, long recordings at 30 fps.

    `code_final.xlsx` has no header row: subject, video, onset, apex, offset (0 = not coded), action units,
    emotion, expression type.  Only micro-expressions are read unless `include_macro`.  Clip folders are
    matched by name, or through the workbook's naming-rule sheets (video `disgust1_1` -> code `0101` ->
    folder `15_0101...`).  An uncoded offset is estimated as apex + (apex - onset).  The emotion column's
    "happyiness" is read as "happiness".  57 micro-expressions (`casme_sq_4c`).
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"the CAS(ME)^2 folder {root} does not exist")
    frames_root = root / "rawpic" if (root / "rawpic").is_dir() else root
    if annotation is None:
        annotation = find_file([root, root.parent], ["*code_final*.xlsx", "*code_final*.csv"], "CAS(ME)^2 code_final file")
    annotation = Path(annotation)
    rows = read_table(annotation)
    codes, subject_folders = _casme_sq_naming(annotation)

    def row(r: int, cells: list) -> Sample | None:
        return _casme_sq_row(cells, frames_root, codes, subject_folders, include_macro, f"{annotation.name} row {r}")

    return read_rows(numbered(rows), row, width=_COLUMNS)


def _casme_sq_row(
    cells: list, frames_root: Path, codes: Mapping[str, str], subject_folders: Mapping[int, str],
    include_macro: bool, source: str,
) -> Sample | None:
    number = cell_int(cells[0])
    if number is None:  # a header row some copies add, or a blank line
        return None
    kind = cell_text(cells[7]).lower()
    if not include_macro and "micro" not in kind:
        return None
    video = cell_text(cells[1])
    subject_dir, clip_dir = _clip_folder(frames_root, number, video, codes, subject_folders)
    numbers = frame_numbers(cells, _FRAME_COLUMNS, zero_is_uncoded=True)
    return folder_sample(
        "casme_sq", subject_dir.name, f"{clip_dir.name}@{numbers['onset']}", clip_dir, numbers,
        cell_text(cells[6]), action_units(cells[5]), source, missing_offset="mirror",
        extra={"video": video, "type": kind},
    )


def _clip_folder(
    frames_root: Path, number: int, video: str, codes: Mapping[str, str], subject_folders: Mapping[int, str]
) -> tuple[Path, Path]:
    """The subject and clip folders of one row: by name, else through the naming rules' 4-digit code."""
    folder_number = subject_folders.get(number, f"{number:02d}")
    subject_dir = next((d for d in (frames_root / f"s{folder_number}", frames_root / f"s{number}") if d.is_dir()),
                       frames_root / f"s{folder_number}")
    clip_dir = subject_dir / video
    if not clip_dir.is_dir() and subject_dir.is_dir():
        code = codes.get(video.rsplit("_", 1)[0].lower())
        matches = [d for d in subdirs(subject_dir)
                   if (code and re.match(rf"\d+_{code}", d.name)) or d.name.lower().endswith(video.lower())]
        if len(matches) == 1:
            clip_dir = matches[0]
    return subject_dir, clip_dir
