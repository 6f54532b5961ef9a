"""Prompt adherence and negative-prompt removal, measured with the deterministic detector."""
from __future__ import annotations

import itertools

import numpy as np
import torch

from . import device, scenes
from .detector import adheres, removal, to_uint8
from .diffusion import ddim_sample, one_step

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


def survey_pairs() -> list[tuple[list[tuple[str, str]], tuple[str, str]]]:
    """Every seen two-object combination, once with each object as the negative (112 pairs): NASA's
    rate beyond the eight pairs above, which were picked before measuring and are not all alike."""
    pairs = []
    for a, b in itertools.combinations(scenes.OBJECTS, 2):
        if frozenset((a, b)) not in scenes.HELD_OUT_PAIRS:
            pairs += [([a, b], b), ([a, b], a)]
    return pairs


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


def student_curve_point(unet, ae, encode, seeds_per_caption: int = 8) -> dict:
    result = {}
    for split in ("held_out", "seen"):
        captions, objects, seeds = eval_set(split, seeds_per_caption, seed_offset=500_000)
        result[split] = adherence(one_step_images(unet, ae, encode, captions, seeds), objects)
    return result


def removal_rates(unet, ae, encode, seeds: list[int], alpha: float, pairs=REMOVAL_PAIRS, projection: bool = False) -> dict:
    captions, negatives, keeps, removes, all_seeds = [], [], [], [], []
    for objects, remove in pairs:
        for s in seeds:
            captions.append(scenes.caption_for(objects))
            negatives.append(scenes.object_phrase(remove, article=False))
            keeps.append([o for o in objects if o != remove])
            removes.append(remove)
            all_seeds.append(s)
    images = one_step_images(unet, ae, encode, captions, all_seeds, negatives=negatives, alpha=alpha, projection=projection)
    outcomes = [removal(im, k, r) for im, k, r in zip(images, keeps, removes)]
    removed, kept, only_kept = (np.array([o[i] for o in outcomes]) for i in range(3))
    per_pair = [float((removed & kept)[i * len(seeds) : (i + 1) * len(seeds)].mean()) for i in range(len(pairs))]
    return {"alpha": alpha, "projection": projection, "removed": float(removed.mean()), "kept": float(kept.mean()),
            "success": float((removed & kept).mean()), "clean": float((removed & kept & only_kept).mean()), "per_pair": per_pair}
