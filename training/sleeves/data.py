"""Index-style views of worn and product-shot tops with a sleeve length, cached for training and evaluation.

Views are cut out exactly as the index builder cuts the catalogue (``embedding_view``, ``keep=product``, the
index's test-time augmentation), so the classifier sees what search's sleeve channel will be asked about. Sources:
CCP photos labelled by ``labels.SleeveLabeller`` (views whose cut-out kept the top family), and clothing-small's
``longsleeve`` (long) and ``t-shirt`` (short) folders. Never the shop's catalogue.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from garment_search.images import load_image_file
from garment_search.segmentation import embedding_view, load_index_segmenter
from garment_search.sleeves import SLEEVES, shows_top, square_view
from training.embedding.data import class_photos
from training.segmentation.data import ccp_files
from training.sleeves.labels import UNKNOWN, SleeveLabeller

#: clothing-small class folders whose every photo has one sleeve length.
CLOTHING_SLEEVES = {"longsleeve": SLEEVES.index("long"), "t-shirt": SLEEVES.index("short")}


def build_views(ccp: Path, ccp_ids: range, clothing_split: Path, out: Path) -> None:
    """Write ``out`` (.npz): views (N×sleeves.VIEW_SIZE²×3 uint8), sleeve labels, and source names."""
    segmenter = load_index_segmenter()
    labeller = SleeveLabeller.for_ccp(ccp)
    items: list[tuple[Path, int, str]] = []
    for img, lab in ccp_files(ccp, ccp_ids):
        sleeve = labeller(np.asarray(Image.open(lab)))
        if sleeve != UNKNOWN:
            items.append((img, sleeve, f"ccp/{img.stem}"))
    items += [(path, CLOTHING_SLEEVES[kind], f"clothing/{kind}/{path.name}")
              for kind, path in class_photos(clothing_split) if kind in CLOTHING_SLEEVES]
    views, sleeves, names = [], [], []
    for path, sleeve, name in tqdm(items, desc=f"views for {out.name}"):
        try:
            view, no_garment = embedding_view(load_image_file(path), segmenter, "product")
        except Exception:  # noqa: BLE001 - a broken photo is skipped, not fatal
            continue
        if no_garment or not shows_top(view):
            continue
        views.append(square_view(view))
        sleeves.append(sleeve)
        names.append(name)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, views=np.stack(views), sleeves=np.array(sleeves), names=np.array(names))


def main(argv: list[str] | None = None) -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", type=Path, default=Path("../shared/datasets"))
    ap.add_argument("--out", type=Path, default=Path("training/runs/sleeves"))
    args = ap.parse_args(argv)
    ccp, clothing = args.datasets / "ccp", args.datasets / "clothing-small"
    build_views(ccp, range(1, 601), clothing / "train", args.out / "train.npz")
    build_views(ccp, range(601, 701), clothing / "validation", args.out / "validation.npz")


if __name__ == "__main__":
    main()
