"""The embedding's held-out judgements, and packing them to rank candidates where they are trained (a GPU lease).

    python -m training.embedding.heldout pack --out .devdata/heldout          # here: cut out, crop, pack (~5 MB)
    python -m training.embedding.heldout rank --pack .devdata/heldout --weights a.pt b.pt   # anywhere
    python -m training.embedding.heldout combos --pack .devdata/heldout --members 3 --weights a.pt b.pt c.pt d.pt
    (--weights: member checkpoints, or MODEL=PATH such as garment-minilm-resnet18x2-mobilenetv2x2=models/garment_minilm_resnet18x2_mobilenetv2x2.pt)

Four held-out measures, never trained on:
- clothing-small ``validation/``: "a photo of a <class>" for each class over all photos → mean precision@10;
- CCP 0601–0700 garment crops (label masks): "<colour> <garment>" for each pair present → MRR;
- clothing-small ``validation/`` cut out as for training: "<colour> <class>" → MRR;
- CCP 0601–0700 whole photos cut out as the index does (``keep=product``), each standing for its dominant labelled
  garment: "<colour> <garment>" → MRR (``ccp_photo_views``). The only one that judges a model on what search
  serves — photos of outfits, cut out by our masks — and the one closest to the catalogue; added in stop 10 so
  that choices between candidates rest on more judgements (stop 9's were within the noise of three).
And judges of words none of those asks for (``labelled_mrr``; reported by ``evaluate``, not packed), labelled by
eye: clothing-small ``validation/`` photos' patterns (``pattern_labels.json``), "<pattern> <class>"; the CCP
validation photos above, their dominant garment's pattern (``ccp_pattern_labels.json``), "<pattern> <garment>"
— both also with the measured colour named — and its colour as a shopper names it (``ccp_colour_labels.json``),
"<colour name> <garment>"; each pair present → MRR; and free text a shopper might type for that garment
(``ccp_shopper_queries.json``, ``shopper_mrr``), MRR of the photo; and such free text for clothing-small
validation photos (``clothing_shopper_queries.json``).
Photos go through the index builder's path (``embedding_view``, remove_bg's cut-out cropped to the garment, maps
test-time-augmented, not region-pooled: ``load_index_segmenter``).

``pack`` stores every view already resized as the embedder's preprocessing resizes it (longest side to the model's
input, black padding; JPEG) and the frozen text transformer's pooled output for every query, so ``rank`` needs
neither the datasets, the segmentation model nor the 90 MB text tower. Packed numbers are a proxy (JPEG'd
views) to choose which candidates to bring back; the numbers reported come from ``training.embedding.evaluate``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

import numpy as np
from PIL import Image

from garment_search.colours import COLOUR_NAMES, PALETTE_NAME_OF, SHOPPER_COLOURS, name_colour
from garment_search.embedding import EMBEDDED_MEMBER, Embedder, ModelChoice, model_input_size
from garment_search.feedback import QueryFeedback, photo_scores
from garment_search.images import load_image_file
from garment_search.segmentation.groups import DEFAULT_KEEP
from training.embedding.captions import NOUNS
from training.embedding.data import (CROP, Crops, ccp_crops, class_photos, clothing_crops, crop_size, largest_garment,
                                     square, view_tags)
from training.segmentation.data import VAL_IDS, ccp_files, ccp_garment_ids, ccp_label_names

MEASURES = ("clothing-small validation precision@10", "CCP 0601–0700 colour+garment MRR",
            "clothing-small validation colour+class MRR", "CCP 0601–0700 photos, dominant garment MRR (product)")


def content_key(image: Image.Image) -> bytes:
    """What identifies a photo or view by its pixels, whatever object carries them (the memoised maps and the
    recorded vectors are looked up by it)."""
    return hashlib.sha1(image.tobytes()).digest() + repr((image.size, image.mode)).encode()


class MemoisedSegmenter:
    """A segmentation session that runs its model once per photo: the evaluations cut each photo out several
    ways (``product`` and ``garments``; clothing-small as views and as training-style crops), and the model call
    — four with test-time augmentation — is what costs. The same maps come back, so every number is unchanged."""

    def __init__(self, session) -> None:
        self.session = session
        self._maps: dict[tuple[bytes, bool], tuple[np.ndarray, np.ndarray]] = {}

    def maps(self, rgb: Image.Image, keep: str = DEFAULT_KEEP) -> tuple[np.ndarray, np.ndarray]:
        from garment_search.segmentation import segmentation_maps

        key = content_key(rgb), keep in self.session.groups  # an explicit group may read another split
        if key not in self._maps:
            self._maps[key] = segmentation_maps(self.session, rgb, keep)
        probs, pick = self._maps[key]
        copy = probs.copy()  # a caller changing its copy must not change what the next caller gets
        return copy, (copy if pick is probs else pick.copy())

    def probabilities(self, rgb: Image.Image) -> np.ndarray:
        return self.maps(rgb)[0]

    def __getattr__(self, name: str):  # groups, identity, tta: the session's own
        return getattr(self.session, name)


def index_segmenter() -> MemoisedSegmenter:
    """The garment segmenter as the index builder cuts photos out (``load_index_segmenter``), memoised: what every
    evaluation of search quality cuts its photos with."""
    from garment_search.segmentation import load_index_segmenter

    return MemoisedSegmenter(load_index_segmenter())


def views_by_mode(images: list, modes: list[str], segmenter) -> dict[str, list[tuple[Image.Image, bool]]]:
    """Each photo as the index builder sees it, per mode: a ``keep`` mode's cut-out cropped to the garment
    (``embedding_view``), or ``"original"``, the photo itself; with the builder's "no garment found" flag."""
    from garment_search.segmentation import embedding_view

    return {mode: [(image.rgb, False) if mode == "original" else embedding_view(image, segmenter, mode)
                   for image in images] for mode in modes}


