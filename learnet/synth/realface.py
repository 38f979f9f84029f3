"""Micro-expressions animated on real face photos, with a motion model independent of the training generator.

The real-face benchmark (`bench/bench_realface.py`) must not share its motion model with the generator the
demo weights are trained on (`action_units`, `render`, `clips`), or it would measure how well a model learnt
that generator rather than faces.  So everything here is built differently:

- **Geometry.** Each class is a few *handles*: a landmark of the photo (hand-annotated, `photos`) and the
  displacement it gets at the apex.  The field between them is an exact interpolation with compactly
  supported Wendland C2 kernels (phi(r) = (1 - r)^4 (4r + 1) for r < 1, each centre with its own radius),
  and *anchors* (eye centres, nose tip, lips, chin, ... depending on the class) are interpolated to zero
  displacement.  So a handle moves by exactly the amplitude asked, an anchor does not move at all, and the
  field is exactly zero outside the kernels' supports, i.e. away from the face.  (The training generator sums
  Gaussian windows placed on the template, unnormalised, then rescales the whole field.)
- **Units.** Amplitudes and radii are fractions of the photo's own interocular distance (IOD), measured in
  the frame.  The amplitude at the class's main handles is drawn from `AMPLITUDE_IOD` = 0.0115-0.069 IOD,
  which is 0.5-3.0 px on a 128 px template face (IOD 0.34 x 128 = 43.5 px) and 0.45-2.6 px at the model's
  112 px input.  Each side has its own gain (asymmetry up to +-30%) and every handle a jittered direction.
- **Classes (MEGC 3).**  positive: mouth corners up and out + cheeks up; surprise: brows up (inner, middle
  and outer points) + a small upper-lid lift; negative: inner brows down and towards each other, brow middles
  a little down, mouth corners down.
- **Time course.**  Not a raised cosine: a gamma-shaped rise and decay, a linear ramp with a hold at the
  apex, or an exponential rise and decay; about a third of the clips are cut before the face is neutral
  again.  Phases are drawn in seconds (rise 40-160 ms), so a 30 fps clip sees the same expression as a
  200 fps one in fewer frames; neutral frames before the onset (3-20) and after the offset (random).
- **Camera.**  Full 640 x 480 frames, the face placed at a random scale (IOD 40-110 px) and position
  (`photos.place_photo`, which also changes background and colour), head drift (up to 2 px translation and
  0.6 degrees roll, plus sub-pixel jitter), optional Gaussian blur and sensor noise (sigma 1-3 grey levels).
  Each frame is a backward warp of the placed photo with `cv2.remap` at sub-pixel precision.

Abstention probes (`probe_clip`): an all-black clip, pure noise, a textured scene with no person, and a
static real face with sensor noise only.  Everything is deterministic from its seed.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from .photos import Landmarks, Point, Variant, load_photo, place_photo, random_variant, smooth_texture

CLASSES: tuple[str, ...] = ("negative", "positive", "surprise")
FRAME_SIZE: tuple[int, int] = (640, 480)  # (width, height)
AMPLITUDE_IOD: tuple[float, float] = (0.0115, 0.069)  # 0.5-3.0 px at a 128 px template face
TEMPLATE_IOD_128 = 0.34 * 128  # the template's interocular distance at 128 px (learnet.template EYES)
ENVELOPES: tuple[str, ...] = ("gamma", "ramp-hold", "exp")
PROBES: tuple[str, ...] = ("black", "noise", "no-face", "static-face")


@dataclass(frozen=True)
class Handle:
    """A point (frame px) that moves by `displacement` (px, at the apex); its kernel reaches `radius` px."""

    point: Point
    displacement: tuple[float, float]
    radius: float


@dataclass(frozen=True)
class Anchor:
    """A point (frame px) held still; its kernel reaches `radius` px."""

    point: Point
    radius: float


def wendland(r: np.ndarray) -> np.ndarray:
    """Wendland's C2 kernel (1 - r)^4 (4r + 1) on r in [0, 1), zero beyond: smooth and compactly supported."""
    r = np.asarray(r, dtype=np.float64)
    return np.where(r < 1.0, (1.0 - np.minimum(r, 1.0)) ** 4 * (4.0 * r + 1.0), 0.0)


