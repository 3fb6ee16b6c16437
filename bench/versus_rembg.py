"""remove_bg side by side with rembg's own HTTP server (`rembg s`, u2netp weights), same photos, one run.

    python3.11 -m venv .venv-rembg && .venv-rembg/bin/pip install "rembg[cli]==2.0.86" onnxruntime==1.25.1
    .venv/bin/python -m bench.versus_rembg [--photos 24] [--rembg .venv-rembg/bin/rembg]

rembg's CLI extras pin an older huggingface_hub than our stack, hence its own virtual environment. Both
servers run locally: ours (functions-framework → gunicorn, production settings) fetches each photo from a
local static origin and answers a garment-only JPEG; `rembg s --no-ui` receives the same bytes by upload
(its URL endpoint refuses loopback origins) and answers a person cut-out PNG with alpha. Latency at
concurrency 1 (p50/p95) and throughput at concurrency 4, alternating servers so both see the same machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from bench.machine import machine_line
from bench.remove_bg import REPO, percentile, serve_directory, start_function
from garment_search.catalogue import product_photos, sample_dir
from garment_search.config import MODEL_CACHE_DIR


def start_rembg(binary: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "U2NET_HOME": str(MODEL_CACHE_DIR), "OMP_NUM_THREADS": str(os.cpu_count())}
    proc = subprocess.Popen([binary, "s", "--host", "127.0.0.1", "--port", str(port), "--no-ui", "--threads", "4"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/api", timeout=5).status_code == 200:
                return proc
        except requests.ConnectionError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("rembg s did not start")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=int, default=24)
    ap.add_argument("--rembg", default=str(REPO / ".venv-rembg" / "bin" / "rembg"))
    args = ap.parse_args()

    root = sample_dir()
    photos = [p for paths in product_photos(root).values() for p in paths][: args.photos]
    origin, origin_url = serve_directory(root)
    ours, _ = start_function("functions/remove_bg/main.py", "remove_bg", 5320,
                             {"ALLOW_PRIVATE_URLS": "1", "MALLOC_ARENA_MAX": "2"})
    theirs = start_rembg(args.rembg, 5321)

    def call_ours(photo: Path) -> None:
        url = f"{origin_url}/{photo.relative_to(root).as_posix()}"
        requests.post("http://127.0.0.1:5320/", json={"url": url}, timeout=120).raise_for_status()

    def call_theirs(photo: Path) -> None:
        requests.post("http://127.0.0.1:5321/api/remove", data={"model": "u2netp"},
                      files={"file": photo.read_bytes()}, timeout=120).raise_for_status()

    calls = {"remove_bg (ours: garment-only JPEG)": call_ours, "rembg s (u2netp: person PNG)": call_theirs}
    results: dict[str, dict[str, float]] = {name: {} for name in calls}
    try:
        for call in calls.values():  # warm-up: models loaded, first-request costs paid
            call(photos[0])
        latencies: dict[str, list[float]] = {name: [] for name in calls}
        for photo in photos:  # concurrency 1, alternating
            for name, call in calls.items():
                t = time.perf_counter()
                call(photo)
                latencies[name].append((time.perf_counter() - t) * 1000)
        for name, call in calls.items():  # concurrency 4
            t = time.perf_counter()
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(call, photos))
            results[name]["throughput"] = len(photos) / (time.perf_counter() - t)
            results[name]["p50"] = statistics.median(latencies[name])
            results[name]["p95"] = percentile(latencies[name], 95)
    finally:
        ours.terminate()
        theirs.terminate()
        origin.shutdown()

    print(f"{len(photos)} sample photos, {machine_line()}")
    print("| server | p50 (concurrency 1) | p95 (concurrency 1) | throughput (concurrency 4) |")
    print("|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['p50']:.0f} ms | {r['p95']:.0f} ms | {r['throughput']:.2f} photos/s |")


if __name__ == "__main__":
    main()
