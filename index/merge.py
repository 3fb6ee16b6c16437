"""Join index shards built with ``python -m index.build --shard I/N`` into one index.

    python -m index.merge --out index/catalogue.npz part-0.npz part-1.npz …   (local or gs:// paths)
"""

from __future__ import annotations

import argparse
import sys

from garment_search.index_file import IndexFile


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("parts", nargs="+")
    args = ap.parse_args(argv)
    merged = IndexFile.merge([IndexFile.load(p) for p in args.parts])
    merged.save(args.out)
    print(f"merged {len(args.parts)} parts: {len(merged)} photos of {len(set(merged.products))} products → {args.out}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
