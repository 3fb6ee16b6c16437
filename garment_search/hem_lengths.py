"""Hem lengths in search: the length a query names (mini, midi, maxi) against where the cut-out's hem falls on the body.

Shoppers write "maxi dress", "midi skirt", "mini skirt", "knee length dress"; no training caption used those words, so
the towers' vocabulary view drops them, and no pixel statistic of the cut-out measures them: a maxi skirt cropped to
its bounding box looks like a mini skirt. The photo does: with the pose model's hips, knees and ankles, the hem's
height on the leg says which it is. The index measures it when it cuts a photo out (``measure_hem``, recorded in the
view's ``info`` as ``tag_kept_groups`` records the kept groups) and search's length channel
(``garment_search.embedding.measured_channels``) credits views whose hem is the named length.

t = (hem − knee) / (ankle − knee): 0 at the knee, 1 at the ankle, negative above the knee. A view gets a soft
profile over ``LENGTHS`` around the boundaries ``MINI_ENDS`` and ``MIDI_ENDS``; nothing (zeros) where the pose does not
show hips and knees, or where the kept garment ends above the thigh (a top: its hem says nothing of a skirt's).
The photo side imports the pose model where it runs: search reads queries without it.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from PIL import Image

from garment_search.query_words import longest_first, phrase_weights

LENGTHS: tuple[str, ...] = ("mini", "midi", "maxi")
#: What shoppers write for each (whole words; hyphens read as spaces: "knee-length").
LENGTH_QUERY_WORDS: dict[str, tuple[str, ...]] = {
    "mini": ("mini", "minis", "miniskirt", "miniskirts", "minidress", "short skirt", "short skirts", "short dress",
             "short dresses", "above the knee", "above knee", "micro"),
    "midi": ("midi", "midis", "knee length", "below the knee", "below knee", "calf length", "mid length",
             "tea length", "mid calf"),
    "maxi": ("maxi", "maxis", "long skirt", "long skirts", "long dress", "long dresses", "floor length",
             "ankle length", "full length", "gown", "gowns"),
}
_LENGTH_PHRASES = longest_first((w, (LENGTHS.index(n),)) for n, ws in LENGTH_QUERY_WORDS.items() for w in ws)
#: ``info`` key of a view's measured hem (t, or absent).
HEM_INFO = "garment_search.hem"
#: t where mini gives way to midi (just above the knee) and midi to maxi (low on the calf), and the softness of each.
MINI_ENDS, MIDI_ENDS, SOFTNESS = -0.05, 0.6, 0.08
#: A kept garment must reach this far from the hips towards the knees for its hem to count (a top stops at the hips).
THIGH_REACH = 0.25


def query_lengths(text: str) -> np.ndarray:
    """Weights over LENGTHS for the hem lengths a query names (each named one an equal part; zeros for none)."""
    return phrase_weights(text, _LENGTH_PHRASES, len(LENGTHS))


def _level(keypoints: np.ndarray, pair: tuple[int, int]) -> float | None:
    """Mean height (y) of the confident keypoints of ``pair``, or None."""
    from garment_search.segmentation.pose import MIN_KEYPOINT_SCORE

    seen = [keypoints[i, 1] for i in pair if keypoints[i, 2] >= MIN_KEYPOINT_SCORE]
    return float(np.mean(seen)) if seen else None


def hem_position(mask: np.ndarray, keypoints: np.ndarray) -> float | None:
    """t of the kept garment's hem (the 99th percentile of its rows) on the leg; None without hips and knees, or
    for a garment that ends above the thigh."""
    from garment_search.segmentation.pose import ANKLES, HIPS, KNEES

    hip, knee = _level(keypoints, HIPS), _level(keypoints, KNEES)
    if hip is None or knee is None or knee - hip < 2:
        return None
    rows = np.nonzero(mask.any(axis=1))[0]
    if len(rows) == 0:
        return None
    weights = mask[rows].sum(axis=1)
    hem = float(rows[np.searchsorted(np.cumsum(weights), 0.99 * weights.sum())])
    if hem < hip + THIGH_REACH * (knee - hip):
        return None
    ankle = _level(keypoints, ANKLES)
    if ankle is None or ankle - knee < 2:
        ankle = knee + (knee - hip)  # a shin is about as long as a thigh
    return (hem - knee) / (ankle - knee)


def length_profile_of(t: float | None) -> np.ndarray:
    """Soft P(mini, midi, maxi) for a hem at ``t``; zeros for None."""
    if t is None:
        return np.zeros(len(LENGTHS), np.float32)
    past_mini, past_midi = (1 / (1 + np.exp(-(t - edge) / SOFTNESS)) for edge in (MINI_ENDS, MIDI_ENDS))
    return np.array([1 - past_mini, past_mini - past_midi, past_midi], np.float32)


def _pose_reader():
    """The process's pose reader (``pose.pose_reader``), shared with the segmentation."""
    from garment_search.segmentation.pose import pose_reader

    return pose_reader()


def measure_hem(view: Image.Image, photo: Image.Image, mask: np.ndarray) -> Image.Image:
    """Record on ``view`` (the embedded cut-out of ``photo``) its hem's t, read with the pose of ``photo`` and the
    full-resolution keep-``mask``; nothing is recorded where ``hem_position`` has no answer."""
    t = hem_position(mask, _pose_reader().keypoints(photo))
    if t is not None:
        view.info[HEM_INFO] = t
    return view


def hem_length_profile(image: Image.Image) -> np.ndarray:
    """The length profile of a view ``measure_hem`` tagged; zeros for any other image."""
    return length_profile_of(image.info.get(HEM_INFO))


@cache
def pose_version() -> str:
    """The pose model's hash: part of the channel's identity (another pose model measures other hems)."""
    from garment_search.config import POSE_MODEL_FILE
    from garment_search.identity import file_digest

    return file_digest(POSE_MODEL_FILE, 8)
