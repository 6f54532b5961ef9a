"""Prompt adherence, negative-prompt removal and layout diversity, measured with the deterministic
detector, with 95% confidence intervals over captions (or prompt/negative pairs), not images: the
images of one caption are not independent draws when a model draws (nearly) the same picture for
every seed."""
from __future__ import annotations

import itertools
import math
from collections import Counter
from typing import Sequence

import numpy as np
import torch

from . import device, scenes
from .detector import Found, adheres, layout, removal, to_uint8
from .diffusion import ddim_sample, one_step

POSITION_TOLERANCE = 3.0  # pixels: two layouts differ when an object moved further than this (a shape's radius is 4.5–6.5)

# (positive objects, the object the negative prompt names): every pair is a seen combination.
REMOVAL_PAIRS: list[tuple[list[tuple[str, str]], tuple[str, str]]] = [
    ([("red", "circle"), ("blue", "square")], ("blue", "square")),
    ([("green", "triangle"), ("yellow", "circle")], ("yellow", "circle")),
    ([("blue", "circle"), ("red", "triangle")], ("red", "triangle")),
    ([("yellow", "square"), ("green", "circle")], ("green", "circle")),
    ([("red", "square"), ("blue", "triangle")], ("red", "square")),
    ([("green", "square"), ("yellow", "triangle")], ("green", "square")),
    ([("blue", "triangle"), ("yellow", "square")], ("yellow", "square")),
    ([("red", "circle"), ("green", "square"), ("blue", "triangle")], ("green", "square")),
]


def survey_pairs(untuned: bool = False) -> list[tuple[list[tuple[str, str]], tuple[str, str]]]:
    """Every seen two-object combination, once with each object as the negative (112 pairs): NASA's
    rate beyond the eight pairs above, which were picked before measuring and are not all alike.
    `untuned`: without the seven two-object pairs of those eight, on which NASA's α is tuned (105 pairs)."""
    tuning = {(frozenset(objects), negative) for objects, negative in REMOVAL_PAIRS}
    pairs = []
    for a, b in itertools.combinations(scenes.OBJECTS, 2):
        if frozenset((a, b)) not in scenes.HELD_OUT_PAIRS:
            pairs += [([a, b], b), ([a, b], a)]
    return [(objects, negative) for objects, negative in pairs if not untuned or (frozenset(objects), negative) not in tuning]


def latent_noise(seeds: list[int], channels: int = 4, side: int = 8) -> torch.Tensor:
    return device.put(torch.stack([torch.randn((channels, side, side), generator=torch.Generator().manual_seed(s)) for s in seeds]))


@torch.no_grad()
def one_step_images(unet, ae, encode, captions, seeds, negatives=None, alpha: float = 0.0, batch: int = 256, projection: bool = False) -> np.ndarray:
    out = []
    for i in range(0, len(captions), batch):
        caps, sds = captions[i : i + batch], seeds[i : i + batch]
        nasa = {}
        if negatives is not None and alpha != 0:
            nasa = dict(negative_context=encode(negatives[i : i + batch]), nasa_alpha=torch.full((len(caps),), float(alpha), device=device.current()),
                        nasa_projection=projection)
        x0 = one_step(unet, latent_noise(sds), encode(caps), **nasa)
        out.append(to_uint8(ae.decoder(x0 / ae.scaling_factor).cpu().numpy()))
    return np.concatenate(out)


@torch.no_grad()
def teacher_images(teacher, ae, encode, captions, seeds, steps: int = 25, kappa: float = 3.0, batch: int = 256) -> np.ndarray:
    out = []
    for i in range(0, len(captions), batch):
        caps, sds = captions[i : i + batch], seeds[i : i + batch]
        cond = encode(caps)
        x0 = ddim_sample(teacher, latent_noise(sds), cond, encode([""]).expand_as(cond), steps=steps, kappa=kappa)
        out.append(to_uint8(ae.decoder(x0 / ae.scaling_factor).cpu().numpy()))
    return np.concatenate(out)


def eval_set(split: str, seeds_per_caption: int, seed_offset: int = 0):
    """(captions, requested objects, seeds). 'held_out': every held-out pair in both orders;
    'seen': the first 20 canonical captions of the evaluation stream that contain no held-out pair."""
    if split == "held_out":
        items = scenes.held_out_captions()
    else:
        items, index = [], 0
        while len(items) < 20:
            scene = scenes.sample_scene(99, index, split="train")
            index += 1
            items.append((scene.objects, scene.caption))
    captions, objects, seeds = [], [], []
    for k, (objs, caption) in enumerate(items):
        for j in range(seeds_per_caption):
            captions.append(caption)
            objects.append(objs)
            seeds.append(seed_offset + k * 1000 + j)
    return captions, objects, seeds


def adherence(images: np.ndarray, objects) -> float:
    return float(np.mean([adheres(im, objs) for im, objs in zip(images, objects)]))


def by_caption(values: Sequence, captions: Sequence[str]) -> list[list]:
    """`values` grouped by caption, in the order the captions first appear."""
    groups: dict[str, list] = {}
    for value, caption in zip(values, captions):
        groups.setdefault(caption, []).append(value)
    return list(groups.values())


def t_quantile_975(df: int) -> float:
    """Student's t 97.5% quantile (a table below 10 degrees of freedom, the Cornish–Fisher expansion above: error < 0.005)."""
    if df < 1:
        return math.nan
    if df < 10:
        return (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262)[df - 1]
    z = 1.959964
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


