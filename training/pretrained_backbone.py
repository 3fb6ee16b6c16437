"""An ImageNet-descended image backbone we may use offline: nsfwjs's MobileNetV2, as timm ``mobilenetv2_100`` weights.

    npm pack nsfwjs@4.3.0          # the npm registry is reachable; model hubs are not
    python -m training.pretrained_backbone --tarball nsfwjs-4.3.0.tgz --out training/runs/backbones/mobilenetv2.pt
    python -m training.pretrained_backbone --tarball nsfwjs-4.3.0.tgz --input imagenet \
        --out training/runs/backbones/mobilenetv2-imagenet-input.pt

Why: no CLIP-family or ImageNet checkpoint can be downloaded here, and an image tower trained from scratch on 4,339
garment crops learns colours well but little else. The MIT-licensed npm package ``nsfwjs`` ships a Keras
MobileNetV2 (width 1.0, 224 px) that was fine-tuned from ImageNet weights to sort photos into five classes (drawing,
hentai, neutral, porn, sexy) — photos of people in clothes. Its early and middle layers keep ImageNet's edges,
textures and patterns; its last layers lean to its five classes. The weights travel as a base64 string inside a
JavaScript module, quantised to uint8 per tensor (≥ 9 levels per standard deviation in every tensor: harmless as an
initialisation), so ``node`` reads the modules and this script maps the 52 convolutions and their batch norms onto
timm's layout. The first convolution absorbs the difference between nsfwjs's input (pixels / 255) and the
normalisation of the model it joins (``--input``: CLIP's for an embedding member, ImageNet's for the garment
model's input), so it is fed exactly as the rest of that model. Keras pads stride-2 convolutions on the bottom
and right only and timm on every side: a half-pixel shift fine-tuning absorbs.

``training.embedding.train --model garment-minilm-mobilenetv2 --backbone <out>`` starts an embedding member's image
tower from it; ``training.segmentation.group_net`` its garment-group network.

``--from-ensemble`` takes the trunk of a trained MobileNetV2 embedding member instead (the same layout, trained on
garment crops against captions that name the garment), its stem refolded to ``--input``'s normalisation:

    python -m training.pretrained_backbone --from-ensemble models/garment_minilm_resnet18x2_mobilenetv2x2.pt \
        --member 2 --input imagenet --out training/runs/backbones/tower2-imagenet-input.pt
"""

from __future__ import annotations

import argparse
import base64
import json
import subprocess
import tarfile
import tempfile
from pathlib import Path

import numpy as np
import torch

MODEL_DIR = "package/dist/models/mobilenet_v2"
#: Input normalisations (mean, std) of the models a trunk joins: embedding members (open_clip's defaults) and the
#: garment segmentation model (rembg's).
INPUTS = {
    "clip": (np.array([0.48145466, 0.4578275, 0.40821073], np.float32),
             np.array([0.26862954, 0.26130258, 0.27577711], np.float32)),
    "imagenet": (np.array([0.485, 0.456, 0.406], np.float32), np.array([0.229, 0.224, 0.225], np.float32)),
}
#: nsfwjs's own input, pixels / 255, as a (mean, std) normalisation.
PIXELS = (np.zeros(3, np.float32), np.ones(3, np.float32))
KERAS_BN_EPS, TIMM_BN_EPS = 1e-3, 1e-5
#: Inverted-residual blocks per timm stage after the first (Keras numbers them block_1 … block_16).
STAGE_BLOCKS = (2, 3, 4, 3, 3, 1)

_READ_MODULES = """
const dir = process.argv[1];
const model = require(dir + "/model.min.js");
const shards = model.weightsManifest[0].paths.map(p => require(dir + "/" + p + ".min.js"));
process.stdout.write(JSON.stringify({manifest: model.weightsManifest[0], shards: shards}));
"""


