"""SEGMENTATION_FLIP_AVERAGE: the garment model also sees the mirror image and its maps are averaged."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from garment_search.config import MODELS_DIR

pytest.importorskip("onnxruntime")
if not (MODELS_DIR / "garment_u2netp.onnx").exists():
    pytest.skip("garment model not present", allow_module_level=True)

from garment_search.segmentation.sessions import new_segmentation_session  # noqa: E402


def _photo() -> Image.Image:
    g = np.random.default_rng(3)
    arr = np.zeros((200, 150, 3), np.uint8)
    arr[40:160, 30:100] = (200, 40, 60)  # an off-centre block: the photo is not its own mirror image
    return Image.fromarray(np.clip(arr + g.integers(0, 30, arr.shape), 0, 255).astype(np.uint8))


def test_flip_average_is_off_unless_asked_and_named_in_the_identity(monkeypatch):
    monkeypatch.delenv("SEGMENTATION_FLIP_AVERAGE", raising=False)
    plain = new_segmentation_session("garment")
    monkeypatch.setenv("SEGMENTATION_FLIP_AVERAGE", "1")
    flip = new_segmentation_session("garment")
    assert not plain.flip_average and flip.flip_average
    assert flip.identity == plain.identity + "+flip"  # an index records which way its photos were cut out
    assert not new_segmentation_session("u2netp").flip_average  # the person baseline is left as rembg has it


def test_flip_averaged_maps_are_the_mean_of_the_photo_and_its_mirror(monkeypatch):
    monkeypatch.delenv("SEGMENTATION_FLIP_AVERAGE", raising=False)
    plain = new_segmentation_session("garment")
    monkeypatch.setenv("SEGMENTATION_FLIP_AVERAGE", "1")
    flip = new_segmentation_session("garment")
    photo = _photo()
    mirrored = photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    expected = (plain.probabilities(photo) + plain.probabilities(mirrored)[..., ::-1]) / 2
    got = flip.probabilities(photo)
    assert got.shape == expected.shape and np.abs(got - expected).max() < 1e-5
    assert np.allclose(got.sum(axis=0), 1, atol=1e-4)  # still a distribution over background and the groups
    # and the averaged maps of the mirror image are the mirror of the photo's
    assert np.abs(flip.probabilities(mirrored)[..., ::-1] - got).max() < 1e-5
    assert np.abs(plain.probabilities(mirrored)[..., ::-1] - plain.probabilities(photo)).max() > 0.05  # unlike the model alone


@pytest.mark.parametrize("setting,providers,wanted", [
    (None, ["CPUExecutionProvider"], False),  # default: CPUs keep remove_bg's latency budget
    ("auto", ["CUDAExecutionProvider", "CPUExecutionProvider"], True),  # a GPU pays milliseconds for it
    (None, ["ROCMExecutionProvider", "CPUExecutionProvider"], True),
    ("1", ["CPUExecutionProvider"], True),
    ("off", ["CUDAExecutionProvider", "CPUExecutionProvider"], False),
])
def test_flip_average_default_follows_the_hardware(monkeypatch, setting, providers, wanted):
    from garment_search.segmentation.sessions import flip_average_wanted

    if setting is None:
        monkeypatch.delenv("SEGMENTATION_FLIP_AVERAGE", raising=False)
    else:
        monkeypatch.setenv("SEGMENTATION_FLIP_AVERAGE", setting)
    assert flip_average_wanted(providers) is wanted


def test_a_misspelt_flip_setting_is_refused(monkeypatch):
    from garment_search.segmentation.sessions import flip_average_wanted

    monkeypatch.setenv("SEGMENTATION_FLIP_AVERAGE", "sometimes")
    with pytest.raises(ValueError, match="auto, 1 or 0"):
        flip_average_wanted(["CPUExecutionProvider"])
