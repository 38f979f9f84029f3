"""What every attribution method shares: the result type, the method registry, and input/target checks.

Every method returns an `AttributionMap`: one float32 map at the input resolution (112 x 112 for the paper's
LEARNet) plus the metadata needed to cite it in a figure or a table.  Maps are *raw* (not normalised): the
figure code decides how to scale them, and integrated gradients keep their completeness property.

Scores are logits.  A class-contrastive map explains ``logit[A] - logit[B]``; every method here is linear in
the explained score before its final non-linearity, so that is the map of A minus the map of B.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from learnet.device import module_device
from learnet.dynamic import DEFAULT_INPUT_SCALING, InputScaling, get_input_scaling
from learnet.model import LEARNet

# Layers users can name, in network order.  "fuse" is the BatchNorm'd 256-channel concat; "head" is the last
# conv (with its ReLU), the layer classic Grad-CAM uses.
LAYERS: tuple[str, ...] = ("al1", "al2", "al3", "al4", "fuse", "head")
LAYER_TITLES: dict[str, str] = {
    "al1": "AL1", "al2": "AL2", "al3": "AL3", "al4": "AL4", "fuse": "fused concat", "head": "last conv",
}


class ExplainError(ValueError):
    """A bad request to the explanation toolkit (unknown method, layer or class, bad input), in one sentence."""


@dataclass
class AttributionMap:
    """One attribution map and what produced it.

    Attributes:
        values: float32 (H, W) map at the model's input resolution, raw units of the method.
        method: registry name (`"gradcam"`, `"ig"`, ...).
        layer: hooked layer name for layer methods (`"al1"` ...), else None.
        target: explained class index; `target_name` its name.
        contrast: index of the class subtracted in a class-contrastive map, else None; `contrast_name`.
        score: the explained score at the input (logit, or logit difference for a contrastive map).
        raw_min, raw_max: range of `values`, kept so normalised displays can still state the raw scale.
        params: the method's parameters (steps, baseline, window, ...), JSON-able.
        delta: integrated gradients' convergence delta (sum of attributions minus the score difference).
    """

    values: np.ndarray
    method: str
    layer: str | None
    target: int
    target_name: str
    contrast: int | None = None
    contrast_name: str | None = None
    score: float = float("nan")
    raw_min: float = field(init=False)
    raw_max: float = field(init=False)
    params: dict[str, Any] = field(default_factory=dict)
    delta: float | None = None

    def __post_init__(self) -> None:
        self.values = np.ascontiguousarray(self.values, dtype=np.float32)
        if self.values.ndim != 2:
            raise ExplainError(f"an attribution map must be 2-D (H, W), got shape {self.values.shape}")
        self.raw_min = float(self.values.min())
        self.raw_max = float(self.values.max())

    @property
    def signed(self) -> bool:
        """True for class-contrastive maps, whose negative values mean "evidence for the other class"."""
        return self.contrast is not None

    @property
    def title(self) -> str:
        """Short column title, e.g. "Grad-CAM AL1" or "IG"."""
        name = get_method(self.method).title
        return f"{name} {LAYER_TITLES[self.layer]}" if self.layer else name

    @property
    def target_label(self) -> str:
        """"surprise" or "surprise - negative" for a contrastive map."""
        return self.target_name if self.contrast is None else f"{self.target_name} - {self.contrast_name}"

    def metadata(self) -> dict[str, Any]:
        """Everything but the map, JSON-able (for sidecar files)."""
        meta = asdict(self)
        del meta["values"]
        meta["shape"] = list(self.values.shape)
        return meta


@dataclass(frozen=True)
class Method:
    """A registered attribution method: `fn(model, x, *, layer, target, contrast, **params) -> AttributionMap`."""

    name: str
    title: str
    fn: Callable[..., AttributionMap]
    needs_layer: bool
    description: str
    aliases: tuple[str, ...] = ()


METHODS: dict[str, Method] = {}
_ALIASES: dict[str, str] = {}


def register(name: str, *, title: str, needs_layer: bool, aliases: tuple[str, ...] = ()):
    """Decorator adding an attribution function to the registry under `name` (and `aliases`)."""

    def wrap(fn: Callable[..., AttributionMap]) -> Callable[..., AttributionMap]:
        doc = (fn.__doc__ or "").strip().splitlines()
        METHODS[name] = Method(name, title, fn, needs_layer, doc[0] if doc else "", aliases)
        for alias in (name, *aliases):
            _ALIASES[alias] = name
        return fn

    return wrap


def get_method(name: str) -> Method:
    """The registered method called `name` (or one of its aliases); the error lists the valid names."""
    key = _ALIASES.get(str(name).strip().lower().replace("_", "-"))
    if key is None:
        raise ExplainError(f"unknown attribution method {name!r}; valid methods: {', '.join(METHODS)}")
    return METHODS[key]


def attribute(
    model: LEARNet,
    x: torch.Tensor,
    method: str,
    *,
    layer: str | None = None,
    target: int | str | None = None,
    contrast: int | str | None = None,
    **params: Any,
) -> AttributionMap:
    """Run one registered method: `attribute(model, x, "gradcam", layer="al2", target="surprise")`."""
    m = get_method(method)
    if m.needs_layer:
        return m.fn(model, x, layer=layer or "head", target=target, contrast=contrast, **params)
    if layer is not None:
        raise ExplainError(f"method {m.name!r} works on the input and takes no layer (got layer={layer!r})")
    return m.fn(model, x, target=target, contrast=contrast, **params)


def get_layer(model: LEARNet, name: str) -> nn.Module:
    """The module behind a user-facing layer name; the error lists the valid names."""
    key = str(name).strip().lower()
    if key not in LAYERS:
        raise ExplainError(f"unknown layer {name!r}; valid layers: {', '.join(LAYERS)}")
    return getattr(model, key)


def resolve_class(model: LEARNet, cls: int | str) -> int:
    """A class given by index or by name (case-insensitive) -> its index; the error lists the classes."""
    names = list(model.class_names)
    if isinstance(cls, (int, np.integer)) and not isinstance(cls, bool):
        if 0 <= int(cls) < len(names):
            return int(cls)
    elif isinstance(cls, str):
        lowered = [n.lower() for n in names]
        if cls.strip().lower() in lowered:
            return lowered.index(cls.strip().lower())
        if cls.strip().isdigit() and int(cls) < len(names):
            return int(cls)
    raise ExplainError(f"unknown class {cls!r}; the model's classes are: {', '.join(names)}")


def check_input(model: LEARNet, x: torch.Tensor) -> torch.Tensor:
    """Validate one dynamic image for attribution and return a fresh (1, 3, S, S) float32 leaf tensor.

    The copy matters: a tensor made under `torch.inference_mode` (e.g. by a prediction) cannot enter autograd,
    but its clone made outside inference mode can.
    """
    if torch.is_inference_mode_enabled():
        raise ExplainError(
            "attribution needs gradients but torch.inference_mode() is active; predict under inference_mode "
            "if you like, then call explain outside it"
        )
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    if not isinstance(x, torch.Tensor):
        raise ExplainError(f"expected a torch tensor (1, 3, S, S), got {type(x).__name__}")
    if x.ndim == 3:
        x = x.unsqueeze(0)
    size = getattr(model, "input_size", x.shape[-1])
    if x.shape != (1, 3, size, size):
        raise ExplainError(
            f"expected one dynamic image of shape (1, 3, {size}, {size}) or (3, {size}, {size}), "
            f"got {tuple(x.shape)}"
        )
    x = x.detach().to(module_device(model)).clone().float()  # on the model's device, in float32
    lo, hi = float(x.min()), float(x.max())
    low, high = input_range(model)
    if lo < low - 1e-4 or hi > high + 1e-4:
        raise ExplainError(
            f"the dynamic image must be scaled to [{low:g}, {high:g}] (learnet.dynamic.to_model_input with the "
            f"model's input scaling), got [{lo:.3g}, {hi:.3g}]"
        )
    return x.requires_grad_(True)  # Captum would set it anyway, with a warning


def input_scaling_of(model: nn.Module) -> InputScaling:
    """The model's input scaling (`learnet.dynamic.INPUT_SCALINGS` entry), from `model.preprocessing`; a
    stand-in network without one may name its scaling in an `input_scaling` attribute, else the default."""
    pre = getattr(model, "preprocessing", None)
    name = pre.input_scaling if pre is not None else getattr(model, "input_scaling", DEFAULT_INPUT_SCALING)
    return get_input_scaling(name)


def input_range(model: nn.Module) -> tuple[float, float]:
    """The value range of the model's input: [0, 1] for "minmax" scaling, [-1, 1] for "signed"."""
    return input_scaling_of(model).range


