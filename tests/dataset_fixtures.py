"""Generators of small, FICTITIOUS datasets in the real releases' layouts (no real frames, made-up rows).

Each generator writes tiny frames (16x16, a few per clip) and an annotation file in the release's format,
including its known quirks, and returns the root folder.  The row tables below are the single source of the
golden counts the tests assert; the comments give the counts by hand.
"""
from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import openpyxl

SIDE = 16


def _frame(seed: int, gray: bool = False) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = (SIDE, SIDE) if gray else (SIDE, SIDE, 3)
    return rng.integers(0, 256, shape, dtype=np.uint8)


def write_frames(folder: Path, names: list[str], *, gray: bool = False, seed: int = 0) -> None:
    """Tiny random frames named `names` in `folder` (created)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        cv2.imwrite(str(folder / name), _frame(seed + i, gray))


def save_xlsx(path: Path, sheets: dict[str, list[list]]) -> Path:
    """A workbook with one sheet per entry (title -> rows), in that order."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


# ---------------------------------------------------------------------------------------------------------
# CASME II: 11 rows, 5 subjects.  Labels: happiness 1, surprise 1, disgust 3, repression 2, others 2,
# fear 1, sadness 1.  casme2_5c -> 9 (fear, sadness dropped); casme2_3c_all -> 7 (negative 5, positive 1,
# surprise 1); megc2019_3c -> 4 (the three official exclusions are all here: negative 2, positive 1,
# surprise 1).  Apex "/" in 2 rows.  EP04_02 has frames img95..img106, so natural order matters.
# (subject, clip, first frame, n frames, onset, apex, offset, AUs, emotion)
CASME2_ROWS = [
    (1, "EP02_01f", 1, 8, 2, 4, 7, "12", "happiness"),
    (1, "EP03_02", 10, 8, 11, "/", 16, "1+2", "surprise"),
    (1, "EP04_02", 95, 12, 96, 100, 105, "R4+L10", "disgust"),
    (1, "EP05_03", 1, 6, 1, 3, 5, "4", "fear"),
    (2, "EP01_11f", 20, 8, 20, 23, 27, "14", "repression"),
    (2, "EP02_02", 1, 8, 2, 5, 8, "", "others"),
    (2, "EP19_01", 1, 6, 2, 3, 6, "15", "sadness"),
    (4, "EP12_01f", 1, 8, 1, 4, 8, "9", "disgust"),
    (4, "EP13_02", 5, 8, 5, "/", 12, "17", "others"),
    (5, "EP12_03f", 1, 8, 1, 4, 8, "14", "repression"),
    (24, "EP02_07", 1, 8, 1, 4, 8, "4+9", "disgust"),
]


def make_casme2(root: Path, release: str = "raw") -> Path:
    """CASME II: `CASME2_RAW_selected/subXX/EPyy_zz/img{n}.jpg` (raw) or `Cropped/.../reg_img{n}.jpg`.

    The coding sheet has the release's unnamed columns and a trailing blank row; returns the release root.
    """
    folder, prefix = {"raw": ("CASME2_RAW_selected", "img"), "cropped": ("Cropped", "reg_img")}[release]
    root = Path(root)
    for k, (subject, clip, first, n, *_rest) in enumerate(CASME2_ROWS):
        names = [f"{prefix}{i}.jpg" for i in range(first, first + n)]
        write_frames(root / folder / f"sub{subject:02d}" / clip, names, seed=100 * k)
    header = ["Subject", "Filename", None, "OnsetFrame", "ApexFrame", "OffsetFrame", None, "Action Units",
              "Estimated Emotion"]
    rows = [header] + [[s, c, None, on, ap, off, None, aus, emo] for s, c, _f, _n, on, ap, off, aus, emo in CASME2_ROWS]
    rows.append([None] * len(header))
    save_xlsx(root / "CASME2-coding-20140508.xlsx", {"Sheet1": rows})
    return root


