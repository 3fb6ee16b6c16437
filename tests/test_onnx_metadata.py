"""onnx_metadata reads an ONNX file's metadata_props as the onnx package does, without it or a session."""

from __future__ import annotations

import pytest

from garment_search.config import MODELS_DIR
from garment_search.onnx_metadata import onnx_metadata

onnx = pytest.importorskip("onnx")


def _model(props: dict[str, str]):
    from onnx import TensorProto, helper

    node = helper.make_node("Relu", ["x"], ["y"])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, "n"])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, "n"])])
    model = helper.make_model(graph, producer_name="test", doc_string="é" * 300)  # multi-byte lengths and text
    helper.set_model_props(model, props)
    return model


@pytest.mark.parametrize("props", [{}, {"input_height": "320", "input_width": "240"},
                                   {"k": "v" * 1000, "": "empty key", "ünï": "cødé"}])
def test_metadata_matches_the_onnx_package(tmp_path, props):
    path = tmp_path / "m.onnx"
    onnx.save(_model(props), str(path))
    assert onnx_metadata(path) == {p.key: p.value for p in onnx.load(str(path)).metadata_props} == props


@pytest.mark.parametrize("name", ["garment_groupnet.onnx", "garment_u2netp.onnx"])  # served; its body
def test_the_shipped_garment_models_record_their_input_size(name):
    path = MODELS_DIR / name
    if not path.exists():
        pytest.skip("garment model not present")
    assert onnx_metadata(path) == {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert onnx_metadata(path)["input_height"] == "320"


def test_a_file_that_is_not_onnx_is_refused(tmp_path):
    path = tmp_path / "junk.onnx"
    path.write_bytes(b"\x0f" * 8)  # wire type 7 does not exist in protocol buffers
    with pytest.raises(ValueError, match="not an ONNX model"):
        onnx_metadata(path)
    whole = tmp_path / "m.onnx"
    onnx.save(_model({"input_height": "320"}), str(whole))
    for cut in (len(whole.read_bytes()) - 3, 1):  # inside the last field; inside the first varint
        path.write_bytes(whole.read_bytes()[:cut])
        with pytest.raises(ValueError, match="not an ONNX model"):
            onnx_metadata(path)