def ccp_dominant_garments(ccp: Path) -> list[tuple[str, Path, np.ndarray, int]]:
    """(photo id, image path, label map, dominant label id) of each CCP validation photo with a labelled garment:
    the product each photo stands for is its largest garment region."""
    garment_ids = ccp_garment_ids(ccp)
    out = []
    for img_path, lab_path in ccp_files(ccp, VAL_IDS):
        labels = np.asarray(Image.open(lab_path))
        dominant, area = largest_garment(labels, garment_ids)
        if area:
            out.append((img_path.stem, img_path, labels, dominant))
    return out


def ccp_photo_views(ccp: Path, modes: list[str], segmenter) -> dict[str, Crops]:
    """CCP validation photos as the index builder sees them, per mode, each keyed by the product it displays:
    its dominant labelled garment (largest region), colour measured on that garment's labelled pixels. In
    ``ccp_dominant_garments`` order (``ccp_photo_ids``)."""
    names = ccp_label_names(ccp)
    images, colours, kinds = [], [], []
    for _, img_path, labels, dominant in ccp_dominant_garments(ccp):
        image = load_image_file(img_path)
        images.append(image)
        colours.append(name_colour(np.asarray(image.rgb)[labels == dominant]))
        kinds.append(names[dominant])
    return {mode: view_crops(views, np.array(colours), kinds)
            for mode, views in views_by_mode(images, modes, segmenter).items()}


def view_crops(views: list[tuple[Image.Image, bool]], colours: np.ndarray, kinds: list[str]) -> Crops:
    """``views_by_mode``' views as Crops, each with what the index builder recorded on it (``view_tags``: the groups
    its cut-out kept, its hem; nothing for originals)."""
    return Crops([np.asarray(view.convert("RGB")) for view, _ in views], colours, kinds,
                 [view_tags(view) for view, _ in views])


def ccp_photo_ids(ccp: Path) -> list[str]:
    """Photo ids of ``ccp_photo_views``' photos, in its order."""
    return [photo_id for photo_id, *_ in ccp_dominant_garments(ccp)]


