"""Region pooling of the group split (garment_search.segmentation.regions)."""

import numpy as np
import pytest
from PIL import Image

from conftest import garment_sessions_with
from garment_search.images import DecodedImage
from garment_search.segmentation import mask_from_probabilities
from garment_search.segmentation.groups import GARMENT_GROUPS
from garment_search.segmentation.regions import RegionPooling, colour_regions, kmeans_labels, pool_split_over_regions


def outfit(top_colour: tuple[int, int, int], bottom_colour: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """A 60×40 photo: a garment in the middle columns whose top half the map calls 45% upper / 40% one-piece and
    whose bottom half 45% lower / 40% one-piece (the hesitation a plain dress gets); grey backdrop around it."""
    rgb = np.full((60, 40, 3), 128, dtype=np.uint8)
    probs = np.zeros((4, 60, 40), dtype=np.float32)
    probs[0] = 1.0
    rgb[5:30, 10:30], rgb[30:55, 10:30] = top_colour, bottom_colour
    probs[:, 5:30, 10:30] = np.array([0.1, 0.45, 0.05, 0.40])[:, None, None]
    probs[:, 30:55, 10:30] = np.array([0.1, 0.05, 0.45, 0.40])[:, None, None]
    return probs, rgb


def test_a_plain_dress_read_as_top_and_skirt_becomes_one_piece() -> None:
    probs, rgb = outfit((200, 30, 30), (200, 30, 30))
    assert set(np.unique(probs[:, 5:55, 10:30].argmax(0))) == {1, 2}
    pooled = pool_split_over_regions(probs, rgb, RegionPooling(clusters=4, weight=1.0))
    assert (pooled[:, 5:55, 10:30].argmax(0) == 3).all()


def test_a_top_and_skirt_of_different_colours_keep_their_groups() -> None:
    probs, rgb = outfit((200, 30, 30), (30, 30, 200))
    pooled = pool_split_over_regions(probs, rgb, RegionPooling(clusters=4, weight=1.0))
    np.testing.assert_allclose(pooled, probs, atol=1e-6)


def test_pooling_leaves_the_background_channel_and_the_sum_alone() -> None:
    probs, rgb = outfit((200, 30, 30), (200, 30, 30))
    rng = np.random.default_rng(0)
    probs[0] = np.where(probs[0] == 1.0, 0.9, probs[0])
    probs[1:] = np.maximum(probs[1:], 0.01) * rng.uniform(0.5, 1.5, probs[1:].shape).astype(np.float32)
    probs[1:] *= (1 - probs[0]) / probs[1:].sum(0)
    pooled = pool_split_over_regions(probs, rgb, RegionPooling(clusters=4, weight=0.5))
    np.testing.assert_array_equal(pooled[0], probs[0])
    np.testing.assert_allclose(pooled.sum(0), 1.0, atol=1e-5)


def test_a_map_at_another_size_than_the_photo_is_pooled_on_the_shrunk_photo() -> None:
    probs, rgb = outfit((200, 30, 30), (200, 30, 30))
    big = np.repeat(np.repeat(rgb, 4, axis=0), 4, axis=1)
    pooled = pool_split_over_regions(probs, big, RegionPooling(clusters=4, weight=1.0))
    assert (pooled[:, 6:54, 11:29].argmax(0) == 3).all()


def test_kmeans_is_deterministic_and_separates_distinct_colours() -> None:
    points = np.concatenate([np.full((50, 3), 10.0), np.full((30, 3), 200.0), np.full((20, 3), 100.0)]).astype(np.float32)
    first, again = kmeans_labels(points, 3), kmeans_labels(points, 3)
    np.testing.assert_array_equal(first, again)
    assert len(set(first[:50])) == len(set(first[50:80])) == len(set(first[80:])) == 1
    assert len({first[0], first[50], first[80]}) == 3


def test_one_colour_in_two_separate_places_is_two_regions() -> None:
    rgb = np.zeros((10, 10, 3), dtype=np.uint8)
    garment = np.zeros((10, 10), dtype=bool)
    garment[:, :3] = garment[:, 7:] = True
    regions = colour_regions(rgb, garment, clusters=2)
    assert set(np.unique(regions[garment])) == {1, 2} and (regions[~garment] == 0).all()


def test_remove_bg_pools_its_split_by_default_and_index_builds_do_not(monkeypatch: pytest.MonkeyPatch) -> None:
    from garment_search.segmentation.sessions import SPLIT_REGIONS_DEFAULT, new_segmentation_session

    monkeypatch.setenv("LONE_GARMENTS", "0")  # its tag, served by default, follows this one in the identity
    monkeypatch.setenv("SEGMENTATION_RUNTIME", "onnxruntime")  # index builds' runtime (test_runtimes), so that only
    served, off, image = garment_sessions_with(monkeypatch, "SPLIT_REGIONS", "0")  # the pooling tells them apart
    assert served.region_pooling == SPLIT_REGIONS_DEFAULT == RegionPooling(4, 0.5) and off.region_pooling is None
    assert served.identity == off.identity + "+regions4x0.5p"
    raw = off.probabilities(image)
    np.testing.assert_array_equal(served.split_for(served.readings(image), "product"), raw)
    np.testing.assert_allclose(served.probabilities(image), pool_split_over_regions(raw, image, SPLIT_REGIONS_DEFAULT))
    masks_maps, pick_maps = served.maps(image)
    np.testing.assert_allclose(masks_maps, served.probabilities(image))
    np.testing.assert_array_equal(pick_maps, raw)  # the family pick reads the maps before pooling
    monkeypatch.delenv("SPLIT_REGIONS")
    index = new_segmentation_session("garment", tta=False, for_index=True)
    assert index.region_pooling is None and index.identity == off.identity  # the towers' cut-outs: never pooled
    monkeypatch.setenv("INDEX_SPLIT_REGIONS", "4,1")
    pooled_index = new_segmentation_session("garment", tta=False, for_index=True)
    assert pooled_index.identity == off.identity + "+regions4x1p"


def _pick_and_pooled(middle_to_lower: slice) -> tuple[DecodedImage, np.ndarray, np.ndarray]:
    """A garment that the pick maps read as upper over rows 10–60 and lower over rows 60–90; the pooled maps hand
    ``middle_to_lower`` rows of the upper part to the lower garment."""
    pick = np.zeros((4, 100, 60), np.float32)
    pick[0] = 1.0
    pick[:, 10:90, 10:50] = 0.0
    pick[1, 10:60, 10:50] = 0.9
    pick[2, 60:90, 10:50] = 0.9
    pick[0, 10:90, 10:50] = 0.1
    pooled = pick.copy()
    pooled[1, middle_to_lower, 10:50], pooled[2, middle_to_lower, 10:50] = 0.0, 0.9
    return DecodedImage(Image.fromarray(np.full((100, 60, 3), 120, np.uint8)), None), pick, pooled


def test_keep_product_picks_its_family_on_the_pick_maps_and_cuts_the_pooled_ones() -> None:
    """The pick reads the maps before pooling, the mask the pooled ones (pooling moved rows 52–60 to the skirt)."""
    image, pick, pooled = _pick_and_pooled(slice(52, 60))
    mask, kept = mask_from_probabilities(image, pooled, GARMENT_GROUPS, "product", pick=pick)
    assert kept == ["upper", "one-piece"]
    assert mask[15:48, 15:45].all() and not mask[55:85, 15:45].any()


def test_pooling_that_would_carry_the_garment_across_the_family_line_leaves_the_product_on_the_pick_maps() -> None:
    """Where the pooled maps would pick the other family (here they hand most of the top to the skirt; on the shop's
    photos a whole tunic), the picked family's pooled map is nearly or wholly empty: the mask is cut from the pick
    maps instead, so a photo with a garment never answers all black."""
    image, pick, pooled = _pick_and_pooled(slice(25, 60))
    assert mask_from_probabilities(image, pooled, GARMENT_GROUPS, "product")[1] == ["lower"]
    mask, kept = mask_from_probabilities(image, pooled, GARMENT_GROUPS, "product", pick=pick)
    assert kept == ["upper", "one-piece"]
    assert mask[15:55, 15:45].all() and not mask[65:85, 15:45].any()
