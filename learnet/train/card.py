"""The model card of a model trained on all subjects: data, label map, preprocessing, recipe, LOSO figures."""
from __future__ import annotations

from .. import __version__
from ..metrics import format_mean_std
from .recipe import Recipe


def model_card_text(run: dict, recipe: Recipe, seed: int, epochs: int, loso: dict | None) -> str:
    """Markdown for the model card: data, label map, preprocessing, recipe, and the LOSO figures of this recipe."""
    lm = run["label_map"]
    counts = ", ".join(f"{c} {n}" for c, n in run["class_counts"].items())
    datasets = ", ".join(f"{d} ({n})" for d, n in run["datasets"].items())
    aug = (f"shift {recipe.shift}, scale {recipe.scale}, brightness {recipe.applied_brightness}, "
           f"flips {'on' if recipe.flip else 'off'}")
    lines = [
        "## Training",
        "",
        f"- Data: {run['n_samples']} samples from {len(run['folds'])} subjects: {datasets}.",
        f"- Label map: `{lm['name']}` ({lm.get('description') or 'custom'}); classes and counts: {counts}.",
        f"- Preprocessing: face mode `{recipe.face_mode}`, window `{recipe.window}`, dynamic-image variant "
        f"`{recipe.di_variant}`, input scaling `{recipe.input_scaling}`, {recipe.input_size} px, computed with "
        "`learnet.pipeline.preprocess` as at inference.",
        f"- Recipe: {epochs} epochs, batch {recipe.batch_size}, Adam lr {recipe.lr} (weight decay "
        f"{recipe.weight_decay}, {recipe.schedule} schedule), class weights {recipe.class_weights}, augmentation "
        f"{aug}, seed {seed}"
        + ("; BatchNorm statistics re-estimated on the training DIs after training" if recipe.recalibrate_bn else "")
        + f"; trained on all subjects (`learnet` {__version__}).",
        "",
        "## Evaluation (leave-one-subject-out, same recipe)",
        "",
    ]
    if loso is None:
        lines.append("No LOSO run of this recipe was found, so these weights come without an accuracy estimate. "
                     "Run `python -m learnet train` without `--all-subjects` into the same `--out` first.")
    else:
        o = loso["overall"]
        fmt = lambda k: format_mean_std(o[k]["mean"], o[k]["std"], o[k]["n"])  # noqa: E731
        lines += [
            f"- UF1 {fmt('uf1')}, UAR {fmt('uar')}, accuracy {fmt('accuracy')} over {len(loso['seeds'])} seed(s), "
            f"{loso['n_folds']} folds, {loso['n_samples']} samples (predictions of all folds pooled).",
            f"- Protocol: {loso['validity']}.",
        ]
        lines += [f"- **Warning: {note}.**" for note in loso["notes"]]
        for d, v in loso.get("per_dataset", {}).items():
            lines.append(f"- {d}: UF1 {v['uf1']['mean']:.3f}, UAR {v['uar']['mean']:.3f} ({v['n']} samples)")
    return "\n".join(lines) + "\n"
