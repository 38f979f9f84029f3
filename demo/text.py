"""The page's words: title, how-to, the model panel, and what micro-expression recognition can and cannot tell.

Kept apart from the widgets so the wording can be reviewed (and tested) on its own.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from learnet.model import PAPER_URL, LEARNet, count_parameters
from learnet.video import ClipLimits

TITLE = "LEARNet micro-expression demo"

INTRO = f"""# {TITLE}
A clip is aligned on the face **once**, its motion is summarised into one **dynamic image**, and
[LEARNet]({PAPER_URL}) (Verma et al., IEEE TIP 2020) classifies it; Grad-CAM on the four **accretion layers**
and integrated gradients show which facial regions drove the answer.
Upload a short clip (or record one, or pick an example), then press **Analyse**."""

WINDOW_HELP = (
    "The frames the dynamic image summarises. Automatic: a motion-energy curve (a heuristic, not an annotation) "
    "picks the apex where the face moves most and the onset and offset where the motion fades."
)

LIMITATIONS = """### What micro-expression recognition can and cannot tell
- It says which of a few **expression classes** a brief facial movement most resembles, among the classes
  the model was trained on. It always answers with one of them, even for a face that shows nothing.
- It **cannot** tell what someone feels or thinks, whether they are lying, or whether they are trustworthy.
  A micro-expression is a movement, not a confession; the same movement has many causes. This is **not a lie
  detector**, and it must not be used to make decisions about people (hiring, policing, borders, health,
  school).
- Published systems reach an unweighted F1 of about 0.6-0.86 on lab datasets (posed lighting, frontal
  faces, 200 fps cameras, clips cut around the expression by annotators); on everyday video they do much
  worse. The demo weights are trained on **synthetic** faces: they show how the pipeline works, not how
  well it would do on real people.
- The explanation maps show what moved the model's score, not what the person felt; a map on the mouth means
  the model used the mouth."""


def limits_note(limits: ClipLimits) -> str:
    """One line stating the input limits, shown under the upload widgets."""
    return (f"Videos (mp4, avi, mov, webm, mkv) or a zip of frames; up to {limits.max_file_bytes / 2**20:.0f} MB, "
            f"{limits.max_frames} frames; frames over {limits.max_long_side} px are downscaled.")


def _format_value(value: Any, limit: int = 160) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def public_source(source: Any) -> str | None:
    """Where the weights came from, as a visitor may see it: a Hub id as is, a local folder by its name only
    (the server's paths are none of the page's business)."""
    if source is None:
        return None
    text = str(source)
    path = Path(text)
    if path.is_absolute() or path.exists():
        return path.name
    return text


def model_panel(model: LEARNet | None, error: str | None = None) -> str:
    """Markdown for the model panel: which weights are loaded and what they expect, or why none could be."""
    if model is None:
        return ("### Model\n**No model is loaded.** " + (error or "The weights could not be loaded.") +
                "\n\nSet `LEARNET_MODEL` to a model folder or a Hub id `org/name[@revision]` and restart.")
    source = public_source(getattr(model, "source", None)) or "(built in memory)"
    revision = getattr(model, "revision", None)
    lines = [
        "### Model",
        f"- **Weights:** `{source}`" + (f" at revision `{revision}`" if revision else ""),
        f"- **Classes:** {', '.join(model.class_names)}",
        f"- **Input:** {model.preprocessing.describe()}",
        f"- **Size:** {count_parameters(model):,} trainable parameters",
    ]
    meta: Mapping[str, Any] = getattr(model, "metadata", {}) or {}
    card = meta.get("model_card")
    for key, value in meta.items():
        if key == "model_card" or value in (None, "", [], {}):
            continue
        if card and isinstance(value, (dict, list)):  # the card already says it in prose
            continue
        lines.append(f"- **{key.replace('_', ' ').capitalize()}:** {_format_value(value)}")
    if card:
        lines.append("\n" + str(card).strip())
    if not meta:
        lines.append("- **Trained on:** not recorded in the model's config.json")
    return "\n".join(lines)
