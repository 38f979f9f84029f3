"""A clip's scan: the face found once, small aligned copies of every frame, and the onset / apex / offset
those copies' motion suggests.

The scan's `face` is the detection `Pipeline.predict(..., face=scan.face)` reuses, so a clip is searched for
a face once whatever window is classified afterwards (the demo page, `bench/bench_app.py`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .face import FaceInfo, find_face, warp_frames
from .motion import PhaseEstimate, estimate_phases

# Side of the aligned copies the motion curve is measured on: enough for brows and mouth corners, and cheap
# for 600 frames.
MOTION_SIZE = 64


@dataclass
class ClipScan:
    """The face of a clip (found on its first frame) and its motion-energy phase estimate."""

    face: FaceInfo
    estimate: PhaseEstimate
    seconds: dict[str, float] = field(default_factory=dict)  # "face_scan" (detection + warps), "motion"


def scan_clip(frames: np.ndarray, face_mode: str = "auto", size: int = MOTION_SIZE) -> ClipScan:
    """Find the face on the first frame (`face_mode` as `learnet.face.find_face`), align `size` px copies of
    every frame with it, and estimate onset, apex and offset from their motion (`learnet.motion`)."""
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    face = find_face(frames, mode=face_mode, reference=0)
    small = warp_frames(frames, face, size)
    seconds["face_scan"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    estimate = estimate_phases(small)
    seconds["motion"] = time.perf_counter() - t0
    return ClipScan(face, estimate, seconds)
