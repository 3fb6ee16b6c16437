"""Decode any image Pillow reads into RGB pixels (plus transparency), and encode the answer as JPEG.

The origin's content-type is ignored: bytes are sniffed by Pillow. The pixel count is checked from the header
before the full decode, so a small file announcing huge dimensions (a decompression bomb) costs nothing.
"""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from garment_search.errors import PayloadTooLarge, UnsupportedImage

# Our own check (decode_image) runs first with the configured cap; Pillow's guard stays as a backstop.
Image.MAX_IMAGE_PIXELS = 200_000_000

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff")


@dataclass
class DecodedImage:
    """Displayed-orientation RGB pixels; ``alpha`` (uint8, H×W) only when the source had transparency."""

    rgb: Image.Image
    alpha: np.ndarray | None = None

    @property
    def size(self) -> tuple[int, int]:
        return self.rgb.size


def decode_image(data: bytes, max_pixels: int) -> DecodedImage:
    """Decode ``data``: first frame, EXIF orientation applied, any mode or bit depth converted to 8-bit RGB."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
            width, height = im.size
            if width <= 0 or height <= 0:
                raise UnsupportedImage("The image has no pixels.")
            if width * height > max_pixels:
                raise PayloadTooLarge(f"The image has {width}x{height} pixels, more than the {max_pixels} allowed.")
            im.seek(0)
            im.load()
            im = _apply_orientation(im)
            return _to_rgb(im)
    except (PayloadTooLarge, UnsupportedImage):
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PayloadTooLarge("The image has more pixels than allowed.") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, IndexError, TypeError,
            MemoryError, ZeroDivisionError, struct.error):
        raise UnsupportedImage("The content is not a decodable image (JPEG, PNG, WebP, GIF, BMP or TIFF).") from None


def _apply_orientation(im: Image.Image) -> Image.Image:
    """Rotate/flip per EXIF so width and height are those of the image as displayed; bad EXIF is ignored."""
    try:
        return ImageOps.exif_transpose(im) or im
    except Exception:  # noqa: BLE001 - a corrupt EXIF block must not reject an otherwise valid photo
        return im


def _to_rgb(im: Image.Image) -> DecodedImage:
    mode = im.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") else max(float(arr.max()), 1.0)
        grey = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return DecodedImage(Image.fromarray(grey).convert("RGB"))
    if mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    elif mode == "PA":
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        alpha = np.asarray(rgba.getchannel("A"))
        rgb = Image.new("RGB", rgba.size, (0, 0, 0))
        rgb.paste(rgba, mask=rgba.getchannel("A"))
        return DecodedImage(rgb, alpha if alpha.min() < 255 else None)
    return DecodedImage(im.convert("RGB"))


def load_image_file(path: str | Path, max_pixels: int = 200_000_000) -> DecodedImage:
    """Decode an image file with the same rules as a downloaded one."""
    return decode_image(Path(path).read_bytes(), max_pixels)


def encode_jpeg(rgb: np.ndarray | Image.Image, quality: int) -> bytes:
    """Baseline JPEG without chroma subsampling, so garment colours and black edges stay clean."""
    im = rgb if isinstance(rgb, Image.Image) else Image.fromarray(rgb)
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=quality, subsampling=0, optimize=False)
    return buf.getvalue()


def pad_to_square(rgb: np.ndarray, size: int, resample: Image.Resampling = Image.Resampling.BICUBIC) -> np.ndarray:
    """size×size×3 uint8: the longest side resized to ``size``, centred on black — how the embedder's 'longest'
    preprocessing, the embedding's training crops and the sleeve classifier all see a cut-out."""
    h, w = rgb.shape[:2]
    scale = size / max(h, w)
    im = Image.fromarray(rgb).resize((max(1, round(w * scale)), max(1, round(h * scale))), resample)
    out = np.zeros((size, size, 3), np.uint8)
    y, x = (size - im.height) // 2, (size - im.width) // 2
    out[y:y + im.height, x:x + im.width] = np.asarray(im)
    return out
