"""Body coordinates from the pose (pose.body_coordinates) and the group network that reads them (--body-layout)."""

import numpy as np
import pytest

from garment_search.segmentation.pose import BODY_CHANNELS, BODY_REACH, KEYPOINTS, body_coordinates


def standing(score: float = 0.9) -> np.ndarray:
    """17×3 keypoints of a 100×60 photo: shoulders at y 20 (x 20, 40), hips at y 60 (x 22, 38), torso 40 pixels."""
    kp = np.zeros((len(KEYPOINTS), 3), np.float32)
    kp[5], kp[6], kp[11], kp[12] = (20, 20, score), (40, 20, score), (22, 60, score), (38, 60, score)
    return kp


def test_rows_are_measured_from_the_shoulder_and_hip_lines_in_torso_lengths():
    maps = body_coordinates(standing(), 100, 60, (100, 60))
    assert maps.shape == (len(BODY_CHANNELS), 100, 60)
    assert maps[0, 20, 0] == pytest.approx(0.5 / 40) and maps[1, 60, 0] == pytest.approx(0.5 / 40)  # pixel centres
    assert maps[0, 60, 7] == pytest.approx(1.0125) and maps[1, 20, 7] == pytest.approx(-0.9875)
    assert maps[2, 0, 30] == pytest.approx(0.5 / 40) and maps[2, 5, 10] == pytest.approx(-19.5 / 40)
    assert (maps[3] == 1).all()


def test_a_smaller_map_reads_the_photo_s_places_and_far_corners_are_clipped():
    small = body_coordinates(standing(), 100, 60, (10, 6))
    assert small[0, 2, 0] == pytest.approx(5 / 40)  # row 2 of 10 is the photo's rows 20–29, centre 25
    tall = body_coordinates(standing(), 400, 60, (40, 6))
    assert tall[1].max() == BODY_REACH


def test_no_shoulders_or_hips_means_no_layout():
    kp = standing()
    kp[11, 2] = 0.1  # one hip unsure
    assert not body_coordinates(kp, 100, 60, (10, 6)).any()
    assert not body_coordinates(standing(score=0.2), 100, 60, (10, 6)).any()


torch = pytest.importorskip("torch")
pytest.importorskip("timm")


def test_a_layout_network_starts_as_the_network_without_it_and_needs_its_maps():
    from training.segmentation.group_net import GroupNet

    torch.manual_seed(0)
    with_layout = GroupNet(layout=True).eval()
    plain = GroupNet().eval()
    plain.load_state_dict({k: v for k, v in with_layout.state_dict().items() if not k.startswith("layout.")})
    x = torch.rand(1, 3, 64, 48)
    layout = torch.from_numpy(body_coordinates(standing(), 64, 48, (8, 6)))[None]
    with torch.no_grad():
        assert torch.allclose(with_layout(x, layout), plain(x), atol=1e-6)  # zero-initialised
    with pytest.raises(ValueError, match="body coordinates"):
        with_layout(x)
    with pytest.raises(ValueError, match="body coordinates"):
        plain(x, layout)
    assert GroupNet.from_state(with_layout.state_dict()).layout is not None
