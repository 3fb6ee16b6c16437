"""Reading a free-text query with the words our towers were trained against.

The embedded model's towers learned from captions over a closed vocabulary ("a navy blue striped shirt", "dress in
burgundy"; ``training.embedding.captions``), with MiniLM frozen underneath. Shoppers write "black floral
embroidered shift dress": the words no caption used still move the query vector, in directions no image was
trained against. So our models' towers read the query's *vocabulary view* — its words that some caption contains
as they were used there, in order ("black dress"; "short sleeve" is not "sleeve", which captions only used in
"long sleeve top") — whenever that view differs from the query and is not empty. The measured channels still
read the whole query (a "floral" query asks the pattern channel for a pattern). Chosen on held-out judges, among
them free-text shopper queries (docs/benchmarks.md, "Reading free-text queries (stop 15)"; the catalogue, reported
there, disagrees).

The vocabulary is data of the model: ``query_vocabulary`` in our model configs, the captions' phrases (equal to
``training.embedding.captions.caption_vocabulary()``). Models without one (open_clip's CLIP, SigLIP) read the query
as written. ``QUERY_VOCABULARY_VIEW=0`` turns the view off.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache

from garment_search.query_words import words

SWITCH_VARIABLE = "QUERY_VOCABULARY_VIEW"


@cache
def phrase_units(phrases: frozenset[str]) -> frozenset[tuple[str, ...]]:
    """The word runs a view may keep: every caption phrase, every multi-word prefix of one ("long sleeve" of
    "long sleeve top"), and no lone word that captions only used inside a phrase ("sleeve", "off", "sea")."""
    units = set()
    for phrase in phrases:
        ws = tuple(words(phrase))
        units.update(ws[:n] for n in range(2 if len(ws) > 1 else 1, len(ws) + 1))
    return frozenset(units)


def vocabulary_view(text: str, phrases: frozenset[str]) -> str:
    """The runs of ``text``'s words that are caption phrases (``phrase_units``; "gray" read as "grey"), in order,
    longest first; ``text`` itself where that leaves nothing or keeps every word."""
    units = phrase_units(phrases)
    longest = max(map(len, units), default=1)
    all_words = words(text)
    lookup = [w.replace("gray", "grey") for w in all_words]
    known, i = [], 0
    while i < len(all_words):
        n = next((n for n in range(min(longest, len(all_words) - i), 0, -1) if tuple(lookup[i:i + n]) in units), 0)
        known += all_words[i:i + n]
        i += n or 1
    return " ".join(known) if known and known != all_words else text


def view_enabled() -> bool:
    """``QUERY_VOCABULARY_VIEW``: on unless set to 0 / false / no / off."""
    raw = os.environ.get(SWITCH_VARIABLE, "").strip().lower()
    if raw in {"", "1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{SWITCH_VARIABLE} must be 1 or 0, not {raw!r}.")


@cache
def model_vocabulary(name: str) -> frozenset[str] | None:
    """The ``query_vocabulary`` (caption phrases) of our model config ``name`` — an ensemble's own when its members
    were trained on more caption words than their architecture's config lists (sleeve captions), else its first
    member's — or None for models not ours."""
    from garment_search.embedding import member_config, our_config

    own = (our_config(name) or {}).get("query_vocabulary")
    vocabulary = own or (member_config(name) or {}).get("query_vocabulary")
    return frozenset(vocabulary) if vocabulary else None


@dataclass(frozen=True)
class TowerReader:
    """``text -> text`` a model's towers read: the vocabulary view when ``vocabulary`` is set, else the text."""

    vocabulary: frozenset[str] | None

    def __call__(self, text: str) -> str:
        return vocabulary_view(text, self.vocabulary) if self.vocabulary else text


def tower_reader(name: str) -> TowerReader:
    """How the towers of model ``name`` read a query: its vocabulary view where it has a vocabulary and the view
    is on, else as written."""
    return TowerReader(model_vocabulary(name) if view_enabled() else None)
