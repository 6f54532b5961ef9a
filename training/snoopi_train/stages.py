"""The training stages: autoencoder → teacher (text encoder + UNet) → one-step students.

Each stage writes `<work>/<stage>.ckpt` every `checkpoint_every` steps and `<work>/<stage>.pt` when
it is done; a rerun skips finished stages and resumes an interrupted one from its checkpoint.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import device, scenes
from .checkpoint import Progress, log, save_atomic, step_generator, write_json  # noqa: F401 (write_json re-exported)
from .clip_ids import caption_ids
from .detector import to_uint8
from .diffusion import NUM_TRAIN_TIMESTEPS, ONE_STEP_TIMESTEP, STUDENT_PREDICTION, add_noise, guided_eps, one_step, teacher_one_step, x0_from_eps
from .grounding import Grounding, colour_masks, scene_masks
from .nets import AutoEncoder, ModelConfig, TextEncoder, UNet, add_lora
from .scene_clip import SceneCLIP
from .text_features import CaptionEncoder, CaptionPooler


@dataclass
class AutoencoderSettings:
    steps: int = 2500
    batch: int = 64
    lr: float = 2e-3
    latent_noise: float = 0.1
    seed: int = 1


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
FROM_THE_TEACHER = ("teacher.pt", "teacher.ckpt", "scene_clip.pt", "pgsb.pt", "pgsb.ckpt", "swiftbrush.pt", "swiftbrush.ckpt", "evaluation.json")


@dataclass
class StudentSettings:
    kappa_mode: str = "random"  # "random": PG-SB, κ ~ U(κmin, κmax) per step on both teachers; "fixed": SwiftBrush
    kappa_min: float = 0.5
    kappa_max: float = 4.0
    kappa_fixed: float = 4.5
    steps: int = 5000
    batch: int = 32
    lr: float = 4e-4  # constant for the first half, then linearly down to 0 (an x0-predicting student: 1e-4 measured 26% after 500 steps, 4e-4 60%)
    warmup: int = 300  # first steps: regress the output to the teacher's one-step x0 (the student predicts x0; the teacher ε)
    lora_lr: float = 1e-3
    lora_rank: int = 16
    lora_scale: float = 2.0
    lora_updates: int = 2  # LoRA-teacher updates per student update (DMD2's two time-scale rule uses 5)
    t_min: int = 20
    t_max: int = 980
    caption_dropout: float = 0.1
    grounding: float = 0.0  # weight of the grounding loss on the student's own output (grounding.py; 0: off)
    clip_weight: float = 40.0  # the paper's CLIP loss, max(0, margin − cos) with the domain's SceneCLIP (0: off); 40 measured best of 0/10/40/100
    ema: float = 0.998  # the student that is evaluated and exported: an exponential moving average of the weights after the warm-up (0: the last weights)
    eval_every: int = 250
    seed: int = 3
    time_budget_s: float = 0.0
    workers: int = 0


def sample_kappa(settings: StudentSettings, generator: torch.Generator) -> tuple[float, float]:
    """(κ for the frozen teacher, κ for the LoRA teacher) of one step."""
    if settings.kappa_mode == "random":
        kappa = settings.kappa_min + (settings.kappa_max - settings.kappa_min) * float(torch.rand((), generator=generator))
        return kappa, kappa
    if settings.kappa_mode == "fixed":
        return settings.kappa_fixed, 1.0
    raise ValueError(f"kappa_mode must be 'random' or 'fixed', not {settings.kappa_mode!r}")


def _lr_at(step: int, s: TeacherSettings) -> float:
    decay_start = int(s.decay_from * s.steps)
    decay = 1.0 if step < decay_start else (s.steps - step) / max(1, s.steps - decay_start)
    return s.lr * min(1.0, (step + 1) / max(1, s.warmup)) * decay


def _report_every(steps: int) -> int:
    """A progress line every 50 steps, or about a hundred lines for long stages."""
    return max(50, steps // 100 // 50 * 50)


class StepBudget:
    """Shortens a stage to fit `settings.time_budget_s` seconds (0: never): it measures the speed
    from step `skip` to step `probe` (after any warm-up steps, which run at another speed) and lowers
    `settings.steps` (and the progress lines' total) to the steps that fit in the time left, in
    hundreds, before any schedule has used the total."""

    def __init__(self, stage: str, settings, start: int, progress: Progress | None = None, probe: int = 250, skip: int = 50):
        self.stage, self.settings, self.start, self.progress, self.probe, self.skip = stage, settings, start, progress, probe, skip
        self.created = time.monotonic()
        self.began_at = None

    def after(self, step: int) -> None:
        budget = self.settings.time_budget_s
        if budget <= 0 or self.start != 0:
            return
        if step == self.skip:
            self.began_at = time.monotonic()
        elif step == self.probe and self.began_at is not None:
            now = time.monotonic()
            rate = (self.probe - self.skip) / (now - self.began_at)
            left = budget - (now - self.created)
            fits = max(self.probe, int(self.probe + 0.92 * rate * left) // 100 * 100)  # 8% for evaluations, saving, slower steps later
            if fits < self.settings.steps:
                log(self.stage, f"time budget {budget:.0f} s at {rate:.1f} steps/s: {fits} steps instead of {self.settings.steps}")
                self.settings.steps = fits
                if self.progress is not None:
                    self.progress.total = fits


# ------------------------------------------------------------------ autoencoder

def train_autoencoder(cfg: ModelConfig, s: AutoencoderSettings, work: Path, checkpoint_every: int = 250, on_step=None) -> AutoEncoder:
    final = work / "autoencoder.pt"
    torch.manual_seed(s.seed)  # the initial weights do not depend on which stages ran before
    ae = AutoEncoder(cfg)
    if final.exists():
        ae.load_state_dict(device.load(final)["model"])
        return ae.to(device.current())
    ae.to(device.current())
    opt = torch.optim.Adam(ae.parameters(), lr=s.lr)
    start = _resume(work / "autoencoder.ckpt", {"model": ae, "opt": opt})
    progress = Progress("autoencoder", s.steps, start)
    for step in range(start, s.steps):
        if on_step is not None:
            on_step(step)  # tests interrupt here
        for group in opt.param_groups:
            group["lr"] = s.lr * 0.5 * (1 + math.cos(math.pi * step / s.steps))
        images, _, _ = scenes.batch(s.seed, step * s.batch, s.batch)
        x = device.put(torch.from_numpy(images))
        z = ae.encoder(x)
        g = step_generator(s.seed, step)
        recon = ae.decoder(z + s.latent_noise * device.put(torch.randn(z.shape, generator=g)))
        loss = F.l1_loss(recon, x) + F.mse_loss(recon, x) + 1e-4 * z.pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if (step + 1) % 100 == 0:
            progress.line(step + 1, loss=loss.item())
        if (step + 1) % checkpoint_every == 0:
            save_atomic({"step": step + 1, "model": ae.state_dict(), "opt": opt.state_dict()}, work / "autoencoder.ckpt")
    with torch.no_grad():
        images, _, _ = scenes.batch(s.seed + 100, 0, 1024, caption_variants=False)
        x = device.put(torch.from_numpy(images))
        z = ae.encoder(x)
        ae.scaling_factor.fill_(1.0 / z.std().item())
        error = (ae.decoder(z) - x).abs().mean().item()
    log("autoencoder", f"done: scaling factor {ae.scaling_factor.item():.4f}, mean reconstruction error {error:.4f} (of 2)")
    save_atomic({"model": ae.state_dict(), "reconstruction_error": error}, final)
    (work / "autoencoder.ckpt").unlink(missing_ok=True)
    return ae


def encode_latents(ae: AutoEncoder, images: np.ndarray) -> torch.Tensor:
    with torch.no_grad():
        return ae.encoder(device.put(torch.from_numpy(images))) * ae.scaling_factor


def decode_latents(ae: AutoEncoder, latents: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return ae.decoder(latents / ae.scaling_factor)


# ------------------------------------------------------------------ teacher

@torch.no_grad()
def follow_average(average: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    """One step of an exponential moving average of `model`'s weights: a ← decay·a + (1 − decay)·p."""
    for a, p in zip(average.parameters(), model.parameters()):
        a.lerp_(p, 1 - decay)


def _resume(path: Path, objects: dict) -> int:
    if not path.exists():
        return 0
    state = device.load(path)
    for key, obj in objects.items():
        obj.load_state_dict(state[key])
    log(path.stem, f"resuming from step {state['step']} ({path.name})")
    return int(state["step"])


def teacher_recipe(cfg: ModelConfig) -> str:
    return "grounded" if cfg.zero_padding else "plain"


def saved_recipe(state: dict) -> str:
    """The recipe of a saved teacher (files from before the grounded recipe carry none: "plain")."""
    return state.get("recipe", "plain")


def load_student(work: Path, name: str = "pgsb") -> tuple[AutoEncoder, TextEncoder, UNet]:
    """A finished work folder's autoencoder, text encoder (the teacher's, of its recipe) and student,
    for looking at the student after training (samples, probes)."""
    teacher = device.load(work / "teacher.pt")
    cfg = ModelConfig(zero_padding=saved_recipe(teacher) == "grounded")
    ae, text, unet = AutoEncoder(cfg), TextEncoder(cfg), UNet(cfg)
    ae.load_state_dict(device.load(work / "autoencoder.pt")["model"])
    text.load_state_dict(teacher["text_encoder"])
    unet.load_state_dict(device.load(work / f"{name}.pt")["unet"])
    return ae, text, unet


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
    start = _resume(ckpt, {"unet": unet, "text": text, "ema": ema, "opt": opt})
    progress = Progress("teacher", s.steps, start)
    frozen: CaptionEncoder | None = None
    budget = StepBudget("teacher", s, start, progress)
    grounding = Grounding(unet) if s.grounding > 0 else None
    data = scenes.ahead(scenes.batch, ((s.seed, k * s.batch, s.batch) for k in range(start, s.steps)), s.workers)
    for step, (images, captions, batch_scenes) in zip(range(start, s.steps), data):
        if step >= s.steps:  # shortened by the time budget
            break
        for group in opt.param_groups:
            group["lr"] = _lr_at(step, s)
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
        if (step + 1) % (2 * _report_every(s.steps)) == 0:
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


# ------------------------------------------------------------------ students (PG-SB / SwiftBrush)

@dataclass
class StudentResult:
    unet: UNet
    curve: list[dict] = field(default_factory=list)
    steps: int = 0
    batch: int = 0

    @property
    def trained(self) -> str:
        """How much it trained, for tables: "3,000 steps × 32"."""
        return f"{self.steps:,} steps × {self.batch}"


def student_lr(s: StudentSettings, step: int) -> float:
    half = s.steps // 2
    return s.lr if step < half else s.lr * (s.steps - step) / (s.steps - half)


def student_prediction(state: dict) -> str:
    """What a saved student's UNet predicts. Files from before this was recorded: the x0 students
    came with the warm-up setting, the earlier ones predicted ε."""
    if "prediction" in state:
        return state["prediction"]
    return STUDENT_PREDICTION if "warmup" in state.get("settings", {}) else "epsilon"


def student_finished(state: dict, steps: int) -> bool:
    """Whether a student's final file needs no more training: it reached `steps`, or it cannot be
    extended (a slim file without its LoRA teacher). A student of another parametrisation (an ε
    student of an older recipe) always needs training."""
    if student_prediction(state) != STUDENT_PREDICTION:
        return False
    return int(state.get("step", steps)) >= steps or "lora_teacher" not in state


def _set_aside_if_other_prediction(path: Path, name: str) -> None:
    """An older recipe's student (another parametrisation) in the work folder is renamed, not loaded
    as if it predicted x0 (it would be evaluated as noise) and not deleted."""
    if path.exists():
        found = student_prediction(device.load(path))
        if found != STUDENT_PREDICTION:
            aside = path.with_name(path.name + f".{found}-student")
            path.replace(aside)
            log(name, f"{path.name} predicts {found}, this recipe's students predict {STUDENT_PREDICTION}: moved to {aside.name}, training again")


def vsd_gradient(x0: torch.Tensor, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """VSD's gradient with respect to the student's x0: the LoRA teacher's denoised estimate minus
    the frozen teacher's (so a descent step moves x0 towards the teacher's and away from the
    student's own distribution), normalised per sample by |x0 − real| as in DMD."""
    weight = 1.0 / (x0 - real).abs().mean(dim=(1, 2, 3), keepdim=True).clamp_min(1e-4)
    return (fake - real) * weight


def vsd_loss(x0: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """A surrogate whose gradient with respect to x0 is `grad` / batch."""
    return 0.5 * F.mse_loss(x0, (x0 - grad).detach(), reduction="sum") / x0.shape[0]


def clip_margin_loss(scene_clip: SceneCLIP, ae: AutoEncoder, x0: torch.Tensor, pooled_text: torch.Tensor) -> torch.Tensor:
    """The CLIP loss of the paper's recipe: mean max(0, margin − cos(image, caption)), through the
    (frozen) decoder, so the student's latents move towards images the SceneCLIP matches to the caption."""
    images = ae.decoder(x0 / ae.scaling_factor)
    cos = (scene_clip.embed_images(images) * scene_clip.embed_text(pooled_text)).sum(dim=-1)
    return F.relu(scene_clip.margin - cos).mean()


def train_student(name: str, cfg: ModelConfig, s: StudentSettings, teacher: UNet, text: TextEncoder, ae: AutoEncoder,
                  work: Path, evaluate_fn=None, checkpoint_every: int = 100, scene_clip=None) -> StudentResult:
    """VSD distillation of the teacher into a one-step generator (SwiftBrush), with PG-SB's random
    guidance scale when `kappa_mode == "random"`. `evaluate_fn(unet) -> dict` gives the curve."""
    final = work / f"{name}.pt"
    student = UNet(cfg)
    ckpt = work / f"{name}.ckpt"
    _set_aside_if_other_prediction(final, name)
    _set_aside_if_other_prediction(ckpt, name)
    if final.exists():
        state = device.load(final)
        done = int(state.get("step", s.steps))
        if student_finished(state, s.steps):
            student.load_state_dict(state["unet"])
            return StudentResult(student.to(device.current()), state["curve"], done, state.get("settings", {}).get("batch", s.batch))
        # A finished student asked to train longer: carry on from its final state.
        log(name, f"extending from step {done} to {s.steps}")
        save_atomic(state, ckpt)
        final.unlink()
    student.load_state_dict(teacher.state_dict())
    torch.manual_seed(s.seed)  # the LoRA initialisation
    frozen_teacher = copy.deepcopy(teacher).eval().requires_grad_(False)
    lora_teacher = copy.deepcopy(teacher)
    lora_params = add_lora(lora_teacher, s.lora_rank, s.lora_scale)
    lora_teacher.to(device.current()), student.to(device.current())
    opt = torch.optim.Adam(student.parameters(), lr=s.lr, betas=(0.0, 0.999))
    lora_opt = torch.optim.Adam(lora_params, lr=s.lora_lr)
    # `average` is the student that is evaluated, saved as "unet" and exported; `student` trains.
    average = copy.deepcopy(student).requires_grad_(False) if s.ema > 0 else student
    curve: list[dict] = []
    start = 0
    if ckpt.exists():
        state = device.load(ckpt)
        student.load_state_dict(state.get("training_unet", state["unet"]))
        average.load_state_dict(state["unet"])
        lora_teacher.load_state_dict(state["lora_teacher"])
        opt.load_state_dict(state["opt"])
        lora_opt.load_state_dict(state["lora_opt"])
        curve, start = state["curve"], int(state["step"])
        log(name, f"resuming from step {start}")
    grounding = Grounding(student) if s.grounding > 0 else None  # after the copy: the average records nothing
    encode = CaptionEncoder(text)
    uncond_one = encode([""])
    if s.clip_weight > 0:
        if scene_clip is None:
            raise ValueError("clip_weight > 0 needs the SceneCLIP model")
        ae.requires_grad_(False)
        pooled = CaptionPooler(text)
    progress = Progress(name, s.steps, start)
    if start == 0 and evaluate_fn is not None:
        curve.append({"step": 0, **evaluate_fn(average)})
        log(name, f"step 0: {curve[-1]}")
    budget = StepBudget(name, s, start, progress, probe=s.warmup + 250, skip=s.warmup + 50)
    data = scenes.ahead(scenes.captions, ((s.seed, k * s.batch, s.batch) for k in range(start, s.steps)), s.workers)
    for step, (captions, batch_scenes) in zip(range(start, s.steps), data):
        if step >= s.steps:  # shortened by the time budget
            break
        for group in opt.param_groups:
            group["lr"] = student_lr(s, step)
        g = step_generator(s.seed, step)
        cond = encode(captions)
        uncond = uncond_one.expand(s.batch, -1, -1)
        z = device.put(torch.randn((s.batch, cfg.latent_channels, 8, 8), generator=g))
        x0 = one_step(student, z, cond)
        metrics = {}
        if step < s.warmup:
            # The student predicts x0 and starts from the ε-predicting teacher's weights: first it
            # learns to give what the teacher's one-step estimate gives.
            with torch.no_grad():
                target = teacher_one_step(frozen_teacher, z, cond)
            loss = F.mse_loss(x0, target)
        else:
            t = device.put(torch.randint(s.t_min, s.t_max + 1, (s.batch,), generator=g))
            noise = device.put(torch.randn(x0.shape, generator=g))
            kappa_real, kappa_fake = sample_kappa(s, g)
            with torch.no_grad():
                xt = add_noise(x0.detach(), noise, t)
                real = x0_from_eps(xt, guided_eps(frozen_teacher, xt, t, cond, uncond, kappa_real), t)
                fake = x0_from_eps(xt, guided_eps(lora_teacher, xt, t, cond, uncond, kappa_fake), t)
            loss = vsd_loss(x0, vsd_gradient(x0.detach(), real, fake))
            metrics["kappa"] = kappa_real
            if s.clip_weight > 0:
                clip_term = clip_margin_loss(scene_clip, ae, x0, pooled(captions))
                loss = loss + s.clip_weight * clip_term
                metrics["clip"] = clip_term.item()
            if grounding is not None:
                # The student's attention should follow what it drew: each object's words at the
                # pixels of that object's colour in its own output (grounding.py).
                images = to_uint8(decode_latents(ae, x0.detach()).cpu().numpy())
                objects = [sc.objects for sc in batch_scenes]
                masks = [colour_masks(image, named) for image, named in zip(images, objects)]
                t999 = torch.full((s.batch,), ONE_STEP_TIMESTEP, dtype=torch.long, device=z.device)
                ground = grounding.loss(captions, objects, masks) + grounding.phrase_loss(student, z, t999, captions, objects, masks, encode)
                loss = loss + s.grounding * ground
                metrics["grounding"] = ground.item()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        opt.step()

        # The LoRA teacher learns to denoise the student's current outputs (with caption dropout).
        for _ in range(s.lora_updates if step >= s.warmup else 0):
            t2 = device.put(torch.randint(0, NUM_TRAIN_TIMESTEPS, (s.batch,), generator=g))
            noise2 = device.put(torch.randn(x0.shape, generator=g))
            drop = device.put(torch.rand(s.batch, generator=g) < s.caption_dropout).view(-1, 1, 1)
            lora_ctx = torch.where(drop, uncond, cond)
            lora_loss = F.mse_loss(lora_teacher(add_noise(x0.detach(), noise2, t2), t2, lora_ctx), noise2)
            lora_opt.zero_grad()
            lora_loss.backward()
            lora_opt.step()
            metrics["lora"] = lora_loss.item()

        if average is not student:  # the average equals the student until the warm-up ends
            since = step + 1 - s.warmup
            follow_average(average, student, 0.0 if since <= 0 else min(s.ema, since / (10 + since)))
        budget.after(step + 1)
        if step + 1 == s.warmup:
            progress.restart(step + 1)  # the time left from the VSD steps' speed
        if (step + 1) % _report_every(s.steps) == 0:
            progress.line(step + 1, loss=loss.item(), **metrics)
        if evaluate_fn is not None and ((step + 1) % s.eval_every == 0 or step + 1 == s.steps):
            curve.append({"step": step + 1, **evaluate_fn(average)})
            last = f" (last weights: {evaluate_fn(student)})" if average is not student else ""
            log(name, f"step {step + 1}: {curve[-1]}{last}")
        if (step + 1) % checkpoint_every == 0:
            save_atomic(_student_state(step + 1, average, student, lora_teacher, opt, lora_opt, curve), ckpt)
    if grounding is not None:
        grounding.close()
    # The final file keeps the whole training state, so a later run with more steps can extend it.
    save_atomic({**_student_state(s.steps, average, student, lora_teacher, opt, lora_opt, curve), "settings": s.__dict__}, final)
    ckpt.unlink(missing_ok=True)
    log(name, "done")
    return StudentResult(average, curve, s.steps, s.batch)


def _student_state(step: int, average, student, lora_teacher, opt, lora_opt, curve) -> dict:
    """"unet": the student to evaluate and export (the average); "training_unet": the weights that
    train on, when they differ."""
    state = {"step": step, "prediction": STUDENT_PREDICTION, "unet": average.state_dict(), "lora_teacher": lora_teacher.state_dict(),
             "opt": opt.state_dict(), "lora_opt": lora_opt.state_dict(), "curve": curve}
    if average is not student:
        state["training_unet"] = student.state_dict()
    return state