# ---------------------------------------------------------------------------------------------------------
# SAMM: 8 rows, 3 subjects (006, 007, 011).  samm_5c -> 5 (anger, contempt, happiness, surprise, other);
# samm_3c -> 7 (negative 5, positive 1, surprise 1).  Frames are grayscale and numbered absolutely
# (006_05560.jpg ...); 007_5_1 has offset -1 (not coded).
# (subject, clip, first frame, n frames, onset, apex, offset, AUs, emotion, objective class)
SAMM_ROWS = [
    (6, "006_1_2", 5560, 8, 5561, 5564, 5566, "4+7", "Anger", 4),
    (6, "006_1_3", 6120, 8, 6120, 6123, 6127, "12", "Happiness", 1),
    (6, "006_2_1", 800, 6, 801, 803, 805, "R2", "Other", 7),
    (7, "007_3_1", 1500, 8, 1500, 1503, 1506, "L14", "Contempt", 3),
    (7, "007_3_2", 1700, 8, 1701, 1702, 1707, "9", "Disgust", 5),
    (7, "007_5_1", 4000, 8, 4001, 4004, -1, "1+2", "Surprise", 6),
    (11, "011_2_1", 350, 8, 351, 354, 356, "1+4", "Fear", 5),
    (11, "011_3_1", 990, 8, 990, 992, 996, "15", "Sadness", 5),
]


def make_samm(root: Path) -> Path:
    """SAMM: `SAMM/006/006_1_2/006_05560.jpg` grayscale; the xlsx opens with a text preamble."""
    root = Path(root)
    for k, (subject, clip, first, n, *_rest) in enumerate(SAMM_ROWS):
        names = [f"{subject:03d}_{i:05d}.jpg" for i in range(first, first + n)]
        write_frames(root / f"{subject:03d}" / clip, names, gray=True, seed=1000 + 100 * k)
    preamble = [
        ["SAMM Micro-Movement Dataset: FACS codes (fictitious test copy)"],
        ["Coded by two FACS coders; frames are numbered from the start of each recording."],
        [],
    ]
    header = ["Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame", "Offset Frame", "Duration",
              "Type", "Action Units", "Notes", "Estimated Emotion", "Objective Classes"]
    rows = [[f"{s:03d}" if s < 10 else s, c, 1, on, ap, off, (off - on + 1) if off > 0 else -1, "Micro - 1/2",
             aus, "", emo, obj] for s, c, _f, _n, on, ap, off, aus, emo, obj in SAMM_ROWS]
    save_xlsx(root / "SAMM_Micro_FACS_Codes_v2.xlsx", {"xlsx_FACS": preamble + [header] + rows})
    return root


# ---------------------------------------------------------------------------------------------------------
# SMIC-HS: 6 clips, 3 subjects; negative 3, positive 2, surprise 1.  A non_micro folder must be ignored.
SMIC_CLIPS = [
    ("s1", "negative", "s1_ne_01", 8),
    ("s1", "positive", "s1_po_01", 7),
    ("s1", "surprise", "s1_sur_01", 9),
    ("s2", "negative", "s2_ne_01", 8),
    ("s2", "negative", "s2_ne_02", 6),
    ("s3", "positive", "s3_po_02", 8),
]


def make_smic(root: Path) -> Path:
    """SMIC: `SMIC/HS/sN/micro/<label>/<clip>/image{n}.bmp`; returns the SMIC folder."""
    root = Path(root)
    for k, (subject, label, clip, n) in enumerate(SMIC_CLIPS):
        names = [f"image{586299 + i}.bmp" for i in range(n)]
        write_frames(root / "HS" / subject / "micro" / label / clip, names, seed=2000 + 100 * k)
    write_frames(root / "HS" / "s2" / "non_micro" / "s2_ne_99", ["image1.bmp", "image2.bmp"], seed=1)
    return root


# ---------------------------------------------------------------------------------------------------------
# CAS(ME)^2: headerless code_final.xlsx, 5 rows of which 4 micro (negative 1, positive 1 via "happyiness",
# surprise 1, others 1), 2 participants mapped to folders s15, s16 by the naming-rule sheets.
# (participant, video, onset, apex, offset, AUs, emotion, type)
CASME_SQ_ROWS = [
    (1, "disgust1_1", 5, 8, 12, "4+7", "disgust", "micro-expression"),
    (1, "disgust1_2", 20, 24, 0, "12", "happyiness", "micro-expression"),
    (1, "disgust1_3", 2, 10, 30, "4", "disgust", "macro-expression"),
    (2, "anger1_1", 3, 6, 9, "1+2", "surprise", "micro-expression"),
    (2, "anger1_2", 10, 14, 18, "", "others", "micro-expression"),
]
CASME_SQ_FOLDERS = {1: ("s15", "15_0101disgustingteeth"), 2: ("s16", "16_0401girlcrashing")}


