"""Build the search index of a catalogue: every sub-folder of --images is a product, every image in it a row.

    python -m index.build --images sample --out index/sample.npz
    python -m index.build --images gs://bucket/catalogue --out gs://bucket/index/part-3.npz --shard 3/8

Each photo is decoded, background-removed with remove_bg's segmentation (same ``keep`` default; the garment
maps averaged over test-time augmented readings — mirrored, and at 1.2× — which remove_bg does only on a GPU: a
build is offline, so it takes the better masks at ~3× the segmentation time — ``--readings mirror`` to match a
CPU remove_bg), cropped to the garment and embedded in batches. A photo that cannot be decoded is reported and
skipped; a photo with no garment is embedded whole and flagged. Re-running skips photos already embedded with
the same models.
--shard I/N (default: Cloud Run Jobs' CLOUD_RUN_TASK_INDEX/CLOUD_RUN_TASK_COUNT) builds the I-th of N
disjoint parts; join them with ``python -m index.merge``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time

import numpy as np
from tqdm import tqdm

from garment_search import storage
from garment_search.embedding import Embedder
from garment_search.embedding.querybank import as_served
from garment_search.images import IMAGE_SUFFIXES, decode_image
from garment_search.index_file import IndexFile, InvalidIndex
from garment_search.segmentation import DEFAULT_KEEP, INDEX_TTA, KEEP_CHOICES, embedding_view, load_index_segmenter
from garment_search.segmentation.sessions import READING_SETS

MAX_PIXELS = 100_000_000


def parse_shard(value: str | None) -> tuple[int, int]:
    """``I/N`` → (I, N); default from Cloud Run Jobs' task variables, else the whole catalogue (0/1)."""
    if value is None:
        return int(os.environ.get("CLOUD_RUN_TASK_INDEX", 0)), int(os.environ.get("CLOUD_RUN_TASK_COUNT", 1))
    i, _, n = value.partition("/")
    index, count = int(i), int(n)
    if not 0 <= index < count:
        raise argparse.ArgumentTypeError(f"shard {value}: need 0 <= I < N")
    return index, count


def catalogue_images(root: str) -> list[tuple[str, str]]:
    """(product, path) for every image one folder below ``root``, in a stable order."""
    root = root.rstrip("/")
    out = []
    for path in storage.list_files(root):
        rel = path[len(root) + 1:]
        if rel.count("/") == 1 and rel.lower().endswith(IMAGE_SUFFIXES) and not rel.startswith("."):
            out.append((storage.parent_name(path), path))
    return out


def stored_path(path: str, images: str, path_root: str | None) -> str:
    """The path written into the index: as given, or with the catalogue root spelled ``path_root``."""
    if path_root is None:
        return path
    return path_root.rstrip("/") + path[len(images.rstrip("/")):]


def build(images: str, out: str, keep: str = DEFAULT_KEEP, shard: tuple[int, int] = (0, 1), batch: int = 16,
          embedder: Embedder | None = None, segmenter_name: str | None = None, path_root: str | None = None,
          tta: bool | str = INDEX_TTA) -> IndexFile:
    embedder = embedder or as_served(Embedder())
    segmenter = load_index_segmenter(segmenter_name, tta)
    index = IndexFile(embedder.identity, segmenter.identity, keep)
    previous = None
    if storage.exists(out):
        try:
            previous = IndexFile.load(out)
        except InvalidIndex as exc:
            print(f"ignoring unreadable {out}: {exc}", file=sys.stderr)
    reusable = {}
    if previous is not None and previous.same_models(index):
        reusable = {(p, d): i for i, (p, d) in enumerate(zip(previous.paths, previous.digests))}

    todo = [item for i, item in enumerate(catalogue_images(images)) if i % shard[1] == shard[0]]
    rows: list[tuple[str, str, str, bool, np.ndarray]] = []
    pending: list[tuple] = []  # (product, path, digest, no_garment, PIL image to embed)
    skipped = reused = 0

    def flush() -> None:
        if pending:
            vectors = embedder.encode_images([p[4] for p in pending], batch_size=batch)
            rows.extend((*p[:4], v) for p, v in zip(pending, vectors))
            pending.clear()

    start = time.perf_counter()
    bar = tqdm(todo, desc="indexing", unit="img")
    for product, source in bar:
        data = storage.read_bytes(source)
        path = stored_path(source, images, path_root)
        digest = hashlib.sha256(data).hexdigest()[:16]
        if (path, digest) in reusable:
            i = reusable[(path, digest)]
            rows.append((product, path, digest, previous.no_garment[i], previous.embeddings[i]))
            reused += 1
            continue
        try:
            image = decode_image(data, MAX_PIXELS)
        except Exception as exc:  # noqa: BLE001 - one bad photo never stops the build
            tqdm.write(f"skipped {path}: {exc}", file=sys.stderr)
            skipped += 1
            continue
        view, no_garment = embedding_view(image, segmenter, keep)
        if no_garment:
            tqdm.write(f"no garment found in {path}: indexed from the original photo", file=sys.stderr)
        pending.append((product, path, digest, no_garment, view))
        if len(pending) >= batch:
            flush()
    flush()
    bar.close()
    elapsed = time.perf_counter() - start
    rows.sort(key=lambda r: r[1])
    if previous is not None and reused == len(rows) == len(previous) and reusable:
        print(f"{out} is up to date ({len(rows)} photos)", file=sys.stderr)
        return previous
    index.products = [r[0] for r in rows]
    index.paths = [r[1] for r in rows]
    index.digests = [r[2] for r in rows]
    index.no_garment = [r[3] for r in rows]
    index.embeddings = np.stack([r[4] for r in rows]).astype(np.float32) if rows else np.zeros((0, 0), np.float32)
    index.save(out)
    new = len(rows) - reused
    print(f"indexed {len(rows)} photos of {len(set(index.products))} products into {out} "
          f"({new} embedded at {new / elapsed if elapsed else 0:.2f} images/s, {reused} reused, {skipped} skipped, "
          f"{sum(index.no_garment)} without garment)", file=sys.stderr)
    return index


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", required=True, help="catalogue folder (local or gs://), one sub-folder per product")
    ap.add_argument("--out", required=True, help="index file to write (local or gs://); {shard} → shard index")
    ap.add_argument("--keep", default=DEFAULT_KEEP, choices=KEEP_CHOICES, help="mask mode, as remove_bg's keep")
    ap.add_argument("--shard", type=parse_shard, default=None, help="I/N: build only the I-th of N parts")
    ap.add_argument("--batch", type=int, default=16, help="images per embedding batch")
    ap.add_argument("--path-root", help="spell the catalogue root like this in stored paths (e.g. sample)")
    ap.add_argument("--readings", dest="tta", default=INDEX_TTA, choices=READING_SETS,
                    help="the garment model's readings per photo (SEGMENTATION_TTA's sets): full (default, best "
                         "masks), mirror (as remove_bg on a CPU), off (one reading, fastest)")
    args = ap.parse_args(argv)
    shard = args.shard or parse_shard(None)
    out = args.out.replace("{shard}", str(shard[0]))  # one --out for every task of a Cloud Run Job
    build(args.images, out, args.keep, shard, args.batch, path_root=args.path_root, tta=args.tta)


if __name__ == "__main__":
    main()
