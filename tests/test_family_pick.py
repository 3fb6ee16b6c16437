"""The product-pick study's pieces: folds that never overlap, the shipped rule reproduced exactly, and fitted
rules that find the cut the data asks for."""

import numpy as np
import pytest

pytest.importorskip("torch")

from garment_search.segmentation.groups import GARMENT_GROUPS, PRODUCT_FAMILIES  # noqa: E402
from garment_search.segmentation.masks import kept_classes  # noqa: E402
from training.segmentation.data import TRAIN_IDS, fold_ids  # noqa: E402
from training.segmentation.family_pick import (RULES, fit_logistic, fit_threshold, map_features,  # noqa: E402
                                               rule_inputs)


def test_folds_partition_the_training_photos():
    held = [fold_ids(k, 3)[1] for k in (1, 2, 3)]
    assert sorted(i for h in held for i in h) == list(TRAIN_IDS)
    for k in (1, 2, 3):
        train, out = fold_ids(k, 3)
        assert not set(train) & set(out) and len(train) + len(out) == len(TRAIN_IDS)
        assert min(out) <= 3 and max(out) >= 598  # each fold spans the whole id range
    with pytest.raises(ValueError):
        fold_ids(0, 3)


def test_the_shipped_rule_is_the_serving_pick():
    rng = np.random.default_rng(1)
    for _ in range(200):
        logits = rng.normal(size=(4, 12, 9)) * rng.uniform(0.5, 4)
        probs = np.exp(logits) / np.exp(logits).sum(0)
        serving = kept_classes(probs.astype(np.float32), GARMENT_GROUPS, "product") == list(PRODUCT_FAMILIES[0])
        decide = RULES["argmax pixels (shipped)"][1]
        assert decide(rule_inputs(map_features(probs)[None]), None)[0] == serving


def test_a_tie_goes_to_the_top_family_as_in_serving():
    probs = np.zeros((4, 2, 2), np.float32)
    probs[1, 0, :] = 1  # two upper pixels
    probs[2, 1, :] = 1  # two lower pixels
    assert RULES["argmax pixels (shipped)"][1](rule_inputs(map_features(probs)[None]), None)[0]
    assert kept_classes(probs, GARMENT_GROUPS, "product") == list(PRODUCT_FAMILIES[0])


def test_fitted_rules_find_a_shifted_boundary():
    rng = np.random.default_rng(2)
    score = rng.normal(size=400)
    truth = score >= 0.5  # the model over-counts the top family: the right cut is 0.5, not 0
    weight = rng.uniform(0.1, 0.3, size=400)
    cut = fit_threshold(score, truth, weight)
    assert 0.4 < cut < 0.6
    x = np.stack([score, rng.normal(size=400)], axis=1)
    beta = fit_logistic(x, truth.astype(float), weight)
    assert (beta[0] + x @ beta[1:] >= 0).mean() == pytest.approx(truth.mean(), abs=0.03)
    assert abs(beta[2]) < abs(beta[1]) / 5  # the noise input is ignored


def test_a_training_script_s_fold_option_picks_its_photos():
    from training.segmentation.data import VAL_IDS, split_ids

    assert split_ids(None) == (TRAIN_IDS, VAL_IDS)
    assert split_ids("2/3") == fold_ids(2, 3)
