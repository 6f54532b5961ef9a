"""A deterministic detector of coloured shapes in 32×32 images, for prompt adherence and
negative-prompt removal. No learning: each pixel is given the nearest palette colour (or the
background, or nothing when it is near none of them), 4-connected components of one colour are
objects. An upright triangle has its centre of mass a sixth of its height below the middle of its
bounding box; squares and circles are centred, and a square fills its box (≈ 1) where a circle fills
π/4. Pixels are weighted by how strongly they show the colour, so anti-aliased edges count partly."""
from __future__ import annotations

from collections import Counter

import numpy as np

from .scenes import BACKGROUND, COLOURS

MIN_AREA = 12  # pixels; smaller specks are ignored (a requested shape covers ≥ 50)
MAX_COLOUR_DISTANCE = 90.0  # RGB distance to the nearest palette colour

_PALETTE = np.array([BACKGROUND, *COLOURS.values()], dtype=np.float32)
_NAMES = [None, *COLOURS]


def classify(offset: float, fill: float) -> str:
    """Shape from the centroid's offset below the box middle (÷ height) and the weighted fill."""
    if offset >= 0.08:
        return "triangle"
    return "square" if fill >= 0.87 else "circle"


def _components(mask: np.ndarray) -> list[list[tuple[int, int]]]:
    seen = np.zeros_like(mask, dtype=bool)
    out = []
    h, w = mask.shape
    for y, x in zip(*np.nonzero(mask)):
        if seen[y, x]:
            continue
        stack, pixels = [(y, x)], []
        seen[y, x] = True
        while stack:
            cy, cx = stack.pop()
            pixels.append((cy, cx))
            for ny, nx in ((cy - 1, cx), (cy + 1, cx), (cy, cx - 1), (cy, cx + 1)):
                if 0 <= ny < h and 0 <= nx < w and mask[ny, nx] and not seen[ny, nx]:
                    seen[ny, nx] = True
                    stack.append((ny, nx))
        out.append(pixels)
    return out


def palette_pixels(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each pixel's nearest palette entry (0 = background, then COLOURS in order; see palette_index)
    and whether it is near enough to it to count."""
    distances = np.linalg.norm(image.astype(np.float32)[:, :, None, :] - _PALETTE[None, None], axis=-1)
    return distances.argmin(axis=-1), distances.min(axis=-1) <= MAX_COLOUR_DISTANCE


def palette_index(colour: str) -> int:
    return _NAMES.index(colour)


def detect(image: np.ndarray) -> Counter:
    """Objects in an RGB uint8 (or 0..255 float) image of shape (H, W, 3): a Counter of (colour, shape)."""
    pixels = image.astype(np.float32)
    nearest, near_enough = palette_pixels(pixels)
    found: Counter = Counter()
    background = _PALETTE[0]
    for index, colour in enumerate(_NAMES):
        if colour is None:
            continue
        target = _PALETTE[index]
        # How far each pixel is from the background towards this colour, 0..1.
        weight = np.clip(((pixels - background) @ (target - background)) / float((target - background) @ (target - background)), 0, 1)
        for component in _components((nearest == index) & near_enough):
            if len(component) < MIN_AREA:
                continue
            ys = np.array([p[0] for p in component])
            xs = np.array([p[1] for p in component])
            w = weight[ys, xs]
            height, width = ys.max() - ys.min() + 1, xs.max() - xs.min() + 1
            offset = (float((w * ys).sum() / w.sum()) - (ys.min() + ys.max()) / 2) / height
            found[(colour, classify(offset, float(w.sum()) / (height * width)))] += 1
    return found


def adheres(image: np.ndarray, requested: list[tuple[str, str]]) -> bool:
    """Every requested shape in the requested colour, and nothing else."""
    return detect(image) == Counter(requested)


def removal(image: np.ndarray, keep: list[tuple[str, str]], remove: tuple[str, str]) -> tuple[bool, bool, bool]:
    """(the removed object is absent, every kept object is present, nothing but kept kinds is there).
    The third is stricter than the issue's success: a negative prompt may remove its object yet leave
    another one in its place (a shape of another colour, or a copy of a kept object; copies pass)."""
    found = detect(image)
    return found[remove] == 0, all(found[k] >= 1 for k in keep), set(found) <= set(keep)


def to_uint8(images: np.ndarray) -> np.ndarray:
    """(N, 3, H, W) in [-1, 1] → (N, H, W, 3) uint8, rounding as the serving pipeline does."""
    scaled = np.clip(images.astype(np.float32) * 0.5 + 0.5, 0, 1) * 255
    return np.round(scaled).astype(np.uint8).transpose(0, 2, 3, 1)
