"""Removal pairs: NASA-aware paired regression, the training-side lever for negative prompts that
remove cleanly (issue 22).

NASA is training-free: at serving time the cross-attention output becomes Z+ − α·Z− (or its
projection form). A student never saw that edit in training, so when it removes the named object it
fills the freed place with another one: in the evaluation images with only the kept kinds of object
are about 1%. A removal pair is (prompt with objects O, negative phrase of one r ∈ O, noise z, the
frozen teacher's DDIM + CFG sample of the caption of O − {r} from the same z). The student, run with
the serving NASA edit at the serving α, regresses onto that sample: the edit is still the serving
graph's, the weights learn what it should give.

So that the evaluation's negative-prompt figures stay honest, no evaluated pair is trained on:
- the prompts are three-object scenes, and two-object scenes of half the seen combinations
  (`removal_training_combo`); the survey reports the other half apart as the untouched pairs;
- no combination of the eight tuning pairs (`evaluate.REMOVAL_PAIRS`) is ever a prompt."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch

from .. import device, scenes
from ..evaluate import REMOVAL_PAIRS
from ..nets import UNet
from ..text_features import CaptionEncoder
from .paired import PairedSettings, teacher_samples

FILE_NAME = "removal-targets.pt"
# `--removal`'s loss weight (`--removal-weight` sets another): the paired regression's.
REMOVAL_WEIGHT = 1.0
TUNING_COMBOS = frozenset(frozenset(objects) for objects, _ in REMOVAL_PAIRS)


@dataclass
class RemovalSettings(PairedSettings):
    count: int = 4096
    seed: int = 23  # another caption stream and other noise than the paired targets'


def removal_training_combo(objects) -> bool:
    """Whether a two-object combination is one removal pairs may use as a prompt: a fixed half of them
    (by a hash of the sorted objects), never a tuning pair's."""
    combo = frozenset(objects)
    if combo in TUNING_COMBOS:
        return False
    key = "|".join(sorted(f"{c} {k}" for c, k in combo)).encode()
    return hashlib.sha256(key).digest()[0] % 2 == 0


def usable_prompt(objects) -> bool:
    if frozenset(objects) in TUNING_COMBOS:
        return False
    return len(objects) == 3 or (len(objects) == 2 and removal_training_combo(objects))


@dataclass
class RemovalTargets:
    """`count` stored (prompt, negative phrase, noise z, teacher sample x0 of the kept objects) quadruples."""
    prompts: list[str]
    negatives: list[str]
    kept: list[str]  # the caption the teacher sampled
    z: torch.Tensor
    x0: torch.Tensor

    def __len__(self) -> int:
        return len(self.prompts)

    def draw(self, count: int, generator: torch.Generator) -> tuple[list[str], list[str], torch.Tensor, torch.Tensor]:
        """`count` quadruples drawn uniformly with replacement (prompts, negatives, z, x0), z and x0 on the training device."""
        index = torch.randint(len(self), (count,), generator=generator).tolist()
        return ([self.prompts[i] for i in index], [self.negatives[i] for i in index],
                device.put(self.z[index]), device.put(self.x0[index]))


def removal_scenes(s: RemovalSettings) -> list[tuple[str, list[tuple[str, str]], tuple[str, str]]]:
    """(prompt, its objects, the object the negative names) of `s.count` removal pairs: a pure function
    of the settings. Prompts are the scene stream's training captions (with their variants), of the
    scenes `usable_prompt` admits; the negative object is drawn uniformly from the prompt's."""
    choose = torch.Generator().manual_seed(s.seed)
    chosen: list[tuple[str, list[tuple[str, str]], tuple[str, str]]] = []
    start, block = 0, 1024
    while len(chosen) < s.count:
        captions, found = scenes.captions(s.seed, start, block)
        start += block
        for caption, scene in zip(captions, found):
            objects = scene.objects
            if usable_prompt(objects) and len(chosen) < s.count:
                chosen.append((caption, objects, objects[int(torch.randint(len(objects), (), generator=choose))]))
    return chosen


def removal_prompts(s: RemovalSettings) -> tuple[list[str], list[str], list[str]]:
    """(prompts, negative phrases in the evaluation's form, kept captions) of `removal_scenes(s)`."""
    chosen = removal_scenes(s)
    return ([prompt for prompt, _, _ in chosen], [scenes.object_phrase(remove, article=False) for _, _, remove in chosen],
            [scenes.caption_for([o for o in objects if o != remove]) for _, objects, remove in chosen])


def make_removal_targets(teacher: UNet, encode: CaptionEncoder, channels: int, work: Path, s: RemovalSettings | None = None) -> RemovalTargets:
    """The removal pairs of `work/removal-targets.pt` (computed resumably when missing, or made with
    other settings or another teacher)."""
    s = s or RemovalSettings()
    prompts, negatives, kept = removal_prompts(s)
    z, x0 = teacher_samples("removal", teacher, encode, channels, work / FILE_NAME, s, kept)
    return RemovalTargets(prompts, negatives, kept, z, x0)
