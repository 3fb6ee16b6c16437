"""The segmentation trainer's batches are a function of (epoch seed, photo) alone: parallel loader processes give
the very batches the in-process loop gives, so a GPU run and a resumed CPU run see the same samples."""

import json

import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch")

from training.segmentation.data import CCPSegmentation  # noqa: E402
from training.segmentation.train import BatchStream  # noqa: E402


@pytest.fixture(scope="module")
def ccp_like(tmp_path_factory):
    """Six drawn photos in CCP's layout: a shirt over a skirt on a noisy street."""
    root = tmp_path_factory.mktemp("ccp")
    (root / "images").mkdir()
    (root / "labels").mkdir()
    (root / "label_names.json").write_text(json.dumps({"0": "null", "1": "skin", "2": "shirt", "3": "skirt"}))
    rng = np.random.default_rng(0)
    for i in range(1, 7):
        photo = rng.integers(0, 255, (120, 80, 3), dtype=np.uint8)
        labels = np.zeros((120, 80), np.uint8)
        labels[20:60, 20:60], labels[60:100, 25:55] = 2, 3
        photo[labels == 2] = (200, 30, 30)
        Image.fromarray(photo).save(root / "images" / f"{i:04d}.jpg")
        Image.fromarray(labels).save(root / "labels" / f"{i:04d}.png")
    return CCPSegmentation(root, range(1, 7), (64, 48), train=True, cache_height=96)


def batches(data, workers: int, seed: int, order: list[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return list(BatchStream(data, batch=2, workers=workers).epoch(seed, order))


def test_loader_processes_give_the_in_process_batches(ccp_like):
    order = [4, 0, 2, 5, 1, 3]
    for seed in (1000, 1001):
        alone, parallel = batches(ccp_like, 0, seed, order), batches(ccp_like, 2, seed, order)
        assert len(alone) == len(parallel) == 3
        for (xa, ya), (xp, yp) in zip(alone, parallel):
            assert torch.equal(xa, xp) and torch.equal(ya, yp)


def test_each_epoch_draws_new_augmentations_of_the_same_photos(ccp_like):
    order = list(range(6))
    first, second = batches(ccp_like, 2, 1000, order), batches(ccp_like, 2, 1001, order)
    assert not all(torch.equal(a[0], b[0]) for a, b in zip(first, second))


def test_persistent_loader_follows_the_epoch_seed(ccp_like):
    stream = BatchStream(ccp_like, batch=2, workers=2)
    order = list(range(6))
    epoch_a, epoch_b, epoch_a_again = (list(stream.epoch(seed, order)) for seed in (7, 8, 7))
    assert all(torch.equal(x[0], y[0]) for x, y in zip(epoch_a, epoch_a_again))
    assert not all(torch.equal(x[0], y[0]) for x, y in zip(epoch_a, epoch_b))


def test_loss_is_the_class_weighted_cross_entropy_it_replaced():
    from training.segmentation.train import SIDE_WEIGHT, segmentation_loss

    g = torch.Generator().manual_seed(0)
    outputs = [torch.randn(2, 4, 8, 6, generator=g) for _ in range(3)]
    target = torch.randint(0, 4, (2, 8, 6), generator=g)
    weights = torch.tensor([1.0, 1.0, 1.3, 1.7, 0.0])  # the last: HARD_NEGATIVE's, no such pixel here
    expected = torch.nn.functional.cross_entropy(outputs[0], target, weight=weights[:4]) + SIDE_WEIGHT * sum(
        torch.nn.functional.cross_entropy(o, target, weight=weights[:4]) for o in outputs[1:]) / 2
    assert segmentation_loss(outputs, target, weights) == pytest.approx(float(expected), rel=1e-5)


def test_head_coverings_are_background_with_their_own_weight():
    from training.segmentation.data import HARD_NEGATIVE
    from training.segmentation.train import segmentation_loss

    logits = torch.zeros(1, 4, 4, 4)
    logits[0, 1] = 3.0  # the model calls every pixel "upper"
    target = torch.zeros(1, 4, 4, dtype=torch.long)
    target[0, :2] = 1  # a top ...
    hard = target.clone()
    hard[0, 2:, :2] = HARD_NEGATIVE  # ... and a scarf under it, labelled background in both
    plain = segmentation_loss([logits, logits], target, torch.tensor([1.0, 1.0, 1.0, 1.0, 1.0]))
    assert segmentation_loss([logits, logits], hard, torch.tensor([1.0, 1.0, 1.0, 1.0, 1.0])) == pytest.approx(float(plain))
    assert segmentation_loss([logits, logits], hard, torch.tensor([1.0, 1.0, 1.0, 1.0, 4.0])) > plain


def test_hard_negative_targets_mark_scarves_only_when_asked(tmp_path):
    from training.segmentation.data import HARD_NEGATIVE, ccp_target_table

    (tmp_path / "label_names.json").write_text(json.dumps({"0": "null", "1": "scarf", "2": "shirt", "3": "hat",
                                                           "4": "skin"}))
    assert ccp_target_table(tmp_path, hard_negatives=False).tolist() == [0, 0, 1, 0, 0]
    assert ccp_target_table(tmp_path, hard_negatives=True).tolist() == [0, HARD_NEGATIVE, 1, HARD_NEGATIVE, 0]


def test_family_loss_charges_a_dress_read_as_a_skirt_not_as_a_top():
    from training.segmentation.train import family_cross_entropy, segmentation_loss

    target = torch.full((1, 4, 4), 3, dtype=torch.long)  # a dress (one-piece) everywhere
    as_top, as_skirt = torch.zeros(1, 4, 4, 4), torch.zeros(1, 4, 4, 4)
    as_top[0, 1], as_skirt[0, 2] = 8.0, 8.0  # confident "upper" / confident "lower"
    assert family_cross_entropy(as_top, target).max() < 0.01  # same family: the product pick is unharmed
    assert family_cross_entropy(as_skirt, target).min() > 7.0
    ones = torch.ones(5)
    for logits in (as_top, as_skirt):  # the term adds exactly weight × its pixel mean to the group loss
        extra = segmentation_loss([logits, logits], target, ones, 0.5) - segmentation_loss([logits, logits], target, ones)
        assert float(extra) == pytest.approx(0.5 * float(family_cross_entropy(logits, target).mean()), abs=1e-5)
