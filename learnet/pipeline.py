"""Clip -> aligned face -> dynamic image -> LEARNet prediction, with the model's own preprocessing.

`preprocess` is the one place where frames become a dynamic image; training calls it too, so a model sees
at inference exactly what it saw in training.  `Pipeline` adds the model and reads every preprocessing
setting (face mode, dynamic-image variant, frame window, input size) from the model's config.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from .abstention import MotionEvidence, abstention, motion_evidence
from .dynamic import (
    DynamicImageAccumulator,
    dynamic_image,
    frame_window,
    to_input_uint8,
    to_model_input,
    to_uint8,
)
from .device import module_device
from .face import FaceInfo, find_face, warp_frames
from .model import LEARNet
from .preprocessing import Preprocessing
from .stabilise import estimate_head_motion
from .video import Clip, ClipError, ClipLimits, iter_clip_frames, read_clip

KEY_FRAMES: tuple[str, ...] = ("onset", "apex", "offset")


@dataclass
class Preprocessed:
    """Everything between the raw clip and the network.

    `aligned` holds the aligned frames onset..offset (inclusive), so `aligned[0]` is the onset;
    `onset`, `apex`, `offset` are indices into the original clip; `window` is the slice of the original
    clip the dynamic image summarises.
    """

    di: np.ndarray  # float32 (S, S, 3), raw rank-pooling output
    di_uint8: np.ndarray  # (S, S, 3) min-max scaled for display; the model's input is `Pipeline.input_tensor`
    aligned: np.ndarray  # (offset - onset + 1, S, S, 3) uint8
    face: FaceInfo
    onset: int
    apex: int
    offset: int
    window: slice
    timings: dict[str, float] = field(default_factory=dict)


def preprocess(
    frames: np.ndarray,
    *,
    face_mode: str = "auto",
    size: int = 112,
    di_variant: str = "bilen",
    window: str = "onset-offset",
    onset: int | None = None,
    apex: int | None = None,
    offset: int | None = None,
    require_face: bool = False,
    face: FaceInfo | None = None,
    stabilise: bool = False,
) -> Preprocessed:
    """Align the face once (on the onset frame) and pool the chosen window into a dynamic image.

    Missing onset/offset default to the clip's ends and a missing apex to the middle, which suits
    unannotated clips trimmed around the expression.  Pass `face` (from `learnet.face.find_face` on the
    same frames) to reuse a detection already made, e.g. for a motion curve.  `stabilise` registers every
    aligned frame to the onset frame and removes that head motion (`learnet.stabilise`).
    """
    frames = np.asarray(frames)
    n = frames.shape[0]
    span = frame_window(n, onset, apex, offset, "onset-offset")
    onset, offset = span.start, span.stop - 1
    apex = (onset + offset) // 2 if apex is None else int(apex)
    win = frame_window(n, onset, apex, offset, window)
    timings: dict[str, float] = {}

    t0 = time.perf_counter()
    if face is None:
        face = find_face(frames, mode=face_mode, reference=onset, require_face=require_face)
    aligned = warp_frames(frames[onset : offset + 1], face, size)
    timings["face"] = time.perf_counter() - t0
    if stabilise:
        t0 = time.perf_counter()
        motion = estimate_head_motion(aligned, reference=0)
        aligned = warp_frames(frames[onset : offset + 1], face, size, motion=motion)
        timings["stabilise"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    di = dynamic_image(aligned[win.start - onset : win.stop - onset], variant=di_variant)
    timings["dynamic_image"] = time.perf_counter() - t0
    return Preprocessed(di, to_uint8(di), aligned, face, onset, apex, offset, win, timings)


def stream_dynamic_image(
    source: str | Path,
    *,
    face_mode: str = "auto",
    size: int = 112,
    di_variant: str = "bilen",
    onset: int = 0,
    offset: int | None = None,
    limits: ClipLimits | None = None,
) -> tuple[np.ndarray, FaceInfo]:
    """Dynamic image of frames onset..offset of a video or frame folder without holding the clip in memory.

    The face is found on the onset frame alone (no fallback to later frames, which have not been read yet);
    each frame is then aligned and folded into a `DynamicImageAccumulator`, so memory stays at a few frames
    whatever the clip length.  Returns the float DI and the `FaceInfo`.
    """
    acc = DynamicImageAccumulator(di_variant)
    face: FaceInfo | None = None
    for index, frame in enumerate(iter_clip_frames(source, limits)):
        if index < onset:
            continue
        if offset is not None and index > offset:
            break
        if face is None:
            face = find_face(frame[None], mode=face_mode)
        acc.update(warp_frames(frame[None], face, size)[0])
    if acc.count < 2:
        raise ClipError(f"{source} has fewer than 2 frames from frame {onset}; a dynamic image needs motion")
    return acc.result(), face


@dataclass
class Prediction:
    """A classified clip: probabilities by class name (model order), the label, and how it was reached.

    `label` is the most probable class; `abstention` (`learnet.abstention.NO_FACE` or `NO_MOTION`) says when
    that class must not be presented as the answer, and `result` is what to show: the abstention or the label.
    """

    label: str
    probabilities: dict[str, float]
    preprocessed: Preprocessed
    keyframes: dict[str, np.ndarray]  # onset/apex/offset, aligned RGB at the pipeline's keyframe size
    timings: dict[str, float]
    evidence: MotionEvidence | None = None
    abstention: str | None = None

    @property
    def result(self) -> str:
        """The answer to show: the class, or why there is none ("no face found", "no micro-expression found")."""
        return self.abstention or self.label

    def to_dict(self) -> dict:
        """JSON-able summary (no images).  When the pipeline abstains, `label` is None, `top_class` still names
        the most probable class and `probabilities_meaningful` is False."""
        pre = self.preprocessed
        return {
            "result": self.result,
            "abstained": self.abstention is not None,
            "label": None if self.abstention else self.label,
            "top_class": self.label,
            "probabilities_meaningful": self.abstention is None,
            "probabilities": self.probabilities,
            "motion": self.evidence.to_dict() if self.evidence is not None else None,
            "onset": pre.onset,
            "apex": pre.apex,
            "offset": pre.offset,
            "window": [pre.window.start, pre.window.stop - 1],
            "face": pre.face.to_dict(),
            "timings_s": {k: round(v, 4) for k, v in self.timings.items()},
        }


class Pipeline:
    """A loaded model plus the preprocessing its config asks for.

    Args:
        model: a `LEARNet` (e.g. from `learnet.hub.load_model`).
        face_mode, di_variant, window: override the model config (e.g. face alignment off for pre-cropped
            clips); None keeps the config's value.  The result is `preprocessing`: the model's
            `Preprocessing` with these replaced (input size, scaling and stabilisation are the weights' own).
        keyframe_size: side of the aligned onset/apex/offset frames returned for display.
    """

    def __init__(
        self,
        model: LEARNet,
        *,
        face_mode: str | None = None,
        di_variant: str | None = None,
        window: str | None = None,
        keyframe_size: int = 224,
    ):
        self.model = model.eval()
        overrides = {"face_mode": face_mode, "di_variant": di_variant, "window": window}
        self.preprocessing: Preprocessing = replace(model.preprocessing, **{k: v for k, v in overrides.items() if v})
        self.keyframe_size = keyframe_size

    @property
    def face_mode(self) -> str:
        return self.preprocessing.face_mode

    @property
    def di_variant(self) -> str:
        return self.preprocessing.di_variant

    @property
    def window(self) -> str:
        return self.preprocessing.window

    @property
    def class_names(self) -> list[str]:
        return list(self.model.class_names)

    def preprocess(self, clip: Clip, **phases) -> Preprocessed:
        """`preprocess` with this pipeline's settings; `phases` are onset/apex/offset/require_face/face."""
        p = self.preprocessing
        return preprocess(
            clip.frames, face_mode=p.face_mode, size=p.input_size,
            di_variant=p.di_variant, window=p.window, stabilise=p.stabilise, **phases,
        )

    def input_tensor(self, pre: Preprocessed) -> torch.Tensor:
        """The (1, 3, S, S) float tensor the model takes for a preprocessed clip (the model's input scaling,
        through the uint8 form training caches, so training and inference see the same numbers)."""
        scaling = self.preprocessing.input_scaling
        return to_model_input(to_input_uint8(pre.di, scaling), scaling).unsqueeze(0)

    def no_motion_level(self, pre: Preprocessed) -> float:
        """The model-input value of "no motion" for this clip: the constant baseline of the explanations."""
        return self.preprocessing.scaling.no_motion_level(pre.di)

    def probabilities(self, x: torch.Tensor) -> torch.Tensor:
        """Calibrated softmax probabilities (B, C) for a model-input batch (the model's temperature applied)."""
        with torch.inference_mode():  # on the model's device; the probabilities come back to the CPU
            return self.model.probabilities(x.to(module_device(self.model))).cpu()

    def predict(
        self,
        clip: Clip | str | Path,
        onset: int | None = None,
        apex: int | None = None,
        offset: int | None = None,
        require_face: bool = False,
        face: FaceInfo | None = None,
    ) -> Prediction:
        """Classify one clip (a `Clip` or a path to one); `face` reuses an earlier detection."""
        timings: dict[str, float] = {}
        if not isinstance(clip, Clip):
            t0 = time.perf_counter()
            clip = read_clip(clip)
            timings["decode"] = time.perf_counter() - t0
        pre = self.preprocess(clip, onset=onset, apex=apex, offset=offset, require_face=require_face, face=face)
        timings.update(pre.timings)
        t0 = time.perf_counter()
        probs = self.probabilities(self.input_tensor(pre))[0].tolist()
        timings["model"] = time.perf_counter() - t0
        names = self.class_names
        probabilities = {name: float(p) for name, p in zip(names, probs)}
        label = names[int(np.argmax(probs))]
        evidence = motion_evidence(pre.di)
        key_index = [pre.onset, pre.apex, pre.offset]
        keyframes = dict(zip(KEY_FRAMES, warp_frames(clip.frames[key_index], pre.face, self.keyframe_size)))
        return Prediction(label, probabilities, pre, keyframes, timings, evidence,
                          abstention(self.face_mode, pre.face.found, evidence))