@dataclass(frozen=True)
class MotionModel:
    """A displacement field interpolating handles (their displacements) and anchors (zero)."""

    handles: tuple[Handle, ...]
    anchors: tuple[Anchor, ...] = ()
    _weights: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        centres = self._centres()
        radii = self._radii()
        target = np.array([h.displacement for h in self.handles] + [(0.0, 0.0)] * len(self.anchors))
        # Row i: the field at centre i; column j: kernel j (own radius, so the system is not symmetric).
        dist = np.linalg.norm(centres[:, None, :] - centres[None, :, :], axis=-1)
        A = wendland(dist / radii[None, :])
        if np.linalg.cond(A) > 1e8:
            raise ValueError("handles and anchors too close together to interpolate; move or shrink them")
        object.__setattr__(self, "_weights", np.linalg.solve(A, target))

    def _centres(self) -> np.ndarray:
        return np.array([h.point for h in self.handles] + [a.point for a in self.anchors], dtype=np.float64)

    def _radii(self) -> np.ndarray:
        return np.array([h.radius for h in self.handles] + [a.radius for a in self.anchors], dtype=np.float64)

    def at(self, points) -> np.ndarray:
        """Displacement (dx, dy) in px at points (..., 2), float64 (..., 2)."""
        p = np.asarray(points, dtype=np.float64)
        flat = p.reshape(-1, 2)
        out = np.zeros_like(flat)
        for c, r, w in zip(self._centres(), self._radii(), self._weights):
            out += wendland(np.linalg.norm(flat - c, axis=1) / r)[:, None] * w
        return out.reshape(p.shape)

    def grid(self, size: tuple[int, int]) -> np.ndarray:
        """The field on every pixel of a (w, h) frame: float32 (h, w, 2); computed only where kernels reach."""
        w, h = size
        out = np.zeros((h, w, 2), np.float32)
        c, r = self._centres(), self._radii()
        x0, y0 = np.floor((c - r[:, None]).min(axis=0)).astype(int)
        x1, y1 = np.ceil((c + r[:, None]).max(axis=0)).astype(int) + 1
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 <= x0 or y1 <= y0:
            return out
        ys, xs = np.mgrid[y0:y1, x0:x1]
        out[y0:y1, x0:x1] = self.at(np.stack([xs, ys], axis=-1)).astype(np.float32)
        return out


# ---------------------------------------------------------------------------------------------- classes


def _unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v)


def _rotate(v: np.ndarray, degrees: float) -> np.ndarray:
    a = np.radians(degrees)
    return np.array([np.cos(a) * v[0] - np.sin(a) * v[1], np.sin(a) * v[0] + np.cos(a) * v[1]])


def _offset(p: Point, by: np.ndarray) -> Point:
    return float(p[0] + by[0]), float(p[1] + by[1])


