"""What both HTTP functions share: JSON body parsing and validation, JSON errors, one log line per request,
and a bounded wait for the model (queue, then 503) so overload never piles up unbounded work.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import flask

from garment_search.errors import BadRequest, MethodNotAllowed, PayloadTooLarge, ServiceError, Unavailable

log = logging.getLogger("garment_search")
if not log.handlers:
    _handler = logging.StreamHandler(sys.stdout)
    _handler.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(_handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def json_response(payload: Any, status: int = 200) -> flask.Response:
    return flask.Response(json.dumps(payload, ensure_ascii=False), status=status, mimetype="application/json")


def error_response(status: int, message: str) -> flask.Response:
    resp = json_response({"error": message}, status)
    if status == 405:
        resp.headers["Allow"] = "GET, POST"
    return resp


def read_json_object(request: flask.Request, max_bytes: int) -> dict[str, Any]:
    """The request body as a JSON object; 413 past ``max_bytes``, 400 for anything that is not a JSON object."""
    length = request.content_length
    if length is not None and length > max_bytes:
        raise PayloadTooLarge(f"The request body is larger than {max_bytes} bytes.")
    raw = request.stream.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise PayloadTooLarge(f"The request body is larger than {max_bytes} bytes.")
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadRequest("The request body must be a JSON object (UTF-8).") from None
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    return body


def require_post(request: flask.Request) -> None:
    if request.method != "POST":
        raise MethodNotAllowed(f"Method {request.method} is not allowed; use POST with a JSON body.")


@contextmanager
def request_scope(service: str, request: flask.Request) -> Iterator[dict[str, Any]]:
    """Turn ServiceErrors into JSON errors, unexpected exceptions into a logged 500, and log one line.

    The body yields a dict for log fields; it sets ``fields["response"]`` to the flask response.
    """
    fields: dict[str, Any] = {"service": service, "method": request.method, "path": request.path}
    start = time.perf_counter()
    try:
        yield fields
    except ServiceError as exc:
        fields["response"] = error_response(exc.status, exc.message)
        fields["error"] = exc.message
    except Exception:  # noqa: BLE001 - the client gets a sentence, the log gets the traceback
        log.exception("unhandled error in %s", service)
        fields["response"] = error_response(500, "Internal error while handling the request.")
    resp: flask.Response = fields["response"]
    fields["status"] = resp.status_code
    fields["ms"] = round((time.perf_counter() - start) * 1000, 1)
    log.info(json.dumps({k: v for k, v in fields.items() if k != "response"}, ensure_ascii=False, default=str))


class ModelGate:
    """At most ``capacity`` concurrent model calls; others wait up to ``timeout_s`` then get a 503."""

    def __init__(self, capacity: int, timeout_s: float) -> None:
        self._sem = threading.BoundedSemaphore(capacity)
        self._timeout_s = timeout_s

    def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._sem.acquire(timeout=self._timeout_s):
            raise Unavailable("The service is busy; retry shortly.")
        try:
            return fn(*args, **kwargs)
        finally:
            self._sem.release()
