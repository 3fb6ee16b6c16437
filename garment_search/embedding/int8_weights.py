"""int8 storage of a checkpoint's weight matrices: what lets four image towers fit the 40 MB weights budget.

Every floating tensor of two or more dimensions (convolution kernels, linear layers) is stored as int8 with one
float32 scale per output channel (symmetric, max-abs / 127), the rest (batch-norm statistics, temperature) as
they are — and so are depthwise convolution kernels (one input channel per output, e.g. MobileNet's): a few taps
per channel, few bytes in all, and in int8 they moved a MobileNetV2 member's image vectors to cosine 0.980 of
its float ones at worst (0.998 kept as they are; docs/benchmarks.md, "Pretrained image trunk"). Only storage
changes: loading expands the weights back to float32 before ``load_state_dict``, so the model computes in float
as before (measured drift in docs/benchmarks.md, "Ensemble").
"""

from __future__ import annotations

import torch

#: Key suffix of a quantised tensor's per-output-channel scales.
SCALE_SUFFIX = ".int8_scale"


def is_depthwise(weights: torch.Tensor) -> bool:
    """A depthwise convolution kernel: out × 1 × kh × kw."""
    return weights.ndim == 4 and weights.shape[1] == 1 and weights.shape[2] * weights.shape[3] > 1


def quantise(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """int8 weight matrices plus their scales (``key + SCALE_SUFFIX``); other tensors as they are."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if value.is_floating_point() and value.ndim >= 2 and not is_depthwise(value):
            weights = value.float()
            amax = weights.abs().flatten(1).amax(dim=1).clamp_min(1e-12)
            scale = amax / 127.0
            shape = (-1,) + (1,) * (weights.ndim - 1)
            out[key] = torch.round(weights / scale.view(shape)).clamp(-127, 127).to(torch.int8)
            out[key + SCALE_SUFFIX] = scale
        else:
            out[key] = value
    return out


def dequantise(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Float32 weights from ``quantise``'s output; a state_dict without int8 tensors comes back unchanged."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.endswith(SCALE_SUFFIX):
            continue
        scale = state.get(key + SCALE_SUFFIX)
        if scale is not None:
            out[key] = value.float() * scale.view((-1,) + (1,) * (value.ndim - 1))
        else:
            out[key] = value
    return out