class ImageTextEmbedder(Protocol):
    def encode_images(self, images: list[Image.Image]) -> np.ndarray: ...
    def encode_text(self, text: str) -> np.ndarray: ...


def feedback_of(embedder: ImageTextEmbedder) -> QueryFeedback | None:
    """The query feedback an embedder ranks with (``WithFeedback``, set by ``evaluate --query-feedback``), else None."""
    return getattr(embedder, "feedback", None)


def scores(embedder: ImageTextEmbedder, emb: np.ndarray, text: str) -> np.ndarray:
    """The views' scores for ``text`` as search scores photos: with the embedder's query feedback (``feedback_of``),
    else the plain dot product."""
    return photo_scores(emb, embedder.encode_text(text), feedback_of(embedder))


@dataclass
class Heldout:
    class_views: Crops  # clothing-small validation, product cut-outs (any size until packed); kinds = class names
    ccp: Crops  # CCP 0601–0700 label crops, measured colours
    clothing: Crops  # clothing-small validation cut out as for training, measured colours
    ccp_photos: Crops  # CCP 0601–0700 photos cut out as the index does (keep=product), dominant garment

    PARTS = ("class_views", "ccp", "clothing", "ccp_photos")

    @classmethod
    def build(cls, datasets: Path, segmenter, crop_side: int = CROP) -> "Heldout":
        """``crop_side``: the stored side of the label and clothing crops (``crop_size`` of the largest tower
        input that will read them, so that a tower reading more pixels than 128 is not judged on upscaled crops)."""
        root = datasets / "clothing-small" / "validation"
        files = clothing_validation_files(root)
        views = views_by_mode([load_image_file(root / f) for f in files], ["product"], segmenter)["product"]
        return cls(view_crops(views, np.zeros(len(files), int), [f.split("/")[0] for f in files]),
                   ccp_crops(datasets / "ccp", VAL_IDS, crop_side), clothing_crops(root, segmenter, crop_side),
                   ccp_photo_views(datasets / "ccp", ["product"], segmenter)["product"])

    def queries(self) -> list[str]:
        return ([class_query(c) for c in sorted(set(self.class_views.kinds))] +
                sorted({colour_query(int(c), k) for crops in (self.ccp, self.clothing, self.ccp_photos)
                        for c, k in zip(crops.colours, crops.kinds)}))

    def measure(self, embedder: ImageTextEmbedder) -> dict[str, float]:
        views = self.class_views.pil_images()
        return dict(zip(MEASURES, (class_precision(embedder, views, self.class_views.kinds),
                                   colour_garment_mrr(embedder, self.ccp),
                                   colour_garment_mrr(embedder, self.clothing),
                                   colour_garment_mrr(embedder, self.ccp_photos))))

    def save(self, out: Path, size: int, quality: int = 90) -> None:
        out.mkdir(parents=True, exist_ok=True)
        for name in self.PARTS:
            crops: Crops = getattr(self, name)
            squares = np.stack([square(np.asarray(im), size) for im in crops.images])
            Crops(squares, np.asarray(crops.colours), crops.kinds).save(out / f"{name}.npz", jpeg_quality=quality)

    @classmethod
    def load(cls, folder: Path) -> "Heldout":
        missing = [name for name in cls.PARTS if not (folder / f"{name}.npz").is_file()]
        if missing:
            raise FileNotFoundError(f"{folder} lacks {', '.join(missing)}: re-run `heldout pack` (four sets since stop 10)")
        return cls(*(Crops.load(folder / f"{name}.npz") for name in cls.PARTS))


def clothing_validation_files(root: Path) -> list[str]:
    """clothing-small ``validation/`` photos as ``class/name``, in the order ``class_views`` holds them."""
    return [f"{kind}/{photo.name}" for kind, photo in class_photos(root)]


def class_query(cls: str) -> str:
    return f"a photo of a {cls}"


