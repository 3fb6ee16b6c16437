"""Assemble the served ensemble checkpoint from member checkpoints written by ``training.embedding.train``, or
take one member back out (to fine-tune it, or rank it alone).

    python -m training.embedding.ensemble --members r1.pt r2.pt m1.pt m2.pt \
        --out models/garment_minilm_resnet18x2_mobilenetv2x2.pt
    python -m training.embedding.ensemble --extract 0 --out /tmp/member0.pt   # from the shipped ensemble

Members must be checkpoints of the ensemble config's member configs, in its order (``--model``; the shipped
one: two ``garment-minilm-resnet18`` then two ``garment-minilm-mobilenetv2``); the result stores their weight
matrices as int8 (``garment_search.embedding.int8_weights``; depthwise kernels stay float) so four fit the 40 MB
budget.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from open_clip.factory import load_state_dict

from garment_search.embedding import EMBEDDED_MODEL, EMBEDDED_WEIGHTS, ensemble_members
from garment_search.embedding.ensemble import member_state_dict, merge_state_dicts
from garment_search.embedding.int8_weights import dequantise, quantise
from training.embedding.train import save_weights


def assemble(members: list[Path], out: Path, model: str = EMBEDDED_MODEL, int8: bool = True) -> None:
    configs = ensemble_members(model)
    if not configs or len(configs) != len(members):
        raise SystemExit(f"{model} is not an ensemble of {len(members)} members")
    states = [dequantise(load_state_dict(str(path))) for path in members]
    merged = merge_state_dicts(states)
    torch.save({"state_dict": quantise(merged) if int8 else merged}, out)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB) from {', '.join(map(str, members))}")


def extract(ensemble: Path, index: int, out: Path) -> None:
    """Member ``index`` as a float16 checkpoint of its member config (``ensemble_members``), as training writes
    them."""
    save_weights(member_state_dict(dequantise(load_state_dict(str(ensemble))), index), out)
    print(f"wrote {out}: member {index} of {ensemble}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    what = ap.add_mutually_exclusive_group(required=True)
    what.add_argument("--members", type=Path, nargs="+", help="member checkpoints to assemble, in order")
    what.add_argument("--extract", type=int, metavar="I", help="write member I of --ensemble instead")
    ap.add_argument("--ensemble", type=Path, default=EMBEDDED_WEIGHTS, help="the ensemble --extract reads")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--model", default=EMBEDDED_MODEL, help="the ensemble config the checkpoint is for")
    ap.add_argument("--float", action="store_true", help="keep the members' float weights (to measure int8's cost)")
    args = ap.parse_args()
    if args.members:
        assemble(args.members, args.out, args.model, int8=not args.float)
    else:
        extract(args.ensemble, args.extract, args.out)


if __name__ == "__main__":
    main()
