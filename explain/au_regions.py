"""Facial action units (FACS) -> regions of the face template, and maps scored against a clip's annotated AUs.

CASME II, SAMM and CAS(ME)^2 annotate the AUs of every clip ("4+7", "R12", "L14", "A1+2").  Where the muscles
of those AUs move the face is known from FACS (Ekman & Friesen), so a map of a correctly classified clip
should put its evidence there.  `AU_REGIONS` is the documented table: each AU's regions among the template's
(`learnet.template.REGIONS`) plus the glabella, the strip between the inner brows that the template does not
name (AU4 and AU9 fold it).

| AU | name | regions |
|---|---|---|
| 1, 2 | inner / outer brow raiser | brows, forehead |
| 4 | brow lowerer | brows, glabella |
| 5, 7, 41-46 | lid raiser, tightener, droop, slit, closed, squint, blink, wink | eyes |
| 6 | cheek raiser | cheeks, eyes |
| 9 | nose wrinkler | nose, glabella |
| 10 | upper lip raiser | mouth, nose |
| 11, 12, 13, 14 | nasolabial deepener, lip corner puller, sharp lip puller, dimpler | mouth, cheeks |
| 15, 16 | lip corner / lower lip depressor | mouth, chin |
| 17 | chin raiser | chin, mouth |
| 18, 20, 22-25, 28 | lip pucker, stretcher, funneler, tightener, pressor, lips part, lip suck | mouth |
| 26, 27 | jaw drop, mouth stretch | mouth, chin |
| 38, 39 | nostril dilator / compressor | nose |
| 61-64 | eyes turn left / right / up / down | eyes |

Head movements (AU51-58) move the whole face and are not scored.  Laterality follows FACS: "R12" is the
subject's right side, which is the template's `right_*` regions (image left); a lateral code keeps the
midline regions (mouth, nose, chin, forehead, glabella) whole.  Intensity letters ("12B") and other prefixes
("A1") are ignored.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from learnet.template import Region, region_masks

from .base import ExplainError

GLABELLA = Region("glabella", 0.50, 0.33, 0.055, 0.05)  # between the inner brows, above the nose bridge
BROWS, EYES, CHEEKS = ("right_brow", "left_brow"), ("right_eye", "left_eye"), ("right_cheek", "left_cheek")

_TABLE: tuple[tuple[tuple[int, ...], tuple[str, ...]], ...] = (
    ((1, 2), (*BROWS, "forehead")),
    ((4,), (*BROWS, "glabella")),
    ((5, 7, 41, 42, 43, 44, 45, 46), EYES),
    ((6,), (*CHEEKS, *EYES)),
    ((9,), ("nose", "glabella")),
    ((10,), ("mouth", "nose")),
    ((11, 12, 13, 14), ("mouth", *CHEEKS)),
    ((15, 16), ("mouth", "chin")),
    ((17,), ("chin", "mouth")),
    ((18, 20, 22, 23, 24, 25, 28), ("mouth",)),
    ((26, 27), ("mouth", "chin")),
    ((38, 39), ("nose",)),
    ((61, 62, 63, 64), EYES),
)
AU_REGIONS: dict[int, tuple[str, ...]] = {au: regions for aus, regions in _TABLE for au in aus}
HEAD_MOVEMENTS = tuple(range(51, 59))

_TOKEN = re.compile(r"(?:AU)?([A-Z]*)(\d+)([A-E]?)", re.IGNORECASE)


@dataclass(frozen=True)
class ActionUnitCode:
    """One annotated AU: its number and side ("right", "left" = the subject's; None = both or unstated)."""

    number: int
    side: str | None = None


def parse_aus(text: str) -> tuple[list[ActionUnitCode], list[str]]:
    """`"R4+L10+12B"` -> (codes, tokens that name no AU of `AU_REGIONS`).

    Separators are +, commas, semicolons and spaces; a leading L/R gives the side, other letters ("A1") and a
    trailing intensity letter A-E are ignored; "/" and "-" mean no AU.
    """
    codes, unknown = [], []
    for token in re.split(r"[+,;\s]+", str(text or "").strip()):
        if not token or token in ("/", "-"):
            continue
        m = _TOKEN.fullmatch(token)
        if not m or int(m.group(2)) not in AU_REGIONS:
            unknown.append(token)
            continue
        prefix = m.group(1).upper()
        side = {"R": "right", "L": "left"}.get(prefix[-1:]) if prefix else None
        codes.append(ActionUnitCode(int(m.group(2)), side))
    return codes, unknown


def au_region_names(codes: Sequence[ActionUnitCode]) -> list[str]:
    """The regions of the AUs, in table order without repeats; a sided AU keeps its side's lateral regions."""
    names: list[str] = []
    for code in codes:
        for region in AU_REGIONS[code.number]:
            side = region.split("_")[0] if region.startswith(("right_", "left_")) else None
            if code.side and side and side != code.side:
                continue
            if region not in names:
                names.append(region)
    return names


@lru_cache(maxsize=64)
def _region_mask(name: str, size: int) -> np.ndarray:
    mask = GLABELLA.mask(size) if name == "glabella" else region_masks(size)[name]
    mask.flags.writeable = False
    return mask


def au_mask(aus: str | Sequence[ActionUnitCode], size: int) -> np.ndarray:
    """Boolean (size, size) union of the regions of the annotated AUs (all False when none is known)."""
    codes = parse_aus(aus)[0] if isinstance(aus, str) else list(aus)
    mask = np.zeros((size, size), dtype=bool)
    for name in au_region_names(codes):
        mask |= _region_mask(name, size)
    return mask


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boolean masks (0 when both are empty)."""
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    if a.shape != b.shape:
        raise ExplainError(f"masks of different shapes {a.shape} and {b.shape}")
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.0


# --------------------------------------------------------------------------------------------------------
# scoring maps against the annotated AUs (`explain dataset`)

MEAN_OF_MAPS = "mean of maps"


def sample_scores(aus: str, stack: np.ndarray, truth_mask: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The arrays `explain dataset` caches per sample: `au_mask`, and per map of `stack` (N, S, S) plus their
    equal-weight mean, `au_energy` (share of positive attribution in the AU regions) and `au_pointing` (the
    maximum inside them); `au_iou` with the ground-truth motion mask when there is one.  Empty when the
    clip's AUs name no region.
    """
    from .faithfulness import energy_in_mask, equal_weight_mean, pointing_game

    stack = np.asarray(stack)
    mask = au_mask(aus, stack.shape[-1])
    if not mask.any():
        return {}
    maps = [*stack, equal_weight_mean(stack)]
    out = {"au_mask": mask, "au_energy": np.array([energy_in_mask(v, mask) for v in maps]),
           "au_pointing": np.array([pointing_game(v, mask) for v in maps])}
    if truth_mask is not None:
        out["au_iou"] = np.array(mask_iou(mask, truth_mask))
    return out


def dataset_tables(results: Sequence[dict[str, np.ndarray]], layers: Sequence[str], n_random: int = 20) -> dict:
    """Mean AU-region energy and pointing rate per layer and for the mean of maps, next to chance: random maps
    on the same masks (`faithfulness.random_map_baseline`) and the masks' share of the area (what a uniform map
    gets in energy, and a uniformly placed maximum in pointing).  Also the mean IoU of the AU regions with the
    ground-truth motion masks, where the manifest has them.  {} when no sample was scored.
    """
    from .faithfulness import random_map_baseline

    scored = [r for r in results if "au_energy" in r]
    if not scored:
        return {}
    names = [*layers, MEAN_OF_MAPS]
    energy = np.stack([r["au_energy"] for r in scored])
    pointing = np.stack([r["au_pointing"] for r in scored]).astype(np.float64)
    table = {name: {"energy": float(energy[:, i].mean()), "pointing": float(pointing[:, i].mean()), "n": len(scored)}
             for i, name in enumerate(names)}
    masks = [r["au_mask"] for r in scored]
    chance = random_map_baseline(masks, n_maps=n_random, seed=0)
    table["random map"] = {"energy": chance.energy, "pointing": chance.pointing, "n": chance.n}
    area = float(np.mean([m.mean() for m in masks]))
    table["area share"] = {"energy": area, "pointing": area, "n": len(masks)}
    out: dict = {"action_units": table}
    ious = [float(r["au_iou"]) for r in scored if "au_iou" in r]
    if ious:
        out["action_units_mask_iou"] = {"mean": float(np.mean(ious)), "min": float(np.min(ious)),
                                        "max": float(np.max(ious)), "n": len(ious)}
    return out


def tables_csv(tables: dict) -> dict[str, str]:
    """{file name: CSV text} of `dataset_tables`' result: action_units.csv (map, energy, pointing, n) and, with
    ground-truth masks, action_units_mask_iou.csv."""
    if "action_units" not in tables:
        return {}
    lines = ["map,energy_in_au_regions,pointing_game,n"] + [
        f"{k},{v['energy']:.4f},{v['pointing']:.4f},{v['n']}" for k, v in tables["action_units"].items()]
    files = {"action_units.csv": "\n".join(lines) + "\n"}
    iou = tables.get("action_units_mask_iou")
    if iou:
        files["action_units_mask_iou.csv"] = ("mean,min,max,n\n"
                                              f"{iou['mean']:.4f},{iou['min']:.4f},{iou['max']:.4f},{iou['n']}\n")
    return files


def summary_lines(tables: dict) -> list[str]:
    """Console lines for `explain dataset`: each map's AU-region scores, then chance and the mask IoU."""
    lines = [f"  {k:>12}: energy in AU regions {v['energy']:.1%}, pointing game {v['pointing']:.1%} (n={v['n']})"
             for k, v in tables.get("action_units", {}).items()]
    iou = tables.get("action_units_mask_iou")
    if iou:
        lines.append(f"  AU regions vs ground-truth masks: IoU {iou['mean']:.3f} (n={iou['n']})")
    return lines
