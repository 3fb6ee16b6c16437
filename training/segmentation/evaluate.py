"""Evaluate segmentation on CCP validation photos (0601–0700) through the code remove_bg serves with.

    python -m training.segmentation.evaluate --ccp ../shared/datasets/ccp            # garment model + u2netp baseline
    python -m training.segmentation.evaluate --models garment --garment-model /tmp/candidate.onnx
    python -m training.segmentation.evaluate --models garment --clothing      # also flat lays (clothing-small)
    python -m training.segmentation.evaluate --models garment --closeups      # also worn close-ups (CCP torso crops)

Every number is pooled over the photos (sum of intersections / sum of unions or of label pixels). Pixels whose
original is nearly black (max channel < 40) are ignored: a black garment on black is invisible in the answer.
- garment IoU, garment kept, skin+hair kept, background (null label) kept: the ``garments`` mask; also head
  coverings kept (scarves — CCP's label for hijabs too — and hats) and other accessories kept (bags, shoes, belts,
  jewellery, legwear, underwear: every labelled thing that is neither a garment group, skin, hair nor head cover)
- product IoU: the ``product`` mask against the labelled dominant family (upper+one-piece or lower, most pixels,
  ties to upper+one-piece — see groups.PRODUCT_FAMILIES); also against the single dominant labelled group
- where product IoU is lost: the share of photos whose dominant family the model picks right; the product IoU
  when the labelled family is kept instead of the model's pick (what a right pick alone would give); and the IoU
  of a perfect family split of the ``garments`` mask (garments mask ∩ labelled family: the ceiling the
  garment-versus-rest mask allows); and the share of the other family's labelled garment pixels (the trousers under
  a displayed tunic) that the ``product`` mask keeps
- <group> IoU: the mask for ``keep=<group>`` against that group's labels; with where it is lost: the photos
  labelled with the group, the IoU of a perfect group split of the ``garments`` mask (garments mask ∩ the group's
  labels: the ceiling the garment-versus-rest mask allows), and the share of the kept pixels that lie in photos
  without the group at all (a whole outfit given the wrong group, rather than a boundary drawn wrong)
- flat lays (``--clothing``): clothing-small *validation* photos of one garment each (product shots and flat lays;
  hats and shoes left out), the group its class folder names: the share of photos whose garment pixels the model
  gives mostly to that group, and whose ``product`` family is that group's (what remove_bg keeps and what the
  search's family channel reads), per folder — the garment's own shape, without a body around it to tell a skirt
  from a dress; and the share whose ``product`` cut-out keeps the whole garment (≥ ``PRODUCT_KEEPS_WHOLE`` of its
  ``garments`` mask), with how many photos the lone-garment rule (``LONE_GARMENTS``) fired on — on CCP too, where
  everyone wears their clothes and the rule should never fire
- worn close-ups (``--closeups``): the same CCP validation photos cropped to the torso (``torso_box``: no face, no
  shoulders, as a shop's detail photo of a worn garment), labels cropped alike: product IoU against the crop's
  dominant family, and how many crops show the pose model no body (where ``LONE_GARMENTS`` takes the garment for a
  lone one)
- group confusion (``--confusion``): for each labelled class, where its pixels go in the model's argmax at model
  resolution — a diagnostic for the per-group numbers (which group steals which)
"""

from __future__ import annotations

import argparse
import os
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from garment_search.images import DecodedImage, load_image_file
from garment_search.segmentation import mask_for_classes, mask_from_probabilities, segmentation_maps
from garment_search.segmentation.groups import (CCP_HEAD_COVERINGS, CCP_SKIN_HAIR, CLASS_NAMES, DEFAULT_KEEP,
                                                GARMENT_GROUPS, PRODUCT_FAMILIES)
from garment_search.segmentation.masks import kept_classes
from garment_search.segmentation.sessions import new_segmentation_session
from training.segmentation.data import (CLOTHING_FOLDER_LABELS, VAL_IDS, ccp_class_table, ccp_files, ccp_label_ids,
                                        label_group)

DARK_THRESHOLD = 40
#: clothing-small class folder → the garment group it shows.
FOLDER_GROUPS: dict[str, int] = {folder: label_group(folder) for folder in CLOTHING_FOLDER_LABELS}


#: A lone garment's ``product`` cut-out counts as whole when it keeps this share of its ``garments`` mask.
PRODUCT_KEEPS_WHOLE = 0.8


def dominant_group(classes: np.ndarray) -> int:
    areas = [int((classes == c).sum()) for c in range(1, len(GARMENT_GROUPS) + 1)]
    return int(np.argmax(areas)) + 1  # argmax picks the first of equals: upper wins ties


