"""Reading clips: video files, folders of frames and zips of frames, with limits and clear errors.

Inside the library every frame is RGB uint8 (H, W, 3); grayscale frames are expanded to three channels.
"""
from __future__ import annotations

import os
import re
import subprocess
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

# FFmpeg (inside OpenCV) prints its own lines ("moov atom not found") before our one-line error for a broken
# file; quiet it unless the user asked for its logs.  Read by OpenCV when it opens its first video.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET

VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"})
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"})
DEFAULT_FOLDER_FPS = 200.0  # CASME II and SAMM record at 200 fps


class ClipError(ValueError):
    """A clip cannot be read or used; the message is a sentence meant for the user."""


@dataclass(frozen=True)
class ClipLimits:
    """Guards against inputs that would hang or exhaust memory.

    Frames with a long side above `max_long_side` are downscaled (and the clip notes it); more than
    `max_frames` frames or a file above `max_file_bytes` is an error, raised before decoding.
    """

    max_frames: int = 2000
    max_long_side: int = 1280
    max_file_bytes: int = 500 * 1024 * 1024

    @property
    def max_frame_bytes(self) -> int:
        """Raw size of the largest frame a clip keeps: square, RGB, 8 bits, at the long-side limit."""
        return 3 * self.max_long_side**2

    @property
    def max_member_bytes(self) -> int:
        """Largest image file accepted inside a zip: four frames' raw size, so uncompressed BMP/PNG/TIFF frames
        up to twice the long side (they are downscaled on reading) or 16 bits deep still fit."""
        return 4 * self.max_frame_bytes

    @property
    def max_unpacked_bytes(self) -> int:
        """Largest total a zip of frames may unpack to: the frame limit times the raw frame size, the most a
        clip within the limits can hold."""
        return self.max_frames * self.max_frame_bytes


@dataclass
class Clip:
    """A decoded clip: frames (T, H, W, 3) RGB uint8 in temporal order, fps and where it came from."""

    frames: np.ndarray
    fps: float
    source: str
    notes: list[str] = field(default_factory=list)

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) of the frames."""
        return int(self.frames.shape[1]), int(self.frames.shape[2])

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.num_frames / self.fps


def natural_key(name: str) -> tuple:
    """Sort key that orders embedded numbers by value: img2 < img10 < img100."""
    return tuple(int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name))


def _to_rgb(frame: np.ndarray, *, bgr: bool) -> np.ndarray:
    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2RGB if bgr else cv2.COLOR_RGBA2RGB)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB) if bgr else frame


def _downscale(frame: np.ndarray, max_long_side: int) -> np.ndarray:
    h, w = frame.shape[:2]
    scale = max_long_side / max(h, w)
    if scale >= 1.0:
        return frame
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


def _check_file_size(path: Path, limits: ClipLimits) -> None:
    size = path.stat().st_size
    if size > limits.max_file_bytes:
        raise ClipError(
            f"{path.name} is {size / 2**20:.0f} MB, above the {limits.max_file_bytes / 2**20:.0f} MB limit; "
            "trim the clip or raise ClipLimits.max_file_bytes"
        )
    if size == 0:
        raise ClipError(f"{path.name} is empty (0 bytes)")


class _FrameStack:
    """Frames appended one at a time into one preallocated (T, H, W, 3) array.

    A list of frames followed by `np.stack` holds every frame twice at the end; this holds them once (plus
    a copy of the filled part when the expected count was too low or too high)."""

    def __init__(self, expected: int = 0):
        self.expected = max(2, expected)
        self.array: np.ndarray | None = None
        self.count = 0
        self.shapes: set[tuple[int, ...]] = set()

    def append(self, frame: np.ndarray) -> None:
        self.shapes.add(frame.shape)
        if len(self.shapes) > 1:
            return  # an error once every shape is known (`finish`)
        if self.array is None:
            self.array = np.empty((self.expected, *frame.shape), frame.dtype)
        elif self.count == len(self.array):
            grown = np.empty((2 * len(self.array), *frame.shape), frame.dtype)
            grown[: self.count] = self.array
            self.array = grown
        self.array[self.count] = frame
        self.count += 1

    def __len__(self) -> int:
        return self.count

    def finish(self, fps: float, source: str, notes: list[str]) -> Clip:
        if self.count == 0:
            raise ClipError(f"no frames could be decoded from {source}")
        if len(self.shapes) > 1:
            listed = ", ".join(f"{s[1]}x{s[0]}" for s in sorted(self.shapes)[:4])
            raise ClipError(f"the frames of {source} have different sizes ({listed}); all frames must match")
        if self.count < 2:
            raise ClipError(f"{source} has a single frame; a dynamic image needs at least 2 frames of motion")
        frames = self.array if self.count == len(self.array) else self.array[: self.count].copy()
        self.array = None
        return Clip(frames, float(fps), source, notes)


def _open_video(path: Path) -> cv2.VideoCapture:
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise ClipError(f"{path.name} could not be opened as a video (corrupt file or unsupported format)")
    # Phones store portrait video as landscape frames plus a rotation in the container; OpenCV's FFmpeg backend
    # applies it by default, and asking for it explicitly keeps that true whatever a build's default.
    cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)
    return cap


def iter_video_frames(path: str | Path, limits: ClipLimits | None = None,
                      timestamps: list[float] | None = None) -> Iterator[np.ndarray]:
    """Decode a video lazily, one RGB frame at a time (downscaled per `limits`, upright per the container's
    rotation); for streaming work.  `timestamps`, when given, receives each frame's presentation time in ms."""
    limits = limits or ClipLimits()
    path = Path(path)
    cap = _open_video(path)
    try:
        n = 0
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            if timestamps is not None:
                timestamps.append(float(cap.get(cv2.CAP_PROP_POS_MSEC)))
            n += 1
            if n > limits.max_frames:
                raise ClipError(
                    f"{path.name} has more than {limits.max_frames} frames; trim it to the expression "
                    "(onset..offset) or raise ClipLimits.max_frames"
                )
            yield _downscale(_to_rgb(frame, bgr=True), limits.max_long_side)
    finally:
        cap.release()


