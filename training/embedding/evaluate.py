"""Evaluate the configured embedder (CLIP_MODEL/CLIP_PRETRAINED; default the embedded fashion model).

    python -m training.embedding.evaluate [--datasets ../shared/datasets] [--keep product garments]

- clothing-small validation/: query "a photo of a <class>" for each class over all photos → mean precision@10;
- CCP 0601–0700 garment crops: "<colour> <garment>" queries (measured colour, labelled garment) → MRR;
- clothing-small validation/ the same way: "<colour> <class>" over the photos cut out as for training (garment
  photos like a shop's, 341 of them: more colour+garment judgements than CCP's 197 street crops);
- the sample catalogue: the queries in training/embedding/sample_queries.json, one entry per product (best
  photo) → MRR on background-removed photos for each --keep mode, and on the original photos;
- text encoding latency p50 (single query).
Photos go through the index builder's path (``embedding_view``: remove_bg's cut-out cropped to the garment).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from PIL import Image

from garment_search.catalogue import product_photos, sample_dir
from garment_search.embedding import Embedder
from garment_search.images import load_image_file
from garment_search.index_file import IndexFile
from garment_search.search import ProductIndex
from garment_search.segmentation import embedding_view, load_segmenter
from training.embedding.captions import COLOUR_NAMES, NOUNS
from training.embedding.data import Crops, ccp_crops, clothing_crops
from training.segmentation.data import VAL_IDS

QUERIES = Path(__file__).with_name("sample_queries.json")


def reciprocal_rank(ranked: list[str], expected: set[str]) -> float:
    for i, name in enumerate(ranked, start=1):
        if name in expected:
            return 1.0 / i
    return 0.0


def clothing_precision(embedder: Embedder, root: Path, segmenter) -> float:
    files = sorted((d.name, f) for d in root.iterdir() if d.is_dir() for f in sorted(d.iterdir()))
    views = [embedding_view(load_image_file(f), segmenter, "product")[0] for _, f in files]
    emb = embedder.encode_images(views)
    labels = np.array([c for c, _ in files])
    precisions = []
    for cls in sorted(set(labels)):
        sims = emb @ embedder.encode_text(f"a photo of a {cls}")
        top = np.argsort(-sims)[:10]
        precisions.append(float((labels[top] == cls).mean()))
    return float(np.mean(precisions))


def colour_garment_mrr(embedder: Embedder, crops: Crops) -> float:
    """Mean reciprocal rank of the first crop with the asked colour and garment, one query per (colour, garment)
    present."""
    emb = embedder.encode_images([Image.fromarray(c) for c in crops.images])
    keys = [(int(c), k) for c, k in zip(crops.colours, crops.kinds)]
    rrs = []
    for colour, kind in sorted(set(keys)):
        sims = emb @ embedder.encode_text(f"{COLOUR_NAMES[colour]} {NOUNS[kind][0]}")
        ranked = [keys[i] for i in np.argsort(-sims)]
        rrs.append(1.0 / (ranked.index((colour, kind)) + 1))
    return float(np.mean(rrs))


def sample_mrr(embedder: Embedder, modes: list[str], segmenter) -> dict[str, float]:
    """Catalogue MRR per photo mode, ranked by the search code itself (``ProductIndex``: best photo per
    product, photos without a garment not representing a product that has others)."""
    queries = json.loads(QUERIES.read_text())["queries"]
    products = product_photos(sample_dir())
    names = [n for n, photos in products.items() for _ in photos]
    paths = [str(p) for photos in products.values() for p in photos]
    images = [load_image_file(p) for p in paths]
    out = {}
    for mode in modes:
        views = [(im.rgb, False) if mode == "original" else embedding_view(im, segmenter, mode) for im in images]
        emb = embedder.encode_images([v for v, _ in views])
        index = ProductIndex(IndexFile(embedder.identity, segmenter.identity, mode, emb, names, paths,
                                       [""] * len(paths), [flag for _, flag in views]))
        rrs = [reciprocal_rank([h.product_name for h in index.top(embedder.encode_text(q["text"]), len(index))],
                               set(q["expected"])) for q in queries]
        out[mode] = float(np.mean(rrs))
    return out


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
    ap.add_argument("--skip", nargs="*", default=[], choices=["clothing", "ccp", "clothing-colour", "sample", "latency"])
    args = ap.parse_args()
    embedder = Embedder().load()
    segmenter = load_segmenter()
    print(f"model {embedder.identity}, segmentation {segmenter.identity}")
    print("| measure | value |\n|---|---|")
    if "clothing" not in args.skip:
        print(f"| clothing-small validation precision@10 | {clothing_precision(embedder, args.datasets / 'clothing-small' / 'validation', segmenter):.3f} |")
    if "ccp" not in args.skip:
        crops = ccp_crops(args.datasets / "ccp", VAL_IDS)
        print(f"| CCP 0601–0700 colour+garment MRR | {colour_garment_mrr(embedder, crops):.3f} |")
    if "clothing-colour" not in args.skip:
        crops = clothing_crops(args.datasets / "clothing-small" / "validation", segmenter)
        print(f"| clothing-small validation colour+class MRR | {colour_garment_mrr(embedder, crops):.3f} |")
    if "sample" not in args.skip:
        for mode, mrr in sample_mrr(embedder, [*args.keep, "original"], segmenter).items():
            print(f"| sample catalogue MRR ({mode} photos) | {mrr:.3f} |")
    if "latency" not in args.skip:
        print(f"| text encoding p50 | {text_latency_ms(embedder):.1f} ms |")


if __name__ == "__main__":
    main()
