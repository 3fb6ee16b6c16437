"""Garment groups: the classes the garment model predicts, and how CCP labels map onto them.

Everything that is not a garment group (scenery, other people, skin, hair, hats, scarves and hijabs, bags,
footwear, jewellery, glasses, belts, underwear, legwear) is background: it is not the displayed product.
"""

from __future__ import annotations

BACKGROUND = 0
UPPER = 1
LOWER = 2
ONE_PIECE = 3

#: Model output channel order; index = class id.
CLASS_NAMES: tuple[str, ...] = ("background", "upper", "lower", "one-piece")
GARMENT_GROUPS: tuple[str, ...] = CLASS_NAMES[1:]

#: CCP label names (datasets/ccp/label_names.json) of each garment group.
CCP_GROUP_LABELS: dict[int, tuple[str, ...]] = {
    UPPER: (
        "blazer", "blouse", "bodysuit", "cape", "cardigan", "coat", "hoodie", "jacket", "jumper", "shirt",
        "sweater", "sweatshirt", "t-shirt", "top", "vest",
        # CCP's "suit" marks the suit *jacket* only (its trousers are labelled pants): looked at in the training
        # photos, every one is a blazer. As one-piece it taught the model that blazers are sometimes one-piece
        # (measured: 47% of one-piece pixels predicted upper, 11% of upper predicted one-piece).
        "suit",
    ),
    LOWER: ("jeans", "leggings", "pants", "shorts", "skirt"),
    ONE_PIECE: ("dress", "romper"),
}

#: CCP label names counted as skin or hair by the evaluation.
CCP_SKIN_HAIR: tuple[str, ...] = ("skin", "hair")
#: CCP label names counted as head coverings (hijabs and scarves are labelled "scarf"): never the product.
CCP_HEAD_COVERINGS: tuple[str, ...] = ("scarf", "hat")

#: Garment families for keep="product": the displayed product is the family covering most of the photo.
#: Upper and one-piece are one family: a long tunic sits between a top and a dress, and the model may label its
#: top half "upper" and its hem "one-piece"; trousers and skirts under it stay a separate family.
PRODUCT_FAMILIES: tuple[tuple[int, ...], ...] = ((UPPER, ONE_PIECE), (LOWER,))

#: Key in a view's ``PIL.Image.info`` under which ``embedding_view`` records the garment groups its cut-out kept
#: (the search's family channel reads it: ``garment_search.families``).
KEPT_GROUPS_INFO = "garment_search.kept_groups"

#: Values of remove_bg's "keep" field.
KEEP_CHOICES: tuple[str, ...] = ("product", "garments", *GARMENT_GROUPS)
DEFAULT_KEEP = "product"


def ccp_label_to_class(label_names: dict[int, str] | dict[str, str]) -> list[int]:
    """Lookup table from CCP label id (an int or its string, as in ``label_names.json``) to garment class id
    (background for every unlisted label)."""
    by_name = {name: cls for cls, names in CCP_GROUP_LABELS.items() for name in names}
    size = max(int(k) for k in label_names) + 1
    table = [BACKGROUND] * size
    for label_id, name in label_names.items():
        table[int(label_id)] = by_name.get(name, BACKGROUND)
    return table
