"""Group network: a pretrained MobileNetV2 decides which garment group each garment pixel belongs to.

    python -m training.pretrained_backbone --tarball nsfwjs-4.3.0.tgz --input imagenet \
        --out training/runs/backbones/mobilenetv2-imagenet-input.pt
    python -m training.segmentation.group_net --run training/runs/groupnet --epochs 16
    python -m training.segmentation.export --init models/garment_u2netp.onnx \
        --group-net training/runs/groupnet/group_net.pt --out /tmp/garment_groupnet.onnx

Why: the garment model finds garments well (IoU 0.88) but splits them into groups poorly (upper / lower /
one-piece 0.72 / 0.66 / 0.47 with TTA), and ``keep=product`` is only as good as that split (a perfect split of the
same garment mask would reach product IoU 0.96; docs/benchmarks.md). Whether a skirt is a skirt or a dress's
hem is a question about the whole outfit, and u2netp — a saliency network trained from scratch on 600 photos —
has no such knowledge; the group head on its features could not learn it (docs/benchmarks.md, "Group head").
This network starts from ImageNet-descended features (``training.pretrained_backbone``: nsfwjs's MobileNetV2,
trained on photos of dressed people) and adds a small top-down decoder (1/32 → 1/16 → 1/8, plus the photo's
pooled deepest features as context). It is trained on CCP 0001–0600 on labelled garment pixels only
(cross-entropy over the three groups; everything else is ignored) and exported behind the u2netp body: the body
keeps deciding garment-versus-rest, the network re-splits the garment probability between the groups, so the
file keeps the shipped interface (background + three group probabilities, any input size, test-time
augmentation as before). Its stem and first three stages stay as pretrained (``--freeze-blocks``).
``--photo-weight`` adds a training-only photo head (is the photo's outfit mostly a one-piece?) on the pooled
features that give every pixel its context, because the one-piece errors are whole-garment decisions — a dress read
as a top over a skirt, and back. Off by default: at 0.5 it was refused (docs/benchmarks.md, "Four group networks, a
photo head, and where the per-group IoU is lost").
``--garment-weight`` adds a garment head: one more output channel, garment versus everything else, trained by
binary cross-entropy on every pixel (head coverings weighed ``--head-covering-weight``), because the u2netp body
keeps half of the scarves and hijabs it sees — a scarf draped over a top looks like the top to a network that
learned saliency from scratch; a trunk that has seen ImageNet may know a scarf. ``export --garment-weight`` blends
its garment probability with the body's. Off by default: refused in stop 23 — the heads keep as many head
coverings as the body (docs/benchmarks.md, "A garment head on the group networks").
Fixed seeds; a checkpoint every ``--save-every`` steps and at each epoch's end; a rerun resumes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from garment_search.segmentation.groups import GARMENT_GROUPS, ONE_PIECE
from training.checkpoint import Checkpoint, optimiser_step
from training.pretrained_backbone import freeze_early_layers, load_trunk, train_mode, trunk_and_rest
from training.progress import StepLog
from training.schedule import WarmupCosine
from training.segmentation.data import HARD_NEGATIVE, CCPSegmentation, split_ids
from training.segmentation.train import BatchStream
from training.segmentation.u2netp import U2NetP

INPUT_HW = (320, 240)  # the garment model's trained input (height, width)
TRUNK = "mobilenetv2_100"
FEATURE_STAGES = (2, 3, 4)  # timm feature indices: 1/8 (32 ch), 1/16 (96 ch), 1/32 (320 ch)
PHOTO_HEAD = "photo."  # state-dict prefix of the training-only photo head
#: A photo counts as "mostly a one-piece" for the photo head when one-piece labels cover this share of its
#: labelled garment pixels (a dress under a cardigan counts; a romper's strap beside a top does not).
ONE_PIECE_PHOTO_SHARE = 0.15


class GroupNet(nn.Module):
    """Group logits (``len(GARMENT_GROUPS)`` channels) at 1/8 of the input from a MobileNetV2 trunk. With
    ``photo_head`` it also answers, from the pooled deepest features that give every pixel its context, whether the
    photo's garments are mostly a one-piece — a training-only head (``PHOTO_HEAD`` keys are not saved), which
    teaches that context the outfit-level decision a dress or a top over a skirt."""

    def __init__(self, width: int = 64, photo_head: bool = False, garment_head: bool = False) -> None:
        super().__init__()
        import timm

        self.trunk = timm.create_model(TRUNK, pretrained=False, features_only=True, out_indices=FEATURE_STAGES)
        channels = self.trunk.feature_info.channels()
        self.lateral = nn.ModuleList(nn.Conv2d(c, width, 1) for c in channels)
        self.context = nn.Linear(channels[-1], width)
        self.out = nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
                                 nn.Dropout2d(0.1), nn.Conv2d(width, len(GARMENT_GROUPS) + garment_head, 1))
        self.photo = nn.Linear(channels[-1], 1) if photo_head else None

    @property
    def garment_head(self) -> bool:
        """Whether the last layer has the garment channel after the groups' (read from its shape)."""
        return self.out[-1].out_channels > len(GARMENT_GROUPS)

    @classmethod
    def from_state(cls, state: dict[str, torch.Tensor]) -> GroupNet:
        """A network shaped like the one that saved ``state`` (with or without a garment head), loaded."""
        net = cls(garment_head=state["out.4.weight"].shape[0] > len(GARMENT_GROUPS))
        net.load_state_dict(state)
        return net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits_and_photo(x)[0]

    def logits_and_photo(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Group logits (then the garment logit, with a garment head), and the photo head's one-piece logit per
        photo (None without the head)."""
        fine, middle, coarse = self.trunk(x)
        pooled = coarse.mean((2, 3))
        top = self.lateral[2](coarse) + self.context(pooled)[:, :, None, None]
        up = lambda a, like: F.interpolate(F.relu(a), size=like.shape[2:], mode="bilinear",  # noqa: E731
                                           align_corners=False)
        mid = self.lateral[1](middle) + up(top, middle)
        logits = self.out(F.relu(self.lateral[0](fine) + up(mid, fine)))
        return logits, None if self.photo is None else self.photo(pooled)[:, 0]

    def served_state(self) -> dict[str, torch.Tensor]:
        """The weights the exported model needs (the training-only photo head left out), on the CPU."""
        return {k: v.cpu() for k, v in self.state_dict().items() if not k.startswith(PHOTO_HEAD)}


class GroupNetGarmentModel(nn.Module):
    """u2netp body (garment or not) + group networks (which group) → probabilities (background, *groups) at the
    input's resolution, as the shipped ONNX. The networks' group distributions are averaged; ``net_weight`` below 1
    blends that with the body's own (its group probabilities renormalised). ``garment_weight`` above 0 blends the
    background probability too: that share from the mean of the networks' garment heads, the rest the body's."""

    def __init__(self, body: U2NetP, groups: GroupNet | list[GroupNet], net_weight: float = 1.0,
                 garment_weight: float = 0.0) -> None:
        super().__init__()
        self.body, self.net_weight, self.garment_weight = body, net_weight, garment_weight
        self.groups = nn.ModuleList(groups if isinstance(groups, list) else [groups])
        if garment_weight > 0 and not all(net.garment_head for net in self.groups):
            raise ValueError("a garment weight needs group networks trained with a garment head")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        probs = torch.softmax(self.body(x)[0], dim=1)
        background = probs[:, :1]
        logits = [F.interpolate(net(x), size=x.shape[2:], mode="bilinear", align_corners=False) for net in self.groups]
        split = torch.stack([one[:, :len(GARMENT_GROUPS)].softmax(1) for one in logits]).mean(0)
        if self.garment_weight > 0:
            theirs = torch.stack([torch.sigmoid(-one[:, len(GARMENT_GROUPS):]) for one in logits]).mean(0)
            background = (1 - self.garment_weight) * background + self.garment_weight * theirs
        if self.net_weight < 1:
            own = probs[:, 1:] / probs[:, 1:].sum(1, keepdim=True).clamp_min(1e-6)
            split = self.net_weight * split + (1 - self.net_weight) * own
        return torch.cat([background, (1 - background) * split], 1)


def group_targets(target: torch.Tensor) -> torch.Tensor:
    """Class map (0 background, 1… groups, HARD_NEGATIVE) → group index on garment pixels, -1 (ignored)
    elsewhere."""
    garment = (target > 0) & (target <= len(GARMENT_GROUPS))
    return torch.where(garment, target - 1, torch.full_like(target, -1))


def group_loss(logits: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the groups on labelled garment pixels, logits brought to the target's resolution."""
    logits = F.interpolate(logits[:, :len(GARMENT_GROUPS)], size=target.shape[-2:], mode="bilinear",
                           align_corners=False)
    return F.cross_entropy(logits, group_targets(target), weight=weights, ignore_index=-1)


def garment_loss(logits: torch.Tensor, target: torch.Tensor, head_covering_weight: float) -> torch.Tensor:
    """Binary cross-entropy of the garment head on every pixel (garment = any group), HARD_NEGATIVE pixels (head
    coverings) weighed ``head_covering_weight``; the weighted mean over pixels."""
    logits = F.interpolate(logits[:, len(GARMENT_GROUPS):], size=target.shape[-2:], mode="bilinear",
                           align_corners=False)[:, 0]
    garment = (group_targets(target) >= 0).float()
    weights = torch.where(target == HARD_NEGATIVE, head_covering_weight, 1.0)
    losses = F.binary_cross_entropy_with_logits(logits, garment, reduction="none")
    return (losses * weights).sum() / weights.sum()


def one_piece_photos(target: torch.Tensor) -> torch.Tensor:
    """Per photo of a batch of class maps: 1.0 where one-piece covers ``ONE_PIECE_PHOTO_SHARE`` of the labelled
    garment pixels, else 0.0 (photos without garment pixels: 0.0)."""
    garment = (target > 0).flatten(1).sum(1)
    one_piece = (target == ONE_PIECE).flatten(1).sum(1)
    return ((garment > 0) & (one_piece >= ONE_PIECE_PHOTO_SHARE * garment)).float()


def training_loss(net: GroupNet, x: torch.Tensor, target: torch.Tensor, weights: torch.Tensor,
                  photo_weight: float, garment_weight: float = 0.0, head_covering_weight: float = 1.0) -> torch.Tensor:
    """The pixel loss, plus ``photo_weight`` × the photo head's binary cross-entropy when the net has one, plus
    ``garment_weight`` × the garment head's when it has that."""
    logits, photo = net.logits_and_photo(x)
    loss = group_loss(logits, target, weights)
    if net.garment_head and garment_weight > 0:
        loss = loss + garment_weight * garment_loss(logits, target, head_covering_weight)
    if photo is not None and photo_weight > 0:
        loss = loss + photo_weight * F.binary_cross_entropy_with_logits(photo, one_piece_photos(target))
    return loss


@torch.no_grad()
def group_iou(net: GroupNet, data: CCPSegmentation) -> dict[str, float]:
    """Per-group IoU among labelled garment pixels at the input resolution (the split alone: garment pixels are
    the labels', so this is not the served IoU, which ``training.segmentation.evaluate`` measures); with a garment
    head also its own garment IoU and the share of head-covering pixels (HARD_NEGATIVE in ``data``'s targets) it
    calls garment. Leaves ``net`` in eval mode."""
    net.eval()
    device = next(net.parameters()).device
    inter = torch.zeros(len(GARMENT_GROUPS), device=device)
    union = torch.zeros(len(GARMENT_GROUPS), device=device)
    garment_sums = torch.zeros(4, device=device)  # garment ∩, garment ∪, head coverings kept, head coverings
    for i in range(len(data)):
        x, y = (t.to(device) for t in data[i])
        target = group_targets(y)
        logits = F.interpolate(net(x[None]), size=y.shape, mode="bilinear", align_corners=False)[0]
        pred = logits[:len(GARMENT_GROUPS)].argmax(0)
        on = target >= 0  # labelled garment pixels
        if net.garment_head:
            kept, head = logits[len(GARMENT_GROUPS)] > 0, y == HARD_NEGATIVE
            garment_sums += torch.stack([(kept & on).sum(), (kept | on).sum(), (kept & head).sum(), head.sum()])
        for g in range(len(GARMENT_GROUPS)):
            inter[g] += ((pred == g) & (target == g) & on).sum()
            union[g] += (((pred == g) & on) | (target == g)).sum()
    scores = {group: float(inter[g] / max(union[g], 1)) for g, group in enumerate(GARMENT_GROUPS)}
    if net.garment_head:
        scores["garment"] = float(garment_sums[0] / garment_sums[1].clamp_min(1))
        scores["head_coverings_kept"] = float(garment_sums[2] / garment_sums[3].clamp_min(1))
    return scores


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ccp", type=Path, default=Path("../shared/datasets/ccp"))
    ap.add_argument("--run", type=Path, default=Path("training/runs/groupnet"))
    ap.add_argument("--backbone", type=Path, default=Path("training/runs/backbones/mobilenetv2-imagenet-input.pt"),
                    help="pretrained trunk for ImageNet-normalised input (training.pretrained_backbone --input "
                    "imagenet)")
    ap.add_argument("--epochs", type=int, default=16)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--backbone-lr-mult", type=float, default=0.25)
    ap.add_argument("--freeze-blocks", type=int, default=3)
    ap.add_argument("--group-weights", default="1,1,1.5", help="loss weight per group: " + ",".join(GARMENT_GROUPS))
    ap.add_argument("--photo-weight", type=float, default=0.0,
                    help="weight of the training-only photo head's loss (is the photo mostly a one-piece?); 0: none")
    ap.add_argument("--garment-weight", type=float, default=0.0,
                    help="weight of a garment head's loss (garment versus everything else, every pixel); 0: no head")
    ap.add_argument("--head-covering-weight", type=float, default=1.0,
                    help="loss weight of head-covering pixels (scarves, hijabs, hats) in the garment head's loss")
    ap.add_argument("--save-every", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--workers", type=int, default=0, help="data-loading processes (0: augment in the training loop)")
    ap.add_argument("--cache-height", type=int, default=480, help="height the photos are kept at before cropping")
    ap.add_argument("--extra-ccp", type=Path,
                    help="also train on every photo of this folder in CCP's layout (training.segmentation.flat_lays: "
                    "lone garments, which worn photos never show)")
    ap.add_argument("--fold", help="K/N: train on the training photos outside cross-validation fold K of N and "
                    "validate on that fold (out-of-fold maps for studying split rules; see data.fold_ids)")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    args.run.mkdir(parents=True, exist_ok=True)

    train_ids, val_ids = split_ids(args.fold)
    train = CCPSegmentation(args.ccp, train_ids, INPUT_HW, train=True, cache_height=args.cache_height,
                            negative_share=0.0, extra=args.extra_ccp,
                            hard_negatives=args.garment_weight > 0 and args.head_covering_weight != 1)
    val = CCPSegmentation(args.ccp, val_ids, INPUT_HW, train=False, cache_height=args.cache_height,
                          hard_negatives=True)
    net = GroupNet(photo_head=args.photo_weight > 0, garment_head=args.garment_weight > 0)
    load_trunk(net.trunk, args.backbone)
    frozen = freeze_early_layers(net.trunk, args.freeze_blocks)
    weights = torch.tensor([float(v) for v in args.group_weights.split(",")])
    if len(weights) != len(GARMENT_GROUPS):
        ap.error(f"--group-weights needs {len(GARMENT_GROUPS)} values")
    device = torch.device(args.device)
    net.to(device)
    weights = weights.to(device)
    trunk, rest = trunk_and_rest(net)
    opt = torch.optim.AdamW([{"params": trunk, "lr": args.lr * args.backbone_lr_mult},
                             {"params": rest, "lr": args.lr}], weight_decay=1e-4)
    steps_per_epoch = len(train) // args.batch
    schedule = WarmupCosine(steps_per_epoch, args.epochs, warmup=30, floor=0.03)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    checkpoint = Checkpoint(args.run / "checkpoint.pt", net, opt, sched)
    step = checkpoint.resume()

    stream = BatchStream(train, args.batch, args.workers)
    train_mode(net, frozen)
    log = StepLog(schedule, args.batch, checkpoint, args.save_every)
    while step < schedule.total:
        epoch = step // steps_per_epoch
        for xs, ys in stream.rest_of_epoch(step, steps_per_epoch, args.seed):
            xs, ys = xs.to(device, non_blocking=True), ys.to(device, non_blocking=True)
            value = optimiser_step(training_loss(net, xs, ys, weights, args.photo_weight,
                                                         args.garment_weight, args.head_covering_weight), opt, sched)
            step += 1
            log.step(step, epoch, value, len(xs), lambda: f"lr {sched.get_last_lr()[1]:.2e}")
        log.epoch_end(step, epoch, None)
        if (epoch + 1) % 4 == 0 or step >= schedule.total:
            scores = group_iou(net, val)
            train_mode(net, frozen)
            print(f"epoch {epoch + 1} validation split " + " ".join(f"{k} {v:.4f}" for k, v in scores.items()),
                  flush=True)
    torch.save(net.served_state(), args.run / "group_net.pt")
    print(f"wrote {args.run / 'group_net.pt'}", flush=True)


if __name__ == "__main__":
    main()
