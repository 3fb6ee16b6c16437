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