def dominant_family(classes: np.ndarray) -> tuple[int, ...]:
    areas = [int(np.isin(classes, family).sum()) for family in PRODUCT_FAMILIES]
    return PRODUCT_FAMILIES[int(np.argmax(areas))]


def family_overlap(product: np.ndarray, fam: np.ndarray, valid: np.ndarray) -> tuple[int, int]:
    """Intersection and union (valid pixels) of a ``product`` mask with ``fam``, the labelled dominant family's valid
    pixels (``np.isin(classes, dominant_family(classes)) & valid``): product IoU's terms, pooled over photos."""
    return int((product & valid & fam).sum()), int(((product & valid) | fam).sum())


def photo_maps(session, rgb: Image.Image) -> Callable[[str], tuple[np.ndarray, np.ndarray]]:
    """``keep`` → the session's (mask maps, pick maps) of one photo, its model read once: the group rows cut the
    photo out for every keep, and an explicit group may read another split of the same readings
    (``GarmentSession.maps_from``)."""
    if not hasattr(session, "maps_from"):
        maps = segmentation_maps(session, rgb)
        return lambda keep: maps
    readings = session.readings(rgb)
    cut: dict[bool, tuple[np.ndarray, np.ndarray]] = {}  # pooled once per split: an explicit group's, everything else's

    def maps_for(keep: str) -> tuple[np.ndarray, np.ndarray]:
        explicit = keep in session.groups
        if explicit not in cut:
            cut[explicit] = session.maps_from(readings, rgb, keep)
        return cut[explicit]

    return maps_for


class BodyCounter:
    """``session.body_seen``, counting the photos in which it saw no one: those where ``keep=product`` keeps a lone
    garment's outline."""

    def __init__(self, session) -> None:
        self.session, self.unseen = session, 0

    def seen(self, rgb: Image.Image) -> bool:
        seen = self.session.body_seen(rgb)
        self.unseen += not seen
        return seen


