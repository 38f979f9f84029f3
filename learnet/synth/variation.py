"""Domain randomisation: wide random variation of everything a model must not rely on.

Real faces and real motion differ from the generator's defaults in ways no single setting captures, so a model
meant to work on real video is trained on clips in which every such factor varies at random (Tobin et al.,
IROS 2017: the real world then looks like one more variation).  Per clip, `Variation` draws:

- motion: each action unit's pulls move (anchor +- `anchor_jitter`), grow or shrink (`extent`), turn
  (+- `turn_deg`), change their window from peaked to flat-topped (`power`) and weaken on one side
  (`asymmetry`); AU intensities within a combination, more AU combinations per class (`COMBINATIONS`), other
  time courses (`learnet.synth.render.ENVELOPES`), clip lengths and neutral lead/tail lengths;
- appearance: glasses and beards more often, stronger skin texture and lighting, a resting smile or frown and
  parted lips with teeth (`vary_identity`);
- capture: stronger head drift, noise, blur, compression, gamma, greyscale sensors (`Variation.nuisances`),
  and the crop's alignment error: the face is rendered under a random similarity (scale, rotation, shift) of
  the template, as a Haar detection followed by eye alignment would leave it (`alignment_view`).

The class evidence itself is kept: a positive clip always pulls the lip corners up and out, a surprise lifts
the brows, a negative lowers the brows or the mouth corners (or wrinkles the nose, raises the upper lip).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from .action_units import ACTION_UNITS, Pull
from .faces import FaceIdentity
from .render import ENVELOPES, Nuisances, Timing

# MEGC 3-class AU combinations under randomisation: the defaults plus the mixed forms real clips show
# (e.g. a negative with both lowered brows and lowered mouth corners).
COMBINATIONS: dict[str, dict[str, tuple[tuple[int, ...], ...]]] = {
    "megc2019_3c": {
        "negative": ((4,), (4, 7), (4, 9), (4, 15), (4, 15), (4, 7, 15), (4, 15, 17), (15,), (15,), (15, 17),
                     (14,), (10,), (9,), (4, 10)),
        "positive": ((12,), (6, 12), (6, 12, 25), (12, 25), (6, 12, 7)),
        "surprise": ((1, 2), (1, 2, 5), (1, 2, 25), (1, 2, 5, 26), (1, 2, 5, 25)),
    },
}


def _varied_nuisances() -> Nuisances:
    return Nuisances(head_drift_px=1.0, head_rotation_deg=0.5, jitter_px=0.03, blink_probability=0.25,
                     flicker=0.03, noise_sigma=(0.3, 3.5), jpeg_quality=(70, 95), blur_px=(0.0, 0.9),
                     gamma=(0.8, 1.25), greyscale_probability=0.15)


@dataclass(frozen=True)
class Variation:
    """Ranges of the per-clip domain randomisation (template units unless stated)."""

    anchor_jitter: float = 0.02
    extent: tuple[float, float] = (0.6, 2.2)  # factor on every pull's window size: muscles pull broad or narrow regions
    turn_deg: float = 20.0
    power: tuple[float, float] = (1.5, 3.5)
    asymmetry: float = 0.5  # the weaker side keeps between 1 - asymmetry and all of the strength
    au_weight: tuple[float, float] = (0.4, 1.0)
    lead: tuple[float, float] = (0.0, 0.3)  # neutral frames before the onset, fraction of the clip
    tail: tuple[float, float] = (0.0, 0.3)
    unannotated: float = 1 / 3  # share of clips whose window is the whole clip, as for an unannotated upload
    align_scale: float = 0.08  # relative error of the crop's scale
    align_rotation_deg: float = 4.0
    align_shift: float = 0.03
    margin: float = 0.2  # extra border rendered around the crop so that the misaligned view stays inside
    glasses_probability: float = 0.3
    beard_probability: float = 0.25
    resting_mouth_probability: float = 0.6  # the mouth rests smiling or frowning, not straight
    smile: tuple[float, float] = (-0.015, 0.03)  # corner lift at rest, template units (< 0: a resting frown)
    open_mouth_probability: float = 0.35  # lips apart at rest, the upper teeth showing
    mouth_open: tuple[float, float] = (0.008, 0.03)
    nuisances: Nuisances = field(default_factory=_varied_nuisances)

    def combinations(self, label: str, label_set: str) -> tuple[tuple[int, ...], ...] | None:
        """The varied AU combinations of a class, or None where the label set has none (use its defaults)."""
        return COMBINATIONS.get(label_set, {}).get(label)


def vary_identity(identity: FaceIdentity, rng: np.random.Generator, variation: Variation) -> FaceIdentity:
    """The identity with more glasses and beards, stronger skin texture and lighting, and a resting mouth that
    is often not neutral (a smile or frown, parted lips with teeth), as on real faces and photos."""
    return replace(
        identity,
        glasses=bool(identity.glasses or rng.uniform() < variation.glasses_probability),
        beard=float(rng.uniform(0.3, 1.0)) if rng.uniform() < variation.beard_probability else 0.0,
        texture=float(identity.texture * rng.uniform(0.8, 1.8)),
        light=(identity.light[0], float(rng.uniform(0.2, 0.9))),
        wrinkles=float(rng.uniform(0.0, 1.0)),
        smile=float(rng.uniform(*variation.smile)) if rng.uniform() < variation.resting_mouth_probability else 0.0,
        mouth_open=(float(rng.uniform(*variation.mouth_open)) if rng.uniform() < variation.open_mouth_probability
                    else 0.0),
    )


def vary_pulls(aus, rng: np.random.Generator, variation: Variation) -> dict[int, tuple[Pull, ...]]:
    """Randomised pulls for each AU: moved, resized, turned, reshaped and made asymmetric."""
    out = {}
    for au in aus:
        pulls = []
        for p in ACTION_UNITS[au].pulls:
            turn = math.radians(rng.uniform(-variation.turn_deg, variation.turn_deg))
            dx, dy = p.direction
            grow = rng.uniform(*variation.extent)
            weak = rng.uniform(1.0 - variation.asymmetry, 1.0)
            gains = (1.0, weak) if rng.uniform() < 0.5 else (weak, 1.0)
            pulls.append(replace(
                p,
                offset=(p.offset[0] + rng.uniform(-1, 1) * variation.anchor_jitter,
                        p.offset[1] + rng.uniform(-1, 1) * variation.anchor_jitter),
                sigma=(p.sigma[0] * grow * rng.uniform(0.8, 1.25), p.sigma[1] * grow * rng.uniform(0.8, 1.25)),
                direction=(dx * math.cos(turn) - dy * math.sin(turn), dx * math.sin(turn) + dy * math.cos(turn)),
                power=float(rng.uniform(*variation.power)),
                gains=gains,
            ))
        out[au] = tuple(pulls)
    return out


def vary_timing(rng: np.random.Generator, n_frames: tuple[int, int], variation: Variation
                ) -> tuple[Timing, str, float]:
    """A clip length, onset/apex/offset with random neutral lead and tail, and an envelope shape."""
    lo, hi = n_frames
    T = int(rng.integers(lo, hi + 1))
    onset = int(round(rng.uniform(*variation.lead) * T))
    offset = T - 1 - int(round(rng.uniform(*variation.tail) * T))
    if offset - onset < 6:  # keep an expression of at least a few frames
        onset, offset = max(0, T // 2 - 4), min(T - 1, T // 2 + 4)
    apex = onset + max(1, min(offset - onset - 1, int(round(rng.uniform(0.25, 0.7) * (offset - onset)))))
    shape = ENVELOPES[int(rng.integers(len(ENVELOPES)))]
    residual = float(rng.uniform(0.3, 0.8))
    return Timing(T, onset, apex, offset), shape, residual


def alignment_view(rng: np.random.Generator, size: int, variation: Variation) -> np.ndarray:
    """2x3 map from output-crop pixels to pixels of the larger render canvas (the crop centred in it).

    The identity map would reproduce the perfectly aligned crop; the random similarity models the error of
    a real face detection and eye alignment.
    """
    margin = round(variation.margin * size)
    s = 1.0 + rng.uniform(-1, 1) * variation.align_scale
    a = math.radians(rng.uniform(-1, 1) * variation.align_rotation_deg)
    shift = rng.uniform(-1, 1, 2) * variation.align_shift * size
    c = (size - 1) / 2.0
    R = s * np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    t = np.array([margin + c, margin + c]) + shift - R @ np.array([c, c])
    return np.hstack([R, t[:, None]]).astype(np.float64)
