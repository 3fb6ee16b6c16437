"""Every setting the services read from the environment, in one place, with its default.

The README's configuration table mirrors this module; ``Settings.from_env()`` is read once per process.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
MODELS_DIR = REPO_ROOT / "models"
MODEL_CACHE_DIR = MODELS_DIR / ".cache"
#: MoveNet Lightning (``segmentation.pose``): here, so that search can hash it without importing the segmentation.
POSE_MODEL_FILE = MODELS_DIR / "movenet_lightning.onnx"


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return default if raw in (None, "") else int(raw)


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return default if raw in (None, "") else float(raw)


def ort_threads() -> int:
    """onnxruntime's intra-op threads for every model a process runs (``ORT_THREADS``; 0 = all cores)."""
    return _env_int("ORT_THREADS", 0)


def env_switch(variable: str, default: bool) -> bool:
    """An on/off environment setting: 1 / true / yes / on or 0 / false / no / off; ``default`` when unset."""
    raw = os.environ.get(variable, "").strip().lower()
    if raw == "":
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{variable} must be 1 or 0, not {raw!r}.")


def env_numbers(variable: str, kinds: tuple[type, ...], form: str, example: str,
                valid: Callable[..., bool] = lambda *values: True, needs: str = "") -> tuple | None:
    """A setting of comma-separated numbers (``SPLIT_REGIONS=4,0.5``), each read as its ``kinds`` entry; None when
    unset, empty, ``0`` or ``off``. A malformed value is a ValueError naming the ``form`` wanted ("'K,W' (clusters,
    weight)") and an ``example``; values that ``valid`` refuses, one saying what the setting ``needs``."""
    return parse_numbers(variable, os.environ.get(variable, ""), kinds, form, example, valid, needs)


def parse_numbers(variable: str, raw: str, kinds: tuple[type, ...], form: str, example: str,
                  valid: Callable[..., bool] = lambda *values: True, needs: str = "") -> tuple | None:
    """``env_numbers`` of a value given as text (a command-line option's), named ``variable`` in errors."""
    raw = raw.strip()
    if raw in ("", "0", "off"):
        return None
    parts = raw.split(",")
    try:
        if len(parts) != len(kinds):
            raise ValueError
        values = tuple(kind(part) for kind, part in zip(kinds, parts))
    except ValueError:
        raise ValueError(f"{variable} must be {form}, e.g. '{example}', not {raw!r}.") from None
    if not valid(*values):
        raise ValueError(f"{variable} needs {needs}, not {raw!r}.")
    return values


def env_flag(name: str) -> bool:
    """True for 1/true/yes/on (any case)."""
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class FetchLimits:
    """Bounds on downloading a user-supplied URL (see ``garment_search.fetch``)."""

    connect_timeout_s: float = 5.0
    total_timeout_s: float = 20.0
    max_bytes: int = 20 * 1024 * 1024
    max_redirects: int = 5
    allow_private: bool = False


@dataclass(frozen=True)
class Settings:
    fetch: FetchLimits
    max_pixels: int
    jpeg_quality: int
    segmentation_model: str
    max_request_bytes: int
    inference_concurrency: int
    queue_timeout_s: float

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(
            fetch=FetchLimits(
                connect_timeout_s=_env_float("FETCH_CONNECT_TIMEOUT", 5.0),
                total_timeout_s=_env_float("FETCH_TOTAL_TIMEOUT", 20.0),
                max_bytes=_env_int("FETCH_MAX_BYTES", 20 * 1024 * 1024),
                max_redirects=_env_int("FETCH_MAX_REDIRECTS", 5),
                allow_private=env_flag("ALLOW_PRIVATE_URLS"),
            ),
            max_pixels=_env_int("MAX_IMAGE_PIXELS", 40_000_000),
            jpeg_quality=min(100, max(90, _env_int("JPEG_QUALITY", 95))),
            segmentation_model=os.environ.get("SEGMENTATION_MODEL", "garment"),
            max_request_bytes=_env_int("MAX_REQUEST_BYTES", 64 * 1024),
            inference_concurrency=max(1, _env_int("INFERENCE_CONCURRENCY", 1)),
            queue_timeout_s=_env_float("QUEUE_TIMEOUT", 30.0),
        )
