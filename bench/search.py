"""Benchmark search: cold start, end-to-end HTTP latency against the bare model floor, and 100,000 products.

    .venv/bin/python -m bench.search [--queries 60] [--synthetic 100000]

Starts the function with the production server on a free port over the committed sample index (or
INDEX_PATH); the bare floor is text encoding + similarity + ranking in this process, on the same queries.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import requests

from bench.machine import machine_line
from bench.remove_bg import percentile, start_function
from garment_search.config import REPO_ROOT
from garment_search.embedding import Embedder
from garment_search.embedding.querybank import as_served, base_encoder
from garment_search.embedding.text_onnx import load_text_encoder
from garment_search.index_file import IndexFile
from garment_search.search import ProductIndex

COLOURS = ["red", "navy blue", "pastel", "mint", "mustard", "black", "white", "fuchsia", "beige", "orange", "grey"]
KINDS = ["tunic", "shirt", "blouse", "sweatshirt", "dress", "floral tunic", "striped top", "checked shirt"]


def queries(count: int, salt: str = "") -> list[str]:
    return [f"{COLOURS[i % len(COLOURS)]} {KINDS[(i // len(COLOURS)) % len(KINDS)]}{salt}" for i in range(count)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--queries", type=int, default=60)
    ap.add_argument("--synthetic", type=int, default=100_000)
    ap.add_argument("--port", type=int, default=5091)
    args = ap.parse_args()
    index_path = os.environ.get("INDEX_PATH") or str(REPO_ROOT / "index" / "sample.npz")

    proc, cold = start_function("functions/search/main.py", "search", args.port, {"INDEX_PATH": index_path})
    url = f"http://127.0.0.1:{args.port}/"
    try:
        http_ms = []
        for text in queries(args.queries, salt=" "):  # uncached queries: every request encodes its text
            t = time.perf_counter()
            requests.post(url, json={"text": text, "n": 5}, timeout=60).raise_for_status()
            http_ms.append((time.perf_counter() - t) * 1000)
        cached_ms = []
        for text in queries(args.queries, salt=" "):
            t = time.perf_counter()
            requests.post(url, json={"text": text, "n": 5}, timeout=60).raise_for_status()
            cached_ms.append((time.perf_counter() - t) * 1000)
    finally:
        proc.terminate()

    # what the function serves with: the ONNX export by default, plus the channels' and querybank's query columns
    embedder = as_served(load_text_encoder())
    encoder = base_encoder(embedder)
    products = ProductIndex(IndexFile.load(index_path))
    bare_ms = []
    for text in queries(args.queries, salt="  "):
        t = time.perf_counter()
        products.top(embedder.encode_text(text), 5)
        bare_ms.append((time.perf_counter() - t) * 1000)
    torch_embedder = as_served(Embedder().load())
    torch_ms = []
    for text in queries(args.queries, salt="    "):
        t = time.perf_counter()
        torch_embedder.encode_text(text)
        torch_ms.append((time.perf_counter() - t) * 1000)
    onnx_ms = []
    for text in queries(args.queries, salt="     "):
        t = time.perf_counter()
        embedder.encode_text(text)
        onnx_ms.append((time.perf_counter() - t) * 1000)

    rng = np.random.default_rng(0)
    dim = products.embeddings.shape[1]
    synthetic = rng.standard_normal((args.synthetic, dim)).astype(np.float32)
    synthetic /= np.linalg.norm(synthetic, axis=1, keepdims=True)
    names = [f"product-{i:06d}" for i in range(args.synthetic)]
    big = ProductIndex(IndexFile("synthetic", "none", "product", synthetic, names, [f"{n}/1.jpg" for n in names],
                                 [""] * args.synthetic, [False] * args.synthetic))
    big_ms = []
    for text in queries(args.queries, salt="   "):
        t = time.perf_counter()
        big.top(embedder.encode_text(text), 5)
        big_ms.append((time.perf_counter() - t) * 1000)

    h50, b50 = statistics.median(http_ms), statistics.median(bare_ms)
    print(f"index {index_path}: {len(products)} products; model {embedder.identity} served by "
          f"{type(encoder).__name__}; {machine_line()}")
    print("| measure | p50 | p95 |")
    print("|---|---|---|")
    print(f"| end-to-end HTTP, new query | {h50:.1f} ms | {percentile(http_ms, 95):.1f} ms |")
    print(f"| end-to-end HTTP, cached query | {statistics.median(cached_ms):.1f} ms | {percentile(cached_ms, 95):.1f} ms |")
    print(f"| bare text encode + similarity + ranking | {b50:.1f} ms | {percentile(bare_ms, 95):.1f} ms |")
    print(f"| ratio HTTP / bare (new query) | {h50 / b50:.2f} | |")
    print(f"| text encoding, {type(encoder).__name__} (served) | {statistics.median(onnx_ms):.1f} ms | {percentile(onnx_ms, 95):.1f} ms |")
    print(f"| text encoding, open_clip on torch | {statistics.median(torch_ms):.1f} ms | {percentile(torch_ms, 95):.1f} ms |")
    print(f"| bare query over {args.synthetic:,} synthetic products | {statistics.median(big_ms):.1f} ms | {percentile(big_ms, 95):.1f} ms |")
    print(f"| cold start (process start → first 200 on GET /, index + model loaded) | {cold:.2f} s | |")


if __name__ == "__main__":
    main()