def evaluate(model: str, ccp: Path, limit: int | None = None, confusion: np.ndarray | None = None) -> dict[str, float]:
    """Pooled metrics of one model; when given, ``confusion`` (classes × classes) accumulates label → argmax
    pixel counts."""
    session = new_segmentation_session(model)
    body = BodyCounter(session)
    table = ccp_class_table(ccp)
    skin_hair_ids, head_ids = ccp_label_ids(ccp, CCP_SKIN_HAIR), ccp_label_ids(ccp, CCP_HEAD_COVERINGS)
    sums: dict[str, float] = defaultdict(float)
    seconds = []
    for img_path, lab_path in ccp_files(ccp, VAL_IDS)[:limit]:
        image = load_image_file(img_path)
        raw = np.asarray(Image.open(lab_path))
        classes = table[raw]
        valid = np.asarray(image.rgb).max(axis=2) >= DARK_THRESHOLD
        start = time.perf_counter()
        maps = photo_maps(session, image.rgb)
        probs, pick = maps(DEFAULT_KEEP)
        garments, _ = mask_from_probabilities(image, probs, session.groups, "garments")
        seconds.append(time.perf_counter() - start)
        truth = (classes > 0) & valid
        skin_hair = np.isin(raw, skin_hair_ids) & valid
        null = (raw == 0) & valid
        head = np.isin(raw, head_ids) & valid
        accessory = (raw > 0) & (classes == 0) & ~skin_hair & ~head & valid
        pred = garments & valid
        sums["g_inter"] += (pred & truth).sum()
        sums["g_union"] += (pred | truth).sum()
        sums["g_truth"] += truth.sum()
        sums["sh_kept"] += (pred & skin_hair).sum()
        sums["sh_total"] += skin_hair.sum()
        sums["bg_kept"] += (pred & null).sum()
        sums["bg_total"] += null.sum()
        sums["head_kept"] += (pred & head).sum()
        sums["head_total"] += head.sum()
        sums["acc_kept"] += (pred & accessory).sum()
        sums["acc_total"] += accessory.sum()
        if confusion is not None and len(session.groups) > 1:
            small = np.asarray(Image.fromarray(classes.astype(np.uint8)).resize(probs.shape[:0:-1], Image.NEAREST))
            np.add.at(confusion, (small.ravel(), probs.argmax(0).ravel()), 1)
        if len(session.groups) > 1:
            product, _ = mask_from_probabilities(image, probs, session.groups, "product", body.seen, pick)
            family = dominant_family(classes)
            in_family = np.isin(classes, family)
            fam = in_family & valid
            inter, union = family_overlap(product, fam, valid)
            sums["p_inter"] += inter
            sums["p_union"] += union
            other = (classes > 0) & ~in_family & valid
            sums["p_other_kept"] += (product & other).sum()
            sums["p_other_total"] += other.sum()
            sums["oracle_inter"] += (pred & fam).sum()
            sums["oracle_union"] += ((pred & fam) | fam).sum()
            sums["family_right"] += kept_classes(pick, session.groups, "product") == list(family)
            told, _ = mask_for_classes(image, probs, session.groups, list(family))
            sums["told_inter"] += (told & valid & fam).sum()
            sums["told_union"] += ((told & valid) | fam).sum()
            dom = (classes == dominant_group(classes)) & valid
            sums["p1_inter"] += (product & valid & dom).sum()
            sums["p1_union"] += ((product & valid) | dom).sum()
            for c, group in enumerate(GARMENT_GROUPS, start=1):
                mask, _ = mask_from_probabilities(image, maps(group)[0], session.groups, group)
                truth_g, kept_g = (classes == c) & valid, mask & valid
                present, kept = bool(truth_g.any()), kept_g.sum()
                sums[f"{group}_inter"] += (kept_g & truth_g).sum()
                sums[f"{group}_union"] += (kept_g | truth_g).sum()
                sums[f"{group}_oracle"] += (pred & truth_g).sum()
                sums[f"{group}_truth"] += truth_g.sum()
                sums[f"{group}_photos"] += present
                sums[f"{group}_kept"] += kept
                sums[f"{group}_kept_absent"] += 0 if present else kept
    out = {
        "model": session.identity,
        "photos": len(seconds),
        "garment_iou": sums["g_inter"] / sums["g_union"],
        "garment_kept": sums["g_inter"] / sums["g_truth"],
        "skin_hair_kept": sums["sh_kept"] / sums["sh_total"],
        "background_kept": sums["bg_kept"] / sums["bg_total"],
        "head_coverings_kept": sums["head_kept"] / max(sums["head_total"], 1),
        "other_accessories_kept": sums["acc_kept"] / max(sums["acc_total"], 1),
        "seconds_per_photo_p50": float(np.median(seconds)),
    }
    if "p_union" in sums:
        out["product_iou"] = sums["p_inter"] / sums["p_union"]
        out["product_iou_vs_single_group"] = sums["p1_inter"] / sums["p1_union"]
        out["product_family_right"] = sums["family_right"] / len(seconds)
        out["product_iou_family_told"] = sums["told_inter"] / sums["told_union"]
        out["product_iou_perfect_family_split"] = sums["oracle_inter"] / sums["oracle_union"]
        out["product_other_family_kept"] = sums["p_other_kept"] / max(sums["p_other_total"], 1)
        out["product_photos_kept_whole"] = body.unseen
        for g in GARMENT_GROUPS:
            out[f"{g}_iou"] = sums[f"{g}_inter"] / sums[f"{g}_union"]
            out[f"{g}_photos"] = int(sums[f"{g}_photos"])
            out[f"{g}_iou_perfect_split"] = sums[f"{g}_oracle"] / max(sums[f"{g}_truth"], 1)
            out[f"{g}_kept_in_photos_without"] = sums[f"{g}_kept_absent"] / max(sums[f"{g}_kept"], 1)
    return out


#: A worn close-up keeps these rows of the labelled person's height (from the top of the head): below the shoulders,
#: above the knees.
TORSO_ROWS = (0.25, 0.75)
#: and the person's width plus this share of it on each side.
TORSO_MARGIN = 0.1


def torso_box(labels: np.ndarray) -> tuple[int, int, int, int] | None:
    """(left, top, right, bottom) of a close-up of the labelled person's torso (``TORSO_ROWS``), or None without one."""
    ys, xs = np.nonzero(labels > 0)
    if not len(ys):
        return None
    top, height = int(ys.min()), int(ys.max() - ys.min() + 1)
    margin = TORSO_MARGIN * (xs.max() - xs.min() + 1)
    return (max(0, int(xs.min() - margin)), top + int(TORSO_ROWS[0] * height),
            min(labels.shape[1], int(xs.max() + margin) + 1), top + int(TORSO_ROWS[1] * height))


def closeups(model: str, ccp: Path, limit: int | None = None) -> dict[str, float | int]:
    """Product IoU on worn close-ups (see the module docstring); nothing for a model without groups."""
    session = new_segmentation_session(model)
    if len(session.groups) == 1:
        return {}
    body = BodyCounter(session)
    table = ccp_class_table(ccp)
    inter = union = photos = 0
    for img_path, lab_path in ccp_files(ccp, VAL_IDS)[:limit]:
        raw = np.asarray(Image.open(lab_path))
        box = torso_box(raw)
        if box is None:
            continue
        crop = load_image_file(img_path).rgb.crop(box)
        classes = table[raw[box[1]:box[3], box[0]:box[2]]]
        if not (classes > 0).any():
            continue
        valid = np.asarray(crop).max(axis=2) >= DARK_THRESHOLD
        probs, pick = segmentation_maps(session, crop)
        product, _ = mask_from_probabilities(DecodedImage(crop, None), probs, session.groups, "product", body.seen,
                                             pick)
        fam = np.isin(classes, dominant_family(classes)) & valid
        overlap = family_overlap(product, fam, valid)
        inter, union, photos = inter + overlap[0], union + overlap[1], photos + 1
    return {"closeup_photos": photos, "closeup_product_iou": inter / max(union, 1), "closeup_no_body_seen": body.unseen}


