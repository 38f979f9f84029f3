"""Where the tensors live: `--device auto|cpu|cuda|mps` for the CLIs and `$LEARNET_DEVICE` for the page.

The CPU path is the reference: every helper here is a no-op on CPU, so a run with `--device cpu` gives the same
numbers bit for bit as a run that never heard of devices.  Mixed precision (`autocast`) is for training on CUDA
only; predictions and attributions stay in float32.
"""
from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator

import torch

DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda", "mps")
DEVICE_ENV = "LEARNET_DEVICE"


class DeviceError(ValueError):
    """The asked device is unknown or not available here; the message is one line for the user."""


def _cuda_reason() -> str:
    if torch.version.cuda is None:
        return f"this torch ({torch.__version__}) is a CPU-only build"
    return "no CUDA GPU is visible (check CUDA_VISIBLE_DEVICES and the driver)"


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(name: str | torch.device | None = "auto") -> torch.device:
    """The `torch.device` for `name`: auto (CUDA, else Apple MPS, else CPU), cpu, cuda, cuda:N or mps.

    Raises:
        DeviceError: one line naming the device and why it is not available, e.g.
            "device cuda is not available: this torch (2.13.0+cpu) is a CPU-only build; use --device cpu or auto".
    """
    if isinstance(name, torch.device):
        name = str(name)
    text = (name or "auto").strip().lower()
    if text == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    if text == "cpu":
        return torch.device("cpu")
    match = re.fullmatch(r"cuda(?::(\d+))?", text)
    if match:
        if not torch.cuda.is_available():
            raise DeviceError(f"device {text} is not available: {_cuda_reason()}; use --device cpu or auto")
        index = int(match.group(1) or 0)
        count = torch.cuda.device_count()
        if index >= count:
            raise DeviceError(f"device {text} is not available: this machine has {count} CUDA device(s) "
                              f"(cuda:0..cuda:{count - 1})")
        return torch.device(text)
    if text == "mps":
        if not _mps_available():
            raise DeviceError("device mps is not available: it needs Apple silicon and a torch built with MPS; "
                              "use --device cpu or auto")
        return torch.device("mps")
    raise DeviceError(f"unknown device {name!r}: choose {', '.join(DEVICES)} (or cuda:N)")


def device_from_env(default: str = "auto") -> torch.device:
    """`resolve_device($LEARNET_DEVICE)`, `default` when the variable is unset or empty."""
    return resolve_device(os.environ.get(DEVICE_ENV) or default)


def amp_dtype(device: torch.device, enabled: bool = True) -> torch.dtype | None:
    """The autocast dtype for training on `device`: bfloat16 on CUDA GPUs that have it (no loss scaling
    needed), else float16; None (full float32) on CPU and MPS, or when `enabled` is False."""
    if not enabled or torch.device(device).type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


@contextlib.contextmanager
def autocast(device: torch.device, dtype: torch.dtype | None) -> Iterator[None]:
    """`torch.autocast` on `device` with `dtype`; nothing at all when `dtype` is None (the float32 path)."""
    if dtype is None:
        yield
        return
    with torch.autocast(device_type=torch.device(device).type, dtype=dtype):
        yield


def to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """`tensor` on `device`, copied once: through pinned memory and asynchronously for CUDA (so a whole
    data set of dynamic images crosses the bus in one transfer); the same object when it is there already."""
    device = torch.device(device)
    if tensor.device == device or (device.type == tensor.device.type and device.index is None):
        return tensor
    if device.type == "cuda" and tensor.device.type == "cpu":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


def module_device(module: torch.nn.Module) -> torch.device:
    """The device of a module's first parameter (CPU for a module without parameters)."""
    for p in module.parameters():
        return p.device
    return torch.device("cpu")