def colour_query(colour: int, kind: str) -> str:
    return f"{COLOUR_NAMES[colour]} {NOUNS[kind][0]}"


def class_precisions(embedder: ImageTextEmbedder, views: list[Image.Image], labels: list[str]) -> list[float]:
    """Precision@10 of "a photo of a <class>" for each class present, in class order."""
    emb = embedder.encode_images(views)
    labels_arr = np.array(labels)
    precisions = []
    for cls in sorted(set(labels)):
        top = np.argsort(-scores(embedder, emb, class_query(cls)))[:10]
        precisions.append(float((labels_arr[top] == cls).mean()))
    return precisions


def class_precision(embedder: ImageTextEmbedder, views: list[Image.Image], labels: list[str]) -> float:
    return float(np.mean(class_precisions(embedder, views, labels)))


def attribute_rrs(embedder: ImageTextEmbedder, images: list[Image.Image], keys: list, query: Callable) -> list[float]:
    """Reciprocal rank of the first image whose key is the asked one, one query (``query(*key)``) per key present
    (in key order), every image ranked; ``None`` keys are never asked for but stay in the ranking."""
    emb = embedder.encode_images(images)
    rrs = []
    for key in sorted({k for k in keys if k is not None}):
        ranked = [keys[i] for i in np.argsort(-scores(embedder, emb, query(*key)))]
        rrs.append(1.0 / (ranked.index(key) + 1))
    return rrs


def attribute_mrr(embedder: ImageTextEmbedder, images: list[Image.Image], keys: list, query: Callable) -> float:
    """The mean of ``attribute_rrs``."""
    rrs = attribute_rrs(embedder, images, keys, query)
    return float(np.mean(rrs)) if rrs else float("nan")  # nothing labelled among these images


def colour_garment_mrr(embedder: ImageTextEmbedder, crops: Crops) -> float:
    """Mean reciprocal rank of the first crop with the asked colour and garment, one query per (colour, garment)
    present."""
    return attribute_mrr(embedder, crops.pil_images(), colour_keys(crops), colour_query)


def colour_keys(crops: Crops) -> list[tuple[int, str]]:
    """Each crop's (measured colour, garment): what the "<colour> <garment>" judges ask for."""
    return [(int(c), k) for c, k in zip(crops.colours, crops.kinds)]


#: Labels given by eye (each file's "_note" says how), the held-out judges of words the other sets never ask for:
#: surface patterns ("floral dress", "checked shirt") of clothing-small validation photos (keys ``class/name``)
#: and of the dominant garment of CCP validation photos (keys photo ids), and that garment's colour as a shopper
#: names it ("mustard yellow", "periwinkle", "oatmeal": any English name, not only the palette's). The CCP ones
#: were labelled in stop 14 before anything was scored on them.
PATTERN_LABELS = Path(__file__).with_name("pattern_labels.json")
CCP_PATTERN_LABELS = Path(__file__).with_name("ccp_pattern_labels.json")
CCP_COLOUR_LABELS = Path(__file__).with_name("ccp_colour_labels.json")
#: Free text a shopper might type for each CCP validation photo's dominant garment ("ripped blue boyfriend jeans",
#: "leopard print coat with fur collar"), written by eye in stop 15 before anything was scored on them: every
#: other query above is built from the captions' own words, the catalogue's and shoppers' are not.
CCP_SHOPPER_QUERIES = Path(__file__).with_name("ccp_shopper_queries.json")
#: The same for 60 clothing-small validation photos (product shots and flat lays; keys ``class/file``).
CLOTHING_SHOPPER_QUERIES = Path(__file__).with_name("clothing_shopper_queries.json")


def labelled_query(label: str, kind: str) -> str:
    return f"{label} {NOUNS[kind][0]}"


def colour_pattern_query(colour: int, pattern: str, kind: str) -> str:
    return f"{COLOUR_NAMES[colour]} {pattern} {NOUNS[kind][0]}"


