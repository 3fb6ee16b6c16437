"""Caption vocabulary for the embedded fashion model: measured colour names, garment nouns, templates.

Colours are measured, not guessed: the median CIELAB colour of the garment's own pixels (shadows and
highlights trimmed) is named by the nearest entry of a fashion colour table.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import product

import cv2
import numpy as np

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
_COLOUR_LAB = cv2.cvtColor(np.array([list(COLOURS.values())], dtype=np.uint8), cv2.COLOR_RGB2LAB)[0].astype(np.float32)

#: CCP label name / clothing-small class → caption nouns (first = canonical). Class folder names are included as
#: nouns so evaluation queries "a photo of a <class>" use words the model has seen.
NOUNS: dict[str, tuple[str, ...]] = {
    "blazer": ("blazer", "jacket"), "blouse": ("blouse", "tunic", "top"), "bodysuit": ("bodysuit", "top"),
    "cape": ("cape",), "cardigan": ("cardigan",), "coat": ("coat",), "dress": ("dress",),
    "hoodie": ("hoodie", "sweatshirt"), "jacket": ("jacket",), "jeans": ("jeans",), "jumper": ("jumper", "sweater"),
    "leggings": ("leggings",), "pants": ("trousers", "pants"), "romper": ("romper", "jumpsuit"), "shirt": ("shirt",),
    "shorts": ("shorts",), "skirt": ("skirt",), "suit": ("suit",), "sweater": ("sweater", "jumper"),
    "sweatshirt": ("sweatshirt",), "t-shirt": ("t-shirt", "tee"), "top": ("top", "tunic"), "vest": ("vest",),
    "hat": ("hat",), "longsleeve": ("longsleeve", "long sleeve top", "long sleeve shirt"),
    "outwear": ("outwear", "jacket", "coat"), "shoes": ("shoes",),
}

#: Other names shoppers use for a colour (first = the COLOURS key).
COLOUR_WORDS: dict[str, tuple[str, ...]] = {
    "cream": ("cream", "ivory", "off white"), "camel": ("camel", "tan"), "navy blue": ("navy blue", "navy"),
    "light grey": ("light grey", "pale grey"), "mustard": ("mustard", "mustard yellow"), "mint": ("mint", "mint green"),
    "powder pink": ("powder pink", "pale pink", "blush pink"), "fuchsia": ("fuchsia", "hot pink", "magenta"),
    "burgundy": ("burgundy", "wine red"), "terracotta": ("terracotta", "rust"), "lilac": ("lilac", "light purple"),
    "charcoal": ("charcoal", "dark grey"), "denim blue": ("denim blue", "dusty blue"),
}

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

#: Measured surface patterns (training/embedding/patterns.py) and the words that name them (first = canonical).
PATTERNS: tuple[str, ...] = ("plain", "striped", "patterned")
PATTERN_WORDS: dict[str, tuple[str, ...]] = {
    "plain": ("plain", "solid colour"),
    "striped": ("striped", "stripe"),
    "patterned": ("patterned", "printed", "print"),
}
UNSURE = -1  # attribute not measured with confidence: no caption names it

#: Templates: {c} colour, {c2} second colour, {t} tone, {p} pattern, {g} garment noun; each names some of them.
TEMPLATES: tuple[str, ...] = (
    "{c} {g}", "a {c} {g}", "a photo of a {c} {g}", "{g} in {c}", "a {c} coloured {g}", "women's {c} {g}",
    "a photo of a {g}", "{g}", "{c} clothing", "a {c} garment",
    "{p} {g}", "a {p} {g}", "{c} {p} {g}", "a {c} {p} {g}", "a {p} {g} in {c}",
    "{c} and {c2} {g}", "a {c} and {c2} {p} {g}",
)
#: Tone templates, used with ``tones=True`` (measured: not better on the held-out sets, docs/benchmarks.md).
TONE_TEMPLATES: tuple[str, ...] = ("{t} {g}", "a {t} coloured {g}", "{t} clothing")


@dataclass(frozen=True)
class Attributes:
    """What a training crop shows (indices; UNSURE where not measured)."""
    colour: int
    kind: str  # key of NOUNS
    pattern: int = UNSURE
    second_colour: int = UNSURE


@dataclass(frozen=True)
class Mentions:
    """What a caption says (indices; UNSURE where it says nothing about it)."""
    colour: int
    second_colour: int
    pattern: int
    noun: str | None
    tone: int = UNSURE


def captions_for(attrs: Attributes, colour_words: bool = True, tones: bool = False) -> list[list[tuple[str, Mentions]]]:
    """Every caption that describes ``attrs``, grouped by template (so sampling can weigh templates evenly);
    ``colour_words=False`` names colours by their COLOURS key only, ``tones=True`` adds the tone templates."""
    groups = []
    for template in TEMPLATES + (TONE_TEMPLATES if tones else ()):
        says_c, says_c2, says_t, says_p, says_g = (f"{{{f}}}" in template for f in ("c", "c2", "t", "p", "g"))
        tone_ids = [t for t, member in enumerate(TONE_MEMBER) if member[attrs.colour]] if says_t else [UNSURE]
        if (says_p and attrs.pattern == UNSURE) or (says_c2 and attrs.second_colour == UNSURE) or not tone_ids:
            continue
        colours = COLOUR_WORDS if colour_words else {}
        group = []
        for tone in tone_ids:
            wordings = product(_words(colours, COLOUR_NAMES[attrs.colour], says_c),
                               _words(colours, COLOUR_NAMES[attrs.second_colour], says_c2),
                               _words(TONE_WORDS, TONE_NAMES[tone], says_t),
                               _words(PATTERN_WORDS, PATTERNS[attrs.pattern], says_p),
                               NOUNS[attrs.kind] if says_g else NOUNS[attrs.kind][:1])
            said = Mentions(attrs.colour if says_c else UNSURE, attrs.second_colour if says_c2 else UNSURE,
                            attrs.pattern if says_p else UNSURE, None, tone)
            group += [(_article(template.format(c=c, c2=c2, t=t, p=p, g=g)), replace(said, noun=g if says_g else None))
                      for c, c2, t, p, g in wordings]
        groups.append(group)
    return groups


def _words(table: dict[str, tuple[str, ...]], key: str, used: bool) -> tuple[str, ...]:
    return table.get(key, (key,)) if used else ("",)


def _article(text: str) -> str:
    return "an " + text[2:] if text.startswith("a ") and text[2] in "aeiou" else text


def name_colour(rgb_pixels: np.ndarray) -> int:
    """Index into COLOUR_NAMES of the garment colour of an N×3 uint8 pixel array."""
    lab = cv2.cvtColor(rgb_pixels.reshape(1, -1, 3).astype(np.uint8), cv2.COLOR_RGB2LAB)[0].astype(np.float32)
    lightness = lab[:, 0]
    lo, hi = np.percentile(lightness, [15, 90])
    core = lab[(lightness >= lo) & (lightness <= hi)]
    median = np.median(core if len(core) else lab, axis=0)
    return int(np.argmin(((_COLOUR_LAB - median) ** 2).sum(axis=1)))