def read_keras_weights(tarball: Path) -> dict[str, np.ndarray]:
    """Keras weight name → float32 array, dequantised, from the npm tarball (``node`` evaluates its modules)."""
    with tempfile.TemporaryDirectory() as tmp, tarfile.open(tarball) as tar:
        members = [m for m in tar.getmembers() if m.name.startswith(MODEL_DIR + "/")]
        if not members:
            raise SystemExit(f"{tarball} has no {MODEL_DIR}: is it the nsfwjs npm package?")
        tar.extractall(tmp, members=members, filter="data")
        out = subprocess.run(["node", "-e", _READ_MODULES, str(Path(tmp) / MODEL_DIR)], check=True,
                             capture_output=True, text=True).stdout
    data = json.loads(out)
    blob = b"".join(base64.b64decode(s) for s in data["shards"])
    weights, offset = {}, 0
    for spec in data["manifest"]["weights"]:
        count = int(np.prod(spec["shape"]))
        q = spec.get("quantization")
        if q:
            if q["dtype"] != "uint8":
                raise SystemExit(f"unexpected quantisation {q['dtype']} for {spec['name']}")
            values = np.frombuffer(blob, np.uint8, count, offset).astype(np.float32) * q["scale"] + q["min"]
            offset += count
        else:
            values = np.frombuffer(blob, np.float32, count, offset).copy()
            offset += 4 * count
        weights[spec["name"]] = values.reshape(spec["shape"])
    if offset != len(blob):
        raise SystemExit(f"read {offset} of {len(blob)} weight bytes: the manifest does not describe the shards")
    return weights


def timm_state_dict(keras: dict[str, np.ndarray], mean: np.ndarray, std: np.ndarray) -> dict[str, torch.Tensor]:
    """timm ``mobilenetv2_100`` (``num_classes=0``) weights from Keras MobileNetV2's, for input normalised as
    (pixels / 255 − ``mean``) / ``std`` (the normalisation folded into the stem)."""
    sd: dict[str, torch.Tensor] = {}

    def conv(key: str, name: str) -> None:  # Keras HWIO → torch OIHW
        sd[key] = torch.from_numpy(np.ascontiguousarray(keras[name + "/kernel"].transpose(3, 2, 0, 1)))

    def depthwise(key: str, name: str) -> None:  # Keras H×W×C×1 → torch C×1×H×W
        k = keras[name + "/depthwise_kernel"]
        sd[key] = torch.from_numpy(np.ascontiguousarray(k.transpose(2, 3, 0, 1).reshape(-1, 1, *k.shape[:2])))

    def norm(key: str, name: str) -> None:
        sd[key + ".weight"] = torch.from_numpy(keras[name + "/gamma"])
        sd[key + ".bias"] = torch.from_numpy(keras[name + "/beta"])
        sd[key + ".running_mean"] = torch.from_numpy(keras[name + "/moving_mean"].copy())
        sd[key + ".running_var"] = torch.from_numpy(keras[name + "/moving_variance"] + KERAS_BN_EPS - TIMM_BN_EPS)

    conv("conv_stem.weight", "Conv1")
    norm("bn1", "bn_Conv1")
    depthwise("blocks.0.0.conv_dw.weight", "expanded_conv_depthwise")
    norm("blocks.0.0.bn1", "expanded_conv_depthwise_BN")
    conv("blocks.0.0.conv_pw.weight", "expanded_conv_project")
    norm("blocks.0.0.bn2", "expanded_conv_project_BN")
    number = 1
    for stage, blocks in enumerate(STAGE_BLOCKS, start=1):
        for block in range(blocks):
            key, name = f"blocks.{stage}.{block}", f"block_{number}"
            conv(key + ".conv_pw.weight", name + "_expand")
            norm(key + ".bn1", name + "_expand_BN")
            depthwise(key + ".conv_dw.weight", name + "_depthwise")
            norm(key + ".bn2", name + "_depthwise_BN")
            conv(key + ".conv_pwl.weight", name + "_project")
            norm(key + ".bn3", name + "_project_BN")
            number += 1
    conv("conv_head.weight", "Conv_1")
    norm("bn2", "Conv_1_bn")
    return refold_stem(sd, PIXELS, (mean, std))  # nsfwjs reads pixels / 255


def refold_stem(state: dict[str, torch.Tensor], trained_on: tuple[np.ndarray, np.ndarray],
                wanted: tuple[np.ndarray, np.ndarray]) -> dict[str, torch.Tensor]:
    """A trunk trained on input normalised as (pixels / 255 − mean) / std with ``trained_on``'s (mean, std), made
    to take ``wanted``'s: the stem reads x_trained = x_wanted · (std_wanted / std_trained) + (mean_wanted −
    mean_trained) / std_trained, so its kernel is scaled per input channel and the constant term (kernel · shift)
    moves into its batch norm's running mean."""
    (m_from, s_from), (m_to, s_to) = trained_on, wanted
    kernel = state["conv_stem.weight"]
    scale = torch.from_numpy(s_to / s_from)[None, :, None, None]
    shift = torch.from_numpy((m_to - m_from) / s_from)[None, :, None, None]
    out = dict(state)
    out["conv_stem.weight"] = kernel * scale
    out["bn1.running_mean"] = state["bn1.running_mean"] - (kernel * shift).sum(dim=(1, 2, 3))
    return out


