"""Spreadsheet helpers the readers share: reading .xlsx/.csv sheets, parsing cells, finding headers and files.

Annotation spreadsheets are read with openpyxl (pure Python, read-only streaming mode, no pandas needed).
Cells come as whatever the release wrote (ints, floats, text, "/" for not coded); `cell_int`, `cell_text`
and `action_units` turn them into the schema's types.
"""
from __future__ import annotations

import csv
import math
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from .schema import DatasetError


def cell_int(value) -> int | None:
    """An annotation cell as an int; None for blanks and markers such as "/" or "-"."""
    if value is None:
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value == int(value) else None
    text = str(value).strip()
    if re.fullmatch(r"-?\d+(\.0+)?", text):
        return int(float(text))
    return None


def cell_text(value) -> str:
    """An annotation cell as stripped text; "" for blanks, whole floats without ".0" (12.0 -> "12")."""
    if value is None:
        return ""
    if isinstance(value, float) and value == int(value):
        value = int(value)
    return str(value).strip()


def norm_header(name) -> str:
    """A column name reduced to lower-case letters and digits ("Onset Frame" -> "onsetframe")."""
    return re.sub(r"[^a-z0-9]", "", cell_text(name).lower())


def read_table(path: str | os.PathLike, sheet: int | str = 0) -> list[list]:
    """All rows of one sheet of an .xlsx workbook (openpyxl, read-only) or of a .csv file, as lists of cells."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"the annotation file {path} does not exist")
    if path.suffix.lower() == ".csv":
        with open(path, newline="", encoding="utf-8-sig") as f:
            return [list(row) for row in csv.reader(f)]
    if path.suffix.lower() not in (".xlsx", ".xlsm"):
        raise DatasetError(f"{path.name}: annotation files must be .xlsx or .csv (save .xls files as .xlsx)")
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several unrelated types for damaged files
        raise DatasetError(f"{path.name} could not be read as an .xlsx workbook: {exc}") from exc
    try:
        sheet_obj = book.worksheets[sheet] if isinstance(sheet, int) else book[sheet]
        return [list(row) for row in sheet_obj.iter_rows(values_only=True)]
    finally:
        book.close()


def sheet_names(path: str | os.PathLike) -> list[str]:
    """Sheet names of an .xlsx workbook ([] for .csv)."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        return []
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True)
    try:
        return list(book.sheetnames)
    finally:
        book.close()


def find_header(rows: list[list], required: Sequence[str], where: str) -> tuple[int, dict[str, int]]:
    """Index of the first row holding all `required` column names (normalised), and name -> column."""
    want = [norm_header(r) for r in required]
    for i, row in enumerate(rows):
        names = {norm_header(c): j for j, c in reversed(list(enumerate(row))) if cell_text(c)}
        if all(w in names for w in want):
            return i, names
    raise DatasetError(f"{where}: no header row with the columns {', '.join(required)} was found")


def read_coded_sheet(
    annotation: Path, required: Sequence[str], emotion: Sequence[str]
) -> tuple[list[list], int, dict[str, int], int]:
    """A FACS-coding sheet with a header row (CASME II, SAMM): its rows, the header's index, column name ->
    column (names normalised), and the emotion column (the first of the `emotion` names it has)."""
    rows = read_table(annotation)
    h, cols = find_header(rows, required, annotation.name)
    column = next((cols[name] for name in emotion if name in cols), None)
    if column is None:
        raise DatasetError(f"{annotation.name}: no 'Estimated Emotion' column")
    return rows, h, cols, column


def find_file(folders: Iterable[Path], patterns: Sequence[str], what: str) -> Path:
    """The first file matching a pattern in the first folder that has one (Office lock files and hidden
    files skipped); `what` names it in the error when there is none."""
    seen: list[Path] = []
    for folder in folders:
        if not folder.is_dir():
            continue
        for pattern in patterns:
            hits = sorted(p for p in folder.glob(pattern) if not p.name.startswith(("~$", ".")))
            if hits:
                return hits[0]
        seen.append(folder)
    raise DatasetError(
        f"no {what} ({' or '.join(patterns)}) found in {', '.join(map(str, seen)) or 'the given folders'}; "
        "pass the annotation file explicitly"
    )


def action_units(value) -> str:
    """Action units as `1+2+R4`: the releases separate them with +, commas or spaces."""
    text = cell_text(value)
    parts = [p for p in re.split(r"[+,;\s]+", text) if p and p not in ("/", "-")]
    return "+".join(parts)

