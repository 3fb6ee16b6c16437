"""Embedding training pieces that must behave the same here and on a GPU lease: batch augmentation, the compact
crop and pooled-text caches the lease trains from, the schedule's fit to a time budget, and held-out ranking."""

import math
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from training.embedding.captions import NOUNS  # noqa: E402
from training.embedding.data import Crops  # noqa: E402
from training.embedding.heldout import (CCP_COLOUR_LABELS, CCP_PATTERN_LABELS, CCP_SHOPPER_QUERIES,  # noqa: E402
                                       CLOTHING_SHOPPER_QUERIES, PATTERN_LABELS, attribute_mrr, class_precision,
                                       colour_garment_mrr, colour_pattern_query, labelled_mrr, labelled_query,
                                       shopper_mrr)
from training.embedding.train import MEAN, SIZE, STD, PooledTextCache, augment  # noqa: E402
from training.schedule import WarmupCosine  # noqa: E402


def _half_red_batch(n: int = 8) -> torch.Tensor:
    """uint8 N×3×144×144: left half black padding, right half red."""
    images = torch.zeros(n, 3, 144, 144, dtype=torch.uint8)
    images[:, 0, :, 72:], images[:, 1, :, 72:], images[:, 2, :, 72:] = 200, 30, 40
    return images


def test_augment_keeps_colours_and_padding_black():
    out = augment(_half_red_batch(), torch.Generator().manual_seed(0))
    assert out.shape == (8, 3, SIZE, SIZE) and out.dtype == torch.float32
    rgb = (out * STD + MEAN) * 255
    black = rgb.amax(1) < 1
    assert black.float().mean() > 0.3  # padding stays black, not lifted by the brightness jitter
    red = rgb.permute(0, 2, 3, 1)[rgb[:, 0] > 100]
    assert len(red) > 0.3 * out.numel() / 3
    # brightness ±12 %, saturation ±10 %: still red (what its captions say), except at the resampled edge
    interior = red[(red[:, 0] > 150)]
    assert (interior[:, 1] < 70).float().mean() > 0.99 and (interior[:, 2] < 75).float().mean() > 0.99


