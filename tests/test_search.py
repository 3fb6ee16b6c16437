"""The search function: answers, ordering, uniqueness, n, validation, errors, concurrency, real HTTP."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import requests

from conftest import load_function
from garment_search.index_file import IndexFile
from garment_search.search import ProductIndex
from index import build as index_build
from test_index import embedder, gcs_emulator, make_catalogue, model_embedder  # noqa: F401 - shared fixtures
from test_remove_bg_http import start_function


@pytest.fixture(scope="module")
def search_index(tmp_path_factory, catalogue, embedder):  # noqa: F811
    root = make_catalogue(tmp_path_factory.mktemp("cat") / "catalogue", catalogue)
    out = tmp_path_factory.mktemp("idx") / "tiny.npz"
    index_build.build(str(root), str(out), embedder=embedder)
    return out


@pytest.fixture(scope="module")
def search_fn(search_index):
    fn = load_function("functions/search/main.py", "search")
    fn.module.INDEX_PATH = str(search_index)
    fn.module._searcher = None
    return fn


@pytest.fixture()
def client(search_fn):
    return search_fn.app.test_client()


def ask(client, body):
    return client.post("/", data=json.dumps(body), content_type="application/json")


def test_answer_shape_order_and_uniqueness(client):
    resp = ask(client, {"text": "pastel coloured tunic", "n": 5})
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    hits = resp.get_json()
    assert len(hits) == 3  # min(n, products)
    assert all(set(h) == {"product_name", "url", "score"} for h in hits)
    assert len({h["product_name"] for h in hits}) == len(hits)
    keys = [(-h["score"], h["product_name"]) for h in hits]
    assert keys == sorted(keys)
    assert all(isinstance(h["score"], float) and round(h["score"], 4) == h["score"] and -1 <= h["score"] <= 1 for h in hits)
    assert all(h["url"].split("/")[-2] == h["product_name"] for h in hits)


def test_default_n_and_n_one(client):
    assert len(ask(client, {"text": "shirt"}).get_json()) == 3
    assert len(ask(client, {"text": "shirt", "n": 1}).get_json()) == 1


def test_score_is_best_photo_similarity(client, search_index, embedder):  # noqa: F811
    index = IndexFile.load(str(search_index))
    query = embedder.encode_text("orange checked shirt")
    sims = index.embeddings @ query
    for hit in ask(client, {"text": "orange checked shirt", "n": 3}).get_json():
        rows = [i for i, p in enumerate(index.products) if p == hit["product_name"]]
        rows = [i for i in rows if not index.no_garment[i]] or rows  # size charts do not represent a product
        best = max(rows, key=lambda i: sims[i])
        assert hit["url"] == index.paths[best]
        assert hit["score"] == pytest.approx(round(float(sims[best]), 4), abs=1e-4)


def test_ranking_ignores_product_names(tmp_path, catalogue, embedder):  # noqa: F811
    """Renaming the product folders changes no score: only the photos are ranked."""
    a = make_catalogue(tmp_path / "a", catalogue)
    b = make_catalogue(tmp_path / "b", catalogue, names=["red-dress", "blue-jeans", "pastel-tunic"])
    ia = ProductIndex(index_build.build(str(a), str(tmp_path / "a.npz"), embedder=embedder))
    ib = ProductIndex(index_build.build(str(b), str(tmp_path / "b.npz"), embedder=embedder))
    for text in ("red dress", "blue jeans", "pastel tunic"):
        q = embedder.encode_text(text)
        assert sorted(h.score for h in ia.top(q, 3)) == sorted(h.score for h in ib.top(q, 3))


@pytest.mark.parametrize("text", ["kırmızı tunik", "红色连衣裙", "зелёная рубашка", "🌸 floral tunic", "  padded  "])
def test_non_ascii_and_padded_queries(client, text):
    resp = ask(client, {"text": text, "n": 2})
    assert resp.status_code == 200 and len(resp.get_json()) == 2


@pytest.mark.parametrize("body", [
    {}, {"text": ""}, {"text": "   "}, {"text": None}, {"text": 5}, {"text": ["a"]}, {"text": "x" * 1001},
    {"text": "a", "n": 0}, {"text": "a", "n": 1001}, {"text": "a", "n": True}, {"text": "a", "n": 2.0},
    {"text": "a", "n": "5"}, {"text": "a", "n": None},
])
def test_invalid_input_is_400(client, body):
    resp = ask(client, body)
    assert resp.status_code == 400 and set(resp.get_json()) == {"error"}


def test_max_length_text_is_accepted(client):
    assert ask(client, {"text": "é" * 1000, "n": 1}).status_code == 200


@pytest.mark.parametrize("data", [b"not json", b"[]", b"\xff\xfe", b"{" * 50_000])
def test_body_not_json_object_is_400(client, data):
    resp = client.post("/", data=data, content_type="application/json")
    assert resp.status_code in (400, 413) and "error" in resp.get_json()


def test_other_methods_405_and_get_describes(client):
    assert client.put("/", json={"text": "a"}).status_code == 405
    body = client.get("/").get_json()
    assert body["service"] == "search" and body["products"] == 3 and body["default_n"] == 5
    assert body["text_encoder"] == "OnnxTextEncoder"  # torch-free serving path by default
    assert body["query_vocabulary_view"] is True
    assert body["query_inflections"] is True and body["query_completion"] is True  # "pink tunics", "pink"
    assert body["query_synonyms"] is False  # measured and refused (stop 26)
    assert body["query_colour_names"] is False  # measured and refused (stop 27)
    assert body["channel_weights"] == {"colour": 0.05, "pattern": 0.1, "family": 0.05, "sleeve": 0.05}  # served
    assert body["querybank_weight"] == 0.5
    assert body["query_feedback_top"] == 0 and body["query_feedback_weight"] == 0  # off unless QUERY_FEEDBACK is set


def test_unusable_index_is_503(search_fn, tmp_path, monkeypatch):
    (tmp_path / "bad.npz").write_bytes(b"not an index")
    for path in (tmp_path / "bad.npz", tmp_path / "missing.npz"):
        monkeypatch.setattr(search_fn.module, "INDEX_PATH", str(path))
        monkeypatch.setattr(search_fn.module, "_searcher", None)
        resp = ask(search_fn.app.test_client(), {"text": "tunic"})
        assert resp.status_code == 503 and "error" in resp.get_json()


def test_query_feedback_is_served_when_set_and_a_bad_setting_is_503(search_fn, monkeypatch):
    monkeypatch.setattr(search_fn.module, "_searcher", None)
    monkeypatch.setenv("QUERY_FEEDBACK", "3,0.25")
    client = search_fn.app.test_client()
    body = client.get("/").get_json()
    assert body["query_feedback_top"] == 3 and body["query_feedback_weight"] == 0.25
    hits = ask(client, {"text": "pastel coloured tunic", "n": 3}).get_json()
    assert len({h["product_name"] for h in hits}) == 3 and [h["score"] for h in hits] == sorted(
        (h["score"] for h in hits), reverse=True)
    monkeypatch.setattr(search_fn.module, "_searcher", None)
    monkeypatch.setenv("QUERY_FEEDBACK", "many")
    resp = ask(client, {"text": "tunic"})
    assert resp.status_code == 503 and "QUERY_FEEDBACK" in resp.get_json()["error"]


def test_index_of_another_model_is_503(search_fn, search_index, tmp_path, monkeypatch):
    index = IndexFile.load(str(search_index))
    index.model = "ViT-B-32@laion2b_s34b_b79k"
    index.save(str(tmp_path / "other.npz"))
    monkeypatch.setattr(search_fn.module, "INDEX_PATH", str(tmp_path / "other.npz"))
    monkeypatch.setattr(search_fn.module, "_searcher", None)
    resp = ask(search_fn.app.test_client(), {"text": "tunic"})
    assert resp.status_code == 503 and "model" in resp.get_json()["error"]


@pytest.mark.parametrize("variable, weight, says", [("COLOUR_WEIGHT", "0.2", "colour0.2"),
                                                    ("COLOUR_WEIGHT", "strong", "COLOUR_WEIGHT must be a number"),
                                                    ("FAMILY_WEIGHT", "0", "family0.05"),
                                                    ("QUERYBANK_WEIGHT", "0.25", "qb0.5"),
                                                    ("QUERYBANK_WEIGHT", "0", "qb0.5"),
                                                    ("QUERYBANK_WEIGHT", "lots", "QUERYBANK_WEIGHT must be a number"),
                                                    ("QUERY_VOCABULARY_VIEW", "sometimes", "must be 1 or 0")])
def test_index_built_with_another_channel_weight_or_a_bad_setting_is_503(search_fn, monkeypatch, variable, weight,
                                                                         says):
    """A channel's weight is part of the model: an index built at the served weights is not queried at others
    (the error names the index's model), and a weight that is not a number, or a query-reading switch that is
    not 1 or 0, is a clear 503, not a crash."""
    monkeypatch.setenv(variable, weight)
    monkeypatch.setattr(search_fn.module, "_searcher", None)
    resp = ask(search_fn.app.test_client(), {"text": "navy blue tunic"})
    assert resp.status_code == 503 and says in resp.get_json()["error"]
    monkeypatch.setattr(search_fn.module, "_searcher", None)  # the next test loads the served configuration


def test_concurrent_queries_agree(client, search_fn):
    texts = ["red", "blue tunic", "floral", "black shirt"] * 5
    expected = {t: ask(client, {"text": t, "n": 3}).get_json() for t in set(texts)}

    def run(t):
        return t, ask(search_fn.app.test_client(), {"text": t, "n": 3}).get_json()

    with ThreadPoolExecutor(8) as pool:
        for t, got in pool.map(run, texts):
            assert got == expected[t]


def test_ties_break_by_product_name():
    idx = IndexFile("m", "s", "product", np.array([[1, 0], [1, 0], [0, 1]], np.float32),
                    ["b", "a", "c"], ["b/1.jpg", "a/1.jpg", "c/1.jpg"], ["", "", ""], [False] * 3)
    hits = ProductIndex(idx).top(np.array([1, 0], np.float32), 3)
    assert [h.product_name for h in hits] == ["a", "b", "c"] and hits[0].score == 1.0


def test_photos_without_garment_do_not_represent_their_product():
    """A size chart (no garment) matching the query best must not lift its product; a product whose photos
    all lack a garment is still ranked by them."""
    idx = IndexFile("m", "s", "product", np.array([[1, 0], [0.2, 0.98], [0.6, 0.8], [0.9, 0.44]], np.float32),
                    ["a", "a", "b", "c"], ["a/chart.jpg", "a/1.jpg", "b/1.jpg", "c/chart.jpg"], [""] * 4,
                    [True, False, False, True])
    hits = ProductIndex(idx).top(np.array([1, 0], np.float32), 3)
    assert [(h.product_name, h.url) for h in hits] == [("c", "c/chart.jpg"), ("b", "b/1.jpg"), ("a", "a/1.jpg")]


def test_search_over_real_http(search_index):
    proc, base = start_function("functions/search/main.py", "search", {"INDEX_PATH": str(search_index)})
    try:
        resp = requests.post(base, json={"text": "pastel coloured tunic", "n": 5}, timeout=60)
        assert resp.status_code == 200 and len(resp.json()) == 3
        resp = requests.post(base, json={"text": ""}, timeout=60)
        assert resp.status_code == 400 and "error" in resp.json()
    finally:
        proc.terminate()
        proc.wait(10)


def test_index_on_cloud_storage(search_fn, search_index, gcs_emulator, monkeypatch):  # noqa: F811
    gcs_emulator.write_bytes("gs://shop/index/tiny.npz", search_index.read_bytes())
    monkeypatch.setattr(search_fn.module, "INDEX_PATH", "gs://shop/index/tiny.npz")
    monkeypatch.setattr(search_fn.module, "_searcher", None)
    resp = ask(search_fn.app.test_client(), {"text": "tunic", "n": 2})
    assert resp.status_code == 200 and len(resp.get_json()) == 2
