"""Animating a neutral face: the onset -> apex -> offset envelope, the AU warp and the nuisances.

Every frame is the neutral face backward-warped with `cv2.remap` by envelope(t) x (AU displacement field),
composed with a small rigid head motion; sub-pixel sampling keeps 0.5-3 px motions visible in a dynamic
image.  Then come the nuisances a model must learn to ignore, in every class alike: eye blinks, glasses that
move with the head but not with the muscles, illumination flicker, sensor noise and JPEG compression.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from .faces import Canvas, FaceLayers, _soft, ellipse_sd

REFERENCE_SIZE = 128  # amplitudes are quoted in pixels of a 128 px face, as in the issue


@dataclass(frozen=True)
class Timing:
    """Frame indices (0-based) of a clip's phases; the face is neutral before onset and after offset."""

    n_frames: int
    onset: int
    apex: int
    offset: int

    def __post_init__(self):
        if not 0 <= self.onset < self.apex < self.offset < self.n_frames:
            raise ValueError(f"need 0 <= onset < apex < offset < n_frames, got {self}")


def random_timing(rng: np.random.Generator, n_frames: tuple[int, int] = (32, 48)) -> Timing:
    """A CASME II-like clip: a few neutral frames, a rise to the apex at 35-60% of the way, a return."""
    lo, hi = n_frames
    if not 12 <= lo <= hi:
        raise ValueError(f"clip length range must satisfy 12 <= min <= max, got {n_frames}")
    T = int(rng.integers(lo, hi + 1))
    onset = int(rng.integers(1, 5))
    offset = T - 1 - int(rng.integers(1, 5))
    apex = onset + int(round(rng.uniform(0.35, 0.6) * (offset - onset)))
    return Timing(T, onset, apex, offset)


ENVELOPES: tuple[str, ...] = ("raised-cosine", "linear", "fast-rise", "plateau", "unfinished")


def envelope(timing: Timing, shape: str = "raised-cosine", residual: float = 0.5) -> np.ndarray:
    """Expression intensity per frame, float64 (T,): 0 before the onset, 1 at the apex.

    "raised-cosine" (default) rises and falls smoothly, so velocities start and end at zero like a real muscle
    twitch, and is 0 after the offset.  The other shapes vary the time course for domain randomisation:
    "linear" ramps, "fast-rise" (a quick rise and a slow, convex decay), "plateau" (the apex is held for the
    middle half of the expression) and "unfinished" (the face only relaxes to `residual` by the offset and
    stays there: the clip was cut before it returned to neutral).
    """
    if shape not in ENVELOPES:
        raise ValueError(f"unknown envelope {shape!r}; choose one of {', '.join(ENVELOPES)}")
    t = np.arange(timing.n_frames, dtype=np.float64)
    x = np.clip((t - timing.onset) / (timing.apex - timing.onset), 0.0, 1.0)  # 0 -> 1 over the rise
    y = np.clip((t - timing.apex) / (timing.offset - timing.apex), 0.0, 1.0)  # 0 -> 1 over the fall
    if shape == "raised-cosine":
        rise = 0.5 - 0.5 * np.cos(np.pi * (t - timing.onset) / (timing.apex - timing.onset))
        fall = 0.5 + 0.5 * np.cos(np.pi * (t - timing.apex) / (timing.offset - timing.apex))
        e = np.where(t <= timing.apex, rise, fall)
        e[(t < timing.onset) | (t > timing.offset)] = 0.0
        return e
    if shape == "linear":
        rise, fall = x, 1.0 - y
    elif shape == "fast-rise":
        rise, fall = 1.0 - (1.0 - x) ** 3, (1.0 - y) ** 2
    elif shape == "plateau":
        rise = 0.5 - 0.5 * np.cos(np.pi * np.clip(2 * x, 0, 1))
        fall = 0.5 + 0.5 * np.cos(np.pi * np.clip(2 * y - 1, 0, 1))
    else:  # unfinished
        rise = 0.5 - 0.5 * np.cos(np.pi * x)
        fall = 1.0 - (1.0 - residual) * (0.5 - 0.5 * np.cos(np.pi * y))
    e = np.where(t <= timing.apex, rise, fall)
    e[t < timing.onset] = 0.0
    return e


