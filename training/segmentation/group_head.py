"""Group head: re-decide which garment group (upper / lower / one-piece) each garment pixel belongs to.

    python -m training.segmentation.group_head --run training/runs/head --init models/garment_u2netp.onnx
    python -m training.segmentation.export --init models/garment_u2netp.onnx \
        --group-head training/runs/head/head.pt --out /tmp/garment_grouped.onnx

u2netp's own head is linear in each decoder stage (a 3×3 convolution per stage, a 1×1 fuse): a pixel of a skirt
cannot be told from a dress hem by what the garment *above* it is. This head reads every decoder stage at 1/4
resolution together with the photo's pooled deepest features (what the whole outfit looks like) and the body's
own answer, and decides the group of garment pixels only; garment-versus-background stays the body's
(its IoU is the segmentation issue's, 0.88). The body is frozen, so its features are computed once per
augmented sample and only the head trains (~1 min per epoch on 2 free cores); a checkpoint is written at every epoch end and a
rerun resumes. The exported model keeps the shipped interface (background + group probabilities).
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from garment_search.segmentation.groups import CLASS_NAMES, GARMENT_GROUPS
from training.checkpoint import Checkpoint, optimiser_step
from training.segmentation.data import TRAIN_IDS, VAL_IDS, CCPSegmentation
from training.segmentation.u2netp import U2NetP, load_onnx_weights

STAGE_CHANNELS = 64
SCALE = 4  # the head works at 1/SCALE of the model input
CONTEXT_STAGES = (4, 5)  # hx5d and hx6, averaged over the photo: the outfit as a whole
INPUT_HW = (320, 240)  # the shipped model's input (height, width)


class GroupHead(nn.Module):
    """Per-pixel group logits (len(GARMENT_GROUPS) channels) at 1/SCALE resolution from ``features``."""

    def __init__(self, hidden: int = 96, groups: int = len(GARMENT_GROUPS)) -> None:
        super().__init__()
        in_ch = STAGE_CHANNELS * (6 + len(CONTEXT_STAGES)) + len(CLASS_NAMES)
        self.mix = nn.Conv2d(in_ch, hidden, 1)
        self.spatial = nn.Conv2d(hidden, hidden, 3, padding=1)
        self.out = nn.Conv2d(hidden, groups, 1)
        self.drop = nn.Dropout2d(0.1)

    @staticmethod
    def features(decoded: tuple[torch.Tensor, ...], fused: torch.Tensor) -> torch.Tensor:
        """Decoder stages resampled to 1/SCALE, pooled context broadcast, and the body's own probabilities."""
        size = decoded[0].shape[2] // SCALE, decoded[0].shape[3] // SCALE
        maps = []
        for d in (*decoded, fused.softmax(1)):
            factor = d.shape[2] // size[0]
            if factor > 1:
                maps.append(F.avg_pool2d(d, factor))
            elif d.shape[2:] == size:
                maps.append(d)
            else:
                maps.append(F.interpolate(d, size=size, mode="bilinear", align_corners=False))
        context = [decoded[i].mean((2, 3), keepdim=True).expand(-1, -1, *size) for i in CONTEXT_STAGES]
        return torch.cat(maps[:-1] + context + maps[-1:], 1)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return self.out(self.drop(F.relu(self.spatial(F.relu(self.mix(feats))))))


class GroupedGarmentModel(nn.Module):
    """Body + group head → probabilities (background, *groups) at the input's resolution, as the shipped ONNX."""

    def __init__(self, body: U2NetP, head: GroupHead) -> None:
        super().__init__()
        self.body, self.head = body, head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        decoded = self.body.decode(x)
        fused = self.body.head(decoded)[0]
        background = fused.softmax(1)[:, :1]
        groups = F.interpolate(self.head(GroupHead.features(decoded, fused)), size=x.shape[2:], mode="bilinear",
                               align_corners=False).softmax(1)
        return torch.cat([background, (1 - background) * groups], 1)


