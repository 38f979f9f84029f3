"""Face detection and alignment, once per clip.

Micro-expressions move the face by a pixel or two, so per-frame detection jitter would swamp them: the face
is found on one reference frame (the onset, falling back to a few others) and the *same* similarity
transform is applied to every frame.  The transform maps the eye centres onto the template positions of
`learnet.template`, so aligned pixels have anatomical names.  Faces are found by a Haar cascade bundled with
OpenCV 4 wheels (OpenCV 5 dropped them, hence the `<5` pin); the eyes inside a face by a dark-blob search at
a fixed face scale, which finds eyes behind glasses and at webcam sizes that the eye cascades miss.
Accuracy on real faces: `bench/bench_face.py`.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

import cv2
import numpy as np

from .stabilise import stabilising_transforms
from .template import LEFT_EYE, RIGHT_EYE
from .video import ClipError

log = logging.getLogger(__name__)

FACE_MODES: tuple[str, ...] = ("auto", "none")
_DETECT_LONG_SIDE = 480  # detection runs on a downscaled copy: Haar is slow and gains nothing above this
_FACE_CASCADE = "haarcascade_frontalface_alt2.xml"  # finds more faces than _default, fewer false ones
_FACE_NEIGHBOURS = 3  # detections grouped into a face, at least
_STRONG_FACE = 10  # a large face with this many detections ends the search before small faces are sought
_WEAK_SHARE = 0.35  # faces with fewer detections than this share of the strongest one's are dropped
# Face sizes searched, as fractions of the frame's short side: large faces first, then small ones.
_LARGE_FACE, _SMALL_FACE = 0.3, 0.15
# Where the eyes sit inside a Haar frontal-face box: the centre of each eye's search window, and the eyes
# used when none are found.
_BOX_EYES = ((0.30, 0.37), (0.70, 0.37))
_EYE_FACE_PX = 128  # the eye search resamples the face box to this width
_EYE_ROWS = (0.12, 0.62)  # band of the face box searched, fractions of its height
_EYE_WINDOW = (0.10, 0.10)  # half-size of each eye's window, fractions of the face width
_BLOB_SIGMAS = (2.5, 8.0)  # centre and surround of the dark-blob filter, px of the resampled face
_IRIS_SIGMAS = (2.5, 6.0)  # the same with a tighter surround, for the iris that refines each eye centre
_IRIS_OPEN = 5  # px; a grey opening this wide erases the catchlight, a bright dot amid the iris, first
_IRIS_REACH = 0.04  # how far the iris may lie from the eye blob's centre, fraction of the face width
_EYE_CANDIDATES = 4  # blob maxima kept per eye window
_EYE_SPACING = (0.28, 0.52)  # plausible interocular distance, fractions of the face width (photos: 0.36-0.42)
_MAX_SLOPE = 0.45  # steepest eye line accepted (24 degrees of roll; the face cascade stops near 15)
_PAIR_PENALTY = (1.0, 1.0)  # score lost per unit of eye-line slope and of log spacing ratio
# Weakest blob accepted as an eye, in standard deviations of the upper face's grey levels: the eyes of the
# permitted photos score 0.9-1.2 at every rendering; the same faces with skin painted over the eyes 0.2-0.55.
_MIN_BLOB = 0.65
_FACES_CHECKED = 4  # faces whose eyes are sought, largest first


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
    """Haar face detection, then an eye search, on one RGB frame.

    Returns all face boxes (x, y, w, h, source pixels) and, for the first, the two eye centres (image-left
    first, source pixels) or None when no plausible pair of eyes is visible.  The first box is the largest
    face whose eyes were found (the largest face when no eyes were); the others follow, largest first.
    """
    gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    boxes = _face_boxes(gray)
    # The eye search doubles as a check of the face: a false detection (a helmet, a patterned shirt) that
    # outsizes the real face has no pair of eye blobs where a face's eyes would be.
    for i, box in enumerate(boxes[:_FACES_CHECKED]):
        eyes = _find_eyes(gray, box)
        if eyes is not None:
            return [box] + boxes[:i] + boxes[i + 1 :], eyes
    return boxes, None


def _face_boxes(gray: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Frontal-face boxes in source pixels, largest first, without the weak detections beside a strong one."""
    scale = min(1.0, _DETECT_LONG_SIDE / max(gray.shape))
    if scale < 1.0:
        gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    gray = cv2.equalizeHist(gray)
    short = min(gray.shape)
    # Coarse to fine: a face filling a good part of the frame (every MER dataset, most webcam clips) is found
    # at the few large scales, about 3x faster than a full search; only if no strong one is are small faces
    # sought.  The passes overlap so that a face near the boundary keeps the neighbouring detections it needs.
    found: list[tuple[tuple[int, int, int, int], int]] = []
    for lo, hi in ((_LARGE_FACE, 1.0), (_SMALL_FACE, 1.35 * _LARGE_FACE)):
        lo_px, hi_px = max(24, int(lo * short)), max(24, int(hi * short))
        boxes, neighbours = _cascade(_FACE_CASCADE).detectMultiScale2(
            gray, scaleFactor=1.1, minNeighbors=_FACE_NEIGHBOURS, minSize=(lo_px, lo_px), maxSize=(hi_px, hi_px)
        )
        found += [(tuple(int(v) for v in b), int(n)) for b, n in zip(boxes, neighbours)]
        if found and max(n for _, n in found) >= _STRONG_FACE:
            break
    if not found:
        return []
    # A face is detected at many neighbouring positions and scales; a false one (a helmet, a pattern) at
    # few.  Beside a strong face, the weak detections are dropped even when larger.
    strongest = max(n for _, n in found)
    boxes = sorted((b for b, n in found if n >= _WEAK_SHARE * strongest), key=lambda b: -b[2] * b[3])
    return [tuple(int(round(v / scale)) for v in b) for b in boxes]


