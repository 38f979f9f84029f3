"""The page: widgets wired to `demo.handlers`, the queue, the examples and the launch options.

`build_demo()` returns a `gr.Blocks`; `launch_options()` holds what Gradio 6 takes at `launch()` (theme, css,
upload limit).  Endpoints with API names, for `gradio_client`: `/predict`, `/explain` and `/figure` (the same
leading inputs, specified once in `demo.endpoints`; each reuses the work of an identical earlier call in the
same process).  `build_demo` calls one builder per panel, then wires the inputs and the endpoints.
"""
from __future__ import annotations

import csv
import functools
import inspect
import logging
import os
import shutil
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from learnet.dynamic import VARIANTS, WINDOWS
from learnet.hub import ModelLoadError, load_model
from learnet.model import LEARNet

from . import over_time, settings, text
from .handlers import BACKGROUNDS, EMPTY_FAITHFULNESS, EMPTY_MOTION, EMPTY_REGIONS, EMPTY_SUMMARY, DemoHandlers
from .memory import release_memory

log = logging.getLogger("learnet.demo")

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"

CSS = """
#summary ul { margin-top: 0.2em; }
.heuristic-note { font-size: 0.85em; opacity: 0.8; }
/* Labels above the pictures, not floating over them (a chart's title, a face). */
#motion-plot > label[data-testid="block-label"], #regions > label[data-testid="block-label"],
#keyframes > label[data-testid="block-label"], #gradcam-gallery > label[data-testid="block-label"],
#input-gallery > label[data-testid="block-label"] { position: static; margin-bottom: 4px; }
/* The charts are drawn black on white; in dark mode they are inverted (hues kept) instead of glaring. */
.dark #motion-plot img, .dark #regions img { filter: invert(0.9) hue-rotate(180deg); }
/* Galleries: whole pictures (no crop), the caption under each picture, wrapped instead of cut. */
#keyframes, #gradcam-gallery, #input-gallery { height: auto !important; }
#keyframes .grid-wrap, #gradcam-gallery .grid-wrap, #input-gallery .grid-wrap {
  height: auto !important; min-height: 0 !important; max-height: none !important; overflow: visible !important; }
#keyframes .thumbnail-item, #gradcam-gallery .thumbnail-item, #input-gallery .thumbnail-item {
  height: auto !important; aspect-ratio: auto !important; display: flex; flex-direction: column; }
#keyframes .thumbnail-item img, #gradcam-gallery .thumbnail-item img, #input-gallery .thumbnail-item img {
  width: 100%; height: auto !important; aspect-ratio: 1 / 1; object-fit: contain !important; }
#keyframes .caption-label, #gradcam-gallery .caption-label, #input-gallery .caption-label {
  position: static !important; transform: none !important; max-width: 100% !important; white-space: normal !important;
  overflow: visible !important; text-overflow: clip !important; text-align: center; margin: 0 !important;
  padding: 2px 0 !important; font-size: 0.8em; background: none !important; color: var(--body-text-color) !important; }
@media (max-width: 640px) {
  #gradcam-gallery .grid-container { --grid-cols: 2 !important; }
  #input-gallery .grid-container { --grid-cols: 2 !important; }
  #regions img, #motion-plot img { width: 100% !important; height: auto !important; }
  .gradio-container { padding-left: 4px !important; padding-right: 4px !important; }
}
"""

try:  # On a ZeroGPU Space `spaces.GPU` schedules the call on a GPU worker; elsewhere it is absent or a no-op.
    import spaces

    gpu = spaces.GPU
except ImportError:  # pragma: no cover - depends on the environment

    def gpu(fn):
        return fn


def load_demo_model(source: str | os.PathLike | None = None) -> tuple[LEARNet | None, str | None]:
    """Load the weights the page uses (`learnet.hub.load_model`: source, else `$LEARNET_MODEL`, else the
    shipped folder); on failure return (None, the reason), logged, so the page can still open and say so."""
    try:
        model = load_model(source)
    except ModelLoadError as exc:
        log.error("could not load the model: %s", exc)
        return None, str(exc)
    log.info("model loaded from %s (classes: %s)", getattr(model, "source", source), ", ".join(model.class_names))
    return model, None


