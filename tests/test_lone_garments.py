"""A lone garment is the product within its outline: ``keep=product`` where no one wears the clothes (``LONE_GARMENTS``)."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from garment_search.images import DecodedImage
from garment_search.segmentation import mask_from_probabilities
from garment_search.segmentation.groups import GARMENT_GROUPS
from garment_search.segmentation.pose import KEYPOINTS, body_seen

CLOTHING_VALIDATION = Path("../shared/datasets/clothing-small/validation")


def keypoints(**scores: float) -> np.ndarray:
    """17×3 keypoints, every one unseen (score 0) but those named (``left_hip=0.7``)."""
    kp = np.zeros((len(KEYPOINTS), 3), np.float32)
    for name, score in scores.items():
        kp[KEYPOINTS.index(name), 2] = score
    return kp


def test_a_face_or_a_pair_of_shoulders_is_a_body() -> None:
    assert body_seen(keypoints(nose=0.5))
    assert body_seen(keypoints(left_ear=0.4))  # a back view still shows an ear
    assert body_seen(keypoints(left_shoulder=0.6, right_shoulder=0.5))


def test_legs_or_one_shoulder_alone_are_not_a_body() -> None:
    """Trousers laid flat look like legs to the pose model; a hanger may pass for one shoulder."""
    assert not body_seen(keypoints(left_hip=0.7, right_hip=0.7, left_knee=0.6, right_knee=0.5, left_ankle=0.4))
    assert not body_seen(keypoints(left_shoulder=0.7, right_shoulder=0.2, nose=0.28))
    assert not body_seen(keypoints())


def trousers_read_in_two() -> tuple[DecodedImage, np.ndarray]:
    """A 100×60 photo of one garment (rows 20–90) that the map reads as lower, except its left leg's middle
    (rows 45–70, columns 15–30), which it reads as upper — as the garment model reads trousers laid flat — and a
    hanger's band above the waist (rows 10–20, columns 25–35), which it also reads as upper."""
    rgb = np.full((100, 60, 3), 230, dtype=np.uint8)
    rgb[20:90, 15:45] = (40, 60, 120)
    rgb[10:20, 25:35] = (200, 40, 40)
    probs = np.zeros((4, 100, 60), dtype=np.float32)
    probs[0] = 1.0
    probs[0, 20:90, 15:45] = 0.05
    probs[2, 20:90, 15:45] = 0.95
    probs[2, 45:70, 15:30], probs[1, 45:70, 15:30] = 0.0, 0.95
    probs[0, 10:20, 25:35], probs[1, 10:20, 25:35] = 0.05, 0.95
    return DecodedImage(Image.fromarray(rgb), None), probs


def test_with_no_body_the_product_is_the_garment_s_outline_and_keeps_its_family_name() -> None:
    image, probs = trousers_read_in_two()
    split, kept = mask_from_probabilities(image, probs, GARMENT_GROUPS, "product", lambda rgb: True)
    lone, kept_lone = mask_from_probabilities(image, probs, GARMENT_GROUPS, "product", lambda rgb: False)
    assert kept == kept_lone == ["lower"]
    assert not split[50:65, 18:28].any() and split[25:40, 20:40].all()  # worn: the family pick, as before
    assert lone[22:88, 17:43].all()  # the leg read as upper is inside the outline: kept
    assert not lone[10:19].any()  # the hanger above the waist read as upper is outside it: not kept


def test_the_pose_is_asked_only_when_the_family_pick_drops_garment() -> None:
    image, probs = trousers_read_in_two()
    probs[1, 45:70, 15:30], probs[2, 45:70, 15:30] = 0.0, 0.95  # now read as lower throughout
    probs[0, 10:20, 25:35], probs[1, 10:20, 25:35] = 1.0, 0.0  # and no hanger

    def never(rgb):
        raise AssertionError("the pose model ran although the product keeps the whole garment")

    mask, kept = mask_from_probabilities(image, probs, GARMENT_GROUPS, "product", never)
    assert kept == ["lower"] and mask[25:85, 20:40].all()
    mask_from_probabilities(image, probs, GARMENT_GROUPS, "garments", never)


def test_the_rule_is_on_by_default_and_part_of_the_segmentation_identity(monkeypatch) -> None:
    from conftest import garment_sessions_with

    served, off, _ = garment_sessions_with(monkeypatch, "LONE_GARMENTS", "0")
    assert "+lone-outline@" in served.identity and "+lone" not in off.identity
    assert served.pose is not None and served.lone_garments and not off.lone_garments
    assert "session" in vars(served.pose)  # the pose model loads at cold start, not in the first request


def test_trousers_laid_flat_are_kept_whole_and_a_worn_outfit_is_still_taken_apart(monkeypatch) -> None:
    """The served model on real photos: a clothing-small *validation* flat lay of trousers, which it reads partly as
    upper (keep=product kept 58% of the garment before the rule, with the index's readings), and a CCP street
    photo, in which a body is seen, so an outfit is still taken apart there."""
    from garment_search.images import load_image_file
    from garment_search.segmentation.sessions import GARMENT_MODEL_FILE, new_segmentation_session

    flat = CLOTHING_VALIDATION / "pants" / "081b5ec1-13a6-43c8-991f-9ad2020f646a.jpg"
    worn = Path("../shared/datasets/ccp/images/0001.jpg")
    if not (GARMENT_MODEL_FILE.exists() and flat.is_file() and worn.is_file()):
        pytest.skip("the garment model, clothing-small or CCP is not here")
    monkeypatch.delenv("LONE_GARMENTS", raising=False)  # the served default
    session = new_segmentation_session("garment", tta=False)

    def masks(path: Path) -> tuple[np.ndarray, np.ndarray]:
        image = load_image_file(path)
        probs = session.probabilities(image.rgb)
        garments, _ = mask_from_probabilities(image, probs, session.groups, "garments")
        product, _ = mask_from_probabilities(image, probs, session.groups, "product", session.body_seen)
        return garments, product

    garments, product = masks(flat)
    assert garments.mean() > 0.05 and (product & garments).sum() >= 0.98 * garments.sum()
    assert session.body_seen(load_image_file(worn).rgb)
