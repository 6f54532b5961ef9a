"""The procedural data set: one to three coloured shapes on a white background, with captions.

Every sample is a pure function of (seed, index), so the data set is unlimited and reproducible, and
a resumed training run sees exactly the stream it would have seen without the interruption.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

IMAGE_SIZE = 32
SUPERSAMPLE = 4

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 170, 70),
    "blue": (40, 80, 220),
    "yellow": (235, 200, 40),
}
BACKGROUND = (255, 255, 255)
SHAPES = ("circle", "square", "triangle")
OBJECTS: tuple[tuple[str, str], ...] = tuple((c, s) for c in COLOURS for s in SHAPES)

# How many shapes a training scene has: more single and double scenes than triples.
COUNT_WEIGHTS = {1: 0.25, 2: 0.45, 3: 0.30}
RADIUS_RANGE = (4.5, 6.5)


def _held_out_pairs() -> frozenset[frozenset[tuple[str, str]]]:
    """Ten object pairs that never appear together in a training scene (the held-out combinations)."""
    pairs = list(itertools.combinations(OBJECTS, 2))
    rng = np.random.default_rng(20241203)
    chosen = rng.choice(len(pairs), size=10, replace=False)
    return frozenset(frozenset(pairs[i]) for i in sorted(chosen))


HELD_OUT_PAIRS = _held_out_pairs()


@dataclass(frozen=True)
class Shape:
    colour: str
    kind: str
    cx: float
    cy: float
    radius: float


@dataclass(frozen=True)
class Scene:
    shapes: tuple[Shape, ...]
    caption: str

    @property
    def objects(self) -> list[tuple[str, str]]:
        return [(s.colour, s.kind) for s in self.shapes]


def object_phrase(obj: tuple[str, str], article: bool = True) -> str:
    colour, kind = obj
    return f"a {colour} {kind}" if article else f"{colour} {kind}"


def caption_for(objects: list[tuple[str, str]], article: bool = True, background: bool = True) -> str:
    phrases = [object_phrase(o, article) for o in objects]
    if len(phrases) == 1:
        text = phrases[0]
    else:
        text = ", ".join(phrases[:-1]) + " and " + phrases[-1]
    return text + (" on a white background" if background else "")


def is_held_out(objects: list[tuple[str, str]]) -> bool:
    return any(frozenset(p) in HELD_OUT_PAIRS for p in itertools.combinations(objects, 2))


def _place(rng: np.random.Generator, radii: list[float]) -> list[tuple[float, float]] | None:
    centres: list[tuple[float, float]] = []
    for r in radii:
        for _ in range(50):
            cx, cy = rng.uniform(r + 1, IMAGE_SIZE - r - 1, size=2)
            # Axis-aligned boxes at least 2 px apart, so shapes never touch.
            if all(abs(cx - ox) >= r + orr + 2 or abs(cy - oy) >= r + orr + 2 for (ox, oy), orr in zip(centres, radii)):
                centres.append((float(cx), float(cy)))
                break
        else:
            return None
    return centres


def sample_scene(seed: int, index: int, split: str = "train") -> Scene:
    """Scene `index` of the stream `seed`. Training scenes never contain a held-out pair."""
    rng = np.random.default_rng([seed, index, 0 if split == "train" else 1])
    while True:
        count = int(rng.choice(list(COUNT_WEIGHTS), p=list(COUNT_WEIGHTS.values())))
        picks = rng.choice(len(OBJECTS), size=count, replace=False)
        objects = [OBJECTS[i] for i in picks]
        if split == "train" and is_held_out(objects):
            continue
        for _ in range(10):
            radii = [float(rng.uniform(*RADIUS_RANGE)) for _ in objects]
            centres = _place(rng, radii)
            if centres is not None:
                break
        else:
            continue
        shapes = tuple(Shape(c, k, x, y, r) for (c, k), (x, y), r in zip(objects, centres, radii))
        return Scene(shapes, caption_for(objects))


def training_caption(scene: Scene, rng: np.random.Generator) -> str:
    """Caption variants seen in training: articles dropped 25% of the time, the background phrase 30%."""
    return caption_for(scene.objects, article=rng.random() >= 0.25, background=rng.random() >= 0.30)


def shape_coverage(shape: Shape) -> tuple[slice, slice, np.ndarray]:
    """Pixel coverage of the shape inside its bounding box: (row slice, column slice, coverage)."""
    r = shape.radius
    x0, x1 = max(0, int(shape.cx - r) - 1), min(IMAGE_SIZE, int(shape.cx + r) + 2)
    y0, y1 = max(0, int(shape.cy - r) - 1), min(IMAGE_SIZE, int(shape.cy + r) + 2)
    xs = x0 + (np.arange((x1 - x0) * SUPERSAMPLE) + 0.5) / SUPERSAMPLE - shape.cx
    ys = y0 + (np.arange((y1 - y0) * SUPERSAMPLE) + 0.5) / SUPERSAMPLE - shape.cy
    dx, dy = xs[None, :], ys[:, None]
    if shape.kind == "circle":
        inside = dx * dx + dy * dy <= r * r
    elif shape.kind == "square":
        h = r * 0.85
        inside = (np.abs(dx) <= h) & (np.abs(dy) <= h)
    elif shape.kind == "triangle":
        # Upright isosceles triangle in the box [-r, r]²: apex at the top, base at the bottom.
        t = (dy + r) / (2 * r)  # 0 at the apex, 1 at the base
        inside = (t >= 0) & (t <= 1) & (np.abs(dx) <= r * t)
    else:
        raise ValueError(f"unknown shape {shape.kind!r}")
    cover = inside.reshape(y1 - y0, SUPERSAMPLE, x1 - x0, SUPERSAMPLE).mean(axis=(1, 3))
    return slice(y0, y1), slice(x0, x1), cover


def render(scene: Scene) -> np.ndarray:
    """The scene as float32 RGB in [0, 1], shape (32, 32, 3), anti-aliased by 4×4 supersampling."""
    image = np.empty((IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.float32)
    image[:] = np.array(BACKGROUND, dtype=np.float32) / 255
    for shape in scene.shapes:
        rows, cols, cover = shape_coverage(shape)
        alpha = cover[..., None].astype(np.float32)
        colour = np.array(COLOURS[shape.colour], dtype=np.float32) / 255
        image[rows, cols] = image[rows, cols] * (1 - alpha) + colour * alpha
    return image


def captions(seed: int, start: int, size: int, caption_variants: bool = True) -> tuple[list[str], list[Scene]]:
    """The captions and scenes of indices start..start+size-1, without drawing them (the students
    only need the text)."""
    scenes = [sample_scene(seed, start + i) for i in range(size)]
    if caption_variants:
        rng = np.random.default_rng([seed, start, 7])
        return [training_caption(s, rng) for s in scenes], scenes
    return [s.caption for s in scenes], scenes


def batch(seed: int, start: int, size: int, caption_variants: bool = True) -> tuple[np.ndarray, list[str], list[Scene]]:
    """Images (N, 3, 32, 32) in [-1, 1], their captions and scenes for indices start..start+size-1."""
    texts, scenes = captions(seed, start, size, caption_variants)
    images = np.stack([render(s) for s in scenes]).transpose(0, 3, 1, 2) * 2 - 1
    return images.astype(np.float32), texts, scenes


def held_out_captions() -> list[tuple[list[tuple[str, str]], str]]:
    """The evaluation prompts: every held-out pair in both orders, with the canonical caption."""
    out = []
    for pair in sorted(HELD_OUT_PAIRS, key=lambda p: sorted(p)):
        a, b = sorted(pair)
        for objects in ([a, b], [b, a]):
            out.append((objects, caption_for(objects)))
    return out


def ahead(fn, calls, workers: int = 0):
    """`fn(*args)` for each args tuple of `calls`, in order; with `workers` > 0 the next few calls run
    in that many worker processes while the caller uses the current result (a GPU step is faster
    than drawing its batch on one core). Stops the workers when the caller stops early."""
    calls = iter(calls)
    if workers <= 0:
        for args in calls:
            yield fn(*args)
        return
    import collections
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        pending = collections.deque(pool.apply_async(fn, args) for args in itertools.islice(calls, 2 * workers))
        while pending:
            result = pending.popleft().get()
            for args in itertools.islice(calls, 1):
                pending.append(pool.apply_async(fn, args))
            yield result
