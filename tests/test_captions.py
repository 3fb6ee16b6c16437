"""Training captions: measured patterns and which captions count as describing which crop."""

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")
torch = pytest.importorskip("torch")

from garment_search.colours import COLOUR_NAMES  # noqa: E402
from training.embedding.captions import NOUNS, PATTERNS, UNSURE, Attributes, captions_for  # noqa: E402
from garment_search.patterns import measure_surface  # noqa: E402
from training.embedding.train import caption_fit, caption_table, crop_attributes, measured_surfaces  # noqa: E402


def _garment(fill: np.ndarray) -> np.ndarray:
    """A 144 px black-padded crop with a shirt-shaped garment region showing ``fill``."""
    crop = np.zeros((144, 144, 3), np.uint8)
    mask = np.zeros((144, 144), np.uint8)
    cv2.fillPoly(mask, [np.array([[40, 10], [104, 10], [130, 50], [110, 60], [110, 134], [34, 134], [34, 60],
                                  [14, 50]])], 1)
    crop[mask.astype(bool)] = fill[mask.astype(bool)]
    return crop


def _shaded(rgb) -> np.ndarray:
    """A plain colour with smooth shading, like fabric folds."""
    shade = 0.85 + 0.15 * np.sin(np.linspace(0, 3 * np.pi, 144))[None, :, None]
    return np.clip(np.full((144, 144, 3), rgb, np.float32) * shade, 0, 255).astype(np.uint8)


