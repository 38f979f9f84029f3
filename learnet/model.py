"""LEARNet (Verma et al., IEEE TIP 2020), a PyTorch port of the authors' released Keras graph.

Paper: "LEARNet: Dynamic Imaging Network for Micro Expression Recognition", doi 10.1109/TIP.2019.2912358,
arXiv 1904.09410.  Input: one dynamic image, 3 x 112 x 112.  Every convolution has stride 2 and "same"
padding and is followed by its own ReLU; there is no pooling.

How the modules map to the paper::

    stem                      3x3 conv, 16 ch                         112 -> 56
    pair 1 (AL1, AL2)
      b1_1 -> b1_2 -> b1_3    plain lateral branch: 1x1/16, 3x3/32, 5x5/64   56 -> 28 -> 14 -> 7
      b2_1                    accretive branch, 1x1/16 from the stem         56 -> 28
      al1 = BN(b1_1 + b2_1)   accretion layer 1: hybrid of the two laterals  28
      b2_2 (on al1)           3x3/32                                         28 -> 14
      al2 = BN(b1_2 + b2_2)   accretion layer 2                              14
      b2_3 (on al2)           5x5/64                                         14 -> 7
    pair 2 (AL3, AL4)         same structure, own weights: b3_*, b4_*, al3, al4
    fuse = BN(concat[b1_3, b2_3, b3_3, b4_3])                               256 x 7 x 7
    head                      3x3 conv, 256 ch                               7 -> 4
    classifier                flatten 4096 -> dense 256 + ReLU -> dropout 0.5 -> dense C

The plain branches pass their raw post-ReLU maps on; the accretive branches convolve the accretion layer
(sum, then BatchNorm), which is the paper's "cross decoupled relationship".  The two pairs meet only at the
concatenation.  Trainable parameters: 1,865,539 for 3 classes, 1,866,053 for 5, 1,866,824 for 8.

Module names are stable (`al1`..`al4`, `fuse`, `head`) so attribution tools can hook them, and every
activation is its own `nn.ReLU` (not functional, not in-place) so guided backpropagation sees it.
"""
from __future__ import annotations

from typing import Any

import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from . import __version__
from .preprocessing import Preprocessing

PAPER_URL = "https://arxiv.org/abs/1904.09410"
ACCRETION_LAYERS: tuple[str, ...] = ("al1", "al2", "al3", "al4")

MODEL_CARD_TEMPLATE = """---
{{ card_data }}
---

# LEARNet

A PyTorch port of LEARNet (Verma, Vipparthi, Singh, Murala, *LEARNet: Dynamic Imaging Network for Micro
Expression Recognition*, IEEE TIP 29 (2020) 1618-1627, [arXiv 1904.09410]({{ paper_url }})), made with the
`learnet` toolkit. It classifies one dynamic image (approximate rank pooling of an aligned face clip).

- Classes: {{ class_names }}
- Input: {{ preprocessing }}

{{ training_notes | default("No training notes were recorded for these weights.", true) }}
"""

_DEFAULTS = Preprocessing()


def _preprocessing_setting(name: str) -> property:
    """A read-only view of one `model.preprocessing` setting under its config name (`model.face_mode`...)."""
    def read_only(self, value: Any) -> None:
        raise AttributeError(f"{name} is read-only; set model.preprocessing = "
                             f"dataclasses.replace(model.preprocessing, {name}=...) to change it")

    return property(lambda self: getattr(self.preprocessing, name), read_only,
                    doc=f"`preprocessing.{name}` (read-only: replace `preprocessing` to change it)")


# Keras defaults of the authors' graph: BatchNorm momentum 0.99 (PyTorch's 0.01) and eps 1e-3.
_BN = {"momentum": 0.01, "eps": 1e-3}


