"""Query feedback: off ranks as the dot product; on, photos that look like most of the best matches rise."""

from __future__ import annotations

import numpy as np
import pytest

from garment_search.feedback import QueryFeedback, photo_scores, query_feedback, standardised
from garment_search.index_file import IndexFile
from garment_search.search import ProductIndex

# three photos of one look (a), one of another (b); the query leans a little towards b
LOOK_A = [[1.0, 0.0, 0.0], [0.95, 0.0, 0.31], [0.95, 0.0, -0.31]]
LOOK_B = [[0.0, 1.0, 0.0]]
QUERY = np.array([0.6, 0.62, 0.0], np.float32)


def test_off_is_the_dot_product():
    rows = np.random.default_rng(0).normal(size=(20, 5)).astype(np.float32)
    query = rows[3] + 0.1
    assert np.array_equal(photo_scores(rows, query), rows @ query)


def test_feedback_lifts_the_look_most_best_matches_share():
    rows = np.array(LOOK_A + LOOK_B, np.float32)
    assert int(np.argmax(photo_scores(rows, QUERY))) == 3  # alone, the query prefers b
    assert int(np.argmax(photo_scores(rows, QUERY, QueryFeedback(3, 0.5)))) == 0  # its best three are mostly a


def test_feedback_only_reorders_by_its_weight():
    """At a tiny weight the order is the query's own (z is monotone); more best rows than rows is fine."""
    rows = np.random.default_rng(1).normal(size=(30, 8)).astype(np.float32)
    query = rows[0] + rows[1]
    plain = np.argsort(-(rows @ query))
    assert np.array_equal(np.argsort(-photo_scores(rows, query, QueryFeedback(100, 1e-6))), plain)
    assert photo_scores(rows[:0], query, QueryFeedback(3, 0.5)).shape == (0,)


def test_standardised_scores():
    z = standardised(np.array([1.0, 2.0, 3.0]))
    assert z.mean() == pytest.approx(0) and z.std() == pytest.approx(1)
    assert np.array_equal(standardised(np.array([2.0, 2.0])), np.zeros(2))  # all equal: shifted only


def test_product_index_ranks_with_feedback():
    names = ["a", "a", "a2", "b"]
    idx = IndexFile("m", "s", "product", np.array(LOOK_A + LOOK_B, np.float32), names,
                    [f"{n}/{i}.jpg" for i, n in enumerate(names)], [""] * 4, [False] * 4)
    products = ProductIndex(idx)
    assert products.top(QUERY, 1)[0].product_name == "b"
    assert products.top(QUERY, 1, QueryFeedback(3, 0.5))[0].product_name == "a"


def test_setting_from_the_environment(monkeypatch):
    monkeypatch.delenv("QUERY_FEEDBACK", raising=False)
    assert query_feedback() is None
    for off in ("0", "off", " "):
        monkeypatch.setenv("QUERY_FEEDBACK", off)
        assert query_feedback() is None
    monkeypatch.setenv("QUERY_FEEDBACK", "3,0.25")
    assert query_feedback() == QueryFeedback(3, 0.25) and query_feedback().label == "fb3x0.25"
    for bad, says in (("three", "must be 'K,W'"), ("3", "must be 'K,W'"), ("0,0.5", "needs K >= 1 and W > 0"),
                      ("3,-1", "needs K >= 1 and W > 0")):
        monkeypatch.setenv("QUERY_FEEDBACK", bad)
        with pytest.raises(ValueError, match=f"QUERY_FEEDBACK {says}"):
            query_feedback()
    assert query_feedback("5,0.5", "--query-feedback") == QueryFeedback(5, 0.5)
