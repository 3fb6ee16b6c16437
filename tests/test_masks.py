"""From class probabilities to masks: which groups are kept, edges at full resolution, islands and holes."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFilter

from garment_search.images import DecodedImage
from garment_search.segmentation import mask_from_probabilities
from garment_search.segmentation.groups import GARMENT_GROUPS
from garment_search.segmentation.masks import clean_mask, crop_to_mask, full_resolution_mask, kept_classes


def probs_from_labels(labels: np.ndarray, confidence: float = 0.9) -> np.ndarray:
    probs = np.full((4, *labels.shape), (1 - confidence) / 3, np.float32)
    for c in range(4):
        probs[c][labels == c] = confidence
    return probs


def test_product_is_the_dominant_family():
    labels = np.zeros((40, 30), int)
    labels[5:20] = 1  # upper: 15 rows
    labels[20:24] = 3  # one-piece hem of the same tunic: 4 rows
    labels[24:40] = 2  # trousers: 16 rows, more than upper alone, fewer than upper + one-piece
    assert kept_classes(probs_from_labels(labels), GARMENT_GROUPS, "product") == [1, 3]


def test_product_is_lower_when_lower_dominates():
    labels = np.zeros((40, 30), int)
    labels[5:10] = 1
    labels[10:40] = 2
    assert kept_classes(probs_from_labels(labels), GARMENT_GROUPS, "product") == [2]


def test_tie_goes_to_upper_family():
    labels = np.zeros((40, 30), int)
    labels[0:10] = 1
    labels[10:20] = 2
    assert kept_classes(probs_from_labels(labels), GARMENT_GROUPS, "product") == [1, 3]


@pytest.mark.parametrize("keep,expected", [("garments", [1, 2, 3]), ("upper", [1]), ("lower", [2]), ("one-piece", [3])])
def test_explicit_keep(keep, expected):
    labels = np.zeros((10, 10), int)
    assert kept_classes(probs_from_labels(labels), GARMENT_GROUPS, keep) == expected


def test_single_group_model_keeps_its_group_whatever_is_asked():
    probs = np.stack([np.full((5, 5), 0.3), np.full((5, 5), 0.7)])
    assert kept_classes(probs, ("person",), "lower") == [1]


@pytest.mark.parametrize("scale", [1, 3])  # 800×600: the exact guided filter; 2400×1800: the fast one
def test_edges_follow_the_photo_at_full_resolution(scale):
    """A blurry low-resolution map of a sharp square snaps to the square's edge in the full-size photo."""
    rgb = np.zeros((800 * scale, 600 * scale, 3), np.uint8)
    rgb[203 * scale:597 * scale, 151 * scale:449 * scale] = (200, 60, 60)  # edges off the low-res grid
    truth = rgb[..., 0] > 0
    low = np.asarray(Image.fromarray(truth.astype(np.uint8) * 255).resize((48, 64), Image.Resampling.BILINEAR))
    low = np.asarray(Image.fromarray(low).filter(ImageFilter.GaussianBlur(1.5)))
    mask = full_resolution_mask(low.astype(np.float32) / 255.0, rgb)
    wrong = mask ^ truth
    assert wrong.mean() < 0.003  # within a couple of pixels along the edge
    # no halo: nothing outside the square more than 2 px away is kept
    halo = mask & ~np.pad(truth[2:-2, 2:-2], 2, constant_values=False)
    assert not halo[:, :140 * scale].any() and not halo[:195 * scale].any()