@contextlib.contextmanager
def attribution_mode(model: nn.Module) -> Iterator[None]:
    """Gradients on, model in eval mode (dropout off, BatchNorm running statistics); restored on exit.

    Attribution in training mode would explain a random dropout mask, so eval is forced for the call only.
    """
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with torch.enable_grad():
            yield
    finally:
        for m, was_training in modes:
            m.training = was_training


class ScoreModel(nn.Module):
    """Wraps a classifier so its single output is ``logit[a] - logit[b]`` (the class-contrastive score).

    Captum takes a target index, not a score function, so a contrastive map is the map of target 0 of this
    wrapper.  The wrapped model's modules stay the same objects, so layer hooks still find them.
    """

    def __init__(self, model: nn.Module, a: int, b: int):
        super().__init__()
        self.model = model
        self.a, self.b = a, b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.model(x)
        return logits[:, self.a : self.a + 1] - logits[:, self.b : self.b + 1]


@dataclass(frozen=True)
class AttributionTarget:
    """What a method call attributes: the network to differentiate, its target index, and the class names."""

    net: nn.Module
    index: int  # target index into `net`'s output
    target: int
    contrast: int | None
    score: float

    def names(self, model: LEARNet) -> dict[str, Any]:
        return {
            "target": self.target,
            "target_name": model.class_names[self.target],
            "contrast": self.contrast,
            "contrast_name": None if self.contrast is None else model.class_names[self.contrast],
            "score": self.score,
        }


def attribution_target(model: LEARNet, x: torch.Tensor, target: int | str | None,
                       contrast: int | str | None) -> AttributionTarget:
    """Resolve the target (default: the predicted class) and the optional contrast class for input `x`."""
    with torch.no_grad():
        logits = model(x)[0]
    t = int(logits.argmax()) if target is None else resolve_class(model, target)
    if contrast is None:
        return AttributionTarget(model, t, t, None, float(logits[t]))
    c = resolve_class(model, contrast)
    if c == t:
        raise ExplainError(f"a contrastive map needs two different classes, got {model.class_names[t]!r} twice")
    return AttributionTarget(ScoreModel(model, t, c), 0, t, c, float(logits[t] - logits[c]))


def to_map(attr: torch.Tensor, channels: str = "sum") -> np.ndarray:
    """(1, C, H, W) attribution -> (H, W) float32 numpy map.

    Channels are summed by default (so a map's sum is the attribution's sum, which keeps IG's completeness);
    "mean" for methods whose channels carry the same value (occlusion over all channels).
    """
    a = attr.detach()[0]
    a = a.sum(0) if channels == "sum" else a.mean(0)
    return a.cpu().numpy().astype(np.float32)