def flat_lays(model: str, root: Path, limit: int | None = None) -> dict[str, float | str]:
    """Flat-lay group and product-family agreement (see the module docstring) over ``root``'s class folders;
    nothing for a model without groups (the person baseline)."""
    session = new_segmentation_session(model)
    if len(session.groups) == 1:
        return {}
    body = BodyCounter(session)
    right: dict[str, list[bool]] = defaultdict(list)
    family: dict[str, list[bool]] = defaultdict(list)
    whole: list[bool] = []
    for folder in sorted(p for p in root.iterdir() if p.name in FOLDER_GROUPS):
        group = FOLDER_GROUPS[folder.name]
        for path in sorted(folder.iterdir())[:limit]:
            image = load_image_file(path)
            probs, pick = segmentation_maps(session, image.rgb)
            garment = probs[0] < 0.5
            votes = np.bincount(probs[1:].argmax(0)[garment], minlength=len(GARMENT_GROUPS))
            right[folder.name].append(garment.any() and int(votes.argmax()) + 1 == group)
            family[folder.name].append(group in kept_classes(pick, session.groups, "product"))
            garments, _ = mask_from_probabilities(image, probs, session.groups, "garments")
            product, _ = mask_from_probabilities(image, probs, session.groups, "product", body.seen, pick)
            whole.append((product & garments).sum() >= PRODUCT_KEEPS_WHOLE * garments.sum())
    every = [v for votes in right.values() for v in votes]
    out: dict[str, float | str] = {
        "flat_lay_photos": len(every),
        "flat_lay_group_right": float(np.mean(every)),
        "flat_lay_family_right": float(np.mean([v for votes in family.values() for v in votes])),
        "flat_lay_product_whole": float(np.mean(whole)),
        "flat_lay_product_kept_whole_by_rule": body.unseen,
    }
    out.update({f"flat_lay_group_right_{name}": f"{sum(v)}/{len(v)}" for name, v in right.items()})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ccp", type=Path, default=Path("../shared/datasets/ccp"))
    ap.add_argument("--models", nargs="+", default=["garment", "u2netp"])
    ap.add_argument("--garment-model", help="ONNX file to evaluate instead of models/garment_u2netp.onnx")
    ap.add_argument("--limit", type=int)
    ap.add_argument("--confusion", action="store_true", help="also print the garment model's group confusion")
    ap.add_argument("--clothing", type=Path, nargs="?", const=Path("../shared/datasets/clothing-small/validation"),
                    help="also measure flat lays: clothing-small validation photos of one garment each (default "
                    "folder when given without a value)")
    ap.add_argument("--closeups", action="store_true", help="also measure worn close-ups: the CCP validation photos "
                    "cropped to the torso")
    args = ap.parse_args()
    if args.garment_model:
        os.environ["GARMENT_MODEL_PATH"] = args.garment_model
    confusion = np.zeros((len(CLASS_NAMES), len(CLASS_NAMES)), np.int64)
    rows = [evaluate(m, args.ccp, args.limit, confusion if m == "garment" and args.confusion else None)
            for m in args.models]
    if args.clothing:
        for row, m in zip(rows, args.models):
            row.update(flat_lays(m, args.clothing, args.limit))
    if args.closeups:
        for row, m in zip(rows, args.models):
            row.update(closeups(m, args.ccp, args.limit))
    keys = [k for k in dict.fromkeys(k for r in rows for k in r) if k != "model"]
    print("| metric | " + " | ".join(r["model"] for r in rows) + " |")
    print("|---|" + "---|" * len(rows))
    for k in keys:
        cells = [f"{r[k]:.4f}" if isinstance(r.get(k), float) else str(r.get(k, "—")) for r in rows]
        print(f"| {k} | " + " | ".join(cells) + " |")
    if confusion.any():
        print("\n| labelled ↓ / predicted → | " + " | ".join(CLASS_NAMES) + " |")
        print("|---|" + "---|" * len(CLASS_NAMES))
        for name, row in zip(CLASS_NAMES, confusion / confusion.sum(1, keepdims=True)):
            print(f"| {name} | " + " | ".join(f"{v:.3f}" for v in row) + " |")


if __name__ == "__main__":
    main()