def test_the_fast_guided_filter_agrees_with_the_exact_one(monkeypatch):
    """Past GUIDED_FILTER_MAX_SIDE the filter's coefficients are computed on shrunk images: on a textured photo the
    mask still matches the exact filter's."""
    from garment_search.segmentation import masks

    g = np.random.default_rng(7)
    height, width = 1600, 1185  # the catalogue's photo size
    yy, xx = np.mgrid[:height, :width]
    shape = ((yy - 800) / 600) ** 2 + ((xx - 590) / 380) ** 2 < 1  # a garment-like blob
    backdrop = np.asarray(Image.fromarray(g.integers(0, 255, (height // 20, width // 20, 3), dtype=np.uint8))
                          .resize((width, height), Image.Resampling.BICUBIC))
    rgb = np.where(shape[..., None], np.uint8((40, 90, 160)) + g.integers(0, 40, (height, width, 3), dtype=np.uint8),
                   backdrop).astype(np.uint8)
    low = np.asarray(Image.fromarray(shape.astype(np.uint8) * 255).resize((240, 320), Image.Resampling.BILINEAR))
    low = np.asarray(Image.fromarray(low).filter(ImageFilter.GaussianBlur(2))).astype(np.float32) / 255.0
    assert max(height, width) > masks.GUIDED_FILTER_MAX_SIDE
    fast = full_resolution_mask(low, rgb)
    monkeypatch.setattr(masks, "GUIDED_FILTER_MAX_SIDE", 10**9)
    exact = full_resolution_mask(low, rgb)
    assert (fast & exact).sum() / (fast | exact).sum() > 0.99
    assert (fast ^ shape).mean() < 0.01


def test_clean_mask_drops_islands_and_fills_pin_holes():
    mask = np.zeros((400, 400), bool)
    mask[100:300, 100:300] = True
    mask[200, 200] = False  # pin hole
    mask[10:12, 10:12] = True  # speck
    cleaned = clean_mask(mask)
    assert cleaned[200, 200] and not cleaned[10:12, 10:12].any() and cleaned[150, 150]


def test_almost_empty_mask_becomes_empty():
    mask = np.zeros((400, 400), bool)
    mask[10:20, 10:20] = True  # 0.06% of the photo
    assert not clean_mask(mask).any()


def test_transparent_pixels_are_never_kept():
    rgb = Image.new("RGB", (60, 80), (120, 30, 30))
    alpha = np.full((80, 60), 255, np.uint8)
    alpha[:, :30] = 0
    probs = probs_from_labels(np.ones((64, 48), int))
    mask, kept = mask_from_probabilities(DecodedImage(rgb, alpha), probs, GARMENT_GROUPS, "garments")
    assert kept == ["upper", "lower", "one-piece"] and not mask[:, :30].any() and mask[:, 31:].all()


def test_crop_to_mask_is_the_bounding_box_with_margin():
    rgb = np.arange(100 * 100 * 3, dtype=np.uint32).reshape(100, 100, 3)
    mask = np.zeros((100, 100), bool)
    mask[20:70, 30:60] = True
    crop = crop_to_mask(rgb, mask, margin=0.1)
    assert crop.shape[:2] == (49 + 2 * 4 + 1, 29 + 2 * 2 + 1)
    assert crop_to_mask(rgb, np.zeros_like(mask)).shape == rgb.shape


def test_unsure_regions_are_dropped_confident_ones_kept():
    """Two garment-shaped regions: one predicted at 0.95, one hovering at 0.55 (a drawn figure). With a gate
    the unsure one goes; without it (threshold 0) both stay."""
    from garment_search.segmentation.masks import drop_unsure_regions

    prob = np.zeros((100, 100), np.float32)
    prob[10:40, 10:40] = 0.95
    prob[60:90, 60:90] = 0.55
    mask = prob >= 0.5
    kept = drop_unsure_regions(mask, prob, min_confidence=0.7)
    assert kept[10:40, 10:40].all() and not kept[60:90, 60:90].any()
    assert (drop_unsure_regions(mask, prob, min_confidence=0.0) == mask).all()
    assert not drop_unsure_regions(np.zeros_like(mask), prob, min_confidence=0.7).any()


def test_a_hesitant_garment_pixel_goes_to_its_likeliest_group_not_to_neither():
    """A tunic hem at 45% upper / 40% one-piece is below 0.5 for both groups, yet it is garment (85%) and
    more upper than anything else: keep=upper keeps it, keep=one-piece does not, keep=product (upper +
    one-piece against lower) keeps it too."""
    from garment_search.segmentation.masks import kept_probability

    probs = np.zeros((4, 64, 48), np.float32)
    probs[:, :32] = np.array([0.05, 0.9, 0.03, 0.02])[:, None, None]  # clearly upper
    probs[:, 32:] = np.array([0.15, 0.45, 0.0, 0.40])[:, None, None]  # hem: hesitating upper / one-piece
    rgb = Image.new("RGB", (480, 640), (90, 120, 160))
    upper, _ = mask_from_probabilities(DecodedImage(rgb, None), probs, GARMENT_GROUPS, "upper")
    one_piece, _ = mask_from_probabilities(DecodedImage(rgb, None), probs, GARMENT_GROUPS, "one-piece")
    assert upper.all() and not one_piece.any()
    assert np.allclose(kept_probability(probs, [1, 3]), 1 - probs[0])
    assert not kept_probability(probs, [2]).any()