def test_augment_crops_and_flips_differently_per_image_and_reproducibly():
    images = _half_red_batch()
    a = augment(images, torch.Generator().manual_seed(1))
    b = augment(images, torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    red_left = (a[:, 0, :, :SIZE // 2] > 0).float().mean((1, 2))  # flipped images have their red on the left
    assert (red_left > 0.5).any() and (red_left < 0.5).any()


def test_crops_are_stored_for_the_tower_that_reads_them():
    """A tower reading 176 pixels trains on crops stored at 198 (9/8, as 144 for 128), resampled to its side."""
    from garment_search.embedding import EMBEDDED_MEMBER, tower_input_size
    from training.embedding.data import CROP, crop_size

    assert crop_size(128) == CROP == 144 and crop_size(176) == 198
    assert tower_input_size("garment-minilm-mobilenetv2-176") == 176 and tower_input_size(EMBEDDED_MEMBER) == SIZE
    out = augment(_half_red_batch(2), torch.Generator().manual_seed(0), size=176)
    assert out.shape == (2, 3, 176, 176)


def test_jpeg_crops_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    images = np.zeros((5, 144, 144, 3), np.uint8)
    for i, image in enumerate(images):
        image[20:120, 30:110] = rng.integers(0, 255, 3)
    crops = Crops(images, np.arange(5), ["shirt", "skirt", "dress", "top", "jeans"])
    crops.save(tmp_path / "raw.npz")
    crops.save(tmp_path / "small.npz", jpeg_quality=88)
    raw, small = Crops.load(tmp_path / "raw.npz"), Crops.load(tmp_path / "small.npz")
    assert (raw.images == images).all() and small.images.shape == images.shape
    assert np.abs(small.images.astype(int) - images).mean() < 2
    assert small.kinds == crops.kinds and (small.colours == crops.colours).all()


def test_pooled_text_cache_is_a_superset_lookup(tmp_path):
    path = tmp_path / "pooled.pt"
    cache = PooledTextCache(path)
    assert not cache.covers(["a red skirt"])
    cache.add(["a red skirt", "a blue top"], torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    cache.add(["a blue top", "a green dress"], torch.tensor([[9.0, 9.0], [0.5, 0.5]]))  # known texts kept
    again = PooledTextCache(path)
    assert again.covers(["a green dress", "a red skirt"]) and not again.covers(["a pink coat"])
    assert again.lookup(["a green dress", "a blue top"]).tolist() == [[0.5, 0.5], [0.0, 1.0]]
    assert again.pooled.dtype == torch.float16


def test_warmup_cosine_shape_and_fit_to_a_time_budget():
    schedule = WarmupCosine(steps_per_epoch=10, epochs=100, warmup=5, floor=0.02)
    assert schedule(0) == pytest.approx(0.2 * (0.02 + 0.98 * 1.0), rel=1e-3)
    assert schedule(4) == pytest.approx(1.0, rel=1e-3)
    assert schedule(500) == pytest.approx(0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert schedule(1000) == pytest.approx(0.02)
    schedule.started -= 60  # one minute gone; the second epoch took a tenth of it
    assert schedule.epoch_done(0, max_minutes=2) is None
    schedule.first_epoch_end -= 6
    line = schedule.epoch_done(1, max_minutes=2)
    assert line and schedule.epochs in (11, 12) and schedule.total == 10 * schedule.epochs
    assert schedule(schedule.total) == pytest.approx(0.02)  # the decay now ends with the fitted run


class _ColourEmbedder:
    """Images embed as their mean colour's one-hot among red/green/blue; queries by the colour word they name."""

    WORDS = ("red", "green", "blue")

    def encode_images(self, images):
        means = np.stack([np.asarray(im, np.float32).reshape(-1, 3).mean(0) for im in images])
        return np.eye(3, dtype=np.float32)[means.argmax(1)] + np.linspace(0, 0.01, len(images))[:, None]

    def encode_text(self, text):
        return np.array([w in text.split() for w in self.WORDS], np.float32)


class _ShopperColourEmbedder(_ColourEmbedder):
    """The same, reading shoppers' colour names as palette names first (what ``QUERY_COLOUR_NAMES`` does)."""

    def encode_text(self, text):
        from garment_search.colours import read_shopper_colours

        return super().encode_text(read_shopper_colours(text))


def test_held_out_measures_on_a_known_embedder():
    from PIL import Image

    colours = {"red": (200, 20, 20), "green": (20, 200, 20), "blue": (20, 20, 200)}
    images = np.stack([np.full((16, 16, 3), colours[c], np.uint8) for c in ("red", "green", "blue", "red")])
    from garment_search.colours import COLOUR_NAMES

    crops = Crops(images, np.array([COLOUR_NAMES.index(c) for c in ("red", "green", "blue", "red")]),
                  ["skirt", "skirt", "skirt", "skirt"])
    assert colour_garment_mrr(_ColourEmbedder(), crops) == 1.0
    views = [Image.fromarray(i) for i in images]
    # "a photo of a red" finds both red photos first; with 4 photos the top 10 is all 4: 2/4, 1/4, 1/4
    assert class_precision(_ColourEmbedder(), views, ["red", "green", "blue", "red"]) == pytest.approx(
        np.mean([0.5, 0.25, 0.25]))


def test_attribute_mrr_asks_each_key_once_and_keeps_unlabelled_images_as_distractors():
    from PIL import Image

    colours = {"red": (200, 20, 20), "green": (20, 200, 20), "blue": (20, 20, 200)}
    images = [Image.fromarray(np.full((8, 8, 3), colours[c], np.uint8)) for c in ("green", "red", "blue", "red")]
    # the last red image is unlabelled and the embedder ranks later images first among equals: "red" finds the
    # unlabelled one first, so the labelled red one ranks second
    keys = [("green",), ("red",), ("blue",), None]
    assert attribute_mrr(_ColourEmbedder(), images, keys, lambda c: c) == pytest.approx(np.mean([1, 1, 0.5]))
    assert labelled_query("checked", "shirt") == "checked shirt"
    assert labelled_query("floral", "pants") == "floral trousers"
    from garment_search.colours import COLOUR_NAMES

    assert colour_pattern_query(COLOUR_NAMES.index("navy blue"), "striped", "t-shirt") == "navy blue striped t-shirt"


def test_pattern_labels_are_hand_labels_of_validation_photos_only():
    import json

    labels = json.loads(PATTERN_LABELS.read_text())["labels"]
    assert set(labels.values()) == {"plain", "striped", "checked", "floral", "printed"} and len(labels) >= 250
    assert all(name.count("/") == 1 and name.split("/")[0] in NOUNS for name in labels)
    root = Path("../shared/datasets/clothing-small")
    if root.is_dir():  # every labelled photo is a validation photo, never a training one
        assert all((root / "validation" / name).is_file() for name in labels)
        assert not any((root / "train" / name).exists() for name in labels)


def test_crops_carry_what_the_index_recorded_on_their_views_into_tagged_images():
    from garment_search.hem_lengths import HEM_INFO
    from garment_search.segmentation.groups import KEPT_GROUPS_INFO
    from training.embedding.data import view_tags

    views = Crops(np.zeros((2, 4, 4, 3), np.uint8), np.array([0, 1]), ["top", "skirt"],
                  [{KEPT_GROUPS_INFO: ("upper",)}, {KEPT_GROUPS_INFO: ("lower",), HEM_INFO: 0.8}])
    plain = Crops(np.zeros((1, 4, 4, 3), np.uint8), np.array([2]), ["dress"])
    both = views + plain
    assert both.tags == [{KEPT_GROUPS_INFO: ("upper",)}, {KEPT_GROUPS_INFO: ("lower",), HEM_INFO: 0.8}, {}]
    images = both.pil_images()
    assert [im.info.get(KEPT_GROUPS_INFO) for im in images] == [("upper",), ("lower",), None]
    assert [view_tags(im) for im in images] == both.tags
    assert (plain + plain).tags is None and KEPT_GROUPS_INFO not in plain.pil_images()[0].info


def test_ccp_pattern_labels_are_hand_labels_of_ccp_validation_photos_only():
    import json

    from training.segmentation.data import VAL_IDS

    labels = json.loads(CCP_PATTERN_LABELS.read_text())["labels"]
    assert set(labels.values()) == {"plain", "striped", "checked", "floral", "printed"} and len(labels) >= 75
    assert {int(i) for i in labels} <= set(VAL_IDS)  # never a training photo
    colours = json.loads(CCP_COLOUR_LABELS.read_text())["labels"]
    assert len(colours) >= 70 and {int(i) for i in colours} <= set(VAL_IDS)
    assert all(name == name.strip().lower() and name for name in colours.values())
    assert len(set(colours.values())) >= 30  # named as shoppers name them, not only the palette's 38 names


class NameWords:
    """An embedder in which a photo (the i-th of ``names``) matches each query word its name carries."""

    def __init__(self, names):
        self.names = names

    def encode_images(self, images):
        return np.eye(len(images), dtype=np.float32)

    def encode_text(self, text):
        return np.array([sum(w in name.split("-") for w in text.split()) for name in self.names], np.float32)


def test_labelled_mrr_asks_pattern_and_garment_and_with_colour_also_the_colour(tmp_path):
    import json

    from garment_search.colours import COLOUR_NAMES

    names = ["0601-red-floral-dress", "0602-blue-floral-dress", "0603-red-plain-dress", "0604-red-floral-skirt"]
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"labels": {"0601": "floral", "0602": "floral", "0603": "plain"}}))
    colours = np.array([COLOUR_NAMES.index(c) for c in ("red", "blue", "red", "red")])
    views = Crops(np.zeros((4, 4, 4, 3), np.uint8), colours, ["dress", "dress", "dress", "skirt"])
    embedder = NameWords(names)
    # "floral dress": 0601 and 0602 (both floral dresses) lead with 2 words; "plain dress": 0603 first.
    # 0604 is unlabelled: never asked for, but it stays in the ranking
    assert labelled_mrr(embedder, views, [n[:4] for n in names], labels) == 1.0
    # "red floral dress" → 0601 (3 words); "blue floral dress" → 0602; "red plain dress" → 0603
    assert labelled_mrr(embedder, views, [n[:4] for n in names], labels, views.colours) == 1.0
    # measured colours that disagree with the photos: "red floral dress" is now asked of 0602, whose name says
    # blue, and 0601 (3 words) outranks it
    wrong = np.array([COLOUR_NAMES.index(c) for c in ("blue", "red", "red", "red")])
    assert labelled_mrr(embedder, views, [n[:4] for n in names], labels, wrong) < 1.0


def test_query_form_judges_ask_plurals_and_lone_attributes(tmp_path):
    import json

    from garment_search.colours import COLOUR_NAMES
    from training.embedding.heldout import Heldout, lone_labelled_mrr, plural, plural_colour_query, query_form_mrrs

    assert [plural(n) for n in ("dress", "t-shirt", "blouse", "jeans", "trousers", "shorts", "watch", "top")] == [
        "dresses", "t-shirts", "blouses", "jeans", "trousers", "shorts", "watches", "tops"]
    assert plural_colour_query(COLOUR_NAMES.index("navy blue"), "pants") == "navy blue trousers"
    names = ["0601-red-floral-dress", "0602-blue-floral-dress", "0603-red-plain-dress", "0604-red-floral-skirt"]
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"labels": {"0601": "floral", "0603": "plain", "0604": "floral"}}))
    views = Crops(np.zeros((4, 4, 4, 3), np.uint8), np.zeros(4, int), ["dress", "dress", "dress", "skirt"])
    # "floral" alone: 0601 and 0604 both answer it, whatever their garment; 0602 (unlabelled) is a distractor
    assert lone_labelled_mrr(NameWords(names), views, [n[:4] for n in names], labels) == 1.0
    # every row on a known embedder: colours named alone or with a plural noun find their one-hot colour first
    colours = {"red": (200, 20, 20), "green": (20, 200, 20), "blue": (20, 20, 200)}
    images = np.stack([np.full((16, 16, 3), colours[c], np.uint8) for c in ("red", "green", "blue")])
    crops = Crops(images, np.array([COLOUR_NAMES.index(c) for c in ("red", "green", "blue")]), ["skirt"] * 3)
    rows = query_form_mrrs(_ColourEmbedder(), Heldout(crops, crops, crops, crops), ["0601", "0602", "0603"],
                           ["skirt/a.jpg", "skirt/b.jpg", "skirt/c.jpg"])
    assert len(rows) == 18 and sum(k.startswith("plural:") for k in rows) == 4
    assert all(rows[k] == 1.0 for k in rows if "<colour>" in k or "<colour> <garments>" in k)
    # shopper colour names ("scarlet skirt", "cobalt skirt"): found first by an embedder that reads them
    shopper = [k for k in rows if k.startswith("shopper colour:") and "by eye" not in k]
    assert len(shopper) == 3 and all(rows[k] < 1.0 for k in shopper)  # this embedder knows "red", not "scarlet"
    rows = query_form_mrrs(_ShopperColourEmbedder(), Heldout(crops, crops, crops, crops), ["0601", "0602", "0603"],
                           ["skirt/a.jpg", "skirt/b.jpg", "skirt/c.jpg"])
    assert all(rows[k] == 1.0 for k in shopper)


