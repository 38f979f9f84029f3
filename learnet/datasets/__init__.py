"""Micro-expression datasets: one `Sample` schema, readers for each release, named label maps, `validate`.

Every reader returns `Sample`s with the same fields, whatever the release wrote:

- `subject` is namespaced by dataset (`casme2/sub01`, `samm/006`, `smic/s1`), so subjects of a composite never
  merge into one LOSO fold;
- `frames` lists the frame files in natural order (img2 < img10 < img100) and `onset`, `apex`, `offset` are
  0-based indices into that list, however the release numbers its frames (CASME II counts from the first
  recorded frame, SAMM and SMIC use absolute numbers in the recording);
- a missing apex becomes the middle of onset..offset and the sample says so (`apex_estimated`, `notes`).

Readers never raise on a bad annotation row: the row is kept with its problem in `issues`, and `validate`
reports every problem with the row at fault, so one pass over a dataset shows everything that needs fixing.

Sample counts of the named label maps (on the complete datasets):

=================  =====  ===============================================================================
map                count  classes
=================  =====  ===============================================================================
``casme2_5c``        246  happiness, surprise, disgust, repression, others (fear, sadness dropped)
``casme2_3c_all``    147  negative, positive, surprise (MEGC mapping, *without* the 3 official exclusions)
``megc2019_3c``      442  negative, positive, surprise on CASME II (145) + SAMM (133) + SMIC-HS (164)
``samm_5c``          136  anger, contempt, happiness, surprise, other
``samm_3c``          133  negative, positive, surprise
``smic_3c``          164  negative, positive, surprise
``casme_sq_4c``       57  negative, positive, surprise, others (CAS(ME)^2 micro-expressions)
=================  =====  ===============================================================================

Annotation spreadsheets are read with openpyxl (pure Python, read-only streaming mode, no pandas needed).
"""
from __future__ import annotations

import csv
import json
import math
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..video import (
    DEFAULT_FOLDER_FPS, VIDEO_SUFFIXES, ClipLimits, iter_video_frames, list_frame_files, natural_key, read_frames,
)

DATASET_FPS: dict[str, float] = {"casme2": 200.0, "samm": 200.0, "smic": 100.0, "casme_sq": 30.0}
MANIFEST_COLUMNS: tuple[str, ...] = ("dataset", "subject", "clip", "path", "fps", "onset", "apex", "offset", "label", "aus")
_REQUIRED_MANIFEST_COLUMNS = ("dataset", "subject", "clip", "path", "label")
# Spelling slips in the releases' annotation files, fixed on reading (and noted on the sample).
LABEL_SPELLING: dict[str, str] = {"happyiness": "happiness"}


class DatasetError(ValueError):
    """A dataset or manifest cannot be read at all; the message says which file and what to do."""


