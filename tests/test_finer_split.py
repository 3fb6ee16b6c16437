"""A finer group split for the explicit-group keeps (``training.segmentation.finer_split``): one model whose
``keep=product`` and ``keep=garments`` read its served split, untouched, and whose ``upper``/``lower``/``one-piece``
read the mean of that split and other group networks'."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

from garment_search.images import DecodedImage  # noqa: E402
from garment_search.segmentation import cut_out, segmentation_maps  # noqa: E402
from garment_search.segmentation.groups import GARMENT_GROUPS  # noqa: E402
from garment_search.segmentation.sessions import (GARMENT_BODY_OUTPUT, GARMENT_MODEL_FILE,  # noqa: E402
                                                  GROUP_KEEP_METADATA, new_segmentation_session)
from training.segmentation.finer_split import _ancestors, check, graft, served_part  # noqa: E402

GROUPS = len(GARMENT_GROUPS)


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    """The served model's split alone (``base``), a stand-in for other group networks (``other``: the same body,
    its networks' last weights halved) and the two grafted (``grafted``)."""
    if not GARMENT_MODEL_FILE.exists():
        pytest.skip("garment model not present")
    folder = tmp_path_factory.mktemp("finer")
    base = served_part(onnx.load(str(GARMENT_MODEL_FILE)))
    onnx.save(base, str(folder / "base.onnx"))
    body = _ancestors(base.graph, GARMENT_BODY_OUTPUT)
    networks = {i for node in base.graph.node if node.name not in body and node.op_type == "Conv" for i in node.input[1:2]}
    for tensor in base.graph.initializer:
        if tensor.name in networks:
            weights = onnx.numpy_helper.to_array(tensor) * np.float32(0.5)
            tensor.CopyFrom(onnx.numpy_helper.from_array(weights, tensor.name))
    onnx.save(base, str(folder / "other.onnx"))
    grafted = graft(folder / "base.onnx", folder / "other.onnx")
    onnx.save(grafted, str(folder / "grafted.onnx"))
    return {name: folder / f"{name}.onnx" for name in ("base", "other", "grafted")}


def test_the_grafted_model_outputs_the_served_split_and_the_mean_of_both(models) -> None:
    assert check(models["grafted"], models["base"], models["other"]) < 1e-5
    meta = {p.key: p.value for p in onnx.load(str(models["grafted"])).metadata_props}
    assert meta[GROUP_KEEP_METADATA] == "0," + ",".join(str(c) for c in range(1 + GROUPS, 1 + 2 * GROUPS))
    assert {"input_height", "input_width"} <= meta.keys()  # the trained size travels with it


def test_a_grafted_model_grafts_again_from_its_served_part(models, tmp_path) -> None:
    """Another finer split replaces the first, the served one is never averaged twice."""
    again = graft(models["grafted"], models["other"])
    onnx.save(again, str(tmp_path / "again.onnx"))
    assert check(tmp_path / "again.onnx", models["base"], models["other"]) < 1e-5


def test_networks_on_another_body_are_refused(models, tmp_path) -> None:
    other = onnx.load(str(models["other"]))
    body = _ancestors(other.graph, GARMENT_BODY_OUTPUT)
    first = next(node.input[1] for node in other.graph.node if node.name in body and node.op_type == "Conv")
    for tensor in other.graph.initializer:
        if tensor.name == first:
            tensor.CopyFrom(onnx.numpy_helper.from_array(onnx.numpy_helper.to_array(tensor) * np.float32(2), first))
    onnx.save(other, str(tmp_path / "elsewhere.onnx"))
    grafted = graft(models["base"], tmp_path / "elsewhere.onnx")
    onnx.save(grafted, str(tmp_path / "grafted.onnx"))
    with pytest.raises(ValueError, match="another body"):
        check(tmp_path / "grafted.onnx", models["base"], tmp_path / "elsewhere.onnx")


def test_product_and_garments_read_the_served_split_and_explicit_groups_the_finer_one(models, monkeypatch) -> None:
    monkeypatch.setenv("SEGMENTATION_RUNTIME", "onnxruntime")
    photo = np.full((240, 180, 3), 200, dtype=np.uint8)
    photo[30:120, 50:130] = (180, 40, 60)  # a red top over blue trousers
    photo[120:220, 60:120] = (40, 60, 160)
    rgb = Image.fromarray(photo)
    sessions = {}
    for name in ("base", "grafted"):
        monkeypatch.setenv("GARMENT_MODEL_PATH", str(models[name]))
        sessions[name] = new_segmentation_session("garment", tta="mirror")
    base, grafted = sessions["base"], sessions["grafted"]
    assert base.group_keep_channels is None and grafted.group_keep_channels == [0, 4, 5, 6]
    readings = grafted.readings(rgb)
    assert readings.shape[0] == 1 + 2 * GROUPS
    np.testing.assert_allclose(readings[: 1 + GROUPS], base.readings(rgb), atol=1e-5)
    finer = readings[[0, *range(1 + GROUPS, 1 + 2 * GROUPS)]]
    assert np.abs(finer - readings[: 1 + GROUPS]).max() > 1e-3  # the other networks split differently
    for keep in ("product", "garments"):
        for ours, theirs in zip(segmentation_maps(grafted, rgb, keep), segmentation_maps(base, rgb, keep)):
            np.testing.assert_allclose(ours, theirs, atol=1e-5)
    image = DecodedImage(rgb, None)
    for keep in GARMENT_GROUPS:
        maps, pick = segmentation_maps(grafted, rgb, keep)
        np.testing.assert_allclose(pick, finer, atol=1e-6)
        np.testing.assert_allclose(maps, grafted.maps_from(readings, rgb, keep)[0], atol=1e-6)
    assert (cut_out(image, grafted, "product").mask == cut_out(image, base, "product").mask).all()
    assert grafted.probabilities(rgb).shape[0] == 1 + GROUPS  # rembg's interface: the served split