def _free_text(texts: list[str]) -> bool:
    """Distinct queries, most of them naming something no caption says (phrased as shoppers do)."""
    import re

    from garment_search.colours import COLOUR_NAMES, COLOUR_WORDS, TONE_WORDS
    from training.embedding.captions import NOUNS, PATTERN_WORDS, TEMPLATES

    caption_words = {w for t in TEMPLATES for w in re.findall(r"[a-z']+", t)} | \
        {w for table in (NOUNS, PATTERN_WORDS, COLOUR_WORDS, TONE_WORDS) for key, ws in table.items()
         for n in (key, *ws) for w in n.split()} | {w for name in COLOUR_NAMES for w in name.split()}
    beyond = [t for t in texts if set(re.findall(r"[a-z']+", t)) - caption_words]
    distinct = len(set(texts)) == len(texts) and all(t == t.strip() and t for t in texts)
    return distinct and len(beyond) >= 0.6 * len(texts)


def test_shopper_queries_are_free_text_for_validation_photos_only():
    import json

    from training.segmentation.data import VAL_IDS

    queries = json.loads(CCP_SHOPPER_QUERIES.read_text())["queries"]
    assert len(queries) >= 90 and {int(i) for i in queries} <= set(VAL_IDS)  # never a training photo
    assert all({int(i) for i in q.get("also", ())} <= set(VAL_IDS) for q in queries.values())
    assert _free_text([q["text"] for q in queries.values()])
    clothing = json.loads(CLOTHING_SHOPPER_QUERIES.read_text())["queries"]
    classes = {name.split("/")[0] for name in clothing}
    assert len(clothing) >= 50 and len(classes) == 10  # every class folder of validation/, never train/
    root = Path("../shared/datasets/clothing-small")
    if root.is_dir():  # validation photos, never training ones
        assert all((root / "validation" / name).is_file() for name in clothing)
        assert not any((root / "train" / name).exists() for name in clothing)
    assert _free_text([q["text"] for q in clothing.values()])