def _striped_crop() -> np.ndarray:
    """Navy and white horizontal stripes."""
    rows = (np.arange(144) // 6) % 2 == 0
    fill = np.where(rows[:, None, None], np.array([30, 36, 78], np.uint8), np.array([245, 245, 242], np.uint8))
    return _garment(np.broadcast_to(fill, (144, 144, 3)).copy())


def test_plain_garment_is_plain_with_no_second_colour():
    surface = measure_surface(_garment(_shaded((200, 30, 40))))
    assert PATTERNS[surface.pattern] == "plain"
    assert surface.second_colour == UNSURE


def test_stripes_are_striped_with_their_second_colour():
    surface = measure_surface(_striped_crop())
    assert PATTERNS[surface.pattern] == "striped"
    assert COLOUR_NAMES[surface.second_colour] in {"navy blue", "white"}


def test_a_print_is_patterned():
    rng = np.random.default_rng(0)
    fill = np.full((144, 144, 3), (238, 228, 200), np.uint8)
    for _ in range(60):
        centre = tuple(int(v) for v in rng.integers(0, 144, 2))
        cv2.circle(fill, centre, int(rng.integers(3, 9)), (200, 30, 40) if rng.random() < 0.5 else (42, 140, 62), -1)
    assert PATTERNS[measure_surface(_garment(fill)).pattern] == "patterned"


def test_black_padding_and_tiny_regions_are_not_measured():
    assert measure_surface(np.zeros((144, 144, 3), np.uint8)).pattern == UNSURE


def test_switched_off_attributes_are_not_measured_and_not_captioned(tmp_path):
    from types import SimpleNamespace

    navy = COLOUR_NAMES.index("navy blue")
    crops = SimpleNamespace(images=np.stack([_striped_crop()]), colours=np.array([navy]), kinds=["shirt"])
    surfaces = measured_surfaces(crops, tmp_path / "surfaces.npz")
    assert (measured_surfaces(crops, tmp_path / "surfaces.npz") == surfaces).all()  # read back from the cache
    full, = crop_attributes(crops, surfaces)
    assert PATTERNS[full.pattern] == "striped" and full.second_colour != UNSURE
    no_pattern, = crop_attributes(crops, surfaces, patterns=False)
    assert no_pattern.pattern == UNSURE and no_pattern.second_colour == full.second_colour
    no_second, = crop_attributes(crops, surfaces, second_colours=False)
    assert no_second.pattern == full.pattern and no_second.second_colour == UNSURE
    texts = caption_table([no_second]).texts
    assert "a navy striped shirt" in texts and not any(" and " in t for t in texts)
    plain_recipe = caption_table(crop_attributes(crops, surfaces, patterns=False, second_colours=False)).texts
    assert "a navy shirt" in plain_recipe
    assert not any("striped" in t or " and " in t for t in plain_recipe)


def test_unmeasured_attributes_get_no_captions():
    red = COLOUR_NAMES.index("red")
    texts = [t for group in captions_for(Attributes(red, "shirt")) for t, _ in group]
    assert "a red shirt" in texts
    assert not any("striped" in t or "plain" in t or " and " in t for t in texts)
    striped = [t for group in captions_for(Attributes(red, "shirt", PATTERNS.index("striped"),
                                                        COLOUR_NAMES.index("white"))) for t, _ in group]
    assert {"a red striped shirt", "red and white shirt"} <= set(striped)


def test_fit_follows_what_each_caption_mentions():
    red, white, navy = (COLOUR_NAMES.index(c) for c in ("red", "white", "navy blue"))
    striped, plain = PATTERNS.index("striped"), PATTERNS.index("plain")
    attrs = [Attributes(red, "shirt", striped, white), Attributes(white, "shirt", striped, red),
             Attributes(red, "shirt", plain), Attributes(red, "shirt"), Attributes(navy, "skirt", plain)]
    table = caption_table(attrs)
    kinds = sorted({a.kind for a in attrs})
    noun_ok = torch.tensor([[n in NOUNS[k] for n in table.nouns] + [True] for k in kinds])
    ask = ["red and white shirt", "a red striped shirt", "a red shirt", "a plain skirt"]
    cap = torch.tensor([table.texts.index(t) for t in ask])
    fits, unknown = caption_fit(table, cap, torch.tensor([a.colour for a in attrs]),
                                torch.tensor([a.second_colour for a in attrs]), torch.tensor([a.pattern for a in attrs]),
                                torch.tensor([kinds.index(a.kind) for a in attrs]), noun_ok)
    assert fits.tolist() == [
        [True, True, True, False],  # red shirt, white stripes
        [True, False, False, False],  # white shirt, red stripes: "red and white" fits either order
        [False, False, True, False],  # plain red shirt
        [False, False, True, False],  # red shirt, pattern not measured
        [False, False, False, True],  # plain navy skirt
    ]
    assert unknown[3].tolist() == [True, True, False, False]  # not taught that it is not striped
    assert not unknown[[0, 1, 2, 4]].any()


def test_tone_captions_fit_every_colour_of_their_family():
    mint, navy, black = (COLOUR_NAMES.index(c) for c in ("mint", "navy blue", "black"))
    attrs = [Attributes(mint, "top"), Attributes(navy, "top"), Attributes(black, "top")]
    texts = {t for group in captions_for(attrs[2], tones=True) for t, _ in group}
    assert {"a dark coloured top", "neutral clothing"} <= texts  # black is dark and neutral
    assert not any("pastel" in t for t in texts)
    assert not any("dark" in t for group in captions_for(attrs[2]) for t, _ in group)  # tones are opt-in
    table = caption_table(attrs, tones=True)
    noun_ok = torch.tensor([[n in NOUNS["top"] for n in table.nouns] + [True]])
    ask = ["a pastel coloured tunic", "dark top", "a mint top"]
    cap = torch.tensor([table.texts.index(t) for t in ask])
    fits, unknown = caption_fit(table, cap, torch.tensor([a.colour for a in attrs]), torch.full((3,), UNSURE),
                                torch.full((3,), UNSURE), torch.zeros(3, dtype=torch.long), noun_ok)
    assert fits.tolist() == [[True, False, True], [False, True, False], [False, True, False]]
    assert not unknown.any()


def test_sleeve_captions_are_opt_in_and_fit_only_the_measured_length():
    from garment_search.sleeves import SLEEVES
    from training.embedding.captions import caption_vocabulary

    red = COLOUR_NAMES.index("red")
    long_, short = SLEEVES.index("long"), SLEEVES.index("short")
    attrs = [Attributes(red, "top", sleeve=long_), Attributes(red, "top", sleeve=short), Attributes(red, "top"),
             Attributes(red, "skirt")]
    texts = {t for group in captions_for(attrs[1], sleeves=True) for t, _ in group}
    assert {"a short sleeve top", "red short sleeved tunic", "a red short sleeve top"} <= texts
    assert not any("sleeve" in t for group in captions_for(attrs[1]) for t, _ in group)  # opt-in
    assert not any("sleeve" in t for group in captions_for(attrs[2], sleeves=True) for t, _ in group)  # unmeasured
    table = caption_table(attrs, sleeves=True)
    kinds = ["skirt", "top"]
    noun_ok = torch.tensor([[n in NOUNS[k] for n in table.nouns] + [True] for k in kinds])
    ask = ["a red long sleeved top", "short sleeve top", "a red top"]
    cap = torch.tensor([table.texts.index(t) for t in ask])
    fits, unknown = caption_fit(table, cap, torch.full((4,), red), torch.full((4,), UNSURE), torch.full((4,), UNSURE),
                                torch.tensor([1, 1, 1, 0]), noun_ok, torch.tensor([a.sleeve for a in attrs]))
    assert fits.tolist() == [[True, False, True], [False, True, True], [False, False, True], [False, False, False]]
    assert unknown.tolist()[2] == [True, True, False]  # a top whose sleeves were not read: left out, not negative
    assert not unknown[[0, 1, 3]].any()
    vocabulary = caption_vocabulary(sleeves=True)
    assert {"long sleeve", "short sleeved", "sleeveless"} <= set(vocabulary) and "short" not in vocabulary
    assert "sleeveless" not in caption_vocabulary()  # opt-in: towers trained without them never read them


def test_sleeve_lengths_are_read_for_tops_only_and_cached(tmp_path):
    from training.embedding.data import Crops
    from training.embedding.train import measured_sleeves

    rng = np.random.default_rng(3)
    images = rng.integers(0, 255, (3, 144, 144, 3), dtype=np.uint8)
    crops = Crops(images, np.zeros(3, int), ["t-shirt", "jeans", "longsleeve"])
    sleeves = measured_sleeves(crops, tmp_path / "sleeves.npz")
    assert sleeves[1] == UNSURE and set(sleeves.tolist()) <= {UNSURE, 0, 1, 2}
    assert (tmp_path / "sleeves.npz").exists()
    np.savez(tmp_path / "sleeves.npz", sleeves=np.array([2, UNSURE, 0]))
    assert measured_sleeves(crops, tmp_path / "sleeves.npz").tolist() == [2, UNSURE, 0]  # read from the cache


def test_every_crop_fits_its_own_sleeve_captions_and_no_caption_spells_a_noun():
    """One caption text means one thing: "long sleeve top" is the longsleeve class's noun, never a sleeve caption
    of a top (which would make a longsleeve crop a negative of its own caption)."""
    from garment_search.sleeves import SLEEVES

    black, long_ = COLOUR_NAMES.index("black"), SLEEVES.index("long")
    attrs = [Attributes(black, "longsleeve", sleeve=long_), Attributes(black, "top", sleeve=long_),
             Attributes(black, "longsleeve"), Attributes(black, "dress", sleeve=SLEEVES.index("sleeveless"))]
    table = caption_table(attrs, sleeves=True)
    assert "black long sleeve top" in table.texts and "black long sleeved top" in table.texts
    assert not any("long sleeve long" in t or "sleeve longsleeve" in t for t in table.texts)
    kinds = sorted({a.kind for a in attrs})
    noun_ok = torch.tensor([[n in NOUNS[k] for n in table.nouns] + [True] for k in kinds])
    for i, a in enumerate(attrs):
        own = torch.tensor([c for group in table.per_crop[i] for c in group])
        fits, _ = caption_fit(table, own, torch.tensor([a.colour]), torch.tensor([UNSURE]), torch.tensor([UNSURE]),
                              torch.tensor([kinds.index(a.kind)]), noun_ok, torch.tensor([a.sleeve]))
        assert fits.all(), [table.texts[c] for c, ok in zip(own.tolist(), fits[0].tolist()) if not ok]
