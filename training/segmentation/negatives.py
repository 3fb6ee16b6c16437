"""Procedurally drawn catalogue pages with no garment in them: size charts, measurement drawings, tables, text.

Shops mix such pages into a product's photos. They are white pages with thin outlines of a figure, letters,
arrows and tables with coloured header rows — nothing in CCP looks like them, so a model trained on CCP alone
keeps parts of the drawing. Every pixel of these samples is background. The figure outlines are drawn from
CCP person silhouettes (the non-null region of a label map), so they have the shapes a garment model reacts to.
"""

from __future__ import annotations

import string

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont

WORDS = ["Size", "Chart", "Chest", "Height", "Sleeve", "Waist", "Hip", "Length", "Boy", "Göğüs", "Kol", "Bel",
         "S", "M", "L", "XL", "2XL", "cm", "inch", "Model", "Beden", "Tablosu", "Upper", "Fabric", "Care", "%100"]


def _rand(g: torch.Generator, lo: float = 0.0, hi: float = 1.0) -> float:
    return float(torch.empty(1).uniform_(lo, hi, generator=g))


def _randint(g: torch.Generator, lo: int, hi: int) -> int:
    """An integer in [lo, hi)."""
    return int(torch.randint(lo, max(hi, lo + 1), (1,), generator=g))


def _colour(g: torch.Generator, dark: bool = False) -> tuple[int, int, int]:
    rgb = torch.rand(3, generator=g)
    if dark:
        rgb = rgb * 0.55
    return tuple(int(v * 255) for v in rgb)


def _font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _outline(silhouette: torch.Tensor, width: int) -> torch.Tensor:
    """Boolean contour of a boolean mask, ``width`` pixels thick."""
    m = silhouette.float()[None, None]
    eroded = -F.max_pool2d(-m, 2 * width + 1, stride=1, padding=width)
    return (m - eroded)[0, 0] > 0.5


def _figure(page: np.ndarray, silhouette: torch.Tensor, g: torch.Generator) -> None:
    """Draw a person silhouette's outline (a size chart's measuring figure) somewhere on the page."""
    h, w = page.shape[:2]
    fh = _randint(g, int(h * 0.45), int(h * 0.95))
    sil = F.interpolate(silhouette.float()[None, None], size=(fh, max(8, round(fh * _rand(g, 0.35, 0.75)))),
                        mode="nearest")[0, 0] > 0.5
    line = _outline(sil, _randint(g, 1, 3)).numpy()
    fh, fw = line.shape
    fw = min(fw, w)
    y0, x0 = _randint(g, 0, h - fh + 1), _randint(g, 0, w - fw + 1)
    colour = np.array(_colour(g), dtype=np.uint8)
    region = page[y0:y0 + fh, x0:x0 + fw]
    region[line[:, :fw]] = colour


def _table(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], g: torch.Generator) -> None:
    x0, y0, x1, y1 = box
    rows, cols = _randint(g, 2, 8), _randint(g, 2, 6)
    header = _colour(g)
    rh, cw = (y1 - y0) / rows, (x1 - x0) / cols
    draw.rectangle([x0, y0, x1, y0 + rh], fill=header)
    ink = _colour(g, dark=True)
    font = _font(max(6, int(rh * 0.6)))
    for r in range(rows + 1):
        draw.line([x0, y0 + r * rh, x1, y0 + r * rh], fill=ink, width=1)
    for c in range(cols + 1):
        draw.line([x0 + c * cw, y0, x0 + c * cw, y1], fill=ink, width=1)
    for r in range(rows):
        for c in range(cols):
            word = WORDS[_randint(g, 0, len(WORDS))] if r == 0 or c == 0 else f"{_randint(g, 30, 160)} cm"
            draw.text((x0 + c * cw + 2, y0 + r * rh + 1), word, fill=ink, font=font)


def _text(draw: ImageDraw.ImageDraw, hw: tuple[int, int], g: torch.Generator) -> None:
    h, w = hw
    ink = _colour(g, dark=True)
    for _ in range(_randint(g, 1, 8)):
        size = _randint(g, 7, 22)
        words = " ".join(WORDS[_randint(g, 0, len(WORDS))] for _ in range(_randint(g, 1, 4)))
        if _rand(g) < 0.3:
            words = string.ascii_uppercase[_randint(g, 0, 6)]
        draw.text((_randint(g, 0, w - 20), _randint(g, 0, h - size)), words, fill=ink, font=_font(size))


def _arrows(draw: ImageDraw.ImageDraw, hw: tuple[int, int], g: torch.Generator) -> None:
    h, w = hw
    ink = _colour(g, dark=True)
    for _ in range(_randint(g, 0, 5)):
        x, y = _randint(g, 0, w), _randint(g, 0, h)
        if _rand(g) < 0.5:
            x2, y2 = x + _randint(g, 10, w // 2), y
        else:
            x2, y2 = x, y + _randint(g, 10, h // 2)
        dashed = _rand(g) < 0.5
        steps = 12 if dashed else 1
        for s in range(steps):
            if dashed and s % 2:
                continue
            a, b = s / steps, (s + 1) / steps
            draw.line([x + (x2 - x) * a, y + (y2 - y) * a, x + (x2 - x) * b, y + (y2 - y) * b], fill=ink, width=1)


def draw_negative(hw: tuple[int, int], silhouette: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """A (3, H, W) float image in [0, 1] of a garment-free catalogue page; its label is all background.

    Pages are drawn at 1–3× the output size and scaled down, as a 1200-pixel page reaches the model at 240:
    lines and text become thin and faint, the way the model sees real charts.
    """
    scale = _randint(g, 1, 4)
    page = _draw_page((hw[0] * scale, hw[1] * scale), silhouette, g)
    if scale > 1:
        page = F.interpolate(page[None], size=hw, mode="area")[0]
    return page


def _draw_page(hw: tuple[int, int], silhouette: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    h, w = hw
    paper = 235 + _randint(g, 0, 21)
    tint = np.array([paper, paper, paper]) - (np.array(_colour(g)) // 12 if _rand(g) < 0.3 else 0)
    page = np.empty((h, w, 3), dtype=np.uint8)
    page[:] = np.clip(tint, 0, 255)
    if _rand(g) < 0.8:
        _figure(page, silhouette, g)
    img = Image.fromarray(page)
    draw = ImageDraw.Draw(img)
    if _rand(g) < 0.7:
        ty = _randint(g, 0, h // 2)
        tx = _randint(g, 0, w // 3)
        _table(draw, (tx, ty, min(w - 1, tx + _randint(g, w // 3, w)), min(h - 1, ty + _randint(g, h // 8, h // 2))), g)
    _text(draw, hw, g)
    _arrows(draw, hw, g)
    return torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1).float() / 255.0
