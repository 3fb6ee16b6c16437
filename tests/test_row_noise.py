"""How much a held-out row moves by chance (training.embedding.row_noise)."""

import numpy as np
import pytest

from training.embedding.row_noise import PRECISION_STEP, noise_of, paired_noise


def test_a_row_of_identical_scores_has_no_noise():
    n = noise_of([0.5] * 20)
    assert n["queries"] == 20 and n["mean"] == 0.5 and n["standard_error"] == 0 and n["half_width"] == 0
    assert n["one_place"] == pytest.approx(0.025)  # an MRR query from rank 1 to rank 2
    assert noise_of([0.9] * 10, PRECISION_STEP)["one_place"] == pytest.approx(0.01)  # a photo out of a top 10


def test_the_bootstrap_half_width_is_about_two_standard_errors():
    values = list(np.random.default_rng(1).uniform(0, 1, 200))
    n = noise_of(values)
    assert n["half_width"] == pytest.approx(1.96 * n["standard_error"], rel=0.1)
    assert n == noise_of(values)  # seeded: the same row gives the same numbers


def test_a_paired_difference_counts_the_queries_that_moved():
    served = [1.0] * 29 + [0.5]
    candidate = [1.0] * 29 + [0.2]  # one query fell from rank 2 to rank 5
    p = paired_noise(served, candidate)
    assert p["queries"] == 30 and p["moved"] == 1 and p["difference"] == pytest.approx(-0.01)
    assert p["low"] <= p["difference"] <= p["high"] == 0.0  # one query: the interval reaches no change


def test_runs_that_asked_different_queries_are_not_compared():
    with pytest.raises(ValueError, match="different queries"):
        paired_noise([1.0, 0.5], [1.0])
