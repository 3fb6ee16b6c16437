"""Evaluate the configured embedder (CLIP_MODEL/CLIP_PRETRAINED; default the embedded fashion model), or several
candidate weights of the embedded model side by side (``--weights``: the photos are cut out once for all).

    python -m training.embedding.evaluate [--datasets ../shared/datasets] [--keep product garments]
    python -m training.embedding.evaluate --weights models/garment_minilm_resnet18x2_mobilenetv2x2.pt candidate.pt --skip latency
    python -m training.embedding.evaluate --weights garment-minilm-resnet18=member.pt ensemble.pt   # MODEL=PATH
    python -m training.embedding.evaluate --skip ccp-photos sample latency --query-readings plain inflections+completion

- the held-out sets (training/embedding/heldout.py): clothing-small validation/ "a photo of a <class>" →
  precision@10; CCP 0601–0700 "<colour> <garment>" over label crops → MRR; clothing-small validation/ cut out as
  for training, "<colour> <class>" → MRR; CCP 0601–0700 whole photos cut out with ``keep=product`` → MRR (below);
- CCP 0601–0700 whole photos, each standing for the product it displays: "<colour> <garment>" of its dominant
  labelled garment (the largest garment region) over the photos as the index builder sees them, for the other
  --keep modes and the original photos → MRR (``product`` is the fourth held-out measure above). Street photos
  show an outfit, so this asks what the product-aware mask is for: does keeping only the displayed product
  (``product``) find a photo by its product better than keeping the whole outfit (``garments``)? (The
  catalogue's queries never ask for the trousers under a tunic.);
- the sample catalogue: the queries in training/embedding/sample_queries.json, one entry per product (best
  photo) → MRR on background-removed photos for each --keep mode, and on the original photos;
- hand-labelled patterns: clothing-small validation/ photos, "<pattern> <class>", and the CCP 0601–0700 photos cut
  out with ``keep=product``, "<pattern> <garment>" of the dominant garment; each also with the measured colour
  named ("<colour> <pattern> <class>"), and the CCP photos' "<colour name> <garment>" with the colour named by eye
  as a shopper would (any English name) → MRR (reported, not gated);
- query forms (stop 26): the held-out "<colour> <garment>" judges asked with plural nouns and with multi-word colours
  hyphenated, and a lone colour or pattern ("red", "striped") → MRR (reported, not gated; ``heldout.query_form_mrrs``);
  ``--query-readings`` measures how our towers read queries (``query_vocabulary``) side by side;
- text encoding latency p50 (single query).
Every model is measured with search's measured channels (colour, pattern, kept family, sleeve, hem length) at the
served weights, or at every ``--colour-weights`` × ``--pattern-weights`` × ``--family-weights`` ×
``--sleeve-weights`` × ``--length-weights`` combination, one column each, and ranked with search's query feedback
as served or at each ``--query-feedback`` (``garment_search.feedback``; ``off`` or ``K,W``), one column each (the
views are encoded once for all of them).
Photos go through the index builder's path (``embedding_view``: remove_bg's cut-out cropped to the garment, the garment
maps test-time augmented as every index build does: ``INDEX_TTA``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from dataclasses import fields, replace
from pathlib import Path

import numpy as np

from garment_search.catalogue import product_photos, sample_dir
from garment_search.colours import COLOUR_NAMES
from garment_search.embedding import EMBEDDED_MODEL, Embedder, ModelChoice, is_our_model, model_input_size
from garment_search.embedding.measured_channels import (colour_weight, family_weight, length_weight, pattern_weight,
                                                       sleeve_weight)
from garment_search.embedding.query_vocabulary import TowerReader
from garment_search.embedding.querybank import as_served, querybank_weight
from garment_search.feedback import QueryFeedback, query_feedback
from garment_search.images import load_image_file
from garment_search.index_file import IndexFile
from garment_search.search import ProductIndex
from training.embedding.data import CROP, crop_size
from training.embedding.heldout import (CCP_COLOUR_LABELS, CCP_PATTERN_LABELS, CCP_SHOPPER_QUERIES,
                                       CLOTHING_SHOPPER_QUERIES, PATTERN_LABELS, Heldout, ccp_photo_ids,
                                       ccp_photo_views, clothing_validation_files, colour_garment_mrr,
                                       ImageVectorMemo, WithFeedback, feedback_of, index_segmenter, labelled_mrr,
                                       query_form_mrrs, shopper_mrr, views_by_mode)

QUERIES = Path(__file__).with_name("sample_queries.json")


def reciprocal_rank(ranked: list[str], expected: set[str]) -> float:
    for i, name in enumerate(ranked, start=1):
        if name in expected:
            return 1.0 / i
    return 0.0


class CcpPhotos:
    """CCP validation photos as the index builder sees them, per photo mode, keyed by their dominant garment
    (``heldout.ccp_photo_views``)."""

    def __init__(self, ccp: Path, modes: list[str], segmenter) -> None:
        self.views = ccp_photo_views(ccp, modes, segmenter)

    def mrr(self, embedder: Embedder) -> dict[str, float]:
        return {mode: colour_garment_mrr(embedder, crops) for mode, crops in self.views.items()}


class Catalogue:
    """The sample catalogue's photos as the index builder sees them, per photo mode, cut out once."""

    def __init__(self, modes: list[str], segmenter) -> None:
        products = product_photos(sample_dir())
        self.names = [n for n, photos in products.items() for _ in photos]
        self.paths = [str(p) for photos in products.values() for p in photos]
        images = [load_image_file(p) for p in self.paths]
        self.segmentation = segmenter.identity
        self.views = views_by_mode(images, modes, segmenter)

    def mrr(self, embedder: Embedder) -> dict[str, float]:
        """Catalogue MRR per photo mode, ranked by the search code itself (``ProductIndex``: best photo per
        product, photos without a garment not representing a product that has others)."""
        queries = json.loads(QUERIES.read_text())["queries"]
        out = {}
        for mode, views in self.views.items():
            emb = embedder.encode_images([v for v, _ in views])
            index = ProductIndex(IndexFile(embedder.identity, self.segmentation, mode, emb, self.names, self.paths,
                                           [""] * len(self.paths), [flag for _, flag in views]))
            rrs = [reciprocal_rank([h.product_name for h in index.top(embedder.encode_text(q["text"]), len(index),
                                                                      feedback_of(embedder))],
                                   set(q["expected"])) for q in queries]
            out[mode] = float(np.mean(rrs))
        return out


