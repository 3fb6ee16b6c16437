"""Garment colours: the fashion colour table, the names shoppers use, and how a garment's pixels are measured.

One vocabulary for two users: training captions name each crop's measured colour (``name_colour``), and search
matches the colours a query names against the colours of each photo's garment pixels (``colour_profile``,
``query_colours``; see ``garment_search.embedding.measured_channels``). Measured in CIELAB (OpenCV's 8-bit scale),
where distances follow perceived difference.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from PIL import Image

from garment_search.config import env_switch
from garment_search.query_words import longest_first, phrase_weights, words

#: Fashion colour names and a representative sRGB value for each.
COLOURS: dict[str, tuple[int, int, int]] = {
    "black": (22, 22, 24), "white": (245, 245, 242), "cream": (238, 228, 200), "beige": (214, 196, 164),
    "camel": (189, 148, 100), "brown": (105, 68, 42), "mink": (148, 124, 110), "khaki": (166, 156, 110),
    "olive": (108, 110, 52), "grey": (128, 128, 130), "light grey": (192, 192, 194), "charcoal": (58, 58, 64),
    "navy blue": (30, 36, 78), "blue": (40, 84, 182), "light blue": (152, 190, 228), "denim blue": (72, 100, 140),
    "turquoise": (58, 188, 190), "teal": (0, 112, 112), "sea green": (58, 148, 118), "mint": (168, 224, 196),
    "green": (42, 140, 62), "dark green": (22, 80, 42), "yellow": (240, 214, 62), "mustard": (204, 158, 40),
    "orange": (240, 128, 40), "coral": (246, 120, 98), "peach": (250, 192, 160), "terracotta": (188, 96, 66),
    "red": (200, 30, 40), "burgundy": (110, 22, 44), "maroon": (124, 34, 48), "pink": (240, 150, 180),
    "powder pink": (234, 196, 200), "fuchsia": (220, 40, 142), "purple": (110, 50, 140), "lilac": (200, 162, 210),
    "lavender": (188, 180, 226), "plum": (110, 50, 80),
}
COLOUR_NAMES = tuple(COLOURS)

#: Other names shoppers use for a colour (first = the COLOURS key).
COLOUR_WORDS: dict[str, tuple[str, ...]] = {
    "cream": ("cream", "ivory", "off white"), "camel": ("camel", "tan"), "navy blue": ("navy blue", "navy"),
    "light grey": ("light grey", "pale grey"), "mustard": ("mustard", "mustard yellow"), "mint": ("mint", "mint green"),
    "powder pink": ("powder pink", "pale pink", "blush pink"), "fuchsia": ("fuchsia", "hot pink", "magenta"),
    "burgundy": ("burgundy", "wine red"), "terracotta": ("terracotta", "rust"), "lilac": ("lilac", "light purple"),
    "charcoal": ("charcoal", "dark grey"), "denim blue": ("denim blue", "dusty blue"),
}

#: Every caption wording of a palette colour ("navy", "navy blue") → its palette name.
PALETTE_NAME_OF: dict[str, str] = {word: name for name in COLOURS for word in (name, *COLOUR_WORDS.get(name, ()))}

#: Colour names shoppers write that no training caption used, and the palette colour each names (the first of each
#: colour is a single word where one exists). General fashion English, written before it was measured and without
#: reading any judge's queries; names that are as often a print or a trim ("rose", "poppy", "cherry", "lemon") are
#: left out alone and kept in phrases ("dusty rose", "cherry red"). Read when ``QUERY_COLOUR_NAMES`` is on
#: (``read_shopper_colours``): "cobalt dress" is "blue dress" to the towers and asks the colour channel for blue.
#: Off by default: refused in stop 27 — names that modify a palette colour ("slate-blue") are read as another one
#: (docs/benchmarks.md, "Shopper colour names").
SHOPPER_COLOURS: dict[str, tuple[str, ...]] = {
    "black": ("onyx", "ebony", "jet black"), "white": ("snow white", "pure white", "optic white"),
    "cream": ("ecru", "vanilla", "eggshell"),
    "beige": ("nude", "sand", "stone", "oatmeal", "biscuit", "champagne"),
    "camel": ("caramel", "cognac", "toffee"), "brown": ("chocolate", "coffee", "mocha", "chestnut", "cocoa", "espresso"),
    "mink": ("taupe", "mushroom"), "khaki": ("khaki green",),
    "olive": ("moss", "olive green", "army green", "military green"),
    "grey": ("slate", "ash grey", "heather grey", "steel grey"), "light grey": ("silver", "dove grey", "pearl grey"),
    "charcoal": ("anthracite", "graphite", "slate grey"),
    "navy blue": ("indigo", "midnight blue", "ink blue", "dark blue"),
    "blue": ("cobalt", "sapphire", "azure", "royal blue", "electric blue", "cobalt blue"),
    "light blue": ("sky blue", "baby blue", "powder blue", "ice blue", "pale blue"),
    "denim blue": ("chambray", "steel blue", "washed blue"), "turquoise": ("aqua", "cyan", "aquamarine"),
    "teal": ("petrol", "petrol blue", "dark teal"), "sea green": ("jade", "seafoam"),
    "mint": ("pistachio", "sage", "sage green", "light green"),
    "green": ("emerald", "kelly green", "grass green", "apple green", "emerald green"),
    "dark green": ("forest green", "bottle green", "hunter green", "pine green"),
    "yellow": ("canary", "lemon yellow", "butter yellow"), "mustard": ("ochre", "gold", "golden", "saffron"),
    "orange": ("tangerine", "pumpkin"), "coral": ("salmon",), "peach": ("apricot",),
    "terracotta": ("brick", "copper", "cinnamon", "burnt orange"),
    "red": ("scarlet", "crimson", "ruby", "cherry red", "tomato red"),
    "burgundy": ("wine", "oxblood", "bordeaux", "merlot", "claret"), "maroon": ("dark red",),
    "pink": ("bubblegum", "rose pink", "candy pink"),
    "powder pink": ("blush", "baby pink", "dusty pink", "dusty rose", "light pink", "old rose"),
    "fuchsia": ("raspberry", "cerise", "neon pink", "shocking pink"), "purple": ("violet", "grape", "amethyst"),
    "lilac": ("mauve", "orchid", "wisteria"), "lavender": ("periwinkle",),
    "plum": ("aubergine", "eggplant", "berry", "damson"),
}
COLOUR_NAMES_VARIABLE = "QUERY_COLOUR_NAMES"


def colour_names_on() -> bool:
    """``QUERY_COLOUR_NAMES``: whether queries' shopper colour names are read (``read_shopper_colours``) by our
    towers' vocabulary view and by the colour channel."""
    return env_switch(COLOUR_NAMES_VARIABLE, False)