@dataclass(frozen=True)
class Sample:
    """One annotated micro-expression clip, in the same form for every dataset.

    Attributes:
        dataset: short dataset id (`casme2`, `samm`, `smic`, `casme_sq`, or a manifest's own).
        subject: namespaced subject id, `<dataset>/<subject>`; LOSO folds are built from it.
        clip: the clip's name within its subject (`EP02_01f`, `006_1_2`, `s1_ne_01`).
        path: absolute path of the clip: a folder of frames or a video file.
        frames: frame files in natural order; empty when `path` is a video.
        fps: frame rate of the recording (None when unknown).
        onset, apex, offset: 0-based indices into the clip's frames (None: unknown / clip end).
        label: the dataset's own emotion label (spelling slips fixed); `target` holds the class a label map
            gives it.
        aus: action units joined by `+`.
        apex_estimated: the annotation had no apex; `apex` is the middle of onset..offset.
        source: where the annotation came from (file and row), for error messages.
        notes: facts worth telling the user (estimated apex or offset, fixed spelling).
        issues: problems found while reading; `validate` reports them.
        extra: further annotation columns (e.g. the manifest's `mask`, SAMM's objective class).
        target: class name under a label map (`LabelMap.apply`), None before.
    """

    dataset: str
    subject: str
    clip: str
    path: str
    frames: tuple[str, ...]
    fps: float | None
    onset: int | None
    apex: int | None
    offset: int | None
    label: str
    aus: str = ""
    apex_estimated: bool = False
    source: str = ""
    notes: tuple[str, ...] = ()
    issues: tuple[str, ...] = ()
    extra: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)
    target: str | None = None

    @property
    def id(self) -> str:
        """Unique id `<dataset>/<subject>/<clip>`, e.g. `casme2/sub01/EP02_01f`."""
        return f"{self.subject}/{self.clip}"

    @property
    def is_video(self) -> bool:
        return not self.frames

    def read_window(self, limits: ClipLimits | None = None) -> tuple[np.ndarray, int, int | None, int]:
        """Decode only the annotated frames onset..offset.

        Returns (frames (T, H, W, 3) RGB uint8, onset, apex, offset) with the indices shifted into the
        returned frames (so onset is 0).  Reading the window only keeps long recordings (CAS(ME)^2) cheap.

        Raises:
            DatasetError: the window is not inside the clip.
            learnet.video.ClipError: a frame or video cannot be decoded.
        """
        if self.frames:
            n = len(self.frames)
        else:
            n = None
        onset = 0 if self.onset is None else self.onset
        offset = self.offset
        if offset is None:
            if n is None:
                n = count_video_frames(self.path)
            offset = n - 1
        if not 0 <= onset < offset or (n is not None and offset >= n):
            raise DatasetError(
                f"{self.id}: the window onset={onset}..offset={offset} is not inside the clip "
                f"({'?' if n is None else n} frames); run validate() on the dataset"
            )
        fps = self.fps or DEFAULT_FOLDER_FPS
        if self.frames:
            clip = read_frames(list(self.frames[onset : offset + 1]), fps=fps, limits=limits, source=self.id)
            frames = clip.frames
        else:
            limits = limits or ClipLimits()
            # The limit guards against decoding too much; here only offset + 1 frames are ever decoded.
            limits = ClipLimits(max(limits.max_frames, offset + 1), limits.max_long_side, limits.max_file_bytes)
            kept = []
            for i, frame in enumerate(iter_video_frames(self.path, limits)):
                if i >= onset:
                    kept.append(frame)
                if i == offset:
                    break
            if len(kept) < offset - onset + 1:
                raise DatasetError(f"{self.id}: the video {self.path} ends before the annotated offset {offset}")
            frames = np.stack(kept)
        apex = None if self.apex is None else self.apex - onset
        return frames, 0, apex, offset - onset


# --------------------------------------------------------------------------------------------------------
# Small helpers shared by the readers


def frame_number(name: str | os.PathLike) -> int | None:
    """The frame number in a frame file name: the last run of digits of its stem (`reg_img46.jpg` -> 46)."""
    digits = re.findall(r"\d+", Path(name).stem)
    return int(digits[-1]) if digits else None


def _cell_int(value) -> int | None:
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


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value == int(value):
        value = int(value)
    return str(value).strip()


def _norm_header(name) -> str:
    return re.sub(r"[^a-z0-9]", "", _cell_text(name).lower())


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


def _find_header(rows: list[list], required: Sequence[str], where: str) -> tuple[int, dict[str, int]]:
    """Index of the first row holding all `required` column names (normalised), and name -> column."""
    want = [_norm_header(r) for r in required]
    for i, row in enumerate(rows):
        names = {_norm_header(c): j for j, c in reversed(list(enumerate(row))) if _cell_text(c)}
        if all(w in names for w in want):
            return i, names
    raise DatasetError(f"{where}: no header row with the columns {', '.join(required)} was found")


def _find_file(folders: Iterable[Path], patterns: Sequence[str], what: str) -> Path:
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


def _subdirs(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: natural_key(p.name))


def _fix_label(label: str) -> tuple[str, tuple[str, ...]]:
    fixed = LABEL_SPELLING.get(label.lower())
    if fixed:
        return fixed, (f"label {label!r} read as {fixed!r}",)
    return label, ()


