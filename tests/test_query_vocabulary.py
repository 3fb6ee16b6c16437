"""Free-text queries read with the words our towers were trained against (``query_vocabulary``)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from garment_search.embedding import CONFIG_DIR, EMBEDDED_MEMBER, EMBEDDED_MODEL, our_config
from garment_search.embedding.query_vocabulary import model_vocabulary, tower_reader, vocabulary_view
from garment_search.query_words import words
from garment_search.embedding.text_onnx import EMBEDDED_TEXT_ONNX, OnnxTextEncoder

VOCABULARY = frozenset({"a", "black", "dress", "grey", "navy", "blue", "navy blue", "shirt", "t-shirt", "women's",
                        "striped", "long sleeve top", "off white", "top"})


@pytest.mark.parametrize("query, view", [
    ("black floral embroidered shift dress", "black dress"),  # words no caption used are left out
    ("Black  FLORAL dress!", "black dress"),  # any case and spacing
    ("navy blue shirt", "navy blue shirt"),  # every word known: the query as written
    ("Navy Blue Shirt", "Navy Blue Shirt"),
    ("periwinkle kaftan", "periwinkle kaftan"),  # nothing known: the query as written, never an empty view
    ("gray t-shirt with pockets", "gray t-shirt"),  # "gray" is "grey"; hyphenated words stay whole
    ("women's striped boho shirt", "women's striped shirt"),
    # phrases: a caption phrase or a multi-word prefix of one is kept whole, its lone parts never
    ("grey short sleeve top", "grey top"),  # not "grey sleeve top": captions said "sleeve" only as "long sleeve top"
    ("navy long sleeve dress", "navy long sleeve dress"),
    ("off white top with bows", "off white top"),
    ("off the shoulder top", "top"),
    ("", ""),
])
def test_vocabulary_view_keeps_known_words_in_order(query, view):
    assert vocabulary_view(query, VOCABULARY) == view


@pytest.mark.parametrize("query, view", [
    ("black dresses", "black dress"),  # -es
    ("Navy Blue T-Shirts", "navy blue t-shirt"),  # -s; the view spells kept words as captions do
    ("gray tops", "grey top"),
    ("grey long sleeves tops", "grey long sleeve top"),  # a plural inside a phrase
    ("colored shirts", "shirt"),  # a US spelling of a word these captions never used stays unknown
    ("as tops", "top"),  # words of three letters are never singularised: "as" is not "a"
    ("navy blue shirt", "navy blue shirt"),  # every word a caption word: the query as written
    ("Navy Blue Shirt", "Navy Blue Shirt"),
    ("periwinkle kaftans", "periwinkle kaftans"),  # nothing known: the query as written
    ("glasses", "glasses"),  # "glasse" and "glass" are no caption words
    ("navy-blue t-shirt", "navy blue t-shirt"),  # a hyphenated word no caption used is read in parts
    ("Off-White tops", "off white top"),
    ("x-large navy top", "navy top"),  # parts no caption used are left out like any unknown word
])
def test_inflections_are_read_as_the_caption_words(query, view):
    assert vocabulary_view(query, VOCABULARY, inflections=True) == view


@pytest.mark.parametrize("query, view", [
    ("navy", "navy clothing"),  # a lone colour is read as the colour-only captions were
    ("Striped", "striped clothing"),
    ("navy or off white", "navy off white clothing"),
    ("navy blue floral", "navy blue clothing"),
    ("black dress", "black dress"),  # a garment named: nothing added
    ("navy t-shirt", "navy t-shirt"),
    ("periwinkle", "periwinkle"),  # nothing known: the query as written
    ("", ""),
])
def test_completion_reads_a_lone_attribute_with_a_noun(query, view):
    assert vocabulary_view(query, VOCABULARY, completion=True) == view


@pytest.mark.parametrize("query, view", [
    ("navy gowns", "navy dress"),  # a shopper's noun, plural, read as the caption noun it names
    ("black tshirt", "black t-shirt"),
    ("cami top", "top"),  # the same noun twice is read once
    ("black slacks", "black"),  # "trousers" is no caption word of this vocabulary: "slacks" stays unknown
    ("navy dress", "navy dress"),
])
def test_synonyms_read_shopper_nouns_as_caption_nouns(query, view):
    assert vocabulary_view(query, VOCABULARY, inflections=True, synonyms=True) == view
    assert vocabulary_view("navy gowns", VOCABULARY, inflections=True) == "navy"  # off: the unknown noun is dropped


def test_shopper_nouns_name_caption_nouns_of_the_served_model():
    from garment_search.garment_nouns import SHOPPER_NOUNS

    vocabulary = model_vocabulary(EMBEDDED_MODEL)
    assert set(SHOPPER_NOUNS.values()) <= vocabulary and not set(SHOPPER_NOUNS) & vocabulary


def test_inflections_and_completion_switches(monkeypatch):
    monkeypatch.delenv("QUERY_VOCABULARY_VIEW", raising=False)
    monkeypatch.setenv("QUERY_INFLECTIONS", "1")
    monkeypatch.setenv("QUERY_COMPLETION", "0")
    assert tower_reader(EMBEDDED_MODEL)("Pink tunics") == "pink tunic"
    assert tower_reader(EMBEDDED_MODEL)("pink") == "pink"
    monkeypatch.setenv("QUERY_INFLECTIONS", "0")
    monkeypatch.setenv("QUERY_COMPLETION", "1")
    assert tower_reader(EMBEDDED_MODEL)("Pink tunics") == "pink clothing"  # "tunics" unknown without inflections
    assert tower_reader(EMBEDDED_MODEL)("pink") == "pink clothing"
    assert tower_reader("ViT-B-32")("pink") == "pink"  # a CLIP reads the query as written
    monkeypatch.setenv("QUERY_COMPLETION", "maybe")
    with pytest.raises(ValueError, match="QUERY_COMPLETION"):
        tower_reader(EMBEDDED_MODEL)


def test_our_configs_ship_the_captions_vocabulary():
    pytest.importorskip("cv2")
    from training.embedding.captions import caption_vocabulary

    members = [our_config(p.stem) for p in sorted(CONFIG_DIR.glob("*.json"))]  # "extends" resolved
    members = [c for c in members if "ensemble" not in c]
    assert len(members) >= 2  # the ResNet-18 member and the pretrained MobileNetV2 one
    for member in members:  # retrain with new caption words → update the configs
        assert member["query_vocabulary"] == caption_vocabulary()
    config = json.loads((CONFIG_DIR / f"{EMBEDDED_MEMBER}.json").read_text())
    assert model_vocabulary(EMBEDDED_MEMBER) == frozenset(caption_vocabulary())
    assert model_vocabulary("garment-minilm-resnet18x3") == frozenset(caption_vocabulary())  # its member's
    # the served ensemble's towers were trained with sleeve captions: its own config lists their words
    served = json.loads((CONFIG_DIR / f"{EMBEDDED_MODEL}.json").read_text())
    assert served["query_vocabulary"] == caption_vocabulary(sleeves=True)
    assert model_vocabulary(EMBEDDED_MODEL) == frozenset(caption_vocabulary(sleeves=True))
    assert {"tunic", "navy", "navy blue", "long sleeve top", "striped", "t-shirt", "sleeveless",
            "short sleeve"} <= model_vocabulary(EMBEDDED_MODEL)
    for vocabulary in (config["query_vocabulary"], served["query_vocabulary"]):
        assert all(" ".join(words(p)) == p for p in vocabulary)  # lower case, one space between words
    assert "sleeve" not in model_vocabulary(EMBEDDED_MODEL)  # only ever inside "long sleeve", "short sleeve" …


def test_only_our_models_read_a_view_and_the_switch_turns_it_off(monkeypatch):
    for variable in ("QUERY_VOCABULARY_VIEW", "QUERY_INFLECTIONS", "QUERY_COMPLETION"):
        monkeypatch.delenv(variable, raising=False)
    query = "black floral embroidered shift dress"
    assert tower_reader(EMBEDDED_MODEL)(query) == "black dress"
    assert tower_reader(EMBEDDED_MODEL)("sleeveless floral top") == "sleeveless top"  # trained on sleeve words
    assert tower_reader(EMBEDDED_MODEL)("Pink tunics") == "pink tunic"  # inflections: on by default
    assert tower_reader(EMBEDDED_MODEL)("pink") == "pink clothing"  # completion: on by default
    assert tower_reader("ViT-B-32")(query) == query  # a CLIP reads every word it knows
    monkeypatch.setenv("QUERY_VOCABULARY_VIEW", "0")
    assert tower_reader(EMBEDDED_MODEL)(query) == query
    monkeypatch.setenv("QUERY_VOCABULARY_VIEW", "sometimes")
    with pytest.raises(ValueError, match="QUERY_VOCABULARY_VIEW"):
        tower_reader(EMBEDDED_MODEL)


def test_the_served_text_encoder_embeds_the_view(monkeypatch):
    for variable in ("QUERY_VOCABULARY_VIEW", "QUERY_INFLECTIONS", "QUERY_COMPLETION"):
        monkeypatch.delenv(variable, raising=False)
    encoder = OnnxTextEncoder(EMBEDDED_TEXT_ONNX)
    view = encoder.encode_text("black dress")
    assert np.allclose(encoder.encode_text("black floral embroidered shift dress"), view, atol=1e-6)
    assert not np.allclose(encoder.encode_text("black striped dress"), view, atol=1e-3)  # a known word counts
    assert np.allclose(encoder.encode_text("Black dresses"), view, atol=1e-6)  # a plural read as its caption word
    assert np.allclose(encoder.encode_text("pink"), encoder.encode_text("pink clothing"), atol=1e-6)
    monkeypatch.setenv("QUERY_VOCABULARY_VIEW", "0")
    assert not np.allclose(OnnxTextEncoder(EMBEDDED_TEXT_ONNX).encode_text("black floral embroidered shift dress"),
                           view, atol=1e-3)


@pytest.mark.parametrize("query, read", [
    ("Cobalt dress", "blue dress"),
    ("sky-blue shirt", "light blue shirt"),  # hyphenated
    ("slate grey coat", "charcoal coat"),  # the longest name first: not "grey grey"
    ("Wine-coloured skirt", "burgundy coloured skirt"),
    ("t-shirt in emerald", "t-shirt in green"),
    ("a pink top", "a pink top"),  # no shopper name: the text as written
    ("off-white tee", "off-white tee"),  # a caption wording, left to the view's own hyphen reading
])
def test_shopper_colour_names_read_as_palette_names(query, read):
    from garment_search.colours import read_shopper_colours

    assert read_shopper_colours(query) == read


def test_shopper_colour_names_are_unknown_to_the_captions_and_name_the_palette():
    from garment_search.colours import COLOURS, COLOUR_WORDS, SHOPPER_COLOURS

    names = [n for wordings in SHOPPER_COLOURS.values() for n in wordings]
    assert set(SHOPPER_COLOURS) <= set(COLOURS) and len(names) == len(set(names))
    vocabulary = model_vocabulary(EMBEDDED_MODEL)
    assert not {n for n in names if " " not in n} & vocabulary  # every single-word name is one no caption used
    assert not set(names) & {w for k, v in COLOUR_WORDS.items() for w in (k, *v)}


def test_the_colour_names_switch_reads_them_for_the_towers_and_the_colour_channel(monkeypatch):
    from garment_search.colours import COLOUR_NAMES, query_colours

    monkeypatch.delenv("QUERY_VOCABULARY_VIEW", raising=False)
    monkeypatch.setenv("QUERY_COLOUR_NAMES", "0")
    assert tower_reader(EMBEDDED_MODEL)("cobalt dress") == "dress"
    assert not query_colours("cobalt dress").any()
    monkeypatch.setenv("QUERY_COLOUR_NAMES", "1")
    assert tower_reader(EMBEDDED_MODEL)("cobalt dress") == "blue dress"
    assert query_colours("cobalt dress")[COLOUR_NAMES.index("blue")] == 1.0
    assert tower_reader("ViT-B-32")("cobalt dress") == "cobalt dress"  # a CLIP knows "cobalt"