def constant_rate_index(timestamps_ms: Sequence[float], tolerance: float = 0.25) -> tuple[np.ndarray, float] | None:
    """For a variable-frame-rate clip, the frames to show at a constant rate; None when the rate is constant.

    The rate is that of the median frame interval (the camera's nominal rate; a slowed stretch is the
    exception).  The clip counts as variable when any interval differs from the median by more than
    `tolerance` of it.  Returns (index, fps): `frames[index]` is the clip resampled on the regular grid
    t0, t0 + 1/fps, ... up to the last timestamp, each grid time showing the latest frame at or before it (as a
    player would), so a micro-expression lasts as many frames as its duration at that rate.
    """
    t = np.asarray(timestamps_ms, dtype=np.float64)
    if t.size < 3:
        return None
    steps = np.diff(t)
    step = float(np.median(steps))
    if step <= 0 or not np.all(steps > 0) or np.all(np.abs(steps - step) <= tolerance * step):
        return None  # constant rate, or timestamps that cannot be trusted (none, repeated, decreasing)
    grid = t[0] + step * np.arange(int(np.floor((t[-1] - t[0]) / step + 1e-6)) + 1)
    index = np.searchsorted(t, grid + 1e-3 * step, side="right") - 1
    return index, round(1000.0 / step, 3)


def read_video(path: str | Path, *, fps: float | None = None, limits: ClipLimits | None = None) -> Clip:
    """Decode a whole video file (mp4, avi, mov, mkv, webm) into a `Clip`.

    Frames come upright (the container's rotation applied).  A variable-frame-rate clip (phones slow down in
    dim light) is resampled from its timestamps to a constant rate (`constant_rate_index`), so frame indices
    measure time evenly, unless `fps` is given: then the frames are taken as they are, at that rate.
    """
    limits = limits or ClipLimits()
    path = Path(path)
    if not path.is_file():
        raise ClipError(f"{path} does not exist or is not a file")
    _check_file_size(path, limits)
    cap = _open_video(path)
    container_fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
    declared = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    long_side = max(int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)), int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)))
    cap.release()
    if declared > limits.max_frames:
        raise ClipError(
            f"{path.name} has {declared} frames, above the limit of {limits.max_frames}; trim it to the "
            "expression (onset..offset) or raise ClipLimits.max_frames"
        )
    notes: list[str] = []
    frames = _FrameStack(declared)
    times: list[float] = []
    for frame in iter_video_frames(path, limits, times):
        frames.append(frame)
    if long_side > limits.max_long_side:
        notes.append(f"frames downscaled to a long side of {limits.max_long_side} px")
    resample = constant_rate_index(times) if fps is None else None
    if fps is None:
        if not 0 < container_fps < 10000:
            notes.append(f"the container reports no frame rate; assuming {DEFAULT_FOLDER_FPS:g} fps")
            container_fps = DEFAULT_FOLDER_FPS
        fps = container_fps
    clip = frames.finish(fps, str(path), notes)
    if resample is not None:
        index, rate = resample
        if index.size > limits.max_frames:
            raise ClipError(f"{path.name} has a variable frame rate; at its {rate:.3g} fps it lasts {index.size} "
                            f"frames, above the limit of {limits.max_frames}; trim it to the expression")
        notes.append(f"variable frame rate: {clip.num_frames} frames resampled from their timestamps to "
                     f"{index.size} frames at a constant {rate:.3g} fps")
        clip = Clip(clip.frames[index], rate, clip.source, notes)
    return clip


