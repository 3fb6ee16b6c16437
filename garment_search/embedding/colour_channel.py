"""Colour channel: the colours a query names, matched against the colours of each photo's garment pixels.

Shoppers name colours in most queries ("fuchsia tunic", "navy blue shirt"), and colour is exactly what the
background removal makes measurable: with the backdrop black, a photo's remaining pixels are the garment's. The
image towers (small, 128 px, trained from scratch) see colour only through their embedding; this channel adds
the measured answer. A product's score for a query becomes

    cosine(text, photo) + COLOUR_WEIGHT × mean over the query's colours of the share of the garment in that colour

(``garment_search.colours``: ``colour_profile`` per photo, ``query_colours`` per query). It is folded into the
vectors — the photo side appends ``COLOUR_WEIGHT × profile``, the query side its colour weights — so the index,
``ProductIndex`` and every evaluation rank with the one dot product they already use, and a query that names no
colour ranks exactly as before. The weight is part of the identity, so an index is only queried with the channel
it was built with.
"""

from __future__ import annotations

import os
from typing import Protocol, Sequence

import numpy as np
from PIL import Image

from garment_search.colours import COLOURS, colour_profile, query_colours

#: Served weight of the colour channel (``COLOUR_WEIGHT``; 0 turns it off). Chosen on the held-out sets, not the
#: catalogue (docs/benchmarks.md, "Colour channel").
DEFAULT_COLOUR_WEIGHT = 0.05


class Encoder(Protocol):
    """What the channel wraps: a text encoder (search), which for the index builder also encodes images."""

    identity: str

    def encode_text(self, text: str) -> np.ndarray: ...


def colour_weight() -> float:
    """``COLOUR_WEIGHT`` from the environment (a number ≥ 0), else the served default."""
    raw = os.environ.get("COLOUR_WEIGHT", "").strip()
    try:
        weight = float(raw) if raw else DEFAULT_COLOUR_WEIGHT
    except ValueError:
        weight = float("nan")
    if not weight >= 0:  # also NaN and words
        raise ValueError(f"COLOUR_WEIGHT must be a number >= 0, not {raw!r}.")
    return weight


class ColourChannel:
    """An embedder (image + text, or text alone for search) with the colour channel appended to its vectors."""

    def __init__(self, inner: Encoder, weight: float) -> None:
        self.inner, self.weight = inner, float(weight)

    @property
    def identity(self) -> str:
        return f"{self.inner.identity}+colour{self.weight:g}"

    def load(self) -> "ColourChannel":
        self.inner.load()
        return self

    def encode_images(self, images: Sequence[Image.Image], batch_size: int = 32) -> np.ndarray:
        vectors = self.inner.encode_images(images, batch_size=batch_size)
        profiles = np.stack([colour_profile(im) for im in images]) if len(images) else np.zeros((0, len(COLOURS)))
        return np.hstack([vectors, self.weight * profiles]).astype(np.float32)

    def encode_text(self, text: str) -> np.ndarray:
        return np.concatenate([self.inner.encode_text(text), query_colours(text)]).astype(np.float32)


def with_colour(embedder, weight: float | None = None):
    """``embedder`` with the colour channel at ``weight`` (default ``colour_weight()``); unchanged at 0."""
    weight = colour_weight() if weight is None else weight
    return ColourChannel(embedder, weight) if weight > 0 else embedder