@dataclass(frozen=True)
class Nuisances:
    """Ranges of the class-independent disturbances; each clip draws its own values inside them.

    Lengths are pixels of a 128 px face (scaled with the clip size); `noise_sigma` is in grey levels.
    `Nuisances.none()` switches everything off (pure AU motion, for tests and ground-truth checks).
    """

    head_drift_px: float = 0.3  # largest rigid translation reached by the end of the clip
    head_rotation_deg: float = 0.2  # largest in-plane rotation reached by the end of the clip
    jitter_px: float = 0.03  # per-frame tremor (std)
    blink_probability: float = 0.2
    flicker: float = 0.015  # largest relative brightness swing
    noise_sigma: tuple[float, float] = (0.5, 2.0)
    jpeg_quality: tuple[int, int] | None = (75, 95)  # None: no compression
    # Camera differences, off by default (domain randomisation turns them on): optical blur (Gaussian sigma,
    # px of a 128 px face), a display gamma, and greyscale sensors (SAMM is greyscale).
    blur_px: tuple[float, float] = (0.0, 0.0)
    gamma: tuple[float, float] = (1.0, 1.0)
    greyscale_probability: float = 0.0

    @classmethod
    def none(cls) -> "Nuisances":
        """No nuisance at all."""
        return cls(head_drift_px=0.0, head_rotation_deg=0.0, jitter_px=0.0, blink_probability=0.0, flicker=0.0,
                   noise_sigma=(0.0, 0.0), jpeg_quality=None)


@dataclass
class Rendered:
    """Frames of an animated face and what the nuisances drew."""

    frames: np.ndarray  # (T, H, W, 3) uint8 RGB
    jpeg: list[bytes] | None  # the encoded frames when compression is on (decoding them gives `frames`)
    record: dict = field(default_factory=dict)


def blink_closure(rng: np.random.Generator, n_frames: int, fps: float, probability: float) -> np.ndarray:
    """Eyelid closure per frame in [0, 1] (zeros when this clip has no blink).

    A blink lasts 80-180 ms (fast close, slower reopening) and may be cut by either end of the clip.
    """
    # Draw everything unconditionally so the other nuisances do not depend on whether a blink happened.
    happens = rng.uniform() < probability
    duration = rng.uniform(0.08, 0.18) * fps
    start = rng.uniform(-duration / 2, n_frames - duration / 2)
    depth = rng.uniform(0.3, 1.0)  # partial blinks are common
    if not happens:
        return np.zeros(n_frames)
    x = (np.arange(n_frames) - start) / duration  # 0..1 over the blink
    close = 0.35
    c = np.where(x < close, 0.5 - 0.5 * np.cos(np.pi * x / close),
                 0.5 + 0.5 * np.cos(np.pi * (x - close) / (1 - close)))
    c[(x < 0) | (x > 1)] = 0.0
    return depth * c


class _Blinker:
    """Closes the eyes of a neutral face by sliding skin-coloured upper lids down over the openings."""

    def __init__(self, face: np.ndarray, eye_boxes, canvas: Canvas):
        self.u, self.v = canvas.grid()
        self.px = canvas.px
        self.eyes = []
        for cx, cy, ew, eh in eye_boxes:
            # Lid colour: the skin just above the eye opening of this very face (works for photos too).
            band = (np.abs(self.u - cx) < 0.7 * ew) & (self.v > cy - eh - 0.035) & (self.v < cy - eh - 0.012)
            colour = np.median(face[band], axis=0) if band.any() else face.reshape(-1, 3).mean(0)
            rx, ry = ew * 1.12, eh * 1.4
            region = _soft(ellipse_sd(self.u, self.v, cx, cy, rx, ry), self.px)
            self.eyes.append((cy, ry, region, colour.astype(np.float32)))

    def __call__(self, face: np.ndarray, closure: float) -> np.ndarray:
        out = face.copy()
        for cy, ry, region, colour in self.eyes:
            edge = cy - ry + closure * 2 * ry
            lid = region * _soft(self.v - edge, self.px)
            shade = colour * (0.96 - 0.08 * np.clip((self.v - (cy - ry)) / (2 * ry), 0, 1))[..., None]
            out = out * (1 - lid[..., None]) + shade * lid[..., None]
            lash = region * _soft(np.abs(self.v - edge) - 0.0035, self.px) * min(1.0, closure / 0.15)
            out *= (1 - 0.75 * lash)[..., None]
        return out


