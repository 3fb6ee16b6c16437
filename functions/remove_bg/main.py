"""remove_bg: POST {"url": ..., "keep": ...} → the photo as JPEG with everything but the garment black.

Run locally:  functions-framework --source functions/remove_bg/main.py --target remove_bg --port 5000 --debug
"""

from __future__ import annotations

import flask
import functions_framework

from garment_search.config import Settings
from garment_search.errors import BadRequest
from garment_search.fetch import fetch_url
from garment_search.http import ModelGate, json_response, read_json_object, request_scope, require_post
from garment_search.images import decode_image, encode_jpeg
from garment_search.segmentation import DEFAULT_KEEP, KEEP_CHOICES, cut_out, load_segmenter
import garment_search.segmentation.sessions  # noqa: F401,E402  onnxruntime + rembg at cold start, not in a request

SETTINGS = Settings.from_env()
GATE = ModelGate(SETTINGS.inference_concurrency, SETTINGS.queue_timeout_s)


def describe() -> dict:
    """GET / answer: what this function is and which model it serves (loads the model: a warm-up probe)."""
    segmenter = load_segmenter(SETTINGS.segmentation_model)
    return {
        "service": "remove_bg",
        "usage": 'POST {"url": "https://…/photo.jpg", "keep": "product"} → image/jpeg',
        "keep": list(KEEP_CHOICES),
        "default_keep": DEFAULT_KEEP,
        "model": segmenter.identity,
    }


def parse_request(body: dict) -> tuple[str, str]:
    url = body.get("url")
    if not isinstance(url, str) or not url.strip():
        raise BadRequest('The body must have a "url" string (an http or https image URL).')
    keep = body.get("keep", DEFAULT_KEEP)
    if keep not in KEEP_CHOICES:
        raise BadRequest(f'"keep" must be one of: {", ".join(KEEP_CHOICES)}.')
    return url, keep


@functions_framework.http
def remove_bg(request: flask.Request) -> flask.Response:
    with request_scope("remove_bg", request) as log:
        if request.method == "GET":
            log["response"] = json_response(describe())
            return log["response"]
        require_post(request)
        url, keep = parse_request(read_json_object(request, SETTINGS.max_request_bytes))
        log["url"] = url[:200]
        image = decode_image(fetch_url(url, SETTINGS.fetch), SETTINGS.max_pixels)
        cutout = GATE.run(cut_out, image, load_segmenter(SETTINGS.segmentation_model), keep)
        log.update(size=image.size, kept=cutout.kept, garment_share=round(float(cutout.mask.mean()), 4))
        log["response"] = flask.Response(encode_jpeg(cutout.rgb, SETTINGS.jpeg_quality), mimetype="image/jpeg")
    return log["response"]
