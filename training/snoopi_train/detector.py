"""A deterministic detector of coloured shapes in 32×32 images, for prompt adherence, negative-prompt
removal and layout diversity. No learning:

1. ink: every pixel darker than the background by more than `INK` (in its darkest channel); the
   4-connected components of ink are the candidate objects, and a component whose core holds two
   palette colours side by side is split between them (two shapes that touch);
2. colour: the mean of an object's core (its most inked pixels) against the palette; farther than
   `COLOUR_TOLERANCE` from every palette colour (brown, olive, orange, teal, pale ghosts, …) it is
   `OTHER`, an extra object;
3. shape: the object's coverage (each pixel's share of the way from white to the object's own
   colour) is fitted by a template of each kind — circle, square (half-side 0.85 r) and upright
   triangle as scenes.py draws them — with its centre, size and edge softness free (a soft edge is
   a Gaussian blur); the best template names the shape when it covers the ink well (1 − soft IoU ≤
   `FIT_TOLERANCE`) and no template of a hybrid the model draws (`HYBRIDS`: a dome, a teardrop) fits
   clearly better; otherwise the shape is `OTHER` (circle/triangle hybrids, domes, blobs, stretched
   shapes), again an extra object.

Any ink of at least `MIN_INK_AREA` pixels (coverage-weighted) is an object, so every extra object
breaks adherence. Checked against rendered ground truth with soft edges, colour jitter and
off-palette or misshapen extras (truth.py) and against hand labels of the default bundle's own
images (training/labels/)."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from .scenes import BACKGROUND, COLOURS

OTHER = "other"
INK = 40.0  # darkness, 255 − the darkest channel, from which a pixel is ink (the model's background stays below 10)
CORE = 0.75  # an object's core: its pixels at least this share of its darkest pixel's darkness
MIN_INK_AREA = 8.0  # coverage-weighted pixels; smaller specks are ignored (a requested shape covers ≥ 40)
COLOUR_TOLERANCE = 45.0  # RGB distance from an object's core colour to the nearest palette colour
FIT_TOLERANCE = 0.16  # 1 − soft IoU of an object's coverage with its best shape template …
HYBRID_MARGIN = 0.02  # … and no hybrid template (HYBRIDS) may fit better than it by more than this
HYBRIDS = ("dome", "teardrop")  # templates of the misshapen objects the default model draws
SPLIT_PIXELS = 6  # a component splits between two palette colours that each hold this many core pixels …
SPLIT_DISTANCE = 6.0  # … this far apart (pixels between their centres; concentric colour rings are one object)
SQUARE_HALF_SIDE = 0.85  # scenes.shape_coverage: a square of "radius" r has half-side 0.85 r
MAX_COLOUR_DISTANCE = 90.0  # palette_pixels' nearness (the grounding loss's colour masks; not used for detection)

_PALETTE = np.array([BACKGROUND, *COLOURS.values()], dtype=np.float32)
_NAMES = [None, *COLOURS]
_WHITE = np.array(BACKGROUND, dtype=np.float32)
_INK_COLOURS = _WHITE - np.array(list(COLOURS.values()), dtype=np.float32)  # what each palette colour takes from white


@dataclass(frozen=True)
class Found:
    """One detected object: its colour (a palette name or OTHER), shape (a kind or OTHER), the centre
    and size ("radius" as scenes.Shape has it) of its best template, its ink (coverage-weighted
    pixels), the template's misfit (1 − soft IoU) and its core colour's distance to the palette."""
    colour: str
    shape: str
    cx: float
    cy: float
    radius: float
    area: float
    misfit: float
    colour_distance: float

    @property
    def kind(self) -> tuple[str, str]:
        return (self.colour, self.shape)


# ---------------------------------------------------------------- shape templates

def _phi(x: np.ndarray) -> np.ndarray:
    """The standard normal CDF (tanh approximation, error < 2e-4)."""
    return 0.5 * (1.0 + np.tanh(0.7978845608 * (x + 0.044715 * x * x * x)))


def signed_distance(kind: str, dx: np.ndarray, dy: np.ndarray, r: float) -> np.ndarray:
    """Distance to the edge of a shape of scenes.py centred at 0 (negative inside), in pixels."""
    if kind == "circle":
        return np.sqrt(dx * dx + dy * dy) - r
    if kind == "square":
        qx, qy = np.abs(dx) - SQUARE_HALF_SIDE * r, np.abs(dy) - SQUARE_HALF_SIDE * r
        return np.sqrt(np.maximum(qx, 0) ** 2 + np.maximum(qy, 0) ** 2) + np.minimum(np.maximum(qx, qy), 0)
    if kind == "triangle":  # apex (0, −r), base from (−r, r) to (r, r)
        side = np.maximum(2 * dx - dy - r, -2 * dx - dy - r) / np.sqrt(5.0)
        return np.maximum(side, dy - r)
    if kind == "dome":  # a hybrid: a square's lower half under a half-disc
        box = np.maximum(np.abs(dx) - r, np.abs(dy - r / 2) - r / 2)
        return np.minimum(np.sqrt(dx * dx + dy * dy) - r, box)
    if kind == "teardrop":  # a hybrid: a triangle's apex on a disc (round below, pointed above)
        apex = np.maximum(signed_distance("triangle", dx, dy, r), dy - 0.25 * r)
        return np.minimum(apex, np.sqrt(dx * dx + (dy - 0.25 * r) ** 2) - 0.75 * r)
    raise ValueError(f"unknown shape {kind!r}")


def template(kind: str, xs: np.ndarray, ys: np.ndarray, cx: float, cy: float, r: float, softness: float) -> np.ndarray:
    """Coverage of pixels (centres xs, ys) by the shape, anti-aliased (a pixel is a box of variance
    1/12) and blurred by a Gaussian of σ = softness."""
    spread = np.sqrt(softness * softness + 1.0 / 12.0)
    return _phi(-signed_distance(kind, xs - cx, ys - cy, r) / spread)


def _misfit(alpha: np.ndarray, model: np.ndarray) -> float:
    return 1.0 - float(np.minimum(alpha, model).sum() / max(np.maximum(alpha, model).sum(), 1e-6))


def fit_shape(kind: str, alpha: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> tuple[float, tuple[float, float, float, float]]:
    """(misfit, (cx, cy, r, softness)) of the best template of `kind` for the coverage `alpha` at
    pixel centres xs, ys: started from the coverage's area and centroid, then a coordinate search."""
    area = float(alpha.sum())
    mx, my = float((alpha * xs).sum() / area), float((alpha * ys).sum() / area)
    if kind == "square":
        r = np.sqrt(area) / (2 * SQUARE_HALF_SIDE)
    elif kind == "triangle":
        r = np.sqrt(area / 2)
        my -= r / 3  # a triangle's centroid lies r/3 below its box centre
    else:  # circle and the hybrids: about a disc's size, centred
        r = np.sqrt(area / np.pi)
    params = [mx, my, float(r), 0.5]
    best = _misfit(alpha, template(kind, xs, ys, *params))
    steps = [0.5, 0.5, 0.4, 0.3]
    for _ in range(6):
        improved = False
        for i in range(4):
            for sign in (1, -1):
                trial = list(params)
                trial[i] += sign * steps[i]
                if trial[2] < 1.0 or trial[3] < 0.0:
                    continue
                m = _misfit(alpha, template(kind, xs, ys, *trial))
                if m < best - 1e-6:
                    best, params, improved = m, trial, True
                    break
        if not improved:
            steps = [s / 2 for s in steps]
            if steps[0] < 0.06:
                break
    return best, tuple(params)


