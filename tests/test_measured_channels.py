"""The measured channels: queries read for the colours and patterns they name, cut-outs measured for the colours
and patterns they show, and the two folded into the vectors so that search ranks the named colour first."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from garment_search.colours import COLOUR_NAMES, TONES, colour_profile, name_colour, query_colours
from garment_search.embedding.measured_channels import (COLOUR, FAMILY, PATTERN, MeasuredChannels, colour_weight,
                                                        family_weight, pattern_weight, sleeve_weight,
                                                        with_measured_channels)
from garment_search.families import kept_family_profile, query_families, tag_kept_groups
from garment_search.patterns import PATTERNS, pattern_profile, query_patterns


def named(text: str) -> dict[str, float]:
    w = query_colours(text)
    return {COLOUR_NAMES[i]: round(float(v), 3) for i, v in enumerate(w) if v}


def cut_out(*stripes: tuple[int, int, int], size: int = 60) -> Image.Image:
    """Vertical stripes of the given colours in the middle of a black (background) square."""
    img = np.zeros((size, size, 3), np.uint8)
    width = (size // 2) // len(stripes)
    for k, rgb in enumerate(stripes):
        img[10:50, 15 + k * width:15 + (k + 1) * width] = rgb
    return Image.fromarray(img)


def test_queries_name_colours_by_the_longest_phrase_and_synonym():
    assert named("navy blue shirt") == {"navy blue": 1.0}  # not also "blue"
    assert named("Navy shirt") == named("navy blue shirt")
    assert named("hot pink top") == {"fuchsia": 1.0}
    assert named("light gray hoodie") == {"light grey": 1.0}
    assert named("pink and white striped sweater") == {"pink": 0.5, "white": 0.5}
    assert named("floral tunic") == {} and named("a photo of a dress") == {}
    assert named("greyish") == {}  # whole words only


def test_tones_name_their_family():
    assert set(named("pastel coloured tunic")) == set(TONES["pastel"])
    dark_brown = named("dark brown tunic")  # "dark" (a tone) and "brown", half each
    assert dark_brown["brown"] == 1.0 and dark_brown["navy blue"] == 0.5
    assert named("dark green dress") == {"dark green": 1.0}  # a colour name, not the tone


def test_profile_measures_garment_pixels_and_ignores_the_black_background():
    red = colour_profile(cut_out((200, 30, 40)))
    assert red.sum() == pytest.approx(1.0, abs=1e-4)
    reds = [COLOUR_NAMES.index(c) for c in ("red", "maroon", "burgundy", "terracotta", "coral")]
    assert red[reds].sum() > 0.9 and red[COLOUR_NAMES.index("black")] < 0.01
    striped = colour_profile(cut_out((240, 150, 180), (245, 245, 242)))
    pink, white = striped[COLOUR_NAMES.index("pink")], striped[[COLOUR_NAMES.index(c) for c in ("white", "cream")]].sum()
    assert pink > 0.3 and white > 0.3
    assert not colour_profile(Image.new("RGB", (20, 20))).any()  # nothing cut out: no colour
    assert name_colour(np.array([[200, 30, 40]] * 50, np.uint8)) == COLOUR_NAMES.index("red")


class ConstantEmbedder:
    """Every image and every text has the same vector: only the colour channel can tell photos apart."""

    identity = "constant@test"

    def load(self):
        return self

    def encode_images(self, images, batch_size=32):
        return np.tile(np.array([[0.6, 0.8]], np.float32), (len(images), 1))

    def encode_text(self, text):
        return np.array([0.6, 0.8], np.float32)


def test_channel_ranks_the_named_colour_first_and_leaves_other_queries_alone():
    channel = MeasuredChannels(ConstantEmbedder(), [(COLOUR, 0.2)])
    photos = channel.encode_images([cut_out((45, 90, 190)), cut_out((200, 30, 40))])
    assert photos.shape == (2, 2 + len(COLOUR_NAMES))
    red, blue, top = (channel.encode_text(t) for t in ("a red top", "blue top", "a top"))
    assert (photos @ red)[1] > (photos @ red)[0] + 0.15
    assert (photos @ blue)[0] > (photos @ blue)[1] + 0.15
    assert (photos @ top)[0] == pytest.approx((photos @ top)[1]) == pytest.approx(1.0)  # the cosine alone
    assert channel.encode_images([]).shape == (0, 2 + len(COLOUR_NAMES))


def test_weights_are_part_of_the_identity_and_zero_turns_a_channel_off(monkeypatch):
    inner = ConstantEmbedder()
    assert with_measured_channels(inner, 0, 0, 0, 0) is inner  # the length channel is off unless LENGTH_WEIGHT is set
    assert with_measured_channels(inner, 0.1, 0, 0, 0).identity == "constant@test+colour0.1"
    assert with_measured_channels(inner, 0.1, 0.02, 0, 0).identity == "constant@test+colour0.1+pattern0.02"
    assert with_measured_channels(inner, 0, 0, 0.05, 0).identity == "constant@test+family0.05"
    assert sleeve_weight() == 0.05  # re-judged with the querybank on (docs/benchmarks.md, "Sleeve channel")
    assert with_measured_channels(inner, 0, 0, 0).identity.startswith("constant@test+sleeve@")  # served sleeve weight
    assert with_measured_channels(inner, 0, 0, 0, 0, 0.1).identity.startswith("constant@test+length@")  # pose's hash
    monkeypatch.setenv("COLOUR_WEIGHT", "0.3")
    monkeypatch.setenv("PATTERN_WEIGHT", "0")
    monkeypatch.setenv("FAMILY_WEIGHT", "0")
    monkeypatch.setenv("SLEEVE_WEIGHT", "0")
    assert colour_weight() == 0.3 and with_measured_channels(inner).identity == "constant@test+colour0.3"
    for variable, read in (("COLOUR_WEIGHT", colour_weight), ("PATTERN_WEIGHT", pattern_weight),
                           ("FAMILY_WEIGHT", family_weight), ("SLEEVE_WEIGHT", sleeve_weight)):
        for bad in ("-1", "nan", "strong"):
            monkeypatch.setenv(variable, bad)
            with pytest.raises(ValueError, match=f"{variable} must be a number"):
                read()


def named_patterns(text: str) -> dict[str, float]:
    return {PATTERNS[i]: round(float(v), 3) for i, v in enumerate(query_patterns(text)) if v}


def test_queries_name_patterns_and_every_print_asks_for_patterned():
    assert named_patterns("floral tunic") == named_patterns("orange checked shirt") == {"patterned": 1.0}
    assert named_patterns("grey sweatshirt with a print") == named_patterns("polka dot dress") == {"patterned": 1.0}
    assert named_patterns("pink and white striped sweater") == {"striped": 1.0}
    assert named_patterns("solid colour tee") == {"plain": 1.0}
    assert named_patterns("navy blue shirt") == {} and named_patterns("printer") == {}  # whole words only


def test_pattern_profile_is_the_measured_surface_or_nothing():
    stripes = np.zeros((144, 144, 3), np.uint8)
    stripes[20:124, 20:124] = (230, 230, 230)
    for y in range(20, 124, 8):
        stripes[y:y + 4, 20:124] = (20, 30, 120)
    assert pattern_profile(Image.fromarray(stripes)).tolist() == [0, 1, 0]
    flat = np.zeros((144, 144, 3), np.uint8)
    flat[20:124, 20:124] = (200, 30, 40)
    assert pattern_profile(Image.fromarray(flat)).tolist() == [1, 0, 0]
    assert not pattern_profile(Image.new("RGB", (144, 144))).any()  # nothing to measure: no pattern credited
    channel = MeasuredChannels(ConstantEmbedder(), [(COLOUR, 0.05), (PATTERN, 0.1)])
    photos = channel.encode_images([Image.fromarray(stripes), Image.fromarray(flat)])
    assert photos.shape == (2, 2 + len(COLOUR_NAMES) + len(PATTERNS))
    striped, red = channel.encode_text("striped top"), channel.encode_text("red top")
    assert (photos @ striped)[0] == pytest.approx(1.1) and (photos @ striped)[1] == pytest.approx(1.0)
    assert (photos @ red)[1] > (photos @ red)[0]


def test_reading_a_query_needs_no_opencv():
    """The search container has no OpenCV: the query side of the channel must not import it."""
    import subprocess
    import sys

    code = ("import sys; from garment_search.embedding.measured_channels import with_measured_channels; "
            "from garment_search.colours import query_colours; query_colours('navy blue shirt'); "
            "from garment_search.patterns import query_patterns; query_patterns('floral tunic'); "
            "from garment_search.families import query_families; query_families('blue jeans'); "
            "assert 'cv2' not in sys.modules, 'cv2 imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def named_families(text: str) -> dict[str, float]:
    return {("top", "lower")[i]: round(float(v), 3) for i, v in enumerate(query_families(text)) if v}


def test_queries_name_garment_families():
    assert named_families("pastel coloured tunic") == {"top": 1.0}
    assert named_families("floral dress") == {"top": 1.0}  # one-piece is in the top family
    assert named_families("blue skinny jeans") == {"lower": 1.0}
    assert named_families("white t-shirt") == {"top": 1.0}
    assert named_families("a tunic over jeans") == {"top": 0.5, "lower": 0.5}
    assert named_families("something red") == {}


def test_kept_family_profile_reads_what_the_cut_out_kept():
    view = Image.new("RGB", (8, 8), (200, 30, 40))
    assert kept_family_profile(view).tolist() == [0, 0]  # untagged: an original photo or a size chart
    assert kept_family_profile(tag_kept_groups(view.copy(), ["upper", "one-piece"])).tolist() == [1, 0]
    assert kept_family_profile(tag_kept_groups(view.copy(), ["lower"])).tolist() == [0, 1]
    assert kept_family_profile(tag_kept_groups(view.copy(), ["upper", "lower", "one-piece"])).tolist() == [0.5, 0.5]


def test_family_channel_ranks_the_named_family_first():
    top = tag_kept_groups(Image.new("RGB", (8, 8), (40, 84, 182)), ["upper", "one-piece"])
    jeans = tag_kept_groups(Image.new("RGB", (8, 8), (40, 84, 182)), ["lower"])
    channel = MeasuredChannels(ConstantEmbedder(), [(FAMILY, 0.05)])
    photos = channel.encode_images([top, jeans])
    assert (photos @ channel.encode_text("blue jeans"))[1] > (photos @ channel.encode_text("blue jeans"))[0]
    assert (photos @ channel.encode_text("blue tunic"))[0] > (photos @ channel.encode_text("blue tunic"))[1]
    colourless = channel.encode_text("something blue")
    assert (photos @ colourless)[0] == pytest.approx((photos @ colourless)[1])  # no garment named: cosine alone


def test_embedding_views_carry_the_groups_their_cut_out_kept():
    from garment_search.images import DecodedImage
    from garment_search.segmentation import embedding_view
    from garment_search.segmentation.groups import KEPT_GROUPS_INFO

    class Halves:  # a stand-in garment model: the top half is an upper garment, the bottom half a lower one
        groups = ("upper", "lower", "one-piece")

        def probabilities(self, rgb):
            probs = np.zeros((4, 64, 48), np.float32)
            probs[1, 8:32, 8:40] = probs[2, 32:60, 8:40] = 1
            probs[0] = 1 - probs[1:].sum(0)
            return probs

    rgb = Image.fromarray(np.random.default_rng(0).integers(60, 200, (128, 96, 3), dtype=np.uint8))
    image = DecodedImage(rgb, None)
    view, empty = embedding_view(image, Halves(), "lower")
    assert not empty and view.info[KEPT_GROUPS_INFO] == ("lower",)
    assert kept_family_profile(view).tolist() == [0, 1]
    assert kept_family_profile(embedding_view(image, Halves(), "garments")[0]).tolist() == [0.5, 0.5]