def _decode(image: np.ndarray | None, name: str) -> np.ndarray:
    if image is None:
        raise ClipError(f"{name} could not be read as an image (missing, corrupt or unsupported)")
    if image.dtype != np.uint8:  # 16-bit PNG/TIFF
        image = cv2.convertScaleAbs(image, alpha=255.0 / max(1, int(image.max())))
    return _to_rgb(image, bgr=True)


def read_image(path: str | Path) -> np.ndarray:
    """One image file as RGB uint8 (H, W, 3); grayscale becomes three channels."""
    path = Path(path)
    return _decode(cv2.imread(str(path), cv2.IMREAD_UNCHANGED), path.name)


def read_frames(
    paths: Sequence[str | Path],
    *,
    fps: float = DEFAULT_FOLDER_FPS,
    limits: ClipLimits | None = None,
    source: str | None = None,
) -> Clip:
    """Read an explicit, already ordered list of frame images into a `Clip`."""
    limits = limits or ClipLimits()
    source = source or (str(Path(paths[0]).parent) if paths else "an empty frame list")
    if len(paths) > limits.max_frames:
        raise ClipError(
            f"{source} has {len(paths)} frames, above the limit of {limits.max_frames}; "
            "select the expression window or raise ClipLimits.max_frames"
        )
    notes: list[str] = []
    frames = _FrameStack(len(paths))
    for p in paths:
        _append_downscaled(frames, read_image(p), limits, notes)
    return frames.finish(fps, source, notes)


def _append_downscaled(frames: _FrameStack, image: np.ndarray, limits: ClipLimits, notes: list[str]) -> None:
    small = _downscale(image, limits.max_long_side)
    if small is not image and not notes:
        notes.append(f"frames downscaled to a long side of {limits.max_long_side} px")
    frames.append(small)


def list_frame_files(folder: str | Path) -> list[Path]:
    """Image files of a folder (not recursive) in natural order; hidden files are skipped."""
    folder = Path(folder)
    files = [
        p for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
    ]
    return sorted(files, key=lambda p: natural_key(p.name))


def read_folder(folder: str | Path, *, fps: float | None = None, limits: ClipLimits | None = None) -> Clip:
    """A folder of frames (jpg, png, bmp, ...) in natural order."""
    folder = Path(folder)
    files = list_frame_files(folder)
    if not files:
        raise ClipError(f"the folder {folder} holds no image frames (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
    return read_frames(files, fps=fps or DEFAULT_FOLDER_FPS, limits=limits, source=str(folder))


def _read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, limit: int, zip_name: str) -> bytes:
    """One member's bytes, read in chunks and refused as soon as they pass its declared size or `limit`."""
    buffer = bytearray()
    with archive.open(member) as stream:
        while chunk := stream.read(1 << 20):
            buffer += chunk
            if len(buffer) > min(member.file_size, limit):
                raise ClipError(f"the zip {zip_name} is corrupt or a zip bomb: {member.filename} unpacks to more "
                                f"than its declared {member.file_size} bytes")
    return bytes(buffer)


