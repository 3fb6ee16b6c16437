"""Head coverings are not the product: drop the garment regions that reach the head.

A hijab or scarf is fabric, so the garment model keeps it — about half of CCP's scarves and hats, and on the shop's
photos a hijab hanging down the back or draped over the front of a tunic, which then reads as "black" to search.
What tells it from the top it lies on is where it comes from: it wraps the head and neck, a top stops at the collar.

    probs = drop_head_coverings(probs, rgb, keypoints, HeadCut(reach=0.75, max_share=0.4, clusters=4))

The head is located by pose keypoints (``pose.PoseReader``): its centre c is the mean of the confident face points,
its scale d the distance from c to the midpoint of the shoulders (the neck's base), which holds in front, side and
back views alike. The garment pixels (background < 0.5 at model resolution) are cut into colour regions
(``regions.colour_regions``). A region is a head covering when enough of its pixels lie within ``reach`` × d of c,
its median colour is the crown's (the strip just above the face: hijab fabric on a covered head; the garment model
itself drops the part that frames the face and keeps what hangs below the chin), and it is at most ``max_share`` of
the garment — a hijab of the tunic's own colour merges with the tunic, and then nothing is dropped rather than the
product. Dropped pixels become background in every channel, so ``garments``, ``product`` and each group lose them
alike.

Off by default (``HEAD_COVERINGS``), refused on CCP: no CCP photo shows a hijab, its scarves lie below the chin
in the colour of the coat they are worn with, and on validation the cut dropped no head covering but some black
collars under black hair (product IoU 0.7515 → 0.7498); without the crown's colour, a zone reaching the neck
dropped collars too (docs/benchmarks.md, "Head coverings: the pose model's head").
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from garment_search.config import env_numbers
from garment_search.segmentation.pose import FACE, MIN_KEYPOINT_SCORE, SHOULDERS
from garment_search.segmentation.regions import colour_regions

#: A region reaches the head when this many of its pixels lie in the head zone (and at least ``MIN_SEED_SHARE``
#: of them): a few pixels of a collar brushing the zone's edge do not make a top a scarf.
MIN_SEED_PIXELS = 4
MIN_SEED_SHARE = 0.02
#: The crown strip above the face, in units of the head-to-neck distance d: columns within 0.25 d of the head
#: centre, rows from 0.3 d to 0.6 d above it (the face ends about 0.3 d above the eyes, the head 0.55 d).
CROWN_STRIP = (0.25, 0.3, 0.6)
#: A region is the covering's fabric when its median colour lies within this of the crown's (CIELab, OpenCV's 8-bit
#: scale).
CROWN_COLOUR_DISTANCE = 20.0


@dataclass(frozen=True)
class HeadCut:
    """``reach``: the head zone's radius in units of the head-to-neck distance; ``max_share``: the largest share of
    the garment a head covering may have; ``clusters``: colours per photo for the regions."""

    reach: float
    max_share: float
    clusters: int

    @property
    def tag(self) -> str:
        """Short identity for index files (``+heads0.75x0.4x4``)."""
        return f"+heads{self.reach:g}x{self.max_share:g}x{self.clusters}"

    @classmethod
    def from_env(cls) -> HeadCut | None:
        """``HEAD_COVERINGS=R,S,K`` (e.g. ``0.75,0.4,4``); unset, empty or ``0`` turns the cut off."""
        values = env_numbers("HEAD_COVERINGS", (float, float, int), "'R,S,K' (reach, max share, clusters)",
                             "0.75,0.4,4", valid=lambda r, s, k: r > 0 and 0 < s <= 1 and k >= 1,
                             needs="R > 0, 0 < S ≤ 1 and K ≥ 1")
        return cls(*values) if values else None


def head_geometry(keypoints: np.ndarray) -> tuple[np.ndarray, float] | None:
    """(head centre, head-to-neck distance) in the photo's pixels: the centre is the mean of the confident face
    points, the neck's base the midpoint of the shoulders; None when the pose shows no face or no pair of
    shoulders."""
    face = keypoints[list(FACE)]
    face = face[face[:, 2] >= MIN_KEYPOINT_SCORE]
    shoulders = keypoints[list(SHOULDERS)]
    if not len(face) or (shoulders[:, 2] < MIN_KEYPOINT_SCORE).any():
        return None
    centre = face[:, :2].mean(0)
    scale = float(np.linalg.norm(centre - shoulders[:, :2].mean(0)))
    return (centre, scale) if scale > 0 else None


def _photo_grid(photo_size: tuple[int, int], map_shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """x (columns) and y (rows) of each map pixel's centre in the photo's pixels (``photo_size`` = width, height)."""
    height, width = map_shape
    return ((np.arange(width, dtype=np.float32) + 0.5) * photo_size[0] / width,
            (np.arange(height, dtype=np.float32) + 0.5) * photo_size[1] / height)


def head_zone(head: tuple[np.ndarray, float], photo_size: tuple[int, int], map_shape: tuple[int, int],
              reach: float) -> np.ndarray:
    """Boolean map (``map_shape``) of the pixels within ``reach`` × (head-to-neck distance) of the head centre
    (``head_geometry``), measured in the photo's own pixels (``photo_size`` = width, height)."""
    (cx, cy), scale = head
    xs, ys = _photo_grid(photo_size, map_shape)
    return (xs[None] - cx) ** 2 + (ys[:, None] - cy) ** 2 <= (reach * scale) ** 2


