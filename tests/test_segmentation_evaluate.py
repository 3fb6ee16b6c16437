"""The flat-lay measure of the segmentation evaluation: a lone garment's group, as its class folder names it."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("torch")

from garment_search.segmentation.groups import GARMENT_GROUPS  # noqa: E402
from training.segmentation import evaluate  # noqa: E402


class ColourSession:
    """Every photo is garment in its middle; red garments read as one-piece, others as lower."""

    groups = GARMENT_GROUPS

    def probabilities(self, rgb: Image.Image) -> np.ndarray:
        pixels = np.asarray(rgb)
        probs = np.zeros((4, *pixels.shape[:2]), np.float32)
        probs[0] = 1.0
        probs[0, 2:6, 2:6] = 0.1
        probs[3 if pixels[4, 4, 0] > 128 else 2, 2:6, 2:6] = 0.9
        return probs


def test_flat_lays_count_the_group_and_family_each_folder_names(tmp_path, monkeypatch):
    monkeypatch.setattr(evaluate, "new_segmentation_session", lambda name: ColourSession())
    for folder, colours in {"skirt": ["red", "blue", "blue"], "dress": ["red"], "hat": ["red"]}.items():
        (tmp_path / folder).mkdir()
        for i, colour in enumerate(colours):
            Image.new("RGB", (8, 8), colour).save(tmp_path / folder / f"{i}.png")
    out = evaluate.flat_lays("garment", tmp_path)
    # hats are no garment group: left out. The red skirt reads as one-piece (wrong group, and its product family is
    # upper + one-piece, not lower); the blue skirts and the red dress read right.
    assert out["flat_lay_photos"] == 4
    assert out["flat_lay_group_right"] == pytest.approx(3 / 4) and out["flat_lay_family_right"] == pytest.approx(3 / 4)
    assert out["flat_lay_group_right_skirt"] == "2/3" and out["flat_lay_group_right_dress"] == "1/1"


def test_a_worn_close_up_is_the_person_s_torso_without_head_or_legs():
    """A person labelled in rows 100–299 and columns 50–149 of a 400×300 photo: the close-up keeps rows 150–249
    (from a quarter to three quarters of the person's height) and the person's width plus a tenth on each side."""
    labels = np.zeros((400, 300), np.uint8)
    labels[100:300, 50:150] = 7
    assert evaluate.torso_box(labels) == (40, 150, 160, 250)
    labels[:, :] = 0
    assert evaluate.torso_box(labels) is None
    labels[0:10, 0:300] = 3  # at the photo's edges the box stops there
    left, top, right, bottom = evaluate.torso_box(labels)
    assert (left, right) == (0, 300) and 0 < top < bottom <= 10
