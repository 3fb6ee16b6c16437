"""Garment families in search: the family of the garment a query names against the family a photo's cut-out kept.

Issue #8's failure case is a "jeans" query that finds tunics, because a photo of a tunic also shows jeans. The
garment model already decides, per photo, which family is the displayed product (``keep=product``: the top family
— upper and one-piece — or the lower one), so the index knows what each view shows without looking again
(``embedding_view`` records the kept groups in the view's ``info``). A query's garment nouns name a family
("tunic", "dress", "jacket" → top; "skirt", "jeans", "trousers" → lower); search's family channel
(``garment_search.embedding.measured_channels``) credits views whose kept family is the named one. Re-reading a
view with the model instead was measured and refused (docs/benchmarks.md, stop 14): a dress read partly as a
skirt then loses to any top. The photo side imports the segmentation tables where it runs (their package loads
OpenCV): search reads queries in a container without it.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from garment_search.query_words import longest_first, phrase_weights

#: What shoppers call the garments of each family (``segmentation.groups.PRODUCT_FAMILIES`` order: top, then
#: lower).
FAMILY_QUERY_WORDS: tuple[tuple[str, ...], ...] = (
    ("top", "tops", "tunic", "tunics", "shirt", "shirts", "blouse", "blouses", "t shirt", "t shirts", "tshirt",
     "tee", "tees", "sweater", "sweaters", "jumper", "jumpers", "pullover", "hoodie", "hoodies", "sweatshirt",
     "sweatshirts", "cardigan", "cardigans", "jacket", "jackets", "blazer", "blazers", "coat", "coats", "vest",
     "waistcoat", "cape", "poncho", "kimono", "longsleeve", "long sleeve top", "polo", "tank top", "camisole",
     "bodysuit", "outwear", "outerwear", "dress", "dresses", "gown", "jumpsuit", "jumpsuits", "romper", "playsuit",
     "kaftan", "abaya"),
    ("skirt", "skirts", "trousers", "pants", "jeans", "shorts", "leggings", "joggers", "chinos", "culottes",
     "sweatpants"),
)
_FAMILY_PHRASES = longest_first((w, (f,)) for f, words in enumerate(FAMILY_QUERY_WORDS) for w in words)


def tag_kept_groups(view: Image.Image, kept: list[str]) -> Image.Image:
    """Record on ``view`` the garment groups its cut-out kept (what ``kept_family_profile`` reads)."""
    from garment_search.segmentation.groups import KEPT_GROUPS_INFO

    view.info[KEPT_GROUPS_INFO] = tuple(kept)
    return view


def kept_family_profile(image: Image.Image) -> np.ndarray:
    """Over ``PRODUCT_FAMILIES``, the families the view's cut-out kept, equal parts summing to 1 (``garments``
    keeps both: a half each); zeros for an image no cut-out tagged (an original photo, a size chart)."""
    from garment_search.segmentation.groups import GARMENT_GROUPS, KEPT_GROUPS_INFO, PRODUCT_FAMILIES

    kept = image.info.get(KEPT_GROUPS_INFO, ())
    profile = np.array([any(GARMENT_GROUPS[g - 1] in kept for g in family) for family in PRODUCT_FAMILIES],
                       np.float32)
    return profile / profile.sum() if profile.any() else profile


def query_families(text: str) -> np.ndarray:
    """Weights over ``PRODUCT_FAMILIES`` for the garments a query names (each named one an equal part; zeros for
    none)."""
    return phrase_weights(text, _FAMILY_PHRASES, len(FAMILY_QUERY_WORDS))
