"""U²-Net-p (Qin et al. 2020) in PyTorch, with a multi-class head, initialised from rembg's u2netp.onnx.

The published ONNX file has its batch norms folded into the convolutions, so this re-implementation uses
biased convolutions without batch norm; weights are copied convolution by convolution in execution order and
the copy is checked numerically against onnxruntime (``load_onnx_weights``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _upsample_like(src: torch.Tensor, tar: torch.Tensor) -> torch.Tensor:
    return F.interpolate(src, size=tar.shape[2:], mode="bilinear", align_corners=False)


class ConvReLU(nn.Module):
    """REBNCONV with its batch norm folded into the convolution."""

    def __init__(self, in_ch: int, out_ch: int, dirate: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, 3, padding=dirate, dilation=dirate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv(x))


class RSU(nn.Module):
    """Residual U-block of the given height (RSU-7 … RSU-4) with max-pooling between levels."""

    def __init__(self, height: int, in_ch: int, mid_ch: int, out_ch: int) -> None:
        super().__init__()
        self.height = height
        self.conv_in = ConvReLU(in_ch, out_ch)
        self.enc = nn.ModuleList([ConvReLU(out_ch, mid_ch)] + [ConvReLU(mid_ch, mid_ch) for _ in range(height - 2)])
        self.bottom = ConvReLU(mid_ch, mid_ch, dirate=2)
        self.dec = nn.ModuleList([ConvReLU(mid_ch * 2, mid_ch) for _ in range(height - 2)] + [ConvReLU(mid_ch * 2, out_ch)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hxin = self.conv_in(x)
        feats = []
        hx = hxin
        for i, conv in enumerate(self.enc):
            hx = conv(hx)
            feats.append(hx)
            if i < len(self.enc) - 1:
                hx = F.max_pool2d(hx, 2, stride=2, ceil_mode=True)
        hx = self.bottom(hx)
        for i, conv in enumerate(self.dec):
            skip = feats[-1 - i]
            hx = conv(torch.cat((hx, skip), 1))
            if i < len(self.dec) - 1:
                hx = _upsample_like(hx, feats[-2 - i])
        return hx + hxin


class RSU4F(nn.Module):
    """Dilated residual U-block without pooling (used at the lowest resolutions)."""

    def __init__(self, in_ch: int, mid_ch: int, out_ch: int) -> None:
        super().__init__()
        self.conv_in = ConvReLU(in_ch, out_ch)
        self.enc = nn.ModuleList([ConvReLU(out_ch, mid_ch, 1), ConvReLU(mid_ch, mid_ch, 2), ConvReLU(mid_ch, mid_ch, 4)])
        self.bottom = ConvReLU(mid_ch, mid_ch, dirate=8)
        self.dec = nn.ModuleList([ConvReLU(mid_ch * 2, mid_ch, 4), ConvReLU(mid_ch * 2, mid_ch, 2), ConvReLU(mid_ch * 2, out_ch, 1)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hxin = self.conv_in(x)
        feats = []
        hx = hxin
        for conv in self.enc:
            hx = conv(hx)
            feats.append(hx)
        hx = self.bottom(hx)
        for i, conv in enumerate(self.dec):
            hx = conv(torch.cat((hx, feats[-1 - i]), 1))
        return hx + hxin


class U2NetP(nn.Module):
    """U²-Net-p returning logits: the fused map first, then the six side maps (deep supervision)."""

    def __init__(self, out_ch: int = 1) -> None:
        super().__init__()
        self.stage1 = RSU(7, 3, 16, 64)
        self.stage2 = RSU(6, 64, 16, 64)
        self.stage3 = RSU(5, 64, 16, 64)
        self.stage4 = RSU(4, 64, 16, 64)
        self.stage5 = RSU4F(64, 16, 64)
        self.stage6 = RSU4F(64, 16, 64)
        self.stage5d = RSU4F(128, 16, 64)
        self.stage4d = RSU(4, 128, 16, 64)
        self.stage3d = RSU(5, 128, 16, 64)
        self.stage2d = RSU(6, 128, 16, 64)
        self.stage1d = RSU(7, 128, 16, 64)
        self.sides = nn.ModuleList([nn.Conv2d(64, out_ch, 3, padding=1) for _ in range(6)])
        self.outconv = nn.Conv2d(6 * out_ch, out_ch, 1)

    def decode(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The decoder's outputs from fine to coarse (hx1d … hx5d, hx6), 64 channels each, at 1, 1/2 … 1/32."""
        pool = lambda t: F.max_pool2d(t, 2, stride=2, ceil_mode=True)  # noqa: E731
        hx1 = self.stage1(x)
        hx2 = self.stage2(pool(hx1))
        hx3 = self.stage3(pool(hx2))
        hx4 = self.stage4(pool(hx3))
        hx5 = self.stage5(pool(hx4))
        hx6 = self.stage6(pool(hx5))
        hx5d = self.stage5d(torch.cat((_upsample_like(hx6, hx5), hx5), 1))
        hx4d = self.stage4d(torch.cat((_upsample_like(hx5d, hx4), hx4), 1))
        hx3d = self.stage3d(torch.cat((_upsample_like(hx4d, hx3), hx3), 1))
        hx2d = self.stage2d(torch.cat((_upsample_like(hx3d, hx2), hx2), 1))
        hx1d = self.stage1d(torch.cat((_upsample_like(hx2d, hx1), hx1), 1))
        return hx1d, hx2d, hx3d, hx4d, hx5d, hx6

    def head(self, decoded: tuple[torch.Tensor, ...]) -> list[torch.Tensor]:
        """Fused logits first, then the six side logits, all at the input's resolution."""
        sides = [side(h) for side, h in zip(self.sides, decoded)]
        sides = [sides[0]] + [_upsample_like(s, sides[0]) for s in sides[1:]]
        fused = self.outconv(torch.cat(sides, 1))
        return [fused, *sides]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.head(self.decode(x))


