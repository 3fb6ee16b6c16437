"""Model identities: a name plus a short hash of the weights, stored with every index so models never mix."""

from __future__ import annotations

import hashlib
from pathlib import Path


def file_digest(path: str | Path, length: int = 12) -> str:
    """Short sha256 of a weights file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:length]