def read_zip(path: str | Path, *, fps: float | None = None, limits: ClipLimits | None = None) -> Clip:
    """A zip of frames (natural order; they may sit in one sub-folder), unpacked as a stream.

    Every member is checked by its declared size before anything is unpacked (each at most
    `limits.max_member_bytes`, all together at most `limits.max_unpacked_bytes`) and by its actual size while
    it is read; each frame is decoded from memory as soon as it is read, so nothing is written to disk and
    memory holds the clip plus one member.  Errors name the zip and the member, never a temporary file.
    """
    limits = limits or ClipLimits()
    path = Path(path)
    _check_file_size(path, limits)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        raise ClipError(f"{path.name} is not a valid zip archive") from exc
    with archive:
        members = [
            m for m in archive.infolist()
            if not m.is_dir() and Path(m.filename).suffix.lower() in IMAGE_SUFFIXES
            and not Path(m.filename).name.startswith(".") and "__MACOSX" not in m.filename
        ]
        if not members:
            raise ClipError(f"the zip {path.name} holds no image frames")
        folders = {str(Path(m.filename).parent) for m in members}
        if len(folders) > 1:
            raise ClipError(
                f"the zip {path.name} holds frames in {len(folders)} folders ({', '.join(sorted(folders)[:3])}...); "
                "zip one clip per archive"
            )
        if len(members) > limits.max_frames:
            raise ClipError(f"the zip {path.name} holds {len(members)} frames, above the limit of {limits.max_frames}")
        biggest = max(members, key=lambda m: m.file_size)
        if biggest.file_size > limits.max_member_bytes:
            raise ClipError(
                f"the zip {path.name} holds {biggest.filename}, which unpacks to {biggest.file_size / 2**20:.0f} MB, "
                f"above the {limits.max_member_bytes / 2**20:.1f} MB a frame may take; is it a zip bomb?"
            )
        unpacked = sum(m.file_size for m in members)
        if unpacked > limits.max_unpacked_bytes:
            raise ClipError(
                f"the zip {path.name} unpacks to {unpacked / 2**20:.0f} MB, above the "
                f"{limits.max_unpacked_bytes / 2**20:.0f} MB that {limits.max_frames} frames may take"
            )
        members.sort(key=lambda m: natural_key(Path(m.filename).name))
        notes: list[str] = []
        frames = _FrameStack(len(members))
        for m in members:
            try:
                data = _read_member(archive, m, limits.max_member_bytes, path.name)
            except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, OSError,
                    EOFError) as exc:  # bad CRC, unsupported compression or encryption, truncated archive
                raise ClipError(f"the zip {path.name} could not be unpacked at {m.filename}: {exc}") from exc
            raw = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED) if data else None
            del data
            _append_downscaled(frames, _decode(raw, f"{m.filename} in the zip {path.name}"), limits, notes)
        return frames.finish(fps or DEFAULT_FOLDER_FPS, str(path), notes)


def iter_clip_frames(source: str | Path, limits: ClipLimits | None = None) -> Iterator[np.ndarray]:
    """Frames of a video file or frame folder one at a time (RGB uint8), for constant-memory work."""
    limits = limits or ClipLimits()
    path = Path(source)
    if path.is_dir():
        files = list_frame_files(path)
        if not files:
            raise ClipError(f"the folder {path} holds no image frames")
        if len(files) > limits.max_frames:
            raise ClipError(f"{path} has {len(files)} frames, above the limit of {limits.max_frames}")
        return (_downscale(read_image(f), limits.max_long_side) for f in files)
    if not path.is_file():
        raise ClipError(f"{path} does not exist")
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise ClipError(f"{path.name} cannot be streamed: give a video file or a folder of frames")
    _check_file_size(path, limits)
    return iter_video_frames(path, limits)


def read_clip(source: str | Path, *, fps: float | None = None, limits: ClipLimits | None = None) -> Clip:
    """Read a clip from a video file, a folder of frames or a zip of frames.

    Args:
        source: path to the clip.
        fps: frame rate; overrides the container's. Folders and zips default to 200 fps (CASME II).
        limits: `ClipLimits`; defaults keep memory bounded (2000 frames, long side 1280 px, 500 MB files).

    Raises:
        ClipError: with a sentence for the user, for anything that is not a readable clip of >= 2 frames.
    """
    path = Path(source)
    if not path.exists():
        raise ClipError(f"{path} does not exist")
    if path.is_dir():
        return read_folder(path, fps=fps, limits=limits)
    suffix = path.suffix.lower()
    if suffix == ".zip":
        return read_zip(path, fps=fps, limits=limits)
    if suffix in IMAGE_SUFFIXES:
        raise ClipError(f"{path.name} is a single image; a dynamic image needs a clip of at least 2 frames")
    if suffix not in VIDEO_SUFFIXES:
        raise ClipError(
            f"{path.name} is not a supported clip: give a video ({', '.join(sorted(VIDEO_SUFFIXES))}), "
            "a folder of frames or a zip of frames"
        )
    return read_video(path, fps=fps, limits=limits)


