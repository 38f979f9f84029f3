"""Face detection and alignment, once per clip.

Micro-expressions move the face by a pixel or two, so per-frame detection jitter would swamp them: the face
is found on one reference frame (the onset, falling back to a few others) and the *same* similarity
transform is applied to every frame.  The transform maps the eye centres onto the template positions of
`learnet.template`, so aligned pixels have anatomical names.  Detection uses the Haar cascades bundled with
OpenCV 4 wheels (frontal face, then eyes inside it; OpenCV 5 dropped them, hence the `<5` pin).
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

import cv2
import numpy as np

from .template import LEFT_EYE, RIGHT_EYE
from .video import ClipError

log = logging.getLogger(__name__)

FACE_MODES: tuple[str, ...] = ("auto", "none")
_DETECT_LONG_SIDE = 480  # detection runs on a downscaled copy: Haar is slow and gains nothing above this
# Face sizes searched, as fractions of the frame's short side: large faces first, then small ones.
_LARGE_FACE, _SMALL_FACE = 0.3, 0.15
# Where the eyes sit inside a Haar frontal-face box, used when the eye cascade finds no pair.
_BOX_EYES = ((0.31, 0.38), (0.69, 0.38))


class FaceNotFoundError(ClipError):
    """No face was found and the caller asked for one (`require_face=True`)."""


@dataclass
class FaceInfo:
    """What alignment did to a clip, in source-frame pixels.

    `transform` is the 2x3 affine map from source pixels (x, y) to template units; `eyes` are the source-pixel
    eye centres mapped onto the template eyes (image-left first); `angle` is the eye-line roll in degrees.
    """

    found: bool
    mode: str
    transform: np.ndarray
    box: tuple[int, int, int, int] | None = None  # x, y, w, h of the detected face
    eyes: tuple[tuple[float, float], tuple[float, float]] | None = None
    eyes_detected: bool = False  # False: eyes estimated from the face box
    angle: float = 0.0
    reference_frame: int = 0
    faces_seen: int = 0
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """JSON-able summary for reports and the UI."""
        return {
            "found": self.found,
            "mode": self.mode,
            "box": list(self.box) if self.box else None,
            "eyes": [list(map(float, e)) for e in self.eyes] if self.eyes else None,
            "eyes_detected": self.eyes_detected,
            "angle_deg": round(float(self.angle), 3),
            "reference_frame": self.reference_frame,
            "faces_seen": self.faces_seen,
            "transform": self.transform.tolist(),
            "warnings": list(self.warnings),
        }


# OpenCV's CascadeClassifier keeps per-call scratch state and is not thread-safe: two threads sharing one
# returned each other's face boxes.  Each thread loads its own copy (a few ms, once per thread and cascade).
_THREAD_CASCADES = threading.local()


def _cascade(name: str) -> cv2.CascadeClassifier:
    cache = _THREAD_CASCADES.__dict__.setdefault("by_name", {})
    cascade = cache.get(name)
    if cascade is None:
        cascade = cv2.CascadeClassifier(cv2.data.haarcascades + name)
        if cascade.empty():
            raise RuntimeError(f"OpenCV's Haar cascade {name} is missing; install opencv-python-headless>=4.10,<5")
        cache[name] = cascade
    return cascade


def similarity_from_eyes(
    src_eyes: tuple[tuple[float, float], tuple[float, float]],
    dst_eyes: tuple[tuple[float, float], tuple[float, float]] = (RIGHT_EYE, LEFT_EYE),
) -> np.ndarray:
    """2x3 similarity (rotation, uniform scale, shift) taking two source points exactly onto two targets."""
    p1, p2 = complex(*src_eyes[0]), complex(*src_eyes[1])
    q1, q2 = complex(*dst_eyes[0]), complex(*dst_eyes[1])
    if abs(p2 - p1) < 1e-9:
        raise ValueError("the two eye points coincide")
    a = (q2 - q1) / (p2 - p1)
    b = q1 - a * p1
    return np.array([[a.real, -a.imag, b.real], [a.imag, a.real, b.imag]], dtype=np.float64)


def detect_face(frame: np.ndarray) -> tuple[list[tuple[int, int, int, int]], tuple | None]:
    """Haar detection on one RGB frame.

    Returns all face boxes (x, y, w, h, largest first, source pixels) and, for the largest, the two eye
    centres (image-left first) or None when the eye cascade finds no plausible pair.
    """
    gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    scale = min(1.0, _DETECT_LONG_SIDE / max(gray.shape))
    if scale < 1.0:
        gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    gray = cv2.equalizeHist(gray)
    short = min(gray.shape)
    # Coarse to fine: a face filling a good part of the frame (every MER dataset, most webcam clips) is found
    # at the few large scales, about 3x faster than a full search; only if none is are small faces sought.
    # The passes overlap so that a face near the boundary keeps the neighbouring detections it needs.
    for lo, hi in ((_LARGE_FACE, 1.0), (_SMALL_FACE, 1.35 * _LARGE_FACE)):
        lo_px, hi_px = max(24, int(lo * short)), max(24, int(hi * short))
        found = _cascade("haarcascade_frontalface_default.xml").detectMultiScale(
            gray, scaleFactor=1.1, minNeighbors=5, minSize=(lo_px, lo_px), maxSize=(hi_px, hi_px)
        )
        boxes = sorted((tuple(int(v) for v in b) for b in found), key=lambda b: -b[2] * b[3])
        if boxes:
            break
    if not boxes:
        return [], None
    x, y, w, h = boxes[0]
    eyes = _detect_eyes(gray[y : y + int(0.6 * h), x : x + w], w)
    if eyes is not None:
        eyes = tuple(((ex + x) / scale, (ey + y) / scale) for ex, ey in eyes)
    return [tuple(int(round(v / scale)) for v in b) for b in boxes], eyes


def _detect_eyes(upper_face: np.ndarray, face_w: int):
    """The best eye pair in the upper face: one per half, similar height, plausible spacing."""
    min_eye = max(8, face_w // 10)
    # One cascade pass with no grouping, then OpenCV's own grouping at falling thresholds: the same boxes as
    # detectMultiScale(minNeighbors=4, then 2, then 1) at a third of the cost.  Strict first; weaker
    # detections are only consulted when no plausible pair turned up.
    raw = _cascade("haarcascade_eye.xml").detectMultiScale(
        upper_face, scaleFactor=1.1, minNeighbors=0, minSize=(min_eye, min_eye)
    )
    if len(raw) == 0:
        return None
    raw = [tuple(int(v) for v in r) for r in raw]
    for min_neighbors in (4, 2, 1):
        found, _ = cv2.groupRectangles(raw, min_neighbors, 0.2)
        pair = _best_eye_pair([(ex + ew / 2.0, ey + eh / 2.0) for ex, ey, ew, eh in found], face_w)
        if pair is not None:
            return pair
    return None


def _best_eye_pair(centres: list[tuple[float, float]], face_w: int):
    left = [c for c in centres if c[0] < face_w / 2]
    right = [c for c in centres if c[0] >= face_w / 2]
    best, best_score = None, None
    for l in left:
        for r in right:
            spacing = (r[0] - l[0]) / face_w
            if not 0.25 <= spacing <= 0.65 or abs(r[1] - l[1]) > 0.15 * face_w:
                continue
            score = abs(spacing - 0.4) + abs(r[1] - l[1]) / face_w
            if best_score is None or score < best_score:
                best, best_score = ((l[0], l[1]), (r[0], r[1])), score
    return best


def _box_eyes(box: tuple[int, int, int, int]) -> tuple[tuple[float, float], tuple[float, float]]:
    x, y, w, h = box
    return tuple((x + fx * w, y + fy * h) for fx, fy in _BOX_EYES)


def _centre_crop_transform(h: int, w: int) -> np.ndarray:
    side = min(h, w)
    x0, y0 = (w - side) / 2.0, (h - side) / 2.0
    return np.array([[1.0 / side, 0.0, -x0 / side], [0.0, 1.0 / side, -y0 / side]])


def find_face(
    frames: np.ndarray,
    *,
    mode: str = "auto",
    reference: int = 0,
    candidates: int = 4,
    require_face: bool = False,
) -> FaceInfo:
    """Work out one alignment for a whole clip (no warping yet).

    Args:
        frames: (T, H, W, 3) RGB uint8.
        mode: "auto" detects and aligns; "none" treats the frames as an already aligned face crop
            (the datasets' cropped releases) and only resizes.
        reference: frame to detect on (the onset); if no face is there, up to `candidates` other frames
            spread over the clip are tried.
        require_face: raise `FaceNotFoundError` instead of falling back to a centre crop.
    """
    if mode not in FACE_MODES:
        raise ValueError(f"unknown face mode {mode!r}; choose one of {', '.join(FACE_MODES)}")
    T, H, W = frames.shape[:3]
    if mode == "none":
        scale = np.array([[1.0 / W, 0.0, 0.0], [0.0, 1.0 / H, 0.0]])
        return FaceInfo(found=False, mode="none", transform=scale, reference_frame=reference)
    reference = int(np.clip(reference, 0, T - 1))
    order = [reference] + [int(i) for i in np.linspace(0, T - 1, candidates + 2)[1:-1] if int(i) != reference]
    for index in order[: candidates + 1]:
        boxes, eyes = detect_face(frames[index])
        if not boxes:
            continue
        info = FaceInfo(found=True, mode="auto", transform=np.zeros((2, 3)), box=boxes[0],
                        reference_frame=index, faces_seen=len(boxes))
        if index != reference:
            info.warnings.append(f"no face on frame {reference}; aligned on frame {index} instead")
        if len(boxes) > 1:
            info.warnings.append(f"{len(boxes)} faces found; using the largest")
        if eyes is None:
            eyes = _box_eyes(boxes[0])
            info.warnings.append("eyes not detected; eye positions estimated from the face box")
        else:
            info.eyes_detected = True
        info.eyes = eyes
        info.transform = similarity_from_eyes(eyes)
        (x1, y1), (x2, y2) = eyes
        info.angle = float(np.degrees(np.arctan2(y2 - y1, x2 - x1)))
        return info
    message = f"no face found in {min(len(order), candidates + 1)} frames of the clip"
    if require_face:
        raise FaceNotFoundError(message + "; use a frontal, well-lit face or face mode 'none' for pre-cropped clips")
    info = FaceInfo(found=False, mode="auto", transform=_centre_crop_transform(H, W), reference_frame=reference)
    info.warnings.append(message + "; using a centre crop instead")
    return info


def pixel_transform(info: FaceInfo, size: int) -> np.ndarray:
    """The 2x3 map from source pixels to pixels of a (size, size) aligned crop."""
    to_px = np.array([[size, 0.0, -0.5], [0.0, size, -0.5], [0.0, 0.0, 1.0]])
    return (to_px @ np.vstack([info.transform, [0.0, 0.0, 1.0]]))[:2]


def warp_frames(frames: np.ndarray, info: FaceInfo, size: int) -> np.ndarray:
    """Apply one alignment to every frame: (T, H, W, 3) -> (T, size, size, 3) uint8.

    Borders are replicated, not black, so content entering the crop edge does not fake motion.
    """
    M = pixel_transform(info, size)
    # Shrinking by a large factor with bilinear sampling aliases; pre-blur like INTER_AREA would.
    shrink = 1.0 / max(1e-9, float(np.sqrt(abs(np.linalg.det(M[:, :2])))))
    sigma = 0.5 * (shrink - 1.0) if shrink > 2.0 else 0.0
    rows, cols = slice(None), slice(None)
    if sigma:
        # Blur only the part of the frame the crop samples (plus the kernel's reach): the same pixels come
        # out, and a face that fills a fraction of a large frame costs a fraction of the blur.
        (x0, y0), (x1, y1) = _source_box(M, size, frames.shape[1:3], reach=int(np.ceil(3 * sigma)) + 2)
        rows, cols = slice(y0, y1), slice(x0, x1)
        M = M.copy()
        M[:, 2] += M[:, :2] @ np.array([x0, y0], dtype=np.float64)
    out = np.empty((frames.shape[0], size, size, 3), dtype=np.uint8)
    for i, frame in enumerate(frames):
        frame = frame[rows, cols]
        if sigma:
            frame = cv2.GaussianBlur(frame, (0, 0), sigma)
        out[i] = cv2.warpAffine(frame, M, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out


def _source_box(M: np.ndarray, size: int, shape: tuple[int, int], reach: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """Corners (x0, y0), (x1, y1) of the frame region that output pixels of `M` read, widened by `reach` px
    and clipped to the frame (the whole frame when the crop lies outside it)."""
    h, w = shape
    inverse = cv2.invertAffineTransform(M)
    corners = np.array([[-0.5, -0.5, 1], [size - 0.5, -0.5, 1], [-0.5, size - 0.5, 1], [size - 0.5, size - 0.5, 1]])
    src = corners @ inverse.T
    x0, y0 = np.floor(src.min(axis=0)).astype(int) - reach
    x1, y1 = np.ceil(src.max(axis=0)).astype(int) + reach + 1
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if x1 - x0 < 1 or y1 - y0 < 1:
        return (0, 0), (w, h)
    return (int(x0), int(y0)), (int(x1), int(y1))


def align_clip(
    frames: np.ndarray,
    *,
    mode: str = "auto",
    size: int = 112,
    reference: int = 0,
    require_face: bool = False,
) -> tuple[np.ndarray, FaceInfo]:
    """Find the face once and warp every frame to a (size, size) template-aligned crop.

    Returns the aligned frames (T, size, size, 3) uint8 and the `FaceInfo`; its `warnings` (no face found,
    several faces, eyes estimated) are also logged, and are meant to reach the user.
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be (T, H, W, 3), got {frames.shape}")
    info = find_face(frames, mode=mode, reference=reference, require_face=require_face)
    for message in info.warnings:
        log.warning(message)
    return warp_frames(frames, info, size), info