def class_motion(label: str, marks: Landmarks, amplitude_px: float,
                 rng: np.random.Generator | None = None) -> MotionModel:
    """The apex displacement field of one class on one face (landmarks in frame px).

    `amplitude_px` is the displacement of the class's main handles (mouth corners for positive, brow middles
    for surprise, inner brow ends for negative).  With `rng`, each side gets its own gain (asymmetry up to
    +-30%), secondary handles their own share, and every direction a jitter of up to +-8 degrees; without
    it the field is the nominal, symmetric one (what the tests check).
    """
    if label not in CLASSES:
        raise ValueError(f"unknown class {label!r}; choose one of {', '.join(CLASSES)}")
    iod = marks.interocular
    (lx, ly), (rx, ry) = marks.eyes
    across = _unit((rx - lx, ry - ly))  # image-left -> image-right along the eye line
    up = np.array([across[1], -across[0]])  # towards the forehead, whatever the roll
    out = (-across, across)  # lateral, away from the midline, for the image-left and image-right side

    def draw(lo: float, hi: float, nominal: float) -> float:
        return float(rng.uniform(lo, hi)) if rng is not None else nominal

    side_gain = (1.0, 1.0)
    if rng is not None:
        a = float(rng.uniform(-0.3, 0.3))
        side_gain = (1.0 + a, 1.0 - a)

    def jitter(v: np.ndarray) -> np.ndarray:
        return _rotate(v, draw(-8.0, 8.0, 0.0))

    handles: list[Handle] = []
    anchors: list[Anchor] = []

    def pair(points, direction_of_side, share: float, radius_iod: float):
        for side in (0, 1):
            d = jitter(_unit(direction_of_side(side))) * amplitude_px * share * side_gain[side]
            handles.append(Handle(points[side], (float(d[0]), float(d[1])), radius_iod * iod))

    def hold(point: Point, radius_iod: float):
        anchors.append(Anchor(point, radius_iod * iod))

    if label == "positive":
        angle = np.radians(draw(35.0, 60.0, 45.0))  # above the lateral direction: "up and out"
        pair(marks.mouth_corners, lambda s: np.cos(angle) * out[s] + np.sin(angle) * up, 1.0, 0.7)
        pair(marks.cheeks, lambda s: up + 0.15 * out[s], draw(0.5, 0.8, 0.65), 0.8)
        for p in (marks.upper_lip, marks.lower_lip):
            hold(p, 0.35)
        hold(marks.nose_tip, 0.4)
        hold(marks.chin, 0.5)
        for p in marks.eyes:
            hold(p, 0.3)
    elif label == "surprise":
        pair(marks.brow_middle, lambda s: up, 1.0, 0.6)
        pair(marks.brow_inner, lambda s: up, draw(0.85, 1.05, 0.95), 0.55)
        pair(marks.brow_outer, lambda s: up + 0.1 * out[s], draw(0.6, 0.9, 0.75), 0.55)
        lids = tuple(_offset(e, 0.1 * iod * up) for e in marks.eyes)
        pair(lids, lambda s: up, draw(0.25, 0.5, 0.35), 0.25)
        for e in marks.eyes:
            hold(e, 0.2)
            hold(_offset(e, -0.14 * iod * up), 0.3)  # the lower lid stays
        hold(marks.nose_tip, 0.5)
    else:  # negative
        tilt = np.radians(draw(30.0, 55.0, 40.0))  # from straight down towards the midline
        pair(marks.brow_inner, lambda s: -np.cos(tilt) * up - np.sin(tilt) * out[s], 1.0, 0.55)
        pair(marks.brow_middle, lambda s: -up, draw(0.35, 0.6, 0.45), 0.5)
        pair(marks.mouth_corners, lambda s: -up + 0.1 * out[s], draw(0.6, 1.0, 0.8), 0.65)
        for p in marks.eyes:
            hold(p, 0.3)
        for p in marks.brow_outer:
            hold(p, 0.35)
        for p in (marks.nose_tip, marks.upper_lip, marks.lower_lip):
            hold(p, 0.35)
        hold(marks.chin, 0.5)
    return MotionModel(tuple(handles), tuple(anchors))


# ------------------------------------------------------------------------------------------- time course


@dataclass(frozen=True)
class Envelope:
    """Expression intensity over time (seconds from the clip's first frame), 1 at the apex.

    kinds: "gamma" (s/rise)^k exp(k (1 - s/rise)), "ramp-hold" (linear rise, hold, linear fall) and "exp"
    (1 - exp rise to the apex, hold, exponential decay).  Zero before `onset`.
    """

    kind: str
    onset: float
    rise: float
    hold: float = 0.0
    fall: float = 0.1
    shape: float = 3.0  # the gamma exponent k

    def __post_init__(self):
        if self.kind not in ENVELOPES:
            raise ValueError(f"unknown envelope {self.kind!r}; choose one of {', '.join(ENVELOPES)}")

    @property
    def apex(self) -> float:
        return self.onset + self.rise

    @property
    def offset(self) -> float:
        """When the face is neutral again (gamma: when it has decayed below 2%)."""
        if self.kind == "gamma":
            s = np.linspace(1.0, 30.0, 3000)
            below = s[s ** self.shape * np.exp(self.shape * (1.0 - s)) < 0.02]
            return self.onset + self.rise * float(below[0])
        return self.apex + self.hold + self.fall

    def __call__(self, t) -> np.ndarray:
        s = np.asarray(t, dtype=np.float64) - self.onset
        pos = np.maximum(s, 0.0)
        if self.kind == "gamma":
            x = pos / self.rise
            e = x ** self.shape * np.exp(self.shape * (1.0 - x))
        else:
            after = np.maximum(pos - self.rise - self.hold, 0.0)
            if self.kind == "ramp-hold":
                up = pos / self.rise
                down = np.clip(1.0 - after / self.fall, 0.0, 1.0)
            else:  # exp: time constants a third of the rise / fall, renormalised to reach 1 and 0 exactly
                up = (1.0 - np.exp(-3.0 * pos / self.rise)) / (1.0 - np.exp(-3.0))
                down = np.clip((np.exp(-3.0 * after / self.fall) - np.exp(-3.0)) / (1.0 - np.exp(-3.0)), 0.0, 1.0)
            e = np.where(pos < self.rise, up, np.where(pos < self.rise + self.hold, 1.0, down))
        return np.where(s < 0.0, 0.0, np.clip(e, 0.0, 1.0))


