"""Procedurally drawn faces in the canonical template frame, one identity per synthetic subject.

A face is painted as smooth analytic shapes (ellipses, bands along curves, soft noise) evaluated on a grid of
template coordinates, so the same identity renders at any size, anti-aliased, and can sit inside a larger
frame.  The eye centres are exactly `learnet.template.EYES` (the crop is "already aligned"); everything else
(head shape, brows, nose, mouth, hair, glasses, skin tone, texture, background, lighting) varies per identity.
All randomness comes from the identity's own seed, never from global state.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..template import LANDMARKS, LEFT_EYE, RIGHT_EYE

RGB = tuple[float, float, float]

# Skin tones from light to dark (sRGB in [0, 1]); identities interpolate between neighbours.
_SKIN_TONES = np.array([
    [0.98, 0.84, 0.74], [0.93, 0.75, 0.62], [0.82, 0.62, 0.47], [0.66, 0.46, 0.33],
    [0.49, 0.33, 0.23], [0.34, 0.22, 0.15],
])
_HAIR = np.array([[0.07, 0.05, 0.04], [0.22, 0.13, 0.07], [0.42, 0.27, 0.14], [0.72, 0.58, 0.35],
                  [0.62, 0.61, 0.60], [0.50, 0.22, 0.10]])
_IRIS = np.array([[0.30, 0.18, 0.08], [0.18, 0.10, 0.05], [0.25, 0.42, 0.60], [0.33, 0.45, 0.28],
                  [0.45, 0.35, 0.20]])


@dataclass(frozen=True)
class FaceIdentity:
    """The look of one synthetic subject; all lengths in template units (fractions of the crop side).

    Built by `random_identity(seed)`; `seed` also drives the identity's textures, so two renders of the same
    identity are identical at the same size.
    """

    seed: int
    skin: RGB
    hair: RGB
    iris: RGB
    lips: RGB
    brow: RGB
    background: tuple[RGB, RGB]
    clothes: RGB
    head: tuple[float, float, float, float]  # centre x, centre y, half width, half height
    jaw_taper: float  # how much narrower the head gets towards the chin
    eye_size: tuple[float, float]  # half width, half height of the eye opening
    iris_radius: float
    brow_y: float
    brow_thickness: float
    brow_length: float  # half length of each brow
    brow_arch: float
    nose_tip_y: float
    nose_width: float
    mouth_y: float
    mouth_half_width: float
    lip_thickness: tuple[float, float]  # upper, lower
    hairline_y: float
    hair_style: int  # 0 short, 1 long, 2 fringe, 3 receding
    texture: float  # relative strength of skin texture
    wrinkles: float  # 0..1, forehead lines and folds
    light: tuple[float, float]  # direction angle (radians) and strength of the key light
    glasses: bool
    beard: float = 0.0  # density of stubble / beard and moustache, 0 (none) .. 1 (full)
    # The resting mouth: real faces rarely rest perfectly neutral, and a micro-expression starts from there.
    smile: float = 0.0  # how far the mouth corners rest above (> 0) or below (< 0) a straight mouth line
    mouth_open: float = 0.0  # gap between the lips at the centre; > 0 shows the upper teeth

    def landmarks(self) -> dict[str, tuple[float, float]]:
        """`learnet.template.LANDMARKS` moved to this face's own features (action units anchor here)."""
        hw, my = self.mouth_half_width, self.mouth_y
        chin_y = self.head[1] + self.head[3] - 0.045
        # A bent mouth's corners sit on its mouth line; a straight one keeps the corners' original anchor, so
        # identities without a resting smile animate exactly as before.
        corner_y = my - 0.002 - self.smile
        return {
            **LANDMARKS,
            "right_eye": RIGHT_EYE,
            "left_eye": LEFT_EYE,
            "right_brow": (RIGHT_EYE[0], self.brow_y),
            "left_brow": (LEFT_EYE[0], self.brow_y),
            "glabella": (0.5, self.brow_y + 0.02),
            "nose_tip": (0.5, self.nose_tip_y),
            "right_mouth_corner": (0.5 - hw, corner_y if self.smile else my),
            "left_mouth_corner": (0.5 + hw, corner_y if self.smile else my),
            "upper_lip": (0.5, my - self.lip_thickness[0] - self.mouth_open / 2),
            "lower_lip": (0.5, my + self.lip_thickness[1] + self.mouth_open / 2),
            "chin": (0.5, chin_y),
        }

    def eye_boxes(self) -> tuple[tuple[float, float, float, float], ...]:
        """(cx, cy, half width, half height) of both eye openings, image-left first (blinks close these)."""
        return tuple((x, y, *self.eye_size) for x, y in (RIGHT_EYE, LEFT_EYE))


