"""The one sample schema every dataset reader returns (`Sample`), its error type, and its validation.

`Sample` fixes the conventions all readers share: subjects namespaced by dataset, frames in natural order,
onset/apex/offset as 0-based indices into those frames.  `validate` checks a list of samples against them
(and against a label map) and reports every problem with the annotation row at fault; `summarize` gives a
few human lines about a list of samples.
"""
from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from ..video import DEFAULT_FOLDER_FPS, ClipLimits, iter_video_frames, read_frames

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


def frame_number(name: str | os.PathLike) -> int | None:
    """The frame number in a frame file name: the last run of digits of its stem (`reg_img46.jpg` -> 46)."""
    digits = re.findall(r"\d+", Path(name).stem)
    return int(digits[-1]) if digits else None


def count_video_frames(path: str | os.PathLike) -> int:
    """Frame count a video container declares (cheap, no decoding); 0 when it cannot be opened."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        return int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0) if cap.isOpened() else 0
    finally:
        cap.release()


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


class LabelLookup(Protocol):
    """What `validate` and `summarize` use of a label map (`labels.LabelMap`, which builds on this module)."""

    name: str
    classes: tuple[str, ...]
    expected: int | None

    def lookup(self, sample: Sample) -> tuple[str, str | None]: ...


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


def validate(samples: Sequence[Sample], label_map: LabelLookup | None = None, *, check_files: bool = True) -> list[Problem]:
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


def summarize(samples: Sequence[Sample], label_map: LabelLookup | None = None) -> str:
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
