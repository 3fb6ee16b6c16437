"""Whole-garment decisions: pool the group split over colour-coherent regions of the garment.

The group networks decide per pixel which group a garment pixel belongs to, and their errors are whole-garment
decisions made piecemeal: a dress read as a top over a skirt (its bodice "upper", its skirt "lower", "one-piece"
second everywhere), a skirt half read as a dress. Pixels of one garment mostly share a colour, so the split is
averaged over each colour-coherent region of the garment: where the network hesitates between two groups on two
halves of a plain dress but puts steady weight on "one-piece" across both, the region takes "one-piece".

    probs = pool_split_over_regions(probs, rgb, RegionPooling(clusters=8, weight=1.0))

Regions: the garment pixels (background probability < 0.5) of the photo shrunk to the map's size, clustered by
k-means on their CIELab colour, each cluster cut into 8-connected components. The background channel, and
therefore every garment-versus-rest decision, is untouched.

remove_bg pools (``SPLIT_REGIONS``, default 4 colours at weight 0.5) and picks ``keep=product``'s family on the maps
before pooling (``GarmentSession.maps``): pooled maps mend the product's pixels and every group's, but pooled
picks flipped the family on two validation photos of 100 (stop 25). Index builds do not pool (``INDEX_SPLIT_REGIONS``,
off): the served embedding towers were trained on un-pooled cut-outs, and pooled ones cost the search judges
(docs/benchmarks.md, "Pooled pixels, plain pick (stop 31)").
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from garment_search.config import env_numbers

#: k-means rounds: colours settle in a few; more changes no region.
KMEANS_ROUNDS = 10
#: k-means learns its centres from at most this many garment pixels (evenly strided), then labels every pixel:
#: a photo's few garment colours are as clear in 4,096 pixels as in 76,800, at a twentieth of the cost.
KMEANS_SAMPLE = 4096


@dataclass(frozen=True)
class RegionPooling:
    """``clusters`` colours per photo; ``weight`` of the region's mean split against the pixel's own (1: the
    region decides alone)."""

    clusters: int
    weight: float

    @property
    def tag(self) -> str:
        """Short identity for index files (``+regions4x0.5p``; a whole weight drops its ".0": ``+regions8x1p``); the
        ``p`` says ``keep=product``'s family is picked on the maps before pooling (stop 31; stop 25's pooling picked
        on the pooled maps and was never served)."""
        return f"+regions{self.clusters}x{self.weight:g}p"

    @classmethod
    def from_env(cls, variable: str = "SPLIT_REGIONS", default: RegionPooling | None = None) -> RegionPooling | None:
        """``SPLIT_REGIONS=K,W`` (e.g. ``8,1``) or ``INDEX_SPLIT_REGIONS``; ``default`` when unset or empty, ``0`` or
        ``off`` turns pooling off."""
        if not os.environ.get(variable, "").strip():
            return default
        values = env_numbers(variable, (int, float), "'K,W' (clusters, weight)", "8,1",
                             valid=lambda k, w: k >= 1 and 0.0 <= w <= 1.0, needs="K ≥ 1 and 0 ≤ W ≤ 1")
        return cls(*values) if values else None


def nearest_centre(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Index of the nearest of ``centres`` for each row of ``points`` (|x − c|² less the |x|² all share)."""
    return ((centres * centres).sum(1)[None] - 2.0 * points @ centres.T).argmin(1)


def kmeans_labels(points: np.ndarray, clusters: int, rounds: int = KMEANS_ROUNDS) -> np.ndarray:
    """Cluster index of each row of ``points`` (N×D float32). Deterministic: centres are learnt on an even stride
    of at most ``KMEANS_SAMPLE`` points, the first centre the point nearest their mean, each next one the point
    farthest from the centres so far (a photo's distinct colours all get one)."""
    sample = points[::max(1, len(points) // KMEANS_SAMPLE)]
    centres = [sample[np.argmin(((sample - sample.mean(0)) ** 2).sum(1))]]
    farthest = ((sample - centres[0]) ** 2).sum(1)
    for _ in range(1, min(clusters, len(sample))):
        centres.append(sample[np.argmax(farthest)])
        farthest = np.minimum(farthest, ((sample - centres[-1]) ** 2).sum(1))
    centre = np.stack(centres)
    labels = None
    for _ in range(rounds):
        new = nearest_centre(sample, centre)
        if labels is not None and np.array_equal(new, labels):
            break
        labels = new
        for k in range(len(centre)):
            members = sample[labels == k]
            if len(members):
                centre[k] = members.mean(0)
    return nearest_centre(points, centre)


def colour_regions(rgb: np.ndarray, garment: np.ndarray, clusters: int) -> np.ndarray:
    """Region id (1…) of each garment pixel, 0 elsewhere; ``rgb`` is already at the mask's size."""
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32)
    cluster = np.full(garment.shape, -1, dtype=np.int64)
    cluster[garment] = kmeans_labels(lab[garment], clusters)
    regions = np.zeros(garment.shape, dtype=np.int32)
    offset = 0
    for k in range(clusters):
        n, parts = cv2.connectedComponents((cluster == k).astype(np.uint8), connectivity=8)
        regions[parts > 0] = parts[parts > 0] + offset
        offset += n - 1
    return regions


def pool_split_over_regions(probs: np.ndarray, rgb: Image.Image | np.ndarray, pooling: RegionPooling) -> np.ndarray:
    """``probs`` (background + groups, h×w) with each garment pixel's group split moved towards its colour region's
    mean split (weighted by garment probability); background probabilities unchanged."""
    if len(probs) < 3 or pooling.weight == 0:
        return probs
    background = probs[0]
    garment = background < 0.5
    if garment.sum() < pooling.clusters:
        return probs
    height, width = background.shape
    small = cv2.resize(np.asarray(rgb.convert("RGB") if isinstance(rgb, Image.Image) else rgb), (width, height),
                       interpolation=cv2.INTER_AREA)
    regions = colour_regions(small, garment, pooling.clusters)
    share = np.clip(1.0 - background, 1e-6, None)
    split = probs[1:] / share
    ids, weights = regions[garment], share[garment]
    totals = np.bincount(ids, weights=weights)
    means = np.stack([np.bincount(ids, weights=weights * s[garment]) / np.maximum(totals, 1e-12) for s in split])
    out = probs.copy()
    pooled = (1.0 - pooling.weight) * split[:, garment] + pooling.weight * means[:, ids]
    out[1:, garment] = (share[garment] * pooled).astype(np.float32)
    return out
