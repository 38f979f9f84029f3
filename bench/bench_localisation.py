"""Do the accretion layers' Grad-CAMs find the moving action units? Synthetic clips with exact motion masks.

    nice -n 19 python bench/bench_localisation.py [--per-class 20] [--model SRC] [--seed 0]

Clips come from `learnet.synth.make_clip` (one random identity each, MEGC 3 classes), every map explains the
clip's true class, and the ground truth is the generator's mask of where the AUs moved the face at the apex.
Goals (the restated localisation goal), each printed next to chance (random maps on the same masks, and the
masks' share of the area):
  - nuisance-free clips: the equal-weight mean of the AL1-AL4 maps puts >= 70% of its positive energy in the
    mask, and its maximum falls in the mask on >= 95% of clips;
  - clips with the generator's default nuisances (blinks, head motion, flicker, noise, JPEG): each AL map's
    in-mask share is >= 1.3x the dynamic image's own in-mask share of |DI| (the map must do better than the
    motion it was given).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from explain.faithfulness import energy_in_mask, equal_weight_mean, pointing_game, random_map_baseline  # noqa: E402
from explain.gradcam import gradcam_layers  # noqa: E402
from learnet.model import ACCRETION_LAYERS  # noqa: E402

MEAN = "mean of AL maps"
DI = "|DI| (the input)"


def clip_scores(model, pipeline, clip) -> dict[str, tuple[float, bool]]:
    """(energy in mask, pointing hit) of each AL map, their equal-weight mean and |DI| for one synthetic clip."""
    from learnet.video import Clip

    pred = pipeline.predict(Clip(clip.frames, clip.fps, f"synth-{clip.seed}"), onset=clip.onset, apex=clip.apex,
                            offset=clip.offset)
    size = model.input_size
    mask = cv2.resize(clip.mask.astype(np.uint8), (size, size), interpolation=cv2.INTER_NEAREST).astype(bool)
    x = pipeline.input_tensor(pred.preprocessed)
    maps = gradcam_layers(model, x, ACCRETION_LAYERS, target=clip.label)
    stack = np.stack([maps[layer].values for layer in ACCRETION_LAYERS])
    named = {layer.upper(): stack[i] for i, layer in enumerate(ACCRETION_LAYERS)}
    named[MEAN] = equal_weight_mean(stack)
    named[DI] = np.abs(pred.preprocessed.di).sum(axis=-1)
    out = {name: (energy_in_mask(v, mask), pointing_game(v, mask)) for name, v in named.items()}
    out["correct"] = (pred.label == clip.label, True)
    out["mask"] = mask  # type: ignore[assignment]
    return out


def run_condition(model, pipeline, nuisances, per_class: int, seed: int) -> dict:
    """Scores of `per_class` clips of each class: means per map, accuracy and chance on the same masks."""
    from learnet.synth import make_clip

    rows, masks = [], []
    for c, label in enumerate(model.class_names):
        for k in range(per_class):
            clip = make_clip(label, seed * 100_000 + c * 1000 + k, subject=f"s{k:02d}", nuisances=nuisances)
            r = clip_scores(model, pipeline, clip)
            masks.append(r.pop("mask"))
            rows.append(r)
    names = [n for n in rows[0] if n != "correct"]
    table = {n: (float(np.mean([r[n][0] for r in rows])), float(np.mean([r[n][1] for r in rows]))) for n in names}
    chance = random_map_baseline(masks, n_maps=20, seed=0)
    table["random map"] = (chance.energy, chance.pointing)
    area = float(np.mean([m.mean() for m in masks]))
    table["area share"] = (area, area)
    return {"table": table, "accuracy": float(np.mean([r["correct"][0] for r in rows])), "n": len(rows)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-class", type=int, default=20, help="clips per class and condition (default 20)")
    parser.add_argument("--model", default=None, help="model folder or Hub id (default: $LEARNET_MODEL or shipped)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the clips (default 0)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from learnet.hub import load_model
    from learnet.pipeline import Pipeline
    from learnet.synth import Nuisances

    model = load_model(args.model)
    pipeline = Pipeline(model, face_mode="none")  # synthetic clips are rendered aligned
    clean = run_condition(model, pipeline, Nuisances.none(), args.per_class, args.seed)
    noisy = run_condition(model, pipeline, Nuisances(), args.per_class, args.seed + 1)
    print(f"\nlocalisation on synthetic clips ({getattr(model, 'source', None)}): Grad-CAM of the true class; "
          f"{clean['n']} nuisance-free clips (accuracy {clean['accuracy']:.1%}), {noisy['n']} with nuisances "
          f"(accuracy {noisy['accuracy']:.1%})\n")
    di = noisy["table"][DI][0]
    print(f"| map | nuisance-free: energy in mask | pointing | with nuisances: energy in mask | pointing | "
          f"x the DI's share |")
    print("|---|---|---|---|---|---|")
    for name in clean["table"]:
        (ce, cp), (ne, np_) = clean["table"][name], noisy["table"][name]
        print(f"| {name} | {ce:.1%} | {cp:.1%} | {ne:.1%} | {np_:.1%} | {ne / di:.2f} |")
    energy, pointing = clean["table"][MEAN]
    print(f"\ngoal: nuisance-free mean of AL maps >= 70% energy in mask: {energy:.1%} "
          f"({'met' if energy >= 0.70 else 'NOT met'}); pointing >= 95%: {pointing:.1%} "
          f"({'met' if pointing >= 0.95 else 'NOT met'})")
    for layer in ACCRETION_LAYERS:
        ratio = noisy["table"][layer.upper()][0] / di
        print(f"goal: with nuisances {layer.upper()} in-mask share >= 1.3x the DI's ({di:.1%}): {ratio:.2f}x "
              f"({'met' if ratio >= 1.3 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
