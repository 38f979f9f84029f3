"""The permitted real face photos and their hand-annotated landmarks.

Two public-domain portraits ship inside registry packages the toolkit already depends on (or tests with):
matplotlib's sample `grace_hopper.jpg` (US Navy photo) and scikit-image's `astronaut.png` (NASA photo of
Eileen Collins).  They are the real-face benchmark's only identities; no other photo of a person is used.

Landmarks were annotated by hand on zoomed crops, in photo pixels with OpenCV's convention (integer
coordinates are pixel centres), about 1-2 px accurate.  "Right" and "left" are the subject's: the subject's
right eye is the image-left one, and every pair lists the image-left point first.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Point = tuple[float, float]


@dataclass(frozen=True)
class Landmarks:
    """Hand-annotated facial landmarks of one photo, (x, y) in photo pixels; pairs are image-left first."""

    eyes: tuple[Point, Point]


# Eye centres: the middle of the visible iris (both subjects look at the camera).
LANDMARKS: dict[str, Landmarks] = {
    "grace_hopper": Landmarks(eyes=((223.5, 188.5), (304.0, 186.0))),
    "astronaut": Landmarks(eyes=((203.0, 100.0), (246.0, 103.0))),
}
PHOTO_NAMES: tuple[str, ...] = tuple(LANDMARKS)


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
        except ImportError as exc:  # a dev dependency only
            raise RuntimeError("the astronaut photo needs scikit-image (pip install scikit-image)") from exc
        return np.ascontiguousarray(data.astronaut()[..., :3])
    raise ValueError(f"unknown photo {name!r}; choose one of {', '.join(PHOTO_NAMES)}")
