"""The project's own dataset format: a manifest CSV, one clip a line (`read_manifest`, `write_manifest`).

Columns `dataset,subject,clip,path,fps,onset,apex,offset,label,aus` (`MANIFEST_COLUMNS`), then any extra
columns, which are kept in `Sample.extra`.  onset/apex/offset are 0-based frame indices; `path` is a folder of
frames or a video, relative to the CSV's folder or absolute.
"""
from __future__ import annotations

import csv
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from ..video import VIDEO_SUFFIXES, list_frame_files
from .labels import fix_label
from .rows import read_rows
from .schema import DatasetError, Sample
from .spreadsheet import action_units, cell_int

MANIFEST_COLUMNS: tuple[str, ...] = ("dataset", "subject", "clip", "path", "fps", "onset", "apex", "offset", "label", "aus")
_REQUIRED_MANIFEST_COLUMNS = ("dataset", "subject", "clip", "path", "label")


def _manifest_index(value: str, column: str, where: str) -> int | None:
    text = value.strip()
    if not text:
        return None
    n = cell_int(text)
    if n is None:
        raise DatasetError(f"{where}: {column} must be a whole frame index (0-based) or empty, got {text!r}")
    return n


def read_manifest(path: str | os.PathLike) -> list[Sample]:
    """Read a manifest CSV: `dataset,subject,clip,path,fps,onset,apex,offset,label,aus` (+ extra columns).

    `path` (a folder of frames or a video) is relative to the CSV's folder or absolute; onset/apex/offset
    are 0-based frame indices (empty onset/offset: the clip's ends; empty apex: the middle, reported).
    Subjects are namespaced as `<dataset>/<subject>`.

    Raises:
        DatasetError: the file is missing, lacks a required column, or a cell cannot be parsed (with its line).
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"the manifest {path} does not exist")
    base = path.resolve().parent
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        names = _manifest_header(next(reader, None), path)
        col = {n: i for i, n in reversed(list(enumerate(names)))}
        extras = [n for n in names if n not in MANIFEST_COLUMNS and n]

        def row(line: int, cells: list) -> Sample | None:
            if not any(cell.strip() for cell in cells):
                return None
            get = lambda c: cells[col[c]].strip() if c in col else ""  # noqa: E731
            # the path as given: several manifests may share a name
            return _manifest_sample(get, extras, base, f"{path} line {line}")

        # reader.line_num is read after each row: a quoted cell may span lines
        return read_rows(((reader.line_num, r) for r in reader), row, width=len(names), fill="")


def _manifest_header(header: list[str] | None, path: Path) -> list[str]:
    """The manifest's column names in lower case, checked for the required ones."""
    if header is None:
        raise DatasetError(f"the manifest {path} is empty (it needs a header row: {','.join(MANIFEST_COLUMNS)})")
    names = [h.strip().lower() for h in header]
    missing = [c for c in _REQUIRED_MANIFEST_COLUMNS if c not in names]
    if missing:
        raise DatasetError(
            f"the manifest {path.name} lacks the column(s) {', '.join(missing)}; its header must be "
            f"{','.join(MANIFEST_COLUMNS)}"
        )
    return names


def _manifest_sample(get: Callable[[str], str], extras: Sequence[str], base: Path, where: str) -> Sample:
    """One manifest line as a sample; `get(column)` is the line's stripped cell ("" when absent)."""
    dataset, subject, clip = get("dataset"), get("subject"), get("clip")
    if not dataset or not subject or not get("path"):
        raise DatasetError(f"{where}: dataset, subject and path must not be empty")
    if subject.startswith(dataset + "/"):
        subject = subject[len(dataset) + 1 :]
    clip_path = Path(get("path")).expanduser()
    clip_path = clip_path if clip_path.is_absolute() else base / clip_path
    clip = clip or clip_path.stem
    fps_text = get("fps")
    try:
        fps = float(fps_text) if fps_text else None
    except ValueError:
        raise DatasetError(f"{where}: fps must be a number, got {fps_text!r}") from None
    onset, apex, offset = (_manifest_index(get(c), c, where) for c in ("onset", "apex", "offset"))
    issues: list[str] = []
    frames: tuple[str, ...] = ()
    if clip_path.is_dir():
        frames = tuple(str(p) for p in list_frame_files(clip_path))
        if not frames:
            issues.append(f"the clip folder {clip_path} holds no image frames")
    elif not clip_path.exists():
        issues.append(f"the clip {clip_path} does not exist")
    elif clip_path.suffix.lower() not in VIDEO_SUFFIXES:
        issues.append(f"{clip_path.name} is neither a folder of frames nor a video")
    notes: list[str] = []
    apex_estimated = apex is None
    if apex is None and onset is not None and offset is not None:
        apex = (onset + offset) // 2
        notes.append("apex not annotated; using the middle frame of onset..offset")
    label, label_notes = fix_label(get("label"))
    return Sample(
        dataset=dataset, subject=f"{dataset}/{subject}", clip=clip, path=str(clip_path), frames=frames,
        fps=fps, onset=onset, apex=apex, offset=offset, label=label, aus=action_units(get("aus")),
        apex_estimated=apex_estimated, source=where, notes=label_notes + tuple(notes),
        issues=tuple(issues), extra={n: get(n) for n in extras},
    )


def write_manifest(samples: Sequence[Sample], path: str | os.PathLike) -> Path:
    """Write samples as a manifest CSV; clip paths are stored relative to the CSV's folder when they are below it.

    `read_manifest(write_manifest(samples, p))` gives the same samples back (ids, paths, indices, labels).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    base = path.resolve().parent
    extras: list[str] = []
    for s in samples:
        extras.extend(k for k in s.extra if k not in extras and k not in MANIFEST_COLUMNS)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(list(MANIFEST_COLUMNS) + extras)
        for s in samples:
            clip_path = Path(s.path).resolve()
            try:
                shown = clip_path.relative_to(base).as_posix()
            except ValueError:
                shown = str(clip_path)
            subject = s.subject[len(s.dataset) + 1 :] if s.subject.startswith(s.dataset + "/") else s.subject
            cell = lambda v: "" if v is None else str(v)  # noqa: E731
            apex = None if s.apex_estimated else s.apex
            writer.writerow([s.dataset, subject, s.clip, shown, cell(s.fps), cell(s.onset), cell(apex),
                             cell(s.offset), s.label, s.aus] + [s.extra.get(k, "") for k in extras])
    return path