def _conv_execution_order(model: nn.Module, size: int = 64) -> list[nn.Conv2d]:
    """Convolutions in the order a forward pass calls them (= the ONNX export's node order)."""
    order: list[nn.Conv2d] = []
    hooks = [m.register_forward_hook(lambda mod, *_: order.append(mod)) for m in model.modules() if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        model(torch.zeros(1, 3, size, size))
    for h in hooks:
        h.remove()
    return order


def load_onnx_weights(model: nn.Module, onnx_path: str, body_only: bool = False) -> None:
    """Copy an exported model's folded weights into ``model`` convolution by convolution: rembg's u2netp.onnx into
    a single-channel ``U2NetP``, one of our garment exports into a model of the same make (a ``U2NetP`` or a
    ``GroupedGarmentModel``), or with ``body_only`` the u2netp body of a grouped export into a ``U2NetP``
    (its group head is the export's last convolutions)."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(onnx_path).graph
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    onnx_convs = [n for n in graph.node if n.op_type == "Conv"]
    torch_convs = _conv_execution_order(model)
    if body_only:
        onnx_convs = onnx_convs[:len(torch_convs)]
    if len(onnx_convs) != len(torch_convs):
        raise ValueError(f"{onnx_path}: {len(onnx_convs)} convolutions, model has {len(torch_convs)}")
    with torch.no_grad():
        for node, conv in zip(onnx_convs, torch_convs):
            w = torch.from_numpy(inits[node.input[1]].copy())
            if w.shape != conv.weight.shape:
                raise ValueError(f"shape mismatch at {node.name}: {tuple(w.shape)} vs {tuple(conv.weight.shape)}")
            conv.weight.copy_(w)
            conv.bias.copy_(torch.from_numpy(inits[node.input[2]].copy()))


def widen_head(single: U2NetP, num_classes: int) -> U2NetP:
    """A ``num_classes`` model whose body is ``single``'s and whose head starts as its saliency map.

    Each foreground class starts from the pretrained saliency logit and background from its negation, so the
    first steps already separate person from scenery and training only has to learn the finer split.
    """
    multi = U2NetP(out_ch=num_classes)
    state = {k: v for k, v in single.state_dict().items() if not k.startswith(("sides.", "outconv."))}
    multi.load_state_dict(state, strict=False)
    with torch.no_grad():
        for s_multi, s_single in zip(multi.sides, single.sides):
            s_multi.weight[0] = -s_single.weight[0]
            s_multi.bias[0] = -s_single.bias[0]
            for c in range(1, num_classes):
                s_multi.weight[c] = s_single.weight[0]
                s_multi.bias[c] = s_single.bias[0]
        w = single.outconv.weight[0, :, 0, 0]
        multi.outconv.weight.zero_()
        for c in range(num_classes):
            for i in range(6):
                multi.outconv.weight[c, i * num_classes + c, 0, 0] = w[i]
        multi.outconv.bias.fill_(0.0)
        multi.outconv.bias[0] = -single.outconv.bias[0]
        multi.outconv.bias[1:] = single.outconv.bias[0]
    return multi
