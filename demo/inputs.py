"""Cheap checks of an uploaded clip before anything is decoded, and the names a user recognises in messages."""
from __future__ import annotations

import re
import zipfile
from pathlib import Path

import cv2

from learnet.video import IMAGE_SUFFIXES, VIDEO_SUFFIXES, ClipLimits

from . import settings


def display_name(path: Path) -> str:
    """The file name a user recognises (Gradio keeps the upload's name inside a hashed temp folder)."""
    return path.name


def clean_message(message: str, path: Path) -> str:
    """Errors from `learnet.video` name the full temp path of an upload; the user only knows its name."""
    return message.replace(str(path), path.name)


def sentence(text: str) -> str:
    """A library note ("frames downscaled to ...") as a sentence for the page."""
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def size_text(n: int) -> str:
    """Bytes for people, in Gradio's binary units: "812 KB", "12.3 MB"."""
    return f"{n / 2**10:.0f} KB" if n < 2**20 else f"{n / 2**20:.1f} MB"


def slug(name: str) -> str:
    """A file-name-safe stem of a clip's name, for the files written about it."""
    stem = Path(name).stem
    return re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-")[:60] or "clip"


def clip_problem(path: Path, limits: ClipLimits) -> str | None:
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
    if size > limits.max_file_bytes:
        return (f"{path.name} is {size_text(size)}, above this demo's limit of {size_text(limits.max_file_bytes)}; "
                "trim the clip around the expression.")
    if suffix != ".zip":
        declared = frame_count(path) or 0
        if declared > limits.max_frames:
            return (f"{path.name} has {declared} frames, above this demo's limit of {limits.max_frames}; "
                    "trim it to the expression (a micro-expression lasts under half a second).")
    return None


def frame_count(path: Path) -> int | None:
    """Frames in a video (the container's count) or image members of a zip, without decoding; None if unknown
    (webcam recordings often declare none)."""
    if path.suffix.lower() == ".zip":
        try:
            with zipfile.ZipFile(path) as archive:
                n = sum(1 for m in archive.infolist() if Path(m.filename).suffix.lower() in IMAGE_SUFFIXES)
        except (zipfile.BadZipFile, OSError):
            return None
        return n or None
    cap = cv2.VideoCapture(str(path))
    try:
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0) if cap.isOpened() else 0
    finally:
        cap.release()
    return n if n > 0 else None