class ConvReLU(nn.Sequential):
    """One convolution of the graph: stride 2, "same" padding, its own ReLU."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, kernel, stride=2, padding=kernel // 2)
        self.relu = nn.ReLU()


class AccretionLayer(nn.Module):
    """An accretion layer (AL): the sum of two laterally connected convolutions, then BatchNorm."""

    def __init__(self, channels: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, **_BN)

    def forward(self, lateral: torch.Tensor, accretive: torch.Tensor) -> torch.Tensor:
        return self.bn(lateral + accretive)


class AccretionPair(nn.Module):
    """Two lateral branches joined by two accretion layers; returns both 64-channel 7x7 outputs."""

    def __init__(self, plain: str, accretive: str, first_al: str, second_al: str):
        super().__init__()
        self.names = (plain, accretive, first_al, second_al)
        # Plain branch: 1x1/16 -> 3x3/32 -> 5x5/64 on raw post-ReLU maps.
        self.add_module(f"{plain}_1", ConvReLU(16, 16, 1))
        self.add_module(f"{plain}_2", ConvReLU(16, 32, 3))
        self.add_module(f"{plain}_3", ConvReLU(32, 64, 5))
        # Accretive branch: same kernels, but its 2nd and 3rd convs read the accretion layers.
        self.add_module(f"{accretive}_1", ConvReLU(16, 16, 1))
        self.add_module(first_al, AccretionLayer(16))
        self.add_module(f"{accretive}_2", ConvReLU(16, 32, 3))
        self.add_module(second_al, AccretionLayer(32))
        self.add_module(f"{accretive}_3", ConvReLU(32, 64, 5))

    def forward(self, stem: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        p, a, al_a, al_b = self.names
        m = self._modules
        p1 = m[f"{p}_1"](stem)
        first = m[al_a](p1, m[f"{a}_1"](stem))
        p2 = m[f"{p}_2"](p1)
        second = m[al_b](p2, m[f"{a}_2"](first))
        return m[f"{p}_3"](p2), m[f"{a}_3"](second)


class LEARNet(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="learnet",
    license="mit",
    paper_url=PAPER_URL,
    pipeline_tag="video-classification",
    tags=["micro-expression-recognition", "dynamic-image", "learnet"],
    model_card_template=MODEL_CARD_TEMPLATE,
):
    """LEARNet classifier for one dynamic image.

    The constructor arguments are the model's Hub config (`config.json`): besides the architecture
    (`num_classes`, `dropout`) they record the preprocessing the weights expect, kept as one validated
    `learnet.preprocessing.Preprocessing` in `model.preprocessing`, so `learnet.pipeline.Pipeline`
    reproduces it from the config alone.  Build from a `Preprocessing` with
    ``LEARNet(class_names=..., **preprocessing.to_dict())``; `model.face_mode` and the other settings read
    `model.preprocessing` (read-only: assign a new `Preprocessing`, e.g. `dataclasses.replace`, to change one).

    Args:
        num_classes: number of output classes; defaults to `len(class_names)`.
        class_names: one name per output, in logit order.
        input_size, di_variant, face_mode, window, input_scaling, stabilise, temperature: the preprocessing
            (`learnet.preprocessing.Preprocessing` says what each means); `input_size` also sets the head
            (4x4 at the paper's 112).  `forward` returns raw logits, `probabilities` divides them by
            `temperature`.
        dropout: dropout before the last dense layer (0.5 in the authors' graph).
        metadata: free-form JSON-able notes (training data, protocol, figures) kept in the config.
    """

    def __init__(
        self,
        num_classes: int | None = None,
        class_names: list[str] | None = None,
        input_size: int = _DEFAULTS.input_size,
        di_variant: str = _DEFAULTS.di_variant,
        face_mode: str = _DEFAULTS.face_mode,
        window: str = _DEFAULTS.window,
        input_scaling: str = _DEFAULTS.input_scaling,
        dropout: float = 0.5,
        stabilise: bool = _DEFAULTS.stabilise,
        temperature: float = _DEFAULTS.temperature,
        metadata: dict[str, Any] | None = None,
    ):
        super().__init__()
        if class_names is None:
            if num_classes is None:
                raise ValueError("LEARNet needs num_classes or class_names")
            class_names = [f"class_{i}" for i in range(num_classes)]
        if num_classes is None:
            num_classes = len(class_names)
        if len(class_names) != num_classes:
            raise ValueError(f"{len(class_names)} class names given for {num_classes} classes")
        self.preprocessing = Preprocessing(
            input_size=input_size, di_variant=di_variant, face_mode=face_mode, window=window,
            input_scaling=input_scaling, stabilise=stabilise, temperature=temperature,
        )
        self.num_classes = num_classes
        self.class_names = list(class_names)
        self.metadata = dict(metadata or {})

        self.stem = ConvReLU(3, 16, 3)
        self.pair1 = AccretionPair("b1", "b2", "al1", "al2")
        self.pair2 = AccretionPair("b3", "b4", "al3", "al4")
        self.fuse = nn.BatchNorm2d(256, **_BN)
        self.head = ConvReLU(256, 256, 3)
        side = self.preprocessing.input_size // 16  # four stride-2 stages before the head: 112 -> 7, head -> 4
        side = (side + 1) // 2
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(256 * side * side, 256)
        self.fc_relu = nn.ReLU()
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(256, num_classes)
        self.reset_parameters()

    input_size = _preprocessing_setting("input_size")
    di_variant = _preprocessing_setting("di_variant")
    face_mode = _preprocessing_setting("face_mode")
    window = _preprocessing_setting("window")
    input_scaling = _preprocessing_setting("input_scaling")
    stabilise = _preprocessing_setting("stabilise")
    temperature = _preprocessing_setting("temperature")

    # Attribute access in the paper's names: model.al1 ... model.al4.
    @property
    def al1(self) -> AccretionLayer:
        return self.pair1.al1

    @property
    def al2(self) -> AccretionLayer:
        return self.pair1.al2

    @property
    def al3(self) -> AccretionLayer:
        return self.pair2.al3

    @property
    def al4(self) -> AccretionLayer:
        return self.pair2.al4

    def accretion_layers(self) -> dict[str, AccretionLayer]:
        """The four accretion layers by name (`al1`..`al4`)."""
        return {name: getattr(self, name) for name in ACCRETION_LAYERS}

    def reset_parameters(self) -> None:
        """Keras initialisation: glorot-uniform kernels, zero biases."""
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Dynamic image batch (B, 3, S, S) -> head feature map (B, 256, S/32, S/32)."""
        stem = self.stem(x)
        b1_3, b2_3 = self.pair1(stem)
        b3_3, b4_3 = self.pair2(stem)
        return self.head(self.fuse(torch.cat([b1_3, b2_3, b3_3, b4_3], dim=1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Dynamic image batch (B, 3, S, S), scaled as `learnet.dynamic.to_model_input` -> logits (B, C)."""
        h = self.fc_relu(self.fc(self.flatten(self.features(x))))
        return self.classifier(self.dropout(h))

    def probabilities(self, x: torch.Tensor) -> torch.Tensor:
        """Calibrated class probabilities (B, C): softmax of the logits divided by `temperature`."""
        return torch.softmax(self(x) / self.temperature, dim=1)

    def hub_config(self) -> dict[str, Any]:
        """The constructor arguments as they stand now: what `config.json` records."""
        return {
            "num_classes": self.num_classes,
            "class_names": list(self.class_names),
            **self.preprocessing.to_dict(),
            "dropout": self.dropout.p,
            "metadata": self.metadata,
        }

    def generate_model_card(self, *args, **kwargs):  # fills the card from the config
        values = {
            "class_names": ", ".join(self.class_names),
            "preprocessing": self.preprocessing.describe(),
            "training_notes": self.metadata.get("model_card", ""),
        }
        values.update(kwargs)
        return super().generate_model_card(*args, **values)


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters (BatchNorm running statistics are buffers, so they are not counted)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def describe(model: LEARNet) -> dict[str, Any]:
    """A JSON-able summary of a model: classes, preprocessing, size, toolkit version."""
    return {
        "class_names": model.class_names,
        **model.preprocessing.to_dict(),
        "parameters": count_parameters(model),
        "learnet_version": __version__,
        "metadata": model.metadata,
    }
