"""Segmentation models as rembg sessions: one small class per model behind one interface.

Each session returns per-class probability maps at model resolution (channel 0 = background, then one channel
per group in ``groups``); ``garment_search.segmentation.masks`` turns them into full-resolution masks. Sessions
are rembg ``BaseSession`` subclasses, so ``rembg.remove(img, session=...)`` works with them too.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image
from rembg.sessions.base import BaseSession
from rembg.sessions.u2netp import U2netpSession

from garment_search.config import MODEL_CACHE_DIR, MODELS_DIR, env_flag
from garment_search.identity import file_digest
from garment_search.segmentation.groups import GARMENT_GROUPS
from garment_search.segmentation.masks import MASK_RULES

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
GARMENT_MODEL_FILE = MODELS_DIR / "garment_u2netp.onnx"


def _normalise(rgb: Image.Image, size: tuple[int, int]) -> np.ndarray:
    """RGB → 1×3×H×W float32 ImageNet-normalised input of ``size`` (width, height)."""
    arr = np.asarray(rgb.resize(size, Image.Resampling.BILINEAR), dtype=np.float32) / 255.0
    return ((arr - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1)[None]


class SegmentationSession(BaseSession):
    """A rembg session that exposes class probabilities, and its identity for index files."""

    groups: tuple[str, ...] = ()
    #: Average the maps of the photo and of its mirror image (``flip_average_wanted``; garment model only).
    flip_average: bool = False

    def probabilities(self, rgb: Image.Image) -> np.ndarray:
        """(1 + len(groups), h, w) float32 probabilities at model resolution; channel 0 is background."""
        raise NotImplementedError

    def predict(self, img: Image.Image, *args, **kwargs) -> list[Image.Image]:
        """rembg interface: one mask (garment union) at the image's size."""
        probs = self.probabilities(img.convert("RGB"))
        fg = Image.fromarray(((1.0 - probs[0]) * 255).astype(np.uint8), mode="L")
        return [fg.resize(img.size, Image.Resampling.BILINEAR)]

    @cached_property
    def identity(self) -> str:
        """``name@sha256-prefix`` of the weights, the mask rules' revision (``masks.MASK_RULES``) and ``+flip``
        when maps are mirror-averaged: stored with every index so no two ways of cutting out are ever mixed."""
        flip = "+flip" if self.flip_average else ""
        return f"{self.name()}@{file_digest(self.download_models())}+masks{MASK_RULES}{flip}"


class GarmentSession(SegmentationSession):
    """Our fine-tuned u2netp predicting background / upper / lower / one-piece (training/segmentation)."""

    groups = GARMENT_GROUPS

    def probabilities(self, rgb: Image.Image) -> np.ndarray:
        """With ``flip_average`` the model also sees the mirror image and the two maps are averaged: a garment
        looks the same mirrored, the model's mistakes need not (docs/benchmarks.md: +0.022 product IoU), at twice
        the model's time — worth it where inference is cheap (a GPU), not on the CPU latency budget."""
        inp = self.inner_session.get_inputs()[0]
        height, width = inp.shape[2], inp.shape[3]
        x = _normalise(rgb, (width, height))
        probs = self.inner_session.run(None, {inp.name: x})[0][0].astype(np.float32, copy=False)
        if self.flip_average:
            mirrored = self.inner_session.run(None, {inp.name: np.ascontiguousarray(x[..., ::-1])})[0][0]
            probs = (probs + mirrored[..., ::-1]) / 2
        return probs

    @classmethod
    def download_models(cls, *args, **kwargs) -> str:
        path = Path(os.environ.get("GARMENT_MODEL_PATH") or GARMENT_MODEL_FILE)
        if not path.exists():
            raise FileNotFoundError(f"Garment model {path} is missing; set GARMENT_MODEL_PATH or train it.")
        return str(path)

    @classmethod
    def name(cls, *args, **kwargs) -> str:
        return "garment-u2netp"


class PersonSession(SegmentationSession, U2netpSession):
    """rembg's u2netp salient-object (person) cut-out: the baseline, with one group covering the whole person."""

    groups = ("person",)

    def probabilities(self, rgb: Image.Image) -> np.ndarray:
        feed = self.normalize(rgb, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), (320, 320))
        fg = self.inner_session.run(None, feed)[0][0, 0].astype(np.float32)
        return np.stack([1.0 - fg, fg])

    @classmethod
    def download_models(cls, *args, **kwargs) -> str:
        """The offline copy placed by the setup script (rembg would otherwise download it)."""
        os.environ.setdefault("U2NET_HOME", str(MODEL_CACHE_DIR))
        existing = cls.resolve_existing("u2netp.onnx")
        if existing is None:
            raise FileNotFoundError(f"u2netp.onnx not found under {cls.legacy_home()}; run scripts/setup.")
        return existing


SESSIONS: dict[str, type[SegmentationSession]] = {"garment": GarmentSession, "u2netp": PersonSession}


def new_segmentation_session(name: str, flip_average: bool | None = None) -> SegmentationSession:
    """Build the named session (``garment`` or ``u2netp``) with onnxruntime's threads from ``ORT_THREADS``;
    ``flip_average`` None follows ``SEGMENTATION_FLIP_AVERAGE`` (garment model only)."""
    if name not in SESSIONS:
        raise ValueError(f"Unknown SEGMENTATION_MODEL {name!r}; choose one of {', '.join(SESSIONS)}.")
    opts = ort.SessionOptions()
    threads = int(os.environ.get("ORT_THREADS", "0") or 0)
    if threads:
        opts.intra_op_num_threads = threads
    cls = SESSIONS[name]
    session = cls(cls.name(), opts)
    if flip_average is None:
        flip_average = flip_average_wanted(session.inner_session.get_providers())
    session.flip_average = name == "garment" and flip_average
    return session


#: onnxruntime providers on which the garment model's second pass costs milliseconds, not a third of a request.
GPU_PROVIDERS = ("CUDAExecutionProvider", "TensorrtExecutionProvider", "ROCMExecutionProvider")


def flip_average_wanted(providers: list[str]) -> bool:
    """``SEGMENTATION_FLIP_AVERAGE``: ``1``/``0`` force it; ``auto`` (default) averages over the mirror image
    when the model runs on a GPU and not on CPUs, where the second pass would break remove_bg's latency budget."""
    raw = os.environ.get("SEGMENTATION_FLIP_AVERAGE", "").strip().lower()
    if raw in ("", "auto"):
        return bool(providers) and providers[0] in GPU_PROVIDERS
    if env_flag("SEGMENTATION_FLIP_AVERAGE"):
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"SEGMENTATION_FLIP_AVERAGE must be auto, 1 or 0, not {raw!r}.")
