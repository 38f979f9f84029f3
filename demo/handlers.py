"""What the page's buttons do: a clip path in, the page's outputs back.

`DemoHandlers` holds the loaded model (or the reason it could not be loaded) and offers one method per
endpoint.  The domain steps are library calls (`learnet.scan`, `learnet.pipeline`, `explain.bundle`); every
failure a user can cause ends as a `gr.Error` with a sentence (shown in the page, returned to API clients),
everything worth knowing but not fatal (no face, several faces, downscaled frames, no clear motion) as a
`gr.Warning` and in the summary and JSON report.

Stages, each reported through `gr.Progress`:

1. scan: read the clip, find the face once, align small copies of every frame, motion-energy curve and the
   heuristic onset / apex / offset (`learnet.scan.scan_clip`);
2. predict: `learnet.pipeline.Pipeline.predict` on the chosen window (dynamic image, probabilities, key frames);
3. attributions (the `/explain` endpoint): the explanation bundle (`explain.bundle.explanation_bundle`: Grad-CAM
   of AL1-AL4 in one shared pass, integrated gradients, optionally SmoothGrad and occlusion, region shares,
   deletion/insertion faithfulness) and a JSON report;
4. figure (its own button): the paper figure of the attributions as PDF and PNG.  matplotlib costs about as
   much as stages 1-3 together, so Analyse stops after the JSON report and the figure is drawn on request.

Recent scans, analyses and attributions are kept (results only, in a cache bounded in bytes:
`settings.CACHE_BYTES`), so `/explain` after `/predict`, or `/figure` after `/explain`, with the same inputs
does not classify or attribute again.  Decoded clips are never kept: they are dropped as soon as the motion
curve, the dynamic image and the key frames exist, and the freed memory is handed back to the system.
"""
from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import logging
import queue
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np

from explain.bundle import ExplanationBundle, FaithfulnessCheck, MethodSpec, explanation_bundle
from explain.faithfulness import is_flat
from explain.figure import FigureRow
from learnet.dynamic import VARIANTS, WINDOWS
from learnet.model import ACCRETION_LAYERS, LEARNet
from learnet.pipeline import Pipeline, Prediction
from learnet.scan import scan_clip
from learnet.video import Clip, ClipError, ClipLimits, read_clip

from . import charts, images, settings, storage
from .endpoints import ClipRequest, ExplainRequest, endpoint
from .inputs import clean_message, clip_problem, display_name, frame_count, sentence, slug
from .memory import SizedCache, release_memory
from .report import analysis_report, faithfulness_markdown, summary_markdown
from .results import FACE_MODES, Analysis, AttributedAnalysis, ClipInfo, Scan, Settings

log = logging.getLogger("learnet.demo")

BACKGROUNDS = {"dynamic image": "dynamic", "apex frame": "apex"}
# The page's optional input attributions (`settings.OPTIONAL_METHODS`) by their `explain` method names.
OPTIONAL_METHOD_NAMES = {"SmoothGrad": "smoothgrad", "Occlusion": "occlusion"}
# What the page's progress bar says as each stage of an explanation bundle starts.
BUNDLE_PROGRESS = {"gradcam": (0.55, "Grad-CAM on AL1-AL4"), "ig": (0.65, "Integrated gradients"),
                   "faithfulness": (0.75, "Region shares and faithfulness")}


class _ModelPool:
    """One model copy per concurrent analysis.

    Attribution methods put forward hooks on the model; on a shared model they would also fire during another
    request's forward passes and mix the two requests' activations.  Copies are cheap (7.5 MB of weights).
    """

    def __init__(self, model: LEARNet, copies: int):
        self._free: queue.SimpleQueue[LEARNet] = queue.SimpleQueue()
        self._free.put(model)
        for _ in range(max(1, copies) - 1):
            self._free.put(copy.deepcopy(model))

    @contextlib.contextmanager
    def borrow(self) -> Iterator[LEARNet]:
        model = self._free.get()
        try:
            yield model
        finally:
            self._free.put(model)



def _warn(message: str) -> None:
    """A non-fatal note: a yellow toast in the page (a Python warning outside a request)."""
    gr.Warning(message)
    log.warning(message)


