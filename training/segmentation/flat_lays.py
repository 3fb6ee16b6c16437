"""Single garments of clothing-small as CCP-style training photos: the group by class folder, the shape by our mask.

    python -m training.segmentation.flat_lays --out .devdata/flatlays      # ~480 photos, a few MB, ~5 min here
    python -m training.segmentation.flat_lays --out .devdata/flatlays-bal --per-group 24   # 24 per garment group

v6 reads a lone skirt as one-piece 11 times in 12 (``evaluate --clothing``; docs/benchmarks.md, "A lone garment's
group"): it learned a garment's group from where it sits on a body. clothing-small's *training* photos each show one
garment whose group its folder names, so each becomes a pseudo-labelled photo: the served segmenter's ``garments``
mask (test-time augmented) labelled with the CCP label of the folder (``data.CLOTHING_FOLDER_LABELS``), background
elsewhere (training replaces it, as for CCP). Written in CCP's own layout (``images/NNNN.jpg``, ``labels/NNNN.png``,
CCP's ``label_names.json``) at the height training caches photos at, so ``train.py --extra-ccp`` reads it with
CCP's loader and augmentations, and it travels to a GPU lease like ``shrink_ccp``'s copy. Photos whose mask is
nearly empty or nearly everything (segmentation failed) are left out. Third-party data: git-ignored, never
committed. Validation photos are never used (they are ``evaluate --clothing``'s judge).
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from garment_search.images import load_image_file
from garment_search.segmentation import mask_from_probabilities
from training.segmentation.data import CLOTHING_FOLDER_LABELS, ccp_label_names, label_group, resize_pair

#: A usable mask covers between these shares of the photo.
MIN_COVER, MAX_COVER = 0.05, 0.95


def per_group_counts(folders: tuple[str, ...], per_group: int) -> dict[str, int]:
    """Photos to take from each folder so that every garment group gets ``per_group``, shared evenly among its
    folders (four upper folders, three lower, one one-piece): two probes that took the same number from every
    folder taught the model the folder mix as a prior — tops everywhere, or dresses and skirts everywhere."""
    by_group: dict[int, list[str]] = {}
    for folder in folders:
        by_group.setdefault(label_group(folder), []).append(folder)
    return {folder: per_group // len(members) + (i < per_group % len(members))
            for members in by_group.values() for i, folder in enumerate(members)}


def write_flat_lays(clothing_train: Path, ccp: Path, out: Path, segmenter, per_folder: int | dict[str, int],
                    height: int, quality: int = 85,
                    folders: tuple[str, ...] = tuple(CLOTHING_FOLDER_LABELS)) -> dict[str, int]:
    """Write up to ``per_folder`` pseudo-labelled photos (one count for all folders, or a count per folder) of each
    of ``folders`` (sorted file order) into ``out``; returns how many each folder gave."""
    wanted = per_folder if isinstance(per_folder, dict) else dict.fromkeys(folders, per_folder)
    ids = {name: i for i, name in ccp_label_names(ccp).items()}
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "labels").mkdir(parents=True, exist_ok=True)
    shutil.copy(ccp / "label_names.json", out / "label_names.json")
    counts, number = {}, 0
    for folder in folders:
        label = CLOTHING_FOLDER_LABELS[folder]
        counts[folder] = 0
        for path in sorted((clothing_train / folder).glob("*"))[:wanted[folder]]:
            image = load_image_file(path)
            mask, _ = mask_from_probabilities(image, segmenter.probabilities(image.rgb), segmenter.groups, "garments")
            if not MIN_COVER <= mask.mean() <= MAX_COVER:
                continue
            number += 1
            labels = Image.fromarray(np.where(mask, ids[label], 0).astype(np.uint8))
            photo, labels = resize_pair(image.rgb, labels, height)  # as CCPSegmentation caches CCP's photos
            photo.save(out / "images" / f"{number:04d}.jpg", quality=quality)
            labels.save(out / "labels" / f"{number:04d}.png")
            counts[folder] += 1
    (out / "sources.json").write_text(json.dumps({"from": str(clothing_train), "per_folder": per_folder,
                                                  "segmenter": segmenter.identity, "counts": counts}, indent=1))
    return counts


def main() -> None:
    from garment_search.segmentation import load_index_segmenter

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clothing", type=Path, default=Path("../shared/datasets/clothing-small/train"))
    ap.add_argument("--ccp", type=Path, default=Path("../shared/datasets/ccp"))
    ap.add_argument("--out", type=Path, default=Path(".devdata/flatlays"))
    size = ap.add_mutually_exclusive_group()
    size.add_argument("--per-folder", type=int, default=60)
    size.add_argument("--per-group", type=int, help="this many per garment group instead, shared among its folders")
    ap.add_argument("--height", type=int, default=480, help="the --cache-height training will use")
    ap.add_argument("--folders", nargs="+", choices=list(CLOTHING_FOLDER_LABELS), default=list(CLOTHING_FOLDER_LABELS))
    args = ap.parse_args()
    folders = tuple(args.folders)
    per_folder = per_group_counts(folders, args.per_group) if args.per_group else args.per_folder
    counts = write_flat_lays(args.clothing, args.ccp, args.out, load_index_segmenter(), per_folder,
                             args.height, folders=folders)
    print(f"{sum(counts.values())} photos written to {args.out}: {counts}")


if __name__ == "__main__":
    main()