def test_shopper_mrr_ranks_each_query_photo_and_counts_the_ones_it_also_describes(tmp_path):
    import json

    names = ["0601-black-leather-jacket", "0602-black-leather-jacket-zips", "0603-red-dress", "0604-red-skirt"]
    queries = tmp_path / "queries.json"
    queries.write_text(json.dumps({"queries": {
        "0601": {"text": "black leather jacket with zips", "also": ["0602"]},  # 0602 leads (4 words): counts
        "0603": {"text": "red dress"},  # 0603 first
        "0604": {"text": "red"}}}))  # 0603 and 0604 tie: the stable order puts 0603 first → rank 2
    views = Crops(np.zeros((4, 4, 4, 3), np.uint8), np.zeros(4, int), ["jacket", "jacket", "dress", "skirt"])
    assert shopper_mrr(NameWords(names), views, [n[:4] for n in names], queries) == pytest.approx((1 + 1 + 0.5) / 3)
    # a query whose photo is not among the views is not asked
    assert shopper_mrr(NameWords(names[:3]), Crops(np.zeros((3, 4, 4, 3), np.uint8), np.zeros(3, int), ["a"] * 3),
                       [n[:4] for n in names[:3]], queries) == 1.0


def _tiny_ccp(root):
    """Two CCP-style validation photos: 0601 a red top over a larger blue skirt, 0602 a green dress."""
    import json

    from PIL import Image

    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    (root / "label_names.json").write_text(json.dumps({"0": "null", "1": "top", "2": "skirt", "3": "dress",
                                                       "4": "skin"}))
    rgb, lab = np.zeros((60, 40, 3), np.uint8), np.zeros((60, 40), np.uint8)
    rgb[5:20], lab[5:20] = (200, 30, 40), 1
    rgb[20:55], lab[20:55] = (40, 84, 182), 2
    rgb[:5], lab[:5] = (230, 190, 160), 4  # skin: not a garment, never the dominant one however large
    Image.fromarray(rgb).save(root / "images" / "0601.jpg", quality=98)
    Image.fromarray(lab).save(root / "labels" / "0601.png")
    rgb, lab = np.full((60, 40, 3), 245, np.uint8), np.zeros((60, 40), np.uint8)
    rgb[10:50, 5:35], lab[10:50, 5:35] = (42, 140, 62), 3
    Image.fromarray(rgb).save(root / "images" / "0602.jpg", quality=98)
    Image.fromarray(lab).save(root / "labels" / "0602.png")