@dataclass(frozen=True)
class _Camera:
    """One clip's draws of the nuisances: rigid head motion, blink, flicker and the sensor.

    Drawn in a fixed order from the clip's stream, so that switching one nuisance off leaves the others alone.
    """

    drift_dir: float
    drift: float  # canvas pixels
    angle_end: float  # radians
    ramp: np.ndarray  # (T,) 0 -> 1
    jitter: np.ndarray  # (T, 2) canvas pixels
    closure: np.ndarray  # (T,) eyelid closure
    gain: tuple[float, float, float, float]  # flicker amplitude, frequency, phase and linear trend
    tint: np.ndarray  # (3,)
    sigma: float  # noise std, in [0, 1] units
    quality: int | None  # JPEG quality, None for no compression
    blur: float  # Gaussian blur sigma, canvas pixels
    gamma: float
    greyscale: bool

    @classmethod
    def draw(cls, rng: np.random.Generator, nz: Nuisances, T: int, fps: float, scale: float) -> "_Camera":
        drift_dir = rng.uniform(0, 2 * np.pi)
        drift = rng.uniform(0, 1) * nz.head_drift_px * scale  # a smooth drift to a random end pose
        angle_end = np.deg2rad(rng.uniform(-1, 1) * nz.head_rotation_deg)
        ramp = (np.arange(T) / (T - 1)) ** rng.uniform(0.7, 1.5)  # speeding up or slowing down
        jitter = rng.standard_normal((T, 2)) * nz.jitter_px * scale  # a tiny tremor
        closure = blink_closure(rng, T, fps, nz.blink_probability)
        gain = (rng.uniform(0, nz.flicker), rng.uniform(2, 30), rng.uniform(0, 2 * np.pi),
                rng.uniform(-nz.flicker, nz.flicker))
        tint = 1 + rng.uniform(-0.3, 0.3, 3) * nz.flicker  # flicker is not perfectly grey
        sigma = rng.uniform(*nz.noise_sigma) / 255.0
        quality = int(rng.integers(nz.jpeg_quality[0], nz.jpeg_quality[1] + 1)) if nz.jpeg_quality else None
        # Camera draws only when switched on, so clips made without them keep their exact random stream.
        blur = rng.uniform(*nz.blur_px) * scale if nz.blur_px[1] > 0 else 0.0
        gamma = rng.uniform(*nz.gamma) if nz.gamma != (1.0, 1.0) else 1.0
        greyscale = bool(rng.uniform() < nz.greyscale_probability) if nz.greyscale_probability > 0 else False
        return cls(drift_dir, drift, angle_end, ramp, jitter, closure, gain, tint, sigma, quality, blur, gamma,
                   greyscale)

    def head_pose(self, t: int) -> tuple[float, float, float]:
        """The inverse rigid map's angle and shift at frame `t`."""
        a = -self.angle_end * self.ramp[t]
        tx = self.drift * np.cos(self.drift_dir) * self.ramp[t] + self.jitter[t, 0]
        ty = self.drift * np.sin(self.drift_dir) * self.ramp[t] + self.jitter[t, 1]
        return a, tx, ty

    def sensor(self, img: np.ndarray, t: int, T: int, fps: float, rng: np.random.Generator) -> np.ndarray:
        """Blur, gamma, greyscale, flicker and noise of frame `t`, then 8-bit quantisation."""
        if self.blur > 0:
            img = cv2.GaussianBlur(img, (0, 0), self.blur)
        if self.gamma != 1.0:
            img = np.clip(img, 0, 1) ** np.float32(self.gamma)
        if self.greyscale:
            img = np.repeat(cv2.cvtColor(np.ascontiguousarray(img, np.float32), cv2.COLOR_RGB2GRAY)[..., None], 3, 2)
        amp, freq, phase, trend = self.gain
        gain = 1 + amp * np.sin(2 * np.pi * freq * t / fps + phase) + trend * t / T
        img = img * (gain * self.tint).astype(np.float32)
        if self.sigma > 0:
            img = img + rng.standard_normal(img.shape, dtype=np.float32) * self.sigma
        return np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)

    def record(self, scale: float) -> dict:
        """What was drawn, in the units of `Nuisances` (reference-size pixels, degrees)."""
        blinking = np.flatnonzero(self.closure > 0.05)
        return {
            "head_drift_px": round(float(self.drift / scale), 4),
            "head_rotation_deg": round(float(np.rad2deg(self.angle_end)), 4),
            "blink": [int(blinking[0]), int(blinking[-1])] if blinking.size else None,
            "flicker": round(float(self.gain[0]), 5),
            "noise_sigma": round(float(self.sigma * 255), 4),
            "jpeg_quality": self.quality,
            **({"blur_px": round(float(self.blur / scale), 4)} if self.blur else {}),
            **({"gamma": round(float(self.gamma), 4)} if self.gamma != 1.0 else {}),
            **({"greyscale": True} if self.greyscale else {}),
        }