def labelled_keys(views: Crops, names: list[str], labels_file: Path,
                  key: Callable[[str, str], tuple | None] = lambda label, kind: (label, kind)) -> list:
    """Each view's ``key(label, garment)`` (``None`` for views ``labels_file`` does not label, or when ``key``
    declines): what ``attribute_mrr`` asks for."""
    labels = json.loads(labels_file.read_text())["labels"]
    return [key(labels[n], kind) if n in labels else None for n, kind in zip(names, views.kinds)]


def labelled_mrr(embedder: ImageTextEmbedder, views: Crops, names: list[str], labels_file: Path,
                 colours: np.ndarray | None = None, query: Callable[[str, str], str] = labelled_query) -> float:
    """"<label> <garment>" (``query``) over ``views`` (each named in ``names`` as ``labels_file`` keys them; its
    kind is the garment), one query per labelled (label, garment) present; unlabelled views stay in the ranking
    as distractors. With ``colours`` (each view's measured colour, same order; for pattern labels) the queries
    are "<colour> <pattern> <garment>": whether a pattern word and a colour word are weighed together."""
    keys = labelled_keys(views, names, labels_file)
    images = views.pil_images()
    if colours is None:
        return attribute_mrr(embedder, images, keys, query)
    keys = [None if k is None else (int(c), *k) for k, c in zip(keys, colours)]
    return attribute_mrr(embedder, images, keys, colour_pattern_query)


def plural(noun: str) -> str:
    """A garment noun as a shopper writes more than one ("dresses", "t-shirts"; "jeans" as it is): the plain English
    rule, so that the query-form judges do not depend on how search reads plurals."""
    if noun.endswith("s") and not noun.endswith("ss"):
        return noun
    return noun + ("es" if noun.endswith(("ss", "sh", "ch", "x")) else "s")


def plural_colour_query(colour: int, kind: str) -> str:
    return f"{COLOUR_NAMES[colour]} {plural(NOUNS[kind][0])}"


def plural_labelled_query(label: str, kind: str) -> str:
    return f"{label} {plural(NOUNS[kind][0])}"


def hyphenated(name: str) -> str:
    """A multi-word colour as shoppers also write it ("navy-blue")."""
    return name.replace(" ", "-")


def hyphen_colour_query(colour: int, kind: str) -> str:
    return labelled_query(hyphenated(COLOUR_NAMES[colour]), kind)


def hyphen_labelled_mrr(embedder: ImageTextEmbedder, views: Crops, names: list[str], labels_file: Path) -> float:
    """"<hyphenated label> <garment>" ("off-white top") over ``views``, asked only for multi-word labels."""
    keys = labelled_keys(views, names, labels_file, lambda label, kind: (label, kind) if " " in label else None)
    return attribute_mrr(embedder, views.pil_images(), keys, lambda label, kind: labelled_query(hyphenated(label), kind))


def shopper_colour_name(name: str) -> str | None:
    """The first shopper colour name (``SHOPPER_COLOURS``, "cobalt") of the palette colour ``name`` names — a
    palette name or one of its caption wordings ("navy") — or None."""
    colour = PALETTE_NAME_OF.get(name)
    return SHOPPER_COLOURS[colour][0] if colour else None


def shopper_colour_query(colour: int, kind: str) -> str:
    return labelled_query(shopper_colour_name(COLOUR_NAMES[colour]), kind)


def shopper_labelled_mrr(embedder: ImageTextEmbedder, views: Crops, names: list[str], labels_file: Path) -> float:
    """"<shopper colour name> <garment>" over ``views``: each label asked with the first shopper name of the palette
    colour it names, for labels that are a palette name or caption wording."""
    keys = labelled_keys(views, names, labels_file,
                         lambda label, kind: (label, kind) if shopper_colour_name(label) else None)
    return attribute_mrr(embedder, views.pil_images(), keys,
                         lambda label, kind: labelled_query(shopper_colour_name(label), kind))


