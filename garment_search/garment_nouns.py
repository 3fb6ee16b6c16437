"""The garment nouns of the embedded model's captions, shared by training (``training.embedding.captions``) and the
index builder's querybank (``garment_search.embedding.querybank``), which must speak the captions' words."""

from __future__ import annotations

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

#: Garment nouns shoppers write that no caption used, and the caption noun each names (the query view's
#: ``synonyms``; a plural such as "gowns" is looked up by the same stems as caption words). General fashion
#: English, written before it was measured, not taken from any judge's queries.
SHOPPER_NOUNS: dict[str, str] = {
    **dict.fromkeys(("gown", "frock", "sundress", "abaya", "kaftan", "caftan", "jilbab"), "dress"),
    "playsuit": "romper", **dict.fromkeys(("overalls", "dungarees", "onesie", "catsuit"), "jumpsuit"),
    **dict.fromkeys(("leotard", "unitard"), "bodysuit"),
    **dict.fromkeys(("slacks", "chinos", "joggers", "sweatpants", "trackpants", "culottes", "trouser"), "trousers"),
    "pant": "pants", "jean": "jeans", "jeggings": "leggings", "miniskirt": "skirt",
    **dict.fromkeys(("pullover", "knitwear", "turtleneck"), "sweater"), "cardi": "cardigan", "hoody": "hoodie",
    "tshirt": "t-shirt", **dict.fromkeys(("camisole", "cami", "tank", "singlet"), "top"),
    **dict.fromkeys(("blouson", "bomber", "windbreaker", "anorak", "shacket"), "jacket"),
    **dict.fromkeys(("parka", "overcoat", "raincoat", "trench"), "coat"),
    **dict.fromkeys(("gilet", "waistcoat"), "vest"), "outerwear": "outwear", "poncho": "cape",
}
