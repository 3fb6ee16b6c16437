"""Reading a free-text query with the words our towers were trained against.

The embedded model's towers learned from captions over a closed vocabulary ("a navy blue striped shirt", "dress in
burgundy"; ``training.embedding.captions``), with MiniLM frozen underneath. Shoppers write "black floral
embroidered shift dress": the words no caption used still move the query vector, in directions no image was
trained against. So our models' towers read the query's *vocabulary view* — its words that some caption contains,
in order ("black dress") — whenever that view differs from the query and is not empty. The measured channels still
read the whole query (a "floral" query asks the pattern channel for a pattern). Chosen on held-out judges, the
free-text shopper queries above all (docs/benchmarks.md, "Reading free-text queries (stop 15)").

The vocabulary is data of the model: ``query_vocabulary`` in our model configs (equal to
``training.embedding.captions.caption_vocabulary()``). Models without one (open_clip's CLIP, SigLIP) read the query
as written. ``QUERY_VOCABULARY_VIEW=0`` turns the view off.
"""

from __future__ import annotations

import json
import os
import re
from functools import cache

#: A word: letters, with inner hyphens and apostrophes kept ("t-shirt", "women's").
WORD = re.compile(r"[a-z]+(?:[-'][a-z]+)*")
SWITCH_VARIABLE = "QUERY_VOCABULARY_VIEW"


def words(text: str) -> list[str]:
    """The words of ``text``, lower case."""
    return WORD.findall(text.lower())


def vocabulary_view(text: str, vocabulary: frozenset[str]) -> str:
    """The words of ``text`` in ``vocabulary`` ("gray" read as "grey"), in order; ``text`` itself where that
    leaves nothing or every word is in it."""
    all_words = words(text)
    known = [w for w in all_words if w.replace("gray", "grey") in vocabulary]
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
    """The ``query_vocabulary`` of our model config ``name`` (an ensemble: its member's), else None."""
    from garment_search.embedding import CONFIG_DIR, is_our_model, open_clip_model_name

    if not is_our_model(name):
        return None
    config = json.loads((CONFIG_DIR / f"{open_clip_model_name(name)}.json").read_text())
    vocabulary = config.get("query_vocabulary")
    return frozenset(vocabulary) if vocabulary else None


def tower_reader(name: str):
    """``text -> text`` the towers of model ``name`` read: its vocabulary view where it has a vocabulary and the
    view is on, else the text as written."""
    vocabulary = model_vocabulary(name) if view_enabled() else None
    return (lambda text: vocabulary_view(text, vocabulary)) if vocabulary else (lambda text: text)
