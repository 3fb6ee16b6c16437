"""Train the sleeve-length classifier search's sleeve channel uses (``garment_search.sleeves``), from scratch.

    python -m training.sleeves.data    # index-style views with labels (~15 min here)
    python -m training.sleeves.train   # ~5 min on 2 cores; writes models/sleeve_length.onnx

Fixed seed and schedule (no choice is made on the validation views, which only report accuracy); resumes from
``checkpoint.pt`` in the run folder. Augmentations keep the shape and scramble the colour (channel order,
greyscale, brightness), so the model learns where the garment is, not what colour t-shirts tend to be.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from garment_search.sleeves import MODEL_PATH, SLEEVES, VIEW_SIZE
from training.checkpoint import Checkpoint, optimiser_step


class SleeveNet(nn.Module):
    """Five conv blocks (3×3, batch norm, ReLU, 2× pooling) and a linear read-out: ~0.7 M parameters."""

    def __init__(self, widths: tuple[int, ...] = (16, 32, 64, 128, 160)) -> None:
        super().__init__()
        layers, prev = [], 3
        for width in widths:
            layers += [nn.Conv2d(prev, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
                       nn.Conv2d(width, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
                       nn.MaxPool2d(2)]
            prev = width
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(prev, len(SLEEVES)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: N×3×H×W in [0, 1]
        return self.head(self.features(x).mean(dim=(2, 3)))


def augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Mirror, shift and scale a little (one affine resampling), then scramble colour: shape stays, colour goes."""
    n = x.shape[0]
    r = lambda *shape: torch.rand(*shape, generator=generator)  # noqa: E731
    scale = 0.9 + 0.2 * r(n)
    flip = torch.where(r(n) < 0.5, -1.0, 1.0)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 1, 1] = scale * flip, scale
    theta[:, :, 2] = (r(n, 2) - 0.5) * 0.16
    x = F.grid_sample(x, F.affine_grid(theta, list(x.shape), align_corners=False), align_corners=False)
    perm = torch.stack([torch.randperm(3, generator=generator) for _ in range(n)])
    x = torch.gather(x, 1, perm[:, :, None, None].expand_as(x))
    grey = r(n) < 0.3
    x[grey] = x[grey].mean(dim=1, keepdim=True).expand(-1, 3, -1, -1)
    return (x * (0.7 + 0.6 * r(n, 1, 1, 1))).clamp(0, 1)


def tensors(path: Path) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    z = np.load(path)
    return (torch.from_numpy(z["views"]).permute(0, 3, 1, 2).float() / 255, torch.from_numpy(z["sleeves"]).long(),
            z["names"])


@torch.inference_mode()
def predict(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    model.eval()
    return torch.cat([model(x[i:i + 256]) for i in range(0, len(x), 256)]).argmax(1)


def accuracy_report(model: nn.Module, x: torch.Tensor, y: torch.Tensor, names: np.ndarray) -> dict[str, float]:
    """Accuracy per source (CCP photos, clothing-small) and per true sleeve length."""
    pred = predict(model, x)
    report = {}
    for source in ("ccp", "clothing"):
        keep = torch.from_numpy(np.char.startswith(names.astype(str), source))
        if keep.any():
            report[f"{source} ({int(keep.sum())})"] = float((pred[keep] == y[keep]).float().mean())
    for i, sleeve in enumerate(SLEEVES):
        keep = y == i
        if keep.any():
            report[f"{sleeve} ({int(keep.sum())})"] = float((pred[keep] == i).float().mean())
    return report


def export(model: nn.Module, out: Path) -> None:
    model.eval()
    torch.onnx.export(model, torch.zeros(1, 3, VIEW_SIZE, VIEW_SIZE), str(out), input_names=["views"],
                      output_names=["logits"], dynamic_axes={"views": {0: "n"}, "logits": {0: "n"}}, opset_version=17,
                      dynamo=False)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, default=Path("training/runs/sleeves"))
    ap.add_argument("--out", type=Path, default=MODEL_PATH)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args(argv)

    torch.manual_seed(args.seed)
    x, y, _ = tensors(args.run / "train.npz")
    vx, vy, vnames = tensors(args.run / "validation.npz")
    counts = torch.bincount(y, minlength=len(SLEEVES)).float()
    print(f"training views: {dict(zip(SLEEVES, counts.int().tolist()))}; validation: {len(vy)}", flush=True)
    model = SleeveNet()
    optimiser = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-3)
    per_epoch = (len(y) + args.batch - 1) // args.batch
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, args.lr, total_steps=args.epochs * per_epoch)
    class_weights = counts.sum() / (len(SLEEVES) * counts.clamp(min=1))  # each sleeve length counts equally
    args.run.mkdir(parents=True, exist_ok=True)
    checkpoint = Checkpoint(args.run / "checkpoint.pt", model, optimiser, schedule)
    step = checkpoint.resume()  # saved at epoch ends: a resumed run repeats no batch
    generator = torch.Generator()
    for epoch in range(step // per_epoch, args.epochs):
        generator.manual_seed(args.seed + epoch)
        model.train()
        order, total = torch.randperm(len(y), generator=generator), 0.0
        for i in range(0, len(y), args.batch):
            batch = order[i:i + args.batch]
            loss = F.cross_entropy(model(augment(x[batch], generator)), y[batch], weight=class_weights)
            total += optimiser_step(loss, optimiser, schedule) * len(batch)
            step += 1
        checkpoint.save(step)
        print(f"epoch {epoch + 1}/{args.epochs} loss {total / len(y):.3f}", flush=True)
    print("validation accuracy:", {k: round(v, 3) for k, v in accuracy_report(model, vx, vy, vnames).items()})
    export(model, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
