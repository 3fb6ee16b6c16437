"""Region pooling of the group split (garment_search.segmentation.regions)."""

import numpy as np
import pytest

from conftest import garment_sessions_with
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


def test_the_garment_session_pools_its_split_when_asked_and_says_so_in_its_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LONE_GARMENTS", "0")  # its tag, served by default, follows this one in the identity
    plain, pooled, image = garment_sessions_with(monkeypatch, "SPLIT_REGIONS", "4,1")
    assert plain.region_pooling is None and pooled.region_pooling == RegionPooling(4, 1.0)
    assert pooled.identity == plain.identity + "+regions4x1"
    raw = plain.probabilities(image)
    np.testing.assert_array_equal(pooled.readings(image), raw)
    np.testing.assert_allclose(pooled.probabilities(image), pool_split_over_regions(raw, image, RegionPooling(4, 1.0)))
