"""Reading attribute words in a search query: the one reader the colour, pattern and family channels share."""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np

Phrases = list[tuple[str, tuple[int, ...]]]  # (phrase, the entries it names), longest phrase first
#: A word: letters, with inner hyphens and apostrophes kept ("t-shirt", "women's").
WORD = re.compile(r"[a-z]+(?:[-'][a-z]+)*")


def words(text: str) -> list[str]:
    """The words of ``text``, lower case, as captions write them (the vocabulary view reads queries with it)."""
    return WORD.findall(text.lower())


def longest_first(table: Iterable[tuple[str, tuple[int, ...]]]) -> Phrases:
    """The table sorted so that "navy blue" is read before "blue"."""
    return sorted(table, key=lambda p: -len(p[0]))


def phrase_weights(text: str, phrases: Phrases, size: int) -> np.ndarray:
    """Weights over ``size`` entries for the phrases ``text`` contains (whole words, any case, "gray" read as
    "grey"; a phrase that is read is used up, so "navy blue" is not also "blue"). Each phrase found gives each of
    its entries 1 / (number of phrases found); zeros when none is found."""
    words = " " + re.sub(r"[^a-z]+", " ", text.lower().replace("gray", "grey")) + " "
    named: list[tuple[int, ...]] = []
    for phrase, entries in phrases:
        while f" {phrase} " in words:
            named.append(entries)
            words = words.replace(f" {phrase} ", "  ", 1)
    weights = np.zeros(size, np.float32)
    for entries in named:
        weights[list(entries)] += 1.0 / len(named)
    return weights
