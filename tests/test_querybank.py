"""Querybank normalisation: a photo close to every query is pulled down, folded into one vector column."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from garment_search.embedding.querybank import (QUERYBANK_TOP, QueryBankNormalised, as_served, bank_texts,
                                                querybank_weight, with_querybank)


class Inner:
    """A stand-in embedder: a text's vector by its colour words, a photo's by its colour (grey: every direction)."""

    identity = "stand-in@test"

    def __init__(self) -> None:
        self.texts = 0

    def load(self) -> "Inner":
        return self

    def encode_text(self, text: str) -> np.ndarray:
        self.texts += 1
        v = np.array([1.0 if "red" in text else 0.0, 1.0 if "green" in text else 0.0, 0.2])
        return (v / np.linalg.norm(v)).astype(np.float32)

    def encode_images(self, images, batch_size: int = 32) -> np.ndarray:
        out = []
        for im in images:
            r, g, _ = np.asarray(im)[0, 0]
            v = np.array([1.0, 1.0, 1.0]) if r == g else np.array([r > g, g > r, 0.1], float)
            out.append(v / np.linalg.norm(v))
        return np.array(out, np.float32)


def photo(rgb: tuple[int, int, int]) -> Image.Image:
    return Image.new("RGB", (4, 4), rgb)


def test_the_bank_is_every_colour_and_caption_noun_in_three_templates():
    texts = bank_texts()
    assert len(texts) == len(set(texts)) == 3762
    assert {"a photo of a red tunic", "women's navy blue jeans", "dress in mustard"} <= set(texts)


def test_photos_carry_minus_weight_times_their_centrality_and_queries_a_one():
    inner = Inner()
    qb = QueryBankNormalised(inner, 0.5)
    photos = qb.encode_images([photo((200, 10, 10)), photo((128, 128, 128))])
    plain = inner.encode_images([photo((200, 10, 10)), photo((128, 128, 128))])
    bank = np.stack([inner.encode_text(t) for t in bank_texts()])
    r = np.sort(plain @ bank.T, axis=1)[:, -QUERYBANK_TOP:].mean(axis=1)
    assert np.allclose(photos[:, :3], plain) and np.allclose(photos[:, 3], -0.5 * r)
    assert qb.encode_text("red tunic")[-1] == 1.0
    assert qb.identity == "stand-in@test+qb0.5"


def test_search_side_needs_no_bank():
    """Only the index builder computes centrality: encoding a query never encodes the bank."""
    inner = Inner()
    QueryBankNormalised(inner, 0.5).encode_text("red tunic")
    assert inner.texts == 1


def test_weight_zero_leaves_the_embedder_as_is_and_bad_weights_are_refused(monkeypatch):
    inner = Inner()
    assert with_querybank(inner, 0) is inner
    monkeypatch.delenv("QUERYBANK_WEIGHT", raising=False)
    assert querybank_weight() == 0.5 and with_querybank(inner).identity.endswith("+qb0.5")
    monkeypatch.setenv("QUERYBANK_WEIGHT", "0.25")
    assert as_served(inner, colour=0, pattern=0, family=0, sleeve=0).identity == "stand-in@test+qb0.25"
    for bad in ("lots", "-1", "nan"):
        monkeypatch.setenv("QUERYBANK_WEIGHT", bad)
        with pytest.raises(ValueError, match="QUERYBANK_WEIGHT must be a number"):
            querybank_weight()


def test_search_side_imports_neither_opencv_nor_torch():
    """The search container reads queries through the querybank wrapper: importing it must stay light."""
    import subprocess
    import sys

    code = ("import sys; from garment_search.embedding.querybank import as_served; "
            "assert 'cv2' not in sys.modules and 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_model_encodes_each_text_once_however_many_scoring_variants_read_it(monkeypatch):
    """An evaluation grid wraps one model in several channel weightings; each builds its own bank, but the model's
    text vectors are cached, so the 3,762 bank texts run through the text tower once. The cache is bounded and
    hands out copies."""
    pytest.importorskip("torch")
    from garment_search.embedding import Embedder, querybank

    monkeypatch.setattr(querybank, "_banks", {})  # this test's fake vectors must not become the real model's bank
    model = Embedder()
    calls = []

    def fake_encode(text: str) -> np.ndarray:
        calls.append(text)
        v = np.zeros(8, np.float32)
        v[hash(text) % 8] = 1.0
        return v

    monkeypatch.setattr(model, "_encode_text", fake_encode)
    first = as_served(model, 0.05, 0.1, 0.05, 0.05, 0.5).bank()
    second = as_served(model, 0.0, 0.0, 0.0, 0.0, 0.5).bank()
    assert len(calls) == len(bank_texts()) and len(first) == len(second) == len(bank_texts())
    vector = model.encode_text("a red skirt")
    vector[:] = 7
    assert model.encode_text("a red skirt").max() == 1.0 and calls.count("a red skirt") == 1
    monkeypatch.setattr(model, "text_cache_size", 2)
    for text in ("a", "b", "c"):
        model.encode_text(text)
    model.encode_text("a")  # evicted by b and c
    assert calls[-4:] == ["a", "b", "c", "a"] and len(model._texts) == 2
