"""The permitted real face photos, their hand-annotated landmarks, and same-identity variants of them.

Two public-domain portraits ship inside packages the toolkit already uses: matplotlib's sample
`grace_hopper.jpg` (US Navy portrait of Grace Hopper) and scikit-image's `astronaut.png` (NASA portrait of
Eileen Collins).  They are the real-face benchmark's only identities (`bench/bench_realface.py`); no other
photo of a person is used, and nothing in the toolkit trains on them.

Landmarks were annotated by hand on zoomed crops, in photo pixels with OpenCV's convention (integer
coordinates are pixel centres).  Eyes, mouth, lips, nose and chin are about 1-2 px accurate; Grace Hopper's
brows are faint and grey just above her glasses' rim (about 3 px); cheek centres are the middle of the
cheek's fullness below the outer eye, a region rather than a point (about 5 px).  "Right" and "left" are the
subject's: the subject's right eye is the image-left one, and every pair lists the image-left point first.

`place_photo` makes *variants* of a photo inside a video frame: mirror image, scale and position,
background fill around the photo, colour and brightness change.  A variant is the **same identity**, not a
new subject: count results per photo, never per variant.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace

import cv2
import numpy as np

Point = tuple[float, float]
Pair = tuple[Point, Point]
BACKGROUNDS: tuple[str, ...] = ("replicate", "flat", "texture")


@dataclass(frozen=True)
class Landmarks:
    """Facial landmarks of one face, (x, y) in image pixels; pairs are image-left first."""

    eyes: Pair  # eye centres (middle of the iris; both subjects look into the camera)
    brow_inner: Pair  # brow ends next to the nose
    brow_middle: Pair  # highest point of each brow's arch
    brow_outer: Pair  # brow ends towards the temples
    nose_tip: Point
    mouth_corners: Pair
    upper_lip: Point  # upper edge of the upper lip's red, on the midline
    lower_lip: Point  # lower edge of the lower lip's red, on the midline
    chin: Point  # lowest point of the chin
    cheeks: Pair  # centre of each cheek's fullness, below the outer eye

    @property
    def interocular(self) -> float:
        """Distance between the eye centres, the unit of the real-face motion model."""
        (x1, y1), (x2, y2) = self.eyes
        return float(np.hypot(x2 - x1, y2 - y1))

    @property
    def face_centre(self) -> Point:
        """Midway between the eyes' midpoint and the mouth corners' midpoint."""
        e = np.mean(self.eyes, axis=0)
        m = np.mean(self.mouth_corners, axis=0)
        return float((e[0] + m[0]) / 2), float((e[1] + m[1]) / 2)

    def points(self) -> dict[str, Point]:
        """Every landmark by name; pairs split into `<name>_0` (image left) and `<name>_1`."""
        out: dict[str, Point] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value[0], tuple):
                out[f"{f.name}_0"], out[f"{f.name}_1"] = value
            else:
                out[f.name] = value
        return out

    def transformed(self, M: np.ndarray) -> Landmarks:
        """The landmarks under a 2x3 affine map (e.g. where a placed photo's face lands in the frame)."""
        M = np.asarray(M, dtype=np.float64)

        def tf(p: Point) -> Point:
            x, y = M @ np.array([p[0], p[1], 1.0])
            return float(x), float(y)

        kw = {}
        for f in fields(self):
            value = getattr(self, f.name)
            kw[f.name] = (tf(value[0]), tf(value[1])) if isinstance(value[0], tuple) else tf(value)
        return Landmarks(**kw)

    def mirrored(self, width: int) -> Landmarks:
        """The landmarks of the horizontally flipped image (x -> width - 1 - x), pairs re-ordered so the
        image-left point stays first (the mirrored face's right eye is again the image-left one)."""
        flip = np.array([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0]])
        m = self.transformed(flip)
        kw = {f.name: getattr(m, f.name)[::-1] for f in fields(m) if isinstance(getattr(m, f.name)[0], tuple)}
        return replace(m, **kw)