def write_video(path: str | Path, frames: np.ndarray, fps: float) -> Path:
    """Write RGB uint8 frames (T, H, W, 3) as a video.

    ``.mp4`` is H.264 (browser-playable) when imageio-ffmpeg is installed, else MPEG-4 part 2 through
    OpenCV; ``.webm`` is VP8 and ``.avi`` MJPG, both through OpenCV.
    """
    path = Path(path)
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be (T, H, W, 3) uint8, got {frames.shape} {frames.dtype}")
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = frames.shape[1:3]
    if path.suffix.lower() == ".mp4":
        try:
            import imageio_ffmpeg
        except ImportError:
            imageio_ffmpeg = None
        if imageio_ffmpeg is not None and h % 2 == 0 and w % 2 == 0:
            writer = imageio_ffmpeg.write_frames(
                str(path), (w, h), fps=fps, codec="libx264", pix_fmt_out="yuv420p", macro_block_size=1,
                output_params=["-crf", "18", "-fflags", "+bitexact", "-map_metadata", "-1"],
            )
            writer.send(None)
            for frame in frames:
                writer.send(np.ascontiguousarray(frame).tobytes())
            writer.close()
            return path
    fourcc = {".mp4": "mp4v", ".webm": "VP80", ".avi": "MJPG", ".mkv": "MJPG"}.get(path.suffix.lower())
    if fourcc is None:
        raise ValueError(f"cannot write {path.suffix} videos; use .mp4, .webm or .avi")
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), float(fps), (w, h))
    if not writer.isOpened():
        raise OSError(f"OpenCV could not open a {fourcc} writer for {path}")
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


# --------------------------------------------------------------------------------------------------------
# Browser previews: what a <video> element can play


BROWSER_CODECS = {".mp4": {"h264", "av1"}, ".m4v": {"h264"}, ".webm": {"vp8", "vp9", "av1"}}


def ffmpeg_exe() -> str:
    """The ffmpeg bundled with imageio-ffmpeg (a requirement), so nothing depends on the system's."""
    try:
        import imageio_ffmpeg
    except ImportError as exc:
        raise ClipError("previewing this video needs imageio-ffmpeg (pip install imageio-ffmpeg)") from exc
    return imageio_ffmpeg.get_ffmpeg_exe()


def video_stream_info(path: str | Path) -> dict[str, str]:
    """Codec and pixel format of a video's first video stream, as ffmpeg names them ({} if it has none)."""
    done = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)], capture_output=True,
                          text=True, errors="replace", timeout=60)
    match = re.search(r"Stream #\S+.*?: Video: (\w+)[^,]*(?:, (\w+))?", done.stderr)
    if not match:
        return {}
    return {"codec": match.group(1), "pix_fmt": match.group(2) or ""}


def is_browser_playable(path: str | Path) -> bool:
    """True for what every current browser plays: H.264 (4:2:0) or AV1 in mp4, VP8/VP9/AV1 in webm.

    Phones and cameras also write mp4v (MPEG-4 part 2), HEVC, MJPEG in AVI and QuickTime .mov; a browser shows
    "Video not playable" for those."""
    path = Path(path)
    info = video_stream_info(path)
    codecs = BROWSER_CODECS.get(path.suffix.lower(), set())
    return info.get("codec") in codecs and (info["codec"] != "h264" or info["pix_fmt"] in ("yuv420p", "yuvj420p"))


def transcode_for_browser(source: str | Path, target: str | Path, *, max_long_side: int = 1280,
                          timeout: float = 300) -> Path:
    """Write `source` as a browser-playable H.264 mp4 at `target`: upright (the rotation applied), the same
    timestamps (a variable frame rate stays variable), at most `max_long_side` px, no audio.

    For display only: analysis reads the original file, never this lossy copy.
    """
    source, target = Path(source), Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    scale = (f"scale='if(gt(iw,ih),min(iw,{max_long_side}),-2)':'if(gt(iw,ih),-2,min(ih,{max_long_side}))',"
             "scale=trunc(iw/2)*2:trunc(ih/2)*2:out_range=tv")  # even sides for 4:2:0; limited range
    tmp = target.with_name(f".{target.stem}.{os.getpid()}.mp4")
    cmd = [ffmpeg_exe(), "-y", "-v", "error", "-nostdin", "-i", str(source), "-map", "0:v:0", "-an",
           "-vf", scale, "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
           "-fps_mode", "passthrough", "-movflags", "+faststart", str(tmp)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=timeout)
    except subprocess.TimeoutExpired:
        tmp.unlink(missing_ok=True)
        raise ClipError(f"{source.name} could not be converted for preview within {timeout:.0f} s") from None
    if done.returncode != 0 or not tmp.is_file() or tmp.stat().st_size == 0:
        tmp.unlink(missing_ok=True)
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ClipError(f"{source.name} could not be converted for preview: {last}")
    os.replace(tmp, target)
    return target
