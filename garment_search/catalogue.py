"""Where the shop's photos are and how a catalogue folder maps to products.

Photos are never committed: ``sample/`` in the checkout is used when it holds product folders, otherwise the
shared copy at ``../shared/sample`` (``SAMPLE_DIR`` overrides both).
"""

from __future__ import annotations

import os
from pathlib import Path

from garment_search.config import REPO_ROOT
from garment_search.images import IMAGE_SUFFIXES


def has_product_folders(path: Path) -> bool:
    return path.is_dir() and any(p.is_dir() and not p.name.startswith(".") for p in path.iterdir())


def sample_dir() -> Path:
    """The catalogue folder: ``$SAMPLE_DIR``, else ``sample/`` if it has product folders, else ``../shared/sample``."""
    if os.environ.get("SAMPLE_DIR"):
        return Path(os.environ["SAMPLE_DIR"])
    local = REPO_ROOT / "sample"
    return local if has_product_folders(local) else REPO_ROOT.parent / "shared" / "sample"


def product_photos(root: Path) -> dict[str, list[Path]]:
    """Product name (sub-folder name) → its image files, both sorted."""
    products: dict[str, list[Path]] = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        photos = sorted(f for f in folder.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file())
        if photos:
            products[folder.name] = photos
    return products