LANDMARKS: dict[str, Landmarks] = {
    "grace_hopper": Landmarks(
        eyes=((223.5, 188.5), (304.0, 186.0)),
        brow_inner=((245.0, 164.0), (278.0, 163.0)),
        brow_middle=((215.0, 157.0), (308.0, 156.0)),
        brow_outer=((190.0, 167.0), (340.0, 162.0)),
        nose_tip=(266.0, 238.0),
        mouth_corners=((229.0, 279.0), (304.0, 276.0)),
        upper_lip=(266.0, 270.0),
        lower_lip=(266.0, 289.0),
        chin=(266.0, 326.0),
        cheeks=((208.0, 238.0), (322.0, 235.0)),
    ),
    "astronaut": Landmarks(
        eyes=((203.0, 100.0), (246.0, 103.0)),
        brow_inner=((215.0, 91.0), (235.0, 93.0)),
        brow_middle=((203.0, 89.0), (248.0, 91.0)),
        brow_outer=((191.0, 90.0), (260.0, 94.0)),
        nose_tip=(224.0, 125.0),
        mouth_corners=((203.0, 141.0), (246.0, 141.0)),
        upper_lip=(224.0, 138.0),
        lower_lip=(224.0, 153.0),
        chin=(224.0, 181.0),
        cheeks=((195.0, 125.0), (253.0, 125.0)),
    ),
}
PHOTO_NAMES: tuple[str, ...] = tuple(LANDMARKS)
LICENCES: dict[str, str] = {
    "grace_hopper": "public domain (US Navy photo), shipped as matplotlib sample data",
    "astronaut": "public domain (NASA photo of Eileen Collins), shipped in scikit-image's data",
}


def load_photo(name: str) -> np.ndarray:
    """The named photo as (H, W, 3) RGB uint8 (no network: both ship inside installed packages)."""
    if name == "grace_hopper":
        from matplotlib import cbook
        from PIL import Image

        with cbook.get_sample_data("grace_hopper.jpg") as f:
            return np.asarray(Image.open(f).convert("RGB")).copy()
    if name == "astronaut":
        try:
            from skimage import data
        except ImportError as exc:  # a test/benchmark dependency only
            raise RuntimeError("the astronaut photo needs scikit-image (pip install scikit-image)") from exc
        return np.ascontiguousarray(data.astronaut()[..., :3])
    raise ValueError(f"unknown photo {name!r}; choose one of {', '.join(PHOTO_NAMES)}")


@dataclass(frozen=True)
class Variant:
    """How one photo is shown inside a frame; every variant is the same identity as the photo.

    `iod_px` is the interocular distance in the frame, `centre` where the face centre lands (frame pixels;
    None: the frame's middle), `gains` multiply R, G, B, `brightness` is added (grey levels), `gamma`
    bends the tone curve; `background` fills the frame outside the photo: "replicate" (the photo's edge
    pixels smeared outwards), "flat" (`fill` colour) or "texture" (smooth random texture from `seed`).
    """

    mirror: bool = False
    iod_px: float = 60.0
    centre: Point | None = None
    background: str = "replicate"
    fill: tuple[int, int, int] = (128, 128, 128)
    gains: tuple[float, float, float] = (1.0, 1.0, 1.0)
    brightness: float = 0.0
    gamma: float = 1.0
    seed: int = 0