def _index_frames(
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


def _folder_sample(
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
    label, label_notes = _fix_label(label)
    issues: list[str] = []
    frames: tuple[str, ...] = ()
    if not folder.is_dir():
        issues.append(f"the clip folder {folder} does not exist")
    else:
        frames = tuple(str(p) for p in list_frame_files(folder))
        if not frames:
            issues.append(f"the clip folder {folder} holds no image frames")
    idx, notes, more, apex_estimated = _index_frames(frames, numbers, missing_offset=missing_offset)
    if frames:
        issues.extend(more)
    return Sample(
        dataset=dataset, subject=f"{dataset}/{subject}", clip=clip, path=str(folder), frames=frames,
        fps=DATASET_FPS.get(dataset), onset=idx["onset"], apex=idx["apex"], offset=idx["offset"], label=label,
        aus=aus, apex_estimated=apex_estimated, source=source, notes=tuple(label_notes) + tuple(notes),
        issues=tuple(issues), extra=dict(extra or {}),
    )


def _aus(value) -> str:
    """Action units as `1+2+R4`: the releases separate them with +, commas or spaces."""
    text = _cell_text(value)
    parts = [p for p in re.split(r"[+,;\s]+", text) if p and p not in ("/", "-")]
    return "+".join(parts)


# --------------------------------------------------------------------------------------------------------
# CASME II


def _is_subject_root(folder: Path, pattern: str) -> bool:
    return folder.is_dir() and any(re.fullmatch(pattern, p.name, re.I) for p in _subdirs(folder))


def casme2_frames_root(root: str | os.PathLike) -> Path:
    """The folder holding `subXX` folders: `root` itself, or its one `CASME2_RAW_selected`/`Cropped` child."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"the CASME II folder {root} does not exist")
    if _is_subject_root(root, r"sub\d+"):
        return root
    candidates = [p for p in _subdirs(root) if _is_subject_root(p, r"sub\d+")]
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
        annotation = _find_file(
            [root, frames_root, root.parent, root.parent.parent], ["CASME2-coding*.xlsx", "CASME2-coding*.csv"],
            "CASME II coding file",
        )
    annotation = Path(annotation)
    rows = read_table(annotation)
    h, cols = _find_header(rows, ["Subject", "Filename", "OnsetFrame", "OffsetFrame"], annotation.name)
    emotion = cols.get("estimatedemotion", cols.get("emotion"))
    if emotion is None:
        raise DatasetError(f"{annotation.name}: no 'Estimated Emotion' column")
    samples = []
    for r, row in enumerate(rows[h + 1 :], start=h + 2):  # spreadsheet row numbers are 1-based
        cells = list(row) + [None] * (len(rows[h]) - len(row))
        subject_cell, clip = cells[cols["subject"]], _cell_text(cells[cols["filename"]])
        if subject_cell is None and not clip:
            continue
        number = _cell_int(subject_cell)
        subject = f"sub{number:02d}" if number is not None else _cell_text(subject_cell)
        numbers = {k: _cell_int(cells[cols[c]]) if c in cols else None
                   for k, c in (("onset", "onsetframe"), ("apex", "apexframe"), ("offset", "offsetframe"))}
        aus = _aus(cells[cols["actionunits"]]) if "actionunits" in cols else ""
        samples.append(_folder_sample(
            "casme2", subject, clip, frames_root / subject / clip, numbers, _cell_text(cells[emotion]), aus,
            f"{annotation.name} row {r}",
        ))
    return samples


# --------------------------------------------------------------------------------------------------------
# SAMM


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
        annotation = _find_file([root, root.parent], ["SAMM*.xlsx", "SAMM*.csv"], "SAMM coding file")
    annotation = Path(annotation)
    rows = read_table(annotation)
    h, cols = _find_header(rows, ["Subject", "Filename", "Onset Frame", "Offset Frame"], annotation.name)
    emotion = cols.get("estimatedemotion")
    if emotion is None:
        raise DatasetError(f"{annotation.name}: no 'Estimated Emotion' column")
    samples = []
    for r, row in enumerate(rows[h + 1 :], start=h + 2):
        cells = list(row) + [None] * (len(rows[h]) - len(row))
        subject_cell, clip = cells[cols["subject"]], _cell_text(cells[cols["filename"]])
        if subject_cell is None and not clip:
            continue
        number = _cell_int(subject_cell)
        subject = f"{number:03d}" if number is not None else _cell_text(subject_cell)
        numbers = {}
        for key, col in (("onset", "onsetframe"), ("apex", "apexframe"), ("offset", "offsetframe")):
            n = _cell_int(cells[cols[col]]) if col in cols else None
            numbers[key] = n if n is not None and n > 0 else None  # SAMM codes "not coded" as -1 or 0
        extra = {"objective_class": _cell_text(cells[cols["objectiveclasses"]])} if "objectiveclasses" in cols else {}
        samples.append(_folder_sample(
            "samm", subject, clip, root / subject / clip, numbers, _cell_text(cells[emotion]),
            _aus(cells[cols["actionunits"]]) if "actionunits" in cols else "", f"{annotation.name} row {r}",
            missing_offset="last", extra=extra,
        ))
    return samples


# --------------------------------------------------------------------------------------------------------
# SMIC-HS


def read_smic(root: str | os.PathLike, modality: str = "HS") -> list[Sample]:
    """SMIC: `HS/sNN/micro/<negative|positive|surprise>/<clip>/` frames; the label is the folder name.

    SMIC clips are cut at onset..offset and carry no apex: onset is the first frame, offset the last and apex
    the middle (`apex_estimated`).  `root` is the SMIC folder or its `HS` (or `VIS`, `NIR`) folder.
    164 samples in SMIC-HS (`smic_3c`).
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"the SMIC folder {root} does not exist")
    if not _is_subject_root(root, r"s\d+") and (root / modality).is_dir():
        root = root / modality
    if not _is_subject_root(root, r"s\d+"):
        raise DatasetError(f"{root} holds no sNN subject folders (expected SMIC's {modality}/s1/micro/...)")
    fps = 100.0 if modality.upper() == "HS" else 25.0
    samples = []
    for subject_dir in _subdirs(root):
        if not re.fullmatch(r"s\d+", subject_dir.name, re.I):
            continue
        micro = subject_dir / "micro"
        if not micro.is_dir():
            continue
        for label_dir in _subdirs(micro):
            for clip_dir in _subdirs(label_dir):
                frames = tuple(str(p) for p in list_frame_files(clip_dir))
                n = len(frames)
                issues = () if n >= 2 else (f"the clip folder {clip_dir} holds {n} frames (needs 2 or more)",)
                samples.append(Sample(
                    dataset="smic", subject=f"smic/{subject_dir.name}", clip=clip_dir.name, path=str(clip_dir),
                    frames=frames, fps=fps, onset=0 if n >= 2 else None, apex=(n - 1) // 2 if n >= 2 else None,
                    offset=n - 1 if n >= 2 else None, label=label_dir.name, apex_estimated=True,
                    source=f"folder {clip_dir.relative_to(root)}",
                    notes=("SMIC has no apex annotation; using the middle frame",), issues=issues,
                ))
    return samples


# --------------------------------------------------------------------------------------------------------
# CAS(ME)^2


def _casme_sq_naming(annotation: Path) -> tuple[dict[str, str], dict[int, str]]:
    """The naming-rule sheets of `code_final.xlsx`: video name -> 4-digit code, participant -> folder number."""
    codes: dict[str, str] = {}
    subjects: dict[int, str] = {}
    for name in sheet_names(annotation)[1:]:
        for row in read_table(annotation, name):
            cells = [_cell_text(c) for c in row if _cell_text(c)]
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
        annotation = _find_file([root, root.parent], ["*code_final*.xlsx", "*code_final*.csv"], "CAS(ME)^2 code_final file")
    annotation = Path(annotation)
    rows = read_table(annotation)
    codes, subject_folders = _casme_sq_naming(annotation)
    samples = []
    for r, row in enumerate(rows, start=1):
        cells = list(row) + [None] * max(0, 8 - len(row))
        number = _cell_int(cells[0])
        if number is None:  # a header row some copies add, or a blank line
            continue
        kind = _cell_text(cells[7]).lower()
        if not include_macro and "micro" not in kind:
            continue
        video = _cell_text(cells[1])
        folder_number = subject_folders.get(number, f"{number:02d}")
        subject_dir = next((d for d in (frames_root / f"s{folder_number}", frames_root / f"s{number}") if d.is_dir()),
                           frames_root / f"s{folder_number}")
        clip_dir = subject_dir / video
        if not clip_dir.is_dir() and subject_dir.is_dir():
            code = codes.get(video.rsplit("_", 1)[0].lower())
            matches = [d for d in _subdirs(subject_dir)
                       if (code and re.match(rf"\d+_{code}", d.name)) or d.name.lower().endswith(video.lower())]
            if len(matches) == 1:
                clip_dir = matches[0]
        numbers = {}
        for key, col in (("onset", 2), ("apex", 3), ("offset", 4)):
            n = _cell_int(cells[col])
            numbers[key] = n if n is not None and n > 0 else None  # 0 = not coded
        samples.append(_folder_sample(
            "casme_sq", subject_dir.name, f"{clip_dir.name}@{numbers['onset']}", clip_dir, numbers,
            _cell_text(cells[6]), _aus(cells[5]), f"{annotation.name} row {r}", missing_offset="mirror",
            extra={"video": video, "type": kind},
        ))
    return samples


# --------------------------------------------------------------------------------------------------------
# MEGC2019 composite


def read_megc2019(casme2: str | os.PathLike, samm: str | os.PathLike, smic: str | os.PathLike) -> list[Sample]:
    """The MEGC2019 composite: CASME II + SAMM + SMIC-HS, subjects namespaced per dataset (68 subjects).

    Apply `LABEL_MAPS["megc2019_3c"]` to get the official 442 samples (it holds the three official
    exclusions).
    """
    return read_casme2(casme2) + read_samm(samm) + read_smic(smic)


# --------------------------------------------------------------------------------------------------------
# Manifest CSV (the project's own format)


def _manifest_index(value: str, column: str, where: str) -> int | None:
    text = value.strip()
    if not text:
        return None
    n = _cell_int(text)
    if n is None:
        raise DatasetError(f"{where}: {column} must be a whole frame index (0-based) or empty, got {text!r}")
    return n


def count_video_frames(path: str | os.PathLike) -> int:
    """Frame count a video container declares (cheap, no decoding); 0 when it cannot be opened."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        return int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0) if cap.isOpened() else 0
    finally:
        cap.release()


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
    samples = []
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            raise DatasetError(f"the manifest {path} is empty (it needs a header row: {','.join(MANIFEST_COLUMNS)})")
        names = [h.strip().lower() for h in header]
        missing = [c for c in _REQUIRED_MANIFEST_COLUMNS if c not in names]
        if missing:
            raise DatasetError(
                f"the manifest {path.name} lacks the column(s) {', '.join(missing)}; its header must be "
                f"{','.join(MANIFEST_COLUMNS)}"
            )
        col = {n: i for i, n in reversed(list(enumerate(names)))}
        extras = [n for n in names if n not in MANIFEST_COLUMNS and n]
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            where = f"{path} line {reader.line_num}"  # the path as given: several manifests may share a name
            cells = row + [""] * (len(names) - len(row))
            get = lambda c: cells[col[c]].strip() if c in col else ""  # noqa: E731
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
            label, label_notes = _fix_label(get("label"))
            samples.append(Sample(
                dataset=dataset, subject=f"{dataset}/{subject}", clip=clip, path=str(clip_path), frames=frames,
                fps=fps, onset=onset, apex=apex, offset=offset, label=label, aus=_aus(get("aus")),
                apex_estimated=apex_estimated, source=where, notes=label_notes + tuple(notes),
                issues=tuple(issues), extra={n: get(n) for n in extras},
            ))
    return samples


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


# --------------------------------------------------------------------------------------------------------
# Label maps


@dataclass(frozen=True)
class LabelMap:
    """A named mapping from each dataset's own labels onto the classes a model is trained on.

    `rules[dataset][label]` is a class name, or None for a label the protocol leaves out on purpose (e.g.
    CASME II "others" in MEGC2019).  `rules["*"]` applies to any dataset (manifests); labels are compared
    in lower case.  `exclude` lists sample ids a protocol drops by name.  `expected` is the sample count on
    the complete datasets.
    """

    name: str
    classes: tuple[str, ...]
    rules: Mapping[str, Mapping[str, str | None]]
    exclude: frozenset[str] = frozenset()
    expected: int | None = None
    description: str = ""

    def lookup(self, sample: Sample) -> tuple[str, str | None]:
        """("class", name), ("excluded", None) or ("unknown", None) for one sample."""
        if sample.id in self.exclude:
            return "excluded", None
        label = sample.label.strip().lower()
        for key in (sample.dataset, "*"):
            table = self.rules.get(key)
            if table is not None and label in table:
                target = table[label]
                return ("class", target) if target is not None else ("excluded", None)
        return "unknown", None

    def apply(self, samples: Iterable[Sample]) -> list[Sample]:
        """The samples this map keeps, with `target` set; excluded labels and ids are dropped.

        Raises:
            DatasetError: a label the map does not know (run `validate` to see every row at fault).
        """
        kept, unknown = [], Counter()
        for s in samples:
            status, target = self.lookup(s)
            if status == "class":
                kept.append(replace(s, target=target))
            elif status == "unknown":
                unknown[(s.dataset, s.label)] += 1
        if unknown:
            listed = ", ".join(f"{d}:{lab!r} ({n})" for (d, lab), n in sorted(unknown.items()))
            raise DatasetError(f"label map {self.name} does not know the label(s) {listed}")
        return kept

    def to_dict(self) -> dict:
        """JSON-able form (for run configs and model cards)."""
        return {
            "name": self.name, "classes": list(self.classes),
            "rules": {d: dict(t) for d, t in self.rules.items()}, "exclude": sorted(self.exclude),
            "expected": self.expected, "description": self.description,
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> LabelMap:
        """Inverse of `to_dict`; also reads the short file form `{"classes": [...], "map": {label: class}}`."""
        classes = data.get("classes")
        if not classes:
            raise DatasetError("a label map needs a non-empty 'classes' list")
        rules = data.get("rules") or {"*": data.get("map") or {c: c for c in classes}}
        rules = {d: {str(k).lower(): v for k, v in t.items()} for d, t in rules.items()}
        for d, t in rules.items():
            bad = sorted({v for v in t.values() if v is not None and v not in classes})
            if bad:
                raise DatasetError(f"label map {data.get('name', '?')}: {', '.join(bad)} not among its classes")
        return cls(str(data.get("name", "custom")), tuple(classes), rules, frozenset(data.get("exclude", ())),
                   data.get("expected"), str(data.get("description", "")))


def identity_label_map(samples: Iterable[Sample], name: str = "identity") -> LabelMap:
    """Every label is its own class; classes sorted by name (so the order does not depend on the data order)."""
    labels = sorted({s.label.strip().lower() for s in samples})
    if not labels:
        raise DatasetError("no samples, so no classes")
    return LabelMap(name, tuple(labels), {"*": {lab: lab for lab in labels}},
                    description="each label is its own class")


def _with_identity(rules: dict[str, dict[str, str | None]], classes: Sequence[str]) -> dict:
    # Manifests that already use the class names (e.g. learnet.synth) map onto themselves.
    return {**rules, "*": {c: c for c in classes}}


_MEGC_CASME2 = {"happiness": "positive", "disgust": "negative", "repression": "negative", "surprise": "surprise",
                "others": None, "fear": None, "sadness": None}
_MEGC_SAMM = {"anger": "negative", "contempt": "negative", "disgust": "negative", "fear": "negative",
              "sadness": "negative", "happiness": "positive", "surprise": "surprise", "other": None}
_MEGC_SMIC = {"negative": "negative", "positive": "positive", "surprise": "surprise"}
_3C = ("negative", "positive", "surprise")
MEGC2019_EXCLUDED: frozenset[str] = frozenset({"casme2/sub04/EP12_01f", "casme2/sub05/EP12_03f", "casme2/sub24/EP02_07"})

LABEL_MAPS: dict[str, LabelMap] = {
    m.name: m
    for m in (
        LabelMap(
            "casme2_5c", ("happiness", "surprise", "disgust", "repression", "others"),
            _with_identity({"casme2": {"happiness": "happiness", "surprise": "surprise", "disgust": "disgust",
                                       "repression": "repression", "others": "others", "fear": None,
                                       "sadness": None}},
                           ("happiness", "surprise", "disgust", "repression", "others")),
            expected=246,
            description="CASME II 5 classes, 246 samples: happiness 32, surprise 25, disgust 63, repression 27, "
                        "others 99; fear and sadness dropped",
        ),
        LabelMap(
            "casme2_3c_all", _3C, _with_identity({"casme2": _MEGC_CASME2}, _3C), expected=147,
            description="CASME II in the MEGC2019 classes, all 147 samples (the official list drops 3: 145)",
        ),
        LabelMap(
            "megc2019_3c", _3C, _with_identity({"casme2": _MEGC_CASME2, "samm": _MEGC_SAMM, "smic": _MEGC_SMIC}, _3C),
            exclude=MEGC2019_EXCLUDED, expected=442,
            description="MEGC2019 composite, 442 samples (CASME II 145, SAMM 133, SMIC-HS 164): negative 250, "
                        "positive 109, surprise 83",
        ),
        LabelMap(
            "samm_5c", ("anger", "contempt", "happiness", "surprise", "other"),
            _with_identity({"samm": {"anger": "anger", "contempt": "contempt", "happiness": "happiness",
                                     "surprise": "surprise", "other": "other", "disgust": None, "fear": None,
                                     "sadness": None}},
                           ("anger", "contempt", "happiness", "surprise", "other")),
            expected=136,
            description="SAMM 5 classes, 136 samples: anger 57, contempt 12, happiness 26, surprise 15, other 26",
        ),
        LabelMap(
            "samm_3c", _3C, _with_identity({"samm": _MEGC_SAMM}, _3C), expected=133,
            description="SAMM in the MEGC2019 classes, 133 samples: negative 92, positive 26, surprise 15",
        ),
        LabelMap(
            "smic_3c", _3C, _with_identity({"smic": _MEGC_SMIC}, _3C), expected=164,
            description="SMIC-HS, 164 samples: negative 70, positive 51, surprise 43",
        ),
        LabelMap(
            "casme_sq_4c", ("negative", "positive", "surprise", "others"),
            _with_identity({"casme_sq": {
                "negative": "negative", "disgust": "negative", "anger": "negative", "sadness": "negative",
                "fear": "negative", "contempt": "negative", "positive": "positive", "happiness": "positive",
                "surprise": "surprise", "others": "others", "other": "others"}},
                ("negative", "positive", "surprise", "others")),
            expected=57,
            description="CAS(ME)^2 micro-expressions, 57 samples: negative, positive, surprise, others",
        ),
    )
}

# The map a dataset gets when none is named (`--label-map auto`).
DEFAULT_LABEL_MAPS: dict[frozenset[str], str] = {
    frozenset({"casme2"}): "casme2_5c",
    frozenset({"samm"}): "samm_5c",
    frozenset({"smic"}): "smic_3c",
    frozenset({"casme_sq"}): "casme_sq_4c",
    frozenset({"casme2", "samm", "smic"}): "megc2019_3c",
}


def get_label_map(spec: str | os.PathLike | LabelMap, samples: Sequence[Sample] = ()) -> LabelMap:
    """A label map by name (`LABEL_MAPS`), from a JSON file, `identity`, or `auto`.

    `auto` picks the conventional map of the datasets present (CASME II alone -> `casme2_5c`, the three
    MEGC2019 sets -> `megc2019_3c`, ...), else `identity`.
    """
    if isinstance(spec, LabelMap):
        return spec
    spec = str(spec)
    if spec in LABEL_MAPS:
        return LABEL_MAPS[spec]
    if spec == "identity":
        return identity_label_map(samples)
    if spec == "auto":
        name = DEFAULT_LABEL_MAPS.get(frozenset(s.dataset for s in samples))
        return LABEL_MAPS[name] if name else identity_label_map(samples)
    path = Path(spec)
    if path.suffix.lower() == ".json":
        if not path.is_file():
            raise DatasetError(f"the label map file {path} does not exist")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise DatasetError(f"the label map file {path} is not valid JSON: {exc}") from exc
        return LabelMap.from_dict({"name": path.stem, **data})
    raise DatasetError(
        f"unknown label map {spec!r}; choose one of {', '.join(LABEL_MAPS)}, identity, auto, or a .json file"
    )


# --------------------------------------------------------------------------------------------------------
# Validation and summaries


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a sample, and where it came from (annotation file and row)."""

    sample: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.sample}: {self.message}"