class DemoHandlers:
    """The demo's endpoints, bound to one model.

    Args:
        model: the loaded `LEARNet`, or None when loading failed (every endpoint then says why).
        model_error: the loading error's sentence, shown in the page.
        limits: clip limits (upload size, frame count, long side).
        workdir: where figures, reports and output images are written (a fresh temp folder by default).
        workers: analyses that may run at once (one model copy each).
        ig_steps, faithfulness_steps: cost of integrated gradients and of the deletion/insertion curves.
        cache_bytes: memory for recent results (scans, analyses, attributions).
    """

    def __init__(self, model: LEARNet | None, model_error: str | None = None, *,
                 limits: ClipLimits = settings.LIMITS, workdir: str | Path | None = None,
                 workers: int = settings.CONCURRENCY, ig_steps: int = settings.IG_STEPS,
                 faithfulness_steps: int = settings.FAITHFULNESS_STEPS, cache_bytes: int = settings.CACHE_BYTES):
        self.model = model.eval() if model is not None else None
        self.model_error = model_error
        self.limits = limits
        self.ig_steps = ig_steps
        self.faithfulness_steps = faithfulness_steps
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="learnet-demo-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._cache = SizedCache(cache_bytes)  # ("scan" | "analysis" | "explanation", key) -> result
        self._models = _ModelPool(self.model, workers) if self.model is not None else None
        self._lock = threading.Lock()  # guards the result folders, not the models
        self._figure_lock = threading.Lock()  # one figure drawn at a time, each at most once
        self._counter = 0
        self._previews: dict[str, Path] = {}  # file name of a browser-playable preview -> the uploaded original
        # Every file the page holds: bounded by age and total size (ui.build_demo adds Gradio's files).
        self.quota = storage.DiskQuota(settings.DISK_QUOTA_BYTES, settings.FILE_TTL_S, [self.workdir])

    # ---- defaults -------------------------------------------------------------------------------------
    @property
    def default_variant(self) -> str:
        return self.model.di_variant if self.model is not None else VARIANTS[0]

    @property
    def default_window(self) -> str:
        return self.model.window if self.model is not None else WINDOWS[0]

    @property
    def default_align(self) -> bool:
        """The face-alignment checkbox's default: on unless the model expects aligned face crops."""
        return self.model is None or self.model.face_mode != "none"

    def _require_model(self) -> LEARNet:
        if self.model is None:
            raise gr.Error(f"No model is loaded, so nothing can be classified: {self.model_error}")
        return self.model

    def _settings(self, auto_window: bool | None = True, onset: float = 0, apex: float = 0, offset: float = 0,
                  variant: str | None = None, window: str | None = None, align: bool | None = None) -> Settings:
        """The user's choices checked, with the model's defaults for those left empty."""
        variant = variant or self.default_variant
        window = window or self.default_window
        if variant not in VARIANTS:
            raise gr.Error(f"Unknown dynamic-image variant {variant!r}; choose one of {', '.join(VARIANTS)}.")
        if window not in WINDOWS:
            raise gr.Error(f"Unknown frame window {window!r}; choose one of {', '.join(WINDOWS)}.")
        auto = True if auto_window is None else bool(auto_window)
        face_mode = FACE_MODES[self.default_align if align is None else bool(align)]
        return Settings(auto, int(onset or 0), int(apex or 0), int(offset or 0), variant, window, face_mode)

    def _request_settings(self, request: ClipRequest) -> Settings:
        return self._settings(request.auto_window, request.onset, request.apex, request.offset, request.variant,
                              request.window, request.align)

    # ---- input checks ---------------------------------------------------------------------------------
    def clip_path(self, video: str | None, frames_zip: str | None) -> Path:
        """The uploaded clip to use; a `gr.Error` when there is none or it is not a clip we can read."""
        if video and frames_zip:
            _warn("Both a video and a zip of frames were given; analysing the video.")
        chosen = video or frames_zip
        if not chosen:
            raise gr.Error("Upload a video, record one with the webcam, or give a zip of frames first.")
        path = Path(chosen)
        original = self._previews.get(path.name)
        if original is not None and original.is_file():
            path = original  # the player shows a transcoded copy; analyses read the frames the user uploaded
        problem = clip_problem(path, self.limits)
        if problem:
            raise gr.Error(problem)
        return path

    def frame_count(self, path: Path) -> int | None:
        """Frames in a video or image members of a zip, without decoding (`demo.inputs.frame_count`)."""
        return frame_count(path)

    def clip_changed(self, video: str | None = None, frames_zip: str | None = None) -> tuple:
        """A new clip: back to the automatic window, sliders spanning the clip's frames."""
        chosen = video or frames_zip
        n = self.frame_count(Path(chosen)) if chosen and Path(chosen).is_file() else None
        top = min(n, self.limits.max_frames) - 1 if n else self.limits.max_frames - 1
        return (True, *(gr.update(value=0, maximum=max(1, top)) for _ in range(3)))

    def preview(self, video: str | None) -> Any:
        """An H.264 copy of an uploaded video the browser cannot play (mp4v, HEVC, MJPEG AVI, .mov), shown in
        the player instead of "Video not playable"; `clip_path` maps it back to the upload, so analyses read
        the original frames.  `gr.skip()` (the player unchanged) when the upload plays as it is."""
        import subprocess
        import uuid

        from learnet.video import is_browser_playable, transcode_for_browser

        path = Path(video) if video else None
        if path is None or not path.is_file() or path.name in self._previews or clip_problem(path, self.limits):
            return gr.skip()
        try:
            if is_browser_playable(path):
                return gr.skip()
            with self._lock:
                self._counter += 1
                name = f"{self._counter:05d}-{uuid.uuid4().hex[:12]}-{slug(path.name)}-preview.mp4"
            target = transcode_for_browser(path, self.workdir / "previews" / name,
                                           max_long_side=self.limits.max_long_side)
        except (ClipError, OSError, subprocess.SubprocessError) as exc:
            log.warning("no preview for %s: %s", display_name(path), clean_message(str(exc), path))
            return gr.skip()
        self._previews[name] = path
        return str(target)

    def validate(self, video: str | None = None, frames_zip: str | None = None, *_settings: Any) -> list[dict]:
        """Gradio `validator=`: runs before the queue, marks the offending input with a sentence."""
        results = [gr.validate(True, ""), gr.validate(True, "")]
        chosen = video or frames_zip
        if not chosen:
            results[0] = gr.validate(False, "Upload a video, record one, or give a zip of frames first.")
            return results + [gr.validate(True, "") for _ in _settings]
        problem = clip_problem(Path(chosen), self.limits)
        if problem:
            results[0 if video else 1] = gr.validate(False, problem)
        return results + [gr.validate(True, "") for _ in _settings]

    # ---- stages ---------------------------------------------------------------------------------------
    def read(self, path: Path) -> Clip:
        """Decode a clip within the page's limits; a `gr.Error` naming the file (not its server path)."""
        try:
            return read_clip(path, limits=self.limits)
        except ClipError as exc:
            raise gr.Error(clean_message(str(exc), path)) from exc

    def scan(self, path: Path, face_mode: str, progress: Any = None) -> Scan:
        """Decode the clip, align small copies of its frames on the face and estimate its phases (cached)."""
        scan, clip = self._scan(path, face_mode, progress)
        del clip
        release_memory()
        return scan

    def _scan(self, path: Path, face_mode: str, progress: Any = None) -> tuple[Scan, Clip | None]:
        """The scan (cached) and, when it had to be made, the decoded clip it was made from."""
        stat = path.stat()
        key = ("scan", str(path), stat.st_size, stat.st_mtime_ns, face_mode)
        cached = self._cache.find(key)
        if cached is not None:
            return cached, None
        if progress:
            progress(0.05, desc="Reading the clip")
        t0 = time.perf_counter()
        clip = self.read(path)
        decode = time.perf_counter() - t0
        if progress:
            progress(0.2, desc="Finding the face and the motion")
        found = scan_clip(clip.frames, face_mode)
        result = Scan(ClipInfo.of(clip), found.face, found.estimate, {"decode": decode, **found.seconds})
        self._cache.put(key, result)
        return result, clip

    def analyse(self, path: Path, choices: Settings, progress: Any = None) -> Analysis:
        """Scan (cached) and classify the clip with the chosen window and preprocessing (cached)."""
        self._require_model()
        stat = path.stat()
        key = ("analysis", str(path), stat.st_size, stat.st_mtime_ns, choices)
        cached = self._cache.find(key)
        if cached is not None:
            return cached
        scan, clip = self._scan(path, choices.face_mode, progress)
        try:
            return self._analyse(path, choices, key, scan, clip, progress)
        finally:
            del clip  # the frames: hundreds of MB for a long clip, needed by nothing the page keeps
            release_memory()

    def _phases(self, scan: Scan, choices: Settings) -> tuple[tuple[int, int, int], bool]:
        """The window to classify (onset, apex, offset) and whether the user chose it by hand (checked)."""
        if choices.auto_window:
            return (scan.estimate.onset, scan.estimate.apex, scan.estimate.offset), False
        n = scan.clip.num_frames
        onset, apex, offset = choices.onset, choices.apex, choices.offset
        if not (0 <= onset <= apex <= offset < n and onset < offset):
            raise gr.Error(
                f"Onset, apex and offset must satisfy 0 <= onset <= apex <= offset <= {n - 1} (this clip "
                f"has {n} frames) with onset < offset; got {onset}, {apex}, {offset}. Tick 'automatic window' to "
                "let the motion curve choose."
            )
        return (onset, apex, offset), True

    def _analyse(self, path: Path, choices: Settings, key: tuple, scan: Scan, clip: Clip | None,
                 progress: Any) -> Analysis:
        phases, manual = self._phases(scan, choices)
        seconds = dict(scan.seconds)
        if clip is None:  # the scan came from the cache; its frames did not
            t0 = time.perf_counter()
            clip = self.read(path)
            seconds["decode"] = time.perf_counter() - t0
        if progress:
            progress(0.45, desc="Dynamic image and prediction")
        with self._models.borrow() as model:
            pipeline = Pipeline(model, face_mode=choices.face_mode, di_variant=choices.variant,
                                window=choices.window, keyframe_size=settings.KEYFRAME_SIZE)
            t0 = time.perf_counter()
            try:  # the scan's face (same clip, same face mode): one face detection per upload
                prediction = pipeline.predict(clip, onset=phases[0], apex=phases[1], offset=phases[2],
                                              face=scan.face)
            except (ClipError, ValueError) as exc:
                raise gr.Error(f"The clip could not be turned into a dynamic image: {exc}") from exc
            seconds["predict"] = time.perf_counter() - t0
        del clip
        pre = prediction.preprocessed
        pre.aligned = np.empty((0, *pre.aligned.shape[1:]), pre.aligned.dtype)  # the window's frames: not shown
        notes = self._notes(scan, prediction, manual)
        analysis = Analysis(display_name(path), scan, choices, phases, manual, pipeline, prediction, notes, seconds,
                            key)
        self._cache.put(key, analysis)
        return analysis

    def _notes(self, scan: Scan, prediction: Prediction, manual: bool) -> list[str]:
        notes = [sentence(n) for n in scan.clip.notes]
        notes += [sentence(w) for w in prediction.preprocessed.face.warnings]
        if scan.clip.greyscale:
            notes.append("The clip is greyscale: the dynamic image's three colour channels are equal.")
        if not manual and not scan.estimate.reliable:
            notes.append(sentence(scan.estimate.note))
        return notes

    def attribute_analysis(self, a: Analysis, methods: tuple[str, ...] = (),
                           progress: Any = None) -> AttributedAnalysis:
        """The explanation bundle of an analysis and its JSON report (cached); `methods` are the optional
        input attributions (`settings.OPTIONAL_METHODS`)."""
        key = ("explanation", a.key, methods)
        cached = self._cache.find(key)
        if cached is not None and cached.report_path.is_file():  # its folder may have been swept since
            return cached
        with self._models.borrow() as model:
            bundle = self._bundle(model, a, methods, progress)
        seconds = {"gradcam": bundle.seconds["gradcam"],
                   "input_maps": sum(v for k, v in bundle.seconds.items() if k not in ("gradcam", "faithfulness")),
                   "faithfulness": bundle.seconds["faithfulness"]}
        folder = self._result_folder(a.name)
        report = analysis_report(self._require_model(), a, bundle, {**a.seconds, **seconds})
        report_path = folder / f"{slug(a.name)}-learnet-report.json"
        report_path.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
        attributed = AttributedAnalysis(a, bundle, folder, report_path, seconds)
        self._cache.put(key, attributed)
        return attributed

    def _bundle(self, model: LEARNet, a: Analysis, methods: tuple[str, ...], progress: Any) -> ExplanationBundle:
        """Grad-CAM of the accretion layers, integrated gradients and the optional `methods`, with their
        faithfulness against a random map, toward the clip's no-motion level."""
        pre = a.prediction.preprocessed
        specs = [MethodSpec("gradcam", ACCRETION_LAYERS, {}),
                 MethodSpec("ig", (), {"steps": self.ig_steps, "internal_batch_size": self.ig_steps})]
        specs += [MethodSpec(OPTIONAL_METHOD_NAMES[m], (), {}) for m in methods]

        def stage(name: str) -> None:
            if progress and name in BUNDLE_PROGRESS:
                fraction, text = BUNDLE_PROGRESS[name]
                progress(fraction, desc=text)

        check = FaithfulnessCheck(steps=self.faithfulness_steps, chance_map=True, digits=4)
        return explanation_bundle(model, a.pipeline.input_tensor(pre), specs, level=a.pipeline.no_motion_level(pre),
                                  faithfulness=check, progress=stage)

    def _result_folder(self, name: str) -> Path:
        """A fresh folder for one analysis' files; only the newest `KEEP_RESULTS` are kept on disk."""
        with self._lock:
            self._counter += 1
            folder = self.workdir / f"{self._counter:06d}-{slug(name)}"
            folder.mkdir(parents=True, exist_ok=True)
            folders = sorted(p for p in self.workdir.iterdir() if p.is_dir() and p.name[:6].isdigit())
            old = folders[: -settings.KEEP_RESULTS]
        for p in old:
            shutil.rmtree(p, ignore_errors=True)
        return folder

    def _figure_files(self, attributed: AttributedAnalysis, background: str) -> list[Path]:
        """The figure of an analysis' attributions, drawn once: a second request for it gets the same finished
        files instead of rewriting them while the first one's download may still read them."""
        with self._figure_lock:
            done = attributed.figures.get(background)
            if done and all(p.is_file() for p in done):
                return done
            a, maps = attributed.analysis, attributed.bundle.maps
            target = maps[0].target_name
            row = FigureRow(f"{a.name}\n{target} {a.prediction.probabilities[target]:.2f}",
                            a.prediction.preprocessed.di_uint8, maps, apex=a.prediction.keyframes["apex"])
            stem = f"{slug(a.name)}-learnet-figure" + ("" if background == "dynamic" else f"-{background}")
            attributed.figures[background] = images.figure_files([row], attributed.folder, stem,
                                                                 background=background)
            return attributed.figures[background]

    # ---- endpoints --------------------------------------------------------------------------------------
    @endpoint(ClipRequest)
    def predict(self, request: ClipRequest, progress: Any) -> tuple:
        """Classify the facial micro-expression in a short clip of one face: emotion class and probabilities.

        Give a few seconds of video (or a zip of frames) showing one face and one brief expression.  Instead
        of a class the answer is "no face found" or "no micro-expression found" when the clip shows no face or
        no motion; then do not report the probabilities.  The shipped weights were trained on synthetic faces
        (negative, positive, surprise): a demonstration of the method, not a lie detector or a diagnosis.

        Args:
            {args}

        Returns:
            class probabilities (the top one is the answer unless the summary says the model abstained)
            the aligned onset, apex and offset frames
            the dynamic image the network saw
            the motion-energy plot that chose the window
            the onset, apex and offset frames used
            a Markdown summary: answer, window, face found, notes and timings
        """
        with _user_errors():
            path = self.clip_path(request.video, request.frames_zip)
            analysis = self.analyse(path, self._request_settings(request), progress)
            for note in analysis.notes:
                _warn(note)
            progress(0.9, desc="Drawing")
            outputs = self.predict_outputs(analysis)
            self.quota.sweep(force=False)
            return outputs

    def predict_outputs(self, a: Analysis) -> tuple:
        """The page's prediction outputs for an analysis.

        When the prediction abstains ("no face found", "no micro-expression found"), the label shows that
        sentence instead of a class, and the summary marks the class probabilities as not meaningful.
        """
        pred, pre = a.prediction, a.prediction.preprocessed
        keyframes = [(pred.keyframes[k], f"{k} (frame {getattr(pre, k)})") for k in ("onset", "apex", "offset")]
        di = images.enlarge(pre.di_uint8, settings.DISPLAY_SIZE)
        plot = charts.motion_chart(a.scan.estimate, a.phases, a.scan.clip.fps, a.manual)
        abstention = getattr(pred, "abstention", None)
        label = abstention if abstention else pred.probabilities
        return (label, keyframes, di, plot, *a.phases, summary_markdown(a))

    def _check_explain_options(self, methods: list[str] | None, background: str) -> tuple[str, ...]:
        if background not in BACKGROUNDS:
            raise gr.Error(f"Unknown overlay background {background!r}; choose one of {', '.join(BACKGROUNDS)}.")
        unknown = [m for m in methods or [] if m not in settings.OPTIONAL_METHODS]
        if unknown:
            raise gr.Error(f"Unknown explanation method {unknown[0]!r}; choose from "
                           f"{', '.join(settings.OPTIONAL_METHODS)}.")
        return tuple(m for m in settings.OPTIONAL_METHODS if m in (methods or []))

    def _attributed(self, request: ExplainRequest, progress: Any) -> AttributedAnalysis:
        """The checked request's analysis with its attributions (both cached)."""
        path = self.clip_path(request.video, request.frames_zip)
        choices = self._request_settings(request)
        methods = self._check_explain_options(request.methods, request.background)
        return self.attribute_analysis(self.analyse(path, choices, progress), methods, progress)

    @endpoint(ExplainRequest)
    def attributions(self, request: ExplainRequest, progress: Any) -> tuple:
        """Explain the micro-expression prediction of a clip: which facial regions the network used.

        Same clip inputs as predict (an identical earlier predict call is reused).  Use it after predict to
        say why a class was chosen; the JSON report holds every number (probabilities, window, region shares,
        faithfulness) for an agent to read.

        Args:
            {args}

        Returns:
            Grad-CAM maps of the four accretion layers AL1-AL4, on one colour scale
            input attributions (integrated gradients, plus the extra methods asked for)
            a chart of the share of attribution per facial region (brows, eyes, nose, cheeks, mouth, ...)
            a Markdown table of deletion/insertion faithfulness per map
            a list with the path of the JSON report
        """
        with _user_errors():
            attributed = self._attributed(request, progress)
            progress(0.9, desc="Drawing")
            outputs = self.attribution_outputs(attributed, BACKGROUNDS[request.background])
            self.quota.sweep(force=False)
            return outputs

    def attribution_outputs(self, attributed: AttributedAnalysis, background: str) -> tuple:
        """The page's attribution outputs: the Grad-CAM and input-attribution overlays on `background`
        ("dynamic" or "apex"), the region chart, the faithfulness table and the report's path."""
        prediction, bundle = attributed.analysis.prediction, attributed.bundle
        size = settings.KEYFRAME_SIZE
        if background == "apex":
            under = prediction.keyframes["apex"]
        else:
            under = images.enlarge(prediction.preprocessed.di_uint8, size)
        layer_maps, input_maps = bundle.layer_maps, bundle.input_maps
        chart = charts.region_table_chart(
            bundle.table.rows, bundle.table.columns, bundle.table.values,
            reference=list(bundle.area_shares.values()),
            title=f"Attribution per facial region (class {layer_maps[0].target_name})",
            flat=[is_flat(m) for m in bundle.maps],
        )
        return (images.overlays(layer_maps, under, size), images.overlays(input_maps, under, size), chart,
                faithfulness_markdown(bundle.faithfulness), [str(attributed.report_path)])

    @endpoint(ExplainRequest)
    def figure(self, request: ExplainRequest, progress: Any) -> list[str]:
        """Draw the explanation of a clip as a publication figure (PDF and PNG) with its JSON report.

        One row: apex frame, dynamic image and every attribution map on one colour scale.  Same inputs as
        explain, whose result is reused when the call is identical.

        Args:
            {args}

        Returns:
            a list of file paths: the figure as PDF, the figure as PNG, the JSON report
        """
        with _user_errors():
            attributed = self._attributed(request, progress)
            progress(0.95, desc="Figure (PDF, PNG)")
            files = self._figure_files(attributed, BACKGROUNDS[request.background])
            self.quota.sweep(force=False)
            return [str(p) for p in (*files, attributed.report_path)]

    def as_files(self, outputs: tuple) -> tuple:
        """Outputs with their image arrays written as PNG files under unique names (see `demo.storage`):
        what the served page returns, so no two requests ever share an output file."""
        return storage.images_as_files(outputs, self.workdir / "images")

    def example(self, video: str) -> tuple:
        """An example clip with the model's default settings, face alignment off (the examples are rendered
        already aligned to the face template): every output of predict and explain, as one press of Analyse
        gives them."""
        return (*self.predict(video, align=False), *self.attributions(video, align=False))

    # ---- what a new clip changes in the page ----------------------------------------------------------
    def register_examples(self, paths: list[str]) -> None:
        """Remember the example clips by size and content, so a clip the page receives can be recognised as
        one of them wherever Gradio copied it."""
        self._examples = {}
        for p in paths:
            data = Path(p).read_bytes()
            self._examples.setdefault(len(data), set()).add(hashlib.sha256(data).hexdigest())

    def is_example(self, path: str | None) -> bool:
        """Whether `path` holds the bytes of an example clip (size first: most files are ruled out by it)."""
        examples = getattr(self, "_examples", {})
        try:
            size = Path(path).stat().st_size if path else -1
        except OSError:
            return False
        return size in examples and hashlib.sha256(Path(path).read_bytes()).hexdigest() in examples[size]

    def video_changed(self, video: str | None, user_align: bool | None = None) -> tuple:
        """A new video (upload, recording or example): the zip is dropped (what was given last is what is
        analysed), the window goes back to automatic, and face alignment is off for an example (rendered
        aligned) and the user's own choice otherwise.  Cleared: nothing changes.

        Returns updates for (zip, automatic window, onset, apex, offset, alignment)."""
        if not video:
            return (gr.update(),) * 6
        align = False if self.is_example(video) else (self.default_align if user_align is None else user_align)
        return (None, *self.clip_changed(video, None), align)

    def zip_changed(self, frames_zip: str | None, user_align: bool | None = None) -> tuple:
        """A new zip of frames: the video is dropped, the window goes back to automatic, face alignment to
        the user's own choice.  Returns updates for (video, automatic window, onset, apex, offset, alignment)."""
        if not frames_zip:
            return (gr.update(),) * 6
        align = self.default_align if user_align is None else user_align
        return (None, *self.clip_changed(None, frames_zip), align)

    @staticmethod
    def cleared_outputs() -> tuple:
        """Every result output emptied (prediction, then explanation), shown when a new clip arrives or an
        analysis starts, so an error never appears next to an earlier clip's answer."""
        return (None, None, None, EMPTY_MOTION, EMPTY_SUMMARY, None, None, EMPTY_REGIONS, EMPTY_FAITHFULNESS, None)


