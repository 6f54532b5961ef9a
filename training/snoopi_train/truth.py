"""Ground truth for the detector: rendered scenes harder than the training data — soft edges (a
Gaussian blur of each object's coverage), 4× supersampled anti-aliasing, colour jitter, a little
background noise — with extra objects the detector must count: shapes of no palette colour (brown,
olive, orange, teal, …) and palette-coloured shapes that are none of the three kinds (a dome, a
teardrop, an ellipse, a long rectangle). Every sample is a pure function of (seed, index)."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from .detector import OTHER, SQUARE_HALF_SIDE, signed_distance
from .scenes import BACKGROUND, COLOURS, IMAGE_SIZE, SHAPES, SUPERSAMPLE

# Off-palette colours like the default model's extra objects (RGB distance ≥ 70 from every palette colour).
OFF_PALETTE = {
    "brown": (150, 85, 45), "olive": (120, 125, 40), "orange": (245, 130, 30), "teal": (30, 140, 140), "purple": (130, 60, 170),
    "grey": (130, 130, 130), "pink": (240, 120, 170), "maroon": (120, 30, 40), "lime": (150, 210, 50), "sky": (100, 180, 240),
}
HYBRIDS = ("dome", "teardrop", "ellipse", "rectangle")  # palette-coloured, but no clean shape
JITTER = 12  # per channel, uniform, on palette colours
MAX_SOFTNESS = 0.8  # σ of an object's edge blur, pixels
OFF_PALETTE_DISTANCE = 70.0


@dataclass(frozen=True)
class TruthObject:
    colour: str  # a palette colour or OTHER
    shape: str  # a kind of scenes.SHAPES, or OTHER
    form: str  # what is drawn: a kind of SHAPES or of HYBRIDS
    rgb: tuple[int, int, int]
    cx: float
    cy: float
    radius: float
    softness: float

    @property
    def kind(self) -> tuple[str, str]:
        return (self.colour, self.shape)


def _hybrid_distance(form: str, dx: np.ndarray, dy: np.ndarray, r: float) -> np.ndarray:
    if form == "dome":  # a square's lower half under a half-disc
        box = np.maximum(np.abs(dx) - r, np.abs(dy - r / 2) - r / 2)
        return np.minimum(np.sqrt(dx * dx + dy * dy) - r, box)
    if form == "teardrop":  # a triangle's apex on a disc: pointed at the top, round at the bottom
        apex = np.maximum(signed_distance("triangle", dx, dy, r), dy - 0.3 * r)
        return np.minimum(apex, np.sqrt(dx * dx + (dy - 0.3 * r) ** 2) - 0.7 * r)
    if form == "ellipse":  # wide, 1.7 : 1
        return (np.sqrt((dx / (1.3 * r)) ** 2 + (dy / (0.76 * r)) ** 2) - 1) * 0.76 * r
    if form == "rectangle":  # tall, 1.8 : 1
        return np.maximum(np.abs(dx) - 0.6 * SQUARE_HALF_SIDE * r, np.abs(dy) - 1.08 * SQUARE_HALF_SIDE * r)
    raise ValueError(form)


def coverage(obj: TruthObject) -> np.ndarray:
    """The object's coverage of each pixel of the image, supersampled 4×4, then blurred."""
    n = IMAGE_SIZE * SUPERSAMPLE
    centres = (np.arange(n) + 0.5) / SUPERSAMPLE
    dx, dy = centres[None, :] - obj.cx, centres[:, None] - obj.cy
    distance = signed_distance(obj.form, dx, dy, obj.radius) if obj.form in SHAPES else _hybrid_distance(obj.form, dx, dy, obj.radius)
    cover = (distance <= 0).reshape(IMAGE_SIZE, SUPERSAMPLE, IMAGE_SIZE, SUPERSAMPLE).mean(axis=(1, 3))
    if obj.softness > 0:
        k = np.arange(-4, 5)
        kernel = np.exp(-0.5 * (k / obj.softness) ** 2)
        kernel /= kernel.sum()
        blur = np.array([[kernel[j - i + 4] if abs(j - i) <= 4 else 0.0 for j in range(IMAGE_SIZE)] for i in range(IMAGE_SIZE)])
        cover = blur @ cover @ blur.T
    return cover


def _off_palette_colour(rng: np.random.Generator) -> tuple[int, int, int]:
    if rng.random() < 0.5:
        return OFF_PALETTE[list(OFF_PALETTE)[rng.integers(len(OFF_PALETTE))]]
    palette = np.array(list(COLOURS.values()), dtype=np.float32)
    while True:  # any colour clearly off the palette and dark enough to see
        rgb = rng.integers(0, 256, size=3)
        if np.linalg.norm(palette - rgb, axis=1).min() >= OFF_PALETTE_DISTANCE and 255 - rgb.min() >= 100:
            return tuple(int(v) for v in rgb)


def truth_scene(seed: int, index: int) -> tuple[np.ndarray, list[TruthObject]]:
    """(RGB uint8 image, its objects): one to three palette shapes; in half of the scenes one or two of
    them and one or two extra objects (off-palette colour or hybrid shape)."""
    rng = np.random.default_rng([seed, index, 2])
    extras = int(rng.integers(1, 3)) if rng.random() < 0.5 else 0
    wanted = []
    for _ in range(int(rng.integers(1, 4 - (extras > 0)))):  # at most two palette shapes beside extras, so all fit
        wanted.append(("palette", list(COLOURS)[rng.integers(4)], SHAPES[rng.integers(3)]))
    if extras:
        for _ in range(extras):
            if rng.random() < 0.5:
                wanted.append(("off", OTHER, SHAPES[rng.integers(3)]))
            else:
                wanted.append(("hybrid", list(COLOURS)[rng.integers(4)], HYBRIDS[rng.integers(len(HYBRIDS))]))
    for attempt in range(200):
        if attempt and attempt % 20 == 0 and len(wanted) > 1:
            wanted.pop()  # too crowded to place: one object fewer
        objects, boxes = [], []
        for source, colour, form in wanted:
            r = float(rng.uniform(4.5, 6.5))
            softness = float(rng.uniform(0, MAX_SOFTNESS))
            reach = r * (1.3 if form in ("ellipse", "rectangle") else 1.0) + 1
            for _ in range(60):
                cx, cy = rng.uniform(reach, IMAGE_SIZE - reach, size=2)
                gap = 2 + 2 * softness
                if all(abs(cx - ox) >= reach + oreach + gap or abs(cy - oy) >= reach + oreach + gap for ox, oy, oreach in boxes):
                    break
            else:
                break
            boxes.append((cx, cy, reach))
            if source == "off":
                rgb = _off_palette_colour(rng)
            else:
                rgb = tuple(int(np.clip(v + rng.integers(-JITTER, JITTER + 1), 0, 255)) for v in COLOURS[colour])
            shape = form if source == "palette" else (OTHER if source == "hybrid" else form)
            objects.append(TruthObject(colour, shape, form, rgb, float(cx), float(cy), r, softness))
        if len(objects) == len(wanted):
            break
    else:
        raise RuntimeError(f"no room for the objects of scene ({seed}, {index})")
    image = np.empty((IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.float32)
    image[:] = BACKGROUND
    for obj in objects:
        alpha = coverage(obj)[..., None]
        image = image * (1 - alpha) + np.array(obj.rgb, dtype=np.float32) * alpha
    image += rng.normal(0, 1.5, size=image.shape)
    return np.clip(np.round(image), 0, 255).astype(np.uint8), objects


def expected(objects: list[TruthObject]) -> Counter:
    return Counter(o.kind for o in objects)