def _frame_gaps(frames: Sequence[str]) -> str | None:
    numbers = [frame_number(f) for f in frames]
    if not frames or any(n is None for n in numbers):
        return None
    gaps = [(a, b) for a, b in zip(numbers, numbers[1:]) if b - a > 1]
    if not gaps:
        return None
    missing = sum(b - a - 1 for a, b in gaps)
    shown = ", ".join(f"{a + 1}" if b - a == 2 else f"{a + 1}-{b - 1}" for a, b in gaps[:3])
    return f"{missing} frame(s) missing from the numbering ({shown}{', ...' if len(gaps) > 3 else ''})"


def validate(samples: Sequence[Sample], label_map: LabelMap | None = None, *, check_files: bool = True) -> list[Problem]:
    """Everything wrong with a list of samples, each problem with the annotation row at fault.

    Checks: problems the reader found (missing folders, annotated frames absent), gaps in frame numbering,
    missing files, onset/apex/offset outside the clip or out of order, duplicate ids, labels the label map
    does not know.  `check_files=False` skips the checks that touch the disk (frame files, video lengths).
    An empty list means the samples are ready for training.
    """
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for s in samples:
        add = lambda msg, s=s: problems.append(Problem(s.id, s.source or s.path, msg))  # noqa: E731
        for issue in s.issues:
            add(issue)
        if s.id in seen:
            add(f"duplicate sample id (also at {seen[s.id]})")
        seen.setdefault(s.id, s.source)
        if label_map is not None and label_map.lookup(s)[0] == "unknown":
            add(f"label {s.label!r} is not in label map {label_map.name} ({', '.join(label_map.classes)})")
        if s.issues:
            continue  # the window checks below would repeat what the reader already said
        n: int | None = len(s.frames) if s.frames else None
        if check_files:
            if s.frames:
                absent = [f for f in s.frames if not os.path.isfile(f)]
                if absent:
                    add(f"{len(absent)} frame file(s) missing, e.g. {Path(absent[0]).name}")
                gaps = _frame_gaps(s.frames)
                if gaps:
                    add(gaps)
            elif os.path.isfile(s.path):
                n = count_video_frames(s.path) or None
                if n is None:
                    add(f"the video {Path(s.path).name} cannot be opened")
        onset = 0 if s.onset is None else s.onset
        offset = (n - 1 if n else None) if s.offset is None else s.offset
        if onset < 0:
            add(f"onset {onset} is negative")
        if offset is not None:
            if n is not None and offset >= n:
                add(f"offset {offset} lies outside the clip ({n} frames, last index {n - 1})")
            if onset >= offset:
                add(f"onset {onset} is not before offset {offset}")
            elif s.apex is not None and not onset <= s.apex <= offset:
                add(f"apex {s.apex} lies outside onset..offset ({onset}..{offset})")
        if s.fps is not None and not s.fps > 0:
            add(f"fps must be positive, got {s.fps}")
    return problems


def summarize(samples: Sequence[Sample], label_map: LabelMap | None = None) -> str:
    """A few human lines: samples per dataset and class, subjects, estimated apexes, expected count."""
    lines = [f"{len(samples)} samples, {len({s.subject for s in samples})} subjects"]
    by_dataset = Counter(s.dataset for s in samples)
    lines.append("datasets: " + ", ".join(f"{d} {n}" for d, n in sorted(by_dataset.items())))
    key = (lambda s: s.target) if label_map is not None else (lambda s: s.label)
    counts = Counter(key(s) for s in samples)
    order = list(label_map.classes) if label_map is not None else sorted(counts)
    lines.append("classes: " + ", ".join(f"{c} {counts.get(c, 0)}" for c in order))
    estimated = sum(s.apex_estimated for s in samples)
    if estimated:
        lines.append(f"apex not annotated for {estimated} samples: the middle frame is used")
    if label_map is not None and label_map.expected is not None and label_map.expected != len(samples):
        lines.append(f"note: label map {label_map.name} gives {label_map.expected} samples on the complete "
                     f"datasets; {len(samples)} here")
    return "\n".join(lines)
