"""The page's "over time" panel: which frames mattered, and whether the answer survives key frames off by one.

Behind its own button, not part of Analyse: the frame contributions (integrated gradients carried back
through the dynamic image, `explain.frames`) and the key-frame stability (`explain.stability`, onset/apex/
offset moved by one frame, one key frame at a time and the whole window) need the decoded clip again, which
Analyse drops, and cost several times the rest of the explanation (`bench/bench_explain.py`, README).  The
event is private (no API endpoint, no MCP tool): the library and `python -m explain` offer the same analyses.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import gradio as gr
import numpy as np

from explain.frames import FrameCurve, explain_frames, frame_curves_figure
from explain.stability import keyframe_stability
from learnet.pipeline import Pipeline

from . import settings
from .endpoints import ExplainRequest

STABILITY_K = 1
STABILITY_SAMPLE = "axes"  # 8 jitters: each key frame alone by +-1, then the whole window by +-1
EMPTY_LINE = "*Which frames mattered, and whether the answer survives key frames off by one frame: press the button.*"


@dataclass
class OverTimePanel:
    button: gr.Button
    curve: gr.Image
    stability: gr.Markdown


def build_panel() -> OverTimePanel:
    """The button, the frame-contribution chart and the stability line, rendered where it is called."""
    with gr.Accordion("Over time: which frames mattered, key-frame stability", open=False):
        button = gr.Button("Frame contributions and key-frame stability", size="sm", elem_id="over-time-button")
        stability = gr.Markdown(EMPTY_LINE, elem_id="stability-line")
        curve = gr.Image(None, label="Frame contributions (IG) beside the motion energy", format="png",
                         interactive=False, elem_id="frame-curve")
    return OverTimePanel(button, curve, stability)


def wire(h: Any, inputs: Any, panel: OverTimePanel) -> None:
    """The button's private event, and emptying the panel whenever the clip or the analysis changes."""
    private = dict(queue=False, api_visibility="private")
    explain_inputs = inputs.clip() + inputs.settings() + [inputs.methods, inputs.background]
    panel.button.click(lambda *values: over_time(h, ExplainRequest(*values)), explain_inputs,
                       [panel.curve, panel.stability], api_visibility="private", validator=h.validate,
                       concurrency_limit=settings.CONCURRENCY, concurrency_id=settings.CONCURRENCY_ID)
    for event in (inputs.analyse.click, inputs.video.change, inputs.frames_zip.change):
        event(lambda: (None, EMPTY_LINE), None, [panel.curve, panel.stability], **private)


def over_time(h: Any, request: ExplainRequest) -> tuple[np.ndarray, str]:
    """The frame-contribution chart (an RGB array) and the stability line of one clip, as the page shows them."""
    from .handlers import _user_errors

    with _user_errors():
        path = h.clip_path(request.video, request.frames_zip)
        choices = h._request_settings(request)
        a = h.analyse(path, choices)
        t0 = time.perf_counter()
        clip = h.read(path)
        with h._models.borrow() as model:
            pipeline = Pipeline(model, face_mode=choices.face_mode, di_variant=choices.variant, window=choices.window)
            onset, apex, offset = a.phases
            pre = pipeline.preprocess(clip, onset=onset, apex=apex, offset=offset, face=a.scan.face)
            attr = explain_frames(model, pre, variant=pipeline.di_variant, steps=h.ig_steps,
                                  internal_batch_size=h.ig_steps)
            stable = keyframe_stability(pipeline, clip, onset, apex, offset, k=STABILITY_K, sample=STABILITY_SAMPLE,
                                        face=a.scan.face)
        del clip, pre
        fig = frame_curves_figure([FrameCurve(attr, a.scan.estimate.energy, 0, a.scan.clip.fps)], width=7.16)
        return _rgb(fig), stability_line(stable, attr, time.perf_counter() - t0)


def stability_line(stable: Any, attr: Any, seconds: float) -> str:
    """One Markdown line: flips and map similarity under key-frame jitter, and where the contributions sit."""
    flips = sum(o.flipped for o in stable.outcomes)
    tried = len(stable.outcomes)
    similarity = "n/a" if np.isnan(stable.mean_similarity) else f"{stable.mean_similarity:.2f}"
    peak = int(attr.frames[int(np.argmax(np.abs(attr.contributions)))])
    return (f"**Stability:** key frames moved by ±{stable.k} frame ({tried} tries): the class changed in {flips}; "
            f"Grad-CAM rank correlation with the unmoved maps {similarity} (1 = same). "
            f"**Frames:** the largest contribution to {attr.target_label} is frame {peak} (apex {attr.apex}); "
            f"IG completeness gap {attr.delta:+.3f} logit. ({seconds:.1f} s)")


def _rgb(fig: Any) -> np.ndarray:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    fig.set_dpi(150)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()
