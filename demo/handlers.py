"""What the page's buttons do: a clip path in, the page's outputs back.

`DemoHandlers` holds the loaded model (or the reason it could not be loaded) and offers one method per
endpoint.  The methods only call `learnet` and `explain`; every failure a user can cause ends as a `gr.Error`
with a sentence (shown in the page, returned to API clients), everything worth knowing but not fatal (no face,
several faces, downscaled frames, no clear motion) as a `gr.Warning` and in the summary and JSON report.

Stages, each reported through `gr.Progress`:

1. scan: read the clip, find the face once, align small copies of every frame, motion-energy curve
   (`learnet.motion`) and the heuristic onset / apex / offset;
2. predict: `learnet.pipeline.Pipeline.predict` on the chosen window (dynamic image, probabilities, key frames);
3. explain: Grad-CAM of AL1-AL4 in one shared pass, integrated gradients (optionally SmoothGrad, occlusion),
   region shares, deletion/insertion faithfulness and a JSON report;
4. figure (its own button): the paper figure of the explanation as PDF and PNG.  matplotlib costs about as
   much as stages 1-3 together, so Analyse stops after the JSON report and the figure is drawn on request.

Recent scans, analyses and explanations are kept (results only, in a cache bounded in bytes:
`settings.CACHE_BYTES`), so `explain` after `predict`, or `figure` after `explain`, with the same inputs does
not classify or attribute again.  Decoded clips are never kept: they are dropped as soon as the motion curve,
the dynamic image and the key frames exist, and the freed memory is handed back to the system.
"""
from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import logging
import queue
import re
import shutil
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import gradio as gr
import numpy as np
import torch

import explain
from explain.faithfulness import is_flat, random_map
from learnet import __version__
from learnet.dynamic import VARIANTS, WINDOWS
from learnet.face import FaceInfo, find_face, warp_frames
from learnet.model import ACCRETION_LAYERS, LEARNet, describe
from learnet.motion import PhaseEstimate, estimate_phases
from learnet.pipeline import Pipeline, Prediction
from learnet.video import IMAGE_SUFFIXES, VIDEO_SUFFIXES, Clip, ClipError, ClipLimits, read_clip

from . import charts, images, settings, storage
from .text import public_source
from .memory import SizedCache, release_memory

log = logging.getLogger("learnet.demo")

BACKGROUNDS = {"dynamic image": "dynamic", "apex frame": "apex"}
MOTION_SIZE = 64  # aligned copies for the motion curve: enough for brows and mouth corners, cheap for 600 frames
ALIGN_MODES = {True: "auto", False: "none"}


@dataclass(frozen=True)
class Settings:
    """The user's choices for one analysis (model defaults filled in)."""

    auto_window: bool
    onset: int
    apex: int
    offset: int
    variant: str
    window: str
    align: bool

    @property
    def face_mode(self) -> str:
        return ALIGN_MODES[self.align]


@dataclass(frozen=True)
class ClipInfo:
    """What the page shows about a decoded clip once its frames are gone."""

    num_frames: int
    size: tuple[int, int]  # (height, width)
    fps: float
    notes: tuple[str, ...]
    greyscale: bool

    @classmethod
    def of(cls, clip: Clip) -> ClipInfo:
        return cls(clip.num_frames, clip.size, clip.fps, tuple(clip.notes), _is_greyscale(clip.frames[0]))


@dataclass
class Scan:
    """A clip's description, the face found on its first frame and its motion-energy estimate (no frames)."""

    clip: ClipInfo
    face: FaceInfo
    estimate: PhaseEstimate
    seconds: dict[str, float]


@dataclass
class Analysis:
    """One classified clip: the scan, the settings, the window used and the prediction."""

    name: str
    scan: Scan
    settings: Settings
    phases: tuple[int, int, int]
    manual: bool
    pipeline: Pipeline
    prediction: Prediction
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    key: tuple = ()


