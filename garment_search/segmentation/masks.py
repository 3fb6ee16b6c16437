"""From low-resolution class probabilities to a clean full-resolution keep-mask.

The model sees a ~256-pixel image; upscaling its map alone gives soft, blocky edges with a halo of backdrop.
A guided filter (He et al.) with the full-resolution photo as guide snaps the edge to the garment's own edge,
then specks are removed: small islands dropped, pin holes filled.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from garment_search.segmentation.groups import PRODUCT_FAMILIES

#: Revision of the rules below (how probabilities become masks). Part of the segmentation identity stored in
#: index files, so rows cut under older rules are re-embedded, not reused. 2: garment pixels go to their
#: likeliest group (``kept_probability``) instead of each group's probability ≥ 0.5; 3: the fast guided filter past
#: ``GUIDED_FILTER_MAX_SIDE``.
MASK_RULES = 3
#: A mask smaller than this share of the image means "no garment" (answer all black).
MIN_GARMENT_FRACTION = 0.005
#: Islands smaller than this share of the image, or of the largest island, are dropped.
MIN_ISLAND_FRACTION = 0.001
MIN_ISLAND_OF_LARGEST = 0.02
#: Background holes smaller than this share of the image are filled.
MAX_HOLE_FRACTION = 0.0005
#: A region whose mean garment probability is below this is a guess, not a garment (drawn figures on size
#: charts, patterned walls): dropped. Chosen on CCP validation photos with
#: ``python -m training.segmentation.confidence_sweep`` as the highest value that costs real garments nearly
#: nothing (IoU within 0.002, pixels kept within 0.001 of no gate; table in docs/benchmarks.md).
MIN_REGION_CONFIDENCE = 0.65
#: Photos longer than this (pixels) get the fast guided filter (``guided_filter``; smaller ones — every CCP and
#: clothing-small photo — the exact one): on the catalogue's 1185×1599 photos its masks agree with the exact filter's
#: at IoU 0.999 and the mask step takes 73 instead of 96 ms (docs/benchmarks.md, "remove_bg latency and cold start").
GUIDED_FILTER_MAX_SIDE = 900


def kept_classes(probs: np.ndarray, groups: tuple[str, ...], keep: str) -> list[int]:
    """Class channels to keep: ``garments`` = all, a group name = that group, ``product`` = the dominant family.

    The dominant family (``PRODUCT_FAMILIES``) is the one with the most pixels (argmax), ties going to the
    first (upper + one-piece). A model with one group (the person baseline) keeps it whatever is asked.
    """
    all_groups = list(range(1, len(groups) + 1))
    if keep == "garments" or len(groups) == 1:
        return all_groups
    if keep in groups:
        return [groups.index(keep) + 1]
    labels = probs.argmax(0)
    areas = [int(np.isin(labels, family).sum()) for family in PRODUCT_FAMILIES]
    return list(PRODUCT_FAMILIES[int(np.argmax(areas))])


def kept_probability(probs: np.ndarray, classes: list[int]) -> np.ndarray:
    """Low-resolution map of "a garment, and one of ``classes``": the garment probability where the kept
    classes together outweigh every other group, else 0.

    Which group a garment pixel belongs to is an argmax among the groups (the kept ones counted as one), not
    each group's own probability against 0.5: where the model hesitates between two groups (a long tunic's
    hem: 45% upper, 40% one-piece) the pixel still goes to one of them instead of to neither.
    """
    garment = 1.0 - probs[0]
    others = [c for c in range(1, len(probs)) if c not in classes]
    if not others:
        return garment
    wins = probs[classes].sum(0) >= probs[others].max(0)
    return np.where(wins, garment, np.float32(0)).astype(np.float32, copy=False)


def drops_garment(probs: np.ndarray, kept: np.ndarray) -> bool:
    """Whether a kept map (``kept_probability``) leaves out some of the garment (probability ≥ 0.5) at model
    resolution."""
    return bool(((1.0 - probs[0] >= 0.5) & (kept < 0.5)).any())


def lone_garment_probability(probs: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """A lone garment's family map (``kept``, from ``kept_probability``), plus the other groups' garment pixels that
    the family's region encloses (inside the convex hull of its largest region, at model resolution).

    With no one wearing it there is one garment, and where the model read part of it as the other family (a
    trouser leg as "upper") those pixels are the product's too. Only enclosed ones, though: a hanger band, a tag or
    floorboards beside the garment are also read as garment now and then, and they lie outside its outline
    (docs/benchmarks.md, "A lone garment keeps what its outline encloses").
    """
    product = kept >= 0.5
    n, labels, stats, _ = cv2.connectedComponentsWithStats(product.astype(np.uint8), connectivity=8)
    if n <= 1:
        return kept
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    outline = np.zeros(product.shape, np.uint8)
    cv2.fillConvexPoly(outline, cv2.convexHull(cv2.findNonZero((labels == largest).astype(np.uint8))), 1)
    garment = 1.0 - probs[0]
    enclosed = (outline > 0) & (garment >= 0.5) & ~product
    return np.where(enclosed, garment, kept).astype(np.float32, copy=False)


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """Grey-guide guided filter: edge-preserving smoothing of ``src`` along ``guide``'s edges.

    Past ``GUIDED_FILTER_MAX_SIDE`` the linear coefficients are computed on both images shrunk by a whole factor and
    brought back to full size before they are applied to the full-size guide (He & Sun's fast guided filter): the
    coefficients vary smoothly, so the edge still follows the full-resolution photo, at a fraction of the cost.
    """
    height, width = guide.shape
    factor = math.ceil(max(height, width) / GUIDED_FILTER_MAX_SIDE)
    g, p = guide, src
    if factor > 1:
        small = (round(width / factor), round(height / factor))
        g, p = (cv2.resize(a, small, interpolation=cv2.INTER_AREA) for a in (guide, src))
        radius = max(1, round(radius / factor))
    ksize = (2 * radius + 1, 2 * radius + 1)
    box = lambda a: cv2.boxFilter(a, -1, ksize, borderType=cv2.BORDER_REFLECT)  # noqa: E731
    mean_i, mean_p = box(g), box(p)
    cov_ip = box(g * p) - mean_i * mean_p
    var_i = box(g * g) - mean_i * mean_i
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    mean_a, mean_b = box(a), box(b)
    if factor > 1:
        mean_a, mean_b = (cv2.resize(c, (width, height), interpolation=cv2.INTER_LINEAR) for c in (mean_a, mean_b))
    return mean_a * guide + mean_b


def full_resolution_mask(prob: np.ndarray, rgb: np.ndarray, garment_prob: np.ndarray | None = None) -> np.ndarray:
    """Boolean H×W mask from a low-resolution probability map and the full-resolution RGB photo.

    ``garment_prob`` (default ``prob``) is the probability of *any* garment. Whether a region is a garment at
    all is decided on it (regions the model is unsure about are dropped, see ``drop_unsure_regions``); which
    group it belongs to is decided on ``prob``. Gating a group's own map instead would drop garments wherever
    the model hesitates between two groups, and keep the most confident scraps of a drawn figure.
    """
    height, width = rgb.shape[:2]
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    radius = max(2, round(max(height, width) / 200))

    def refined(low_res: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        full = cv2.resize(low_res.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
        return full, guided_filter(grey, full, radius, eps=1e-3) >= 0.5

    p, mask = refined(prob)
    if garment_prob is None or garment_prob is prob:
        return clean_mask(drop_unsure_regions(mask, p))
    g, garments = refined(garment_prob)
    return clean_mask(mask & drop_unsure_regions(garments, g))


def drop_unsure_regions(mask: np.ndarray, prob: np.ndarray, min_confidence: float | None = None) -> np.ndarray:
    """Remove connected regions whose mean probability is below ``min_confidence`` (MIN_REGION_CONFIDENCE).

    A garment is predicted with confidence over its whole area; a region the model is unsure about
    everywhere (mean near 0.5) is most often something garment-shaped that is not a garment.
    """
    threshold = MIN_REGION_CONFIDENCE if min_confidence is None else min_confidence
    if threshold <= 0:
        return mask
    n, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    if n <= 1:
        return mask
    sums = np.bincount(labels.ravel(), weights=prob.ravel(), minlength=n)
    counts = np.bincount(labels.ravel(), minlength=n)
    keep = sums / np.maximum(counts, 1) >= threshold
    keep[0] = False
    return keep[labels]


def clean_mask(mask: np.ndarray) -> np.ndarray:
    """Drop small islands and fill pin holes; an almost empty mask becomes empty."""
    total = mask.size
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n > 1:
        areas = stats[1:, cv2.CC_STAT_AREA]
        keep_min = max(MIN_ISLAND_FRACTION * total, MIN_ISLAND_OF_LARGEST * areas.max())
        keep = np.zeros(n, dtype=bool)
        keep[1:] = areas >= keep_min
        mask = keep[labels]
    n, labels, stats, _ = cv2.connectedComponentsWithStats((~mask).astype(np.uint8), connectivity=4)
    if n > 1:
        small = np.zeros(n, dtype=bool)
        small[1:] = stats[1:, cv2.CC_STAT_AREA] < MAX_HOLE_FRACTION * total
        mask = mask | small[labels]
    if mask.sum() < MIN_GARMENT_FRACTION * total:
        return np.zeros_like(mask)
    return mask


def crop_to_mask(rgb: np.ndarray, mask: np.ndarray, margin: float = 0.04) -> np.ndarray:
    """The part of ``rgb`` inside the mask's bounding box plus ``margin`` of its size (whole image if empty).

    Embedding the garment's box rather than the whole frame makes a garment the same size to the embedder
    whether it was shot close up or full length.
    """
    ys, xs = np.nonzero(mask)
    if len(ys) == 0:
        return rgb
    h, w = mask.shape
    my, mx = int((ys.max() - ys.min()) * margin), int((xs.max() - xs.min()) * margin)
    return rgb[max(0, ys.min() - my): min(h, ys.max() + my + 1), max(0, xs.min() - mx): min(w, xs.max() + mx + 1)]
