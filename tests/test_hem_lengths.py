"""Hem lengths: the query words, where a cut-out's hem falls on the legs, and the channel's profile."""

import numpy as np
import pytest
from PIL import Image

from garment_search.hem_lengths import (HEM_INFO, LENGTHS, hem_length_profile, hem_position, length_profile_of,
                                        measure_hem, query_lengths)
from garment_search.segmentation.pose import KEYPOINTS


def legs(hip: float = 100, knee: float = 200, ankle: float | None = 300) -> np.ndarray:
    """17×3 keypoints (x, y, score) with hips, knees and (when given) ankles at these heights, the rest unseen."""
    kp = np.zeros((len(KEYPOINTS), 3), np.float32)
    for (left, right), y in (((11, 12), hip), ((13, 14), knee), ((15, 16), ankle)):
        if y is not None:
            kp[left], kp[right] = (40, y, 0.9), (60, y, 0.9)
    return kp


def garment_to(hem: int, top: int = 60, height: int = 400) -> np.ndarray:
    mask = np.zeros((height, 100), bool)
    mask[top:hem, 30:70] = True
    return mask


@pytest.mark.parametrize("text, named", [("black maxi dress", "maxi"), ("Midi skirt", "midi"),
                                         ("a short skirt", "mini"), ("knee-length dress", "midi"),
                                         ("floor length gown", "maxi"), ("long dress", "maxi")])
def test_query_words_name_a_length(text, named):
    assert query_lengths(text).tolist() == [float(n == named) for n in LENGTHS]


def test_sleeve_words_and_plain_queries_name_no_length():
    for text in ("long sleeve dress", "short sleeve top", "red skirt", "short"):
        assert not query_lengths(text).any()


def test_the_hem_is_read_against_knee_and_ankle():
    assert hem_position(garment_to(150), legs()) == pytest.approx(-0.5, abs=0.04)  # mid-thigh
    assert hem_position(garment_to(250), legs()) == pytest.approx(0.5, abs=0.04)  # mid-calf
    assert hem_position(garment_to(300), legs()) == pytest.approx(1.0, abs=0.04)  # the ankle
    assert hem_position(garment_to(250), legs(ankle=None)) == pytest.approx(0.5, abs=0.04)  # shin ≈ thigh


def test_a_top_or_an_unseen_body_has_no_hem():
    assert hem_position(garment_to(110), legs()) is None  # ends at the hips: a top
    assert hem_position(garment_to(250), legs(knee=None)) is None
    assert hem_position(np.zeros((400, 100), bool), legs()) is None


def test_profiles_are_soft_and_sum_to_one():
    mini, knee, maxi = (length_profile_of(t) for t in (-0.5, 0.2, 1.0))
    assert mini.argmax() == 0 and knee.argmax() == 1 and maxi.argmax() == 2
    assert all(p.sum() == pytest.approx(1) and (p >= 0).all() for p in (mini, knee, maxi))
    assert not length_profile_of(None).any()


def test_a_view_carries_its_hem_and_an_untagged_image_measures_nothing(monkeypatch):
    import garment_search.hem_lengths as hem_lengths

    class Pose:
        def keypoints(self, photo):
            return legs()

    monkeypatch.setattr(hem_lengths, "_pose_reader", lambda: Pose())
    view = measure_hem(Image.new("RGB", (40, 40)), Image.new("RGB", (100, 400)), garment_to(300))
    assert view.info[HEM_INFO] == pytest.approx(1.0, abs=0.04) and hem_length_profile(view).argmax() == 2
    top = measure_hem(Image.new("RGB", (40, 40)), Image.new("RGB", (100, 400)), garment_to(110))
    assert HEM_INFO not in top.info and not hem_length_profile(top).any()


def test_the_index_view_of_a_worn_maxi_skirt_carries_a_maxi_hem():
    """The index's own path (``embedding_view`` with the default ``product``: the served garment model, then the pose
    model on the photo) on a CCP training photo of a floor-length tulle skirt worn under a jacket (the model keeps the
    top family here: jacket and skirt, the skirt read as a dress's)."""
    from pathlib import Path

    from garment_search.images import load_image_file
    from garment_search.segmentation import embedding_view, load_segmenter

    photo = Path("../shared/datasets/ccp/images/0002.jpg")
    if not photo.is_file():
        pytest.skip("CCP is not here")
    view, no_garment = embedding_view(load_image_file(photo), load_segmenter(tta=False), "product")
    assert not no_garment and hem_length_profile(view).argmax() == LENGTHS.index("maxi")
