"""What the page keeps about a clip, results only (never its frames): the scan, the analyses with their
settings and prediction, and the attributions of an analysis with the files written for it."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from explain.bundle import ExplanationBundle
from learnet.face import FaceInfo
from learnet.motion import PhaseEstimate
from learnet.pipeline import Pipeline, Prediction
from learnet.video import Clip

# The face-alignment checkbox's two states as the face modes of `learnet.face` (the API's `align` flag).
FACE_MODES = {True: "auto", False: "none"}


@dataclass(frozen=True)
class Settings:
    """The user's choices for one analysis (model defaults filled in)."""

    auto_window: bool
    onset: int
    apex: int
    offset: int
    variant: str
    window: str
    face_mode: str  # "auto" (find and align the face) or "none" (the clip is an aligned face crop)


@dataclass(frozen=True)
class ClipInfo:
    """What the page shows about a decoded clip once its frames are gone."""

    num_frames: int
    size: tuple[int, int]  # (height, width)
    fps: float
    notes: tuple[str, ...]
    greyscale: bool

    @classmethod
    def of(cls, clip: Clip) -> ClipInfo:
        return cls(clip.num_frames, clip.size, clip.fps, tuple(clip.notes), is_greyscale(clip.frames[0]))


def is_greyscale(frame: np.ndarray) -> bool:
    return bool(np.array_equal(frame[..., 0], frame[..., 1]) and np.array_equal(frame[..., 1], frame[..., 2]))


@dataclass
class Scan:
    """A clip's description, the face found on its first frame and its motion-energy estimate (no frames)."""

    clip: ClipInfo
    face: FaceInfo
    estimate: PhaseEstimate
    seconds: dict[str, float]


@dataclass
class Analysis:
    """One classified clip: the scan, the settings, the window used and the prediction."""

    name: str
    scan: Scan
    settings: Settings
    phases: tuple[int, int, int]
    manual: bool
    pipeline: Pipeline
    prediction: Prediction
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    key: tuple = ()


@dataclass
class AttributedAnalysis:
    """An analysis with its explanation bundle (maps, region shares, faithfulness) and the files written for it:
    the JSON report (`report_path`, in `folder`) and, once asked for, the figure."""

    analysis: Analysis
    bundle: ExplanationBundle
    folder: Path
    report_path: Path
    seconds: dict[str, float]
    figures: dict[str, list[Path]] = field(default_factory=dict)  # background -> PDF and PNG, once asked for