def caption_interval(per_caption: Sequence[float]) -> dict:
    """Mean of per-caption rates with its standard error and 95% t-interval over the captions (the units
    that vary independently), clipped to [0, 1]."""
    values = np.asarray(per_caption, dtype=np.float64)
    n = len(values)
    mean = float(values.mean()) if n else math.nan
    se = float(values.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
    half = t_quantile_975(n - 1) * se if n > 1 else math.nan
    return {"mean": mean, "se": se, "low": max(0.0, mean - half), "high": min(1.0, mean + half), "units": n}


def layouts_differ(a: list[Found], b: list[Found], tolerance: float = POSITION_TOLERANCE) -> bool:
    """Whether two images' layouts differ: another set of (colour, shape) objects, or an object of a
    kind moved further than `tolerance` pixels (objects of one kind matched to each other the closest way)."""
    if Counter(f.kind for f in a) != Counter(f.kind for f in b):
        return True
    for kind in {f.kind for f in a}:
        pa, pb = [f for f in a if f.kind == kind], [f for f in b if f.kind == kind]
        moved = min(max(math.hypot(p.cx - q.cx, p.cy - q.cy) for p, q in zip(pa, order)) for order in itertools.permutations(pb))
        if moved > tolerance:
            return True
    return False


def seed_pair_diversity(layouts: Sequence[list[Found]]) -> float:
    """The fraction of pairs of seeds (of one caption) whose detected layouts differ."""
    pairs = list(itertools.combinations(range(len(layouts)), 2))
    return float(np.mean([layouts_differ(layouts[i], layouts[j]) for i, j in pairs])) if pairs else math.nan


def split_metrics(images: np.ndarray, objects, captions) -> dict:
    """Adherence and diversity of one evaluation split, each with its interval over captions."""
    layouts = [layout(im) for im in images]
    adhere = [Counter(f.kind for f in found) == Counter(objs) for found, objs in zip(layouts, objects)]
    per_caption = [float(np.mean(group)) for group in by_caption(adhere, captions)]
    diverse = [seed_pair_diversity(group) for group in by_caption(layouts, captions)]
    return {"adherence": float(np.mean(adhere)), "adherence_interval": caption_interval(per_caption), "per_caption_adherence": per_caption,
            "diversity": caption_interval(diverse)["mean"], "diversity_interval": caption_interval(diverse), "per_caption_diversity": diverse}


def student_curve_point(unet, ae, encode, seeds_per_caption: int = 8) -> dict:
    """Adherence per split and the held-out seed diversity, on seeds of their own (500,000+)."""
    result = {}
    for split in ("held_out", "seen"):
        captions, objects, seeds = eval_set(split, seeds_per_caption, seed_offset=500_000)
        metrics = split_metrics(one_step_images(unet, ae, encode, captions, seeds), objects, captions)
        result[split] = metrics["adherence"]
        if split == "held_out":
            result["held_out_diversity"] = round(metrics["diversity"], 4)
    return result


def removal_rates(unet, ae, encode, seeds: list[int], alpha: float, pairs=REMOVAL_PAIRS, projection: bool = False) -> dict:
    images, keeps, removes = removal_images(unet, ae, encode, seeds, alpha, pairs, projection)
    return removal_summary(images, keeps, removes, len(pairs), len(seeds), alpha, projection)


def removal_images(unet, ae, encode, seeds: list[int], alpha: float, pairs=REMOVAL_PAIRS, projection: bool = False):
    """(images, kept objects, removed object) of each prompt/negative pair × seed, pair-major, with NASA at `alpha`."""
    captions, negatives, keeps, removes, all_seeds = [], [], [], [], []
    for objects, remove in pairs:
        for s in seeds:
            captions.append(scenes.caption_for(objects))
            negatives.append(scenes.object_phrase(remove, article=False))
            keeps.append([o for o in objects if o != remove])
            removes.append(remove)
            all_seeds.append(s)
    images = one_step_images(unet, ae, encode, captions, all_seeds, negatives=negatives, alpha=alpha, projection=projection)
    return images, keeps, removes


def removal_summary(images: np.ndarray, keeps, removes, pairs: int, seeds: int, alpha: float = 0.0, projection: bool = False) -> dict:
    """Rates over the images of `pairs` prompt/negative pairs × `seeds` seeds (pair-major): removed,
    kept, success (removed and kept), clean (success with only the kept kinds of object in the image),
    exact (exactly the kept objects: no copies, nothing else); success's and clean's intervals are over pairs."""
    outcomes = [removal(im, k, r) for im, k, r in zip(images, keeps, removes)]
    removed, kept, only_kept, exact = (np.array([o[i] for o in outcomes]) for i in range(4))
    success, clean = removed & kept, removed & kept & only_kept
    per_pair = [float(success[i * seeds : (i + 1) * seeds].mean()) for i in range(pairs)]
    per_pair_clean = [float(clean[i * seeds : (i + 1) * seeds].mean()) for i in range(pairs)]
    return {"alpha": alpha, "projection": projection, "removed": float(removed.mean()), "kept": float(kept.mean()),
            "success": float(success.mean()), "clean": float(clean.mean()), "exact": float(exact.mean()), "per_pair": per_pair,
            "success_interval": caption_interval(per_pair), "clean_interval": caption_interval(per_pair_clean)}
