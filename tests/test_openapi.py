"""docs/openapi.yaml stays true: valid OpenAPI 3, the code's limits and choices, and what the functions answer.

Two layers: hand-picked requests (every documented status that a request alone can cause) validated against the
description, then schemathesis generating requests from the description against both functions served by the
production server (gunicorn), bounded in examples and time.
"""

from __future__ import annotations

import json

import jsonschema
import pytest
import requests
import schemathesis
import yaml
from hypothesis import HealthCheck, settings
from openapi_spec_validator import validate

from conftest import REPO, load_function
from garment_search import errors
from garment_search.segmentation import DEFAULT_KEEP, KEEP_CHOICES
from test_remove_bg_http import start_function

SPEC_PATH = REPO / "docs" / "openapi.yaml"
SPEC = yaml.safe_load(SPEC_PATH.read_text())
OPERATIONS = {"/remove_bg": "remove_bg", "/search": "search"}


def resolve(node, spec=SPEC):
    """The node with every local ``$ref`` replaced by its target (the description has no cycles)."""
    if isinstance(node, dict):
        if "$ref" in node:
            target = spec
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            return resolve(target, spec)
        return {k: resolve(v, spec) for k, v in node.items()}
    if isinstance(node, list):
        return [resolve(v, spec) for v in node]
    return node


def assert_conforms(path: str, method: str, status: int, content_type: str, body: bytes, headers=None) -> None:
    if method not in SPEC["paths"][path]:  # undocumented methods: 405 with the documented Allow header and error
        assert status == 405 and (headers or {}).get("Allow") == "GET, POST" and "error" in json.loads(body)
        return
    responses = resolve(SPEC["paths"][path][method]["responses"])
    assert str(status) in responses, f"{method.upper()} {path} answered an undocumented {status}: {body[:200]!r}"
    content = responses[str(status)]["content"]
    media = content_type.split(";")[0].strip()
    assert media in content, f"{status} came as {media}, documented {list(content)}"
    if media == "application/json":
        jsonschema.validate(json.loads(body), content[media]["schema"])
    for name, header in responses[str(status)].get("headers", {}).items():
        jsonschema.validate((headers or {}).get(name), header["schema"])


def test_description_is_valid_openapi():
    validate(SPEC)


def test_description_matches_the_code():
    schemas = SPEC["components"]["schemas"]
    assert schemas["Keep"]["enum"] == list(KEEP_CHOICES) and schemas["Keep"]["default"] == DEFAULT_KEEP
    search = load_function("functions/search/main.py", "search").module
    text, n = schemas["SearchRequest"]["properties"]["text"], schemas["SearchRequest"]["properties"]["n"]
    assert (text["maxLength"], n["maximum"], n["default"]) == (search.MAX_TEXT, search.MAX_N, search.DEFAULT_N)
    statuses = {cls.status for cls in vars(errors).values()
                if isinstance(cls, type) and issubclass(cls, errors.ServiceError) and cls is not errors.ServiceError}
    assert statuses <= {int(s) for s in SPEC["paths"]["/remove_bg"]["post"]["responses"]}


@pytest.fixture(scope="module")
def servers():
    """Both functions under gunicorn; remove_bg with the address check on and short fetch limits."""
    rb, rb_base = start_function("functions/remove_bg/main.py", "remove_bg", {
        "ALLOW_PRIVATE_URLS": "0", "FETCH_CONNECT_TIMEOUT": "1", "FETCH_TOTAL_TIMEOUT": "3"})
    se, se_base = start_function("functions/search/main.py", "search")
    yield {"/remove_bg": rb_base.rstrip("/"), "/search": se_base.rstrip("/")}
    for proc in (rb, se):
        proc.terminate()
        proc.wait(10)


CASES = [
    ("/remove_bg", "get", None),
    ("/remove_bg", "post", {"url": "file:///etc/passwd"}),
    ("/remove_bg", "post", {"url": "http://127.0.0.1/x.jpg"}),
    ("/remove_bg", "post", {"url": "https://example.com/a.jpg", "keep": "hat"}),
    ("/remove_bg", "post", {"keep": "product"}),
    ("/remove_bg", "post", [1, 2]),
    ("/remove_bg", "post", {"url": "x" * 70_000}),
    ("/remove_bg", "put", {}),
    ("/search", "get", None),
    ("/search", "post", {"text": "pastel coloured tunic", "n": 3}),
    ("/search", "post", {"text": "tunic"}),
    ("/search", "post", {"text": " "}),
    ("/search", "post", {"text": "tunic", "n": 0}),
    ("/search", "post", {"text": "tunic", "n": True}),
    ("/search", "post", "tunic"),
    ("/search", "delete", None),
]


@pytest.mark.parametrize("path,method,body", CASES, ids=[f"{m} {p} {json.dumps(b)[:30]}" for p, m, b in CASES])
def test_answers_conform(servers, path, method, body):
    url = servers[path] + path
    resp = requests.request(method, url, data=None if body is None else json.dumps(body),
                            headers={"content-type": "application/json"}, timeout=30)
    assert_conforms(path, method, resp.status_code, resp.headers["content-type"], resp.content, resp.headers)
    if path == "/search" and method == "post" and resp.status_code == 200:
        assert len(resp.json()) == body.get("n", 5)


SCHEMA = schemathesis.openapi.from_path(SPEC_PATH)


@SCHEMA.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_schemathesis(case, servers):
    """Generated requests: every answer is documented and conforms; nothing crashes (500) or hangs."""
    response = case.call(base_url=servers[case.path], timeout=30)
    assert response.status_code != 500, response.text
    headers = {k.title(): v[0] if isinstance(v, list) else v for k, v in response.headers.items()}
    assert_conforms(case.path, case.method.lower(), response.status_code,
                    headers.get("Content-Type", ""), response.content, headers)