EMPTY_MOTION = charts.placeholder("Motion energy (a heuristic): appears after Analyse")
EMPTY_REGIONS = charts.placeholder("Attribution per facial region: appears after the analysis")
EMPTY_SUMMARY = "*The answer, the window and the face appear here after **Analyse**.*"
EMPTY_FAITHFULNESS = "*Faithfulness scores of the maps appear here after the analysis.*"


def _quiet_error(message: str) -> gr.Error:
    """A `gr.Error` that Gradio shows the user without printing its traceback to the server log."""
    return gr.Error(message, print_exception=False)


@contextlib.contextmanager
def _user_errors() -> Iterator[None]:
    """A user's mistake (a `gr.Error`) is one line in the server log, no traceback; anything unexpected is
    logged with its traceback (a bug) and reaches the user as one sentence, so the page never shows a
    traceback and the server keeps serving the next request."""
    try:
        yield
    except gr.Error as exc:
        exc.print_exception = False
        log.warning("refused: %s", exc.message)
        raise
    except MemoryError as exc:
        release_memory()
        message = "The clip is too large to analyse in this demo's memory; trim or downscale it."
        log.warning("refused: %s", message)
        raise _quiet_error(message) from exc
    except Exception as exc:
        log.exception("analysis failed")
        raise _quiet_error(f"The analysis failed unexpectedly ({type(exc).__name__}: {str(exc)[:200]}); "
                           "the server log has the details.") from exc