def random_envelope(rng: np.random.Generator, fps: float,
                    n_frames: tuple[int, int] = (40, 90)) -> tuple[Envelope, int]:
    """A random time course and the clip length (frames) that shows it.

    About a third of the clips end between the apex and the return to neutral; the others keep a few
    neutral frames after the offset.  Lengths stay inside `n_frames` (padded with neutral frames, or cut).
    """
    kind = str(rng.choice(ENVELOPES))
    onset = (int(rng.integers(3, 21)) + float(rng.uniform(0.0, 1.0))) / fps  # sub-frame phase
    env = Envelope(kind, onset, float(rng.uniform(0.04, 0.16)),
                   hold=float(rng.uniform(0.0, 0.06)) if kind != "gamma" else 0.0,
                   fall=float(rng.uniform(0.06, 0.25)), shape=float(rng.uniform(1.5, 4.0)))
    apex_frame = int(np.ceil(env.apex * fps))
    if apex_frame + 3 > n_frames[1]:  # short clips: compress the time course so the apex stays inside
        f = (n_frames[1] - 3) / fps / env.apex
        env = Envelope(kind, onset * f, env.rise * f, env.hold * f, env.fall * f, env.shape)
        apex_frame = int(np.ceil(env.apex * fps))
    offset_frame = int(np.ceil(env.offset * fps))
    if rng.random() < 1 / 3:
        length = int(rng.integers(apex_frame + 3, max(apex_frame + 4, offset_frame)))
    else:
        length = offset_frame + 1 + int(rng.integers(0, 16))
    return env, int(np.clip(length, n_frames[0], n_frames[1]))


# --------------------------------------------------------------------------------------------- rendering


@dataclass
class RealClip:
    """One rendered clip and how it was made (all positions in frame pixels)."""

    frames: np.ndarray  # (T, 480, 640, 3) uint8 RGB
    fps: float
    label: str  # a class of CLASSES, or "probe:<kind>"
    photo: str | None
    landmarks: Landmarks | None  # where the neutral face's landmarks are in frame 0
    variant: Variant | None
    intensity: np.ndarray  # envelope per frame, (T,) float64
    onset: int  # first frame with motion
    apex: int  # frame of the highest intensity
    offset: int  # last frame with motion (T - 1 when the clip is cut before the face is neutral again)
    cut: bool
    amplitude_px: float  # displacement of the main handles at the apex (before the side gains)
    peak_px: float  # largest displacement anywhere in the apex field
    params: dict = field(default_factory=dict)

    @property
    def amplitude_at_128(self) -> float:
        """`amplitude_px` in pixels of a 128 px template-aligned face."""
        if self.landmarks is None:
            return 0.0
        return self.amplitude_px * TEMPLATE_IOD_128 / self.landmarks.interocular


def _head_path(rng: np.random.Generator, n: int, drift_px: float, roll_deg: float) -> np.ndarray:
    """(n, 3): translation x, y (px) and roll (degrees) per frame; zero at frame 0."""
    ramp = np.linspace(0.0, 1.0, n) ** float(rng.uniform(0.7, 1.5))
    direction = rng.uniform(0, 2 * np.pi)
    amount = rng.uniform(0.0, drift_px)
    jitter = np.cumsum(rng.normal(0.0, 0.03, (n, 2)), axis=0)  # sub-pixel tremor
    jitter -= jitter[0]
    path = np.zeros((n, 3))
    path[:, 0] = amount * np.cos(direction) * ramp + jitter[:, 0]
    path[:, 1] = amount * np.sin(direction) * ramp + jitter[:, 1]
    path[:, 2] = rng.uniform(-roll_deg, roll_deg) * ramp
    return path


