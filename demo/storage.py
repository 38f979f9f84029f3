"""What the page keeps on disk: output images under names of their own, and a quota on every file it holds.

Images: Gradio saves an image array returned by a handler under a path made of a hash of its bytes, and
rewrites that file in place when another request returns the same picture, while a client may still be
downloading it (a truncated download).  Handing Gradio PNG files under unique names avoids that: it copies a
file into its cache under a fresh temporary name and renames it into place.

Quota: uploads (up to the upload limit each, from anyone) and results would otherwise pile up until
`delete_cache` ages them out.  `DiskQuota.sweep` deletes files older than the age limit, then the oldest
files until the total is under the quota.  It only touches files this app created: its own folders and the
files Gradio recorded for this app (uploads and cached outputs), never the cached examples.
"""
from __future__ import annotations

import logging
import os
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

log = logging.getLogger("learnet.demo")


def write_png(image: np.ndarray, folder: Path) -> str:
    """An RGB(A) or grey uint8 image as a PNG under a name no other request uses; returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}.png"
    if image.ndim == 3 and image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    elif image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_RGBA2BGRA)
    # Fast compression: these are small pictures the page waits for.
    if not cv2.imwrite(str(path), np.ascontiguousarray(image), [cv2.IMWRITE_PNG_COMPRESSION, 1]):
        raise OSError(f"could not write {path.name}")
    return str(path)


def images_as_files(outputs: Iterable[Any], folder: Path) -> tuple:
    """Handler outputs with every image array (alone, or in a gallery's (image, caption) pairs) replaced by
    the path of a PNG written by `write_png`; other values unchanged."""
    def convert(value: Any) -> Any:
        if isinstance(value, np.ndarray) and value.dtype == np.uint8 and value.ndim in (2, 3):
            return write_png(value, folder)
        if isinstance(value, list) and value and all(isinstance(v, tuple) and len(v) == 2 for v in value):
            return [(convert(image), caption) for image, caption in value]
        return value

    return tuple(convert(v) for v in outputs)


@dataclass
class SweepResult:
    """One sweep: files and bytes found, and how many of them were deleted."""

    files: int = 0
    bytes: int = 0
    deleted: int = 0
    freed: int = 0


class DiskQuota:
    """Bounds the files of one app by age and total size, oldest deleted first.

    Args:
        max_bytes: quota for all files together (0: no size limit).
        max_age_s: files older than this are deleted (0: no age limit).
        folders: folders whose every file belongs to the app (the handlers' result folder).
        file_sets: returns the sets of file paths Gradio recorded for the app (uploads, cached outputs);
            deleted paths are removed from them.
        keep: returns paths never to delete (cached examples).
        min_interval_s: `sweep(force=False)` does nothing if the last sweep is more recent than this.
    """

    def __init__(self, max_bytes: int, max_age_s: float, folders: Iterable[Path] = (),
                 file_sets: Callable[[], list[set]] = list, keep: Callable[[], set] = set,
                 min_interval_s: float = 2.0):
        self.max_bytes = int(max_bytes)
        self.max_age_s = float(max_age_s)
        self.folders = [Path(f) for f in folders]
        self.file_sets = file_sets
        self.keep = keep
        self.min_interval_s = min_interval_s
        self._lock = threading.Lock()
        self._last = 0.0
        self.last = SweepResult()

    def _files(self) -> list[tuple[float, int, str, set | None]]:
        keep = self.keep()
        found: dict[str, tuple[float, int, str, set | None]] = {}
        for folder in self.folders:
            for root, _dirs, names in os.walk(folder):
                for name in names:
                    path = os.path.join(root, name)
                    try:
                        st = os.lstat(path)
                    except FileNotFoundError:
                        continue
                    found[path] = (st.st_mtime, st.st_size, path, None)
        for paths in self.file_sets():
            for path in list(paths):  # a copy: Gradio adds to these sets from its own threads
                if path in keep or path in found:
                    continue
                try:
                    st = os.lstat(path)
                except FileNotFoundError:
                    paths.discard(path)
                    continue
                found[path] = (st.st_mtime, st.st_size, path, paths)
        return sorted(found.values())

    def sweep(self, force: bool = True) -> SweepResult:
        """Delete files past the age limit, then the oldest until the total fits the quota."""
        now = time.time()
        if not force and now - self._last < self.min_interval_s:
            return self.last
        with self._lock:
            self._last = now
            files = self._files()
            total = sum(size for _, size, _, _ in files)
            result = SweepResult(files=len(files), bytes=total)
            for mtime, size, path, owner in files:
                too_old = self.max_age_s > 0 and now - mtime > self.max_age_s
                too_much = self.max_bytes > 0 and total > self.max_bytes
                if not (too_old or too_much):
                    break  # sorted oldest first: every later file is younger and the total fits
                try:
                    os.remove(path)
                except FileNotFoundError:
                    pass
                except OSError as exc:
                    log.warning("could not delete %s: %s", os.path.basename(path), exc)
                    continue
                if owner is not None:
                    owner.discard(path)
                total -= size
                result.deleted += 1
                result.freed += size
            for folder in self.folders:  # result folders emptied by the sweep
                for root, dirs, names in os.walk(folder, topdown=False):
                    if root != str(folder) and not dirs and not names:
                        try:
                            os.rmdir(root)
                        except OSError:
                            pass
            if result.deleted:
                log.info("disk quota: deleted %d file(s), %.1f MB; %.1f MB left in %d file(s)", result.deleted,
                         result.freed / 2**20, total / 2**20, result.files - result.deleted)
            self.last = result
            return result

    def start(self, interval_s: float, owner: Any, also: Callable[[], Any] | None = None) -> threading.Thread:
        """Sweep every `interval_s` seconds in a daemon thread for as long as `owner` (the page) exists;
        `also` runs after each sweep (the page hands freed memory back there too)."""
        ref = weakref.ref(owner)

        def loop() -> None:
            while ref() is not None:
                try:
                    self.sweep()
                    if also is not None:
                        also()
                except Exception:  # a sweep must never stop the sweeping
                    log.exception("disk quota sweep failed")
                time.sleep(interval_s)

        thread = threading.Thread(target=loop, name="learnet-disk-quota", daemon=True)
        thread.start()
        return thread
