"""What a set of LEARNet weights expects of its input: one frozen `Preprocessing`, validated once.

The same settings decide how a clip becomes the network's input at training and at inference: the face
mode, the dynamic-image variant, the frame window, the input size and input scaling, head-motion
stabilisation, and the softmax temperature the probabilities are calibrated with.  A model carries them as
`model.preprocessing`; its `config.json` records them under the keys of `to_dict` (flat, as they have always
been saved), and `from_dict` reads them back from such a config.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from .dynamic import DEFAULT_INPUT_SCALING, INPUT_SCALINGS, VARIANTS, WINDOWS, InputScaling
from .face import FACE_MODES


def _one_of(label: str, value: Any, choices) -> str | None:
    if isinstance(value, str) and value in choices:
        return None
    return f"{label} must be one of {', '.join(choices)}, got {value!r}"


@dataclass(frozen=True)
class Preprocessing:
    """The preprocessing a model's weights expect (the keys of its `config.json`, same names).

    Attributes:
        input_size: side of the square dynamic image, a positive multiple of 16 (112 in the paper).
        di_variant: dynamic-image coefficients, "bilen" (correct) or "authors" (released-code compat).
        face_mode: "auto" (detect and align) or "none" (clips are already aligned face crops).
        window: frames the dynamic image summarises: "onset-offset", "onset-apex" or "apex-offset".
        input_scaling: how the DI is scaled for the network (`learnet.dynamic.INPUT_SCALINGS`): "minmax"
            ([0, 1], the paper's display form) or "signed" ([-1, 1], no motion = 0 = the padding value).
        stabilise: remove head motion frame by frame before pooling (`learnet.stabilise`).
        temperature: softmax temperature for calibrated probabilities (Guo et al., ICML 2017).
    """

    input_size: int = 112
    di_variant: str = VARIANTS[0]
    face_mode: str = "auto"
    window: str = WINDOWS[0]
    input_scaling: str = DEFAULT_INPUT_SCALING
    stabilise: bool = False
    temperature: float = 1.0

    def __post_init__(self) -> None:
        size = self.input_size
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 16 or size % 16:
            raise ValueError(f"input size must be a positive multiple of 16, got {size!r}")
        for problem in (
            _one_of("DI variant", self.di_variant, VARIANTS),
            _one_of("face mode", self.face_mode, FACE_MODES),
            _one_of("window", self.window, WINDOWS),
            _one_of("input scaling", self.input_scaling, INPUT_SCALINGS),
        ):
            if problem:
                raise ValueError(problem)
        if not isinstance(self.stabilise, (bool, np.bool_)):
            raise ValueError(f"stabilise must be true or false, got {self.stabilise!r}")
        t = self.temperature
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 < t < math.inf:
            raise ValueError(f"temperature must be a positive number, got {t!r}")
        # Plain Python types, so the config is JSON and equal settings compare (and hash) equal.
        object.__setattr__(self, "input_size", int(size))
        object.__setattr__(self, "stabilise", bool(self.stabilise))
        object.__setattr__(self, "temperature", float(t))

    @property
    def scaling(self) -> InputScaling:
        """The input scaling's table entry: encode, decode, range, no-motion level."""
        return INPUT_SCALINGS[self.input_scaling]

    def to_dict(self) -> dict[str, Any]:
        """The settings under their `config.json` keys."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, config: Mapping[str, Any]) -> Preprocessing:
        """The settings of a model config (`config.json` as saved by any version): its other keys (classes,
        dropout, metadata) are ignored, and a key a config predates takes its default."""
        return cls(**{f.name: config[f.name] for f in fields(cls) if f.name in config})

    def rows(self) -> list[tuple[str, str]]:
        """(label, value) pairs describing the input the weights expect, in reading order."""
        return [
            ("input", f"{self.input_size} x {self.input_size} dynamic image"),
            ("variant", f"`{self.di_variant}`"),
            ("face mode", f"`{self.face_mode}`"),
            ("frame window", f"`{self.window}`"),
            ("input scaling", f"`{self.input_scaling}`"),
        ]

    def describe(self) -> str:
        """One Markdown line for the model card and the demo page, e.g. "112 x 112 dynamic image, variant
        `bilen`, face mode `auto`, frame window `onset-offset`, input scaling `minmax`"."""
        (_, first), *rest = self.rows()
        return ", ".join([first, *(f"{label} {value}" for label, value in rest)])

