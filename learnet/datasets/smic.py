"""SMIC reader: `HS/sNN/micro/<negative|positive|surprise>/<clip>/` frame folders; no annotation file (the
label is the folder name, the clips are cut at onset..offset, and there is no apex).
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from ..video import list_frame_files
from .rows import is_subject_root, read_rows, subdirs
from .schema import DatasetError, Sample


def read_smic(root: str | os.PathLike, modality: str = "HS") -> list[Sample]:
    """SMIC: `HS/sNN/micro/<negative|positive|surprise>/<clip>/` frames; the label is the folder name.

    SMIC clips are cut at onset..offset and carry no apex: onset is the first frame, offset the last and apex
    the middle (`apex_estimated`).  `root` is the SMIC folder or its `HS` (or `VIS`, `NIR`) folder.
    164 samples in SMIC-HS (`smic_3c`).
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"the SMIC folder {root} does not exist")
    if not is_subject_root(root, r"s\d+") and (root / modality).is_dir():
        root = root / modality
    if not is_subject_root(root, r"s\d+"):
        raise DatasetError(f"{root} holds no sNN subject folders (expected SMIC's {modality}/s1/micro/...)")
    fps = 100.0 if modality.upper() == "HS" else 25.0
    # Each clip folder is SMIC's "row": where it is, and (subject, label, clip) folders as its cells.
    return read_rows(_clip_folders(root), lambda where, cells: _smic_sample(*cells, fps, f"folder {where}"))


def _clip_folders(root: Path) -> Iterator[tuple[Path, tuple[Path, Path, Path]]]:
    for subject_dir in subdirs(root):
        if not re.fullmatch(r"s\d+", subject_dir.name, re.I):
            continue
        micro = subject_dir / "micro"
        if not micro.is_dir():
            continue
        for label_dir in subdirs(micro):
            for clip_dir in subdirs(label_dir):
                yield clip_dir.relative_to(root), (subject_dir, label_dir, clip_dir)


def _smic_sample(subject_dir: Path, label_dir: Path, clip_dir: Path, fps: float, source: str) -> Sample:
    frames = tuple(str(p) for p in list_frame_files(clip_dir))
    n = len(frames)
    issues = () if n >= 2 else (f"the clip folder {clip_dir} holds {n} frames (needs 2 or more)",)
    return Sample(
        dataset="smic", subject=f"smic/{subject_dir.name}", clip=clip_dir.name, path=str(clip_dir),
        frames=frames, fps=fps, onset=0 if n >= 2 else None, apex=(n - 1) // 2 if n >= 2 else None,
        offset=n - 1 if n >= 2 else None, label=label_dir.name, apex_estimated=True, source=source,
        notes=("SMIC has no apex annotation; using the middle frame",), issues=issues,
    )
