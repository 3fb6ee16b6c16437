"""Measured surface pattern and second colour of a garment cut-out: for training captions ("a striped shirt",
"a black and white blouse") and for search's pattern channel (``pattern_profile`` / ``query_patterns``; see
``garment_search.embedding.measured_channels``).

Shoppers search by pattern as much as by colour, and no training label says "striped" — so it is measured, like
the colour, on exactly the pixels the model sees (the black-padded crop):

- fine texture: mean absolute difference between the lightness and its blurred copy inside the garment (folds and
  shading are smooth, prints and stripes are not);
- orientation: the double-angle coherence of that texture's gradients (stripes have one orientation). Checks were
  tried as quadruple-angle coherence and dropped: plaid shirts at training size scored 0.06–0.33, no better than
  prints, so checks are "patterned";
- colours: a small k-means in CIELAB; a second colour counts when it covers enough of the garment and is far
  enough from the first.

Thresholds are conservative: a crop that is neither clearly plain nor clearly patterned gets no pattern (UNSURE),
so the model is never taught a wrong word and search never credits a guess. OpenCV is imported where a photo is
measured, not at module load: search reads queries in a container without it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from garment_search.colours import COLOUR_NAMES, name_colour
from garment_search.query_words import longest_first, phrase_weights

#: Measured surface patterns (first = the caption word; captions.PATTERN_WORDS has the training wordings).
PATTERNS: tuple[str, ...] = ("plain", "striped", "patterned")
UNSURE = -1  # attribute not measured with confidence: no caption names it, no query is credited for it

PLAIN_TEXTURE = 6.0  # mean |L - blur(L)| (0–255 scale) below this: plain
PATTERN_TEXTURE = 15.0  # above this: some pattern
STRIPE_COHERENCE = 0.6  # and above this: striped
SECOND_COLOUR_SHARE = 0.2
SECOND_COLOUR_DISTANCE = 30.0  # CIELAB ΔE (OpenCV 8-bit scale)


@dataclass(frozen=True)
class Surface:
    pattern: int  # index into PATTERNS or UNSURE
    second_colour: int  # index into COLOUR_NAMES or UNSURE
    texture: float
    coherence: float


def garment_interior(crop: np.ndarray, erode: int = 2) -> np.ndarray:
    """Inside of the garment in a black-padded crop: not padding, away from the cut edge."""
    import cv2

    mask = (crop.max(axis=2) >= 4).astype(np.uint8)
    return cv2.erode(mask, np.ones((2 * erode + 1, 2 * erode + 1), np.uint8)).astype(bool)


def measure_surface(crop: np.ndarray) -> Surface:
    import cv2

    inside = garment_interior(crop)
    if inside.sum() < 300:
        return Surface(UNSURE, UNSURE, 0.0, 0.0)
    lightness = cv2.cvtColor(crop, cv2.COLOR_RGB2LAB)[..., 0].astype(np.float32)
    smooth = cv2.GaussianBlur(lightness, (0, 0), 2.0)
    detail = lightness - smooth
    texture = float(np.abs(detail[inside]).mean())

    gx = cv2.Sobel(detail, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(detail, cv2.CV_32F, 0, 1, ksize=3)
    weight = (gx ** 2 + gy ** 2)[inside]
    angle = np.arctan2(gy, gx)[inside]
    total = weight.sum() + 1e-6
    coherence = float(np.abs((weight * np.exp(2j * angle)).sum()) / total)

    if texture < PLAIN_TEXTURE:
        pattern = PATTERNS.index("plain")
    elif texture < PATTERN_TEXTURE:
        pattern = UNSURE
    elif coherence >= STRIPE_COHERENCE:
        pattern = PATTERNS.index("striped")
    else:
        pattern = PATTERNS.index("patterned")
    # shading alone makes a plain garment look two-toned: a second colour is only named on a patterned surface
    second = second_colour(crop[inside]) if pattern > PATTERNS.index("plain") else UNSURE
    return Surface(pattern, second, texture, coherence)


def second_colour(pixels: np.ndarray, k: int = 3) -> int:
    """Colour index of the second largest colour cluster when it is a real second colour, else UNSURE."""
    import cv2

    lab = cv2.cvtColor(pixels.reshape(1, -1, 3), cv2.COLOR_RGB2LAB)[0].astype(np.float32)
    if len(lab) > 4000:
        lab = lab[np.random.default_rng(0).choice(len(lab), 4000, replace=False)]
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    cv2.setRNGSeed(0)
    _, labels, centres = cv2.kmeans(lab, k, None, criteria, 2, cv2.KMEANS_PP_CENTERS)
    shares = np.bincount(labels.ravel(), minlength=k) / len(labels)
    order = np.argsort(-shares)
    first, second = order[0], order[1]
    if shares[second] < SECOND_COLOUR_SHARE or np.linalg.norm(centres[first] - centres[second]) < SECOND_COLOUR_DISTANCE:
        return UNSURE
    rgb = cv2.cvtColor(centres[[first, second]].reshape(1, 2, 3).astype(np.uint8), cv2.COLOR_LAB2RGB)[0]
    names = [name_colour(np.repeat(c[None], 4, axis=0)) for c in rgb]
    return names[1] if names[1] != names[0] else UNSURE


def describe(surface: Surface) -> str:
    """Human-readable summary, for contact sheets."""
    words = [PATTERNS[surface.pattern] if surface.pattern != UNSURE else "?"]
    if surface.second_colour != UNSURE:
        words.append(f"+{COLOUR_NAMES[surface.second_colour]}")
    return f"{' '.join(words)} t{surface.texture:.1f} c{surface.coherence:.2f}"


#: What shoppers call each measured pattern in a query (longest phrase first when read). Measurement cannot tell a
#: floral print from checks, so every named print asks for "patterned"; the towers judge which print it is.
PATTERN_QUERY_WORDS: dict[str, tuple[str, ...]] = {
    "plain": ("plain", "solid", "solid colour", "solid color", "single colour", "single color"),
    "striped": ("striped", "stripe", "stripes", "stripy", "pinstripe", "pinstriped", "breton"),
    "patterned": ("patterned", "pattern", "printed", "print", "prints", "floral", "flower", "flowers", "flowered",
                  "flowery", "checked", "check", "checks", "checkered", "chequered", "plaid", "tartan", "gingham",
                  "polka dot", "polka dots", "dotted", "spotted", "leopard", "animal print", "camouflage", "camo",
                  "paisley", "geometric", "tie dye", "graphic"),
}
_PATTERN_PHRASES = longest_first((w, (PATTERNS.index(p),)) for p, words in PATTERN_QUERY_WORDS.items() for w in words)


def pattern_profile(image: Image.Image) -> np.ndarray:
    """One-hot of a cut-out's measured pattern over PATTERNS (float32; all zeros when unsure)."""
    profile = np.zeros(len(PATTERNS), np.float32)
    pattern = measure_surface(np.asarray(image.convert("RGB"))).pattern
    if pattern != UNSURE:
        profile[pattern] = 1.0
    return profile


def query_patterns(text: str) -> np.ndarray:
    """Weights over PATTERNS for the patterns a query names (each named one an equal part; zeros for none)."""
    return phrase_weights(text, _PATTERN_PHRASES, len(PATTERNS))
