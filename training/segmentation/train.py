"""Fine-tune u2netp into the garment-group model (background / upper / lower / one-piece) on CCP.

    python -m training.segmentation.train --ccp ../shared/datasets/ccp --run training/runs/seg --epochs 12
    python -m training.segmentation.train --run training/runs/seg2 --init training/runs/seg/final.pt --epochs 7 --lr 2e-4
    python -m training.segmentation.train --run training/runs/seg3 --init training/runs/seg2/final.pt --epochs 2 \
        --lr 5e-5 --negative-share 0.25
    python -m training.segmentation.train --run training/runs/seg5 --init models/garment_u2netp.onnx --epochs 2 \
        --lr 1e-4 --negative-share 0.2 --class-weights 1,1,1.3,1.7

Each later command continues from the previous run's weights with a fresh schedule (what the shipped model did):
the second adds close-up crops, drawn size-chart pages and class weights; the third mostly more pages.
Not shipped (measured worse, docs/benchmarks.md): a fourth with more close-ups (--zoom-share 0.4), and the fifth
above, which starts from the shipped ONNX (v3) after CCP's "suit" moved from one-piece to upper, with class
weights from the new pixel shares (inverse square root of each group's share relative to upper's).

On a GPU (used when present; ``--workers`` decode and augment in parallel, bf16 autocast) the whole network
trains at the serving resolution in minutes. The shipped v6 is v3 continued that way for 55 epochs
(``training/segmentation/gpu_runs.sh continued``, which holds the recipes):

    python -m training.segmentation.train --run /tmp/runs/continued --init v3.onnx --cache-height 480 \
        --height 320 --width 240 --batch 16 --train-stage1 --workers 4 --epochs 55 --negative-share 0.15 \
        --lr 1.5e-4 --head-lr-mult 3 --class-weights 1,1,1.3,1.7 --val-every 10

``--max-minutes`` fits the number of epochs to a fixed lease after timing the second epoch (the first also
pays for start-up); the log prints the ``--epochs`` that reproduces the run.

Fixed seeds, a checkpoint every ``--save-every`` steps and at each epoch end; rerunning the same command
resumes from the last checkpoint. Then export with ``python -m training.segmentation.export``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.nn.functional as F

from garment_search.segmentation.groups import CLASS_NAMES, PRODUCT_FAMILIES
from training.checkpoint import Checkpoint, optimiser_step
from training.progress import StepLog
from training.schedule import WarmupCosine
from training.segmentation.data import HARD_NEGATIVE, NEGATIVE_SHARE, ZOOM_SHARE, CCPSegmentation, split_ids
from training.segmentation.u2netp import U2NetP, load_onnx_weights, widen_head

SIDE_WEIGHT = 0.5


def build_model(u2netp_onnx: str) -> U2NetP:
    single = U2NetP(out_ch=1)
    load_onnx_weights(single, u2netp_onnx)
    return widen_head(single, len(CLASS_NAMES))


def family_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-pixel cross-entropy of background / upper+one-piece / lower: the split ``keep=product`` decides on.

    The family's logit is the log-sum-exp of its groups' logits (its probability is their sum), so a tunic hem
    read as one-piece costs nothing here while a dress read as a skirt costs in full.
    """
    family_logits = torch.stack([logits[:, 0], *(torch.logsumexp(logits[:, list(members)], dim=1)
                                                 for members in PRODUCT_FAMILIES)], dim=1)
    family_target = torch.zeros_like(target)
    for family, members in enumerate(PRODUCT_FAMILIES, start=1):
        family_target[torch.isin(target, torch.tensor(members, device=target.device))] = family
    return F.cross_entropy(family_logits, family_target, reduction="none")


def segmentation_loss(outputs: list[torch.Tensor], target: torch.Tensor,
                      class_weights: torch.Tensor | None = None, family_weight: float = 0.0) -> torch.Tensor:
    """Cross-entropy on the fused map plus down-weighted deep supervision on the side maps.

    Class weights lift the rarer groups (one-piece covers 3.5% of CCP pixels against upper's 7.4%), which the
    unweighted loss otherwise absorbs into upper + lower. A target of HARD_NEGATIVE (head coverings, with
    ``--head-covering-weight``) is background weighed by ``class_weights[HARD_NEGATIVE]``: a scarf draped over a
    top looks like the top, and at background's weight its few pixels (0.4% of CCP's) teach little.
    The loss is the weighted mean over pixels, as ``F.cross_entropy(weight=…)`` computes it. ``family_weight``
    adds that much of ``family_cross_entropy`` on the fused map (same pixel weights): the pick of the displayed
    product goes wrong where a dress is read as a skirt, which the group loss weighs no more than a top read as
    a dress.
    """
    weights = class_weights[target] if class_weights is not None else None
    target = target.masked_fill(target == HARD_NEGATIVE, 0)

    def weighted_mean(losses: torch.Tensor) -> torch.Tensor:
        return losses.mean() if weights is None else (losses * weights).sum() / weights.sum()

    def cross_entropy(logits: torch.Tensor) -> torch.Tensor:
        return weighted_mean(F.cross_entropy(logits, target, reduction="none"))

    fused, *sides = outputs
    loss = cross_entropy(fused) + SIDE_WEIGHT * sum(cross_entropy(s) for s in sides) / len(sides)
    if family_weight:
        loss = loss + family_weight * weighted_mean(family_cross_entropy(fused, target))
    return loss