#: (shopper name as words, palette name), longest first, so "slate grey" is read before "slate".
_SHOPPER_PHRASES = sorted(((tuple(words(name)), colour) for colour, names in SHOPPER_COLOURS.items() for name in names),
                          key=lambda p: -len(p[0]))


def _phrase_at(tokens: list[str], i: int) -> tuple[tuple[str, ...], str] | None:
    """The longest shopper colour name starting at ``tokens[i]``, with its palette name."""
    return next(((p, colour) for p, colour in _SHOPPER_PHRASES if tuple(tokens[i:i + len(p)]) == p), None)


def read_shopper_colours(text: str) -> str:
    """``text`` with the colour names of ``SHOPPER_COLOURS`` (whole words; in hyphenated words too: "sky-blue",
    "wine-coloured") read as the palette names they stand for, in lower case — or ``text`` unchanged when it names
    none."""
    tokens = []
    for w in words(text):
        parts = w.split("-")
        tokens += parts if len(parts) > 1 and any(_phrase_at(parts, j) for j in range(len(parts))) else [w]
    out, i = [], 0
    while i < len(tokens):
        match = _phrase_at(tokens, i)
        out.append(match[1] if match else tokens[i])
        i += len(match[0]) if match else 1
    return " ".join(out) if out != tokens else text


#: Tone words shoppers use for a whole family of colours ("pastel coloured tunic", "a dark top"): a tone caption
#: fits every crop whose measured colour is in the family (a colour may belong to two: black is dark and neutral).
TONES: dict[str, tuple[str, ...]] = {
    "pastel": ("cream", "peach", "mint", "light blue", "powder pink", "lilac", "lavender"),
    "dark": ("black", "charcoal", "navy blue", "brown", "dark green", "burgundy", "maroon", "plum"),
    "bright": ("yellow", "orange", "red", "fuchsia", "turquoise", "blue", "green", "coral"),
    "neutral": ("black", "white", "cream", "beige", "camel", "grey", "light grey", "charcoal", "mink", "khaki"),
}
TONE_NAMES = tuple(TONES)
TONE_WORDS: dict[str, tuple[str, ...]] = {"pastel": ("pastel", "soft pastel"), "bright": ("bright", "vivid")}
#: TONE_MEMBER[t][c]: colour c (COLOUR_NAMES index) belongs to tone t (TONE_NAMES index).
TONE_MEMBER: tuple[tuple[bool, ...], ...] = tuple(tuple(c in TONES[t] for c in COLOUR_NAMES) for t in TONE_NAMES)

