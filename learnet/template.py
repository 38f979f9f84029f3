"""The canonical aligned-face template.

Every aligned face in the toolkit lives in one square coordinate frame, in normalised units
(x right, y down, both in [0, 1]), whatever its pixel size.  Face alignment (`learnet.face`) maps the
detected eye centres onto `EYES`; the synthetic generator (`learnet.synth`) draws faces and action-unit
motion directly in this frame; the explanation tools (`explain`) name facial regions in it.  Keeping one
template is what lets a Grad-CAM pixel be called "left brow".

Left and right are the *subject's* (anatomical) sides, as in FACS and the dlib landmark convention: the
subject's right eye appears on the image's left.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Eye centres (subject's right eye first, i.e. image-left first).  With an interocular distance of 0.34 of
# the crop, the square holds the forehead above the brows and the chin below the mouth.
RIGHT_EYE: tuple[float, float] = (0.33, 0.40)
LEFT_EYE: tuple[float, float] = (0.67, 0.40)
EYES: tuple[tuple[float, float], tuple[float, float]] = (RIGHT_EYE, LEFT_EYE)

# Other landmarks of the template face, used by the synthetic generator to anchor action units.
LANDMARKS: dict[str, tuple[float, float]] = {
    "right_eye": RIGHT_EYE,
    "left_eye": LEFT_EYE,
    "right_brow": (0.33, 0.31),
    "left_brow": (0.67, 0.31),
    "glabella": (0.50, 0.33),
    "nose_tip": (0.50, 0.60),
    "right_mouth_corner": (0.39, 0.76),
    "left_mouth_corner": (0.61, 0.76),
    "upper_lip": (0.50, 0.73),
    "lower_lip": (0.50, 0.79),
    "chin": (0.50, 0.91),
    "right_cheek": (0.30, 0.62),
    "left_cheek": (0.70, 0.62),
}


@dataclass(frozen=True)
class Region:
    """A named facial region: an axis-aligned ellipse in template units."""

    name: str
    cx: float
    cy: float
    rx: float
    ry: float

    def mask(self, size: int) -> np.ndarray:
        """Boolean (size, size) mask of the ellipse, sampled at pixel centres."""
        c = (np.arange(size, dtype=np.float64) + 0.5) / size
        y, x = np.meshgrid(c, c, indexing="ij")
        return ((x - self.cx) / self.rx) ** 2 + ((y - self.cy) / self.ry) ** 2 <= 1.0


# Order matters: where ellipses overlap, the earlier (smaller, more specific) region wins, so every pixel
# belongs to exactly one region and region shares of a map sum to one.
REGIONS: tuple[Region, ...] = (
    Region("right_eye", 0.33, 0.40, 0.095, 0.045),
    Region("left_eye", 0.67, 0.40, 0.095, 0.045),
    Region("right_brow", 0.33, 0.31, 0.12, 0.045),
    Region("left_brow", 0.67, 0.31, 0.12, 0.045),
    Region("mouth", 0.50, 0.76, 0.15, 0.065),
    Region("nose", 0.50, 0.53, 0.075, 0.12),
    Region("right_cheek", 0.29, 0.59, 0.11, 0.12),
    Region("left_cheek", 0.71, 0.59, 0.11, 0.12),
    Region("chin", 0.50, 0.90, 0.14, 0.07),
    Region("forehead", 0.50, 0.16, 0.30, 0.11),
)
OUTSIDE = "other"  # pixels in no named region (hair, background, face outline)
REGION_NAMES: tuple[str, ...] = tuple(r.name for r in REGIONS) + (OUTSIDE,)


def region_label_map(size: int) -> np.ndarray:
    """(size, size) int array: the index into `REGION_NAMES` of the region each pixel belongs to."""
    labels = np.full((size, size), len(REGIONS), dtype=np.int64)
    for i in range(len(REGIONS) - 1, -1, -1):  # paint low priority first so earlier regions win
        labels[REGIONS[i].mask(size)] = i
    return labels


def region_masks(size: int) -> dict[str, np.ndarray]:
    """Disjoint boolean masks for every name in `REGION_NAMES`; together they cover the square once."""
    labels = region_label_map(size)
    return {name: labels == i for i, name in enumerate(REGION_NAMES)}


def to_pixels(point: tuple[float, float], size: int) -> tuple[float, float]:
    """Template units -> pixel coordinates (pixel centres at i + 0.5) in a (size, size) crop."""
    return point[0] * size - 0.5, point[1] * size - 0.5