def example_clips(folder: Path = EXAMPLES_DIR) -> tuple[list[str], list[str]]:
    """Example videos of `folder` in name order, with labels from its manifest.csv (project manifest format)
    when there is one: "<label> (AUs ...)"; otherwise the file names."""
    if not folder.is_dir():
        return [], []
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in settings.VIDEO_TYPES and p.is_file())
    labels = {p.name: p.stem for p in paths}
    manifest = folder / "manifest.csv"
    if manifest.is_file():
        with manifest.open(newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                name = Path(row.get("path") or "").name
                if name in labels and row.get("label"):
                    aus = f" (AUs {row['aus']})" if row.get("aus") else ""
                    labels[name] = f"{row['label']}{aus} - {Path(name).stem}"
    return [str(p) for p in paths], [labels[p.name] for p in paths]


def _served(h: DemoHandlers, fn: Callable, name: str | None = None) -> Callable:
    """`fn` as the page calls it: image outputs written to files of their own (`DemoHandlers.as_files`).
    The signature stays `fn`'s, so Gradio sees the same API parameters; `name` (default `fn`'s) is the name
    Gradio's MCP server gives the tool."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        out = fn(*args, **kwargs)
        return h.as_files(out) if isinstance(out, tuple) else out

    # `wraps` copies the endpoint's own `__signature__` (with `self`) from the function behind the bound method;
    # Gradio must see the bound method's parameters.
    wrapper.__signature__ = inspect.signature(fn)
    if name:
        wrapper.__name__ = name
    return wrapper


def _example_copies(examples: gr.Examples, paths: list[str]) -> dict[str, str]:
    """{the copy Gradio serves an example from: the example file it was copied from}, matched by file name."""
    by_name = {Path(p).name: p for p in paths}
    return {value["path"]: by_name[value["orig_name"]]
            for sample in examples.dataset.samples for value in sample
            if isinstance(value, dict) and value.get("path") and value.get("orig_name") in by_name}


def restore_examples(copies: dict[str, str]) -> int:
    """Copy back every example file that has gone from Gradio's cache (a cleaner, the quota, a full disk
    freed by hand), so the examples work for the server's whole lifetime; returns how many were restored."""
    restored = 0
    for copy, source in copies.items():
        if not os.path.exists(copy) and os.path.isfile(source):
            os.makedirs(os.path.dirname(copy), exist_ok=True)
            shutil.copyfile(source, copy)
            restored += 1
    if restored:
        log.info("restored %d example clip(s) in Gradio's cache", restored)
    return restored


def _track_gradio_files(h: DemoHandlers, demo: gr.Blocks, example_copies: dict[str, str] | None = None) -> None:
    """Put the files Gradio holds for this page (uploads, cached outputs) under the handlers' disk quota,
    except the cached examples, and sweep it in the background; examples gone from the cache come back."""
    ref = weakref.ref(demo)

    def file_sets() -> list[set]:
        blocks = ref()
        return list(blocks.temp_file_sets) if blocks is not None else []

    def keep() -> set:
        blocks = ref()
        if blocks is None:
            return set()
        kept: set = set()
        for block in list(blocks.blocks.values()):
            kept.update(getattr(block, "keep_in_cache", ()))
        return kept

    def after_sweep() -> None:
        restore_examples(example_copies or {})
        # The periodic trim also returns what the last requests of a burst freed after their own trims.
        release_memory()

    h.quota.file_sets, h.quota.keep = file_sets, keep
    h.example_copies = dict(example_copies or {})
    h.quota.start(settings.SWEEP_INTERVAL_S, demo, also=after_sweep)


@dataclass
class ResultOutputs:
    """The page's result components, made unrendered so the examples (which need them) can sit under the button."""

    label: gr.Label
    dynamic_image: gr.Image
    keyframes: gr.Gallery
    motion: gr.Image
    summary: gr.Markdown
    cams: gr.Gallery
    attributions: gr.Gallery
    regions: gr.Image
    faithfulness: gr.Markdown
    downloads: gr.File
    figure_button: gr.Button

    def prediction(self) -> list:
        """The outputs of `/predict`, less the window sliders (see `ClipInputs`)."""
        return [self.label, self.keyframes, self.dynamic_image, self.motion]

    def explanation(self) -> list:
        """The outputs of `/explain`."""
        return [self.cams, self.attributions, self.regions, self.faithfulness, self.downloads]

    def all(self) -> list:
        """Every result output, in the order of `DemoHandlers.cleared_outputs`."""
        return self.prediction() + [self.summary] + self.explanation()


