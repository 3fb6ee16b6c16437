"""remove_bg over real HTTP: the Functions Framework production server in a subprocess, photos from a local origin."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import requests
from PIL import Image

from conftest import REPO, decode_answer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_function(source: str, target: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    """Start ``functions-framework`` (gunicorn, threads) on a free port; wait until it answers."""
    port = free_port()
    cmd = [str(Path(sys.executable).parent / "functions-framework"), "--source", source, "--target", target,
           "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(cmd, cwd=REPO, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            requests.get(base, timeout=30)
            return proc, base
        except requests.ConnectionError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{target} did not start")


@pytest.fixture(scope="module")
def remove_bg_server():
    proc, base = start_function("functions/remove_bg/main.py", "remove_bg", {"ALLOW_PRIVATE_URLS": "1"})
    yield base
    proc.terminate()
    proc.wait(10)


def test_seed_curl_request_over_http(remove_bg_server, httpserver, catalogue):
    """The README's curl: POST {"url": …/1.jpg} → JPEG of the same size."""
    photo = catalogue[sorted(catalogue)[0]][0]
    httpserver.expect_request("/1.jpg").respond_with_data(photo.read_bytes(), content_type="image/jpeg")
    resp = requests.post(remove_bg_server, json={"url": httpserver.url_for("/1.jpg")}, timeout=60)
    assert resp.status_code == 200 and resp.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(resp.content)).size == Image.open(photo).size


def test_concurrent_requests_all_answer(remove_bg_server, httpserver, catalogue):
    photos = [paths[0] for paths in list(catalogue.values())[:6]]
    for i, p in enumerate(photos):
        httpserver.expect_request(f"/c{i}.jpg").respond_with_data(p.read_bytes(), content_type="image/jpeg")

    def call(i: int) -> tuple[int, tuple[int, int]]:
        r = requests.post(remove_bg_server, json={"url": httpserver.url_for(f"/c{i}.jpg")}, timeout=120)
        return r.status_code, Image.open(io.BytesIO(r.content)).size

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(call, range(len(photos))))
    assert results == [(200, Image.open(p).size) for p in photos]


def test_errors_over_http_are_json(remove_bg_server):
    r = requests.post(remove_bg_server, data=b"{not json", headers={"content-type": "application/json"}, timeout=30)
    assert r.status_code == 400 and r.headers["content-type"].startswith("application/json") and "error" in r.json()
    r = requests.put(remove_bg_server, json={"url": "http://example.com"}, timeout=30)
    assert r.status_code == 405 and "error" in r.json()


@pytest.mark.slow
def test_every_sample_photo_keeps_its_size_and_black_background(client, httpserver, catalogue):
    """Every catalogue photo through the function: same size; the answer is the cut-out (mask pixels unchanged,
    everything else black) up to JPEG noise."""
    from garment_search.images import load_image_file
    from garment_search.segmentation import cut_out, load_segmenter

    segmenter = load_segmenter()
    for product, photos in catalogue.items():
        for photo in photos:
            path = f"/{product}/{photo.name}"
            httpserver.expect_request(path).respond_with_data(photo.read_bytes(), content_type="image/jpeg")
            resp = client.post("/", json={"url": httpserver.url_for(path)})
            assert resp.status_code == 200, (photo, resp.get_data(as_text=True))
            out = np.asarray(Image.open(io.BytesIO(resp.get_data())).convert("RGB")).astype(int)
            expected = cut_out(load_image_file(photo), segmenter)
            assert out.shape == expected.rgb.shape, photo
            assert (expected.rgb[~expected.mask] == 0).all()
            original = np.asarray(Image.open(photo).convert("RGB"))
            assert (expected.rgb[expected.mask] == original[expected.mask]).all()
            diff = np.abs(out - expected.rgb.astype(int)).max(axis=2)
            assert np.percentile(diff, 99) <= 40 and diff.mean() < 3, photo
            background = out[~expected.mask].max(axis=-1) if (~expected.mask).any() else np.zeros(1)
            assert np.median(background) <= 2, photo


def catalogue_photos(catalogue, product_prefix: str, suffix: str) -> list:
    return [p for name, photos in catalogue.items() if name.startswith(product_prefix)
            for p in photos if p.name.endswith(suffix)]


@pytest.mark.parametrize("prefix,suffix", [("unlined--purple", "-5.jpg"), ("unlined--turquoise", "-13.jpg")])
def test_size_charts_answer_all_black(client, httpserver, catalogue, prefix, suffix):
    """The catalogue's size charts (a drawn figure, tables, text: no garment) answer an all-black JPEG."""
    (chart,) = catalogue_photos(catalogue, prefix, suffix)
    httpserver.expect_request("/chart.jpg").respond_with_data(chart.read_bytes(), content_type="image/jpeg")
    out = decode_answer(client.post("/", json={"url": httpserver.url_for("/chart.jpg")}))
    assert out.shape[:2] == Image.open(chart).size[::-1]
    assert out.max() <= 8  # black up to JPEG noise


@pytest.mark.parametrize("prefix,suffix", [("light-blue-point-collar", "-12.jpg"), ("onion-skin", "-5.jpg")])
def test_garment_close_up_keeps_the_garment(client, httpserver, catalogue, prefix, suffix):
    """A detail shot where the garment fills the frame must not lose its mask: the shirt did before close-up
    training, the flat knit sweater before v6 (trained at full resolution, every layer)."""
    (photo,) = catalogue_photos(catalogue, prefix, suffix)
    httpserver.expect_request("/close.jpg").respond_with_data(photo.read_bytes(), content_type="image/jpeg")
    out = decode_answer(client.post("/", json={"url": httpserver.url_for("/close.jpg")}))
    assert (out.max(axis=2) > 30).mean() > 0.2
