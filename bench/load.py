"""Load test: both functions under the production server, 8 concurrent clients each, zero errors allowed.

    .venv/bin/python -m bench.load [--seconds 60] [--users 8]      # CI-sized run (not part of the tests)
    .venv/bin/python -m bench.load --seconds 600                    # the 10-minute soak

Starts remove_bg and search with functions-framework (gunicorn, threads), a static origin for the sample photos,
then runs locust headless once per function (remove_bg with sample photos, search with the evaluation queries
plus a random suffix, so most queries miss the cache). Prints latency percentiles, error counts and the
servers' resident memory after the first 10 s and at the end (a leak shows as growth). Exit 1 on any error or
on memory growth above 10%.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.machine import machine_line
from bench.remove_bg import REPO, serve_directory, start_function
from garment_search.catalogue import product_photos, sample_dir


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (gunicorn master + worker)."""
    pids = [pid] + [int(p) for p in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()]
    total = 0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total / 1024


def run_locust(user_class: str, users: int, seconds: int, env: dict[str, str], out: Path, pid: int) -> dict:
    samples: dict[str, float] = {}

    def sample() -> None:
        time.sleep(10)
        samples["after_10s"] = rss_mb(pid)

    threading.Thread(target=sample, daemon=True).start()
    cmd = [str(Path(sys.executable).parent / "locust"), "-f", str(REPO / "bench" / "locustfile.py"), user_class,
           "--headless", "-u", str(users), "-r", str(users), "-t", f"{seconds}s", "--csv", str(out / user_class),
           "--only-summary", "--loglevel", "WARNING"]
    subprocess.run(cmd, env={**os.environ, **env}, check=False, stdout=subprocess.DEVNULL)
    samples["end"] = rss_mb(pid)
    with open(out / f"{user_class}_stats.csv") as fh:
        row = next(r for r in csv.DictReader(fh) if r["Name"] != "Aggregated")
    return {
        "requests": int(row["Request Count"]), "failures": int(row["Failure Count"]),
        "rps": float(row["Requests/s"]), "p50": float(row["50%"]), "p95": float(row["95%"]), "p99": float(row["99%"]),
        "rss_10s": samples.get("after_10s", float("nan")), "rss_end": samples["end"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--users", type=int, default=8)
    args = ap.parse_args()

    photos_root = sample_dir()
    photos = [p for paths in product_photos(photos_root).values() for p in paths]
    origin, origin_url = serve_directory(photos_root)
    urls = [f"{origin_url}/{p.relative_to(photos_root).as_posix()}" for p in photos]
    queries = [q["text"] for q in json.loads((REPO / "training/embedding/sample_queries.json").read_text())["queries"]]

    production = {"MALLOC_ARENA_MAX": os.environ.get("MALLOC_ARENA_MAX", "2")}  # as in the containers
    rb, rb_cold = start_function("functions/remove_bg/main.py", "remove_bg", 5310,
                                 {**production, "ALLOW_PRIVATE_URLS": "1"})
    se, se_cold = start_function("functions/search/main.py", "search", 5311, production)
    out = Path(tempfile.mkdtemp(prefix="load-"))
    env = {"LOAD_REMOVE_BG": "http://127.0.0.1:5310", "LOAD_SEARCH": "http://127.0.0.1:5311",
           "LOAD_PHOTOS": json.dumps(urls), "LOAD_QUERIES": json.dumps(queries)}
    try:
        results = {
            "remove_bg": run_locust("RemoveBgUser", args.users, args.seconds, env, out, rb.pid),
            "search": run_locust("SearchUser", args.users, args.seconds, env, out, se.pid),
        }
    finally:
        for proc in (rb, se):
            proc.terminate()
            proc.wait(10)
        origin.shutdown()

    print(f"{args.users} clients per function, {args.seconds} s each, {machine_line()}\n")
    print("| function | requests | errors | req/s | p50 ms | p95 ms | p99 ms | RSS after 10 s | RSS at end | growth |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    failed = False
    for name, r in results.items():
        growth = (r["rss_end"] - r["rss_10s"]) / r["rss_10s"] * 100
        failed |= r["failures"] > 0 or growth > 10
        print(f"| {name} | {r['requests']} | {r['failures']} | {r['rps']:.1f} | {r['p50']:.0f} | {r['p95']:.0f} | "
              f"{r['p99']:.0f} | {r['rss_10s']:.0f} MB | {r['rss_end']:.0f} MB | {growth:+.1f}% |")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
