"""Query feedback (pseudo-relevance feedback): let the best-matching photos vote for the photos that look like them.

A small text tower gets the look of a query roughly right more often than it gets the very first photo right: the
few photos it ranks highest mostly share the look asked for, and photos of that look resemble each other more
closely (image to image) than any of them resembles the words. Average query expansion uses that:

    score(photo) = z(E q)[photo] + weight × z(E c)[photo],   c = mean of the ``top`` rows of E scoring highest

with E the collection's vectors (an index's photos, a judge's views), q the query's vector and z the scores
standardised over the collection (mean 0, sd 1) so that text-to-image and image-to-image similarities, which live
on different scales, are weighed by ``weight`` alone. z is monotone, so without feedback rankings are unchanged.
The vectors are the served ones (towers, measured channels, querybank column), so "looks like" includes the measured
colour and pattern. Search-side only: the index is the same with or without it. Environment ``QUERY_FEEDBACK=K,W``
(off when unset); chosen on the held-out judges, never the catalogue (docs/benchmarks.md, "Query feedback").
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from garment_search.config import parse_numbers


@dataclass(frozen=True)
class QueryFeedback:
    """Feedback from the ``top`` best-scoring rows, weighed ``weight`` against the query's own scores."""

    top: int
    weight: float

    @property
    def label(self) -> str:
        return f"fb{self.top}x{self.weight:g}"

    def scores(self, embeddings: np.ndarray, query: np.ndarray) -> np.ndarray:
        """Each row's score for ``query`` with the feedback of the collection's best-scoring rows."""
        direct = embeddings @ query
        if len(direct) == 0:
            return direct
        top = np.argpartition(-direct, min(self.top, len(direct)) - 1)[:self.top]
        centre = embeddings[top].mean(axis=0)
        return standardised(direct) + self.weight * standardised(embeddings @ centre)


def standardised(scores: np.ndarray) -> np.ndarray:
    """``scores`` shifted to mean 0 and scaled to sd 1 (only shifted when they are all equal)."""
    spread = scores.std()
    centred = scores - scores.mean()
    return centred / spread if spread > 0 else centred


def photo_scores(embeddings: np.ndarray, query: np.ndarray, feedback: QueryFeedback | None = None) -> np.ndarray:
    """The one way a query scores a collection's rows: the dot product, with ``feedback`` where it is on."""
    return embeddings @ query if feedback is None else feedback.scores(embeddings, query)


FEEDBACK_VARIABLE = "QUERY_FEEDBACK"


def query_feedback(raw: str | None = None, name: str = FEEDBACK_VARIABLE) -> QueryFeedback | None:
    """``raw`` (default: the environment's ``QUERY_FEEDBACK``) read as K,W (K best rows ≥ 1, weight W > 0); None
    when unset, ``0`` or ``off``. A bad value is a ValueError naming ``name``."""
    raw = os.environ.get(FEEDBACK_VARIABLE, "") if raw is None else raw
    values = parse_numbers(name, raw, (int, float), "'K,W' (best rows, weight)", "3,0.25",
                           lambda top, weight: top >= 1 and weight > 0, "K >= 1 and W > 0")
    return QueryFeedback(*values) if values else None
