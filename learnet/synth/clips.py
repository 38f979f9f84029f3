"""One synthetic micro-expression clip: a face (procedural or a real photo), an emotion's AUs, its ground truth.

`make_clip` draws a procedural subject; `make_photo_clip` aligns a real face photo to the template (with
`learnet.face`, exactly as the inference pipeline would) and applies the same AU motion and nuisances.  Both
return a `SynthClip` holding the frames and everything a benchmark needs to know about them: subject, AUs,
onset/apex/offset and the ground-truth motion mask in template coordinates.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from ..template import EYES
from .action_units import DEFAULT_LABEL_SET, au_combinations, check_aus, displacement_field
from .faces import Canvas, FaceIdentity, FaceLayers, draw_face, random_identity
from .render import REFERENCE_SIZE, Nuisances, animate, envelope, random_timing
from .variation import Variation, alignment_view, vary_identity, vary_pulls, vary_timing

MASK_FRACTION = 0.1  # the motion mask keeps pixels moving more than this fraction of the clip's peak
# Default range of the apex displacement peak, px at a 128 px face.  Inside the 0.5-3 px band of real micro-expressions, but
# above 1 px: below it the nuisances (head drift up to 0.3 px, sensor noise) swamp the expression and a
# 5-fold subject-wise LEARNet run got 19% of such clips wrong (5% above 1 px).  `peak_px` goes lower.
PEAK_PX = (1.0, 3.0)
PHOTO_EYE_SIZE = (0.06, 0.022)  # eye-opening half sizes assumed for photos (template units), for blinks


@dataclass
class SynthClip:
    """A rendered clip and its ground truth.

    `frames` are what a camera would have recorded (all nuisances applied); `field` is the AU displacement at
    the apex in pixels of the `size` px template square, (size, size, 2) as (dx, dy); `mask` is where its
    magnitude exceeds `MASK_FRACTION` of `peak_px`.  `jpeg` holds the encoded frames when compression is on,
    so a writer can store exactly these bytes.
    """

    frames: np.ndarray  # (T, H, W, 3) uint8 RGB
    mask: np.ndarray  # (size, size) bool, template coordinates
    field: np.ndarray  # (size, size, 2) float32, px
    label: str
    aus: tuple[int, ...]
    onset: int
    apex: int
    offset: int
    fps: float
    subject: str
    seed: int
    peak_px: float  # largest apex displacement, px at this clip's size
    size: int
    face: str  # "procedural" or "photo"
    jpeg: list[bytes] | None = None
    nuisances: dict = field(default_factory=dict)

    @property
    def n_frames(self) -> int:
        return int(self.frames.shape[0])

    def metadata(self) -> dict:
        """JSON-able description (no pixels)."""
        return {
            "subject": self.subject, "label": self.label, "aus": "+".join(map(str, self.aus)),
            "onset": self.onset, "apex": self.apex, "offset": self.offset, "n_frames": self.n_frames,
            "fps": self.fps, "seed": self.seed, "peak_px": round(self.peak_px, 4), "size": self.size,
            "face": self.face, "mask_pixels": int(self.mask.sum()), **self.nuisances,
        }


def _view_maps(view: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    oy, ox = np.mgrid[0:size, 0:size].astype(np.float32)
    return ((view[0, 0] * ox + view[0, 1] * oy + view[0, 2]).astype(np.float32),
            (view[1, 0] * ox + view[1, 1] * oy + view[1, 2]).astype(np.float32))


def _template_grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    c = ((np.arange(size, dtype=np.float32) + 0.5) / size)
    return np.meshgrid(c, c)


def _motion(
    layers: FaceLayers,
    label: str,
    seed: int,
    *,
    canvas: Canvas,
    size: int,
    landmarks: dict | None,
    eye_boxes,
    subject: str,
    face: str,
    aus,
    label_set: str,
    fps: float,
    nuisances: Nuisances | None,
    n_frames: tuple[int, int],
    peak_px: float | tuple[float, float],
    rng: np.random.Generator,
    variation: Variation | None = None,
) -> SynthClip:
    """Shared by procedural and photo clips: choose AUs and amplitude, build the field, animate.

    With a `variation`, the AU combination, pulls, intensities, time course and the crop's alignment are
    randomised (`learnet.synth.variation`); the canvas then holds the crop plus the variation's margin.
    """
    combos = (variation and variation.combinations(label, label_set)) or au_combinations(label, label_set)
    chosen = combos[int(rng.integers(len(combos)))]
    aus = check_aus(chosen if aus is None else aus)
    weights = rng.uniform(*(variation.au_weight if variation else (0.6, 1.0)), len(aus))  # relative intensities
    lo, hi = (peak_px, peak_px) if np.isscalar(peak_px) else peak_px
    if not 0 < lo <= hi:
        raise ValueError(f"peak displacement must be positive (px at {REFERENCE_SIZE} px), got {peak_px}")
    peak = float(rng.uniform(lo, hi)) * size / REFERENCE_SIZE
    pulls, env, view = None, None, None
    if variation is None:
        timing = random_timing(rng, n_frames)
    else:
        timing, shape, residual = vary_timing(rng, n_frames, variation)
        env = envelope(timing, shape, residual)
        pulls = vary_pulls(aus, rng, variation)
        view = alignment_view(rng, size, variation)

    # Normalise on the template square so `peak` is exactly the largest displacement of the face.
    tu, tv = _template_grid(size)
    unit = displacement_field(aus, tu, tv, weights=weights, landmarks=landmarks, pulls=pulls)
    norm = float(np.sqrt((unit ** 2).sum(-1)).max())
    to_px = peak / norm
    field_t = unit * to_px
    if canvas.height == size and canvas.width == size and canvas.origin == (0.0, 0.0):
        field_c = field_t
    else:
        cu, cv = canvas.grid()
        field_c = displacement_field(aus, cu, cv, weights=weights, landmarks=landmarks, pulls=pulls) * to_px
    if view is not None:  # the ground truth follows the face into the misaligned crop (vectors in crop px)
        xs, ys = _view_maps(view, size)
        field_t = np.stack([cv2.remap(np.ascontiguousarray(field_c[..., k]), xs, ys, cv2.INTER_LINEAR,
                                      borderMode=cv2.BORDER_CONSTANT) for k in range(2)], -1)
        field_t /= float(np.sqrt(abs(np.linalg.det(view[:, :2]))))
    mask = np.sqrt((field_t ** 2).sum(-1)) > MASK_FRACTION * peak
    rendered = animate(layers, field_c, timing, rng, canvas=canvas, eye_boxes=eye_boxes, fps=fps,
                       nuisances=nuisances, env=env, view=view, out_size=size if view is not None else None)
    return SynthClip(
        frames=rendered.frames, mask=mask, field=field_t.astype(np.float32), label=label, aus=aus,
        onset=timing.onset, apex=timing.apex, offset=timing.offset, fps=float(fps), subject=subject,
        seed=int(seed), peak_px=peak, size=size, face=face, jpeg=rendered.jpeg, nuisances=rendered.record,
    )


def make_clip(
    label: str,
    seed: int,
    *,
    identity: FaceIdentity | int | None = None,
    subject: str = "s00",
    size: int = 128,
    frame_size: int | tuple[int, int] | None = None,
    fps: float = 200.0,
    aus=None,
    label_set: str = DEFAULT_LABEL_SET,
    nuisances: Nuisances | None = None,
    n_frames: tuple[int, int] = (32, 48),
    peak_px: float | tuple[float, float] = PEAK_PX,
    variation: Variation | None = None,
) -> SynthClip:
    """A procedural face making a micro-expression of class `label`, deterministic from `seed`.

    Args:
        label: class name in `label_set` (megc2019_3c: negative, positive, surprise).
        seed: drives the AU choice, intensity, timing and nuisances (and the face if `identity` is None).
        identity: the subject's face, or a seed for `random_identity`; None draws one from `seed`.
        size: side of the aligned face square in px; `frame_size` embeds it in a larger frame with background.
        aus: force these AUs instead of drawing a combination of the class.
        nuisances: disturbance ranges (`Nuisances()` default, `Nuisances.none()` for pure AU motion).
        n_frames: clip length range; peak_px: apex displacement (range), px at a 128 px face.
        variation: domain randomisation (`learnet.synth.variation.Variation`); its nuisances apply unless
            `nuisances` is given.  Not combined with `frame_size`.
    """
    rng = np.random.default_rng([int(seed), 1])
    if identity is None:
        identity = random_identity(int(np.random.default_rng([int(seed), 2]).integers(2**31)))
    elif not isinstance(identity, FaceIdentity):
        identity = random_identity(int(identity))
    if variation is not None:
        if frame_size is not None:
            raise ValueError("domain randomisation renders aligned crops; it cannot be combined with frame_size")
        identity = vary_identity(identity, np.random.default_rng([int(seed), 3]), variation)
        nuisances = variation.nuisances if nuisances is None else nuisances
        frame_size = size + 2 * round(variation.margin * size)
    canvas = Canvas.make(size, frame_size)
    layers = draw_face(identity, size, frame_size)
    return _motion(layers, label, seed, canvas=canvas, size=size, landmarks=identity.landmarks(),
                   eye_boxes=identity.eye_boxes(), subject=subject, face="procedural", aus=aus,
                   label_set=label_set, fps=fps, nuisances=nuisances, n_frames=n_frames, peak_px=peak_px, rng=rng,
                   variation=variation)


def align_photo(photo_rgb: np.ndarray, size: int = 128, eyes=None) -> np.ndarray:
    """A face photo warped onto the template square: float32 (size, size, 3) in [0, 1].

    `eyes` ((x, y) of the subject's right eye, then left eye, i.e. image-left first, in photo pixels) skip
    detection; otherwise `learnet.face` finds the face and eyes, as the inference pipeline does.
    """
    from ..face import FaceInfo, find_face, similarity_from_eyes, warp_frames

    photo = np.asarray(photo_rgb)
    if photo.ndim != 3 or photo.shape[2] != 3 or photo.dtype != np.uint8:
        raise ValueError(f"the photo must be an RGB uint8 image (H, W, 3), got {photo.shape} {photo.dtype}")
    if eyes is None:
        info = find_face(photo[None], mode="auto", require_face=True)
        if not info.eyes_detected:
            raise ValueError("the photo's eyes were not detected; pass eyes=((x, y), (x, y)) in photo pixels")
    else:
        info = FaceInfo(found=True, mode="auto", transform=similarity_from_eyes(eyes), eyes=tuple(eyes))
    return warp_frames(photo[None], info, size)[0].astype(np.float32) / 255.0


def make_photo_clip(
    photo_rgb: np.ndarray,
    label: str,
    seed: int,
    *,
    eyes=None,
    subject: str = "photo",
    size: int = 128,
    fps: float = 200.0,
    aus=None,
    label_set: str = DEFAULT_LABEL_SET,
    nuisances: Nuisances | None = None,
    n_frames: tuple[int, int] = (32, 48),
    peak_px: float | tuple[float, float] = PEAK_PX,
) -> SynthClip:
    """A real face photo making a synthetic micro-expression: aligned to the template, then animated.

    The AUs anchor at the template's landmarks (a photo's own landmarks are unknown), the same AU motion and
    nuisances as `make_clip` apply, and blinks use the photo's own lid colour.  `eyes` as in `align_photo`.
    The result is an aligned `size` px crop, like `make_clip` without `frame_size`.
    """
    rng = np.random.default_rng([int(seed), 1])
    neutral = align_photo(photo_rgb, size, eyes)
    eye_boxes = tuple((x, y, *PHOTO_EYE_SIZE) for x, y in EYES)
    return _motion(FaceLayers(neutral), label, seed, canvas=Canvas.make(size), size=size, landmarks=None,
                   eye_boxes=eye_boxes, subject=subject, face="photo", aus=aus, label_set=label_set, fps=fps,
                   nuisances=nuisances, n_frames=n_frames, peak_px=peak_px, rng=rng)


def grace_hopper() -> np.ndarray:
    """The real face photo that ships with matplotlib (RGB uint8, 600x512), never used for training."""
    from matplotlib import cbook
    from PIL import Image

    with cbook.get_sample_data("grace_hopper.jpg") as f:
        return np.array(Image.open(f).convert("RGB"))