def lone_labelled_mrr(embedder: ImageTextEmbedder, views: Crops, names: list[str], labels_file: Path) -> float:
    """"<label>" alone ("striped", "mustard yellow") over ``views``: the first view with that label, whatever the
    garment; unlabelled views stay in the ranking."""
    keys = labelled_keys(views, names, labels_file, lambda label, kind: (label,))
    return attribute_mrr(embedder, views.pil_images(), keys, str)


def query_form_mrrs(embedder: ImageTextEmbedder, heldout: "Heldout", ccp_ids: list[str],
                    clothing_files: list[str]) -> dict[str, float]:
    """The held-out judges asked the way shoppers also write (stop 26): plural nouns ("red skirts"), hyphenated
    colours ("navy-blue shirt") and a lone colour or pattern ("mustard yellow", "striped"), and (stop 27) colour names
    no caption used ("cobalt dress", ``SHOPPER_COLOURS``), over the same views and
    labels as the judges that ask in the captions' own words
    (``ccp_ids``, ``clothing_files``: the names the labels files use for ``ccp_photos`` and ``class_views``)."""
    sets = (("CCP label crops", heldout.ccp), ("clothing-small crops", heldout.clothing),
            ("CCP photos (product)", heldout.ccp_photos))
    rows = {}
    for name, crops in sets:
        rows[f"plural: {name} <colour> <garments>"] = attribute_mrr(embedder, crops.pil_images(),
                                                                     colour_keys(crops), plural_colour_query)
    rows["plural: CCP photos (product) <colour named by eye> <garments>"] = labelled_mrr(
        embedder, heldout.ccp_photos, ccp_ids, CCP_COLOUR_LABELS, query=plural_labelled_query)
    for name, crops in sets:
        keys = [(c, k) if " " in COLOUR_NAMES[c] else None for c, k in colour_keys(crops)]
        rows[f"hyphen: {name} <multi-word colour, hyphenated> <garment>"] = attribute_mrr(
            embedder, crops.pil_images(), keys, hyphen_colour_query)
    rows["hyphen: CCP photos (product) <multi-word colour named by eye, hyphenated> <garment>"] = hyphen_labelled_mrr(
        embedder, heldout.ccp_photos, ccp_ids, CCP_COLOUR_LABELS)
    for name, crops in sets:
        rows[f"lone: {name} <colour>"] = attribute_mrr(embedder, crops.pil_images(),
                                                       [(int(c),) for c in crops.colours],
                                                       lambda c: COLOUR_NAMES[c])
    rows["lone: CCP photos (product) <colour named by eye>"] = lone_labelled_mrr(
        embedder, heldout.ccp_photos, ccp_ids, CCP_COLOUR_LABELS)
    rows["lone: clothing-small validation <pattern>"] = lone_labelled_mrr(
        embedder, heldout.class_views, clothing_files, PATTERN_LABELS)
    rows["lone: CCP photos (product) <pattern>"] = lone_labelled_mrr(embedder, heldout.ccp_photos, ccp_ids,
                                                                     CCP_PATTERN_LABELS)
    for name, crops in sets:
        rows[f"shopper colour: {name} <shopper colour name> <garment>"] = attribute_mrr(
            embedder, crops.pil_images(), colour_keys(crops), shopper_colour_query)
    rows["shopper colour: CCP photos (product) <colour named by eye, as a shopper name> <garment>"] = \
        shopper_labelled_mrr(embedder, heldout.ccp_photos, ccp_ids, CCP_COLOUR_LABELS)
    return rows