def random_variant(rng: np.random.Generator, landmarks: Landmarks, size: tuple[int, int] = (640, 480), *,
                   iod_range: tuple[float, float] = (40.0, 110.0), mirror: bool | None = None) -> Variant:
    """A random placement and colour change with the whole face (brows to chin) inside the frame."""
    w, h = size
    mirror = bool(rng.random() < 0.5) if mirror is None else mirror
    iod = float(rng.uniform(*iod_range))
    scale = iod / landmarks.interocular
    rel = np.array(list(landmarks.points().values())) - landmarks.face_centre
    if mirror:
        rel[:, 0] *= -1.0
    # Keep the landmarks' box plus a margin of half an interocular distance inside the frame.
    lo = rel.min(axis=0) * scale - 0.5 * iod
    hi = rel.max(axis=0) * scale + 0.5 * iod
    x = float(rng.uniform(-lo[0], max(-lo[0], w - hi[0])))
    y = float(rng.uniform(-lo[1], max(-lo[1], h - hi[1])))
    return Variant(
        mirror=mirror,
        iod_px=iod, centre=(x, y),
        background=str(rng.choice(BACKGROUNDS)),
        fill=tuple(int(v) for v in rng.integers(20, 236, 3)),
        gains=tuple(float(v) for v in rng.uniform(0.85, 1.15, 3)),
        brightness=float(rng.uniform(-25, 25)),
        gamma=float(rng.uniform(0.8, 1.25)),
        seed=int(rng.integers(2**31)),
    )


def smooth_texture(size: tuple[int, int], seed: int, *, scale: float = 24.0) -> np.ndarray:
    """A smooth random colour texture (low-passed noise), (h, w, 3) uint8, for backgrounds and no-face probes."""
    w, h = size
    rng = np.random.default_rng(seed)
    small = rng.normal(0.0, 1.0, (max(2, int(h / scale)) + 2, max(2, int(w / scale)) + 2, 3)).astype(np.float32)
    big = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    big = cv2.GaussianBlur(big, (0, 0), scale / 3)
    big = (big - big.mean()) / (big.std() + 1e-6)
    base = rng.uniform(70, 180, 3)
    return np.clip(base + 35.0 * big, 0, 255).astype(np.uint8)


def place_photo(photo: np.ndarray, landmarks: Landmarks, variant: Variant,
                size: tuple[int, int] = (640, 480)) -> tuple[np.ndarray, Landmarks, np.ndarray]:
    """Render a variant of a photo into a (h, w, 3) uint8 frame of `size` = (w, h).

    Returns the frame, the landmarks in frame pixels, and the 2x3 map from photo pixels to frame pixels
    (after the mirror, if any).
    """
    if variant.background not in BACKGROUNDS:
        raise ValueError(f"unknown background {variant.background!r}; choose one of {', '.join(BACKGROUNDS)}")
    w, h = size
    photo = np.asarray(photo)
    if variant.mirror:
        photo = photo[:, ::-1]
        landmarks = landmarks.mirrored(photo.shape[1])
    s = variant.iod_px / landmarks.interocular
    cx, cy = landmarks.face_centre
    tx, ty = variant.centre if variant.centre is not None else ((w - 1) / 2, (h - 1) / 2)
    M = np.array([[s, 0.0, tx - s * cx], [0.0, s, ty - s * cy]])
    # Shrinking a photo with bilinear sampling aliases; INTER_AREA only works for plain resizes, so blur first.
    src = cv2.GaussianBlur(photo, (0, 0), 0.5 / s) if s < 0.7 else photo
    if variant.background == "replicate":
        frame = cv2.warpAffine(src, M, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    else:
        frame = cv2.warpAffine(src, M, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        inside = cv2.warpAffine(np.full(photo.shape[:2], 255, np.uint8), M, (w, h), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT)[..., None].astype(np.float32) / 255.0
        if variant.background == "flat":
            back = np.empty_like(frame)
            back[:] = variant.fill
        else:
            back = smooth_texture(size, variant.seed)
        frame = (inside * frame + (1.0 - inside) * back).round().astype(np.uint8)
    frame = _recolour(frame, variant)
    return frame, landmarks.transformed(M), M


def _recolour(frame: np.ndarray, variant: Variant) -> np.ndarray:
    if variant.gains == (1.0, 1.0, 1.0) and variant.brightness == 0.0 and variant.gamma == 1.0:
        return frame
    x = (frame.astype(np.float32) / 255.0) ** variant.gamma
    x = x * np.asarray(variant.gains, np.float32) * 255.0 + variant.brightness
    return np.clip(x, 0, 255).round().astype(np.uint8)
