"""Benchmark remove_bg: cold start, end-to-end HTTP latency and the bare model call, in one run.

    .venv/bin/python -m bench.remove_bg [--photos 40] [--model garment]

Starts the function with the production server (functions-framework → gunicorn, threads) on a free port and a
local static origin for the sample photos; prints a markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

from bench.machine import machine_line
from garment_search.catalogue import product_photos, sample_dir
from garment_search.images import load_image_file
from garment_search.segmentation import cut_out, load_segmenter

REPO = Path(__file__).resolve().parent.parent


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def serve_directory(root: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


def start_function(source: str, target: str, port: int, env: dict[str, str]) -> tuple[subprocess.Popen, float]:
    """Start the function and return (process, seconds from process start to its first 200 answer)."""
    cmd = [str(Path(sys.executable).parent / "functions-framework"), "--source", source, "--target", target,
           "--host", "127.0.0.1", "--port", str(port)]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            if requests.get(f"http://127.0.0.1:{port}/", timeout=60).status_code == 200:
                return proc, time.perf_counter() - start
        except requests.ConnectionError:
            time.sleep(0.05)
        if proc.poll() is not None:
            raise RuntimeError(f"{target} exited with {proc.returncode}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=int, default=40, help="how many sample photos (spread over products)")
    ap.add_argument("--model", default=os.environ.get("SEGMENTATION_MODEL", "garment"))
    ap.add_argument("--port", type=int, default=5090)
    args = ap.parse_args()

    root = sample_dir()
    photos = [p for paths in product_photos(root).values() for p in paths]
    photos = photos[:: max(1, len(photos) // args.photos)][: args.photos]
    origin, origin_url = serve_directory(root)
    proc, cold = start_function("functions/remove_bg/main.py", "remove_bg", args.port,
                                {"ALLOW_PRIVATE_URLS": "1", "SEGMENTATION_MODEL": args.model})
    try:
        url = f"http://127.0.0.1:{args.port}/"
        first = requests.post(url, json={"url": f"{origin_url}/{photos[0].relative_to(root)}"}, timeout=60)
        first.raise_for_status()
        segmenter = load_segmenter(args.model)
        http_s, bare_s = [], []
        for photo in photos:
            t = time.perf_counter()
            r = requests.post(url, json={"url": f"{origin_url}/{photo.relative_to(root)}"}, timeout=60)
            http_s.append(time.perf_counter() - t)
            r.raise_for_status()
            image = load_image_file(photo)
            t = time.perf_counter()
            cut_out(image, segmenter)
            bare_s.append(time.perf_counter() - t)
    finally:
        proc.terminate()
        origin.shutdown()
    p50, p95 = statistics.median(http_s), percentile(http_s, 95)
    b50, b95 = statistics.median(bare_s), percentile(bare_s, 95)
    print(f"model {segmenter.identity}, {len(photos)} sample photos, {machine_line()}")
    print("| measure | p50 | p95 |")
    print("|---|---|---|")
    print(f"| end-to-end HTTP (fetch + decode + segment + encode) | {p50 * 1000:.0f} ms | {p95 * 1000:.0f} ms |")
    print(f"| bare model call (cut_out: inference + full-res mask) | {b50 * 1000:.0f} ms | {b95 * 1000:.0f} ms |")
    print(f"| ratio HTTP / bare | {p50 / b50:.2f} | {p95 / b95:.2f} |")
    print(f"| cold start (process start → first 200 on GET /, model loaded) | {cold:.2f} s | |")


if __name__ == "__main__":
    main()