def shopper_rrs(embedder: ImageTextEmbedder, views: Crops, names: list[str], queries_file: Path) -> list[float]:
    """Reciprocal rank of each written query's photo (or one it lists under "also") among ``views`` (each named in
    ``names`` as ``queries_file`` keys them), in the file's order; photos without a query stay in the ranking."""
    queries = json.loads(queries_file.read_text())["queries"]
    emb = embedder.encode_images(views.pil_images())
    rrs = []
    for name, query in queries.items():
        if name not in names:
            continue
        hits = {name, *query.get("also", ())}
        ranked = [names[i] for i in np.argsort(-scores(embedder, emb, query["text"]), kind="stable")]
        rrs.append(1.0 / (1 + next(i for i, n in enumerate(ranked) if n in hits)))
    return rrs


def shopper_mrr(embedder: ImageTextEmbedder, views: Crops, names: list[str], queries_file: Path) -> float:
    """The mean of ``shopper_rrs``."""
    return float(np.mean(shopper_rrs(embedder, views, names, queries_file)))


class PooledQueryEmbedder(Embedder):
    """One of our models with its image side as served and its text side read from pooled text transformer
    outputs (projected by the candidate's own text projection): for machines without the text tower's weights."""

    text_weights = False

    def __init__(self, choice: ModelChoice, pooled: dict[str, np.ndarray]) -> None:
        super().__init__(choice)
        self.pooled = pooled

    def encode_text(self, text: str) -> np.ndarray:
        import torch

        model, _, _, device = self._model()
        with torch.inference_mode():
            emb = model.text.proj(torch.from_numpy(self.pooled[text]).float().to(device)[None])
            return torch.nn.functional.normalize(emb, dim=-1)[0].cpu().numpy()


class ImageVectorMemo:
    """``inner`` with each image's vector computed once (by content): the judges rank the same views for many
    query forms, and encoding them (towers and measured channels) is what costs."""

    def __init__(self, inner: ImageTextEmbedder) -> None:
        self.inner = inner
        self.vectors: dict[bytes, np.ndarray] = {}

    def encode_images(self, images: list[Image.Image]) -> np.ndarray:
        # what the index recorded on a view counts too: the family and length channels read it
        keys = [content_key(im) + repr(sorted(view_tags(im).items())).encode() for im in images]
        missing = {k: im for k, im in zip(keys, images) if k not in self.vectors}
        if missing:
            self.vectors.update(zip(missing, self.inner.encode_images(list(missing.values()))))
        return np.stack([self.vectors[k] for k in keys]) if keys else self.inner.encode_images([])

    def encode_text(self, text: str) -> np.ndarray:
        return self.inner.encode_text(text)

    def __getattr__(self, name: str):  # identity, load: the model's own
        return getattr(self.inner, name)


class WithFeedback:
    """``inner`` ranking with query feedback ``feedback`` (None: the plain dot product), as ``scores`` and the
    catalogue's ``ProductIndex`` read it; everything else is ``inner``'s."""

    def __init__(self, inner: ImageTextEmbedder, feedback: QueryFeedback | None) -> None:
        self.inner, self.feedback = inner, feedback

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


class RecordingEmbedder:
    """Passes calls to ``inner`` and remembers every vector it returned, by image content and query text, so
    combinations of models can be measured later without encoding again (``MeasuredCombination``)."""

    def __init__(self, inner: ImageTextEmbedder) -> None:
        self.inner = inner
        self.images: dict[bytes, np.ndarray] = {}
        self.texts: dict[str, np.ndarray] = {}

    def encode_images(self, images: list[Image.Image]) -> np.ndarray:
        out = self.inner.encode_images(images)
        self.images.update(zip(map(content_key, images), out))
        return out

    def encode_text(self, text: str) -> np.ndarray:
        self.texts[text] = self.inner.encode_text(text)
        return self.texts[text]


class MeasuredCombination:
    """An ensemble of recorded models as ``garment_search.embedding.ensemble.MemberEnsemble`` computes it — each
    member's unit vectors concatenated and divided by √K, so a score is the mean of the members' cosines —
    from the members' recorded vectors (only images and queries they were measured on)."""

    def __init__(self, members: list[RecordingEmbedder]) -> None:
        self.members = members
        self.scale = 1.0 / np.sqrt(len(members))

    def encode_images(self, images: list[Image.Image]) -> np.ndarray:
        keys = [content_key(im) for im in images]
        return np.concatenate([np.stack([m.images[k] for k in keys]) for m in self.members], axis=1) * self.scale

    def encode_text(self, text: str) -> np.ndarray:
        return np.concatenate([m.texts[text] for m in self.members]) * self.scale


