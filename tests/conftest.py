"""Shared test set-up: no network, offline Hub, small generated clips."""
from __future__ import annotations

import os
import socket

# huggingface_hub and gradio read these at import time, so set them before anything imports them.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import numpy as np
import pytest

LOOPBACK = ("127.", "::1", "localhost", "0.0.0.0")


class NetworkAccessError(AssertionError):
    """A test tried to reach a host other than this machine."""


def _is_loopback(address) -> bool:
    if isinstance(address, (str, bytes)):  # unix socket path
        return True
    host = str(address[0])
    return host.startswith(LOOPBACK)


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _guarded_connect(self, address):
    if not _is_loopback(address):
        raise NetworkAccessError(f"test tried to reach the network: {address!r}")
    return _real_connect(self, address)


def _guarded_connect_ex(self, address):
    if not _is_loopback(address):
        raise NetworkAccessError(f"test tried to reach the network: {address!r}")
    return _real_connect_ex(self, address)


socket.socket.connect = _guarded_connect
socket.socket.connect_ex = _guarded_connect_ex

GUARD_SOURCE = """
import socket
_c = socket.socket.connect
def _g(self, a):
    if not isinstance(a, (str, bytes)) and not str(a[0]).startswith(("127.", "::1", "localhost")):
        raise AssertionError(f"network access: {a!r}")
    return _c(self, a)
socket.socket.connect = _g
"""


@pytest.fixture(scope="session")
def face_photo() -> np.ndarray:
    """A real frontal face that ships with matplotlib (RGB uint8, 600x512)."""
    from matplotlib import cbook
    from PIL import Image

    with cbook.get_sample_data("grace_hopper.jpg") as f:
        return np.array(Image.open(f).convert("RGB"))


def moving_clip(image: np.ndarray, n: int = 12, step: float = 0.5) -> np.ndarray:
    """(n, H, W, 3) frames of `image` drifting down by `step` px per frame (sub-pixel, like a micro-expression)."""
    import cv2

    h, w = image.shape[:2]
    out = []
    for i in range(n):
        M = np.float32([[1, 0, 0], [0, 1, step * i]])
        out.append(cv2.warpAffine(image, M, (w, h), borderMode=cv2.BORDER_REPLICATE))
    return np.stack(out)


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """Tests run batch-1 or tiny batches, which gain nothing from a second intra-op thread; on a loaded
    2-core machine the OpenMP barriers of two threads can stall for whole time slices."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
