"""Head coverings dropped by pose and colour regions (garment_search.segmentation.head_coverings, pose)."""

import numpy as np
import pytest

from conftest import garment_sessions_with
from garment_search.segmentation.head_coverings import HeadCut, drop_head_coverings, head_geometry, head_zone
from garment_search.segmentation.pose import KEYPOINTS


def pose(head: tuple[float, float], shoulders: tuple[tuple[float, float], tuple[float, float]],
         face_score: float = 0.9, shoulder_score: float = 0.9) -> np.ndarray:
    """17×3 keypoints (x, y, score): every face point at ``head``, the shoulders where given, the rest unseen."""
    kp = np.zeros((len(KEYPOINTS), 3), dtype=np.float32)
    kp[:5] = (*head, face_score)
    kp[5], kp[6] = (*shoulders[0], shoulder_score), (*shoulders[1], shoulder_score)
    return kp


def hijab_over_tunic(hijab_colour: tuple[int, int, int] = (20, 20, 20)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A 120×80 photo, grey backdrop: eyes at (40, 20), a hijab covering the head and hanging down the front (rows
    4–70, columns 28–52 less the face), an orange tunic below the shoulders (rows 34–110, columns 15–65). The map
    calls the fabric below the face 90% garment, upper, and the hijab over the head background (as the garment model
    does: it drops the part that frames the face)."""
    rgb = np.full((120, 80, 3), 150, dtype=np.uint8)
    rgb[34:110, 15:65] = (230, 110, 40)
    rgb[4:70, 28:52] = hijab_colour
    rgb[16:28, 33:47] = (225, 190, 170)  # the face
    fabric = np.zeros((120, 80), dtype=bool)
    fabric[34:110, 15:65] = fabric[28:70, 28:52] = True
    probs = np.zeros((4, 120, 80), dtype=np.float32)
    probs[0] = np.where(fabric, 0.1, 1.0)
    probs[1] = np.where(fabric, 0.9, 0.0)
    return probs, rgb, pose((40, 20), ((22, 36), (58, 36)))


def test_a_hijab_reaching_the_head_is_dropped_and_the_tunic_kept() -> None:
    probs, rgb, kp = hijab_over_tunic()
    out = drop_head_coverings(probs, rgb, kp, HeadCut(reach=0.75, max_share=0.4, clusters=4))
    assert (out[0, 28:70, 28:52] == 1).all() and (out[1:, 28:70, 28:52] == 0).all()
    tunic = np.zeros((120, 80), dtype=bool)
    tunic[34:110, 15:65] = True
    tunic[28:70, 28:52] = False
    np.testing.assert_array_equal(out[:, tunic], probs[:, tunic])


def test_a_covering_of_the_tunics_own_colour_is_left_rather_than_the_product() -> None:
    probs, rgb, kp = hijab_over_tunic(hijab_colour=(230, 110, 40))
    out = drop_head_coverings(probs, rgb, kp, HeadCut(reach=0.75, max_share=0.4, clusters=4))
    np.testing.assert_array_equal(out, probs)


def test_no_face_or_no_shoulders_means_no_cut() -> None:
    probs, rgb, kp = hijab_over_tunic()
    for unseen in (slice(0, 5), slice(5, 6)):
        blind = kp.copy()
        blind[unseen, 2] = 0.1
        np.testing.assert_array_equal(drop_head_coverings(probs, rgb, blind, HeadCut(0.75, 0.4, 4)), probs)


def test_a_dark_panel_that_is_not_the_crowns_colour_stays() -> None:
    probs, rgb, kp = hijab_over_tunic()
    rgb[4:16, 28:52] = (200, 170, 60)  # a mustard hijab over the head: the dark panel below is the tunic's own
    np.testing.assert_array_equal(drop_head_coverings(probs, rgb, kp, HeadCut(0.75, 0.4, 4)), probs)


def test_a_bare_headed_models_top_is_untouched() -> None:
    probs, rgb, kp = hijab_over_tunic()
    rgb[4:34, 28:52] = 150  # no hijab: backdrop and neck above the tunic, which starts at the shoulders
    rgb[4:16, 33:47] = (20, 20, 20)  # dark hair
    probs[0, 4:34], probs[1, 4:34] = 1.0, 0.0
    np.testing.assert_array_equal(drop_head_coverings(probs, rgb, kp, HeadCut(0.4, 0.4, 4)), probs)


def test_the_head_zone_is_measured_in_the_photos_pixels_not_the_maps() -> None:
    kp = pose((100, 50), ((60, 130), (140, 130)))  # head-to-neck distance 80 photo pixels
    zone = head_zone(head_geometry(kp), (200, 400), (40, 20), reach=0.5)  # the map halves x and makes each row 10 photo pixels
    ys, xs = np.nonzero(zone)
    assert xs.min() >= (100 - 40) / 10 - 1 and xs.max() <= (100 + 40) / 10
    assert ys.min() >= (50 - 40) / 10 - 1 and ys.max() <= (50 + 40) / 10


def test_the_garment_session_cuts_head_coverings_when_asked_and_says_so_in_its_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    from garment_search.segmentation.pose import POSE_MODEL_FILE

    if not POSE_MODEL_FILE.exists():
        pytest.skip("pose model not present")
    monkeypatch.setenv("LONE_GARMENTS", "0")  # the pose-based rule served by default: its tag would follow the cut's
    plain, cut, image = garment_sessions_with(monkeypatch, "HEAD_COVERINGS", "0.75,0.4,4")
    assert plain.head_cut is None and cut.head_cut == HeadCut(0.75, 0.4, 4)
    assert cut.identity.startswith(plain.identity + "+heads0.75x0.4x4@")
    kp = cut.pose.keypoints(image)
    assert kp.shape == (len(KEYPOINTS), 3) and np.isfinite(kp).all()
    np.testing.assert_array_equal(cut.probabilities(image),
                                  drop_head_coverings(plain.probabilities(image), image, kp, cut.head_cut))


@pytest.mark.parametrize("size", [(1, 1), (7, 300), (300, 7)])
def test_the_pose_reader_answers_for_any_photo_shape(size: tuple[int, int]) -> None:
    pytest.importorskip("onnxruntime")
    from PIL import Image

    from garment_search.segmentation.pose import POSE_MODEL_FILE, PoseReader

    if not POSE_MODEL_FILE.exists():
        pytest.skip("pose model not present")
    kp = PoseReader().keypoints(Image.new("RGB", size, (90, 120, 150)))
    assert kp.shape == (len(KEYPOINTS), 3) and np.isfinite(kp).all()
    assert (kp[:, 0] <= max(size) + 1).all() and (kp[:, 1] <= max(size) + 1).all()


def test_a_missing_pose_model_is_one_clear_sentence(tmp_path) -> None:
    from garment_search.segmentation.pose import PoseReader

    with pytest.raises(ValueError, match=r"The pose model .*absent.onnx is missing .*tfjs_graph_to_onnx"):
        PoseReader(tmp_path / "absent.onnx")
