"""Garment crops with measured colours for contrastive training (CCP 0001–0600 and clothing-small train/).

CCP: every garment label region large enough, its own pixels kept and everything else black — exactly what
remove_bg answers — cropped to its box. clothing-small: photos of garments on floors, beds and hangers, cut out
with our garment segmentation when it finds the garment (else kept whole) and cropped the same way.
Optionally (``ccp_product_views``) the CCP photos once more, cut out by our segmentation exactly as the index cuts
the catalogue: outfits seen through our own masks, which is what search serves, rather than clean label regions.
The crops are cached in .npz files in the run folder so a resumed run does not redo them (``run_crops``).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from garment_search.colours import name_colour
from garment_search.embedding import EMBEDDED_MEMBER, tower_input_size
from garment_search.hem_lengths import HEM_INFO
from garment_search.images import load_image_file, pad_to_square
from garment_search.segmentation import cut_out, garment_mask
from garment_search.segmentation.groups import KEPT_GROUPS_INFO
from garment_search.segmentation.masks import crop_to_mask
from training.embedding.captions import NOUNS
from training.segmentation.data import ccp_files, ccp_garment_ids, ccp_label_names


def crop_size(image_size: int) -> int:
    """The stored crop side for a tower that reads ``image_size`` pixels: 9/8 of it, so that augmentation's random
    crops (three quarters of the side or more) are resampled near the tower's own scale (144 for 128)."""
    return round(image_size * 9 / 8)


CROP = crop_size(tower_input_size(EMBEDDED_MEMBER))  # stored square side for the served member's tower (144)
MIN_REGION = 0.015  # CCP regions smaller than this share of the photo are skipped
#: A product view is kept for training only when one labelled garment makes up at least this share of the kept
#: pixels: below it the cut-out shows a mix (or the wrong family), and no one caption describes it.
MIN_VIEW_PURITY = 0.5
CROPS_FILE, PRODUCT_VIEWS_FILE = "crops.npz", "product_views.npz"


@dataclass
class Crops:
    images: np.ndarray  # N×CROP×CROP×3 uint8, black padded
    colours: np.ndarray  # N colour indices
    kinds: list[str]  # N keys of NOUNS
    #: Index-style views only: what the index builder recorded on each view for search's measured channels (the
    #: groups its cut-out kept, its hem: ``VIEW_TAGS`` of its ``info``), read back from the image (``pil_images``).
    #: Not saved: the lease's packed ranking runs without the measured channels.
    tags: list[dict] | None = None

    def pil_images(self) -> list[Image.Image]:
        """The crops as images, tagged as the index builder's views were (``embedding_view``) where that is known."""
        images = [Image.fromarray(np.asarray(c)) for c in self.images]
        for image, tags in zip(images, self.tags or ()):
            image.info.update(tags)
        return images

    def save(self, path: Path, jpeg_quality: int | None = None) -> None:
        """Raw pixels (lossless, ~100 MB for the training set) or, with ``jpeg_quality``, one JPEG per crop
        (~20 MB: small enough to travel to a GPU lease). Colours are measured before either, on the original."""
        if jpeg_quality is None:
            np.savez_compressed(path, images=self.images, colours=self.colours, kinds=np.array(self.kinds))
            return
        blobs = []
        for image in self.images:
            buf = io.BytesIO()
            Image.fromarray(image).save(buf, "JPEG", quality=jpeg_quality)
            blobs.append(np.frombuffer(buf.getvalue(), np.uint8))
        np.savez(path, jpeg=np.concatenate(blobs), ends=np.cumsum([len(b) for b in blobs]),
                 colours=self.colours, kinds=np.array(self.kinds))

    @classmethod
    def load(cls, path: Path) -> "Crops":
        z = np.load(path)
        if "jpeg" in z:
            data, ends = z["jpeg"], z["ends"]
            starts = np.concatenate([[0], ends[:-1]])
            images = np.stack([np.asarray(Image.open(io.BytesIO(data[a:b].tobytes())).convert("RGB"))
                               for a, b in zip(starts, ends)])
        else:
            images = z["images"]
        return cls(images, z["colours"], [str(k) for k in z["kinds"]])

    def __add__(self, other: "Crops") -> "Crops":
        tags = None
        if self.tags is not None or other.tags is not None:  # a part without cut-outs adds untagged crops
            tags = (self.tags or [{}] * len(self.kinds)) + (other.tags or [{}] * len(other.kinds))
        return Crops(np.concatenate([self.images, other.images]), np.concatenate([self.colours, other.colours]),
                     self.kinds + other.kinds, tags)


#: The ``info`` entries of an index view that search's measured channels read (family: the kept groups; length: the
#: hem), which a crop keeps with it.
VIEW_TAGS = (KEPT_GROUPS_INFO, HEM_INFO)