def pack(args) -> None:
    from training.embedding.train import PooledTextCache, build_model, encode_captions

    size = model_input_size(args.model)  # what the ranked towers' preprocessing resizes to
    heldout = Heldout.build(args.datasets, index_segmenter(), crop_size(size))
    heldout.save(args.out, size)
    queries = heldout.queries()
    cache = PooledTextCache(args.out / "pooled_queries.pt")
    encode_captions(build_model(None, text_weights=True), queries, cache)
    views = " + ".join(str(len(getattr(heldout, part).kinds)) for part in Heldout.PARTS)
    print(f"packed {views} views and {len(queries)} queries in {args.out}")


def measure_runs(pack_dir: Path, weights: list[str]) -> tuple[Heldout, dict[str, dict[str, float]],
                                                                 dict[str, RecordingEmbedder]]:
    """The packed held-out sets, each of ``weights`` measured on them (printed as it comes), and what each
    encoded (for ``combos``)."""
    from training.embedding.train import PooledTextCache

    heldout = Heldout.load(pack_dir)
    cache = PooledTextCache(pack_dir / "pooled_queries.pt")
    pooled = {q: cache.lookup([q])[0].numpy() for q in heldout.queries()}
    rows, recorded = {}, {}
    for name in weights:
        choice = ModelChoice.from_arg(name, default_name=EMBEDDED_MEMBER)
        recorded[name] = RecordingEmbedder(PooledQueryEmbedder(choice, pooled).load())
        rows[name] = heldout.measure(recorded[name])
        print(json.dumps({"weights": name, **rows[name]}), flush=True)
    return heldout, rows, recorded


def rank(args) -> None:
    _, rows, _ = measure_runs(args.pack, args.weights)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


def combos(args) -> None:
    """Every ``--members``-model ensemble of ``--weights``, measured on the pack from each model's vectors (the
    way to choose an ensemble's members without assembling each one), best mean of the four measures first."""
    import itertools
    import statistics

    heldout, _, recorded = measure_runs(args.pack, args.weights)
    rows = []
    for names in itertools.combinations(args.weights, args.members):
        measures = heldout.measure(MeasuredCombination([recorded[n] for n in names]))
        rows.append({"members": list(names), **measures, "mean": statistics.mean(measures.values())})
    rows.sort(key=lambda row: -row["mean"])
    for row in rows[:args.top]:
        print(json.dumps(row), flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack")
    p.add_argument("--datasets", type=Path, default=Path("../shared/datasets"))
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--model", default=EMBEDDED_MEMBER,
                   help="our model config whose input side the views are packed at "
                   "(e.g. garment-minilm-mobilenetv2-176)")
    r = sub.add_parser("rank")
    r.add_argument("--pack", type=Path, required=True)
    r.add_argument("--weights", nargs="+", required=True,
                   help=f"{EMBEDDED_MEMBER} checkpoints, or MODEL=PATH for another of our configs")
    r.add_argument("--json", type=Path, help="also write the measures here")
    c = sub.add_parser("combos", help="measure every ensemble of --members of the --weights")
    c.add_argument("--pack", type=Path, required=True)
    c.add_argument("--weights", nargs="+", required=True, help=f"{EMBEDDED_MEMBER} checkpoints")
    c.add_argument("--members", type=int, default=3)
    c.add_argument("--top", type=int, default=10, help="print this many of the best")
    c.add_argument("--json", type=Path, help="also write every combination's measures here")
    args = ap.parse_args()
    {"pack": pack, "rank": rank, "combos": combos}[args.command](args)


if __name__ == "__main__":
    main()