@dataclass
class ClipInputs:
    """The clip, its window and preprocessing, the explanation options and the Analyse button."""

    video: gr.Video
    frames_zip: gr.File
    auto_window: gr.Checkbox
    onset: gr.Slider
    apex: gr.Slider
    offset: gr.Slider
    variant: gr.Radio
    window: gr.Radio
    align: gr.Checkbox
    user_align: gr.State  # the user's own alignment choice: an example turns alignment off for itself only
    methods: gr.CheckboxGroup
    background: gr.Radio
    analyse: gr.Button

    def clip(self) -> list:
        return [self.video, self.frames_zip]

    def settings(self) -> list:
        """The window and preprocessing, in the order of the endpoints' parameters after the clip."""
        return [self.auto_window, self.onset, self.apex, self.offset, self.variant, self.window, self.align]

    def window_controls(self) -> list:
        return [self.auto_window, self.onset, self.apex, self.offset]


def _result_outputs() -> ResultOutputs:
    return ResultOutputs(
        label=gr.Label(num_top_classes=5, label="Class probabilities", elem_id="label-output", render=False),
        dynamic_image=gr.Image(label="Dynamic image (network input)", format="png", height=230,
                               interactive=False, elem_id="dynamic-image", render=False),
        keyframes=gr.Gallery(label="Aligned key frames: onset, apex, offset", format="png", columns=3,
                             object_fit="contain", elem_id="keyframes", render=False),
        motion=gr.Image(EMPTY_MOTION, label="Motion energy (heuristic)", show_label=False, format="png",
                        interactive=False, elem_id="motion-plot", render=False),
        summary=gr.Markdown(EMPTY_SUMMARY, label="Summary", elem_id="summary", render=False),
        cams=gr.Gallery(label="Grad-CAM per accretion layer: colour = attribution density (× a uniform map), "
                              "one scale for all maps; caption = the map's peak",
                        format="png", columns=4, object_fit="contain", preview=False, elem_id="gradcam-gallery",
                        render=False),
        attributions=gr.Gallery(label="Input attributions (same colour scale; caption = peak)", format="png",
                                columns=3, object_fit="contain", preview=False, fit_columns=False,
                                elem_id="input-gallery", render=False),
        regions=gr.Image(EMPTY_REGIONS, label="Attribution per facial region (× its area)", show_label=False,
                         format="png", interactive=False, elem_id="regions", render=False),
        faithfulness=gr.Markdown(EMPTY_FAITHFULNESS, label="Faithfulness", elem_id="faithfulness", render=False),
        downloads=gr.File(label="Downloads: JSON report (and the figure, once made)", file_count="multiple",
                          interactive=False, elem_id="downloads", render=False),
        # The paper figure is made on request: matplotlib's PDF + PNG cost about as much as the whole
        # explanation, and most analyses are looked at, not published.
        figure_button=gr.Button("Make the paper figure (PDF, PNG)", size="sm", elem_id="figure-button",
                                render=False),
    )


def _clip_panel(h: DemoHandlers) -> tuple[gr.Video, gr.File]:
    with gr.Tab("Video or webcam"):
        video = gr.Video(label="Clip", sources=["upload", "webcam"], elem_id="clip-video", height=300)
    with gr.Tab("Zip of frames", elem_id="zip-tab"):
        frames_zip = gr.File(label="Zip of frames (one clip, frames sorted by name)",
                             file_types=list(settings.ZIP_TYPES), elem_id="clip-zip")
    gr.Markdown(text.limits_note(h.limits), elem_classes="heuristic-note")
    return video, frames_zip


def _settings_panel(h: DemoHandlers, video: gr.Video, frames_zip: gr.File) -> ClipInputs:
    with gr.Accordion("Window and preprocessing", open=False, elem_id="window-settings"):
        auto_window = gr.Checkbox(True, label="Automatic window (motion-energy heuristic)",
                                  info=text.WINDOW_HELP, elem_id="auto-window")
        onset = gr.Slider(0, 100, value=0, step=1, label="Onset frame", elem_id="onset")
        apex = gr.Slider(0, 100, value=0, step=1, label="Apex frame", elem_id="apex")
        offset = gr.Slider(0, 100, value=0, step=1, label="Offset frame", elem_id="offset")
        variant = gr.Radio(list(VARIANTS), value=h.default_variant, label="Dynamic-image variant",
                           info="bilen: approximate rank pooling (coefficients sum to 0); authors: "
                                "the released code's coefficients (compatibility)")
        window = gr.Radio(list(WINDOWS), value=h.default_window, label="Frame window")
        align = gr.Checkbox(h.default_align, label="Face alignment (off: frames are already an "
                                                   "aligned face crop)", elem_id="align")
        user_align = gr.State(h.default_align)
    with gr.Accordion("Explanations", open=False):
        methods = gr.CheckboxGroup(list(settings.OPTIONAL_METHODS), value=[],
                                   label="Extra input attributions (slower)")
        background = gr.Radio(list(BACKGROUNDS), value="dynamic image", label="Overlay background")
    analyse = gr.Button("Analyse", variant="primary", elem_id="analyse-button")
    return ClipInputs(video, frames_zip, auto_window, onset, apex, offset, variant, window, align, user_align,
                      methods, background, analyse)


