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