# ---------------------------------------------------------------- ink and objects

def _components(mask: np.ndarray) -> list[np.ndarray]:
    """4-connected components of a boolean mask, each as an (N, 2) array of (y, x)."""
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
        out.append(np.array(pixels))
    return out


def _nearest_palette(colours: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For (N, 3) colours: the index of the nearest palette colour (into COLOURS) and the distance."""
    distances = np.linalg.norm(colours[:, None, :] - (_WHITE - _INK_COLOURS)[None], axis=-1)
    return distances.argmin(axis=-1), distances.min(axis=-1)


def _split_by_colour(pixels: np.ndarray, image: np.ndarray, darkness: np.ndarray) -> list[np.ndarray]:
    """A component whose core holds two or more palette colours, each in at least SPLIT_PIXELS
    pixels near that colour, split between them: each pixel goes to the colour of the nearest such
    core pixel. Otherwise the component is one object."""
    d = darkness[pixels[:, 0], pixels[:, 1]]
    core = d >= CORE * d.max()
    index, distance = _nearest_palette(image[pixels[:, 0], pixels[:, 1]])
    confident = core & (distance <= COLOUR_TOLERANCE)
    labels = [k for k in np.unique(index[confident]) if (confident & (index == k)).sum() >= SPLIT_PIXELS]
    if len(labels) < 2:
        return [pixels]
    seeds = [pixels[confident & (index == k)] for k in labels]
    centres = [seed.mean(axis=0) for seed in seeds]
    if min(np.linalg.norm(a - b) for i, a in enumerate(centres) for b in centres[i + 1 :]) < SPLIT_DISTANCE:
        return [pixels]
    nearest = np.stack([np.min(np.abs(pixels[:, None, :] - s[None]).sum(axis=-1), axis=1) for s in seeds])
    owner = nearest.argmin(axis=0)
    return [pixels[owner == i] for i in range(len(labels))]


def _owners(shape: tuple[int, int], parts: list[np.ndarray], reach: int = 3) -> np.ndarray:
    """Pixel → index of the object that owns it (−1: none): an object's own ink, then the non-ink
    pixels within `reach` steps of it (its soft edge), the nearest object first."""
    owner = np.full(shape, -1, dtype=np.int32)
    frontier = []
    for i, part in enumerate(parts):
        owner[part[:, 0], part[:, 1]] = i
        frontier += [(int(y), int(x), i) for y, x in part]
    h, w = shape
    for _ in range(reach):
        grown = []
        for y, x, i in frontier:
            for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                if 0 <= ny < h and 0 <= nx < w and owner[ny, nx] == -1:
                    owner[ny, nx] = i
                    grown.append((ny, nx, i))
        frontier = grown
    return owner


def objects(image: np.ndarray) -> list[Found]:
    """Every object in an RGB uint8 (or 0..255 float) image of shape (H, W, 3)."""
    pixels = image.astype(np.float32)
    ink = np.clip(_WHITE - pixels, 0, None)
    darkness = ink.max(axis=-1)
    parts = [part for component in _components(darkness > INK) for part in _split_by_colour(component, pixels, darkness)]
    owner = _owners(darkness.shape, parts)
    ys_all, xs_all = np.mgrid[0 : darkness.shape[0], 0 : darkness.shape[1]].astype(np.float32) + 0.5
    found = []
    for i, part in enumerate(parts):
        d = darkness[part[:, 0], part[:, 1]]
        core = part[d >= CORE * d.max()]
        colour = pixels[core[:, 0], core[:, 1]].mean(axis=0)
        index, distance = _nearest_palette(colour[None])
        taken = _WHITE - colour  # what the object's own colour takes from white
        alpha = np.clip((ink @ taken) / max(float(taken @ taken), 1e-6), 0, 1)
        y0, y1 = max(0, part[:, 0].min() - 3), min(darkness.shape[0], part[:, 0].max() + 4)
        x0, x1 = max(0, part[:, 1].min() - 3), min(darkness.shape[1], part[:, 1].max() + 4)
        window = (slice(y0, y1), slice(x0, x1))
        mine = owner[window] == i
        usable = mine | (owner[window] == -1)  # a neighbour's pixels are left out of the fit
        a = np.where(mine, alpha[window], 0.0)[usable]
        area = float(a.sum())
        if area < MIN_INK_AREA:
            continue
        xs, ys = xs_all[window][usable], ys_all[window][usable]
        fits = {kind: fit_shape(kind, a, xs, ys) for kind in ("circle", "square", "triangle")}
        kind = min(fits, key=lambda k: fits[k][0])
        misfit, (cx, cy, r, _) = fits[kind]
        clean = misfit <= FIT_TOLERANCE
        if clean:
            clean = min(fit_shape(h, a, xs, ys)[0] for h in HYBRIDS) >= misfit - HYBRID_MARGIN
        found.append(Found(colour=list(COLOURS)[int(index[0])] if distance[0] <= COLOUR_TOLERANCE else OTHER,
                           shape=kind if clean else OTHER, cx=cx, cy=cy, radius=r, area=area,
                           misfit=misfit, colour_distance=float(distance[0])))
    return found


def detect(image: np.ndarray) -> Counter:
    """Objects in an RGB image: a Counter of (colour, shape), OTHER standing for no palette colour or no clean shape."""
    return Counter(f.kind for f in objects(image))


def adheres(image: np.ndarray, requested: list[tuple[str, str]]) -> bool:
    """Every requested shape in the requested colour, and nothing else (no extra ink of any kind)."""
    return detect(image) == Counter(requested)


def removal(image: np.ndarray, keep: list[tuple[str, str]], remove: tuple[str, str]) -> tuple[bool, bool, bool, bool]:
    """(the removed object is absent, every kept object is present, nothing but kept kinds is there,
    exactly the kept objects are there). The third is stricter than the issue's success: a negative
    prompt may remove its object yet leave another one in its place (a shape of another colour or
    none, a misshapen one, or a copy of a kept object; copies pass the third but not the fourth)."""
    found = detect(image)
    return found[remove] == 0, all(found[k] >= 1 for k in keep), set(found) <= set(keep), found == Counter(keep)


def layout(image: np.ndarray) -> list[Found]:
    """The objects of an image in a fixed order (for comparing the layouts of two images)."""
    return sorted(objects(image), key=lambda f: (f.colour, f.shape, f.cx, f.cy))


def palette_pixels(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each pixel's nearest palette entry (0 = background, then COLOURS in order; see palette_index)
    and whether it is within MAX_COLOUR_DISTANCE of it (the grounding loss's colour masks)."""
    distances = np.linalg.norm(image.astype(np.float32)[:, :, None, :] - _PALETTE[None, None], axis=-1)
    return distances.argmin(axis=-1), distances.min(axis=-1) <= MAX_COLOUR_DISTANCE


def palette_index(colour: str) -> int:
    return _NAMES.index(colour)


def to_uint8(images: np.ndarray) -> np.ndarray:
    """(N, 3, H, W) in [-1, 1] → (N, H, W, 3) uint8, rounding as the serving pipeline does."""
    scaled = np.clip(images.astype(np.float32) * 0.5 + 0.5, 0, 1) * 255
    return np.round(scaled).astype(np.uint8).transpose(0, 2, 3, 1)
