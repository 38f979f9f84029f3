"""What every dataset reader shares: the one row loop, frame numbers turned into frame indices, and the
`Sample` an annotation row becomes.

A reader supplies the rows (spreadsheet rows, manifest lines, or SMIC's clip folders) and a function that
makes one row into a sample; `read_rows` does the rest.  `folder_sample` builds the sample of a clip stored as
a folder of numbered frames, annotated with frame numbers as the releases write them.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from ..video import list_frame_files, natural_key
from .labels import fix_label
from .schema import Sample, frame_number
from .spreadsheet import action_units, cell_int, cell_text

DATASET_FPS: dict[str, float] = {"casme2": 200.0, "samm": 200.0, "smic": 100.0, "casme_sq": 30.0}

Where = TypeVar("Where")


def read_rows(
    rows: Iterable[tuple[Where, Sequence]], make: Callable[[Where, list], Sample | None], *, width: int = 0,
    fill: object = None,
) -> list[Sample]:
    """The loop every reader runs: each row, padded with `fill` to `width` cells, made into a sample.

    `rows` pairs each row with where it is (spreadsheet row number, manifest line, clip folder), which
    `make(where, cells)` puts into the sample's `source`; `make` returns None for a row that is not a sample
    (a blank line, a header some copies repeat, a macro-expression).
    """
    samples = []
    for where, row in rows:
        cells = list(row) + [fill] * (width - len(row))
        sample = make(where, cells)
        if sample is not None:
            samples.append(sample)
    return samples


def numbered(rows: Sequence[Sequence], first: int = 0) -> Iterator[tuple[int, Sequence]]:
    """`rows[first:]` with their spreadsheet row numbers (1-based, as a spreadsheet program shows them)."""
    return enumerate(rows[first:], start=first + 1)


def frame_numbers(
    cells: Sequence, columns: Mapping[str, int | None], *, zero_is_uncoded: bool = False
) -> dict[str, int | None]:
    """The onset, apex and offset frame numbers of a row; `columns` gives each one's column (None: absent).

    `zero_is_uncoded`: numbers below 1 mean "not coded" (SAMM writes -1 or 0, CAS(ME)^2 writes 0).
    """
    numbers: dict[str, int | None] = {}
    for key in ("onset", "apex", "offset"):
        col = columns.get(key)
        n = cell_int(cells[col]) if col is not None else None
        numbers[key] = None if n is not None and zero_is_uncoded and n <= 0 else n
    return numbers


def coded_row(
    cells: Sequence, cols: Mapping[str, int], emotion: int, *, subject: str, zero_is_uncoded: bool = False
) -> tuple[str, str, dict[str, int | None], str, str] | None:
    """Subject, clip, frame numbers, label and action units of a row of a FACS-coding sheet with named columns
    (CASME II, SAMM); None for a blank row.  `subject` formats a numeric subject cell (`"sub{:02d}"`: 1 -> sub01)."""
    subject_cell, clip = cells[cols["subject"]], cell_text(cells[cols["filename"]])
    if not cell_text(subject_cell) and not clip:  # blank: None in an xlsx cell, "" in a CSV line such as ",,,,"
        return None
    number = cell_int(subject_cell)
    name = subject.format(number) if number is not None else cell_text(subject_cell)
    numbers = frame_numbers(cells, {"onset": cols.get("onsetframe"), "apex": cols.get("apexframe"),
                                    "offset": cols.get("offsetframe")}, zero_is_uncoded=zero_is_uncoded)
    aus = action_units(cells[cols["actionunits"]]) if "actionunits" in cols else ""
    return name, clip, numbers, cell_text(cells[emotion]), aus


def subdirs(folder: Path) -> list[Path]:
    """The sub-folders of `folder` in natural order (sub2 < sub10), hidden ones left out."""
    return sorted((p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: natural_key(p.name))


def is_subject_root(folder: Path, pattern: str) -> bool:
    """Whether `folder` holds a sub-folder whose whole name matches `pattern` (a subject folder)."""
    return folder.is_dir() and any(re.fullmatch(pattern, p.name, re.I) for p in subdirs(folder))


def index_frames(
    frames: Sequence[str], numbers: Mapping[str, int | None], *, missing_offset: str = "error"
) -> tuple[dict[str, int | None], list[str], list[str], bool]:
    """Map annotated frame numbers (onset/apex/offset) onto indices into `frames`.

    `missing_offset`: what an unknown offset means: "error", "last" (the clip ends at the offset) or
    "mirror" (apex + (apex - onset), the expression assumed symmetric).
    Returns (indices, notes, issues, apex_estimated).
    """
    by_number: dict[int, int] = {}
    for i, f in enumerate(frames):
        n = frame_number(f)
        if n is not None:
            by_number.setdefault(n, i)
    notes: list[str] = []
    issues: list[str] = []
    out: dict[str, int | None] = {"onset": None, "apex": None, "offset": None}
    if not frames:
        return out, notes, issues, numbers.get("apex") is None
    lo, hi = (min(by_number), max(by_number)) if by_number else (None, None)
    for key in ("onset", "apex", "offset"):
        n = numbers.get(key)
        if n is None:
            continue
        if n in by_number:
            out[key] = by_number[n]
        elif lo is not None and lo <= n <= hi:
            issues.append(f"{key} frame {n} is missing from the clip folder")
        else:
            issues.append(f"{key} frame {n} lies outside the clip's frames ({lo}..{hi})")
    if numbers.get("onset") is None and not any("onset" in s for s in issues):
        issues.append("the onset frame is not annotated")
    if numbers.get("offset") is None and not any("offset" in s for s in issues):
        if missing_offset == "last":
            out["offset"] = len(frames) - 1
            notes.append("offset not annotated; using the clip's last frame")
        elif missing_offset == "mirror" and out["onset"] is not None and out["apex"] is not None:
            out["offset"] = min(len(frames) - 1, 2 * out["apex"] - out["onset"])
            notes.append("offset not annotated; estimated as apex + (apex - onset)")
        else:
            issues.append("the offset frame is not annotated")
    apex_estimated = numbers.get("apex") is None
    if apex_estimated and out["onset"] is not None and out["offset"] is not None:
        out["apex"] = (out["onset"] + out["offset"]) // 2
        notes.append("apex not annotated; using the middle frame of onset..offset")
    return out, notes, issues, apex_estimated


def folder_sample(
    dataset: str,
    subject: str,
    clip: str,
    folder: Path,
    numbers: Mapping[str, int | None],
    label: str,
    aus: str,
    source: str,
    *,
    missing_offset: str = "error",
    extra: Mapping[str, str] | None = None,
) -> Sample:
    """A sample whose frames are a folder of numbered images, annotated with frame numbers."""
    label, label_notes = fix_label(label)
    issues: list[str] = []
    frames: tuple[str, ...] = ()
    if not folder.is_dir():
        issues.append(f"the clip folder {folder} does not exist")
    else:
        frames = tuple(str(p) for p in list_frame_files(folder))
        if not frames:
            issues.append(f"the clip folder {folder} holds no image frames")
    idx, notes, more, apex_estimated = index_frames(frames, numbers, missing_offset=missing_offset)
    if frames:
        issues.extend(more)
    return Sample(
        dataset=dataset, subject=f"{dataset}/{subject}", clip=clip, path=str(folder), frames=frames,
        fps=DATASET_FPS.get(dataset), onset=idx["onset"], apex=idx["apex"], offset=idx["offset"], label=label,
        aus=aus, apex_estimated=apex_estimated, source=source, notes=tuple(label_notes) + tuple(notes),
        issues=tuple(issues), extra=dict(extra or {}),
    )