def make_casme_sq(root: Path) -> Path:
    """CAS(ME)^2: `rawpic/s15/15_0101disgustingteeth/img{n}.jpg` (40 frames), code_final.xlsx headerless."""
    root = Path(root)
    for k, (subject_dir, clip_dir) in CASME_SQ_FOLDERS.items():
        write_frames(root / "rawpic" / subject_dir / clip_dir, [f"img{i}.jpg" for i in range(1, 41)], seed=3000 + k)
    sheets = {
        "Sheet1": [list(r) for r in CASME_SQ_ROWS],
        "naming rule1": [["0101", "disgust1"], ["0401", "anger1"]],
        "naming rule2": [[1, 15], [2, 16]],
    }
    save_xlsx(root / "CAS(ME)^2code_final.xlsx", sheets)
    return root


# ---------------------------------------------------------------------------------------------------------
# Manifest datasets (the project's own format), with frames that move differently per class


def class_clip(label_index: int, n_frames: int, size: int, seed: int) -> np.ndarray:
    """(T, size, size, 3) uint8 frames: a bright square drifting in a class-specific direction on noise."""
    rng = np.random.default_rng(seed)
    base = rng.integers(60, 120, (size, size, 3)).astype(np.float32)
    angle = 2 * np.pi * label_index / 3
    frames = []
    for t in range(n_frames):
        f = base.copy()
        cx = size / 2 + np.cos(angle) * t * size / (3 * n_frames)
        cy = size / 2 + np.sin(angle) * t * size / (3 * n_frames)
        y0, x0 = int(cy) - size // 8, int(cx) - size // 8
        f[max(0, y0) : y0 + size // 4, max(0, x0) : x0 + size // 4] = 230
        frames.append(np.clip(f + rng.normal(0, 2, f.shape), 0, 255).astype(np.uint8))
    return np.stack(frames)


def make_manifest(
    root: Path,
    *,
    subjects: int = 4,
    per_subject: int = 3,
    n_frames: int = 8,
    size: int = 64,
    classes: tuple[str, ...] = ("negative", "positive", "surprise"),
    dataset: str = "synth",
    extra_column: bool = True,
) -> Path:
    """A manifest CSV with `subjects * per_subject` clips as PNG folders; labels cycle through `classes`.

    Onset 1, offset n_frames - 2, apex left empty in every third row (-> middle, estimated).  Returns the
    CSV path.
    """
    root = Path(root)
    rows = []
    k = 0
    for s in range(subjects):
        for j in range(per_subject):
            label_index = (s + j) % len(classes)
            clip = f"clip{j:02d}"
            folder = root / "clips" / f"p{s:02d}" / clip
            folder.mkdir(parents=True, exist_ok=True)
            for t, frame in enumerate(class_clip(label_index, n_frames, size, seed=k)):
                cv2.imwrite(str(folder / f"frame{t}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
            apex = "" if k % 3 == 2 else str(n_frames // 2)
            row = [dataset, f"p{s:02d}", clip, f"clips/p{s:02d}/{clip}", "30", "1", apex, str(n_frames - 2),
                   classes[label_index], "6+12"]
            if extra_column:
                row.append(f"masks/p{s:02d}_{clip}.png")
            rows.append(row)
            k += 1
    header = ["dataset", "subject", "clip", "path", "fps", "onset", "apex", "offset", "label", "aus"]
    if extra_column:
        header.append("mask")
    path = root / "manifest.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_drifting_clip(folder: Path, seed: int, n: int = 8, size: int = 112) -> Path:
    """A smooth random texture drifting by a sub-pixel step per frame, saved as `n` PNG frames of `size` px."""
    rng = np.random.default_rng(seed)
    base = cv2.resize(rng.random((14, 14, 3)).astype(np.float32), (size + 8, size + 8),
                      interpolation=cv2.INTER_CUBIC)
    folder.mkdir(parents=True)
    for t in range(n):
        shift = np.float32([[1, 0, -0.4 * t], [0, 1, -0.3 * t * (seed % 3)]])
        frame = cv2.warpAffine(base, shift, (size, size), borderMode=cv2.BORDER_REFLECT)
        cv2.imwrite(str(folder / f"img{t + 1}.png"), np.clip(frame * 255, 0, 255).astype(np.uint8))
    return folder