def _find_eyes(gray: np.ndarray, box: tuple[int, int, int, int]):
    """The two eye centres (image-left first, source pixels) inside a face box, or None.

    The upper face is resampled to a fixed width, so that a webcam face with 40 px between the eyes and a
    close-up are searched alike.  An eye (iris, lids, lashes) is a dark blob about a tenth of the face wide,
    which a difference of Gaussians marks whatever the lighting; eye cascades miss many eyes behind glasses
    or at webcam sizes, so the blob map, not a cascade, is the detector.  Candidates are its local maxima in
    a window around each eye's usual place in a Haar face box; the pair with the strongest blobs and a
    plausible geometry (level, spaced like eyes) wins, and is refused when either blob is weak.
    """
    x, y, w, h = box
    k = _EYE_FACE_PX / w
    top = y + _EYE_ROWS[0] * h
    rows = int(round((_EYE_ROWS[1] - _EYE_ROWS[0]) * h * k))
    to_roi = np.array([[k, 0.0, -k * x], [0.0, k, -k * top]])
    # Shrinking with bilinear sampling aliases; pre-blur a large face like INTER_AREA would.
    source = cv2.GaussianBlur(gray, (0, 0), 0.5 / k) if k < 0.5 else gray
    roi = cv2.warpAffine(source, to_roi, (_EYE_FACE_PX, rows), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
    roi = (roi - roi.mean()) / (roi.std() + 1e-3)
    blob = cv2.GaussianBlur(roi, (0, 0), _BLOB_SIGMAS[1]) - cv2.GaussianBlur(roi, (0, 0), _BLOB_SIGMAS[0])
    peaks = blob == cv2.dilate(blob, np.ones((3, 3), np.uint8))
    prior = [((fx * w) * k, (y + fy * h - top) * k) for fx, fy in _BOX_EYES]
    wx, wy = _EYE_WINDOW[0] * _EYE_FACE_PX, _EYE_WINDOW[1] * _EYE_FACE_PX
    candidates = []
    for px, py in prior:
        x0, x1 = max(0, int(px - wx)), min(_EYE_FACE_PX, int(px + wx) + 1)
        y0, y1 = max(0, int(py - wy)), min(rows, int(py + wy) + 1)
        ys, xs = np.nonzero(peaks[y0:y1, x0:x1])
        side = sorted(((float(blob[y0 + j, x0 + i]), x0 + i, y0 + j) for j, i in zip(ys, xs)), reverse=True)
        candidates.append(side[:_EYE_CANDIDATES])
    best, best_score = None, -np.inf
    spacing_prior = (_BOX_EYES[1][0] - _BOX_EYES[0][0]) * _EYE_FACE_PX
    for sl, xl, yl in candidates[0]:
        for sr, xr, yr in candidates[1]:
            spacing = np.hypot(xr - xl, yr - yl)
            # Geometry a face can have: a wrong pair (a brow and an eye, two blobs on one side) would scale or
            # tilt the crop until the mouth leaves it.
            if not _EYE_SPACING[0] <= spacing / _EYE_FACE_PX <= _EYE_SPACING[1] or abs(yr - yl) > _MAX_SLOPE * spacing:
                continue
            score = (sl + sr
                     - _PAIR_PENALTY[0] * abs(yr - yl) / spacing
                     - _PAIR_PENALTY[1] * abs(np.log(spacing / spacing_prior)))
            if score > best_score:
                best, best_score = ((sl, xl, yl), (sr, xr, yr)), score
    if best is None or min(best[0][0], best[1][0]) < _MIN_BLOB:
        return None
    # The coarse blob is the whole eye (lids, lashes, glasses' rims): its centre leans towards the darker
    # corner.  The iris is the darkest smaller disc near it; its peak, within a few px, is the eye centre.
    iris = cv2.morphologyEx(roi, cv2.MORPH_OPEN, np.ones((_IRIS_OPEN, _IRIS_OPEN), np.uint8))
    fine = cv2.GaussianBlur(iris, (0, 0), _IRIS_SIGMAS[1]) - cv2.GaussianBlur(iris, (0, 0), _IRIS_SIGMAS[0])
    eyes = []
    r = int(round(_IRIS_REACH * _EYE_FACE_PX))
    for _, cx, cy in best:
        x0, y0 = max(0, cx - r), max(0, cy - r)
        patch = fine[y0 : cy + r + 1, x0 : min(_EYE_FACE_PX, cx + r + 1)]
        j, i = np.unravel_index(int(np.argmax(patch)), patch.shape)
        eyes.append(_refine(fine, x0 + int(i), y0 + int(j)))
    return tuple((ex / k + x, ey / k + top) for ex, ey in eyes)


def _refine(blob: np.ndarray, cx: int, cy: int) -> tuple[float, float]:
    """Sub-pixel peak of the blob map: a parabola through the peak and its two neighbours, per axis."""
    h, w = blob.shape
    dx = dy = 0.0
    if 0 < cx < w - 1:
        a, b, c = blob[cy, cx - 1], blob[cy, cx], blob[cy, cx + 1]
        dx = 0.5 * (a - c) / (a - 2 * b + c) if a - 2 * b + c < 0 else 0.0
    if 0 < cy < h - 1:
        a, b, c = blob[cy - 1, cx], blob[cy, cx], blob[cy + 1, cx]
        dy = 0.5 * (a - c) / (a - 2 * b + c) if a - 2 * b + c < 0 else 0.0
    return cx + float(np.clip(dx, -0.5, 0.5)), cy + float(np.clip(dy, -0.5, 0.5))


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
        # Pixel centres (x + 0.5) / W in template units, so that a frame already at the crop size maps onto
        # it exactly (without the half pixel, every pixel would be a blend of two neighbours).
        scale = np.array([[1.0 / W, 0.0, 0.5 / W], [0.0, 1.0 / H, 0.5 / H]])
        return FaceInfo(found=False, mode="none", transform=scale, reference_frame=reference)
    reference = int(np.clip(reference, 0, T - 1))
    order = [reference] + [int(i) for i in np.linspace(0, T - 1, candidates + 2)[1:-1] if int(i) != reference]
    fallback = None
    for index in order[: candidates + 1]:
        boxes, eyes = detect_face(frames[index])
        if not boxes:
            continue
        info = FaceInfo(found=True, mode="auto", transform=np.zeros((2, 3)), box=boxes[0],
                        reference_frame=index, faces_seen=len(boxes))
        if eyes is None:
            # Closed or hidden eyes (a blink on the onset is common): another frame may show them; the face
            # barely moves within a clip, so its eyes align the whole clip as well.
            fallback = fallback or (info, boxes)
            continue
        info.eyes_detected = True
        if index != reference:
            info.warnings.append(
                f"eyes not detected on frame {reference}; aligned on frame {index}, where they were"
                if fallback is not None and fallback[0].reference_frame == reference
                else f"no face on frame {reference}; aligned on frame {index} instead"
            )
        return _finish(info, eyes, boxes)
    if fallback is not None:
        info, boxes = fallback
        if info.reference_frame != reference:
            info.warnings.append(f"no face on frame {reference}; aligned on frame {info.reference_frame} instead")
        info.warnings.append("eyes not detected; eye positions estimated from the face box")
        return _finish(info, _box_eyes(boxes[0]), boxes)
    message = f"no face found in {min(len(order), candidates + 1)} frames of the clip"
    if require_face:
        raise FaceNotFoundError(message + "; use a frontal, well-lit face or face mode 'none' for pre-cropped clips")
    info = FaceInfo(found=False, mode="auto", transform=_centre_crop_transform(H, W), reference_frame=reference)
    info.warnings.append(message + "; using a centre crop instead")
    return info


def _finish(info: FaceInfo, eyes, boxes: list[tuple[int, int, int, int]]) -> FaceInfo:
    """Fill in the alignment of a found face from its eye centres."""
    if len(boxes) > 1:
        largest = max(boxes, key=lambda b: b[2] * b[3])
        which = "the largest" if boxes[0] == largest else "the largest with visible eyes"
        info.warnings.append(f"{len(boxes)} faces found; using {which}")
    info.eyes = eyes
    info.transform = similarity_from_eyes(eyes)
    (x1, y1), (x2, y2) = eyes
    info.angle = float(np.degrees(np.arctan2(y2 - y1, x2 - x1)))
    return info


def pixel_transform(info: FaceInfo, size: int) -> np.ndarray:
    """The 2x3 map from source pixels to pixels of a (size, size) aligned crop."""
    to_px = np.array([[size, 0.0, -0.5], [0.0, size, -0.5], [0.0, 0.0, 1.0]])
    return (to_px @ np.vstack([info.transform, [0.0, 0.0, 1.0]]))[:2]


def warp_frames(frames: np.ndarray, info: FaceInfo, size: int, motion: np.ndarray | None = None) -> np.ndarray:
    """Apply one alignment to every frame: (T, H, W, 3) -> (T, size, size, 3) uint8.

    Borders are replicated, not black, so content entering the crop edge does not fake motion.  `motion`
    ((T, 2, 3) head motion in crop pixels, `learnet.stabilise.estimate_head_motion`) is removed frame by frame
    in the same single interpolation.
    """
    M = pixel_transform(info, size)
    # Shrinking by a large factor with bilinear sampling aliases; pre-blur like INTER_AREA would.
    shrink = 1.0 / max(1e-9, float(np.sqrt(abs(np.linalg.det(M[:, :2])))))
    sigma = 0.5 * (shrink - 1.0) if shrink > 2.0 else 0.0
    rows, cols = slice(None), slice(None)
    if sigma:
        # Blur only the part of the frame the crop samples (plus the kernel's reach): the same pixels come
        # out, and a face that fills a fraction of a large frame costs a fraction of the blur.
        (x0, y0), (x1, y1) = _source_box(M, size, frames.shape[1:3], reach=int(np.ceil(3 * sigma)) + 2 + _motion_reach(motion, shrink))
        rows, cols = slice(y0, y1), slice(x0, x1)
        M = M.copy()
        M[:, 2] += M[:, :2] @ np.array([x0, y0], dtype=np.float64)
    per_frame = [M] * len(frames) if motion is None else stabilising_transforms(M, motion)
    # Stabilised frames sample at a different sub-pixel phase each: bilinear smoothing would change with the
    # phase and leave a pattern in the dynamic image; cubic interpolation keeps the detail alike.
    interpolation = cv2.INTER_LINEAR if motion is None else cv2.INTER_CUBIC
    out = np.empty((frames.shape[0], size, size, 3), dtype=np.uint8)
    for i, frame in enumerate(frames):
        frame = frame[rows, cols]
        if sigma:
            frame = cv2.GaussianBlur(frame, (0, 0), sigma)
        out[i] = cv2.warpAffine(frame, per_frame[i], (size, size), flags=interpolation,
                                borderMode=cv2.BORDER_REPLICATE)
    return out


def _motion_reach(motion: np.ndarray | None, shrink: float) -> int:
    """Source pixels that stabilisation may read beyond the unstabilised crop (shift, plus rotation at a corner)."""
    if motion is None:
        return 0
    m = np.asarray(motion, dtype=np.float64)
    return int(np.ceil((np.abs(m[:, :, 2]).max() + 2 * np.abs(m[:, :, :2] - np.eye(2)).max() * 200) * shrink)) + 1


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