def _jpeg_round_trip(frame: np.ndarray, quality: int) -> tuple[np.ndarray, bytes]:
    """The frame as a JPEG at `quality` would decode, and the encoded bytes."""
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("OpenCV failed to JPEG-encode a synthetic frame")
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB), buf.tobytes()


def _sampling_grid(canvas: Canvas, field_px: np.ndarray, view: np.ndarray | None, out_size: int | None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Canvas coordinates (xs, ys) of every output pixel, and the AU field resampled onto the output."""
    if view is None:
        ys, xs = np.mgrid[0:canvas.height, 0:canvas.width].astype(np.float32)
        return xs, ys, field_px
    oy, ox = np.mgrid[0:out_size, 0:out_size].astype(np.float32)
    xs = (view[0, 0] * ox + view[0, 1] * oy + view[0, 2]).astype(np.float32)
    ys = (view[1, 0] * ox + view[1, 1] * oy + view[1, 2]).astype(np.float32)
    field_px = np.stack([cv2.remap(np.ascontiguousarray(field_px[..., k]), xs, ys, cv2.INTER_LINEAR,
                                   borderMode=cv2.BORDER_CONSTANT) for k in range(2)], -1)
    return xs, ys, field_px


def animate(
    layers: FaceLayers,
    field_px: np.ndarray,
    timing: Timing,
    rng: np.random.Generator,
    *,
    canvas: Canvas,
    eye_boxes,
    fps: float = 200.0,
    nuisances: Nuisances | None = None,
    env: np.ndarray | None = None,
    view: np.ndarray | None = None,
    out_size: int | None = None,
) -> Rendered:
    """Render the clip: neutral face + envelope x AU field (`field_px`, (H, W, 2) pixels at the apex) + nuisances.

    `eye_boxes` are (cx, cy, half width, half height) of the eye openings in template units, for blinks;
    `env` is the expression intensity per frame (default: the raised-cosine `envelope(timing)`).  `view` (a 2x3
    map from output pixels to canvas pixels) renders an `out_size` px square seen through it, e.g. a crop with
    an alignment error; the AU field stays attached to the face.
    """
    nz = Nuisances() if nuisances is None else nuisances
    T = timing.n_frames
    scale = canvas.side / REFERENCE_SIZE
    env = envelope(timing) if env is None else np.asarray(env, dtype=np.float64)
    cam = _Camera.draw(rng, nz, T, fps, scale)
    xs, ys, field_px = _sampling_grid(canvas, field_px, view, out_size)
    centre = (canvas.origin[0] + 0.5 * canvas.side - 0.5, canvas.origin[1] + 0.5 * canvas.side - 0.5)
    blinker = _Blinker(layers.face, eye_boxes, canvas) if cam.closure.any() else None
    frames = np.empty((T, *xs.shape, 3), np.uint8)
    encoded: list[bytes] | None = [] if cam.quality else None
    for t in range(T):
        closed = blinker is not None and cam.closure[t] > 0
        base = blinker(layers.face, float(cam.closure[t])) if closed else layers.face
        # Inverse rigid map (frame pixel -> face pixel), then the AU's backward warp on top.
        a, tx, ty = cam.head_pose(t)
        dx, dy = xs - centre[0] - tx, ys - centre[1] - ty
        rx = (np.cos(a) * dx - np.sin(a) * dy + centre[0]).astype(np.float32)
        ry = (np.sin(a) * dx + np.cos(a) * dy + centre[1]).astype(np.float32)
        map_x = (rx - env[t] * field_px[..., 0]).astype(np.float32)
        map_y = (ry - env[t] * field_px[..., 1]).astype(np.float32)
        img = cv2.remap(base, map_x, map_y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101)
        if layers.glasses_alpha is not None:  # glasses ride on the nose: rigid motion only
            ga = cv2.remap(layers.glasses_alpha, rx, ry, cv2.INTER_CUBIC, borderMode=cv2.BORDER_CONSTANT)
            gc = cv2.remap(layers.glasses_rgb, rx, ry, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
            ga = np.clip(ga, 0, 1)[..., None]
            img = img * (1 - ga) + gc * ga
        frame = cam.sensor(img, t, T, fps, rng)
        if cam.quality:
            frame, jpeg = _jpeg_round_trip(frame, cam.quality)
            encoded.append(jpeg)
        frames[t] = frame
    return Rendered(frames, encoded, cam.record(scale))