@torch.no_grad()
def validation_iou(model: U2NetP, data: CCPSegmentation) -> dict[str, float]:
    """Garment-union IoU and per-class IoU over the validation set at training resolution."""
    model.eval()
    device = next(model.parameters()).device
    inter = torch.zeros(len(CLASS_NAMES), device=device)
    union = torch.zeros(len(CLASS_NAMES), device=device)
    g_inter = g_union = 0
    for i in range(len(data)):
        x, y = (t.to(device) for t in data[i])
        pred = model(x[None])[0].argmax(1)[0]
        for c in range(1, len(CLASS_NAMES)):
            inter[c] += ((pred == c) & (y == c)).sum()
            union[c] += ((pred == c) | (y == c)).sum()
        g_inter += int(((pred > 0) & (y > 0)).sum())
        g_union += int(((pred > 0) | (y > 0)).sum())
    model.train()
    out = {"garment_iou": g_inter / max(g_union, 1)}
    out.update({f"{CLASS_NAMES[c]}_iou": float(inter[c] / max(union[c], 1)) for c in range(1, len(CLASS_NAMES))})
    return out


class _Seeded(torch.utils.data.Dataset):
    """Samples addressed by (augmentation seed, index), so long-lived loader processes follow the epochs."""

    def __init__(self, data: CCPSegmentation) -> None:
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, key: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        seed, idx = key
        self.data.set_epoch_seed(seed)
        return self.data[idx]


class _Keys(torch.utils.data.Sampler):
    """The current epoch's (seed, index) keys; replaced before each pass over the loader."""

    def __init__(self) -> None:
        self.keys: list[tuple[int, int]] = []

    def __iter__(self):
        return iter(self.keys)

    def __len__(self) -> int:
        return len(self.keys)


