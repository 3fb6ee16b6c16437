"""The embedding index file: one row per indexed photo, plus the identities of the models that made it.

Format (version 1): a NumPy ``.npz`` archive (no pickles) with
- ``embeddings``  float32 N×D, L2-normalised image embeddings, followed by the measured channels' columns
  (colour, pattern, family) when the embedder has them (``garment_search.embedding.measured_channels``; weights
  part of ``model``);
- ``products``    N product names (the photo's folder name);
- ``paths``       N image paths as the builder was given them (e.g. ``sample/<product>/<photo>.jpg``);
- ``digests``     N sha256 prefixes of the photo bytes (incremental rebuilds skip unchanged photos);
- ``no_garment``  N booleans: no garment was found, the original photo was embedded;
- ``meta``        a JSON string: ``format``, ``model`` (embedder identity), ``segmentation`` (segmentation
  identity), ``keep`` (mask mode), ``built_at`` (UTC ISO time), ``dim``.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np

from garment_search import storage

FORMAT_VERSION = 1


class InvalidIndex(ValueError):
    """The file is not a usable index (wrong format, version or models)."""


@dataclass
class IndexFile:
    model: str
    segmentation: str
    keep: str
    embeddings: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    products: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    digests: list[str] = field(default_factory=list)
    no_garment: list[bool] = field(default_factory=list)
    built_at: str = ""

    def __len__(self) -> int:
        return len(self.paths)

    def to_bytes(self) -> bytes:
        meta = {"format": FORMAT_VERSION, "model": self.model, "segmentation": self.segmentation, "keep": self.keep,
                "built_at": self.built_at or datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "dim": int(self.embeddings.shape[1]) if self.embeddings.size else 0}
        buf = io.BytesIO()
        np.savez(buf, embeddings=self.embeddings.astype(np.float32), products=np.array(self.products, dtype=str),
                 paths=np.array(self.paths, dtype=str), digests=np.array(self.digests, dtype=str),
                 no_garment=np.array(self.no_garment, dtype=bool), meta=np.array(json.dumps(meta)))
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "IndexFile":
        try:
            z = np.load(io.BytesIO(data), allow_pickle=False)
            meta = json.loads(str(z["meta"]))
            if meta.get("format") != FORMAT_VERSION:
                raise InvalidIndex(f"index format {meta.get('format')} is not {FORMAT_VERSION}")
            n = len(z["paths"])
            emb = z["embeddings"].astype(np.float32).reshape(n, -1) if n else np.zeros((0, meta.get("dim", 0)), np.float32)
            return cls(model=meta["model"], segmentation=meta["segmentation"], keep=meta["keep"], embeddings=emb,
                       products=[str(p) for p in z["products"]], paths=[str(p) for p in z["paths"]],
                       digests=[str(d) for d in z["digests"]], no_garment=[bool(b) for b in z["no_garment"]],
                       built_at=meta["built_at"])
        except InvalidIndex:
            raise
        except Exception as exc:  # noqa: BLE001 - any decoding problem means "not an index"
            raise InvalidIndex(f"not a readable index file ({type(exc).__name__})") from None

    def save(self, path: str) -> None:
        storage.write_bytes(path, self.to_bytes())

    @classmethod
    def load(cls, path: str) -> "IndexFile":
        return cls.from_bytes(storage.read_bytes(path))

    def same_models(self, other: "IndexFile") -> bool:
        return (self.model, self.segmentation, self.keep) == (other.model, other.segmentation, other.keep)

    @classmethod
    def merge(cls, parts: list["IndexFile"]) -> "IndexFile":
        """Join shard files built with the same models; a path present twice keeps its last row."""
        if not parts:
            raise InvalidIndex("nothing to merge")
        first = parts[0]
        for part in parts[1:]:
            if not part.same_models(first):
                raise InvalidIndex("the parts were built with different models and cannot be merged")
        rows: dict[str, tuple] = {}
        for part in parts:
            for i, path in enumerate(part.paths):
                rows[path] = (part.embeddings[i], part.products[i], part.digests[i], part.no_garment[i])
        paths = sorted(rows)
        emb = np.stack([rows[p][0] for p in paths]) if paths else np.zeros((0, first.embeddings.shape[1]), np.float32)
        return cls(first.model, first.segmentation, first.keep, emb, [rows[p][1] for p in paths], paths,
                   [rows[p][2] for p in paths], [bool(rows[p][3]) for p in paths])