def _examples_panel(h: DemoHandlers, inputs: ClipInputs, outputs: ResultOutputs,
                    examples_dir: Path | None) -> dict[str, str]:
    """The example clips under the button; returns {Gradio's cached copy: the example file} (see
    `_example_copies`), empty without examples."""
    paths, labels = example_clips(examples_dir) if examples_dir else ([], [])
    if not paths:
        return {}
    h.register_examples(paths)
    examples = gr.Examples(
        # The synthetic clips are rendered already aligned to the face template, so they run with face
        # alignment off; the checkbox shows it while an example is loaded (see `video_changed`), so Analyse
        # repeats the result, and the next upload gets the user's own setting back.
        examples=[[p] for p in paths], inputs=[inputs.video],
        outputs=_predict_outputs(inputs, outputs) + outputs.explanation(),
        fn=gpu(_served(h, h.example)), cache_examples=True, cache_mode="lazy", example_labels=labels,
        label="Synthetic example clips (computed on the first click, then cached)",
    )
    return _example_copies(examples, paths)


def _predict_outputs(inputs: ClipInputs, outputs: ResultOutputs) -> list:
    """`/predict`'s outputs: the prediction, the window it used (written back into the sliders), the summary."""
    return outputs.prediction() + [inputs.onset, inputs.apex, inputs.offset, outputs.summary]


def _prediction_panel(outputs: ResultOutputs) -> None:
    with gr.Row():
        outputs.label.render()
        outputs.dynamic_image.render()
    outputs.keyframes.render()
    outputs.motion.render()
    outputs.summary.render()


def _attribution_panel(outputs: ResultOutputs) -> None:
    with gr.Row():
        with gr.Column(scale=3):
            outputs.cams.render()
        with gr.Column(scale=2):
            outputs.attributions.render()
    with gr.Row():
        with gr.Column(scale=3):
            outputs.regions.render()
        with gr.Column(scale=2):
            outputs.faithfulness.render()
            outputs.downloads.render()
            outputs.figure_button.render()


def _model_panel(model: LEARNet | None, error: str | None) -> None:
    with gr.Accordion("Model and limitations", open=model is None):
        gr.Markdown(text.model_panel(model, error), elem_id="model-panel")
        gr.Markdown(text.LIMITATIONS, elem_id="limitations")


def _wire_inputs(h: DemoHandlers, inputs: ClipInputs, outputs: ResultOutputs) -> None:
    """What a user's change of the inputs does to the other inputs and to the shown results."""
    private = dict(queue=False, api_visibility="private")
    # Moving a slider, or typing a frame number, means the user wants that window; a new clip goes back to the
    # automatic one.  `input` fires for the user's own changes only, not for the analysis writing the window it
    # used back into the sliders.
    for slider in (inputs.onset, inputs.apex, inputs.offset):
        slider.input(lambda: False, None, inputs.auto_window, **private)
        slider.release(lambda: False, None, inputs.auto_window, **private)
    inputs.align.input(lambda value: value, inputs.align, inputs.user_align, **private)
    # What was given last is what is analysed: a new video drops the zip and a new zip the video.
    inputs.video.change(h.video_changed, [inputs.video, inputs.user_align],
                        [inputs.frames_zip, *inputs.window_controls(), inputs.align], **private)
    inputs.frames_zip.change(h.zip_changed, [inputs.frames_zip, inputs.user_align],
                             [inputs.video, *inputs.window_controls(), inputs.align], **private)
    # A clip from the user empties the earlier clip's results (examples bring their own at once).
    for event in (inputs.video.upload, inputs.video.stop_recording, inputs.frames_zip.upload):
        event(h.cleared_outputs, None, outputs.all(), **private)