def test_ccp_photos_stand_for_their_dominant_garment(tmp_path):
    from garment_search.colours import COLOUR_NAMES
    from training.embedding.heldout import ccp_photo_views

    _tiny_ccp(tmp_path)
    views = ccp_photo_views(tmp_path, ["original"], segmenter=None)["original"]
    assert views.kinds == ["skirt", "dress"]  # the blue skirt covers more than the red top
    assert [COLOUR_NAMES[c] for c in views.colours] == ["blue", "green"]  # measured on its labelled pixels
    assert views.images[0].shape == (60, 40, 3)  # the whole photo, as the index would embed it uncut
    from training.embedding.heldout import ccp_photo_ids

    assert ccp_photo_ids(tmp_path) == ["0601", "0602"]  # the views' order, as the pattern labels name them


class _ColourGroupSession:
    """A stand-in garment model that sees groups by colour: red is upper, blue lower, green one-piece."""

    groups = ("upper", "lower", "one-piece")

    def probabilities(self, rgb):
        a = np.asarray(rgb).astype(int)
        r, g, b = a[..., 0], a[..., 1], a[..., 2]
        group = np.select([(r > 150) & (b < 100), (b > 150) & (r < 100), (g > 100) & (r < 100) & (b < 100)],
                          [1, 2, 3], 0)
        return np.stack([(group == c).astype(np.float32) for c in range(4)])


