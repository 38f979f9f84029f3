"""What the page says about an analysis: the Markdown summary, the faithfulness table and the JSON report."""
from __future__ import annotations

import torch

from explain.bundle import ExplanationBundle
from learnet import __version__
from learnet.model import LEARNet, describe

from .results import Analysis
from .text import public_source


def summary_markdown(a: Analysis) -> str:
    """Markdown summary: answer, window, face, notes, timings."""
    pred, pre, clip = a.prediction, a.prediction.preprocessed, a.scan.clip
    face = pre.face
    if face.mode == "none":
        face_text = "alignment off (the frames are taken as an aligned face crop)"
    elif face.found:
        eyes = "eyes detected" if face.eyes_detected else "eyes estimated from the face box"
        face_text = f"found on frame {face.reference_frame}, {eyes}, roll {face.angle:+.1f} deg"
    else:
        face_text = "not found: centre crop"
    how = "chosen by hand" if a.manual else ("motion heuristic" if a.scan.estimate.reliable else "whole clip")
    total = sum(a.seconds.values())
    abstention = getattr(pred, "abstention", None)
    if abstention:
        shares = ", ".join(f"{k} {v:.0%}" for k, v in pred.probabilities.items())
        answer = f"**{abstention}**: the class probabilities are not meaningful ({shares})"
    else:
        answer = f"**{pred.label}** ({pred.probabilities[pred.label]:.0%})"
    lines = [
        f"{answer} - `{a.name}`: {clip.num_frames} frames, {clip.size[1]}x{clip.size[0]} px, {clip.fps:g} fps",
        f"- Window ({how}): onset {pre.onset}, apex {pre.apex}, offset {pre.offset}; the dynamic image "
        f"({a.settings.variant}, {a.settings.window}) pools frames {pre.window.start}-{pre.window.stop - 1}",
        f"- Face: {face_text}",
    ]
    lines += [f"- Note: {n}" for n in a.notes]
    lines.append(f"- Time: {total:.2f} s (" + ", ".join(f"{k} {v:.2f}" for k, v in a.seconds.items()) + ")")
    return "\n".join(lines)


def faithfulness_markdown(faithful: dict[str, dict]) -> str:
    """The deletion and insertion AUC of every map (and of the chance map) as a Markdown table."""
    lines = [
        "| map | deletion AUC (lower is better) | insertion AUC (higher is better) |",
        "|---|---:|---:|",
    ]
    lines += [f"| {name} | {v['deletion_auc']:.3f} | {v['insertion_auc']:.3f} |" if v["deletion_auc"] is not None
              else f"| {name} | {v['note']} | |" for name, v in faithful.items()]
    lines.append("\nProbability of the predicted class as the most relevant pixels are removed (deletion) or "
                 "restored (insertion), against the no-motion grey; a faithful map beats the random map.")
    return "\n".join(lines)


def analysis_report(model: LEARNet, a: Analysis, bundle: ExplanationBundle, seconds: dict[str, float]) -> dict:
    """Everything about one analysis as JSON: model, clip, window, prediction, maps and their checks."""
    clip = a.scan.clip
    return {
        "learnet_version": __version__,
        "torch_version": torch.__version__,
        "model": {"source": public_source(getattr(model, "source", None)),
                  "revision": getattr(model, "revision", None), **describe(model)},
        "clip": {"name": a.name, "frames": clip.num_frames, "fps": clip.fps,
                 "size": [clip.size[1], clip.size[0]], "notes": list(clip.notes)},
        "settings": {"window_from": "manual" if a.manual else "motion heuristic",
                     "di_variant": a.settings.variant, "frame_window": a.settings.window,
                     "face_mode": a.settings.face_mode},
        "motion": a.scan.estimate.to_dict(),
        "prediction": a.prediction.to_dict(),
        "notes": a.notes,
        **bundle.report(),  # explanations, region_area_shares, faithfulness
        "timings_s": {k: round(v, 4) for k, v in seconds.items()},
    }
