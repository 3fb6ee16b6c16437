"""Export a trained garment model to ONNX (softmax probabilities of the fused map) for the rembg session.

    python -m training.segmentation.export --weights training/runs/seg/final.pt --out models/garment_u2netp.onnx
    python -m training.segmentation.export --init models/garment_u2netp.onnx --group-head training/runs/head/head.pt \
        --out models/garment_u2netp.onnx

The second form adds a trained group head (training/segmentation/group_head.py) to an exported model's body.
The input size is fixed in the graph (1×3×H×W); ``GarmentSession`` reads it from there.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from garment_search.segmentation.groups import CLASS_NAMES
from training.segmentation.group_head import GroupedGarmentModel, GroupHead, load_body
from training.segmentation.u2netp import U2NetP


class Probabilities(torch.nn.Module):
    def __init__(self, net: U2NetP) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.net(x)[0], dim=1)


def load_model(weights: Path | None, init: str | None, group_head: Path | None) -> torch.nn.Module:
    """The network to export: torch weights or an exported ONNX body, optionally with a group head."""
    if init:
        net = load_body(init)
    else:
        net = U2NetP(out_ch=len(CLASS_NAMES))
        state = torch.load(weights, map_location="cpu", weights_only=False)
        net.load_state_dict(state.get("model", state))
    if group_head is None:
        return Probabilities(net).eval()
    head = GroupHead()
    head.load_state_dict(torch.load(group_head, map_location="cpu"))
    return GroupedGarmentModel(net, head).eval()


def export(model: torch.nn.Module, out: Path, height: int, width: int) -> None:
    dummy = torch.rand(1, 3, height, width)
    torch.onnx.export(model, (dummy,), str(out), input_names=["input"], output_names=["probabilities"],
                      opset_version=17, dynamo=False)
    import onnxruntime as ort

    ref = model(dummy).detach().numpy()
    got = ort.InferenceSession(str(out)).run(None, {"input": dummy.numpy()})[0]
    assert np.abs(ref - got).max() < 1e-4, "ONNX export differs from the PyTorch model"
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB), input 1x3x{height}x{width}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", type=Path, default=Path("training/runs/seg/final.pt"))
    ap.add_argument("--init", help="take the body from an exported garment ONNX instead of --weights")
    ap.add_argument("--group-head", type=Path, help="head.pt of training/segmentation/group_head.py")
    ap.add_argument("--out", type=Path, default=Path("models/garment_u2netp.onnx"))
    ap.add_argument("--height", type=int, default=320)
    ap.add_argument("--width", type=int, default=240)
    args = ap.parse_args()
    export(load_model(args.weights, args.init, args.group_head), args.out, args.height, args.width)


if __name__ == "__main__":
    main()