def _wire_endpoints(h: DemoHandlers, inputs: ClipInputs, outputs: ResultOutputs) -> None:
    """The API endpoints `/predict`, `/explain` and `/figure` (one press of Analyse runs the first two)."""
    common = dict(concurrency_limit=settings.CONCURRENCY, concurrency_id=settings.CONCURRENCY_ID)
    private = dict(queue=False, api_visibility="private")
    explain_inputs = inputs.clip() + inputs.settings() + [inputs.methods, inputs.background]
    # Analyse first empties the outputs, so a refused clip's error never sits next to an earlier answer.
    inputs.analyse.click(h.cleared_outputs, None, outputs.all(), **private).then(
        gpu(_served(h, h.predict)), inputs.clip() + inputs.settings(), _predict_outputs(inputs, outputs),
        api_name="predict", validator=h.validate, **common,
    ).success(
        gpu(_served(h, h.attributions, "explain")), explain_inputs, outputs.explanation(), api_name="explain",
        validator=h.validate, **common,
    )
    outputs.figure_button.click(gpu(h.figure), explain_inputs, outputs.downloads, api_name="figure",
                                validator=h.validate, **common)
    # An upload the browser cannot play (mp4v, HEVC, MJPEG AVI, .mov) is shown as an H.264 copy.
    inputs.video.upload(h.preview, inputs.video, inputs.video, queue=False, api_visibility="private")


def build_demo(
    model_source: str | os.PathLike | None = None,
    *,
    model: LEARNet | None = None,
    examples_dir: Path | None = EXAMPLES_DIR,
    workdir: str | Path | None = None,
) -> gr.Blocks:
    """Build the page (not launched).

    Args:
        model_source: weights to load (folder or Hub id `org/name[@rev]`); None -> `$LEARNET_MODEL`, else the
            shipped demo weights.  A loading failure does not raise: the page opens and explains it.
        model: an already loaded model (skips loading; for tests and notebooks).
        examples_dir: folder of example clips (None: no examples).
        workdir: where figures and reports are written (default: a fresh temp folder).
    """
    error = None
    if model is None:
        model, error = load_demo_model(model_source)
    h = DemoHandlers(model, error, workdir=workdir)

    with gr.Blocks(title=text.TITLE, delete_cache=settings.DELETE_CACHE) as demo:
        outputs = _result_outputs()
        gr.Markdown(text.INTRO)
        if model is None:
            gr.Markdown(f"**The model could not be loaded:** {error}", elem_id="model-error")
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=320):
                inputs = _settings_panel(h, *_clip_panel(h))
                example_copies = _examples_panel(h, inputs, outputs, examples_dir)
            with gr.Column(scale=3, min_width=420):
                _prediction_panel(outputs)
        _attribution_panel(outputs)
        over_time_panel = over_time.build_panel()  # behind its own button: it does not fit Analyse's time
        _model_panel(model, error)
        _wire_inputs(h, inputs, outputs)
        _wire_endpoints(h, inputs, outputs)
        over_time.wire(h, inputs, over_time_panel)
    demo.queue(max_size=settings.QUEUE_SIZE, default_concurrency_limit=settings.CONCURRENCY)
    _track_gradio_files(h, demo, example_copies)
    demo.handlers = h  # for tests and notebooks: the functions behind the endpoints
    return demo


# The browser's own "Video not playable" toast fires for uploads in codecs it cannot decode (phones' mp4v,
# HEVC, MJPEG AVI) before the page swaps in its H.264 preview; the analysis reads those clips fine, and a clip
# the page cannot read gets the page's own one-line error.  So that generic toast is dismissed as it appears.
JS = """
() => {
  const hide = () => document.querySelectorAll('[data-testid="toast-text"]').forEach((t) => {
    if (t.textContent.trim() === 'Video not playable') {
      const toast = t.closest('[data-testid="toast-body"]') || t.parentElement;
      toast.remove();
    }
  });
  new MutationObserver(hide).observe(document.body, {childList: true, subtree: true});
}
"""


def launch_options(**overrides: Any) -> dict[str, Any]:
    """Keyword arguments for `demo.launch()`: theme, css and js (Gradio 6 takes them here), the upload limit."""
    options: dict[str, Any] = {
        "theme": gr.themes.Soft(),
        "css": CSS,
        "js": JS,
        "max_file_size": settings.MAX_UPLOAD,
        "footer_links": ["api", "gradio"],
    }
    options.update(overrides)
    return options
