"""Export a trained garment model to ONNX (softmax probabilities of the fused map) for the rembg session.

    python -m training.segmentation.export --weights training/runs/seg/final.pt --out models/garment_u2netp.onnx
    python -m training.segmentation.export --init models/garment_u2netp.onnx --group-head training/runs/head/head.pt \
        --out models/garment_u2netp.onnx
    python -m training.segmentation.export --init models/garment_u2netp.onnx \
        --group-net training/runs/groupnet/group_net.pt --out models/garment_u2netp.onnx

The second form adds a trained group head (training/segmentation/group_head.py) to an exported model's body, the
third a group network (training/segmentation/group_net.py) beside it (``--init`` alone re-exports a model, e.g.
one exported before the input size became free).
The graph takes any input size (1×3×H×W, H and W free) so that ``GarmentSession`` can also ask it at a larger scale
(test-time augmentation); the size it was trained at is stored in the file's metadata (``SIZE_METADATA``), and
``GarmentSession`` fixes it for its plain pass (an onnxruntime free-dimension override: the
same speed as a fixed graph).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from garment_search.segmentation.groups import CLASS_NAMES
from garment_search.segmentation.sessions import FREE_DIMS, SIZE_METADATA, TTA_SCALES
from training.segmentation.group_head import GroupedGarmentModel, GroupHead, load_body
from training.segmentation.group_net import GroupNet, GroupNetGarmentModel
from training.segmentation.u2netp import U2NetP


class Probabilities(torch.nn.Module):
    def __init__(self, net: U2NetP) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.net(x)[0], dim=1)


def load_model(weights: Path | None, init: str | None, group_head: Path | None,
               group_nets: list[Path] | None = None, net_weight: float = 1.0,
               garment_weight: float = 0.0) -> torch.nn.Module:
    """The network to export: torch weights or an exported ONNX body, optionally with a group head or network."""
    if init:
        net = load_body(init)
    else:
        net = U2NetP(out_ch=len(CLASS_NAMES))
        state = torch.load(weights, map_location="cpu", weights_only=False)
        net.load_state_dict(state.get("model", state))
    if group_nets:
        groups = [GroupNet.from_state(torch.load(path, map_location="cpu")) for path in group_nets]
        return GroupNetGarmentModel(net, groups, net_weight, garment_weight).eval()
    if group_head is None:
        return Probabilities(net).eval()
    head = GroupHead()
    head.load_state_dict(torch.load(group_head, map_location="cpu"))
    return GroupedGarmentModel(net, head).eval()


def export(model: torch.nn.Module, out: Path, height: int, width: int, free_size: bool = True) -> None:
    """Write ``model`` read at ``height``×``width``, checked against PyTorch. With ``free_size`` the spatial
    dimensions are free, the size is recorded as metadata and the check runs at every ``TTA_SCALES`` size; a
    grouped model's head pools by factors fixed when it is traced, so it is exported at its one size (and served
    without test-time augmentation)."""
    import onnx
    import onnxruntime as ort

    dummy = torch.rand(1, 3, height, width)
    free = dict(zip((2, 3), FREE_DIMS)) if free_size else {}
    torch.onnx.export(model, (dummy,), str(out), input_names=["input"], output_names=["probabilities"],
                      opset_version=17, dynamo=False, dynamic_axes={"input": free, "probabilities": free})
    if free_size:
        graph = onnx.load(str(out))
        onnx.helper.set_model_props(graph, dict(zip(SIZE_METADATA, (str(height), str(width)))))
        onnx.save(graph, str(out))
    session = ort.InferenceSession(str(out))
    for scale in TTA_SCALES if free_size else (1.0,):
        x = torch.rand(1, 3, round(height * scale), round(width * scale))
        with torch.no_grad():
            ref = model(x).numpy()
        got = session.run(None, {"input": x.numpy()})[0]
        assert np.abs(ref - got).max() < 1e-4, f"ONNX export differs from the PyTorch model at {tuple(x.shape)}"
    sizes = "any size accepted" if free_size else "that size only"
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB), read at 1x3x{height}x{width}, {sizes}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", type=Path, default=Path("training/runs/seg/final.pt"))
    ap.add_argument("--init", help="take the body from an exported garment ONNX instead of --weights")
    ap.add_argument("--group-head", type=Path, help="head.pt of training/segmentation/group_head.py")
    ap.add_argument("--group-net", type=Path, nargs="+",
                    help="group_net.pt of training/segmentation/group_net.py (several: their splits averaged)")
    ap.add_argument("--group-net-weight", type=float, default=1.0,
                    help="share of the group networks in the group split (the rest: the body's own)")
    ap.add_argument("--garment-weight", type=float, default=0.0,
                    help="share of the group networks' garment heads in the garment-versus-rest probability (the "
                    "rest: the body's); needs networks trained with group_net --garment-weight")
    ap.add_argument("--out", type=Path, default=Path("models/garment_u2netp.onnx"))
    ap.add_argument("--height", type=int, default=320)
    ap.add_argument("--width", type=int, default=240)
    args = ap.parse_args()
    if args.group_head and args.group_net:
        ap.error("--group-head and --group-net are two answers to one question: pick one")
    model = load_model(args.weights, args.init, args.group_head, args.group_net, args.group_net_weight,
                       args.garment_weight)
    export(model, args.out, args.height, args.width, free_size=args.group_head is None)


if __name__ == "__main__":
    main()
