"""clothing-small single garments written as CCP-style training photos, labelled by their class folder."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("torch")

from garment_search.segmentation.groups import GARMENT_GROUPS  # noqa: E402
from training.segmentation.data import CCPSegmentation  # noqa: E402
from training.segmentation.flat_lays import per_group_counts, write_flat_lays  # noqa: E402


class CentreSession:
    """A garment in the middle of every photo, except photos that are all black (nothing found)."""

    groups = GARMENT_GROUPS
    identity = "centre"

    def probabilities(self, rgb: Image.Image) -> np.ndarray:
        h, w = rgb.height, rgb.width
        probs = np.zeros((4, h, w), np.float32)
        probs[0] = 1.0
        if np.asarray(rgb).max() > 0:
            probs[0, h // 4:3 * h // 4, w // 4:3 * w // 4] = 0.05
            probs[3, h // 4:3 * h // 4, w // 4:3 * w // 4] = 0.95  # read as one-piece: the folder decides the label
        return probs


def test_flat_lays_carry_their_folder_label_inside_the_mask_only(tmp_path):
    ccp, clothing, out = tmp_path / "ccp", tmp_path / "train", tmp_path / "flat"
    ccp.mkdir()
    (ccp / "label_names.json").write_text(json.dumps({"0": "null", "1": "skirt", "2": "dress", "3": "skin"}))
    for folder, colours in {"skirt": ["red", "blue", "black"], "dress": ["green"], "hat": ["white"]}.items():
        (clothing / folder).mkdir(parents=True)
        for i, colour in enumerate(colours):
            Image.new("RGB", (120, 160), colour).save(clothing / folder / f"{i}.jpg")
    counts = write_flat_lays(clothing, ccp, out, CentreSession(), per_folder=5, height=80)
    # the black skirt photo had no garment: left out; hats are no garment group
    assert counts["skirt"] == 2 and counts["dress"] == 1 and sum(counts.values()) == 3
    labels = [np.asarray(Image.open(p)) for p in sorted((out / "labels").glob("*.png"))]
    assert [set(np.unique(lab)) for lab in labels] == [{0, 2}, {0, 1}, {0, 1}]  # dress, skirt, skirt; the rest null
    assert all(lab.shape == (80, 60) for lab in labels)
    assert all(0.15 < (lab > 0).mean() < 0.4 for lab in labels)  # the centre quarter, refined at full resolution
    assert Image.open(out / "images" / "0001.jpg").size == (60, 80)
    assert json.loads((out / "sources.json").read_text())["segmenter"] == "centre"
    # training reads them with CCP's loader, next to (here: instead of) CCP's own photos
    data = CCPSegmentation(ccp, [], (32, 24), train=False, cache_height=80, extra=out)
    assert len(data) == 3
    _, target = data[0]
    assert set(target.unique().tolist()) == {0, 3}  # dress → one-piece


def _skirts_and_dresses(tmp_path, photos: int):
    """A CCP label file and clothing-small ``skirt`` and ``dress`` folders of ``photos`` red photos each."""
    ccp, clothing = tmp_path / "ccp", tmp_path / "train"
    ccp.mkdir()
    (ccp / "label_names.json").write_text(json.dumps({"0": "null", "1": "skirt", "2": "dress"}))
    for folder in ("skirt", "dress"):
        (clothing / folder).mkdir(parents=True)
        for i in range(photos):
            Image.new("RGB", (120, 160), "red").save(clothing / folder / f"{i}.jpg")
    return ccp, clothing


def test_only_the_folders_asked_for_are_written(tmp_path):
    ccp, clothing = _skirts_and_dresses(tmp_path, 1)
    counts = write_flat_lays(clothing, ccp, tmp_path / "out", CentreSession(), 5, 80, folders=("skirt",))
    assert counts == {"skirt": 1} and len(list((tmp_path / "out" / "labels").glob("*.png"))) == 1


def test_per_group_counts_give_every_garment_group_the_same_share():
    counts = per_group_counts(("dress", "skirt", "pants", "shorts", "t-shirt", "shirt", "longsleeve", "outwear"), 24)
    assert counts == {"dress": 24, "skirt": 8, "pants": 8, "shorts": 8,
                      "t-shirt": 6, "shirt": 6, "longsleeve": 6, "outwear": 6}
    assert per_group_counts(("skirt", "pants", "shirt"), 5) == {"skirt": 3, "pants": 2, "shirt": 5}  # remainder first


def test_a_count_per_folder_is_taken_from_each(tmp_path):
    ccp, clothing = _skirts_and_dresses(tmp_path, 3)
    counts = write_flat_lays(clothing, ccp, tmp_path / "out", CentreSession(), {"skirt": 1, "dress": 3}, 80,
                             folders=("skirt", "dress"))
    assert counts == {"skirt": 1, "dress": 3}


def test_extra_photos_must_share_the_label_ids(tmp_path):
    for name, names in (("a", {"0": "null", "1": "skirt"}), ("b", {"0": "null", "1": "dress"})):
        (tmp_path / name).mkdir()
        (tmp_path / name / "label_names.json").write_text(json.dumps(names))
    with pytest.raises(ValueError, match="label ids"):
        CCPSegmentation(tmp_path / "a", [], (32, 24), train=False, extra=tmp_path / "b")
