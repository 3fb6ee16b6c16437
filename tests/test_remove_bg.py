"""remove_bg through the Functions Framework test client, with images served by a real local HTTP origin."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image
from werkzeug import Response

from conftest import decode_answer, encode


def post(client, body):
    return client.post("/", json=body)


def serve(httpserver, path: str, data: bytes, content_type: str = "application/octet-stream") -> str:
    httpserver.expect_request(path).respond_with_data(data, content_type=content_type)
    return httpserver.url_for(path)


def assert_json_error(resp, status: int) -> str:
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == "application/json"
    body = resp.get_json()
    assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"]
    assert "Traceback" not in body["error"]
    return body["error"]


def assert_garment_cutout(out: np.ndarray, original: np.ndarray) -> None:
    """Some pixels kept close to the original, a large share exactly black (the backdrop)."""
    assert out.shape == original.shape
    black = out.max(axis=2) <= 8
    assert 0.2 < black.mean() < 0.98, f"black share {black.mean():.3f}"
    kept = ~black & (original.max(axis=2) > 40)
    diff = np.abs(out.astype(int) - original.astype(int)).max(axis=2)
    assert np.median(diff[kept]) <= 6  # garment pixels pass through (JPEG noise only)


# --- success: every input format -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fmt,mode,params",
    [
        ("JPEG", "RGB", {"quality": 95}),
        ("PNG", "RGB", {}),
        ("WEBP", "RGB", {"quality": 95}),
        ("BMP", "RGB", {}),
        ("TIFF", "RGB", {}),
        ("JPEG", "L", {"quality": 95}),
        ("PNG", "P", {}),
        ("JPEG", "CMYK", {"quality": 95}),
    ],
)
def test_formats_and_modes_answer_same_size_jpeg(client, httpserver, model_photo, fmt, mode, params):
    im = model_photo.convert(mode)
    url = serve(httpserver, f"/photo.{fmt.lower()}", encode(im, fmt, **params), "text/plain")  # content-type ignored
    out = decode_answer(post(client, {"url": url}))
    reference = np.asarray(Image.open(io.BytesIO(encode(im, fmt, **params))).convert("RGB"))
    assert out.shape == (model_photo.height, model_photo.width, 3)
    assert_garment_cutout(out, reference)


def test_png_transparent_pixels_are_background(client, httpserver, model_photo):
    rgba = model_photo.convert("RGBA")
    alpha = np.full((rgba.height, rgba.width), 255, np.uint8)
    alpha[:, : rgba.width // 2] = 0  # left half transparent
    rgba.putalpha(Image.fromarray(alpha))
    out = decode_answer(post(client, {"url": serve(httpserver, "/a.png", encode(rgba, "PNG"))}))
    assert out[:, : rgba.width // 2 - 2].max() <= 8


def test_animated_gif_uses_first_frame(client, httpserver, model_photo):
    frames = [model_photo.quantize(64), Image.new("RGB", model_photo.size, (0, 0, 0)).quantize(64)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    out = decode_answer(post(client, {"url": serve(httpserver, "/anim.gif", data)}))
    assert out.shape == (model_photo.height, model_photo.width, 3)
    assert out.max() > 60  # the first frame (the photo), not the black second frame


def test_sixteen_bit_png_is_converted(client, httpserver, model_photo):
    grey = (np.asarray(model_photo.convert("L"), dtype=np.uint16) * 257).astype(np.uint16)
    im = Image.fromarray(grey)
    assert im.mode.startswith("I;16")
    out = decode_answer(post(client, {"url": serve(httpserver, "/16.png", encode(im, "PNG"))}))
    assert out.shape == (model_photo.height, model_photo.width, 3)


@pytest.mark.parametrize("orientation,swapped", [(1, False), (3, False), (6, True), (8, True)])
def test_exif_orientation_gives_displayed_size(client, httpserver, model_photo, orientation, swapped):
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(model_photo, "JPEG", quality=95, exif=exif.tobytes())
    out = decode_answer(post(client, {"url": serve(httpserver, f"/o{orientation}.jpg", data)}))
    w, h = model_photo.size
    assert out.shape[:2] == ((w, h) if swapped else (h, w))


def test_keep_garments_and_groups_accepted(client, httpserver, model_photo):
    url = serve(httpserver, "/k.jpg", encode(model_photo, "JPEG", quality=95))
    for keep in ("product", "garments", "upper", "lower", "one-piece"):
        out = decode_answer(post(client, {"url": url, "keep": keep}))
        assert out.shape == (model_photo.height, model_photo.width, 3)


def test_redirects_are_followed(client, httpserver, model_photo):
    serve(httpserver, "/final.jpg", encode(model_photo, "JPEG", quality=95))
    httpserver.expect_request("/hop").respond_with_response(
        Response(status=302, headers={"Location": httpserver.url_for("/final.jpg")})
    )
    decode_answer(post(client, {"url": httpserver.url_for("/hop")}))


def test_get_describes_the_function(client):
    resp = client.get("/")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["service"] == "remove_bg" and "@" in body["model"] and "product" in body["keep"]


# --- errors ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data,content_type",
    [(b"not json", "application/json"), (b"[1, 2]", "application/json"), (b"\xff\xfe\x00", "application/json"),
     (b"", "application/json"), (b"[" * 100_000 + b"]" * 100_000, "application/json")],
)
def test_body_not_a_json_object_is_400(client, data, content_type, remove_bg, monkeypatch):
    import dataclasses

    monkeypatch.setattr(remove_bg.module, "SETTINGS", dataclasses.replace(remove_bg.module.SETTINGS, max_request_bytes=1 << 20))
    assert_json_error(client.post("/", data=data, content_type=content_type), 400)


@pytest.mark.parametrize("body", [{}, {"url": None}, {"url": 42}, {"url": ["http://x"]}, {"url": "  "}])
def test_missing_or_non_string_url_is_400(client, body):
    assert_json_error(post(client, body), 400)


@pytest.mark.parametrize("url", ["ftp://example.com/a.jpg", "file:///etc/passwd", "gopher://x/", "data:image/png;base64,AA==", "example.com/a.jpg", "http://user:pw@example.com/a.jpg"])
def test_bad_scheme_or_credentials_is_400(client, url):
    assert_json_error(post(client, {"url": url}), 400)


def test_unknown_keep_is_400(client):
    assert "keep" in assert_json_error(post(client, {"url": "http://example.com/a.jpg", "keep": "shoes"}), 400)


def test_huge_request_body_is_413(client):
    assert_json_error(client.post("/", data=b'{"url": "' + b"a" * 200_000 + b'"}', content_type="application/json"), 413)


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_other_methods_are_405(client, method):
    assert_json_error(client.open("/", method=method, json={"url": "http://example.com"}), 405)


def test_loopback_refused_without_flag(client, httpserver, settings, model_photo):
    settings(allow_private=False)
    url = serve(httpserver, "/p.jpg", encode(model_photo, "JPEG"))
    assert "non-public" in assert_json_error(post(client, {"url": url}), 400)
    assert len(httpserver.log) == 0  # nothing was sent to the private address


@pytest.mark.parametrize("host", [
    "127.0.0.1", "127.1", "0x7f000001", "2130706433", "0177.0.0.1", "0", "[::1]", "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]", "0.0.0.0", "169.254.169.254", "10.0.0.1", "10.255.255.255", "192.168.1.1",
    "192.168.255.255", "172.16.0.1", "172.31.255.255", "100.64.0.1", "100.127.255.255", "[fe80::1]", "[febf::1]",
    "[fc00::1]", "[fd12:3456::1]", "224.0.0.1", "localhost", "127.0.0.1:8080", "[::1]:443",
])
def test_private_address_spellings_refused(client, settings, host):
    settings(allow_private=False)
    assert_json_error(post(client, {"url": f"http://{host}/latest/meta-data/"}), 400)


def test_public_looking_host_redirecting_to_loopback_refused(client, httpserver, settings, monkeypatch, model_photo):
    """origin.test resolves to an address the check treats as public; its redirect to 127.0.0.1 is refused."""
    import ipaddress

    from garment_search import fetch

    settings(allow_private=False)
    real_getaddrinfo, real_is_public = fetch.socket.getaddrinfo, fetch.is_public_address
    fake_public = ipaddress.ip_address("127.0.0.1")

    def getaddrinfo(host, port, *args, **kwargs):
        if host == "origin.test":
            return real_getaddrinfo("127.0.0.1", port, *args, **kwargs)
        return real_getaddrinfo(host, port, *args, **kwargs)

    calls = []

    def is_public(ip):  # only the first resolution (origin.test) is considered public
        calls.append(ip)
        return len(calls) == 1 and ip == fake_public or real_is_public(ip)

    monkeypatch.setattr(fetch.socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(fetch, "is_public_address", is_public)
    serve(httpserver, "/secret.jpg", encode(model_photo, "JPEG"))
    httpserver.expect_request("/r").respond_with_response(
        Response(status=302, headers={"Location": httpserver.url_for("/secret.jpg")})
    )
    url = f"http://origin.test:{httpserver.port}/r"
    assert "non-public" in assert_json_error(post(client, {"url": url}), 400)
    assert [entry[0].path for entry in httpserver.log] == ["/r"]


def test_too_many_redirects_is_502(client, httpserver):
    for i in range(7):
        httpserver.expect_request(f"/r{i}").respond_with_response(
            Response(status=302, headers={"Location": f"/r{i + 1}"})
        )
    assert "redirect" in assert_json_error(post(client, {"url": httpserver.url_for("/r0")}), 502)


def test_download_over_size_cap_is_413(client, httpserver, settings, model_photo):
    settings(max_bytes=10_000)
    assert_json_error(post(client, {"url": serve(httpserver, "/big.jpg", encode(model_photo, "JPEG", quality=95))}), 413)


def test_endless_body_is_cut_at_the_size_cap(client, httpserver, settings):
    """An origin streaming forever (no content-length) is cut at FETCH_MAX_BYTES: 413, not a held worker."""
    def endless(_request):
        def body():
            while True:
                yield b"\xff" * 65536
        return Response(body(), content_type="image/jpeg")

    httpserver.expect_request("/endless.jpg").respond_with_handler(endless)
    settings(max_bytes=1_000_000)
    assert_json_error(post(client, {"url": httpserver.url_for("/endless.jpg")}), 413)


def test_redirect_chain_ending_at_a_private_address_is_refused(client, httpserver, settings, monkeypatch):
    """public → public → 169.254.169.254: every hop is checked, not only the first."""
    import garment_search.fetch as fetch

    settings(allow_private=False)
    real = fetch.is_public_address
    monkeypatch.setattr(fetch, "is_public_address", lambda ip: str(ip) == "127.0.0.1" or real(ip))
    httpserver.expect_request("/a").respond_with_data("", status=302, headers={"Location": httpserver.url_for("/b")})
    httpserver.expect_request("/b").respond_with_data(
        "", status=301, headers={"Location": "http://169.254.169.254/latest/meta-data/"})
    assert_json_error(post(client, {"url": httpserver.url_for("/a")}), 400)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header announces ``width``×``height`` with a tiny (truncated) body: a decompression bomb."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = lambda kind, data: struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))  # noqa: E731
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def test_decompression_bomb_is_413(client, httpserver):
    assert_json_error(post(client, {"url": serve(httpserver, "/bomb.png", png_header_only(100_000, 100_000))}), 413)


@pytest.mark.parametrize("data", [b"hello, not an image", b"\x89PNG\r\n\x1a\n", b"", b"GIF89a"])
def test_not_an_image_is_415(client, httpserver, data):
    assert_json_error(post(client, {"url": serve(httpserver, "/x.jpg", data)}), 415)


def test_truncated_jpeg_is_415(client, httpserver, model_photo):
    data = encode(model_photo, "JPEG", quality=95)
    assert_json_error(post(client, {"url": serve(httpserver, "/t.jpg", data[: len(data) // 2])}), 415)


@pytest.mark.parametrize("status", [404, 500, 403])
def test_origin_error_status_is_502(client, httpserver, status):
    httpserver.expect_request("/gone.jpg").respond_with_data("nope", status=status)
    assert_json_error(post(client, {"url": httpserver.url_for("/gone.jpg")}), 502)


def test_unreachable_origin_is_502(client):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert_json_error(post(client, {"url": f"http://127.0.0.1:{port}/a.jpg"}), 502)


def test_slow_origin_is_504(client, httpserver, settings):
    import time

    settings(total_timeout_s=1.0)

    def trickle(_request):
        def body():
            for _ in range(40):
                yield b"\xff"
                time.sleep(0.1)

        return Response(body(), content_type="image/jpeg")

    httpserver.expect_request("/slow.jpg").respond_with_handler(trickle)
    start = time.monotonic()
    assert_json_error(post(client, {"url": httpserver.url_for("/slow.jpg")}), 504)
    assert time.monotonic() - start < 3.0