@dataclass
class Explanation:
    """The maps of one analysis and what was measured on them; `report_path` is the JSON report in `folder`."""

    analysis: Analysis
    cams: list[explain.AttributionMap]
    inputs: list[explain.AttributionMap]
    table: explain.RegionTable
    faithful: dict[str, dict]
    folder: Path
    report_path: Path
    seconds: dict[str, float]
    figures: dict[str, list[Path]] = field(default_factory=dict)  # background -> PDF and PNG, once asked for


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


def _display_name(path: Path) -> str:
    """The file name a user recognises (Gradio keeps the upload's name inside a hashed temp folder)."""
    return path.name


def _clean_message(message: str, path: Path) -> str:
    """Errors from `learnet.video` name the full temp path of an upload; the user only knows its name."""
    return message.replace(str(path), path.name)


def _sentence(text: str) -> str:
    """A library note ("frames downscaled to ...") as a sentence for the page."""
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _size(n: int) -> str:
    """Bytes for people, in Gradio's binary units: "812 KB", "12.3 MB"."""
    return f"{n / 2**10:.0f} KB" if n < 2**20 else f"{n / 2**20:.1f} MB"


def _slug(name: str) -> str:
    stem = Path(name).stem
    return re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-")[:60] or "clip"


def _is_greyscale(frame: np.ndarray) -> bool:
    return bool(np.array_equal(frame[..., 0], frame[..., 1]) and np.array_equal(frame[..., 1], frame[..., 2]))


def _warn(message: str) -> None:
    """A non-fatal note: a yellow toast in the page (a Python warning outside a request)."""
    gr.Warning(message)
    log.warning(message)


# The clip parameters every endpoint shares, described once.  The endpoints' docstrings are what the API page
# and the MCP tools show an agent, so each must carry them in full: `_clip_args` fills them in.
CLIP_ARGS_DOC = """\
video: the clip as a video file (mp4, webm, avi, mov, mkv); leave empty when frames_zip is given.
frames_zip: a zip of frame images of one clip (sorted by name), instead of a video.
auto_window: True (default): find onset, apex and offset from the motion; False: use the three below.
onset: first frame of the expression (0-based); used only when auto_window is False.
apex: frame where the expression is strongest; used only when auto_window is False.
offset: last frame of the expression; used only when auto_window is False.
variant: dynamic-image coefficients: "bilen" (correct; default) or "authors" (the released code's).
window: frames pooled into the dynamic image: "onset-offset" (default), "onset-apex" or "apex-offset".
align: True: find and align the face (webcam, phone); False: the clip is already an aligned face crop."""


def _clip_args(fn):
    """Put `CLIP_ARGS_DOC` where the docstring says {clip_args}, indented like the Args section."""
    fn.__doc__ = fn.__doc__.replace("{clip_args}", CLIP_ARGS_DOC.replace("\n", "\n            "))
    return fn


