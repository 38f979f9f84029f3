"""Facial action units (FACS) as smooth local displacement fields, and emotion classes as AU combinations.

Each AU is a few Gaussian-windowed "pulls" anchored at landmarks of the face (template units): inside the
window the skin moves along the pull's direction.  Bilateral pulls are mirrored to the other side of the face.
The fields are only the geometry of a muscle's effect, not a biomechanical model; what matters here is that
each AU moves the right features in the right direction, smoothly and locally, so a dynamic image can see it
and an explanation can be checked against where it happened.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..template import LANDMARKS


@dataclass(frozen=True)
class Pull:
    """Skin near `anchor` (+ `offset`) moves along `direction` inside a Gaussian window (sx, sy).

    Coordinates are for the subject's right side (image left); `bilateral` mirrors the pull to the other side.
    """

    anchor: str
    offset: tuple[float, float]
    sigma: tuple[float, float]
    direction: tuple[float, float]
    bilateral: bool = True
    power: float = 2.0  # window shape exp(-r**power / 2): 2 is a Gaussian, larger is flatter-topped
    gains: tuple[float, float] = (1.0, 1.0)  # strength on this side and on the mirrored side (asymmetry)


@dataclass(frozen=True)
class ActionUnit:
    """A FACS action unit: its number, name and the pulls that make its displacement field."""

    number: int
    name: str
    pulls: tuple[Pull, ...]


def _au(number: int, name: str, *pulls: Pull) -> ActionUnit:
    return ActionUnit(number, name, pulls)


# Right-side anchors; x grows to the image right, y down.  Directions are unit-free (the whole field is
# rescaled to the clip's peak amplitude), their relative lengths weight the pulls within an AU.
ACTION_UNITS: dict[int, ActionUnit] = {au.number: au for au in (
    _au(1, "inner brow raiser",
        Pull("right_brow", (0.055, 0.0), (0.035, 0.04), (0.0, -1.0)),
        Pull("right_brow", (0.07, -0.08), (0.045, 0.05), (0.0, -0.5)),
        Pull("right_eye", (0.03, -0.045), (0.04, 0.02), (0.0, -0.5))),
    _au(2, "outer brow raiser",
        Pull("right_brow", (-0.05, 0.0), (0.04, 0.04), (-0.15, -1.0)),
        Pull("right_brow", (-0.04, -0.08), (0.045, 0.05), (0.0, -0.4)),
        Pull("right_eye", (-0.03, -0.045), (0.04, 0.02), (0.0, -0.5))),
    _au(4, "brow lowerer",
        Pull("right_brow", (0.05, 0.005), (0.045, 0.04), (0.55, 0.85)),
        Pull("glabella", (0.0, 0.0), (0.025, 0.035), (0.0, 0.5), bilateral=False)),
    _au(5, "upper lid raiser",
        Pull("right_eye", (0.0, -0.022), (0.045, 0.016), (0.0, -1.0))),
    _au(6, "cheek raiser",
        Pull("right_cheek", (0.02, -0.06), (0.06, 0.05), (0.1, -1.0)),
        Pull("right_eye", (0.0, 0.03), (0.05, 0.016), (0.0, -0.7)),
        Pull("right_eye", (-0.085, 0.01), (0.02, 0.03), (0.3, -0.4))),
    _au(7, "lid tightener",
        Pull("right_eye", (0.0, 0.024), (0.045, 0.014), (0.0, -1.0)),
        Pull("right_eye", (0.0, -0.022), (0.045, 0.012), (0.0, 0.45))),
    _au(9, "nose wrinkler",
        Pull("nose_tip", (-0.035, -0.09), (0.025, 0.05), (0.1, -1.0)),
        Pull("glabella", (0.0, 0.06), (0.022, 0.035), (0.0, -0.5), bilateral=False),
        Pull("upper_lip", (-0.04, -0.01), (0.03, 0.02), (0.0, -0.45))),
    _au(10, "upper lip raiser",
        Pull("upper_lip", (-0.035, 0.0), (0.04, 0.022), (0.0, -1.0))),
    _au(12, "lip corner puller",
        Pull("right_mouth_corner", (-0.005, -0.005), (0.035, 0.028), (-0.7, -0.7)),
        Pull("right_cheek", (0.04, 0.06), (0.035, 0.04), (-0.25, -0.45))),
    # The dimpler tightens the corners: the red of the lips presses together near them (upper edge down,
    # lower edge up), the corner is pulled back a little and the cheek bunches beside it (the dimple).
    _au(14, "dimpler",
        Pull("right_mouth_corner", (0.0, 0.0), (0.018, 0.018), (-0.6, 0.0)),
        Pull("right_mouth_corner", (0.028, -0.016), (0.025, 0.01), (0.0, 1.0)),
        Pull("right_mouth_corner", (0.028, 0.02), (0.025, 0.012), (0.0, -1.0)),
        Pull("right_mouth_corner", (-0.035, 0.0), (0.015, 0.02), (0.6, 0.0))),
    _au(15, "lip corner depressor",
        Pull("right_mouth_corner", (0.0, 0.008), (0.03, 0.03), (-0.15, 1.0)),
        Pull("right_mouth_corner", (0.01, 0.035), (0.03, 0.025), (0.0, 0.6))),
    # The chin raiser pushes the chin boss and the fold under the lower lip up; the lip itself only a little.
    _au(17, "chin raiser",
        Pull("chin", (0.0, -0.03), (0.06, 0.035), (0.0, -1.0), bilateral=False),
        Pull("lower_lip", (0.0, 0.035), (0.05, 0.018), (0.0, -1.0), bilateral=False),
        Pull("lower_lip", (0.0, 0.005), (0.05, 0.015), (0.0, -0.3), bilateral=False)),
    _au(20, "lip stretcher",
        Pull("right_mouth_corner", (-0.01, 0.005), (0.035, 0.03), (-1.0, 0.3))),
    _au(24, "lip pressor",
        Pull("upper_lip", (0.0, 0.0), (0.06, 0.012), (0.0, 0.6), bilateral=False),
        Pull("lower_lip", (0.0, 0.0), (0.06, 0.014), (0.0, -0.6), bilateral=False)),
    _au(25, "lips part",
        Pull("lower_lip", (0.0, 0.0), (0.065, 0.02), (0.0, 1.0), bilateral=False),
        Pull("upper_lip", (0.0, 0.0), (0.06, 0.014), (0.0, -0.35), bilateral=False)),
    _au(26, "jaw drop",
        Pull("chin", (0.0, -0.03), (0.10, 0.07), (0.0, 1.0), bilateral=False),
        Pull("lower_lip", (0.0, 0.01), (0.07, 0.025), (0.0, 0.6), bilateral=False)),
)}

# Emotion classes -> the AU combinations a clip of that class draws from (uniformly).  MEGC 2019 3-class is
# the default; the CASME II 5-class set is offered too (its "others" deliberately overlaps, as in the data).
LABEL_SETS: dict[str, dict[str, tuple[tuple[int, ...], ...]]] = {
    "megc2019_3c": {
        "negative": ((4, 7), (4,), (9,), (4, 9), (15, 17), (14,), (10,)),
        "positive": ((6, 12), (12,), (6, 12, 25)),
        "surprise": ((1, 2), (1, 2, 5), (1, 2, 25), (1, 2, 5, 26)),
    },
    "casme2_5c": {
        "happiness": ((6, 12), (12,), (6, 12, 25)),
        "surprise": ((1, 2), (1, 2, 5), (1, 2, 26)),
        "disgust": ((9,), (4, 9), (10,), (4, 10)),
        "repression": ((14,), (15, 17), (17,), (24,)),
        "others": ((4,), (4, 7), (7,), (1,), (20,)),
    },
}
DEFAULT_LABEL_SET = "megc2019_3c"


def class_names(label_set: str = DEFAULT_LABEL_SET) -> tuple[str, ...]:
    """The class names of a label set, in the order models should use."""
    return tuple(_label_set(label_set))


def _label_set(label_set: str) -> dict[str, tuple[tuple[int, ...], ...]]:
    if label_set not in LABEL_SETS:
        raise ValueError(f"unknown label set {label_set!r}; choose one of {', '.join(LABEL_SETS)}")
    return LABEL_SETS[label_set]


def au_combinations(label: str, label_set: str = DEFAULT_LABEL_SET) -> tuple[tuple[int, ...], ...]:
    """The AU combinations that express `label` in `label_set`."""
    table = _label_set(label_set)
    if label not in table:
        raise ValueError(f"unknown class {label!r} for label set {label_set!r}; choose one of {', '.join(table)}")
    return table[label]


def check_aus(aus) -> tuple[int, ...]:
    """Validate AU numbers and return them sorted and unique."""
    aus = tuple(sorted({int(a) for a in aus}))
    unknown = [a for a in aus if a not in ACTION_UNITS]
    if not aus or unknown:
        raise ValueError(f"unknown action unit(s) {unknown or 'none given'}; the generator knows "
                         f"{', '.join(str(a) for a in ACTION_UNITS)}")
    return aus


def displacement_field(
    aus,
    u: np.ndarray,
    v: np.ndarray,
    *,
    weights=None,
    landmarks: dict[str, tuple[float, float]] | None = None,
    pulls: dict[int, tuple[Pull, ...]] | None = None,
) -> np.ndarray:
    """Summed displacement of the given AUs at template coordinates (u, v): float32 (..., 2) as (dx, dy).

    Unscaled (pull directions are unit-free); `weights` give each AU's relative intensity (default 1).
    `landmarks` move the anchors to a particular face (default: the template's); `pulls` replace the pulls of
    some AUs (domain randomisation varies them per clip, see `learnet.synth.variation`).
    """
    aus = check_aus(aus)
    marks = {**LANDMARKS, **(landmarks or {})}
    weights = np.ones(len(aus)) if weights is None else np.asarray(weights, dtype=np.float64)
    if weights.shape != (len(aus),):
        raise ValueError(f"need one weight per action unit ({len(aus)}), got {weights.shape}")
    field = np.zeros(np.shape(u) + (2,), np.float32)
    for au, w in zip(aus, weights):
        for p in (pulls or {}).get(au, ACTION_UNITS[au].pulls):
            for s, gain in ((1, p.gains[0]), (-1, p.gains[1])) if p.bilateral else ((1, p.gains[0]),):
                # The mirrored pull sits at the other side's landmark, offset and x-direction flipped.
                ax, ay = marks[p.anchor if s == 1 else _mirror(p.anchor)]
                cx, cy = ax + s * p.offset[0], ay + p.offset[1]
                r2 = ((u - cx) / p.sigma[0]) ** 2 + ((v - cy) / p.sigma[1]) ** 2
                g = w * gain * np.exp(-0.5 * (r2 if p.power == 2.0 else r2 ** (p.power / 2.0)))
                field[..., 0] += (s * p.direction[0]) * g
                field[..., 1] += p.direction[1] * g
    return field


def _mirror(anchor: str) -> str:
    """The same landmark on the subject's other side (names without a side mirror to themselves)."""
    if anchor.startswith("right_"):
        return "left_" + anchor[len("right_"):]
    return anchor
