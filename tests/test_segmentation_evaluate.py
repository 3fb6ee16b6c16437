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


class _ColourGroups:
    """Reads garments by colour: red upper, blue lower, green one-piece (``all_upper``: every garment pixel upper)."""

    groups = GARMENT_GROUPS
    identity = "colour-groups"

    def __init__(self, all_upper: bool) -> None:
        self.all_upper = all_upper

    def probabilities(self, rgb: Image.Image) -> np.ndarray:
        a = np.asarray(rgb).astype(int)
        group = np.select([a[..., 0] > 150, a[..., 2] > 150, a[..., 1] > 150], [1, 2, 3], 0)
        if self.all_upper:
            group = np.where(group > 0, 1, 0)
        probs = np.zeros((4, *group.shape), np.float32)
        probs[0] = np.where(group > 0, 0.1, 1.0)
        for c in (1, 2, 3):
            probs[c][group == c] = 0.9
        return probs

    def body_seen(self, rgb: Image.Image) -> bool:
        return True


def test_the_product_row_counts_the_other_garment_it_keeps(tmp_path, monkeypatch):
    """A shirt over a skirt: a model that reads the whole outfit as upper keeps the skirt with the shirt (the trousers
    under a tunic), one that splits them right keeps none of it."""
    import json

    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    (tmp_path / "label_names.json").write_text(json.dumps({"0": "null", "1": "shirt", "2": "skirt", "3": "dress",
                                                           "4": "skin"}))
    for number, parts in ((601, ((1, (220, 40, 40), 20, 60), (2, (40, 40, 220), 60, 100))),
                          (602, ((3, (40, 220, 40), 20, 100),))):
        photo = np.full((120, 80, 3), 120, np.uint8)
        labels = np.zeros((120, 80), np.uint8)
        photo[5:20, 30:50], labels[5:20, 30:50] = (200, 160, 140), 4
        for label, colour, top, bottom in parts:
            photo[top:bottom, 20:60], labels[top:bottom, 20:60] = colour, label
        Image.fromarray(photo).save(tmp_path / "images" / f"{number:04d}.jpg", quality=100)
        Image.fromarray(labels).save(tmp_path / "labels" / f"{number:04d}.png")
    rows = {}
    for all_upper in (True, False):
        monkeypatch.setattr(evaluate, "new_segmentation_session", lambda name, a=all_upper: _ColourGroups(a))
        rows[all_upper] = evaluate.evaluate("garment", tmp_path)
    assert rows[True]["product_other_family_kept"] > 0.9
    assert rows[False]["product_other_family_kept"] < 0.05


def test_photo_maps_read_a_photo_once_for_every_keep():
    """The group rows cut each photo out for every keep; a session whose explicit groups read another split of the
    same readings (``GarmentSession.maps_from``) runs its model once per photo."""

    class TwoSplits:
        groups = GARMENT_GROUPS
        reads = 0

        def readings(self, rgb):
            self.reads += 1
            return np.arange(7, dtype=np.float32)[:, None, None] * np.ones((7, 2, 2), np.float32)

        def maps_from(self, readings, rgb, keep):
            plain = readings[[0, 4, 5, 6]] if keep in self.groups else readings[:4]
            return plain, plain

    session = TwoSplits()
    maps = evaluate.photo_maps(session, Image.new("RGB", (2, 2)))
    assert maps("product")[0][1, 0, 0] == 1 and maps("garments")[0][3, 0, 0] == 3
    assert [maps(group)[0][1, 0, 0] for group in GARMENT_GROUPS] == [4, 4, 4]
    assert session.reads == 1
    assert evaluate.photo_maps(ColourSession(), Image.new("RGB", (8, 8)))("upper")[0].shape == (4, 8, 8)
