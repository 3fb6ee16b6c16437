"""How much a held-out row moves by chance: each gated row's per-query scores under the served search, with its
mean's standard error and bootstrap 95% half-width.

    python -m training.embedding.row_noise          # ~12 min here: the held-out photos are cut out as the index does
    python -m training.embedding.row_noise --out served.json                   # also keep the per-query scores
    LONE_GARMENTS=0 python -m training.embedding.row_noise --out off.json      # the same under another setting
    python -m training.embedding.row_noise --compare served.json off.json      # paired: the difference per row

Rules in docs/benchmarks.md judge candidates by differences of 0.005–0.01 on rows of 10 to 125 queries. This says
how large a difference one query moving a place makes on each row, and how far a row's mean is known at all, so
that a rule can ask for a difference the row can show (docs/benchmarks.md, "How much a held-out row moves by
chance").
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from garment_search.embedding import Embedder
from garment_search.embedding.querybank import as_served
from training.embedding.data import CROP
from training.embedding.heldout import (CCP_SHOPPER_QUERIES, CLOTHING_SHOPPER_QUERIES, PATTERN_LABELS, Heldout,
                                        ImageTextEmbedder, attribute_rrs, ccp_photo_ids, class_precisions,
                                        clothing_validation_files, colour_keys, colour_query, index_segmenter,
                                        labelled_keys, labelled_query, shopper_rrs)


#: The smallest change of one query's score: an MRR query moving from rank 1 to rank 2 (0.5), a class's precision@10
#: gaining or losing one photo (0.1).
MRR_STEP, PRECISION_STEP = 0.5, 0.1
P10_ROW = "clothing-small P@10 (per class)"


def noise_of(values: list[float], step: float = MRR_STEP, draws: int = 10_000, seed: int = 0) -> dict[str, float]:
    """Queries, mean, standard error and bootstrap 95% half-width of the mean of one row's per-query scores, and
    what one query's smallest move (``step``) changes on the row."""
    v = np.asarray(values, dtype=np.float64)
    means = np.random.default_rng(seed).choice(v, (draws, len(v))).mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return {"queries": len(v), "mean": float(v.mean()), "standard_error": float(v.std(ddof=1) / np.sqrt(len(v))),
            "half_width": float((high - low) / 2), "one_place": step / len(v)}


def paired_noise(served: list[float], candidate: list[float], draws: int = 10_000, seed: int = 0) -> dict[str, float]:
    """The candidate's mean difference from served over the same queries, its paired bootstrap 95% interval, and
    how many queries moved: a difference one or two queries make is not a row falling."""
    a, b = np.asarray(served, dtype=np.float64), np.asarray(candidate, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"the two runs asked different queries ({len(a)} against {len(b)})")
    d = b - a
    means = d[np.random.default_rng(seed).integers(0, len(d), (draws, len(d)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return {"queries": len(d), "difference": float(d.mean()), "low": float(low), "high": float(high),
            "moved": int((d != 0).sum())}


def per_query(embedder: ImageTextEmbedder, heldout: Heldout, datasets: Path) -> dict[str, list[float]]:
    """Per-query scores of the four gated rows, the clothing-small pattern row and the two free-text rows."""
    files = clothing_validation_files(datasets / "clothing-small" / "validation")
    views = heldout.class_views.pil_images()
    return {
        P10_ROW: class_precisions(embedder, views, heldout.class_views.kinds),
        "CCP crops colour+garment MRR": attribute_rrs(embedder, heldout.ccp.pil_images(), colour_keys(heldout.ccp),
                                                     colour_query),
        "clothing-small colour+class MRR": attribute_rrs(embedder, heldout.clothing.pil_images(),
                                                         colour_keys(heldout.clothing), colour_query),
        "CCP photos (product) MRR": attribute_rrs(embedder, heldout.ccp_photos.pil_images(),
                                                  colour_keys(heldout.ccp_photos), colour_query),
        "clothing-small <pattern> <class> MRR": attribute_rrs(
            embedder, views, labelled_keys(heldout.class_views, files, PATTERN_LABELS), labelled_query),
        "CCP photos free text MRR": shopper_rrs(embedder, heldout.ccp_photos, ccp_photo_ids(datasets / "ccp"),
                                                CCP_SHOPPER_QUERIES),
        "clothing-small free text MRR": shopper_rrs(embedder, heldout.class_views, files, CLOTHING_SHOPPER_QUERIES),
    }


def compare(served: dict[str, list[float]], candidate: dict[str, list[float]]) -> None:
    print("| row | queries | moved | candidate − served | paired bootstrap 95% interval |")
    print("|---|---|---|---|---|")
    for name in served:
        p = paired_noise(served[name], candidate[name])
        print(f"| {name} | {p['queries']} | {p['moved']} | {p['difference']:+.4f} | "
              f"[{p['low']:+.4f}, {p['high']:+.4f}] |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", type=Path, default=Path("../shared/datasets"))
    ap.add_argument("--out", type=Path, help="also write the per-query scores (JSON) for --compare")
    ap.add_argument("--compare", type=Path, nargs=2, metavar=("SERVED", "CANDIDATE"),
                    help="paired differences of two runs' per-query scores (no model is run)")
    args = ap.parse_args()
    if args.compare:
        compare(*(json.loads(path.read_text()) for path in args.compare))
        return
    heldout = Heldout.build(args.datasets, index_segmenter(), CROP)
    embedder = as_served(Embedder())
    embedder.load()
    rows = per_query(embedder, heldout, args.datasets)
    if args.out:
        args.out.write_text(json.dumps(rows))
    print("| row (served search) | queries | mean | standard error | bootstrap 95% half-width | one query's smallest "
          "move (MRR: rank 1 → 2; P@10: one photo in or out of a top 10) |")
    print("|---|---|---|---|---|---|")
    for name, values in rows.items():
        n = noise_of(values, PRECISION_STEP if name == P10_ROW else MRR_STEP)
        print(f"| {name} | {n['queries']} | {n['mean']:.3f} | {n['standard_error']:.3f} | {n['half_width']:.3f} | "
              f"{n['one_place']:.3f} |")


if __name__ == "__main__":
    main()