def test_ccp_product_views_are_the_index_cut_out_captioned_by_the_garment_it_keeps(tmp_path):
    from PIL import Image

    from garment_search.colours import COLOUR_NAMES
    from training.embedding.data import CROP, ccp_product_views

    _tiny_ccp(tmp_path)
    # 0603: the model cuts out a blue region whose labels are mostly skin: no caption describes it, so it is skipped
    rgb, lab = np.full((60, 40, 3), 245, np.uint8), np.zeros((60, 40), np.uint8)
    rgb[10:50, 5:35], lab[10:50, 5:35], lab[10:22, 5:35] = (40, 84, 182), 4, 2
    Image.fromarray(rgb).save(tmp_path / "images" / "0603.jpg", quality=98)
    Image.fromarray(lab).save(tmp_path / "labels" / "0603.png")

    views = ccp_product_views(tmp_path, range(601, 604), _ColourGroupSession())
    assert views.kinds == ["skirt", "dress"]  # 0601 keeps the product (the larger skirt, not the top); 0603 dropped
    assert [COLOUR_NAMES[c] for c in views.colours] == ["blue", "green"]
    assert views.images.shape == (2, CROP, CROP, 3)
    skirt = views.images[0]
    red = (skirt[..., 0] > 150) & (skirt[..., 2] < 100)
    assert not red.any() and (skirt[..., 2] > 150).mean() > 0.3  # the top is blacked out, the skirt fills the crop


def test_run_crops_are_the_label_crops_then_the_product_views(tmp_path):
    from training.embedding.data import run_crops
    from training.embedding.train import measured_surfaces

    red, blue = np.full((8, 8, 3), (200, 30, 40), np.uint8), np.full((8, 8, 3), (40, 84, 182), np.uint8)
    Crops(np.stack([red, red]), np.array([0, 0]), ["top", "top"]).save(tmp_path / "crops.npz")
    assert run_crops(tmp_path).kinds == ["top", "top"]
    surfaces = measured_surfaces(run_crops(tmp_path), tmp_path / "surfaces.npz")
    Crops(np.stack([blue]), np.array([1]), ["skirt"]).save(tmp_path / "product_views.npz")
    crops = run_crops(tmp_path)
    assert crops.kinds == ["top", "top", "skirt"] and np.array_equal(crops.images[2], blue)
    # the surface cache measured before the views were added is measured again, not reused short
    assert len(surfaces) == 2 and len(measured_surfaces(crops, tmp_path / "surfaces.npz")) == 3