def random_identity(seed: int) -> FaceIdentity:
    """A random but plausible face, deterministic from `seed`."""
    rng = np.random.default_rng(seed)
    u = rng.uniform

    def pick(table: np.ndarray, jitter: float) -> RGB:
        t = u(0, len(table) - 1)
        i = min(int(t), len(table) - 2)
        c = table[i] * (1 - (t - i)) + table[i + 1] * (t - i)
        return tuple(np.clip(c * u(1 - jitter, 1 + jitter, 3), 0, 1).tolist())

    skin = pick(_SKIN_TONES, 0.04)
    hair = tuple(_HAIR[rng.integers(len(_HAIR))] * u(0.85, 1.15, 3))
    hair = tuple(float(np.clip(c, 0, 1)) for c in hair)
    lips = tuple(float(c) for c in np.clip(np.array(skin) * [u(0.74, 0.90), u(0.45, 0.60), u(0.48, 0.62)], 0, 1))
    brow = tuple(float(c) for c in np.minimum(np.array(hair) * 0.9, np.array(skin) * u(0.25, 0.45)))
    bg_hue = u(0, 1, 3)
    bg1 = tuple((0.2 + 0.6 * bg_hue * u(0.5, 1.0)).tolist())
    bg2 = tuple(np.clip(np.array(bg1) * u(0.6, 1.2, 3), 0, 1).tolist())
    half_h = u(0.44, 0.49)
    return FaceIdentity(
        seed=int(seed),
        skin=skin,
        hair=hair,
        iris=tuple(_IRIS[rng.integers(len(_IRIS))].tolist()),
        lips=lips,
        brow=brow,
        background=(bg1, bg2),
        clothes=tuple(u(0.05, 0.7, 3).tolist()),
        head=(0.5 + u(-0.01, 0.01), u(0.47, 0.51), u(0.33, 0.40), half_h),
        jaw_taper=u(0.15, 0.35),
        eye_size=(u(0.052, 0.066), u(0.018, 0.026)),
        iris_radius=u(0.020, 0.026),
        brow_y=u(0.285, 0.35),
        brow_thickness=u(0.02, 0.034),
        brow_length=u(0.065, 0.09),
        brow_arch=u(0.005, 0.025),
        nose_tip_y=u(0.57, 0.62),
        nose_width=u(0.040, 0.058),
        mouth_y=u(0.735, 0.775),
        mouth_half_width=u(0.085, 0.115),
        lip_thickness=(u(0.017, 0.026), u(0.022, 0.034)),
        hairline_y=u(0.12, 0.2),
        hair_style=int(rng.integers(4)),
        texture=u(0.5, 2.5),
        wrinkles=u(0.0, 1.0),
        light=(u(0, 2 * np.pi), u(0.2, 0.6)),
        glasses=bool(u() < 0.2),
    )


# --------------------------------------------------------------------------------------------------------
# Drawing primitives on a grid of template coordinates (u right, v down); `px` is one pixel in template units.


@dataclass(frozen=True)
class Canvas:
    """Where the template square lies in a frame: frame (height, width) and the square's origin and side."""

    height: int
    width: int
    origin: tuple[float, float]  # pixel position of the template square's top-left corner
    side: float  # pixels per template unit

    @classmethod
    def make(cls, size: int, frame_size: int | tuple[int, int] | None = None,
             origin: tuple[float, float] | None = None) -> "Canvas":
        """A `size` px face square, alone or inside a (height, width) frame (centred unless `origin`)."""
        if size < 16:
            raise ValueError(f"the face crop must be at least 16 px, got {size}")
        if frame_size is None:
            return cls(size, size, (0.0, 0.0), float(size))
        h, w = (frame_size, frame_size) if isinstance(frame_size, int) else frame_size
        if h < size or w < size:
            raise ValueError(f"the frame ({w}x{h}) must be at least as large as the face crop ({size} px)")
        if origin is None:
            origin = ((w - size) / 2.0, (h - size) / 2.0)
        return cls(int(h), int(w), (float(origin[0]), float(origin[1])), float(size))

    def grid(self) -> tuple[np.ndarray, np.ndarray]:
        """Template coordinates (u, v) of every pixel centre, float32 (H, W) each."""
        x = (np.arange(self.width, dtype=np.float32) + 0.5 - self.origin[0]) / self.side
        y = (np.arange(self.height, dtype=np.float32) + 0.5 - self.origin[1]) / self.side
        return np.meshgrid(x, y)

    @property
    def px(self) -> float:
        return 1.0 / self.side