def _render(canvas: np.ndarray, field_px: np.ndarray | None, intensity: np.ndarray, path: np.ndarray,
            centre: Point, rng: np.random.Generator, noise_sigma: float, blur_sigma: float) -> np.ndarray:
    """Backward-warp the neutral canvas for every frame: head pose, then expression, then blur and noise.

    Output pixel x shows the head point u = R^-1 (x - shift) (roll about the face centre); the skin at u
    has moved by e(t) d(u), so it shows the neutral canvas at u - e(t) d(u).  The rigid part is one
    `warpAffine` of the whole frame; only the box where d is non-zero is re-sampled through `remap`.
    """
    h, w = canvas.shape[:2]
    frames = np.empty((len(intensity),) + canvas.shape, np.uint8)
    box = None
    if field_px is not None:
        moving = np.flatnonzero(np.abs(field_px).max(axis=2).max(axis=1) > 0), \
            np.flatnonzero(np.abs(field_px).max(axis=2).max(axis=0) > 0)
        if len(moving[0]):
            reach = int(np.ceil(np.abs(path[:, :2]).max() + np.radians(np.abs(path[:, 2]).max()) * max(h, w))) + 4
            y0, y1 = max(0, moving[0][0] - reach), min(h, moving[0][-1] + reach + 1)
            x0, x1 = max(0, moving[1][0] - reach), min(w, moving[1][-1] + reach + 1)
            box = (y0, y1, x0, x1)
            ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    # OpenCV's Gaussian generator is several times faster than numpy's at this size; seeded from `rng`, so
    # clips stay deterministic (its state is per thread).
    cv2.setRNGSeed(int(rng.integers(2**31)))
    noise = np.empty((h, w, canvas.shape[2]), np.float32)
    cx, cy = centre
    for t, (e, (tx, ty, roll)) in enumerate(zip(intensity, path)):
        a = np.radians(roll)
        c, s = np.cos(a), np.sin(a)
        # u = R^-1 (x - centre - shift) + centre, as a 2x3 map from output pixels to canvas pixels.
        inv = np.array([[c, s, cx - c * (cx + tx) - s * (cy + ty)], [-s, c, cy + s * (cx + tx) - c * (cy + ty)]])
        frame = cv2.warpAffine(canvas, inv, (w, h), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                               borderMode=cv2.BORDER_REFLECT101)
        if box is not None:
            y0, y1, x0, x1 = box
            ux = (inv[0, 0] * xs + inv[0, 1] * ys + inv[0, 2]).astype(np.float32)
            uy = (inv[1, 0] * xs + inv[1, 1] * ys + inv[1, 2]).astype(np.float32)
            d = cv2.remap(field_px, ux, uy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
            frame[y0:y1, x0:x1] = cv2.remap(canvas, ux - np.float32(e) * d[..., 0], uy - np.float32(e) * d[..., 1],
                                            cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT101)
        out = frame.astype(np.float32)
        if blur_sigma > 0:
            out = cv2.GaussianBlur(out, (0, 0), blur_sigma)
        if noise_sigma > 0:
            out += cv2.randn(noise, (0.0,) * 3, (noise_sigma,) * 3)
        np.clip(out, 0, 255, out=out)
        frames[t] = np.rint(out).astype(np.uint8)
    return frames


def _camera(rng: np.random.Generator) -> dict:
    return {
        "drift_px": float(rng.uniform(0.2, 2.0)),
        "roll_deg": float(rng.uniform(0.0, 0.6)),
        "noise_sigma": float(rng.uniform(1.0, 3.0)),
        "blur_sigma": float(rng.uniform(0.3, 1.0)) if rng.random() < 0.5 else 0.0,
    }


def make_clip(
    label: str,
    photo: str,
    seed: int,
    *,
    fps: float = 200.0,
    n_frames: tuple[int, int] = (40, 90),
    mirror: bool | None = None,
    variant: Variant | None = None,
    amplitude_iod: float | None = None,
    size: tuple[int, int] = FRAME_SIZE,
) -> RealClip:
    """Render one micro-expression of class `label` on the named photo (`photos.PHOTO_NAMES`).

    `seed` fixes everything (placement, amplitude, asymmetry, envelope, head drift, noise); `mirror`,
    `variant` and `amplitude_iod` (fraction of the IOD, default drawn from `AMPLITUDE_IOD`) override parts.
    """
    from .photos import LANDMARKS

    if label not in CLASSES:
        raise ValueError(f"unknown class {label!r}; choose one of {', '.join(CLASSES)}")
    if photo not in LANDMARKS:
        raise ValueError(f"unknown photo {photo!r}; choose one of {', '.join(LANDMARKS)}")
    if not 2 <= n_frames[0] <= n_frames[1]:
        raise ValueError(f"clip length range must satisfy 2 <= min <= max, got {n_frames}")
    # One stream per (seed, class, photo, mirror): the same seed gives unrelated clips for different classes,
    # and a mirrored clip is not the flipped twin of an unmirrored one.
    mirror_code = {None: 2, False: 0, True: 1}[None if mirror is None else bool(mirror)]
    rng = np.random.default_rng([seed, CLASSES.index(label), list(LANDMARKS).index(photo), mirror_code])
    variant = variant or random_variant(rng, LANDMARKS[photo], size, mirror=mirror)
    canvas, marks, _ = place_photo(load_photo(photo), LANDMARKS[photo], variant, size)
    amp_iod = float(rng.uniform(*AMPLITUDE_IOD)) if amplitude_iod is None else float(amplitude_iod)
    amplitude_px = amp_iod * marks.interocular
    motion = class_motion(label, marks, amplitude_px, rng)
    field_px = motion.grid(size)
    env, T = random_envelope(rng, fps, n_frames)
    intensity = env(np.arange(T) / fps)
    cam = _camera(rng)
    path = _head_path(rng, T, cam["drift_px"], cam["roll_deg"])
    frames = _render(canvas, field_px, intensity, path, marks.face_centre, rng, cam["noise_sigma"], cam["blur_sigma"])
    moving = np.flatnonzero(intensity > 1e-3)
    onset = int(moving[0]) if len(moving) else 0
    offset = int(moving[-1]) if len(moving) else T - 1
    params = {"envelope": env.__dict__ | {"apex_s": env.apex, "offset_s": env.offset}, "amplitude_iod": amp_iod,
              **cam, "iod_px": marks.interocular, "seed": seed}
    return RealClip(frames, fps, label, photo, marks, variant, intensity, onset, int(np.argmax(intensity)),
                    offset, env.offset * fps > T - 1, amplitude_px,
                    float(np.linalg.norm(field_px, axis=-1).max()), params)


def probe_clip(kind: str, seed: int, *, fps: float = 200.0, n_frames: int = 60, photo: str = "grace_hopper",
               size: tuple[int, int] = FRAME_SIZE) -> RealClip:
    """An abstention probe: a clip in which there is no micro-expression to find.

    kinds: "black" (all zero), "noise" (independent uniform noise per frame), "no-face" (a scene with no
    person, scikit-image's `coffee`, else a smooth random texture, with head-like drift and sensor noise),
    "static-face" (a real face, placed like the benchmark clips, with sensor noise only: no drift, no motion).
    """
    if kind not in PROBES:
        raise ValueError(f"unknown probe {kind!r}; choose one of {', '.join(PROBES)}")
    w, h = size
    rng = np.random.default_rng(seed)
    zero = np.zeros(n_frames)
    label = f"probe:{kind}"
    if kind == "black":
        frames = np.zeros((n_frames, h, w, 3), np.uint8)
        return RealClip(frames, fps, label, None, None, None, zero, 0, 0, n_frames - 1, False, 0.0, 0.0)
    if kind == "noise":
        frames = rng.integers(0, 256, (n_frames, h, w, 3), dtype=np.uint8)
        return RealClip(frames, fps, label, None, None, None, zero, 0, 0, n_frames - 1, False, 0.0, 0.0)
    cam = _camera(rng)
    if kind == "no-face":
        canvas = _scene(size, seed)
        path = _head_path(rng, n_frames, cam["drift_px"], cam["roll_deg"])
        frames = _render(canvas, None, zero, path, ((w - 1) / 2, (h - 1) / 2), rng, cam["noise_sigma"], cam["blur_sigma"])
        return RealClip(frames, fps, label, None, None, None, zero, 0, 0, n_frames - 1, False, 0.0, 0.0, cam)
    from .photos import LANDMARKS

    variant = random_variant(rng, LANDMARKS[photo], size)
    canvas, marks, _ = place_photo(load_photo(photo), LANDMARKS[photo], variant, size)
    frames = _render(canvas, None, zero, np.zeros((n_frames, 3)), marks.face_centre, rng, cam["noise_sigma"], 0.0)
    return RealClip(frames, fps, label, photo, marks, variant, zero, 0, 0, n_frames - 1, False, 0.0, 0.0,
                    {"noise_sigma": cam["noise_sigma"]})


def _scene(size: tuple[int, int], seed: int) -> np.ndarray:
    """A frame-filling picture with no person in it (scikit-image's coffee cup when available)."""
    w, h = size
    try:
        from skimage import data

        scene = np.ascontiguousarray(data.coffee()[..., :3])  # CC0 photo: a coffee cup, no person
    except ImportError:
        return smooth_texture(size, seed)
    return cv2.resize(scene, (w, h), interpolation=cv2.INTER_AREA)
