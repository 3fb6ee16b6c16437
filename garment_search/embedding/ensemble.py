"""Several independently trained models served as one: the mean of their cosine similarities.

Models trained independently (other seeds, other recipes) are wrong in different places, so averaging their
similarities ranks better than any one of them (docs/benchmarks.md, "Ensemble"). Search only ever encodes text, and every member
shares the frozen text transformer, so a query still costs one transformer pass: the members differ in their
image towers and their text projections only. Each member's vector is normalised and the concatenation divided
by √K, so the dot product of an ensemble image and text vector is exactly the mean of the members' cosines and
every open_clip caller (``encode_image``, ``encode_text``, the ONNX export) gets it unchanged.

An ensemble model config (in ``model_configs/``) names the member config and the count:
``{"ensemble": {"member": "garment-minilm-resnet18", "members": 3}}``, or each member's config when they differ
(towers of other architectures that read other things well, against the same text tower):
``{"ensemble": {"members": ["garment-minilm-resnet18", "garment-minilm-mobilenetv2"]}}`` (the served one: two of
each). Its own ``query_vocabulary``, when given, says which caption words its members were trained on
(``query_vocabulary.py``). Members may read different input sizes (a pretrained trunk reads detail best near its
own scale): the ensemble is then fed at the largest, and each smaller member gets the batch resized to its own.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn


class MemberEnsemble(nn.Module):
    """Runs every member on the same input; returns their normalised outputs side by side, divided by √K.
    ``sizes``: each member's input side, where they differ (image towers); a batch of another side is resized
    (bilinear, antialiased) for that member."""

    def __init__(self, members: list[nn.Module], sizes: list[int] | None = None) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)
        self.sizes = sizes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        sizes = self.sizes or [None] * len(self.members)
        outs = [nn.functional.normalize(member(fit_side(x, size)), dim=-1) for member, size in zip(self.members, sizes)]
        return torch.cat(outs, dim=-1) / math.sqrt(len(outs))


def fit_side(x: torch.Tensor, size: int | None) -> torch.Tensor:
    """An N×C×H×W batch resized to ``size``×``size`` (unchanged when it already is, or when ``size`` is None)."""
    if size is None or tuple(x.shape[-2:]) == (size, size):
        return x
    return nn.functional.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)


def widen(model: nn.Module, members: int, visuals: list[nn.Module | None] | None = None,
          sizes: list[int] | None = None) -> nn.Module:
    """Turn a one-member open_clip model (Hugging Face text tower) into a ``members``-wide ensemble in place:
    ``model.visual`` and ``model.text.proj`` become ``MemberEnsemble``s of copies (weights loaded afterwards).
    ``visuals``: the image towers of members 1…, where one is built from another config (None: a copy);
    ``sizes``: every member's input side, where they differ."""
    others = visuals or [None] * (members - 1)
    model.visual = MemberEnsemble([model.visual] + [v if v is not None else copy.deepcopy(model.visual)
                                                    for v in others], sizes)
    proj = model.text.proj
    model.text.proj = MemberEnsemble([proj] + [copy.deepcopy(proj) for _ in range(members - 1)])
    return model


#: Parameter prefixes of what differs between members; everything else (the temperature) is the first member's.
MEMBER_PREFIXES = ("visual.", "text.proj.")


def merge_state_dicts(members: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """One ensemble state_dict from member state_dicts, keys as ``widen`` lays them out."""
    merged: dict[str, torch.Tensor] = {}
    for i, state in enumerate(members):
        for key, value in state.items():
            prefix = next((p for p in MEMBER_PREFIXES if key.startswith(p)), None)
            if prefix:
                merged[f"{prefix}members.{i}.{key[len(prefix):]}"] = value
            elif i == 0:
                merged[key] = value
    return merged


def member_state_dict(merged: dict[str, torch.Tensor], index: int) -> dict[str, torch.Tensor]:
    """Member ``index``'s state_dict out of an ensemble's (the inverse of ``merge_state_dicts``)."""
    out: dict[str, torch.Tensor] = {}
    for key, value in merged.items():
        prefix = next((p for p in MEMBER_PREFIXES if key.startswith(p + "members.")), None)
        if prefix is None:
            out[key] = value
            continue
        number, _, rest = key[len(prefix + "members."):].partition(".")
        if int(number) == index:
            out[prefix + rest] = value
    return out