def ensemble_member_trunk(path: Path, member: int) -> dict[str, torch.Tensor]:
    """The float32 image trunk of one member of an embedding ensemble checkpoint (``training.embedding.ensemble``)."""
    from garment_search.embedding.int8_weights import dequantise

    state = dequantise(torch.load(path, map_location="cpu", weights_only=False)["state_dict"])
    prefix = f"visual.members.{member}.trunk."
    trunk = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    if "conv_stem.weight" not in trunk:
        raise SystemExit(f"member {member} of {path} has no MobileNet-style trunk (conv_stem)")
    return trunk


def load_trunk(trunk: torch.nn.Module, path: Path) -> None:
    """Load weights written by this script into a timm MobileNetV2 trunk: a whole one, or a features-only one (which
    has no use for the classifier-side layers); any weight the trunk lacks in the file is an error."""
    missing, _ = trunk.load_state_dict(torch.load(path, map_location="cpu"), strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing:
        raise SystemExit(f"{path} is not a mobilenetv2_100 trunk: missing {missing[:3]}")


def trunk_and_rest(module: torch.nn.Module) -> tuple[list[torch.nn.Parameter], list[torch.nn.Parameter]]:
    """The trainable parameters of ``module.trunk`` (frozen ones left out) and every parameter outside it: the two
    optimiser groups of a pretrained trunk, which learns slower than what is new around it."""
    trunk = [p for p in module.trunk.parameters() if p.requires_grad]
    return trunk, [p for n, p in module.named_parameters() if not n.startswith("trunk.")]


def freeze_early_layers(trunk: torch.nn.Module, blocks: int) -> list[torch.nn.Module]:
    """Freeze a timm MobileNet-style trunk's stem and first ``blocks`` stages (weights and batch-norm statistics):
    a pretrained start keeps its low-level filters on a small training set, and the high-resolution layers — most
    of the backward pass — are skipped. Returns the frozen modules, to be put back in eval mode after every
    ``model.train()``."""
    if blocks <= 0:
        return []
    if not hasattr(trunk, "conv_stem"):
        raise SystemExit("--freeze-blocks needs a MobileNet-style trunk (conv_stem, bn1, blocks)")
    frozen = [trunk.conv_stem, trunk.bn1, *list(trunk.blocks)[:blocks]]
    for module in frozen:
        module.requires_grad_(False)
    return frozen


def train_mode(model: torch.nn.Module, frozen: list[torch.nn.Module]) -> None:
    """``model.train()`` with the ``frozen`` modules left in eval mode: their batch norms keep the statistics they
    were given instead of drifting towards the training batches."""
    model.train()
    for module in frozen:
        module.eval()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = ap.add_mutually_exclusive_group(required=True)
    source.add_argument("--tarball", type=Path, help="the nsfwjs npm tarball (npm pack nsfwjs@4.3.0)")
    source.add_argument("--from-ensemble", type=Path, help="an embedding ensemble checkpoint whose --member is a "
                        "MobileNetV2 tower (trained on CLIP-normalised input)")
    ap.add_argument("--member", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("training/runs/backbones/mobilenetv2.pt"))
    ap.add_argument("--input", choices=sorted(INPUTS), default="clip",
                    help="the normalisation of the model the trunk joins (clip: embedding, imagenet: segmentation)")
    args = ap.parse_args()
    import timm

    if args.tarball:
        state = timm_state_dict(read_keras_weights(args.tarball), *INPUTS[args.input])
    else:
        state = refold_stem(ensemble_member_trunk(args.from_ensemble, args.member), INPUTS["clip"], INPUTS[args.input])
    model = timm.create_model("mobilenetv2_100", pretrained=False, num_classes=0)
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise SystemExit(f"layout mismatch: missing {missing[:5]}, unexpected {unexpected[:5]}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), args.out)
    print(f"wrote {args.out}: timm mobilenetv2_100, {sum(v.numel() for v in state.values()):,} values", flush=True)


if __name__ == "__main__":
    main()