#: A pixel's colour is spread over the palette entries near it (Gaussian in CIELAB distance, this deviation):
#: neighbouring entries lie 10–30 apart, so a pixel between "red" and "burgundy" counts for both, as shoppers
#: would name it either way, while "red" and "navy blue" (~150 apart) never share.
PROFILE_SPREAD = 12.0
#: Pixels whose brightest channel is at most this are the cut-out's black background, not garment.
BACKGROUND_MAX = 8
#: Enough pixels for a share to the third decimal; larger cut-outs are subsampled evenly.
MAX_PROFILE_PIXELS = 20_000


def _lab(rgb_pixels: np.ndarray) -> np.ndarray:
    """N×3 CIELAB (OpenCV's 8-bit scale) of N×3 sRGB pixels. OpenCV is imported here, not at module load: search
    reads queries (``query_colours``) in a container that has no OpenCV; only photos are measured with it."""
    import cv2

    return cv2.cvtColor(rgb_pixels.reshape(1, -1, 3).astype(np.uint8), cv2.COLOR_RGB2LAB)[0].astype(np.float32)


@cache
def _palette_lab() -> np.ndarray:
    return _lab(np.array(list(COLOURS.values()), dtype=np.uint8))


def _lit_core(lab: np.ndarray) -> np.ndarray:
    """The pixels between the 15th and 90th lightness percentile: a garment's colour, without its deep folds'
    shadow and its highlights (the whole set where that would leave nothing)."""
    lightness = lab[:, 0]
    lo, hi = np.percentile(lightness, [15, 90])
    core = lab[(lightness >= lo) & (lightness <= hi)]
    return core if len(core) else lab


def name_colour(rgb_pixels: np.ndarray) -> int:
    """Index into COLOUR_NAMES of the garment colour of an N×3 uint8 pixel array."""
    median = np.median(_lit_core(_lab(rgb_pixels)), axis=0)
    return int(np.argmin(((_palette_lab() - median) ** 2).sum(axis=1)))


def garment_pixels(image: Image.Image) -> np.ndarray:
    """N×3 uint8 pixels of a cut-out that are not its black background (at most ``MAX_PROFILE_PIXELS``)."""
    rgb = np.asarray(image.convert("RGB")).reshape(-1, 3)
    pixels = rgb[rgb.max(axis=1) > BACKGROUND_MAX]
    step = max(1, len(pixels) // MAX_PROFILE_PIXELS)
    return pixels[::step]


def colour_profile(image: Image.Image) -> np.ndarray:
    """Share of the garment's pixels in each palette colour (float32, sums to 1; all zeros for an empty cut-out).

    Per pixel rather than one median, so a pink-and-white striped top is half pink and half white, and
    softly (``PROFILE_SPREAD``) so the boundary between two neighbouring names does not flip a photo's match.
    """
    pixels = garment_pixels(image)
    if not len(pixels):
        return np.zeros(len(COLOURS), np.float32)
    d2 = ((_lit_core(_lab(pixels))[:, None, :] - _palette_lab()[None]) ** 2).sum(-1)
    weights = np.exp(-(d2 - d2.min(axis=1, keepdims=True)) / (2 * PROFILE_SPREAD ** 2))
    return (weights / weights.sum(axis=1, keepdims=True)).mean(axis=0).astype(np.float32)


#: (phrase, palette indices it names): every colour's names and every tone's words, longest first.
_PHRASES = longest_first(
    [(word, (COLOUR_NAMES.index(name),)) for word, name in PALETTE_NAME_OF.items()]
    + [(word, tuple(i for i, member in enumerate(TONE_MEMBER[t]) if member))
       for t, tone in enumerate(TONE_NAMES) for word in {tone, *TONE_WORDS.get(tone, ())}])


def query_colours(text: str) -> np.ndarray:
    """Weights over the palette for the colours (and tones) a query names; zeros when it names none.

    Each of a named colour's (or tone's) palette entries weighs 1 / (number named), so a photo's colour score
    (``profile @ weights``) is the mean over the named colours of the share of its garment in each: "pink and
    white" wants both, "dark brown" wants dark and brown, "pastel" any of the pastel entries. Shoppers' colour
    names ("cobalt") count for the palette colour they name when ``QUERY_COLOUR_NAMES`` is on.
    """
    if colour_names_on():
        text = read_shopper_colours(text)
    return phrase_weights(text, _PHRASES, len(COLOURS))
