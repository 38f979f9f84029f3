"""Stable names for what training writes: short hashes of settings and samples, file-safe slugs."""
from __future__ import annotations

import hashlib
import json
import re


def short_hash(obj) -> str:
    """16 hex digits of the SHA-256 of `obj` as sorted JSON: the same settings give the same name anywhere."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def slug(text: str) -> str:
    """`text` with every run of characters unsafe in a file name replaced by `_` ("x" if nothing is left)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "x"

