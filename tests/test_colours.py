"""The colour channel: queries read for the colours they name, cut-outs measured for the colours they show, and
the two folded into the vectors so that search ranks a garment of the named colour first."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from garment_search.colours import COLOUR_NAMES, TONES, colour_profile, name_colour, query_colours
from garment_search.embedding.colour_channel import ColourChannel, colour_weight, with_colour


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
    channel = ColourChannel(ConstantEmbedder(), 0.2)
    photos = channel.encode_images([cut_out((45, 90, 190)), cut_out((200, 30, 40))])
    assert photos.shape == (2, 2 + len(COLOUR_NAMES))
    red, blue, top = (channel.encode_text(t) for t in ("a red top", "blue top", "a top"))
    assert (photos @ red)[1] > (photos @ red)[0] + 0.15
    assert (photos @ blue)[0] > (photos @ blue)[1] + 0.15
    assert (photos @ top)[0] == pytest.approx((photos @ top)[1]) == pytest.approx(1.0)  # the cosine alone
    assert channel.encode_images([]).shape == (0, 2 + len(COLOUR_NAMES))


def test_weight_is_part_of_the_identity_and_zero_turns_the_channel_off(monkeypatch):
    inner = ConstantEmbedder()
    assert with_colour(inner, 0) is inner
    assert with_colour(inner, 0.1).identity == "constant@test+colour0.1"
    monkeypatch.setenv("COLOUR_WEIGHT", "0.3")
    assert colour_weight() == 0.3 and with_colour(inner).identity.endswith("+colour0.3")
    for bad in ("-1", "nan", "strong"):
        monkeypatch.setenv("COLOUR_WEIGHT", bad)
        with pytest.raises(ValueError, match="COLOUR_WEIGHT must be a number"):
            colour_weight()


def test_reading_a_query_needs_no_opencv():
    """The search container has no OpenCV: the query side of the channel must not import it."""
    import subprocess
    import sys

    code = ("import sys; from garment_search.embedding.colour_channel import with_colour; "
            "from garment_search.colours import query_colours; query_colours('navy blue shirt'); "
            "assert 'cv2' not in sys.modules, 'cv2 imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
