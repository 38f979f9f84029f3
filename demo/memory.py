"""What the page keeps in memory: a least-recently-used cache bounded in bytes, and giving freed memory back.

The caches hold results (dynamic images, key frames, maps, motion curves: well under a megabyte per clip),
never decoded clips, which can take hundreds of megabytes; `SizedCache` counts the arrays an entry holds
and drops the oldest entries past its byte budget.  `release_memory` asks glibc to return freed heap pages
to the system after a clip was decoded: without it the process keeps its peak size for good.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import sys
import threading
from collections import OrderedDict
from typing import Any

import numpy as np
import torch


def nbytes(obj: Any, _seen: set[int] | None = None) -> int:
    """Bytes held by the arrays and tensors reachable from `obj` (dataclasses, dicts, lists, tuples), each
    counted once; other objects count a nominal 64 bytes.  An estimate for cache budgets, not an exact size."""
    seen = set() if _seen is None else _seen
    if isinstance(obj, np.ndarray):
        while isinstance(obj.base, np.ndarray):  # a view keeps its whole base alive: count the base, once
            obj = obj.base
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        return int(obj.nbytes)
    if isinstance(obj, torch.Tensor):
        return int(obj.untyped_storage().nbytes())
    if isinstance(obj, (str, bytes)):
        return len(obj)
    if isinstance(obj, dict):
        return 64 + sum(nbytes(k, seen) + nbytes(v, seen) for k, v in obj.items())
    if isinstance(obj, (list, tuple, set, frozenset)):
        return 64 + sum(nbytes(v, seen) for v in obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return 64 + sum(nbytes(getattr(obj, f.name), seen) for f in dataclasses.fields(obj))
    if isinstance(obj, torch.nn.Module):
        return 0  # models are shared, not owned by a cache entry
    return 64


class SizedCache:
    """A thread-safe LRU map whose entries together hold at most `max_bytes` (by `nbytes`).

    An entry larger than the whole budget is not kept at all.  `put` returns the number of entries dropped.
    """

    def __init__(self, max_bytes: int):
        self.max_bytes = int(max_bytes)
        self._items: OrderedDict[Any, tuple[Any, int]] = OrderedDict()
        self._lock = threading.Lock()
        self.bytes = 0

    def put(self, key: Any, value: Any) -> int:
        size = nbytes(value)
        dropped = 0
        with self._lock:
            if key in self._items:
                self.bytes -= self._items.pop(key)[1]
            if size <= self.max_bytes:
                self._items[key] = (value, size)
                self.bytes += size
            while self.bytes > self.max_bytes and self._items:
                self.bytes -= self._items.popitem(last=False)[1][1]
                dropped += 1
        return dropped

    def find(self, key: Any) -> Any:
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key][0]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: Any) -> bool:
        return key in self._items


def _libc() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "malloc_trim") else None  # glibc only (not musl)
    except OSError:
        return None


_LIBC = _libc()


M_ARENA_MAX = -8  # glibc mallopt parameter


def limit_arenas(arenas: int = 2) -> bool:
    """Cap glibc's malloc arenas (default: 8 per core).  Each thread that allocates may get its own arena,
    and an arena keeps the holes a freed clip leaves; Gradio serves requests from a pool of up to 40 threads,
    so without a cap the holes of many arenas add up.  Call once at start-up, before the threads exist."""
    if _LIBC is None:
        return False
    return bool(_LIBC.mallopt(M_ARENA_MAX, int(arenas)))


def release_memory() -> bool:
    """Return freed heap memory to the operating system (glibc's `malloc_trim`); False where unavailable.

    A decoded clip is hundreds of one-megabyte frames; once freed they leave holes in every thread's heap
    arena that glibc keeps for reuse, so the resident size would stay at its peak after the request.
    """
    if _LIBC is None:
        return False
    _LIBC.malloc_trim(0)
    return True