class DemoHandlers:
    """The demo's endpoints, bound to one model.

    Args:
        model: the loaded `LEARNet`, or None when loading failed (every endpoint then says why).
        model_error: the loading error's sentence, shown in the page.
        limits: clip limits (upload size, frame count, long side).
        workdir: where figures, reports and output images are written (a fresh temp folder by default).
        workers: analyses that may run at once (one model copy each).
        ig_steps, faithfulness_steps: cost of integrated gradients and of the deletion/insertion curves.
        cache_bytes: memory for recent results (scans, analyses, explanations).
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
        return self.model is None or self.model.face_mode != "none"

    def _require_model(self) -> LEARNet:
        if self.model is None:
            raise gr.Error(f"No model is loaded, so nothing can be classified: {self.model_error}")
        return self.model

    def _settings(self, auto_window, onset, apex, offset, variant, window, align) -> Settings:
        variant = variant or self.default_variant
        window = window or self.default_window
        if variant not in VARIANTS:
            raise gr.Error(f"Unknown dynamic-image variant {variant!r}; choose one of {', '.join(VARIANTS)}.")
        if window not in WINDOWS:
            raise gr.Error(f"Unknown frame window {window!r}; choose one of {', '.join(WINDOWS)}.")
        auto = True if auto_window is None else bool(auto_window)
        return Settings(auto, int(onset or 0), int(apex or 0), int(offset or 0), variant, window,
                        self.default_align if align is None else bool(align))

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
        problem = self._problem(path)
        if problem:
            raise gr.Error(problem)
        return path

    def _problem(self, path: Path) -> str | None:
        """Why `path` cannot be analysed, from cheap checks (name, size, the container's frame count)."""
        suffix = path.suffix.lower()
        if suffix in IMAGE_SUFFIXES:
            return f"{path.name} is a single image; a dynamic image needs a clip of at least 2 frames."
        if suffix not in VIDEO_SUFFIXES and suffix != ".zip":
            return (f"{path.name} is not a clip: give a video ({', '.join(settings.VIDEO_TYPES)}) or a zip of "
                    "frames.")
        if not path.is_file():
            return f"{path.name} could not be found on the server; upload it again."
        size = path.stat().st_size
        if size == 0:
            return f"{path.name} is empty (0 bytes)."
        if size > self.limits.max_file_bytes:
            return (f"{path.name} is {_size(size)}, above this demo's limit of {_size(self.limits.max_file_bytes)}; "
                    "trim the clip around the expression.")
        if suffix != ".zip":
            declared = self.frame_count(path) or 0
            if declared > self.limits.max_frames:
                return (f"{path.name} has {declared} frames, above this demo's limit of {self.limits.max_frames}; "
                        "trim it to the expression (a micro-expression lasts under half a second).")
        return None

    def frame_count(self, path: Path) -> int | None:
        """Frames in a video (the container's count) or image members of a zip, without decoding; None if
        unknown (webcam recordings often declare none)."""
        if path.suffix.lower() == ".zip":
            try:
                with zipfile.ZipFile(path) as z:
                    n = sum(1 for m in z.infolist() if Path(m.filename).suffix.lower() in IMAGE_SUFFIXES)
            except (zipfile.BadZipFile, OSError):
                return None
            return n or None
        cap = cv2.VideoCapture(str(path))
        try:
            n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0) if cap.isOpened() else 0
        finally:
            cap.release()
        return n if n > 0 else None

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
        if path is None or not path.is_file() or path.name in self._previews or self._problem(path):
            return gr.skip()
        try:
            if is_browser_playable(path):
                return gr.skip()
            with self._lock:
                self._counter += 1
                name = f"{self._counter:05d}-{uuid.uuid4().hex[:12]}-{_slug(path.name)}-preview.mp4"
            target = transcode_for_browser(path, self.workdir / "previews" / name,
                                           max_long_side=self.limits.max_long_side)
        except (ClipError, OSError, subprocess.SubprocessError) as exc:
            log.warning("no preview for %s: %s", _display_name(path), _clean_message(str(exc), path))
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
        problem = self._problem(Path(chosen))
        if problem:
            results[0 if video else 1] = gr.validate(False, problem)
        return results + [gr.validate(True, "") for _ in _settings]

    # ---- stages ---------------------------------------------------------------------------------------
    def read(self, path: Path) -> Clip:
        """Decode a clip within the page's limits; a `gr.Error` naming the file (not its server path)."""
        try:
            return read_clip(path, limits=self.limits)
        except ClipError as exc:
            raise gr.Error(_clean_message(str(exc), path)) from exc

    def scan(self, path: Path, align: bool, progress: Any = None) -> Scan:
        """Decode the clip, align small copies of its frames on the face and estimate its phases (cached)."""
        scan, clip = self._scan(path, align, progress)
        del clip
        release_memory()
        return scan

    def _scan(self, path: Path, align: bool, progress: Any = None) -> tuple[Scan, Clip | None]:
        """The scan (cached) and, when it had to be made, the decoded clip it was made from."""
        stat = path.stat()
        key = ("scan", str(path), stat.st_size, stat.st_mtime_ns, bool(align))
        cached = self._cache.find(key)
        if cached is not None:
            return cached, None
        seconds: dict[str, float] = {}
        if progress:
            progress(0.05, desc="Reading the clip")
        t0 = time.perf_counter()
        clip = self.read(path)
        seconds["decode"] = time.perf_counter() - t0
        if progress:
            progress(0.2, desc="Finding the face and the motion")
        t0 = time.perf_counter()
        face = find_face(clip.frames, mode=ALIGN_MODES[bool(align)], reference=0)
        small = warp_frames(clip.frames, face, MOTION_SIZE)
        seconds["face_scan"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        estimate = estimate_phases(small)
        seconds["motion"] = time.perf_counter() - t0
        result = Scan(ClipInfo.of(clip), face, estimate, seconds)
        self._cache.put(key, result)
        return result, clip

    def analyse(self, path: Path, s: Settings, progress: Any = None) -> Analysis:
        """Scan (cached) and classify the clip with the chosen window and preprocessing (cached)."""
        self._require_model()
        stat = path.stat()
        key = ("analysis", str(path), stat.st_size, stat.st_mtime_ns, s)
        cached = self._cache.find(key)
        if cached is not None:
            return cached
        scan, clip = self._scan(path, s.align, progress)
        try:
            return self._analyse(path, s, key, scan, clip, progress)
        finally:
            del clip  # the frames: hundreds of MB for a long clip, needed by nothing the page keeps
            release_memory()

    def _analyse(self, path: Path, s: Settings, key: tuple, scan: Scan, clip: Clip | None,
                 progress: Any) -> Analysis:
        n = scan.clip.num_frames
        est = scan.estimate
        if s.auto_window:
            phases, manual = (est.onset, est.apex, est.offset), False
        else:
            phases, manual = (s.onset, s.apex, s.offset), True
            on, ap, off = phases
            if not (0 <= on <= ap <= off < n and on < off):
                raise gr.Error(
                    f"Onset, apex and offset must satisfy 0 <= onset <= apex <= offset <= {n - 1} (this clip "
                    f"has {n} frames) with onset < offset; got {on}, {ap}, {off}. Tick 'automatic window' to "
                    "let the motion curve choose."
                )
        seconds = dict(scan.seconds)
        if clip is None:  # the scan came from the cache; its frames did not
            t0 = time.perf_counter()
            clip = self.read(path)
            seconds["decode"] = time.perf_counter() - t0
        if progress:
            progress(0.45, desc="Dynamic image and prediction")
        with self._models.borrow() as model:
            pipeline = Pipeline(model, face_mode=s.face_mode, di_variant=s.variant, window=s.window,
                                keyframe_size=settings.KEYFRAME_SIZE)
            t0 = time.perf_counter()
            try:
                # reuse the scan's detection (same clip, same mode): one Haar pass per upload
                face = scan.face if scan.face.mode == pipeline.face_mode else None
                prediction = pipeline.predict(clip, onset=phases[0], apex=phases[1], offset=phases[2], face=face)
            except (ClipError, ValueError) as exc:
                raise gr.Error(f"The clip could not be turned into a dynamic image: {exc}") from exc
            seconds["predict"] = time.perf_counter() - t0
        del clip
        pre = prediction.preprocessed
        pre.aligned = np.empty((0, *pre.aligned.shape[1:]), pre.aligned.dtype)  # the window's frames: not shown
        notes = self._notes(scan, prediction, manual)
        analysis = Analysis(_display_name(path), scan, s, phases, manual, pipeline, prediction, notes, seconds, key)
        self._cache.put(key, analysis)
        return analysis

    def _notes(self, scan: Scan, prediction: Prediction, manual: bool) -> list[str]:
        notes = [_sentence(n) for n in scan.clip.notes]
        notes += [_sentence(w) for w in prediction.preprocessed.face.warnings]
        if scan.clip.greyscale:
            notes.append("The clip is greyscale: the dynamic image's three colour channels are equal.")
        if not manual and not scan.estimate.reliable:
            notes.append(_sentence(scan.estimate.note))
        return notes

    # ---- endpoints --------------------------------------------------------------------------------------
    @_clip_args
    def predict(
        self,
        video: str | None = None,
        frames_zip: str | None = None,
        auto_window: bool = True,
        onset: float = 0,
        apex: float = 0,
        offset: float = 0,
        variant: str | None = None,
        window: str | None = None,
        align: bool | None = None,
        progress: gr.Progress = gr.Progress(),
    ) -> tuple:
        """Classify the facial micro-expression in a short clip of one face: emotion class and probabilities.

        Give a few seconds of video (or a zip of frames) showing one face and one brief expression.  Instead
        of a class the answer is "no face found" or "no micro-expression found" when the clip shows no face or
        no motion; then do not report the probabilities.  The shipped weights were trained on synthetic faces
        (negative, positive, surprise): a demonstration of the method, not a lie detector or a diagnosis.

        Args:
            {clip_args}

        Returns:
            class probabilities (the top one is the answer unless the summary says the model abstained)
            the aligned onset, apex and offset frames
            the dynamic image the network saw
            the motion-energy plot that chose the window
            the onset, apex and offset frames used
            a Markdown summary: answer, window, face found, notes and timings
        """
        with _user_errors():
            path = self.clip_path(video, frames_zip)
            s = self._settings(auto_window, onset, apex, offset, variant, window, align)
            a = self.analyse(path, s, progress)
            for note in a.notes:
                _warn(note)
            progress(0.9, desc="Drawing")
            outputs = self.predict_outputs(a)
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
        return (label, keyframes, di, plot, *a.phases, self.summary(a))

    def summary(self, a: Analysis) -> str:
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

    def _check_explain_options(self, methods: list[str] | None, background: str) -> tuple[str, ...]:
        if background not in BACKGROUNDS:
            raise gr.Error(f"Unknown overlay background {background!r}; choose one of {', '.join(BACKGROUNDS)}.")
        unknown = [m for m in methods or [] if m not in settings.OPTIONAL_METHODS]
        if unknown:
            raise gr.Error(f"Unknown explanation method {unknown[0]!r}; choose from "
                           f"{', '.join(settings.OPTIONAL_METHODS)}.")
        return tuple(m for m in settings.OPTIONAL_METHODS if m in (methods or []))

    @_clip_args
    def explain(
        self,
        video: str | None = None,
        frames_zip: str | None = None,
        auto_window: bool = True,
        onset: float = 0,
        apex: float = 0,
        offset: float = 0,
        variant: str | None = None,
        window: str | None = None,
        align: bool | None = None,
        methods: list[str] | None = None,
        background: str = "dynamic image",
        progress: gr.Progress = gr.Progress(),
    ) -> tuple:
        """Explain the micro-expression prediction of a clip: which facial regions the network used.

        Same clip inputs as predict (an identical earlier predict call is reused).  Use it after predict to
        say why a class was chosen; the JSON report holds every number (probabilities, window, region shares,
        faithfulness) for an agent to read.

        Args:
            {clip_args}
            methods: extra input attributions, slower: any of "SmoothGrad", "Occlusion" (default none).
            background: draw the maps over "dynamic image" (default) or "apex frame".

        Returns:
            Grad-CAM maps of the four accretion layers AL1-AL4, on one colour scale
            input attributions (integrated gradients, plus the extra methods asked for)
            a chart of the share of attribution per facial region (brows, eyes, nose, cheeks, mouth, ...)
            a Markdown table of deletion/insertion faithfulness per map
            a list with the path of the JSON report
        """
        with _user_errors():
            path = self.clip_path(video, frames_zip)
            s = self._settings(auto_window, onset, apex, offset, variant, window, align)
            chosen = self._check_explain_options(methods, background)
            e = self.explanation(self.analyse(path, s, progress), chosen, progress)
            progress(0.9, desc="Drawing")
            pre = e.analysis.prediction.preprocessed
            size = settings.KEYFRAME_SIZE
            if BACKGROUNDS[background] == "apex":
                bg = e.analysis.prediction.keyframes["apex"]
            else:
                bg = images.enlarge(pre.di_uint8, size)
            body = [r != explain.regions.AREA_ROW for r in e.table.rows]
            chart = charts.region_table_chart(
                [r for r, keep in zip(e.table.rows, body) if keep], e.table.columns, e.table.values[body],
                reference=list(explain.regions.region_areas(e.cams[0].values.shape[0]).values()),
                title=f"Attribution per facial region (class {e.cams[0].target_name})",
                flat=[is_flat(m) for m in e.cams + e.inputs],
            )
            self.quota.sweep(force=False)
            return (images.overlays(e.cams, bg, size), images.overlays(e.inputs, bg, size), chart,
                    _faithfulness_markdown(e.faithful), [str(e.report_path)])

    @_clip_args
    def figure(
        self,
        video: str | None = None,
        frames_zip: str | None = None,
        auto_window: bool = True,
        onset: float = 0,
        apex: float = 0,
        offset: float = 0,
        variant: str | None = None,
        window: str | None = None,
        align: bool | None = None,
        methods: list[str] | None = None,
        background: str = "dynamic image",
        progress: gr.Progress = gr.Progress(),
    ) -> list[str]:
        """Draw the explanation of a clip as a publication figure (PDF and PNG) with its JSON report.

        One row: apex frame, dynamic image and every attribution map on one colour scale.  Same inputs as
        explain, whose result is reused when the call is identical.

        Args:
            {clip_args}
            methods: extra input attributions, slower: any of "SmoothGrad", "Occlusion" (default none).
            background: draw the maps over "dynamic image" (default) or "apex frame".

        Returns:
            a list of file paths: the figure as PDF, the figure as PNG, the JSON report
        """
        with _user_errors():
            path = self.clip_path(video, frames_zip)
            s = self._settings(auto_window, onset, apex, offset, variant, window, align)
            chosen = self._check_explain_options(methods, background)
            e = self.explanation(self.analyse(path, s, progress), chosen, progress)
            progress(0.95, desc="Figure (PDF, PNG)")
            files = self._figure_files(e, BACKGROUNDS[background])
            self.quota.sweep(force=False)
            return [str(p) for p in (*files, e.report_path)]

    def _figure_files(self, e: Explanation, background: str) -> list[Path]:
        """The figure of an explanation, drawn once: a second request for it gets the same finished files
        instead of rewriting them while the first one's download may still read them."""
        with self._figure_lock:
            done = e.figures.get(background)
            if done and all(p.is_file() for p in done):
                return done
            a = e.analysis
            target = e.cams[0].target_name
            row = explain.FigureRow(f"{a.name}\n{target} {a.prediction.probabilities[target]:.2f}",
                                    a.prediction.preprocessed.di_uint8, e.cams + e.inputs,
                                    apex=a.prediction.keyframes["apex"])
            stem = f"{_slug(a.name)}-learnet-figure" + ("" if background == "dynamic" else f"-{background}")
            e.figures[background] = images.figure_files([row], e.folder, stem, background=background)
            return e.figures[background]

    def explanation(self, a: Analysis, methods: tuple[str, ...] = (), progress: Any = None) -> Explanation:
        """Attribution maps, region shares, faithfulness and the JSON report of an analysis (cached)."""
        key = ("explanation", a.key, methods)
        cached = self._cache.find(key)
        if cached is not None and cached.report_path.is_file():  # its folder may have been swept since
            return cached
        with self._models.borrow() as model:
            e = self._compute_explanation(model, a, methods, progress)
        self._cache.put(key, e)
        return e

    def _compute_explanation(self, model: LEARNet, a: Analysis, methods: tuple[str, ...],
                             progress: Any) -> Explanation:
        pre = a.prediction.preprocessed
        x = a.pipeline.input_tensor(pre)
        level = a.pipeline.no_motion_level(pre)  # the baselines' "no motion" value for this clip
        seconds: dict[str, float] = {}
        if progress:
            progress(0.55, desc="Grad-CAM on AL1-AL4")
        t0 = time.perf_counter()
        cams = list(explain.gradcam_layers(model, x, ACCRETION_LAYERS).values())
        seconds["gradcam"] = time.perf_counter() - t0
        if progress:
            progress(0.65, desc="Integrated gradients")
        t0 = time.perf_counter()
        inputs = [explain.integrated_gradients(model, x, steps=self.ig_steps,
                                               internal_batch_size=self.ig_steps, level=level)]
        if "SmoothGrad" in methods:
            inputs.append(explain.smoothgrad(model, x))
        if "Occlusion" in methods:
            inputs.append(explain.occlusion(model, x, level=level))
        seconds["input_maps"] = time.perf_counter() - t0
        if progress:
            progress(0.75, desc="Region shares and faithfulness")
        t0 = time.perf_counter()
        named = {m.title.replace("Grad-CAM ", ""): m for m in cams + inputs}
        table = explain.region_table(named)
        faithful = self._faithfulness(model, x, named, level)
        seconds["faithfulness"] = time.perf_counter() - t0
        folder = self._result_folder(a.name)
        report = self.report(a, cams + inputs, table, faithful, {**a.seconds, **seconds})
        report_path = folder / f"{_slug(a.name)}-learnet-report.json"
        report_path.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
        return Explanation(a, cams, inputs, table, faithful, folder, report_path, seconds)

    def _faithfulness(self, model, x, named: dict[str, explain.AttributionMap], level: float) -> dict[str, dict]:
        """Deletion and insertion AUC of every map, and of a random 7x7 map as the chance reference."""
        target = next(iter(named.values())).target
        candidates: dict[str, Any] = dict(named)
        candidates["random 7x7 map"] = random_map(tuple(x.shape[-2:]), seed=0, resolution=7)
        aucs = explain.faithfulness_aucs(model, x, candidates, target=target, steps=self.faithfulness_steps,
                                         baseline=level)
        return {name: {k: round(v, 4) if isinstance(v, float) else v for k, v in pair.items()}
                for name, pair in aucs.items()}

    def _result_folder(self, name: str) -> Path:
        """A fresh folder for one analysis' files; only the newest `KEEP_RESULTS` are kept on disk."""
        with self._lock:
            self._counter += 1
            folder = self.workdir / f"{self._counter:06d}-{_slug(name)}"
            folder.mkdir(parents=True, exist_ok=True)
            folders = sorted(p for p in self.workdir.iterdir() if p.is_dir() and p.name[:6].isdigit())
            old = folders[: -settings.KEEP_RESULTS]
        for p in old:
            shutil.rmtree(p, ignore_errors=True)
        return folder

    def report(self, a: Analysis, maps: list[explain.AttributionMap], table: explain.RegionTable,
               faithful: dict[str, dict], seconds: dict[str, float]) -> dict:
        """Everything about one analysis as JSON: model, clip, window, prediction, maps and their checks."""
        model = self._require_model()
        pred = a.prediction
        clip = a.scan.clip
        shares = table.as_dict()
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
            "prediction": pred.to_dict(),
            "notes": a.notes,
            "explanations": [
                {**m.metadata(), "regions": shares.get(m.title.replace("Grad-CAM ", ""), {})} for m in maps
            ],
            "region_area_shares": shares.get(explain.regions.AREA_ROW, {}),
            "faithfulness": {"steps": self.faithfulness_steps, "baseline": "no-motion level",
                             "maps": faithful},
            "timings_s": {k: round(v, 4) for k, v in seconds.items()},
        }

    def as_files(self, outputs: tuple) -> tuple:
        """Outputs with their image arrays written as PNG files under unique names (see `demo.storage`):
        what the served page returns, so no two requests ever share an output file."""
        return storage.images_as_files(outputs, self.workdir / "images")

    def example(self, video: str) -> tuple:
        """An example clip with the model's default settings, face alignment off (the examples are rendered
        already aligned to the face template): every output of predict and explain, as one press of Analyse
        gives them."""
        return (*self.predict(video, align=False), *self.explain(video, align=False))

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


def _faithfulness_markdown(faithful: dict[str, dict]) -> str:
    lines = [
        "| map | deletion AUC (lower is better) | insertion AUC (higher is better) |",
        "|---|---:|---:|",
    ]
    lines += [f"| {name} | {v['deletion_auc']:.3f} | {v['insertion_auc']:.3f} |" if v["deletion_auc"] is not None
              else f"| {name} | {v['note']} | |" for name, v in faithful.items()]
    lines.append("\nProbability of the predicted class as the most relevant pixels are removed (deletion) or "
                 "restored (insertion), against the no-motion grey; a faithful map beats the random map.")
    return "\n".join(lines)


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
