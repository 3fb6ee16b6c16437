"""Copy CCP at the height training caches it at, small enough to travel with a GPU lease (64 MiB in all).

    python -m training.segmentation.shrink_ccp --out .devdata/ccp      # ~26 MB: photos at 480 px, JPEG q85

Resized by the dataset's own loader (``data.load_pair``). Train with ``--ccp .devdata/ccp --cache-height 480``
(``gpu_runs.sh`` does); the copy lives in a git-ignored folder — CCP is third-party data, never committed.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from training.segmentation.data import ccp_files, load_pair


def shrink(src: Path, out: Path, height: int, quality: int) -> int:
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "labels").mkdir(parents=True, exist_ok=True)
    shutil.copy(src / "label_names.json", out / "label_names.json")
    pairs = ccp_files(src, range(1, 10_000))
    for img_path, lab_path in pairs:
        img, lab = load_pair(img_path, lab_path, height)  # what CCPSegmentation caches, so training sees the same
        img.save(out / "images" / img_path.name, quality=quality)
        lab.save(out / "labels" / lab_path.name, optimize=True)
    return len(pairs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ccp", type=Path, default=Path("../shared/datasets/ccp"))
    ap.add_argument("--out", type=Path, default=Path(".devdata/ccp"))
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--quality", type=int, default=85)
    args = ap.parse_args()
    print(f"{shrink(args.ccp, args.out, args.height, args.quality)} photos written to {args.out}")


if __name__ == "__main__":
    main()
