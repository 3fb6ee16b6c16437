"""search: POST {"text": ..., "n": ...} → the n products whose garment-only photos best match the text.

Run locally:  functions-framework --source functions/search/main.py --target search --port 5001 --debug
"""

from __future__ import annotations

import os
import threading

import flask
import functions_framework

from garment_search.colours import colour_names_on
from garment_search.config import REPO_ROOT, Settings
from garment_search.embedding import EmbedderUnavailable
from garment_search.embedding.querybank import as_served, base_encoder
from garment_search.embedding.text_onnx import load_text_encoder
from garment_search.errors import BadRequest, Unavailable
from garment_search.feedback import query_feedback
from garment_search.http import json_response, read_json_object, request_scope, require_post
from garment_search.index_file import IndexFile, InvalidIndex
from garment_search.search import Searcher

INDEX_PATH = os.environ.get("INDEX_PATH") or str(REPO_ROOT / "index" / "sample.npz")
DEFAULT_N, MAX_N, MAX_TEXT = 5, 1000, 1000
MAX_REQUEST_BYTES = Settings.from_env().max_request_bytes

_searcher: Searcher | None = None
_lock = threading.Lock()


def searcher() -> Searcher:
    """Index and text model, loaded once per process (first request or GET /); 503 if unusable."""
    global _searcher
    with _lock:
        if _searcher is None:
            try:
                _searcher = Searcher(IndexFile.load(INDEX_PATH), as_served(load_text_encoder()),
                                     feedback=query_feedback())
            except (ValueError, EmbedderUnavailable, OSError) as exc:  # InvalidIndex, a bad channel or feedback setting
                raise Unavailable(f"The search index is unusable: {exc}") from None
        return _searcher


def parse_request(body: dict) -> tuple[str, int]:
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise BadRequest('The body must have a "text" string with something in it.')
    if len(text) > MAX_TEXT:
        raise BadRequest(f'"text" must be at most {MAX_TEXT} characters.')
    n = body.get("n", DEFAULT_N)
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_N:
        raise BadRequest(f'"n" must be an integer from 1 to {MAX_N}.')
    return text.strip(), n


@functions_framework.http
def search(request: flask.Request) -> flask.Response:
    with request_scope("search", request) as log:
        if request.method == "GET":
            s = searcher()
            encoder = base_encoder(s.embedder)
            reader = getattr(encoder, "tower_text", None)  # how our towers read a query (query_vocabulary.py)
            log["response"] = json_response({
                "service": "search", "usage": 'POST {"text": "pastel coloured tunic", "n": 5}',
                "default_n": DEFAULT_N, "max_n": MAX_N, "products": len(s.products), "model": s.products.model,
                "text_encoder": type(encoder).__name__,
                "channel_weights": getattr(s.embedder, "weights", {}),
                "querybank_weight": getattr(s.embedder, "weight", 0.0),
                "query_vocabulary_view": reader is not None and reader.vocabulary is not None,
                "query_inflections": bool(reader and reader.vocabulary and reader.inflections),
                "query_completion": bool(reader and reader.vocabulary and reader.completion),
                "query_synonyms": bool(reader and reader.vocabulary and reader.synonyms),
                "query_colour_names": colour_names_on(),
                "query_feedback_top": s.feedback.top if s.feedback else 0,
                "query_feedback_weight": s.feedback.weight if s.feedback else 0.0,
            })
            return log["response"]
        require_post(request)
        text, n = parse_request(read_json_object(request, MAX_REQUEST_BYTES))
        log.update(text=text[:100], n=n)
        hits = searcher().search(text, n)
        log["response"] = json_response([h.to_json() for h in hits])
    return log["response"]
