"""Export a trained garment model to ONNX (softmax probabilities of the fused map) for the rembg session.

    python -m training.segmentation.export --weights training/runs/seg/final.pt --out models/garment_u2netp.onnx

The input size is fixed in the graph (1×3×H×W); ``GarmentSession`` reads it from there.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from garment_search.segmentation.groups import CLASS_NAMES
from training.segmentation.u2netp import U2NetP


class Probabilities(torch.nn.Module):
    def __init__(self, net: U2NetP) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.net(x)[0], dim=1)


def export(weights: Path, out: Path, height: int, width: int) -> None:
    net = U2NetP(out_ch=len(CLASS_NAMES))
    state = torch.load(weights, map_location="cpu", weights_only=False)
    net.load_state_dict(state.get("model", state))
    model = Probabilities(net).eval()
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
    ap.add_argument("--out", type=Path, default=Path("models/garment_u2netp.onnx"))
    ap.add_argument("--height", type=int, default=320)
    ap.add_argument("--width", type=int, default=240)
    args = ap.parse_args()
    export(args.weights, args.out, args.height, args.width)


if __name__ == "__main__":
    main()