def test_held_out_pack_has_four_sets_and_refuses_an_old_one(tmp_path):
    from training.embedding.heldout import MEASURES, Heldout

    red = np.full((20, 10, 3), (200, 30, 40), np.uint8)
    part = Crops(np.stack([red, red]), np.array([0, 0]), ["skirt", "top"])
    Heldout(part, part, part, part).save(tmp_path / "pack", size=16)
    loaded = Heldout.load(tmp_path / "pack")
    assert loaded.ccp_photos.images.shape == (2, 16, 16, 3) and loaded.ccp_photos.kinds == ["skirt", "top"]
    assert len(MEASURES) == 4 and len(loaded.measure(_ColourEmbedder())) == 4
    (tmp_path / "pack" / "ccp_photos.npz").unlink()
    with pytest.raises(FileNotFoundError, match="ccp_photos"):
        Heldout.load(tmp_path / "pack")


def test_pooled_query_embedder_matches_the_served_text_path():
    """The lease ranks candidates with queries' pooled text (no text transformer there): projected by the
    candidate's own text projection, that must be the vector the served embedder computes from the words."""
    open_clip = pytest.importorskip("open_clip")
    from garment_search.embedding import EMBEDDED_MEMBER, Embedder, ModelChoice
    from training.embedding.heldout import PooledQueryEmbedder
    from training.embedding.train import build_model, pooled_text

    queries = ["navy blue tunic", "a photo of a dress"]
    model = build_model(None, text_weights=True)
    pooled = pooled_text(model, open_clip.get_tokenizer(EMBEDDED_MEMBER), queries)
    served = Embedder().load()  # the shipped ensemble: its members' projections of the same pooled output
    lease = PooledQueryEmbedder(ModelChoice.from_env(), {q: p.numpy() for q, p in zip(queries, pooled)}).load()
    for q in queries:
        assert float(served.encode_text(q) @ lease.encode_text(q)) > 0.9999


class _UnitEmbedder:
    """Unit vectors drawn once per image content and query, from its own seed: a stand-in model."""

    def __init__(self, seed: int) -> None:
        self.rng, self.seen = np.random.default_rng(seed), {}

    def _vector(self, key) -> np.ndarray:
        if key not in self.seen:
            v = self.rng.normal(size=8).astype(np.float32)
            self.seen[key] = v / np.linalg.norm(v)
        return self.seen[key]

    def encode_images(self, images):
        return np.stack([self._vector(im.tobytes()) for im in images])

    def encode_text(self, text):
        return self._vector(text)


def test_measured_combination_scores_as_the_served_ensemble():
    """Choosing ensemble members from recorded vectors must score what the served ensemble scores: the mean of
    the members' cosines (MemberEnsemble), and one member alone its own scores."""
    from PIL import Image

    from training.embedding.heldout import MeasuredCombination, RecordingEmbedder, content_key

    views = [Image.fromarray(np.full((4, 4, 3), i, np.uint8)) for i in range(5)]
    members = [RecordingEmbedder(_UnitEmbedder(seed)) for seed in (1, 2, 3)]
    for m in members:
        m.encode_images(views), m.encode_text("red skirt")
    combo = MeasuredCombination(members)
    scores = combo.encode_images(views) @ combo.encode_text("red skirt")
    expected = np.mean([[m.images[content_key(v)] @ m.texts["red skirt"] for v in views] for m in members], axis=0)
    assert scores == pytest.approx(expected, abs=1e-6)
    assert np.linalg.norm(combo.encode_text("red skirt")) == pytest.approx(1.0, abs=1e-6)
    alone = MeasuredCombination(members[:1])
    assert alone.encode_images(views) == pytest.approx(members[0].encode_images(views))


