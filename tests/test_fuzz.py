"""Property-based tests: whatever bytes or JSON arrive, the answer is an image or a clear 4xx JSON error.

Image decoding is fuzzed directly (random bytes, truncations, forged headers) and through remove_bg (images
served by a local origin); JSON bodies are fuzzed against both functions through their test clients.
"""

from __future__ import annotations

import io
import json
import struct
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from conftest import encode, load_function
from garment_search.errors import PayloadTooLarge, ServiceError, UnsupportedImage
from garment_search.images import decode_image

MAX_PIXELS = 40_000_000
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


def small_photo(seed: int = 0) -> Image.Image:
    im = Image.new("RGB", (48, 64), (200, 120, 150))
    im.paste((30 + seed % 200, 60, 90), (10, 10, 38, 50))
    return im


JPEG = encode(small_photo(), "JPEG", quality=90)
PNG = encode(small_photo(), "PNG")


def decodes_or_refuses(data: bytes) -> None:
    """The one allowed outcome set of decode_image: an RGB image, or a 413/415 ServiceError."""
    try:
        img = decode_image(data, MAX_PIXELS)
    except (UnsupportedImage, PayloadTooLarge) as exc:
        assert exc.status in (413, 415) and exc.message
        return
    assert img.rgb.mode == "RGB" and img.rgb.width > 0 and img.rgb.height > 0


@FUZZ
@given(st.binary(max_size=4096))
def test_random_bytes(data):
    decodes_or_refuses(data)


@FUZZ
@given(st.sampled_from([JPEG, PNG, encode(small_photo(), "GIF"), encode(small_photo(), "WEBP"),
                        encode(small_photo(), "TIFF"), encode(small_photo(), "BMP")]), st.data())
def test_truncated_and_corrupted_images(original, data):
    cut = data.draw(st.integers(0, len(original)))
    blob = bytearray(original[:cut])
    for _ in range(data.draw(st.integers(0, 4))):  # flip a few bytes too
        if blob:
            i = data.draw(st.integers(0, len(blob) - 1))
            blob[i] = data.draw(st.integers(0, 255))
    decodes_or_refuses(bytes(blob))


def png_with_header(width: int, height: int, depth: int = 8, colour: int = 2) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    chunk = lambda kind, body: (struct.pack(">I", len(body)) + kind + body  # noqa: E731
                                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


@FUZZ
@given(st.integers(0, 2**31 - 1), st.integers(0, 2**31 - 1))
def test_headers_announcing_any_dimensions(width, height):
    """Decompression bombs are refused from the header, before any pixel is allocated."""
    try:
        decode_image(png_with_header(width, height), MAX_PIXELS)
    except PayloadTooLarge:
        assert width * height > MAX_PIXELS
    except UnsupportedImage:
        pass


@FUZZ
@given(st.integers(1, 65535), st.integers(1, 65535))
def test_gif_and_jpeg_headers_announcing_huge_sizes(width, height):
    gif = b"GIF89a" + struct.pack("<HH", width, height) + b"\x00\x00\x00;"
    sof = b"\xff\xd8\xff\xc0\x00\x11\x08" + struct.pack(">HH", height, width) + b"\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01\xff\xd9"
    for blob in (gif, sof):
        with pytest.raises(ServiceError) as info:
            decode_image(blob, MAX_PIXELS)
        assert info.value.status in (413, 415)


@FUZZ
@given(st.sampled_from(["L", "LA", "P", "RGBA", "CMYK", "I;16", "I", "F", "1", "YCbCr"]),
       st.sampled_from(["PNG", "TIFF", "JPEG", "WEBP", "GIF", "BMP"]), st.integers(1, 8))
def test_modes_formats_and_orientations(mode, fmt, orientation):
    im = small_photo().convert(mode) if mode not in ("I;16",) else small_photo().convert("I").convert("I;16")
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    try:
        im.save(buf, format=fmt, exif=exif.tobytes()) if fmt in ("JPEG", "PNG", "WEBP", "TIFF") else im.save(buf, format=fmt)
    except (OSError, ValueError, KeyError):
        return  # Pillow cannot write this mode in this format: nothing to decode
    try:
        Image.open(io.BytesIO(buf.getvalue())).load()
    except OSError:  # Pillow writes some files it cannot read back (YCbCr TIFF): a clear 415, not a crash
        with pytest.raises(UnsupportedImage):
            decode_image(buf.getvalue(), MAX_PIXELS)
        return
    out = decode_image(buf.getvalue(), MAX_PIXELS)
    expected = (64, 48) if orientation >= 5 and fmt in ("JPEG", "PNG", "WEBP", "TIFF") else (48, 64)
    assert out.rgb.mode == "RGB" and out.size in (expected, (48, 64))


# ---- JSON bodies against both functions ------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=20,
)
BODIES = (
    JSON_VALUES.map(lambda v: json.dumps(v).encode())
    | st.fixed_dictionaries({}, optional={"url": JSON_VALUES, "keep": JSON_VALUES, "text": JSON_VALUES,
                                          "n": JSON_VALUES}).map(lambda v: json.dumps(v).encode())
    | st.binary(max_size=200)
    | st.integers(1, 200_000).map(lambda depth: b"[" * depth + b"]" * depth)
    | st.integers(1, 200_000).map(lambda depth: b'{"a":' * depth + b"1" + b"}" * depth)
    | st.sampled_from([b"\xff\xfe{\x00}\x00", b'{"text": "\xe9t\xe9"}', b"", b"{" * 70_000, b'{"text": "' + b"a" * 70_000 + b'"}'])
)


@pytest.fixture(scope="module")
def clients():
    rb = load_function("functions/remove_bg/main.py", "remove_bg")
    se = load_function("functions/search/main.py", "search")
    return {"remove_bg": rb.app.test_client(), "search": se.app.test_client()}


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=BODIES, service=st.sampled_from(["remove_bg", "search"]),
       content_type=st.sampled_from(["application/json", "text/plain", "application/octet-stream", None]))
def test_json_bodies_never_5xx(clients, body, service, content_type):
    headers = {"content-type": content_type} if content_type else {}
    resp = clients[service].post("/", data=body, headers=headers)
    assert resp.status_code < 500 or resp.status_code in (502, 504), resp.get_data()[:300]
    if resp.status_code != 200:
        assert resp.mimetype == "application/json"
        err = resp.get_json()
        assert set(err) == {"error"} and err["error"] and "Traceback" not in err["error"]


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from([JPEG, PNG, encode(small_photo(), "GIF"), png_with_header(70_000, 70_000)]), st.data())
def test_remove_bg_on_fuzzed_origin_content(clients, httpserver, original, data):
    """Whatever the origin sends, remove_bg answers a JPEG of the decoded size or a 4xx JSON error."""
    cut = data.draw(st.integers(0, len(original)))
    blob = original[:cut] + data.draw(st.binary(max_size=16))
    httpserver.clear()
    httpserver.expect_request("/img").respond_with_data(blob, content_type="image/jpeg")
    resp = clients["remove_bg"].post("/", json={"url": httpserver.url_for("/img")})
    if resp.status_code == 200:
        assert resp.mimetype == "image/jpeg"
        assert Image.open(io.BytesIO(resp.data)).size == decode_image(blob, MAX_PIXELS).size
    else:
        assert resp.status_code in (413, 415) and set(resp.get_json()) == {"error"}
