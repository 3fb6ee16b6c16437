"""Sleeve length of a worn top from CCP's pixel labels: where the arm's bare skin shows beside the garment.

CCP labels skin but not sleeves. A person's arm hangs from the shoulder (~0.18 of their height below the top of the
head) to the wrist (~0.5): bare skin *beside* the top garments (left or right of the garment in that row) in the
upper-arm band means no sleeve, in the forearm band only means a short sleeve, in neither a long sleeve. Poses
(arms crossed, hands in pockets, bags) make some photos ambiguous; those get no label rather than a guess.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from garment_search.segmentation.groups import PRODUCT_FAMILIES
from garment_search.sleeves import SLEEVES
from training.segmentation.data import ccp_label_ids, ccp_label_names, label_group

UNKNOWN = -1
#: Bands of the person's height (from the top of the head) where the upper arm and the forearm hang.
UPPER_ARM, FOREARM = (0.22, 0.33), (0.40, 0.48)
#: Share of a band's garment rows with bare skin beside the garment: at least ``SHOWS`` means the arm shows there,
#: below ``HIDDEN`` (upper arm) / ``FOREARM_HIDDEN`` that it is covered; in between is ambiguous.
SHOWS, HIDDEN, FOREARM_HIDDEN = 0.5, 0.2, 0.1
MIN_TOP_SHARE = 0.02  # tops covering less of the photo are not judged


class SleeveLabeller:
    """Labels a CCP label map with a sleeve length (index into ``SLEEVES``) or ``UNKNOWN``."""

    def __init__(self, tops: list[int], skin: list[int]) -> None:
        self.tops, self.skin = tops, skin

    @classmethod
    def for_ccp(cls, ccp_root: Path) -> "SleeveLabeller":
        """Tops = CCP's labels of the top family (upper and one-piece groups)."""
        return cls([i for i, name in ccp_label_names(ccp_root).items() if label_group(name) in PRODUCT_FAMILIES[0]],
                   ccp_label_ids(ccp_root, ("skin",)))

    def bare_arm_shares(self, labels: np.ndarray) -> tuple[float, float] | None:
        """Share of the upper-arm and forearm bands' garment rows that have bare skin beside the top garments."""
        rows = np.flatnonzero((labels != 0).any(axis=1))
        top = np.isin(labels, self.tops)
        if not len(rows) or top.mean() < MIN_TOP_SHARE:
            return None
        head, height = rows[0], rows[-1] - rows[0]
        skin = np.isin(labels, self.skin)
        enough = max(3, int(0.006 * labels.shape[1]))  # skin pixels that make an arm, not a stray edge

        def share(band: tuple[float, float]) -> float | None:
            hits = counted = 0
            for r in range(int(head + band[0] * height), int(head + band[1] * height)):
                cols = np.flatnonzero(top[r])
                if not len(cols):
                    continue
                bare = np.flatnonzero(skin[r])
                counted += 1
                hits += int(((bare < cols[0]) | (bare > cols[-1])).sum() >= enough)
            return hits / counted if counted else None

        upper, fore = share(UPPER_ARM), share(FOREARM)
        return None if upper is None or fore is None else (upper, fore)

    def __call__(self, labels: np.ndarray) -> int:
        shares = self.bare_arm_shares(labels)
        if shares is None:
            return UNKNOWN
        upper, fore = shares
        if upper >= SHOWS:
            return SLEEVES.index("sleeveless")
        if upper < HIDDEN and fore >= SHOWS:
            return SLEEVES.index("short")
        if upper < HIDDEN and fore < FOREARM_HIDDEN:
            return SLEEVES.index("long")
        return UNKNOWN
