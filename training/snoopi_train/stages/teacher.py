"""The teacher stage: the ε-predicting UNet with the text encoder (trained jointly for the first
`text_steps`, then frozen), caption dropout and an EMA; and which recipe (plain or grounded) a work
folder's teacher is."""
from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from .. import device, scenes
from ..checkpoint import Progress, log, save_atomic, step_generator
from ..clip_ids import caption_ids
from ..diffusion import NUM_TRAIN_TIMESTEPS, add_noise
from ..grounding import Grounding, scene_masks
from ..nets import AutoEncoder, ModelConfig, TextEncoder, UNet
from ..text_features import CaptionEncoder
from .autoencoder import encode_latents
from .common import StepBudget, follow_average, report_every, resume


@dataclass
class TeacherSettings:
    steps: int = 7000
    text_steps: int = 2500  # the text encoder trains with the UNet this long, then is frozen
    batch: int = 64
    lr: float = 4e-4
    warmup: int = 200
    caption_dropout: float = 0.1
    ema: float = 0.999
    decay_from: float = 1.0  # the learning rate falls linearly to 0 over the last (1 − decay_from) of the steps
    seed: int = 2
    grounding: float = 0.0  # weight of the cross-attention grounding loss (grounding.py; the grounded recipe: 0.02)
    time_budget_s: float = 0.0  # > 0: fewer steps when the measured speed would overrun this (see StepBudget)
    workers: int = 0  # processes drawing the next batches ahead (for a GPU)


# What a work folder's teacher, and everything trained from it, is: "plain" or "grounded" (the text
# encoder zeroes the padding and the teacher learns grounded cross-attention; `--grounded`).
FROM_THE_TEACHER = ("teacher.pt", "teacher.ckpt", "scene_clip.pt", "paired-targets.pt", "removal-targets.pt", "pgsb.pt", "pgsb.ckpt", "swiftbrush.pt", "swiftbrush.ckpt", "evaluation.json")


def teacher_lr(step: int, s: TeacherSettings) -> float:
    """Linear warm-up over `s.warmup` steps, then constant until `s.decay_from` of the steps, then linearly to 0."""
    decay_start = int(s.decay_from * s.steps)
    decay = 1.0 if step < decay_start else (s.steps - step) / max(1, s.steps - decay_start)
    return s.lr * min(1.0, (step + 1) / max(1, s.warmup)) * decay


def teacher_recipe(cfg: ModelConfig) -> str:
    return "grounded" if cfg.zero_padding else "plain"


def saved_recipe(state: dict) -> str:
    """The recipe of a saved teacher (files from before the grounded recipe carry none: "plain")."""
    return state.get("recipe", "plain")


def set_aside_other_teacher(work: Path, recipe: str) -> None:
    """Moves a teacher of another recipe, and what was trained from it, into `<work>/teacher-RECIPE/`,
    so the run trains them again instead of mixing recipes."""
    for name in ("teacher.pt", "teacher.ckpt"):
        if (work / name).exists():
            found = saved_recipe(device.load(work / name))
            break
    else:
        return
    if found == recipe:
        return
    moved = [name for name in FROM_THE_TEACHER if (work / name).exists()]
    if not moved:  # another process moved them a moment ago
        return
    aside, n = work / f"teacher-{found}", 1
    while aside.exists():
        n += 1
        aside = work / f"teacher-{found}-{n}"
    aside.mkdir()
    for name in moved:
        (work / name).replace(aside / name)
    log("teacher", f"the teacher in {work} is of the {found} recipe, this run is {recipe}: moved {', '.join(moved)} to {aside} "
        "and training them again")


def train_teacher(cfg: ModelConfig, s: TeacherSettings, ae: AutoEncoder, work: Path, checkpoint_every: int = 250) -> tuple[UNet, TextEncoder]:
    recipe = teacher_recipe(cfg)
    set_aside_other_teacher(work, recipe)
    final = work / "teacher.pt"
    torch.manual_seed(s.seed)
    unet, text = UNet(cfg), TextEncoder(cfg)
    if final.exists():
        state = device.load(final)
        unet.load_state_dict(state["unet"])
        text.load_state_dict(state["text_encoder"])
        return unet.to(device.current()), text.to(device.current())
    unet.to(device.current()), text.to(device.current())
    ema = copy.deepcopy(unet).requires_grad_(False)
    opt = torch.optim.AdamW(list(unet.parameters()) + list(text.parameters()), lr=s.lr, weight_decay=0.0)
    ckpt = work / "teacher.ckpt"
    start = resume(ckpt, {"unet": unet, "text": text, "ema": ema, "opt": opt})
    progress = Progress("teacher", s.steps, start)
    frozen: CaptionEncoder | None = None
    budget = StepBudget("teacher", s, start, progress)
    grounding = Grounding(unet) if s.grounding > 0 else None
    data = scenes.ahead(scenes.batch, ((s.seed, k * s.batch, s.batch) for k in range(start, s.steps)), s.workers)
    for step, (images, captions, batch_scenes) in zip(range(start, s.steps), data):
        if step >= s.steps:  # shortened by the time budget
            break
        for group in opt.param_groups:
            group["lr"] = teacher_lr(step, s)
        g = step_generator(s.seed, step)
        drop = torch.rand(s.batch, generator=g) < s.caption_dropout
        captions = ["" if d else c for c, d in zip(captions, drop.tolist())]
        x0 = encode_latents(ae, images)
        noise = device.put(torch.randn(x0.shape, generator=g))
        t = device.put(torch.randint(0, NUM_TRAIN_TIMESTEPS, (s.batch,), generator=g))
        if step >= s.text_steps and frozen is None:
            text.requires_grad_(False)
            frozen = CaptionEncoder(text)
        encode = frozen or (lambda texts: text(device.put(torch.tensor([caption_ids(c) for c in texts]))))
        noisy = add_noise(x0, noise, t)
        denoising = F.mse_loss(unet(noisy, t, encode(captions)), noise)
        ground = torch.zeros(())
        if grounding is not None:
            objects, masks = [sc.objects for sc in batch_scenes], [scene_masks(sc) for sc in batch_scenes]
            ground = grounding.loss(captions, objects, masks) + grounding.phrase_loss(unet, noisy, t, captions, objects, masks, encode)
        loss = denoising + s.grounding * ground
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        opt.step()
        follow_average(ema, unet, min(s.ema, (1 + step) / (10 + step)))
        budget.after(step + 1)
        if (step + 1) % (2 * report_every(s.steps)) == 0:
            progress.line(step + 1, loss=denoising.item(), **({"grounding": ground.item()} if grounding is not None else {}))
        if (step + 1) % checkpoint_every == 0:
            save_atomic({"step": step + 1, "unet": unet.state_dict(), "text": text.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(),
                         "recipe": recipe}, ckpt)
    data.close()
    if grounding is not None:
        grounding.close()
    save_atomic({"unet": ema.state_dict(), "text_encoder": text.state_dict(), "steps": s.steps, "settings": s.__dict__, "recipe": recipe}, final)
    ckpt.unlink(missing_ok=True)
    log("teacher", "done")
    return ema, text
