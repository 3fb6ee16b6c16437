"""Shared fixtures: the remove_bg app through the Functions Framework, local image origins, test photos."""

from __future__ import annotations

import dataclasses
import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

# Local origins listen on 127.0.0.1: lift the address check for the suite; tests of the check put it back.
os.environ.setdefault("ALLOW_PRIVATE_URLS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parent.parent

from garment_search.catalogue import product_photos, sample_dir  # noqa: E402


@pytest.fixture(scope="session")
def catalogue() -> dict[str, list[Path]]:
    root = sample_dir()
    if not root.is_dir():
        pytest.skip(f"sample catalogue not found at {root}")
    return product_photos(root)


@pytest.fixture(scope="session")
def model_photo(catalogue) -> Image.Image:
    """A catalogue photo of a model wearing a product, downsized to keep format tests fast."""
    first = catalogue[sorted(catalogue)[0]][0]
    im = Image.open(first).convert("RGB")
    return im.resize((im.width // 4, im.height // 4), Image.Resampling.BILINEAR)


def encode(im: Image.Image, fmt: str, **params) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **params)
    return buf.getvalue()


@dataclasses.dataclass
class LoadedFunction:
    app: object  # the Flask app the Functions Framework built
    module: object  # the function's source module (both sources are named main.py, so keep a handle)


def load_function(source: str, target: str) -> LoadedFunction:
    import sys

    import functions_framework

    app = functions_framework.create_app(target=target, source=str(REPO / source))
    return LoadedFunction(app, sys.modules["main"])


@pytest.fixture(scope="session")
def remove_bg() -> LoadedFunction:
    return load_function("functions/remove_bg/main.py", "remove_bg")


@pytest.fixture()
def client(remove_bg):
    return remove_bg.app.test_client()


@pytest.fixture()
def settings(remove_bg, monkeypatch):
    """Replace remove_bg's fetch limits for one test: ``settings(allow_private=False, max_bytes=10)``."""

    def apply(**fetch_changes):
        base = remove_bg.module.SETTINGS
        new = dataclasses.replace(base, fetch=dataclasses.replace(base.fetch, **fetch_changes))
        monkeypatch.setattr(remove_bg.module, "SETTINGS", new)
        return new

    return apply


def decode_answer(resp) -> np.ndarray:
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.mimetype == "image/jpeg"
    return np.asarray(Image.open(io.BytesIO(resp.get_data())).convert("RGB"))


def garment_sessions_with(monkeypatch: pytest.MonkeyPatch, variable: str, value: str):
    """(served garment session, one with ``variable=value``, a plain red garment on a grey photo): how a
    segmentation option's session is compared with the served one. Skips without onnxruntime or the model."""
    pytest.importorskip("onnxruntime")
    from garment_search.segmentation.sessions import GARMENT_MODEL_FILE, new_segmentation_session

    if not GARMENT_MODEL_FILE.exists():
        pytest.skip("garment model not present")
    photo = np.full((240, 180, 3), 200, dtype=np.uint8)
    photo[40:200, 50:130] = (180, 40, 60)
    monkeypatch.delenv(variable, raising=False)
    plain = new_segmentation_session("garment", tta=False)
    monkeypatch.setenv(variable, value)
    return plain, new_segmentation_session("garment", tta=False), Image.fromarray(photo)