def load_body(onnx_path: str) -> U2NetP:
    """The u2netp body of an exported garment model (a grouped export's head is left out)."""
    body = U2NetP(out_ch=len(CLASS_NAMES))
    load_onnx_weights(body, onnx_path, body_only=True)
    return body.eval()


@torch.no_grad()
def cached_features(body: U2NetP, data: CCPSegmentation, passes: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(features fp16, group targets at 1/SCALE with -1 off garments) for ``passes`` augmented views of
    every sample; views without any garment pixel are skipped."""
    feats, targets = [], []
    t0 = time.time()
    for p in range(passes):
        data.set_epoch_seed(seed + p)
        for i in range(len(data)):
            x, y = data[i]
            decoded = body.decode(x[None])
            fused = body.head(decoded)[0]
            target = F.interpolate(y[None, None].float(), scale_factor=1 / SCALE, mode="nearest")[0, 0].long() - 1
            if (target >= 0).any():
                feats.append(GroupHead.features(decoded, fused)[0].half())
                targets.append(target)
        print(f"features pass {p + 1}/{passes}: {len(feats)} samples, {time.time() - t0:.0f} s", flush=True)
    return torch.stack(feats), torch.stack(targets)


@torch.no_grad()
def group_iou(head: GroupHead, feats: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
    """Per-group IoU among labelled garment pixels at head resolution, head vs the body's own argmax."""
    head.eval()
    body_pred = feats[:, -len(CLASS_NAMES) + 1:].float().argmax(1)  # the body's group probabilities
    head_pred = torch.cat([head(feats[i:i + 32].float()).argmax(1) for i in range(0, len(feats), 32)])
    out = {}
    on = targets >= 0
    for name, pred in (("body", body_pred), ("head", head_pred)):
        for g, group in enumerate(GARMENT_GROUPS):
            inter = ((pred == g) & (targets == g) & on).sum()
            union = (((pred == g) & on) | (targets == g)).sum()
            out[f"{name} {group}"] = float(inter / max(union, 1))
    head.train()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ccp", type=Path, default=Path("../shared/datasets/ccp"))
    ap.add_argument("--run", type=Path, default=Path("training/runs/head"))
    ap.add_argument("--init", default="models/garment_u2netp.onnx", help="the garment model whose body is used")
    ap.add_argument("--passes", type=int, default=2, help="augmented views of each training photo")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    args.run.mkdir(parents=True, exist_ok=True)

    body = load_body(args.init)
    train = CCPSegmentation(args.ccp, TRAIN_IDS, INPUT_HW, train=True, negative_share=0.0)
    val = CCPSegmentation(args.ccp, VAL_IDS, INPUT_HW, train=False)
    train_x, train_y = cached_features(body, train, args.passes, args.seed)
    val_x, val_y = cached_features(body, val, 1, 0)

    head = GroupHead()
    opt = torch.optim.AdamW(head.parameters(), lr=args.lr, weight_decay=1e-3)
    steps_per_epoch = math.ceil(len(train_x) / args.batch)
    total = steps_per_epoch * args.epochs
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
    checkpoint = Checkpoint(args.run / "checkpoint.pt", head, opt, sched)
    step = checkpoint.resume()
    head.train()
    while step < total:
        epoch = step // steps_per_epoch
        order = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(args.seed + epoch))
        running = 0.0
        for b in range(step % steps_per_epoch, steps_per_epoch):
            idx = order[b * args.batch:(b + 1) * args.batch]
            loss = F.cross_entropy(head(train_x[idx].float()), train_y[idx], ignore_index=-1)
            running += optimiser_step(loss, opt, sched)
            step += 1
        checkpoint.save(step)
        scores = group_iou(head, val_x, val_y)
        print(f"epoch {epoch + 1}/{args.epochs} loss {running / steps_per_epoch:.4f} "
              + " ".join(f"{k} {v:.3f}" for k, v in scores.items()), flush=True)
    torch.save(head.state_dict(), args.run / "head.pt")
    print(f"wrote {args.run / 'head.pt'}", flush=True)


if __name__ == "__main__":
    main()
