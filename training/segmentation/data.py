"""CCP photos and label maps as garment-class training samples, with augmentations.

Photos 0001–0600 train, 0601–0700 validate (never the shop catalogue). Images are decoded once and kept in
memory at a modest size so the 2-core training loop spends its time in the network, not in JPEG decoding.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from garment_search.segmentation.groups import CCP_GROUP_LABELS, CCP_HEAD_COVERINGS, CLASS_NAMES, ccp_label_to_class
from training.segmentation.negatives import draw_negative

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
TRAIN_IDS = range(1, 601)
VAL_IDS = range(601, 701)
ZOOM_SHARE = 0.2  # training samples cropped close around one garment, as in a shop's detail shots
NEGATIVE_SHARE = 0.06  # drawn catalogue pages (size charts, tables) that contain no garment at all
#: Target value of head-covering pixels (scarves — hijabs among them — and hats) when a dataset is built with
#: ``hard_negatives=True``: background, but with a loss weight of its own (``train.segmentation_loss``).
HARD_NEGATIVE = len(CLASS_NAMES)


#: clothing-small class folder → the CCP label its single garment would carry (hats and shoes are no garment group).
CLOTHING_FOLDER_LABELS: dict[str, str] = {
    "dress": "dress", "skirt": "skirt", "pants": "pants", "shorts": "shorts", "t-shirt": "t-shirt",
    "shirt": "shirt", "longsleeve": "top", "outwear": "jacket",
}


def label_group(name: str) -> int | None:
    """The garment group (``groups.UPPER`` …) of a CCP label name or a clothing-small class folder; None for
    anything that is not a garment group (hats, shoes, accessories)."""
    label = CLOTHING_FOLDER_LABELS.get(name, name)
    return next((group for group, names in CCP_GROUP_LABELS.items() if label in names), None)


def fold_ids(fold: int, folds: int) -> tuple[list[int], list[int]]:
    """(training ids, held-out ids) of cross-validation fold ``fold`` (1-based) of ``folds`` over TRAIN_IDS.

    Photos are dealt round-robin (id 1 to fold 1, id 2 to fold 2, …) so each fold spans the whole id range.
    A model trained on the first list has never seen the second: its predictions there are out-of-fold, the
    honest stand-in for a shipped model's behaviour on unseen photos when fitting a rule on top of it.
    """
    if not 1 <= fold <= folds:
        raise ValueError(f"fold {fold} is not one of 1..{folds}")
    held = [i for i in TRAIN_IDS if (i - 1) % folds == fold - 1]
    return [i for i in TRAIN_IDS if (i - 1) % folds != fold - 1], held


def split_ids(fold: str | None) -> tuple[list[int], list[int]]:
    """(training ids, validation ids) for a training script's ``--fold K/N``: CCP 0001–0600 and 0601–0700 when
    ``fold`` is empty, else ``fold_ids(K, N)`` (announced, so the log says which photos a run never saw)."""
    if not fold:
        return TRAIN_IDS, VAL_IDS
    k, n = (int(v) for v in fold.split("/"))
    train_ids, held = fold_ids(k, n)
    print(f"fold {k}/{n}: {len(train_ids)} training photos, {len(held)} held out", flush=True)
    return train_ids, held


def ccp_files(root: Path, ids: Iterable[int]) -> list[tuple[Path, Path]]:
    """(image, label) pairs of the given CCP photo numbers that exist (0536 is omitted upstream)."""
    pairs = []
    for i in ids:
        img, lab = root / "images" / f"{i:04d}.jpg", root / "labels" / f"{i:04d}.png"
        if img.exists() and lab.exists():
            pairs.append((img, lab))
    return pairs


def load_pair(img_path: Path, lab_path: Path, height: int) -> tuple[Image.Image, Image.Image]:
    """A photo and its label map at ``height`` (``resize_pair``)."""
    return resize_pair(Image.open(img_path).convert("RGB"), Image.open(lab_path), height)


def resize_pair(img: Image.Image, lab: Image.Image, height: int) -> tuple[Image.Image, Image.Image]:
    """A photo and its label map at ``height`` (aspect kept; labels resized nearest, so ids stay ids)."""
    width = round(img.width * height / img.height)
    return (img.resize((width, height), Image.Resampling.BILINEAR),
            lab.resize((width, height), Image.Resampling.NEAREST))


def ccp_label_names(root: Path) -> dict[int, str]:
    """CCP label id → label name (``label_names.json``)."""
    return {int(k): v for k, v in json.loads((root / "label_names.json").read_text()).items()}


def ccp_label_ids(root: Path, names: tuple[str, ...]) -> list[int]:
    """The CCP label ids of the given label names (e.g. ``groups.CCP_SKIN_HAIR``)."""
    return [i for i, name in ccp_label_names(root).items() if name in names]


def ccp_class_table(root: Path) -> np.ndarray:
    """CCP label id → garment class id."""
    return np.array(ccp_label_to_class(ccp_label_names(root)), dtype=np.uint8)


def ccp_garment_ids(root: Path) -> list[int]:
    """The CCP label ids that are garments of one of our groups (ascending)."""
    return [int(i) for i in np.flatnonzero(ccp_class_table(root))]


def ccp_target_table(root: Path, hard_negatives: bool) -> np.ndarray:
    """CCP label id → training target: the garment class, or HARD_NEGATIVE for head coverings if asked."""
    table = ccp_class_table(root)
    if hard_negatives:
        table[ccp_label_ids(root, CCP_HEAD_COVERINGS)] = HARD_NEGATIVE
    return table


class CCPSegmentation(torch.utils.data.Dataset):
    """Augmented (image, class map) samples of size ``out_hw``; ``train=False`` gives plain resized samples."""

    def __init__(self, root: Path, ids: Iterable[int], out_hw: tuple[int, int], train: bool, cache_height: int = 560,
                 negative_share: float = NEGATIVE_SHARE, zoom_share: float = ZOOM_SHARE,
                 hard_negatives: bool = False, extra: Path | None = None) -> None:
        """``extra``: another folder in CCP's layout and label ids (``flat_lays``), every photo of it added."""
        self.out_hw = out_hw
        self.negative_share = negative_share
        self.zoom_share = zoom_share
        self.train = train
        self.table = torch.from_numpy(ccp_class_table(root)).long()
        self.targets = torch.from_numpy(ccp_target_table(root, hard_negatives)).long()
        self.images: list[torch.Tensor] = []
        self.labels: list[torch.Tensor] = []
        pairs = ccp_files(root, ids)
        if extra is not None:
            if ccp_label_names(extra) != ccp_label_names(root):
                raise ValueError(f"{extra} does not use {root}'s label ids")
            pairs += ccp_files(extra, range(1, 10_000))
        for img_path, lab_path in pairs:
            img, lab = load_pair(img_path, lab_path, cache_height)
            self.images.append(torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1))
            self.labels.append(torch.from_numpy(np.asarray(lab).copy()))
        self.epoch_seed = 0

    def __len__(self) -> int:
        return len(self.images)

    def set_epoch_seed(self, seed: int) -> None:
        """Make every augmentation a function of (seed, index) so a resumed run sees the same samples."""
        self.epoch_seed = seed

    def __getitem__(self, idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        img = self.images[idx].float() / 255.0
        raw = self.labels[idx]
        if self.train:
            g = torch.Generator().manual_seed(self.epoch_seed * 100_003 + idx)
            pick = float(torch.rand(1, generator=g))
            if pick < self.negative_share:
                page = draw_negative(self.out_hw, raw > 0, g)
                return (page - MEAN) / STD, torch.zeros(self.out_hw, dtype=torch.long)
            if pick < self.negative_share + self.zoom_share:
                img, raw = _zoom_crop(img, raw, self.table, self.out_hw, g)
            else:
                img, raw = _random_crop(img, raw, self.out_hw, g)
            img = _replace_background(img, raw == 0, g)
            img = _colour_jitter(img, g)
            if torch.rand(1, generator=g) < 0.5:
                img, raw = img.flip(-1), raw.flip(-1)
        else:
            img = F.interpolate(img[None], size=self.out_hw, mode="bilinear", align_corners=False)[0]
            raw = F.interpolate(raw[None, None].float(), size=self.out_hw, mode="nearest")[0, 0].long()
        target = self.targets[raw.long()]
        return (img - MEAN) / STD, target


def _random_crop(img: torch.Tensor, raw: torch.Tensor, out_hw: tuple[int, int], g: torch.Generator):
    _, h, w = img.shape
    aspect = out_hw[1] / out_hw[0] * float(torch.empty(1).uniform_(0.85, 1.18, generator=g))
    scale = float(torch.empty(1).uniform_(0.5, 1.0, generator=g))
    ch = min(h, int(round(h * scale ** 0.5)))
    cw = min(w, int(round(ch * aspect)))
    y0 = int(torch.randint(0, h - ch + 1, (1,), generator=g))
    x0 = int(torch.randint(0, w - cw + 1, (1,), generator=g))
    img = img[:, y0:y0 + ch, x0:x0 + cw]
    raw = raw[y0:y0 + ch, x0:x0 + cw]
    img = F.interpolate(img[None], size=out_hw, mode="bilinear", align_corners=False)[0]
    raw = F.interpolate(raw[None, None].float(), size=out_hw, mode="nearest")[0, 0].long()
    return img, raw


def _zoom_crop(img: torch.Tensor, raw: torch.Tensor, table: torch.Tensor, out_hw: tuple[int, int],
               g: torch.Generator):
    """A close-up window (3–25% of the photo) centred on a random garment pixel, so the garment fills the frame."""
    _, h, w = img.shape
    garment = (table[raw.long()] > 0).nonzero()
    if len(garment) == 0:
        return _random_crop(img, raw, out_hw, g)
    cy, cx = (int(v) for v in garment[int(torch.randint(0, len(garment), (1,), generator=g))])
    area = float(torch.empty(1).uniform_(0.03, 0.25, generator=g)) * h * w
    ch = min(h, int(round((area * out_hw[0] / out_hw[1]) ** 0.5)))
    cw = min(w, int(round(ch * out_hw[1] / out_hw[0])))
    y0 = min(max(0, cy - ch // 2), h - ch)
    x0 = min(max(0, cx - cw // 2), w - cw)
    img = F.interpolate(img[None, :, y0:y0 + ch, x0:x0 + cw], size=out_hw, mode="bilinear", align_corners=False)[0]
    raw = F.interpolate(raw[None, None, y0:y0 + ch, x0:x0 + cw].float(), size=out_hw, mode="nearest")[0, 0].long()
    return img, raw


def _replace_background(img: torch.Tensor, null: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Sometimes swap the street scenery for a studio-like backdrop (plain or graded colour, any hue)."""
    if torch.rand(1, generator=g) >= 0.35:
        return img
    top, bottom = torch.rand(3, 1, 1, generator=g), torch.rand(3, 1, 1, generator=g)
    if torch.rand(1, generator=g) < 0.5:
        bottom = top
    ramp = torch.linspace(0, 1, img.shape[1]).view(1, -1, 1)
    backdrop = top * (1 - ramp) + bottom * ramp
    backdrop = backdrop + 0.02 * torch.randn(img.shape, generator=g)
    return torch.where(null[None], backdrop.expand_as(img), img).clamp(0, 1)


def _colour_jitter(img: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    b = float(torch.empty(1).uniform_(0.7, 1.3, generator=g))
    c = float(torch.empty(1).uniform_(0.7, 1.3, generator=g))
    s = float(torch.empty(1).uniform_(0.6, 1.4, generator=g))
    img = img * b
    mean = img.mean()
    img = (img - mean) * c + mean
    grey = img.mean(0, keepdim=True)
    img = (img - grey) * s + grey
    if torch.rand(1, generator=g) < 0.3:  # hue rotation by channel permutation: garment colours vary freely
        img = img[torch.randperm(3, generator=g)]
    return img.clamp(0, 1)