#: What a query reading (``--query-readings``) may switch on in our towers' vocabulary view
#: (``query_vocabulary.TowerReader``): "served" is the configured reader, "plain" none of these, else a
#: "+"-joined set ("inflections+completion"). Shoppers' colour names are not among them: the colour channel reads
#: them too, so ``QUERY_COLOUR_NAMES`` sets them for a whole run.
READING_FLAGS = tuple(f.name for f in fields(TowerReader) if f.name not in ("vocabulary", "colour_names"))


def query_reading(value: str) -> str:
    """argparse type of ``--query-readings``."""
    if value in ("served", "plain") or set(value.split("+")) <= set(READING_FLAGS):
        return value
    raise argparse.ArgumentTypeError(f"{value!r}: served, plain, or a '+'-joined set of {', '.join(READING_FLAGS)}")


def reading_as(embedder: Embedder, reading: str) -> Embedder:
    """``embedder`` with its towers reading queries as ``reading`` names (its vocabulary, if any, kept)."""
    if reading != "served" and embedder.tower_text.vocabulary:
        flags = set(reading.split("+"))
        embedder.tower_text = replace(embedder.tower_text, **{f: f in flags for f in READING_FLAGS})
    return embedder


def feedback_setting(value: str) -> QueryFeedback | None:
    """argparse type of ``--query-feedback``: ``off`` or ``K,W``, read as ``QUERY_FEEDBACK`` is."""
    try:
        return query_feedback(value, "--query-feedback")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def text_latency_ms(embedder: Embedder, runs: int = 100) -> float:
    embedder.encode_text("warm up")
    times = []
    for i in range(runs):
        t = time.perf_counter()
        embedder.encode_text(f"{COLOUR_NAMES[i % len(COLOUR_NAMES)]} tunic number {i}")
        times.append((time.perf_counter() - t) * 1000)
    return float(np.median(times))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", type=Path, default=Path("../shared/datasets"))
    ap.add_argument("--keep", nargs="+", default=["product", "garments"])
    ap.add_argument("--weights", nargs="+",
                    help=f"candidate checkpoints of {EMBEDDED_MODEL} (or MODEL=PATH for another of our configs), "
                    "one column each (default: the configured model)")
    ap.add_argument("--colour-weights", nargs="+", type=float,
                    help="colour channel weights to measure each model with, one column each (default: the served "
                    "COLOUR_WEIGHT; 0 = without the channel)")
    ap.add_argument("--pattern-weights", nargs="+", type=float,
                    help="pattern channel weights, crossed with the colour weights (default: the served "
                    "PATTERN_WEIGHT)")
    ap.add_argument("--family-weights", nargs="+", type=float,
                    help="kept-family channel weights, crossed with the others (default: the served FAMILY_WEIGHT)")
    ap.add_argument("--sleeve-weights", nargs="+", type=float,
                    help="sleeve channel weights, crossed with the others (default: the served SLEEVE_WEIGHT)")
    ap.add_argument("--length-weights", nargs="+", type=float,
                    help="hem-length channel weights, crossed with the others (default: the served LENGTH_WEIGHT)")
    ap.add_argument("--querybank-weights", nargs="+", type=float,
                    help="querybank normalisation weights, crossed with the channels' (default: the served "
                    "QUERYBANK_WEIGHT; 0 = without it)")
    ap.add_argument("--query-readings", nargs="+", type=query_reading,
                    help="how our towers read queries, one column each: the vocabulary view as configured "
                    "(served; the default), plain, or with a '+'-joined set of " + ", ".join(READING_FLAGS))
    ap.add_argument("--query-feedback", nargs="+", type=feedback_setting,
                    help="query feedback settings to rank with, one column each: off or K,W (default: the served "
                    "QUERY_FEEDBACK)")
    ap.add_argument("--skip", nargs="*", default=[], choices=["heldout", "ccp-photos", "sample", "latency"])
    args = ap.parse_args()
    choices = [ModelChoice.from_arg(w) for w in args.weights] if args.weights else [None]
    readings = args.query_readings or ["served"]
    models = [(reading_as(Embedder(choice), reading), reading) for choice in choices for reading in readings]
    grids = [args.colour_weights or [colour_weight()], args.pattern_weights or [pattern_weight()],
             args.family_weights or [family_weight()], args.sleeve_weights or [sleeve_weight()],
             args.querybank_weights or [querybank_weight()], args.length_weights or [length_weight()]]
    feedbacks = args.query_feedback or [query_feedback()]
    embedders = [as_served(m, *weights) for m, _ in models for weights in itertools.product(*grids)]
    columns = [(f"{m.identity} ({reading} reading)" if len(readings) > 1 else m.identity) +
               (f" ({feedback.label if feedback else 'no feedback'})" if len(feedbacks) > 1 else "")
               for m, reading in models for _ in itertools.product(*grids) for feedback in feedbacks]
    segmenter = index_segmenter()  # photos cut out as the index builder does, each photo's maps computed once
    rows: dict[str, list[str]] = {}
    # label crops stored for the largest tower input compared (every model judged on the same crops)
    crop_side = max(crop_size(model_input_size(m.choice.name)) if is_our_model(m.choice.name) else CROP
                    for m, _ in models)
    heldout = None if "heldout" in args.skip else Heldout.build(args.datasets, segmenter, crop_side)
    pattern_judges = []  # (judge, views, their names in the labels file, labels file, measured colours or None)
    colour_judge = None  # (views, their names in the labels file): colours named by eye
    shopper_judge = None  # (clothing-small views, their names in the queries file): free text written by eye
    if heldout:
        ccp_ids = ccp_photo_ids(args.datasets / "ccp")
        colour_judge = (heldout.ccp_photos, ccp_ids)
        clothing_files = clothing_validation_files(args.datasets / "clothing-small" / "validation")
        shopper_judge = (heldout.class_views, clothing_files)
        same_photos = len(heldout.clothing.colours) == len(clothing_files)  # the same photos, in the same order
        pattern_judges = [
            ("clothing-small validation <class>", heldout.class_views, clothing_files, PATTERN_LABELS,
             heldout.clothing.colours if same_photos else None),
            ("CCP 0601–0700 photos (product) <garment>", heldout.ccp_photos, ccp_ids, CCP_PATTERN_LABELS,
             heldout.ccp_photos.colours)]
    photo_modes = [m for m in [*args.keep, "original"] if not (heldout and m == "product")]  # product: held out
    ccp_photos = None if "ccp-photos" in args.skip else CcpPhotos(args.datasets / "ccp", photo_modes, segmenter)
    catalogue = None if "sample" in args.skip else Catalogue([*args.keep, "original"], segmenter)
    for column, (served, feedback) in enumerate(itertools.product(embedders, feedbacks)):
        served.load()
        if column % len(feedbacks) == 0:  # a model's first column: its views are encoded once for all its columns
            memo = ImageVectorMemo(served)
        embedder = WithFeedback(memo, feedback)
        if heldout:
            for measure, value in heldout.measure(embedder).items():
                rows.setdefault(measure, []).append(f"{value:.3f}")
            for judge, views, names, labels, colours in pattern_judges:
                rows.setdefault(f"{judge} pattern MRR (hand-labelled; reported, not gated)", []).append(
                    f"{labelled_mrr(embedder, views, names, labels):.3f}")
                if colours is not None:
                    rows.setdefault(f"{judge} colour+pattern MRR (measured colour, hand-labelled pattern; reported, "
                                    "not gated)", []).append(
                        f"{labelled_mrr(embedder, views, names, labels, colours):.3f}")
            rows.setdefault("CCP 0601–0700 photos (product) <colour name> <garment> MRR (colour named by eye, any "
                            "English name; reported, not gated)", []).append(
                f"{labelled_mrr(embedder, *colour_judge, CCP_COLOUR_LABELS):.3f}")
            rows.setdefault("CCP 0601–0700 photos (product) shopper free-text MRR (written by eye; reported, not "
                            "gated)", []).append(f"{shopper_mrr(embedder, *colour_judge, CCP_SHOPPER_QUERIES):.3f}")
            rows.setdefault("clothing-small validation shopper free-text MRR (written by eye; reported, not gated)",
                            []).append(f"{shopper_mrr(embedder, *shopper_judge, CLOTHING_SHOPPER_QUERIES):.3f}")
            for form, mrr in query_form_mrrs(embedder, heldout, ccp_ids, clothing_files).items():
                rows.setdefault(f"query form — {form} MRR (reported, not gated)", []).append(f"{mrr:.3f}")
        if ccp_photos:
            for mode, mrr in ccp_photos.mrr(embedder).items():
                rows.setdefault(f"CCP 0601–0700 photos, dominant garment MRR ({mode} photos)", []).append(f"{mrr:.3f}")
        if catalogue:
            for mode, mrr in catalogue.mrr(embedder).items():
                rows.setdefault(f"sample catalogue MRR ({mode} photos)", []).append(f"{mrr:.3f}")
        if "latency" not in args.skip:
            rows.setdefault("text encoding p50", []).append(f"{text_latency_ms(served):.1f} ms")
    print(f"segmentation {segmenter.identity}")
    print("| measure | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * len(columns))
    for measure, values in rows.items():
        print(f"| {measure} | " + " | ".join(values) + " |")


if __name__ == "__main__":
    main()
