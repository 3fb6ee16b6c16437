"""Garment segmentation: the one implementation used by remove_bg, the index builder, evaluation and tests.

    segmenter = load_segmenter()              # cached per process, model from SEGMENTATION_MODEL
    cutout = cut_out(decoded_image, segmenter, keep="product")
    cutout.rgb   # H×W×3 uint8, everything not kept is exactly 0
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from garment_search.images import DecodedImage
from garment_search.segmentation.groups import DEFAULT_KEEP, KEEP_CHOICES
from garment_search.segmentation.masks import (crop_to_mask, drops_garment, full_resolution_mask, kept_classes,
                                               kept_probability, lone_garment_probability)

if TYPE_CHECKING:  # the sessions (onnxruntime, rembg) load on first use: training imports the tables alone
    from garment_search.segmentation.sessions import SegmentationSession

__all__ = ["Cutout", "cut_out", "embedding_view", "garment_mask", "segmentation_maps", "mask_for_classes", "mask_from_probabilities", "load_segmenter", "load_index_segmenter", "KEEP_CHOICES", "DEFAULT_KEEP", "INDEX_TTA", "SegmentationSession"]

#: Index builds (and the evaluations that stand for them) run offline, so they always cut photos out with the
#: slower, better test-time-augmented garment maps (``sessions.READINGS["full"]``: 1× and 1.2×, each mirrored);
#: remove_bg follows SEGMENTATION_TTA (docs/benchmarks.md).
INDEX_TTA = "full"

_sessions: dict[tuple[str, bool | str | None, bool], SegmentationSession] = {}
_lock = threading.Lock()


def load_segmenter(name: str | None = None, tta: bool | str | None = None, for_index: bool = False) -> SegmentationSession:
    """The process-wide session for ``name`` (default ``$SEGMENTATION_MODEL`` or ``garment``), loaded once;
    ``tta`` forces a reading set (``sessions.READINGS`` name; True: ``full``, False: ``off``; default:
    ``SEGMENTATION_TTA``, auto); ``for_index``: cut out as index builds do (``load_index_segmenter``)."""
    from garment_search.segmentation.sessions import new_segmentation_session

    name = name or os.environ.get("SEGMENTATION_MODEL") or "garment"
    with _lock:
        if (name, tta, for_index) not in _sessions:
            _sessions[name, tta, for_index] = new_segmentation_session(name, tta, for_index)
        return _sessions[name, tta, for_index]


def load_index_segmenter(name: str | None = None, tta: bool | str = INDEX_TTA) -> SegmentationSession:
    """The session index builds cut the catalogue out with — and everything that must see photos as the index does
    (the embedding's training crops, its held-out evaluations): ``INDEX_TTA`` readings and the index's region
    pooling (``INDEX_SPLIT_REGIONS``, off: the served towers were trained on un-pooled cut-outs)."""
    return load_segmenter(name, tta, for_index=True)


def __getattr__(name: str):
    if name == "SegmentationSession":
        from garment_search.segmentation.sessions import SegmentationSession
        return SegmentationSession
    raise AttributeError(name)


@dataclass
class Cutout:
    """The answer of a background removal: pixels, the mask, and which groups were kept."""

    rgb: np.ndarray
    mask: np.ndarray
    kept: list[str]

    @property
    def has_garment(self) -> bool:
        return bool(self.mask.any())

    def garment_crop(self) -> np.ndarray:
        """The cut-out cropped to the kept garment's bounding box (what the embedder sees)."""
        return crop_to_mask(self.rgb, self.mask)


def mask_from_probabilities(image: DecodedImage, probs: np.ndarray, groups: tuple[str, ...], keep: str,
                            body_seen: Callable[[Image.Image], bool] | None = None,
                            pick: np.ndarray | None = None) -> tuple[np.ndarray, list[str]]:
    """Full-resolution boolean keep-mask and the kept group names (transparent source pixels never kept).

    ``keep=product``'s family is picked on ``pick`` (default ``probs``; a session's ``maps`` gives both), the mask
    cut from ``probs`` — unless ``probs`` would pick the other family: then the whole garment was moved across the
    family line by region pooling, and the mask is cut from ``pick`` (a pooled map of the picked family can be empty).

    With ``keep=product`` and a ``body_seen`` that finds no one wearing the photo's clothes (a flat lay, a hanger),
    the garment's outline is kept (``masks.lone_garment_probability``): one garment alone is the product, and the
    pixels inside it that the model gave to the other family are that garment's too. The kept names stay the
    product family's. ``body_seen`` is asked only when the family pick would drop garment pixels."""
    if keep not in KEEP_CHOICES:
        raise ValueError(f"keep must be one of {', '.join(KEEP_CHOICES)}")
    pooled = pick is not None and pick is not probs
    classes = kept_classes(pick if pooled else probs, groups, keep)
    if pooled and keep == "product" and kept_classes(probs, groups, keep) != classes:
        probs = pick  # pooling would carry the garment across the family line, and the picked family's map empty
    kept = kept_probability(probs, classes)
    if (keep == "product" and body_seen is not None and drops_garment(probs, kept)
            and not body_seen(image.rgb)):
        kept = lone_garment_probability(probs, kept)
    return _full_resolution(image, probs, kept, every_group=len(classes) == len(groups)), [groups[c - 1] for c in classes]


def mask_for_classes(image: DecodedImage, probs: np.ndarray, groups: tuple[str, ...], classes: list[int]) -> tuple[np.ndarray, list[str]]:
    """The keep-mask of the given class channels (``mask_from_probabilities`` once ``keep`` is resolved; the
    evaluation also asks it for the labelled family)."""
    kept = kept_probability(probs, classes)
    return _full_resolution(image, probs, kept, every_group=len(classes) == len(groups)), [groups[c - 1] for c in classes]


def _full_resolution(image: DecodedImage, probs: np.ndarray, kept: np.ndarray, every_group: bool) -> np.ndarray:
    """The full-resolution mask of a kept map; whether a region is a garment at all is judged on the garment
    probability (the kept map itself when every group is kept), transparent source pixels never kept."""
    mask = full_resolution_mask(kept, np.asarray(image.rgb), garment_prob=kept if every_group else 1.0 - probs[0])
    if image.alpha is not None:
        mask &= image.alpha >= 128
    return mask


def garment_mask(image: DecodedImage, segmenter: SegmentationSession, keep: str = DEFAULT_KEEP) -> tuple[np.ndarray, list[str]]:
    """Run the model once and return the keep-mask (see ``mask_from_probabilities``). Only a segmenter with the
    lone-garment rule on (``LONE_GARMENTS``) is asked whether a body is seen; any other, a test's stand-in
    included, takes every photo for a worn one without that check."""
    body_seen = segmenter.body_seen if getattr(segmenter, "lone_garments", False) else None
    probs, pick = segmentation_maps(segmenter, image.rgb, keep)
    return mask_from_probabilities(image, probs, segmenter.groups, keep, body_seen, pick)


def segmentation_maps(segmenter, rgb: Image.Image, keep: str = DEFAULT_KEEP) -> tuple[np.ndarray, np.ndarray]:
    """A segmenter's (mask maps, pick maps) for ``keep``: its ``maps`` where it has them (``GarmentSession``: pooled
    and plain, an explicit group's from its finer split), else its one map for both (the person baseline, the tests'
    stand-ins)."""
    maps = getattr(segmenter, "maps", None)
    if maps is None:
        probs = segmenter.probabilities(rgb)
        return probs, probs
    return maps(rgb, keep)


def cut_out(image: DecodedImage, segmenter: SegmentationSession, keep: str = DEFAULT_KEEP) -> Cutout:
    """Black out everything that is not the kept garment(s); kept pixels are copied unchanged."""
    mask, kept = garment_mask(image, segmenter, keep)
    rgb = np.asarray(image.rgb)
    return Cutout(np.where(mask[..., None], rgb, np.uint8(0)), mask, kept)


def embedding_view(image: DecodedImage, segmenter: SegmentationSession, keep: str = DEFAULT_KEEP):
    """What the embedder sees of a catalogue photo: the cut-out cropped to the garment, tagged with the groups it
    kept (``families.tag_kept_groups``) and its hem's place on the leg (``hem_lengths.measure_hem``), or — when no
    garment is found (a size chart) — the original photo. Returns ``(PIL image, no_garment)``."""
    from garment_search.families import tag_kept_groups
    from garment_search.hem_lengths import measure_hem

    cutout = cut_out(image, segmenter, keep)
    if cutout.has_garment:
        view = tag_kept_groups(Image.fromarray(cutout.garment_crop()), cutout.kept)
        return measure_hem(view, image.rgb, cutout.mask), False
    return image.rgb, True