class BatchStream:
    """(images, targets) batches of one epoch in a given order; with workers, augmented in parallel processes."""

    def __init__(self, data: CCPSegmentation, batch: int, workers: int) -> None:
        self.data, self.batch, self.sampler = data, batch, _Keys()
        self.loader = None
        if workers:
            self.loader = torch.utils.data.DataLoader(
                _Seeded(data), batch_size=batch, sampler=self.sampler, num_workers=workers, drop_last=True,
                pin_memory=torch.cuda.is_available(), persistent_workers=True)

    def rest_of_epoch(self, step: int, steps_per_epoch: int, seed: int):
        """The batches from ``step`` to the end of its epoch. An epoch's order and augmentations are functions of
        ``seed`` and the epoch alone, so a resumed run sees what an uninterrupted one would have."""
        epoch, in_epoch = divmod(step, steps_per_epoch)
        order = torch.randperm(len(self.data), generator=torch.Generator().manual_seed(seed + epoch))
        yield from self.epoch(seed * 1000 + epoch, order[in_epoch * self.batch:steps_per_epoch * self.batch].tolist())

    def epoch(self, seed: int, order: list[int]):
        if self.loader is not None:
            self.sampler.keys = [(seed, i) for i in order]
            yield from self.loader
            return
        self.data.set_epoch_seed(seed)
        for b in range(0, len(order) - self.batch + 1, self.batch):
            xs, ys = zip(*(self.data[i] for i in order[b:b + self.batch]))
            yield torch.stack(xs), torch.stack(ys)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ccp", type=Path, default=Path("../shared/datasets/ccp"))
    ap.add_argument("--u2netp", default="models/.cache/u2netp.onnx", help="pretrained rembg u2netp.onnx")
    ap.add_argument("--run", type=Path, default=Path("training/runs/seg"))
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--head-lr-mult", type=float, default=10.0)
    ap.add_argument("--height", type=int, default=256)
    ap.add_argument("--width", type=int, default=192)
    ap.add_argument("--save-every", type=int, default=15)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--init", type=Path, help="start from these weights instead of rembg's u2netp: a final.pt, or an "
                    "exported garment model (.onnx, e.g. models/garment_u2netp.onnx)")
    ap.add_argument("--negative-share", type=float, default=NEGATIVE_SHARE,
                    help="share of samples that are drawn garment-free pages (size charts, tables)")
    ap.add_argument("--zoom-share", type=float, default=ZOOM_SHARE,
                    help="share of samples cropped close around one garment (detail shots)")
    ap.add_argument("--class-weights", default="1,1,1.3,2.5", help="loss weight per class: " + ",".join(CLASS_NAMES))
    ap.add_argument("--head-covering-weight", type=float, default=0.0,
                    help="weigh scarf and hat pixels (hijabs) as background with this loss weight (0: as any "
                    "background pixel)")
    ap.add_argument("--family-loss-weight", type=float, default=0.0,
                    help="add this much background / upper+one-piece / lower cross-entropy (segmentation_loss)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workers", type=int, default=0, help="data-loading processes (0: augment in the training loop)")
    ap.add_argument("--train-stage1", action="store_true",
                    help="also train the full-resolution first stage (frozen by default: ~25%% faster CPU steps)")
    ap.add_argument("--cache-height", type=int, default=560, help="height the photos are kept at before cropping")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--val-every", type=int, default=2, help="validate every this many epochs (and at the end)")
    ap.add_argument("--extra-ccp", type=Path,
                    help="also train on every photo of this folder in CCP's layout: clothing-small single garments "
                    "labelled by class folder (python -m training.segmentation.flat_lays)")
    ap.add_argument("--fold", help="K/N: train on the training photos outside cross-validation fold K of N and "
                    "validate on that fold (out-of-fold models for fitting rules; see data.fold_ids)")
    ap.add_argument("--max-minutes", type=float,
                    help="fit the epochs into this many minutes of training, timed on the second epoch")
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.backends.cudnn.benchmark = True  # one input size throughout
    args.run.mkdir(parents=True, exist_ok=True)
    ckpt_path = args.run / "checkpoint.pt"

    hw = (args.height, args.width)
    train_ids, val_ids = split_ids(args.fold)
    train = CCPSegmentation(args.ccp, train_ids, hw, train=True, cache_height=args.cache_height,
                            negative_share=args.negative_share, zoom_share=args.zoom_share,
                            hard_negatives=args.head_covering_weight > 0, extra=args.extra_ccp)
    val = CCPSegmentation(args.ccp, val_ids, hw, train=False, cache_height=args.cache_height)
    model = build_model(args.u2netp)
    if args.init and args.init.suffix == ".onnx":  # an exported garment model, e.g. the shipped one
        load_onnx_weights(model, str(args.init), body_only=True)  # a group head is not fine-tuned
    elif args.init:
        model.load_state_dict(torch.load(args.init, map_location="cpu"))
    class_weights = torch.tensor([float(v) for v in args.class_weights.split(",")])
    if len(class_weights) != len(CLASS_NAMES):
        ap.error(f"--class-weights needs {len(CLASS_NAMES)} values")
    class_weights = torch.cat([class_weights, torch.tensor([args.head_covering_weight])])  # HARD_NEGATIVE's
    if not args.train_stage1:
        for p in model.stage1.parameters():  # low-level full-resolution features stay as pretrained
            p.requires_grad = False
    model.to(device)
    class_weights = class_weights.to(device)
    # The class heads start as copies of one saliency head: a higher rate lets them split into groups quickly.
    head = [p for m in (model.sides, model.outconv) for p in m.parameters()]
    body = [p for p in model.parameters() if p.requires_grad and all(p is not h for h in head)]
    opt = torch.optim.AdamW([{"params": body, "lr": args.lr}, {"params": head, "lr": args.lr * args.head_lr_mult}],
                            weight_decay=1e-4)
    steps_per_epoch = len(train) // args.batch
    schedule = WarmupCosine(steps_per_epoch, args.epochs, warmup=30, floor=0.03)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    checkpoint = Checkpoint(ckpt_path, model, opt, sched)
    step = checkpoint.resume()

    stream = BatchStream(train, args.batch, args.workers)
    model.train()
    log = StepLog(schedule, args.batch, checkpoint, args.save_every)
    while step < schedule.total:
        epoch = step // steps_per_epoch
        for xs, ys in stream.rest_of_epoch(step, steps_per_epoch, args.seed):
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                outputs = model(xs.to(device, non_blocking=True))
            loss = segmentation_loss([o.float() for o in outputs], ys.to(device, non_blocking=True), class_weights,
                                     args.family_loss_weight)
            value = optimiser_step(loss, opt, sched)
            step += 1
            log.step(step, epoch, value, len(xs), lambda: f"lr {sched.get_last_lr()[0]:.2e}")
        log.epoch_end(step, epoch, args.max_minutes)
        if (epoch + 1) % args.val_every == 0 or step >= schedule.total:
            metrics = validation_iou(model, val)
            print(f"epoch {epoch + 1} validation " + " ".join(f"{k} {v:.4f}" for k, v in metrics.items()), flush=True)
    torch.save(model.state_dict(), args.run / "final.pt")
    print(f"done: {args.run / 'final.pt'}", flush=True)


if __name__ == "__main__":
    main()