def crown_strip(head: tuple[np.ndarray, float], photo_size: tuple[int, int], map_shape: tuple[int, int]) -> np.ndarray:
    """Boolean map of the strip just above the face (``CROWN_STRIP``): hijab fabric on a covered head, hair on a
    bare one."""
    (cx, cy), scale = head
    half_width, (top, bottom) = CROWN_STRIP[0] * scale, (cy - CROWN_STRIP[2] * scale, cy - CROWN_STRIP[1] * scale)
    xs, ys = _photo_grid(photo_size, map_shape)
    return (np.abs(xs - cx) <= half_width)[None] & ((ys >= top) & (ys <= bottom))[:, None]


def drop_head_coverings(probs: np.ndarray, rgb: Image.Image | np.ndarray, keypoints: np.ndarray,
                        cut: HeadCut) -> np.ndarray:
    """``probs`` (background + groups, h×w) with the garment regions that reach the head made background."""
    photo = np.asarray(rgb.convert("RGB") if isinstance(rgb, Image.Image) else rgb)
    photo_size, map_shape = (photo.shape[1], photo.shape[0]), probs.shape[1:]
    head = head_geometry(keypoints)
    if head is None:
        return probs
    zone = head_zone(head, photo_size, map_shape, cut.reach)
    garment = probs[0] < 0.5
    if not (zone & garment).any():
        return probs
    crown = crown_strip(head, photo_size, map_shape)
    if not crown.any():
        return probs
    small = cv2.resize(photo, (map_shape[1], map_shape[0]), interpolation=cv2.INTER_AREA)
    lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB).astype(np.float32)
    crown_colour = np.median(lab[crown], axis=0)
    regions = colour_regions(small, garment, cut.clusters)
    sizes = np.bincount(regions[garment], minlength=regions.max() + 1)
    seeds = np.bincount(regions[garment & zone], minlength=len(sizes))
    candidates = (seeds >= np.maximum(MIN_SEED_PIXELS, MIN_SEED_SHARE * sizes)) & (sizes <= cut.max_share * garment.sum())
    candidates[0] = False
    covering = np.zeros_like(candidates)
    for region in np.flatnonzero(candidates):
        colour = np.median(lab[regions == region], axis=0)
        covering[region] = np.linalg.norm(colour - crown_colour) <= CROWN_COLOUR_DISTANCE
    drop = covering[regions] & garment
    if not drop.any():
        return probs
    out = probs.copy()
    out[0][drop] = 1.0
    out[1:, drop] = 0.0
    return out
