"""Querybank normalisation: a photo that is close to every query is pulled down for all of them.

In a shared text–image space some photos are "hubs": near the centre of many texts (a pale, plain close-up), they
come up for queries they do not answer and push the right products down. QB-Norm / CSLS corrects a photo's score
by how close it already is to queries in general:

    score(query, photo) = similarity(query, photo) − weight × r(photo)

with r(photo) the mean of the photo's ``QUERYBANK_TOP`` highest similarities (as search scores, measured channels
included) to a fixed bank of caption-style queries (``bank_texts``: every measured colour name × every caption
noun × three templates). The correction is folded into the vectors as one more column — the photo side appends
−weight × r, the query side 1 — so the index, ``ProductIndex`` and every evaluation rank with the dot product they
already use, and search needs no bank (only the index builder computes r). The weight is part of the identity.
Chosen on the held-out sets with the served towers (docs/benchmarks.md, "Querybank normalisation").
"""

from __future__ import annotations

import threading
from typing import Sequence

import numpy as np
from PIL import Image

from garment_search.colours import COLOUR_NAMES
from garment_search.embedding.measured_channels import Encoder, env_weight, with_measured_channels
from garment_search.garment_nouns import NOUNS

#: Served weight (environment ``QUERYBANK_WEIGHT``; 0 turns it off).
DEFAULT_QUERYBANK_WEIGHT = 0.5
#: How many of a photo's nearest bank queries measure how central it is.
QUERYBANK_TOP = 10
QUERYBANK_TEMPLATES = ("a photo of a {colour} {noun}", "women's {colour} {noun}", "{noun} in {colour}")

_banks: dict[str, np.ndarray] = {}
_lock = threading.Lock()


def bank_texts() -> list[str]:
    """The fixed bank: each template for every colour name and every caption noun (3,762 texts)."""
    nouns = sorted({noun for words in NOUNS.values() for noun in words})
    return [t.format(colour=c, noun=n) for c in COLOUR_NAMES for n in nouns for t in QUERYBANK_TEMPLATES]


def querybank_weight() -> float:
    """``QUERYBANK_WEIGHT`` (a number ≥ 0), else the served default."""
    return env_weight("QUERYBANK_WEIGHT", DEFAULT_QUERYBANK_WEIGHT)


class QueryBankNormalised:
    """An embedder (image + text, or text alone for search) whose photo vectors carry the querybank correction."""

    def __init__(self, inner: Encoder, weight: float) -> None:
        self.inner, self.weight = inner, float(weight)

    @property
    def identity(self) -> str:
        return f"{self.inner.identity}+qb{self.weight:g}"

    @property
    def weights(self) -> dict[str, float]:
        """The measured channels' weights (the columns before the querybank's)."""
        return getattr(self.inner, "weights", {})

    def load(self) -> "QueryBankNormalised":
        self.inner.load()
        return self

    def bank(self) -> np.ndarray:
        """The bank's query vectors, built once per process and scoring identity (the index builder's one-off
        cost); the model's own text vectors are cached by the model (``Embedder.text_cache_size``), so another
        channel weighting of the same model only appends its columns."""
        key = self.inner.identity
        with _lock:
            if key not in _banks:
                _banks[key] = np.stack([self.inner.encode_text(t) for t in bank_texts()]).astype(np.float32)
            return _banks[key]

    def centrality(self, vectors: np.ndarray) -> np.ndarray:
        """r: each photo vector's mean similarity to its ``QUERYBANK_TOP`` nearest bank queries."""
        if len(vectors) == 0:
            return np.zeros(0, np.float32)
        sims = vectors @ self.bank().T
        return np.partition(sims, -QUERYBANK_TOP, axis=1)[:, -QUERYBANK_TOP:].mean(axis=1)

    def encode_images(self, images: Sequence[Image.Image], batch_size: int = 32) -> np.ndarray:
        vectors = self.inner.encode_images(images, batch_size=batch_size)
        return np.hstack([vectors, -self.weight * self.centrality(vectors)[:, None]]).astype(np.float32)

    def encode_text(self, text: str) -> np.ndarray:
        return np.concatenate([self.inner.encode_text(text), [1.0]]).astype(np.float32)


def with_querybank(embedder, weight: float | None = None):
    """``embedder`` with querybank normalisation at ``weight`` (default: the served one); at 0, unchanged."""
    weight = querybank_weight() if weight is None else weight
    return QueryBankNormalised(embedder, weight) if weight > 0 else embedder


def base_encoder(embedder):
    """The model under the scoring wrappers (querybank, measured channels): what actually encodes text."""
    while hasattr(embedder, "inner"):
        embedder = embedder.inner
    return embedder


def as_served(embedder, colour: float | None = None, pattern: float | None = None, family: float | None = None,
              sleeve: float | None = None, querybank: float | None = None, length: float | None = None):
    """``embedder`` scoring as search serves it: measured channels (``with_measured_channels``), then querybank
    normalisation; any weight not given is the served one."""
    return with_querybank(with_measured_channels(embedder, colour, pattern, family, sleeve, length), querybank)