def test_memoised_segmenter_runs_the_model_once_per_photo_and_returns_the_same_maps():
    from PIL import Image

    from training.embedding.heldout import MemoisedSegmenter

    class Session:
        groups, identity, calls = ("upper",), "fake@0", 0

        def probabilities(self, rgb):
            Session.calls += 1
            return np.full((2, 4, 4), np.asarray(rgb).mean() / 255, np.float32)

    memo = MemoisedSegmenter(Session())
    a, b = (Image.fromarray(np.full((8, 8, 3), v, np.uint8)) for v in (10, 200))
    expected = np.full((2, 4, 4), 10 / 255, np.float32)
    first = memo.probabilities(a)
    first[:] = -1  # a caller changing its copy must not change what the next caller gets
    assert np.array_equal(memo.probabilities(a.copy()), expected)  # same pixels, another object: cached
    memo.probabilities(b)
    assert Session.calls == 2 and memo.identity == "fake@0" and memo.groups == ("upper",)


def test_evaluate_query_readings_switch_the_towers_view_only():
    import argparse

    from garment_search.embedding.query_vocabulary import TowerReader
    from training.embedding.evaluate import query_reading, reading_as

    assert query_reading("plain") == "plain" and query_reading("inflections+synonyms") == "inflections+synonyms"
    with pytest.raises(argparse.ArgumentTypeError, match="served, plain"):
        query_reading("inflections+fuzzy")

    class Towers:
        tower_text = TowerReader(frozenset({"pink", "tunic"}), inflections=True, completion=True)

    assert reading_as(Towers(), "plain").tower_text == TowerReader(frozenset({"pink", "tunic"}))
    read = reading_as(Towers(), "completion+synonyms").tower_text
    assert (read.inflections, read.completion, read.synonyms) == (False, True, True)
    assert reading_as(Towers(), "served").tower_text == Towers.tower_text


def test_image_vector_memo_encodes_each_view_once_and_keeps_the_order():
    from PIL import Image

    from garment_search.segmentation.groups import KEPT_GROUPS_INFO
    from training.embedding.heldout import ImageVectorMemo

    class Counting(_ColourEmbedder):
        encoded = 0
        identity = "counting@0"

        def encode_images(self, images):
            Counting.encoded += len(images)
            return super().encode_images(images)

    red, blue = (Image.fromarray(np.full((8, 8, 3), c, np.uint8)) for c in ((200, 20, 20), (20, 20, 200)))
    memo = ImageVectorMemo(Counting())
    first = memo.encode_images([red, blue])
    again = memo.encode_images([blue, red, red.copy()])
    assert Counting.encoded == 2 and np.array_equal(again, first[[1, 0, 0]])
    tagged = red.copy()
    tagged.info[KEPT_GROUPS_INFO] = ("lower",)
    memo.encode_images([tagged])  # same pixels, another kept family: a view of its own
    assert Counting.encoded == 3
    assert np.array_equal(memo.encode_text("red"), [1, 0, 0])  # text passes through
    assert memo.identity == "counting@0"  # the model's identity (the catalogue's index records it)


def test_evaluate_ranks_with_the_feedback_a_column_asks_for():
    import argparse

    from garment_search.feedback import QueryFeedback
    from training.embedding.evaluate import feedback_setting
    from training.embedding.heldout import ImageVectorMemo, WithFeedback, scores

    assert feedback_setting("off") is None and feedback_setting("3,0.25") == QueryFeedback(3, 0.25)
    with pytest.raises(argparse.ArgumentTypeError, match="--query-feedback must be 'K,W'"):
        feedback_setting("3")
    memo = ImageVectorMemo(_ColourEmbedder())
    emb = np.array([[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0]], np.float32)
    assert np.array_equal(scores(WithFeedback(memo, None), emb, "red"), emb @ memo.encode_text("red"))
    with_feedback = scores(WithFeedback(memo, QueryFeedback(2, 0.5)), emb, "red")
    assert with_feedback.mean() == pytest.approx(0, abs=1e-6) and with_feedback.argmax() == 0  # standardised
