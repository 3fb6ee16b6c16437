"""Graceful degradation: beyond capacity requests queue, then get a JSON 503; slow origins get a JSON 504."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from conftest import encode
from garment_search.http import ModelGate


def test_requests_beyond_capacity_queue_then_503(remove_bg, httpserver, model_photo, monkeypatch):
    """One model slot, 0.3 s queue budget, 1 s per cut-out: of 4 simultaneous requests one is served, the
    others wait their budget and get a JSON 503; the process keeps serving afterwards."""
    assert remove_bg.app.test_client().get("/").status_code == 200  # the model loaded: the clock below is the queue's
    real_cut_out = remove_bg.module.cut_out
    release = threading.Event()

    def slow_cut_out(*args, **kwargs):
        release.wait(1.0)
        return real_cut_out(*args, **kwargs)

    monkeypatch.setattr(remove_bg.module, "cut_out", slow_cut_out)
    monkeypatch.setattr(remove_bg.module, "GATE", ModelGate(1, 0.3))
    httpserver.expect_request("/p.jpg").respond_with_data(encode(model_photo, "JPEG"), content_type="image/jpeg")
    url = httpserver.url_for("/p.jpg")

    def call(_):
        start = time.monotonic()
        resp = remove_bg.app.test_client().post("/", json={"url": url})
        return resp.status_code, resp.mimetype, resp.get_json(silent=True), time.monotonic() - start

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(call, range(4)))
    statuses = sorted(r[0] for r in results)
    assert statuses.count(200) >= 1 and set(statuses) <= {200, 503}, statuses
    for status, mimetype, body, seconds in results:
        if status == 503:
            assert mimetype == "application/json" and "busy" in body["error"]
            assert seconds < 1.0  # refused after the queue budget, not after the slow call
    release.set()
    assert remove_bg.app.test_client().post("/", json={"url": url}).status_code == 200


def test_origin_over_time_budget_is_504_not_a_held_worker(client, httpserver, settings):
    """An origin that trickles bytes forever is cut at the total budget (watchdog), answered with JSON 504."""
    from werkzeug import Response

    def trickle(_request):
        def body():
            for _ in range(1000):
                time.sleep(0.1)
                yield b"\xff"
        return Response(body(), content_type="image/jpeg")

    httpserver.expect_request("/slow.jpg").respond_with_handler(trickle)
    settings(total_timeout_s=1.0)
    start = time.monotonic()
    resp = client.post("/", json={"url": httpserver.url_for("/slow.jpg")})
    assert resp.status_code == 504 and resp.mimetype == "application/json"
    assert time.monotonic() - start < 3.0
