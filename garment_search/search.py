"""Rank products for a text query: cosine similarity to each photo, a product scores its best photo.

Loaded once per process; safe under concurrent requests (read-only arrays, a locked LRU of query vectors).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from garment_search.feedback import QueryFeedback, photo_scores
from garment_search.index_file import IndexFile, InvalidIndex
from garment_search.lru import LruCache


class TextEncoder(Protocol):
    """What search needs of a model: the identity its index was built with, and query vectors."""

    identity: str

    def encode_text(self, text: str) -> np.ndarray: ...


@dataclass(frozen=True)
class Hit:
    product_name: str
    url: str
    score: float

    def to_json(self) -> dict:
        return {"product_name": self.product_name, "url": self.url, "score": self.score}


def _ranked_rows(index: IndexFile) -> list[int]:
    """Rows that represent their product in rankings.

    A photo without any garment (a size chart, a label close-up) is not a picture of the product: embedded as
    is, it matches many queries a little and, since a product scores its best photo, lifts its product for
    all of them. Such rows are left out whenever the product has a photo with a garment; a product with none
    keeps them, so every product stays findable.
    """
    no_garment = index.no_garment or [False] * len(index)
    with_garment = {p for p, flag in zip(index.products, no_garment) if not flag}
    return [i for i in range(len(index)) if not no_garment[i] or index.products[i] not in with_garment]


class ProductIndex:
    """Index rows grouped by product so a query costs one matrix-vector product and one segmented max."""

    def __init__(self, index: IndexFile) -> None:
        if len(index) == 0:
            raise InvalidIndex("the index has no photos")
        order = sorted(_ranked_rows(index), key=lambda i: (index.products[i], index.paths[i]))
        self.embeddings = np.ascontiguousarray(index.embeddings[order], dtype=np.float32)
        products = [index.products[i] for i in order]
        self.paths = [index.paths[i] for i in order]
        self.starts = np.array([i for i in range(len(products)) if i == 0 or products[i] != products[i - 1]])
        self.names = [products[i] for i in self.starts]
        self.model = index.model

    def __len__(self) -> int:
        return len(self.names)

    def top(self, query: np.ndarray, n: int, feedback: QueryFeedback | None = None) -> list[Hit]:
        """The ``n`` best products, score descending, ties by product name; ``feedback``: query feedback over the
        index's photos (``garment_search.feedback``), off when None."""
        sims = photo_scores(self.embeddings, query.astype(np.float32), feedback)
        best = np.maximum.reduceat(sims, self.starts)
        n = min(n, len(best))
        rounded = np.round(best.astype(np.float64), 4)
        if n < len(best):  # shortlist: everything scoring at least the n-th best (ties kept for the name order)
            cut = np.partition(rounded, len(best) - n)[len(best) - n]
            candidates = np.nonzero(rounded >= cut)[0]
        else:
            candidates = np.arange(len(best))
        ranked = sorted(candidates, key=lambda p: (-rounded[p], self.names[p]))[:n]
        hits = []
        for p in ranked:
            stop = self.starts[p + 1] if p + 1 < len(self.starts) else len(sims)
            row = self.starts[p] + int(np.argmax(sims[self.starts[p]:stop]))
            hits.append(Hit(self.names[p], self.paths[row], float(rounded[p])))
        return hits


class Searcher:
    """Text query → products, with an LRU cache of query embeddings."""

    def __init__(self, index: IndexFile, embedder: TextEncoder, cache_size: int = 1024,
                 feedback: QueryFeedback | None = None) -> None:
        if index.model != embedder.identity:
            raise InvalidIndex(f"the index was built with {index.model}, not the configured model {embedder.identity}")
        self.products = ProductIndex(index)
        self.embedder = embedder
        self.feedback = feedback
        self._cache: LruCache[str, np.ndarray] = LruCache(cache_size)

    def query_vector(self, text: str) -> np.ndarray:
        return self._cache.get(text, self.embedder.encode_text)

    def search(self, text: str, n: int) -> list[Hit]:
        return self.products.top(self.query_vector(text), n, self.feedback)