def view_tags(view: Image.Image) -> dict:
    """The ``VIEW_TAGS`` entries ``view`` carries."""
    return {key: view.info[key] for key in VIEW_TAGS if key in view.info}


def square(rgb: np.ndarray, size: int = CROP) -> np.ndarray:
    """Resize the longest side to ``size`` and pad with black (as open_clip's 'longest' preprocessing does)."""
    return pad_to_square(rgb, size)


def ccp_crops(root: Path, ids: range, size: int = CROP) -> Crops:
    names, garments = ccp_label_names(root), set(ccp_garment_ids(root))
    images, colours, kinds = [], [], []
    for i in tqdm(ids, desc="CCP crops"):
        img_path, lab_path = root / "images" / f"{i:04d}.jpg", root / "labels" / f"{i:04d}.png"
        if not (img_path.exists() and lab_path.exists()):
            continue
        rgb = np.asarray(Image.open(img_path).convert("RGB"))
        lab = np.asarray(Image.open(lab_path))
        for label in sorted(set(np.unique(lab)) & garments):
            mask = lab == label
            if mask.mean() < MIN_REGION:
                continue
            cut = np.where(mask[..., None], rgb, 0).astype(np.uint8)
            images.append(square(crop_to_mask(cut, mask), size))
            colours.append(name_colour(rgb[mask]))
            kinds.append(names[int(label)])
    return Crops(np.stack(images), np.array(colours), kinds)


def largest_garment(labels: np.ndarray, garments: list[int]) -> tuple[int, int]:
    """(label id, pixel count) of the garment label with the most pixels in ``labels`` (an array of CCP label ids:
    a photo's, or the pixels a mask keeps); the first listed wins ties."""
    areas = {i: int((labels == i).sum()) for i in garments}
    main = max(areas, key=areas.get)
    return main, areas[main]


def ccp_product_views(root: Path, ids: range, segmenter, size: int = CROP) -> Crops:
    """CCP photos cut out as the index builder cuts the catalogue (``keep=product``, cropped to the kept
    garment), each captioned by the labelled garment the cut-out keeps most of, its colour measured on that
    garment's kept pixels. Photos where our segmentation finds no garment, or where that garment is under
    ``MIN_VIEW_PURITY`` of the kept pixels, are skipped."""
    names, garments = ccp_label_names(root), ccp_garment_ids(root)
    images, colours, kinds = [], [], []
    for img_path, lab_path in tqdm(ccp_files(root, ids), desc="CCP product views"):
        image = load_image_file(img_path)
        labels = np.asarray(Image.open(lab_path))
        cutout = cut_out(image, segmenter, "product")
        if not cutout.has_garment or labels.shape != cutout.mask.shape:
            continue
        kept = labels[cutout.mask]
        main, area = largest_garment(kept, garments)
        if area < MIN_VIEW_PURITY * len(kept):
            continue
        images.append(square(cutout.garment_crop(), size))
        colours.append(name_colour(np.asarray(image.rgb)[cutout.mask & (labels == main)]))
        kinds.append(names[main])
    return Crops(np.stack(images), np.array(colours), kinds)


def run_crops(run: Path) -> Crops:
    """A run's training crops: ``crops.npz`` (label crops and clothing-small), then ``product_views.npz`` when the
    run has one — the one place that says what a run trains on (training, and the lease's pack)."""
    crops = Crops.load(run / CROPS_FILE)
    views = run / PRODUCT_VIEWS_FILE
    return crops + Crops.load(views) if views.exists() else crops


def class_photos(root: Path) -> list[tuple[str, Path]]:
    """(class, photo) of a clothing-small split (one folder per class), sorted: the one order every set built
    from a split keeps, so sets of the same photos line up."""
    return sorted((d.name, f) for d in root.iterdir() if d.is_dir() for f in d.iterdir())


def clothing_crops(root: Path, segmenter, size: int = CROP) -> Crops:
    images, colours, kinds = [], [], []
    files = class_photos(root)
    for kind, path in tqdm(files, desc="clothing-small crops"):
        if kind not in NOUNS:
            continue
        try:
            image = load_image_file(path)
        except Exception:  # noqa: BLE001 - a broken photo is skipped, not fatal
            continue
        rgb = np.asarray(image.rgb)
        mask, _ = garment_mask(image, segmenter, "garments")
        if mask.mean() < 0.05:  # segmentation did not find the garment: keep the photo as it is
            mask = np.ones(mask.shape, bool)
        cut = np.where(mask[..., None], rgb, 0).astype(np.uint8)
        images.append(square(crop_to_mask(cut, mask), size))
        colours.append(name_colour(rgb[mask]))
        kinds.append(kind)
    return Crops(np.stack(images), np.array(colours), kinds)
