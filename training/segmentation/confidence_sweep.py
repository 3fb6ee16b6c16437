"""Choose masks.MIN_REGION_CONFIDENCE on CCP validation photos (never on the shop catalogue).

    python -m training.segmentation.confidence_sweep --ccp ../shared/datasets/ccp [--garment-model FILE]

For each threshold, the garment IoU and garment pixels kept (``keep=garments``, served code path) pooled over
0601–0700. The shipped value is the highest threshold that costs real garments (nearly) nothing against no
threshold at all: garment IoU within 0.002 and garment pixels kept within 0.001.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
from PIL import Image

from garment_search.images import load_image_file
from garment_search.segmentation import mask_from_probabilities, masks
from garment_search.segmentation.sessions import new_segmentation_session
from training.segmentation.data import VAL_IDS, ccp_class_table, ccp_files
from training.segmentation.evaluate import DARK_THRESHOLD

THRESHOLDS = (0.0, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ccp", type=Path, default=Path("../shared/datasets/ccp"))
    ap.add_argument("--garment-model", help="ONNX file instead of models/garment_u2netp.onnx")
    args = ap.parse_args()
    if args.garment_model:
        os.environ["GARMENT_MODEL_PATH"] = args.garment_model
    session = new_segmentation_session("garment")
    table = ccp_class_table(args.ccp)
    inter = np.zeros(len(THRESHOLDS))
    union = np.zeros(len(THRESHOLDS))
    truth_total = 0
    for img_path, lab_path in ccp_files(args.ccp, VAL_IDS):
        image = load_image_file(img_path)
        valid = np.asarray(image.rgb).max(axis=2) >= DARK_THRESHOLD
        truth = (table[np.asarray(Image.open(lab_path))] > 0) & valid
        truth_total += truth.sum()
        probs = session.probabilities(image.rgb)
        for i, t in enumerate(THRESHOLDS):
            masks.MIN_REGION_CONFIDENCE = t
            pred, _ = mask_from_probabilities(image, probs, session.groups, "garments")
            inter[i] += (pred & valid & truth).sum()
            union[i] += ((pred & valid) | truth).sum()
    print("| MIN_REGION_CONFIDENCE | garment IoU | garment kept |")
    print("|---|---|---|")
    for i, t in enumerate(THRESHOLDS):
        print(f"| {t:.2f} | {inter[i] / union[i]:.4f} | {inter[i] / truth_total:.4f} |")
    iou, kept = inter / union, inter / truth_total
    ok = [t for i, t in enumerate(THRESHOLDS) if iou[i] >= iou[0] - 0.002 and kept[i] >= kept[0] - 0.001]
    print(f"\nhighest threshold within 0.002 IoU and 0.001 kept of none: {max(ok):.2f}")


if __name__ == "__main__":
    main()
