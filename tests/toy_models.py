"""Small models with a known answer, shared by the explanation tests."""
from __future__ import annotations

import torch

from learnet.model import LEARNet


def step_model() -> LEARNet:
    """Random LEARNet (zero biases) re-headed: class 0 fires on any motion, class 1 (bias 0.5) on none.

    A flat dynamic image is the all-zero signed input, where every activation is 0 and only the biases remain.
    """
    torch.manual_seed(0)
    model = LEARNet(class_names=["moved", "still", "other"], input_size=32, input_scaling="signed",
                    face_mode="none").eval()
    with torch.no_grad():
        model.classifier.weight.zero_()
        model.classifier.weight[0] = 100.0
        model.classifier.bias.copy_(torch.tensor([0.0, 0.5, -1.0]))
    return model


class LinearScore(torch.nn.Module):
    """Two logits, [sum(w * x), 0]: p(class 0) = sigmoid(sum(w * x)), so faithfulness curves have a closed form."""

    input_scaling = "minmax"

    def __init__(self, w: torch.Tensor):
        super().__init__()
        self.w = w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = (x * self.w).sum(dim=(1, 2, 3))
        return torch.stack([s, torch.zeros_like(s)], dim=1)
