"""Sleeve length of a top's cut-out, and the sleeve lengths a query names: search's sleeve channel.

Shoppers write "short sleeve tunic", "sleeveless dress", "long sleeve shirt"; no caption ever said it and no pixel
statistic measures it, but the cut-out's shape does: with the background, skin and face black, a long sleeve is
an arm-shaped part of the garment and a sleeveless top has none. A small CNN (``models/sleeve_length.onnx``,
trained from scratch by ``python -m training.sleeves.train`` on CCP street photos labelled by where bare arm skin
shows, and on clothing-small's long-sleeve and t-shirt folders) reads the view the index embeds. A view whose
cut-out kept only trousers or a skirt, or an original photo, has no sleeve length (zeros). Search reads only
query words (``query_sleeves``) and the classifier file's hash (the identity): it never runs the model.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image

from garment_search.images import pad_to_square
from garment_search.query_words import longest_first, phrase_weights

#: Sleeve lengths, in the order of the model's outputs and the channel's columns.
SLEEVES: tuple[str, ...] = ("long", "short", "sleeveless")
#: What shoppers write for each (read as whole words; hyphens read as spaces: "long-sleeved").
SLEEVE_QUERY_WORDS: dict[str, tuple[str, ...]] = {
    "long": ("long sleeve", "long sleeves", "long sleeved", "longsleeve", "longsleeved", "full sleeve",
             "full sleeves", "full sleeved"),
    "short": ("short sleeve", "short sleeves", "short sleeved", "half sleeve", "half sleeves", "cap sleeve",
              "cap sleeves"),
    "sleeveless": ("sleeveless", "no sleeves", "strapless", "tank top", "tank tops", "cami", "camisole"),
}
_SLEEVE_PHRASES = longest_first((w, (SLEEVES.index(s),)) for s, ws in SLEEVE_QUERY_WORDS.items() for w in ws)

#: The classifier's input: the view padded to a square (longest side VIEW_SIZE, black around, as the embedder's
#: 'longest' resize does).
VIEW_SIZE = 96
MODEL_PATH = Path(__file__).resolve().parent.parent / "models" / "sleeve_length.onnx"


def query_sleeves(text: str) -> np.ndarray:
    """Weights over SLEEVES for the sleeve lengths a query names (each named one an equal part; zeros for none)."""
    return phrase_weights(text, _SLEEVE_PHRASES, len(SLEEVES))


def square_view(view: Image.Image, size: int = VIEW_SIZE) -> np.ndarray:
    """size×size×3 uint8: the view's longest side resized to ``size`` (bilinear, as the classifier was trained),
    centred on black."""
    return pad_to_square(np.asarray(view.convert("RGB")), size, Image.Resampling.BILINEAR)


@cache
def model_version(path: Path = MODEL_PATH) -> str:
    """Short hash of the classifier's weights: part of the channel's identity, so an index is never queried
    against profiles a different classifier measured."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:8]


@cache
def _session(path: Path = MODEL_PATH):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def sleeve_probabilities(views: np.ndarray) -> np.ndarray:
    """N×3 softmax over SLEEVES for N square views (N×VIEW_SIZE×VIEW_SIZE×3 uint8)."""
    session = _session()
    x = views.astype(np.float32).transpose(0, 3, 1, 2) / 255.0
    logits = session.run(None, {session.get_inputs()[0].name: x})[0]
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def shows_top(view: Image.Image) -> bool:
    """Whether a view's cut-out kept a top-family group (upper or one-piece: a garment with sleeves), not a lower
    garment alone; an untagged image (an original photo) shows none."""
    from garment_search.segmentation.groups import GARMENT_GROUPS, KEPT_GROUPS_INFO, PRODUCT_FAMILIES

    kept = view.info.get(KEPT_GROUPS_INFO, ())
    return any(GARMENT_GROUPS[group - 1] in kept for group in PRODUCT_FAMILIES[0])


def sleeve_profile(image: Image.Image) -> np.ndarray:
    """P(long, short, sleeveless) of a view that shows a top (``shows_top``); zeros for any other."""
    if not shows_top(image):
        return np.zeros(len(SLEEVES), np.float32)
    return sleeve_probabilities(square_view(image)[None])[0]
