"""Render before/after contact sheets of the catalogue for eyes (git-ignored ``contact-sheets/``).

    python -m training.segmentation.contact_sheets [--keep product] [--model garment] [--per-sheet 12]

Each tile shows the photo and remove_bg's answer side by side (the same cut_out code the function uses).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from garment_search.catalogue import product_photos, sample_dir
from garment_search.images import load_image_file
from garment_search.segmentation import KEEP_CHOICES, cut_out, load_segmenter

TILE_HEIGHT = 320


def tile(photo: Path, segmenter, keep: str) -> Image.Image:
    image = load_image_file(photo)
    cutout = cut_out(image, segmenter, keep)
    pair = np.concatenate([np.asarray(image.rgb), cutout.rgb], axis=1)
    im = Image.fromarray(pair)
    im = im.resize((round(im.width * TILE_HEIGHT / im.height), TILE_HEIGHT), Image.Resampling.BILINEAR)
    ImageDraw.Draw(im).text((4, 4), f"{photo.parent.name[:40]} kept={','.join(cutout.kept)}", fill=(255, 255, 0))
    return im


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keep", default="product", choices=KEEP_CHOICES)
    ap.add_argument("--model", default=None, help="segmentation model (default: SEGMENTATION_MODEL or garment)")
    ap.add_argument("--per-sheet", type=int, default=12)
    ap.add_argument("--out", type=Path, default=Path("contact-sheets"))
    args = ap.parse_args()
    segmenter = load_segmenter(args.model)
    photos = [p for paths in product_photos(sample_dir()).values() for p in paths]
    args.out.mkdir(parents=True, exist_ok=True)
    cols = 4
    for s in range(0, len(photos), args.per_sheet):
        tiles = [tile(p, segmenter, args.keep) for p in photos[s:s + args.per_sheet]]
        w = max(t.width for t in tiles)
        rows = (len(tiles) + cols - 1) // cols
        sheet = Image.new("RGB", (w * cols, TILE_HEIGHT * rows), (40, 40, 40))
        for i, t in enumerate(tiles):
            sheet.paste(t, ((i % cols) * w, (i // cols) * TILE_HEIGHT))
        path = args.out / f"{segmenter.name()}-{args.keep}-{s // args.per_sheet:02d}.jpg"
        sheet.save(path, quality=88)
        print(path)


if __name__ == "__main__":
    main()