def _soft(sd: np.ndarray, px: float) -> np.ndarray:
    """Coverage in [0, 1] of a shape with signed distance `sd` (negative inside), one-pixel anti-aliasing."""
    return np.clip(0.5 - sd / px, 0.0, 1.0)


def ellipse_sd(u: np.ndarray, v: np.ndarray, cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
    """Approximate signed distance to an axis-aligned ellipse (first-order, exact on the boundary)."""
    dx, dy = (u - cx) / rx, (v - cy) / ry
    f = np.sqrt(dx * dx + dy * dy) + 1e-9
    grad = np.sqrt((dx / rx) ** 2 + (dy / ry) ** 2) / f + 1e-9
    return (f - 1.0) / grad


def _band(u, v, x0: float, x1: float, centre, half_thickness, px: float) -> np.ndarray:
    """Coverage of a band along the curve v = centre(u) for u in [x0, x1], tapering to points at the ends."""
    t = np.clip((u - x0) / (x1 - x0), 0.0, 1.0)
    inside = (u >= x0) & (u <= x1)
    thick = half_thickness(t) if callable(half_thickness) else half_thickness * np.ones_like(u)
    sd = np.abs(v - centre(u)) - thick
    return np.where(inside, _soft(sd, px), 0.0) * np.clip(np.minimum(t, 1 - t) / 0.08, 0, 1)


def _gauss(u, v, cx, cy, sx, sy) -> np.ndarray:
    return np.exp(-0.5 * (((u - cx) / sx) ** 2 + ((v - cy) / sy) ** 2))


def _paint(img: np.ndarray, alpha: np.ndarray, colour) -> None:
    """In place: img = img * (1 - alpha) + colour * alpha (colour an RGB triple or an image)."""
    a = alpha[..., None]
    img *= 1.0 - a
    img += a * np.asarray(colour, dtype=np.float32)


def smooth_noise(rng: np.random.Generator, u: np.ndarray, v: np.ndarray, cells: tuple[int, int]) -> np.ndarray:
    """Band-limited noise (unit std) with `cells` = (x, y) random values per template unit, sampled at (u, v).

    The random lattice lives in template units, so the texture is the same at every render size.
    """
    cx, cy = cells
    lattice = rng.standard_normal((cy + 4, cx + 4)).astype(np.float32)
    mx = (u * cx + 1.5).astype(np.float32)
    my = (v * cy + 1.5).astype(np.float32)
    return cv2.remap(lattice, mx, my, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101)


# --------------------------------------------------------------------------------------------------------


@dataclass
class FaceLayers:
    """A rendered neutral face: the face itself and the glasses, which move rigidly and not with the muscles."""

    face: np.ndarray  # float32 (H, W, 3) in [0, 1]
    glasses_rgb: np.ndarray | None = None  # float32 (H, W, 3)
    glasses_alpha: np.ndarray | None = None  # float32 (H, W)


@dataclass
class _Sheet:
    """The image being painted, its template grid, and the head's coverage (for marks that stay on the skin)."""

    img: np.ndarray  # float32 (H, W, 3), painted in place
    u: np.ndarray
    v: np.ndarray
    px: float
    head: np.ndarray | None = None

    def paint(self, alpha: np.ndarray, colour) -> None:
        _paint(self.img, alpha, colour)

    def darken(self, alpha: np.ndarray, amount: float) -> None:
        """Multiply the skin under `alpha` by (1 - amount): creases, folds and shadows."""
        np.multiply(self.img, (1 - amount * alpha * self.head)[..., None], out=self.img)

    def lighten(self, alpha: np.ndarray, amount: float) -> None:
        """Add `amount` under `alpha` on the skin: highlights."""
        self.img += (amount * alpha * self.head)[..., None]


def draw_face(identity: FaceIdentity, size: int = 128, frame_size: int | tuple[int, int] | None = None,
              origin: tuple[float, float] | None = None) -> FaceLayers:
    """Render the neutral face of `identity` as a `size` px aligned crop (or inside a larger frame).

    Returns float32 RGB in [0, 1] (and the glasses as a separate layer). Deterministic for a given identity,
    size and frame.  The parts are painted back to front, one painter each; the texture stream `rng` is
    consumed in this fixed order, so every part looks the same whatever the render size.
    """
    canvas = Canvas.make(size, frame_size, origin)
    u, v = canvas.grid()
    sheet = _Sheet(np.empty((canvas.height, canvas.width, 3), np.float32), u, v, canvas.px)
    rng = np.random.default_rng([identity.seed, 7])  # textures: a stream of their own, same at any size
    f = identity
    _paint_background(sheet, f, rng)
    _paint_shoulders(sheet, f)
    hair_img = _hair_texture(sheet, f, rng)
    _paint_head(sheet, f, rng, hair_img)
    _paint_wrinkles(sheet, f, rng)
    _paint_brows(sheet, f, rng)
    _paint_eyes(sheet, f)
    _paint_nose(sheet, f)
    _paint_mouth(sheet, f)
    if f.beard > 0:
        _draw_beard(sheet.img, u, v, sheet.px, f, sheet.head, hair_img)
    _paint_front_hair(sheet, f, rng, hair_img)

    # Global lighting gradient (the room's light), then clip.
    gl = rng.uniform(0, 2 * np.pi)
    sheet.img *= (1 + 0.12 * ((u - 0.5) * np.cos(gl) + (v - 0.5) * np.sin(gl)))[..., None]
    np.clip(sheet.img, 0, 1, out=sheet.img)

    layers = FaceLayers(sheet.img)
    if f.glasses:
        layers.glasses_rgb, layers.glasses_alpha = _draw_glasses(u, v, sheet.px, rng)
    return layers


def _paint_background(s: _Sheet, f: FaceIdentity, rng: np.random.Generator) -> None:
    """A gradient with soft blotches (an out-of-focus room)."""
    u, v = s.u, s.v
    ang = rng.uniform(0, 2 * np.pi)
    t = np.clip(0.5 + 0.6 * ((u - 0.5) * np.cos(ang) + (v - 0.5) * np.sin(ang)), 0, 1)[..., None]
    s.img[:] = np.asarray(f.background[0], np.float32) * (1 - t) + np.asarray(f.background[1], np.float32) * t
    s.img *= (1 + 0.06 * smooth_noise(rng, u, v, (3, 3)))[..., None]


def _paint_shoulders(s: _Sheet, f: FaceIdentity) -> None:
    """Shoulders and neck below the head."""
    u, v = s.u, s.v
    cx, cy = f.head[:2]
    s.paint(_soft(ellipse_sd(u, v, 0.5, 1.30, 0.62, 0.36), s.px), f.clothes)
    neck = _soft(np.maximum(np.abs(u - cx) - 0.13, -(v - (cy + 0.2))), s.px) * (v < 1.3)
    s.paint(neck, np.asarray(f.skin, np.float32) * 0.72)


def _hair_texture(s: _Sheet, f: FaceIdentity, rng: np.random.Generator) -> np.ndarray:
    """The hair colour with fine vertical strands, float32 (H, W, 3)."""
    hair = np.asarray(f.hair, np.float32)
    strands = smooth_noise(rng, s.u, s.v, (90, 6))
    return np.clip(hair[None, None] * (1 + 0.25 * strands[..., None]), 0, 1)


def _paint_head(s: _Sheet, f: FaceIdentity, rng: np.random.Generator, hair_img: np.ndarray) -> None:
    """Long hair behind the head, the ears, then the head: an egg (narrower at the jaw), shaded as an
    ellipsoid under a key light, with skin texture and blush.  Sets `s.head`, the head's coverage."""
    u, v, px = s.u, s.v, s.px
    cx, cy, rx, ry = f.head
    skin = np.asarray(f.skin, np.float32)
    if f.hair_style == 1:  # long styles fall to the shoulders
        back = _soft(ellipse_sd(u, v, cx, cy + 0.05, rx + 0.07, ry + 0.05), px) * _soft(v - (cy + 0.38), px)
        s.paint(back, hair_img)
    for side in (-1, 1):
        s.paint(_soft(ellipse_sd(u, v, cx + side * (rx * 0.97), 0.45, 0.032, 0.065), px), skin * 0.85)

    w = 1.0 - f.jaw_taper * np.clip((v - cy) / ry, 0, 1) ** 2
    head_sd = ellipse_sd(u / w + cx * (1 - 1 / w), v, cx, cy, rx, ry) * w
    s.head = _soft(head_sd, px)
    nx, ny = (u - cx) / (rx * w), (v - cy) / ry
    nz = np.sqrt(np.clip(1 - nx * nx - ny * ny, 0, 1))
    la, ls = f.light
    light = np.array([np.cos(la) * ls, np.sin(la) * ls * 0.6, 1.0])
    light /= np.linalg.norm(light)
    shade = 0.62 + 0.42 * np.clip(nx * light[0] + ny * light[1] + nz * light[2], 0, 1)
    # Blotches stay faint; `texture` scales the fine grain (pores, fine lines) that shows skin motion.
    tex = (0.015 * smooth_noise(rng, u, v, (8, 8)) + f.texture * (0.012 * smooth_noise(rng, u, v, (24, 24))
                                                                   + 0.022 * smooth_noise(rng, u, v, (64, 64))))
    blush = 0.05 * (_gauss(u, v, 0.29, 0.60, 0.06, 0.05) + _gauss(u, v, 0.71, 0.60, 0.06, 0.05))
    face_rgb = skin[None, None] * (shade * (1 + tex))[..., None]
    face_rgb = face_rgb * (1 - blush[..., None] * np.array([0.0, 0.6, 0.5], np.float32))
    s.paint(s.head, face_rgb)


def _paint_wrinkles(s: _Sheet, f: FaceIdentity, rng: np.random.Generator) -> None:
    """Forehead lines, crow's feet, eye bags, marionette lines and nasolabial folds: they give the muscles'
    skin motion something to move."""
    u, v, px = s.u, s.v, s.px
    if f.wrinkles > 0.2:
        for y0 in (0.20, 0.235, 0.27):
            wav = 0.004 * np.sin(u * rng.uniform(12, 20) + rng.uniform(0, 6))
            line = _soft(np.abs(v - y0 - wav) - 0.0016, px)
            line *= _gauss(u, v, 0.5, y0, 0.12, 1.0)
            s.darken(line, 0.2 * f.wrinkles)
    if f.wrinkles > 0.5:
        for ex, side in ((RIGHT_EYE[0], -1), (LEFT_EYE[0], 1)):
            for k in range(3):  # crow's feet: short lines fanning out from the outer eye corner
                y0 = RIGHT_EYE[1] + (k - 1) * 0.018
                x0 = ex + side * (f.eye_size[0] + 0.012)
                slope = (k - 1) * 0.35
                ray = _band(u * side, v, x0 * side, x0 * side + 0.04, lambda x, y0=y0, x0=x0, s=slope:
                            y0 + s * (x - x0 * side), 0.0012, px)
                s.darken(ray, 0.18 * f.wrinkles)
            bag = _band(u, v, ex - f.eye_size[0] * 0.9, ex + f.eye_size[0] * 0.9,
                        lambda x, ex=ex: RIGHT_EYE[1] + f.eye_size[1] + 0.02
                        + 0.01 * (1 - ((x - ex) / f.eye_size[0]) ** 2), 0.0015, px)
            s.darken(bag, 0.2 * f.wrinkles)
    if f.wrinkles > 0.4:
        for side in (-1, 1):  # marionette lines: from the mouth corners down and out towards the jaw
            x0 = side * (0.5 + side * (f.mouth_half_width + 0.006))  # mirrored: outwards is +x on both sides
            y0 = f.mouth_y + 0.012
            line = _band(v, u * side, y0, y0 + 0.06, lambda y, x0=x0, y0=y0: x0 + 0.25 * (y - y0), 0.0014, px)
            s.darken(line, 0.25 * f.wrinkles)
    for side in (-1, 1):
        x_top, x_bot = 0.5 + side * (f.nose_width + 0.03), 0.5 + side * (f.mouth_half_width + 0.035)
        fold = _band(u * side, v, min(x_top * side, x_bot * side) - 0.002, max(x_top * side, x_bot * side),
                     lambda x, a=x_top * side, b=x_bot * side: f.nose_tip_y + 0.01
                     + (x - a) / (b - a + 1e-9) * (f.mouth_y + 0.03 - f.nose_tip_y - 0.01), 0.004, px)
        s.darken(cv2.GaussianBlur(fold.astype(np.float32), (0, 0), max(0.6, 0.004 / px)), 0.12 + 0.12 * f.wrinkles)


def _paint_brows(s: _Sheet, f: FaceIdentity, rng: np.random.Generator) -> None:
    """Tapered arcs with hair strokes, thicker at the inner (nasal) end."""
    brow_tex = 1 + 0.3 * smooth_noise(rng, s.u, s.v, (80, 10))
    for side, ex in ((-1, RIGHT_EYE[0]), (1, LEFT_EYE[0])):
        L = f.brow_length

        def brow_centre(x, ex=ex, L=L, side=side):
            t = (x - ex) / L
            return f.brow_y - f.brow_arch * (1 - t * t) + 0.008 * side * t

        def brow_half(t, side=side):
            inner = t if side == -1 else 1 - t
            return 0.5 * f.brow_thickness * (0.45 + 0.55 * inner)

        a = _band(s.u, s.v, ex - L, ex + L, brow_centre, brow_half, s.px) * s.head
        s.paint(a * 0.9, np.asarray(f.brow, np.float32) * brow_tex[..., None])


def _paint_eyes(s: _Sheet, f: FaceIdentity) -> None:
    """Socket shadow, crease, sclera, iris, pupil, highlight and lid lines."""
    u, v, px = s.u, s.v, s.px
    ew, eh = f.eye_size
    for ex, ey in (RIGHT_EYE, LEFT_EYE):
        s.darken(_gauss(u, v, ex, ey - 0.005, ew * 1.3, eh * 2.2), 0.12)
        crease = _band(u, v, ex - ew * 0.9, ex + ew * 0.9,
                       lambda x, ex=ex, ey=ey: ey - eh - 0.012 - 0.012 * (1 - ((x - ex) / ew) ** 2), 0.0016, px)
        s.darken(crease, 0.25)
        sclera = _soft(ellipse_sd(u, v, ex, ey, ew, eh), px)
        s.paint(sclera, (0.93, 0.91, 0.88))
        r = f.iris_radius
        rr = np.sqrt((u - ex) ** 2 + (v - ey - 0.002) ** 2)
        iris = _soft(rr - r, px) * sclera
        iris_col = np.asarray(f.iris, np.float32)[None, None] * (1.15 - 0.5 * np.clip(rr / r, 0, 1))[..., None]
        s.paint(iris, iris_col)
        s.paint(_soft(rr - 0.42 * r, px) * sclera, (0.03, 0.03, 0.03))
        s.paint(_soft(np.sqrt((u - ex + 0.3 * r) ** 2 + (v - ey + 0.3 * r) ** 2) - 0.2 * r, px) * sclera,
                (1.0, 1.0, 1.0))
        upper = _band(u, v, ex - ew * 1.05, ex + ew * 1.05,
                      lambda x, ex=ex, ey=ey: ey - eh * np.sqrt(np.clip(1 - ((x - ex) / ew) ** 2, 0, 1)),
                      lambda t: 0.0045 * (0.6 + 0.4 * np.sin(np.pi * t)), px)
        s.paint(upper, (0.06, 0.04, 0.04))
        lower = _band(u, v, ex - ew, ex + ew,
                      lambda x, ex=ex, ey=ey: ey + eh * np.sqrt(np.clip(1 - ((x - ex) / ew) ** 2, 0, 1)), 0.0018, px)
        s.darken(lower, 0.35)


def _paint_nose(s: _Sheet, f: FaceIdentity) -> None:
    """Bridge highlight, side shadows, tip, alae and nostrils."""
    u, v, px = s.u, s.v, s.px
    nw, ty = f.nose_width, f.nose_tip_y
    s.lighten(_gauss(u, v, 0.5, (0.44 + ty) / 2, 0.012, (ty - 0.44) / 2), 0.05)
    for side in (-1, 1):
        s.darken(_gauss(u, v, 0.5 + side * nw * 0.55, (0.45 + ty) / 2, 0.008, (ty - 0.42) / 2), 0.12)
        s.darken(_soft(ellipse_sd(u, v, 0.5 + side * nw * 0.85, ty + 0.006, 0.020, 0.016), px) * 0.5
                 + _gauss(u, v, 0.5 + side * nw, ty + 0.004, 0.006, 0.016), 0.18)
        s.darken(_soft(ellipse_sd(u, v, 0.5 + side * nw * 0.42, ty + 0.019, 0.012, 0.006), px), 0.55)
    s.lighten(_gauss(u, v, 0.5, ty - 0.006, 0.014, 0.011), 0.06)
    s.darken(_gauss(u, v, 0.5, ty + 0.035, 0.035, 0.008), 0.10)


def _paint_mouth(s: _Sheet, f: FaceIdentity) -> None:
    """Philtrum, lips with a cupid's bow, mouth line and dark corners, then the chin's fold and highlight.

    A resting smile or frown (`f.smile`) bends the whole mouth; parted lips (`f.mouth_open`) open a dark gap
    between them with the upper teeth showing.
    """
    u, v, px = s.u, s.v, s.px
    hw, my = f.mouth_half_width, f.mouth_y
    tu, tl = f.lip_thickness
    ty = f.nose_tip_y
    gap = f.mouth_open / 2
    for side in (-1, 1):
        s.darken(_gauss(u, v, 0.5 + side * 0.008, (ty + my) / 2 + 0.01, 0.003, (my - ty) / 3), 0.08)

    def bend(x):  # the resting smile lifts the corners: 0 at the centre, f.smile at the corners
        t = np.clip((x - 0.5) / hw, -1, 1)
        return f.smile * t * t

    def opening(x):  # half the lip gap, closing towards the corners
        t = np.clip(np.abs(x - 0.5) / hw, 0, 1)
        return gap * np.sqrt(1 - t ** 2)

    def mouth_line(x):
        t = (x - 0.5) / hw
        return my + 0.004 * (1 - t * t) - 0.002 - bend(x)

    def upper_edge(x):
        t = np.clip(np.abs(x - 0.5) / hw, 0, 1)
        bow = 0.35 * np.exp(-((t - 0.22) / 0.12) ** 2) - 0.2 * np.exp(-(t / 0.08) ** 2)
        return my - tu * (1 + bow) * np.sqrt(1 - t ** 2) - bend(x) - opening(x)

    def lower_edge(x):
        t = np.clip(np.abs(x - 0.5) / hw, 0, 1)
        return my + tl * np.sqrt(1 - t ** 1.6) - bend(x) + opening(x)

    inside_x = np.abs(u - 0.5) < hw
    lips_rgb = np.asarray(f.lips, np.float32)
    upper_lip_bottom, lower_lip_top = mouth_line(u) - opening(u), mouth_line(u) + opening(u)
    up = _soft(np.maximum(upper_edge(u) - v, v - upper_lip_bottom), px) * inside_x
    lo = _soft(np.maximum(lower_lip_top - v, v - lower_edge(u)), px) * inside_x
    if gap > 0:
        _paint_teeth(s, mouth_line, opening, hw, inside_x)
    s.paint(up, lips_rgb * 0.9)
    shine = 1 + 0.18 * _gauss(u, v, 0.5, my + tl * 0.45 + gap, hw * 0.45, tl * 0.25)
    s.paint(lo, lips_rgb[None, None] * shine[..., None])
    line = _band(u, v, 0.5 - hw - 0.004, 0.5 + hw + 0.004, mouth_line,
                 lambda t: 0.0028 * (0.5 + 0.5 * np.sin(np.pi * t)), px)
    s.darken(line, 0.65)
    for side in (-1, 1):  # the corners are deep, dark creases
        s.darken(_gauss(u, v, 0.5 + side * hw, my - 0.002 - f.smile if f.smile else my, 0.008, 0.006), 0.5)
    s.darken(_gauss(u, v, 0.5, my + tl + 0.035 + 2 * gap, 0.05, 0.007), 0.2)
    cx, cy, rx, ry = f.head
    s.lighten(_gauss(u, v, 0.5, cy + ry - 0.07, 0.05, 0.03), 0.04)


def _paint_teeth(s: _Sheet, mouth_line, opening, hw: float, inside_x: np.ndarray) -> None:
    """The open mouth: a dark cavity, the upper teeth in its top part with faint gaps between them."""
    u, v, px = s.u, s.v, s.px
    top, bottom = mouth_line(u) - opening(u), mouth_line(u) + opening(u)
    cavity = _soft(np.maximum(top - v, v - bottom), px) * inside_x
    s.paint(cavity, (0.16, 0.06, 0.06))
    teeth_bottom = top + 0.6 * (bottom - top)
    teeth = _soft(np.maximum(top - v, v - teeth_bottom), px) * inside_x * _soft(np.abs(u - 0.5) - 0.8 * hw, px)
    gaps = 1 - 0.35 * np.clip(1 - np.abs(np.sin((u - 0.5) * np.pi / 0.018)) / 0.15, 0, 1)
    s.paint(teeth * gaps, (0.90, 0.87, 0.80))


def _paint_front_hair(s: _Sheet, f: FaceIdentity, rng: np.random.Generator, hair_img: np.ndarray) -> None:
    """Hair in front: covers the top of the head down to the hairline (and the sides)."""
    u, v, px = s.u, s.v, s.px
    cx, cy, rx, ry = f.head
    hy = f.hairline_y + (0.06 if f.hair_style == 2 else 0.0) - (0.05 if f.hair_style == 3 else 0.0)
    edge = 0.01 * smooth_noise(rng, u, v, (40, 1))
    hairline = hy + 0.22 * ((u - cx) / rx) ** 4 * (0.6 if f.hair_style == 2 else 1.0) + edge
    cap = _soft(ellipse_sd(u, v, cx, cy - 0.01, rx + 0.035, ry + 0.03), px)
    sides = 0.47 if f.hair_style == 1 else 0.40
    front = cap * _soft(v - hairline, px * 1.5)
    front = np.maximum(front, cap * (1 - s.head) * _soft(v - sides, px))
    s.paint(front, hair_img)


def _draw_beard(img: np.ndarray, u, v, px: float, f: FaceIdentity, head: np.ndarray, hair_img: np.ndarray) -> None:
    """In place: stubble or a beard on the jaw and chin and a moustache above the upper lip, leaving the lips.

    Its own random stream, so a beard never changes the rest of the face's texture.
    """
    rng = np.random.default_rng([f.seed, 11])
    hw, my = f.mouth_half_width, f.mouth_y
    grain = np.clip(0.55 + 0.45 * smooth_noise(rng, u, v, (110, 110)), 0, 1)
    jaw = np.clip((v - (f.nose_tip_y + 0.06)) / 0.05, 0, 1)  # fades in below the cheeks
    moustache = _band(u, v, 0.5 - hw - 0.01, 0.5 + hw + 0.01,
                      lambda x: my - f.lip_thickness[0] - 0.022 + 0.12 * (x - 0.5) ** 2, 0.014, px)
    cover = np.maximum(jaw, moustache) * head
    lips = _soft(ellipse_sd(u, v, 0.5, my + 0.004, hw + 0.004, f.lip_thickness[1] + 0.012), px)
    cover *= 1 - lips
    _paint(img, (f.beard * 0.85 * cover * grain).astype(np.float32), hair_img)


def _draw_glasses(u, v, px, rng) -> tuple[np.ndarray, np.ndarray]:
    """Two rounded-rectangle frames and a bridge; an overlay that moves rigidly with the head.

    The upper rim may be much heavier than the rest (browline frames), which hides the brows as on many
    real photos.
    """
    rw, rh = rng.uniform(0.085, 0.11), rng.uniform(0.05, 0.075)
    thick, top = rng.uniform(0.003, 0.008), rng.uniform(1.0, 3.5)
    dy = rng.uniform(-0.01, 0.01)
    colour = rng.uniform(0.02, 0.35, 3).astype(np.float32)
    alpha = np.zeros_like(u)
    for ex, ey in (RIGHT_EYE, LEFT_EYE):
        cy = ey + 0.005 + dy
        ax, ay = np.abs(u - ex) / rw, np.abs(v - cy) / rh
        r = (ax ** 4 + ay ** 4) ** 0.25  # a superellipse: rounded rectangle
        # Thicker along the top: scale the rim width with how far up the rim point is.
        width = thick * (1 + (top - 1) * np.clip((cy - v) / rh, 0, 1) ** 2)
        alpha = np.maximum(alpha, _soft(np.abs(r - 1.0) * min(rw, rh) - width, px))
    bridge = _band(u, v, RIGHT_EYE[0] + rw * 0.95, LEFT_EYE[0] - rw * 0.95,
                   lambda x: RIGHT_EYE[1] - 0.01 + dy + 0 * x, thick * 0.8, px)
    alpha = np.maximum(alpha, bridge)
    rgb = np.broadcast_to(colour, u.shape + (3,)).astype(np.float32)
    return rgb, (alpha * 0.95).astype(np.float32)
