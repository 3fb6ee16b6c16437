"""Caption vocabulary for the embedded fashion model: measured colour names, garment nouns, templates.

Colours are measured, not guessed (``garment_search.colours``, which search shares): the median CIELAB colour of
the garment's own pixels (shadows and highlights trimmed) is named by the nearest entry of a fashion colour table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from itertools import product

from garment_search.colours import COLOUR_NAMES, COLOUR_WORDS, TONE_MEMBER, TONE_NAMES, TONE_WORDS
from garment_search.garment_nouns import NOUNS
from garment_search.patterns import PATTERNS, UNSURE
from garment_search.query_words import words
from garment_search.sleeves import SLEEVES

#: Caption words of each measured surface pattern (garment_search/patterns.py; first = canonical).
PATTERN_WORDS: dict[str, tuple[str, ...]] = {
    "plain": ("plain", "solid colour"),
    "striped": ("striped", "stripe"),
    "patterned": ("patterned", "printed", "print"),
}

#: Templates: {c} colour, {c2} second colour, {t} tone, {p} pattern, {g} garment noun; each names some of them.
TEMPLATES: tuple[str, ...] = (
    "{c} {g}", "a {c} {g}", "a photo of a {c} {g}", "{g} in {c}", "a {c} coloured {g}", "women's {c} {g}",
    "a photo of a {g}", "{g}", "{c} clothing", "a {c} garment",
    "{p} {g}", "a {p} {g}", "{c} {p} {g}", "a {c} {p} {g}", "a {p} {g} in {c}",
    "{c} and {c2} {g}", "a {c} and {c2} {p} {g}",
)
#: Tone templates, used with ``tones=True`` (measured: not better on the held-out sets, docs/benchmarks.md).
TONE_TEMPLATES: tuple[str, ...] = ("{t} {g}", "a {t} coloured {g}", "{t} clothing")
#: Sleeve templates ({s}: sleeve length, ``garment_search.sleeves``), used with ``sleeves=True``: shoppers write
#: "short sleeve tunic", "sleeveless dress" (28 of the 160 held-out free-text queries). Not yet trained: a GPU
#: lease recipe (docs/benchmarks.md, "Sleeve channel").
SLEEVE_TEMPLATES: tuple[str, ...] = ("{s} {g}", "a {s} {g}", "{c} {s} {g}", "a {c} {s} {g}")
#: Caption words of each sleeve length (first = canonical).
SLEEVE_WORDS: dict[str, tuple[str, ...]] = {
    "long": ("long sleeve", "long sleeved"), "short": ("short sleeve", "short sleeved"),
    "sleeveless": ("sleeveless",),
}


@dataclass(frozen=True)
class Attributes:
    """What a training crop shows (indices; UNSURE where not measured)."""
    colour: int
    kind: str  # key of NOUNS
    pattern: int = UNSURE
    second_colour: int = UNSURE
    sleeve: int = UNSURE  # index into sleeves.SLEEVES


@dataclass(frozen=True)
class Mentions:
    """What a caption says (indices; UNSURE where it says nothing about it)."""
    colour: int
    second_colour: int
    pattern: int
    noun: str | None
    tone: int = UNSURE
    sleeve: int = UNSURE


def captions_for(attrs: Attributes, colour_words: bool = True, tones: bool = False,
                 sleeves: bool = False) -> list[list[tuple[str, Mentions]]]:
    """Every caption that describes ``attrs``, grouped by template (so sampling can weigh templates evenly);
    ``colour_words=False`` names colours by their COLOURS key only, ``tones=True`` adds the tone templates,
    ``sleeves=True`` the sleeve templates (for crops whose sleeve length was measured)."""
    groups = []
    for template in TEMPLATES + (TONE_TEMPLATES if tones else ()) + (SLEEVE_TEMPLATES if sleeves else ()):
        says_c, says_c2, says_t, says_p, says_g, says_s = (f"{{{f}}}" in template
                                                           for f in ("c", "c2", "t", "p", "g", "s"))
        tone_ids = [t for t, member in enumerate(TONE_MEMBER) if member[attrs.colour]] if says_t else [UNSURE]
        if ((says_p and attrs.pattern == UNSURE) or (says_c2 and attrs.second_colour == UNSURE) or not tone_ids
                or (says_s and (attrs.sleeve == UNSURE or _names_sleeve(attrs.kind)))):
            continue
        colours = COLOUR_WORDS if colour_words else {}
        group = []
        for tone in tone_ids:
            wordings = product(_words(colours, COLOUR_NAMES[attrs.colour], says_c),
                               _words(colours, COLOUR_NAMES[attrs.second_colour], says_c2),
                               _words(TONE_WORDS, TONE_NAMES[tone], says_t),
                               _words(PATTERN_WORDS, PATTERNS[attrs.pattern], says_p),
                               _words(SLEEVE_WORDS, SLEEVES[attrs.sleeve], says_s),
                               NOUNS[attrs.kind] if says_g else NOUNS[attrs.kind][:1])
            said = Mentions(attrs.colour if says_c else UNSURE, attrs.second_colour if says_c2 else UNSURE,
                            attrs.pattern if says_p else UNSURE, None, tone, attrs.sleeve if says_s else UNSURE)
            group += [(_article(template.format(c=c, c2=c2, t=t, p=p, s=sl, g=g)),
                       replace(said, noun=g if says_g else None)) for c, c2, t, p, sl, g in wordings
                      if not (says_s and f"{sl} {g}" in _NOUN_WORDINGS)]  # "long sleeve" + "top" is a noun
        groups.append(group)
    return groups


#: Every garment noun wording: a sleeve caption never spells one ("long sleeve top" is clothing-small's
#: ``longsleeve``), so one caption text always means one thing.
_NOUN_WORDINGS = frozenset(w for wordings in NOUNS.values() for w in wordings)


def _names_sleeve(kind: str) -> bool:
    """Whether a kind's own nouns already say its sleeve length (``longsleeve``): no sleeve templates for it."""
    return any(w in noun for noun in NOUNS[kind] for ws in SLEEVE_WORDS.values() for w in ws)


def _words(table: dict[str, tuple[str, ...]], key: str, used: bool) -> tuple[str, ...]:
    return table.get(key, (key,)) if used else ("",)


def _article(text: str) -> str:
    return "an " + text[2:] if text.startswith("a ") and text[2] in "aeiou" else text


def caption_vocabulary(sleeves: bool = False) -> list[str]:
    """Every phrase a training caption is made of — each template's words, each colour, tone, pattern and garment
    wording whole ("navy blue", "long sleeve top") — lower case, sorted: what the towers were trained against. Our
    model configs ship it as ``query_vocabulary`` (``garment_search.embedding.query_vocabulary``); a test keeps
    the two equal. ``sleeves=True``: with the sleeve captions' words, for towers trained with them."""
    phrases = [w for t in TEMPLATES + TONE_TEMPLATES for w in words(re.sub(r"\{[a-z0-9]+\}", " ", t))]
    phrases.append("an")  # _article's "an orange top"
    for table in (COLOUR_WORDS, TONE_WORDS, PATTERN_WORDS, NOUNS):
        phrases += [w for key, wordings in table.items() for w in (key, *wordings)]
    if sleeves:  # the keys ("long", "short") are never caption words on their own
        phrases += [w for wordings in SLEEVE_WORDS.values() for w in wordings]
    phrases += [*COLOUR_NAMES, *TONE_NAMES, *PATTERNS]
    return sorted({" ".join(words(p)) for p in phrases})
