"""The student stage: VSD distillation of the teacher into a one-step x0 generator (SwiftBrush), with
PG-SB's random guidance scale when `kappa_mode == "random"`; and what a saved student file is."""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from .. import device, scenes
from ..checkpoint import Progress, log, save_atomic, step_generator
from ..detector import to_uint8
from ..diffusion import NUM_TRAIN_TIMESTEPS, ONE_STEP_TIMESTEP, STUDENT_PREDICTION, add_noise, guided_eps, one_step, teacher_one_step, x0_from_eps
from ..grounding import Grounding, colour_masks
from ..nets import AutoEncoder, ModelConfig, TextEncoder, UNet, add_lora
from ..scene_clip import SceneCLIP
from ..text_features import CaptionEncoder, CaptionPooler
from .autoencoder import decode_latents
from .common import StepBudget, follow_average, report_every
from .distillation import clip_margin_loss, vsd_gradient, vsd_loss
from .paired import PairedTargets, paired_loss
from .removal import RemovalTargets
from .teacher import saved_recipe


@dataclass
class StudentSettings:
    kappa_mode: str = "random"  # "random": PG-SB, κ ~ U(κmin, κmax) per step on both teachers; "fixed": SwiftBrush
    kappa_min: float = 0.5
    kappa_max: float = 4.0
    kappa_fixed: float = 4.5
    steps: int = 5000
    batch: int = 32
    lr: float = 4e-4  # constant for the first half, then linearly down to 0 (an x0-predicting student: 1e-4 measured 26% after 500 steps, 4e-4 60%)
    warmup: int = 300  # first steps: only the paired regression (paired_weight 0: regress onto the teacher's one-step x0 estimate)
    paired_weight: float = 1.0  # DMD's paired regression onto the teacher's DDIM samples from the same noise (paired.py), kept during VSD; 0: off (the v4 recipe)
    paired_batch: int = 16  # of the batch's entries after the warm-up, how many are stored pairs (the warm-up's are all)
    removal_weight: float = 0.0  # NASA-aware removal pairs after the warm-up (removal.py; experimental, `--removal`); 0: off
    removal_batch: int = 16  # removal pairs per step, run with the NASA edit below, on top of the batch
    removal_alpha: float = 1.25  # the NASA α of that edit (the v5 student's tuned α with projection)
    removal_projection: bool = True  # NASA with projection (the bundle's default form), or plain
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


def student_lr(s: StudentSettings, step: int) -> float:
    half = s.steps // 2
    return s.lr if step < half else s.lr * (s.steps - step) / (s.steps - half)


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


# ------------------------------------------------------------------ saved students

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


def set_aside_if_other_recipe(path: Path, name: str, paired_weight: float, removal_weight: float = 0.0) -> None:
    """A student in the work folder that this run must not extend is renamed (not deleted) and trained
    again: one of another parametrisation (an older recipe's ε student would be evaluated as noise),
    one of the other warm-up (onto the one-step estimate without the paired regression, or the other
    way round: extending it would mix two recipes), or one trained with removal pairs when this run has
    none, the other way round, or at another weight. The file is read once."""
    if not path.exists():
        return
    state = device.load(path)
    found = student_prediction(state)
    if found != STUDENT_PREDICTION:
        aside = path.with_name(path.name + f".{found}-student")
        path.replace(aside)
        log(name, f"{path.name} predicts {found}, this recipe's students predict {STUDENT_PREDICTION}: moved to {aside.name}, training again")
        return
    # (setting, this run's value, the file's suffix when the saved student has it / has it not, what it is)
    parts = (("paired_weight", paired_weight, ".paired-student", ".one-step-warmup-student", "the paired regression"),
             ("removal_weight", removal_weight, ".removal-student", ".no-removal-student", "removal pairs"))
    for setting, wanted, with_it, without_it, what in parts:
        saved = float(state.get("settings", {}).get(setting, 0.0))
        if (saved > 0) != (wanted > 0):
            aside = path.with_name(path.name + (with_it if saved > 0 else without_it))
            path.replace(aside)
            log(name, f"{path.name} was trained {'with' if saved > 0 else 'without'} {what}, this run "
                f"{'with' if wanted > 0 else 'without'}: moved to {aside.name}, training again")
            return
    saved = float(state.get("settings", {}).get("removal_weight", 0.0))
    if saved > 0 and saved != removal_weight:  # extending it would mix two weights
        aside = path.with_name(path.name + f".removal{saved:g}-student")
        path.replace(aside)
        log(name, f"{path.name} was trained with removal pairs at weight {saved:g}, this run {removal_weight:g}: moved to {aside.name}, training again")


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


# ------------------------------------------------------------------ training

class StudentTraining:
    """One student's training run. `run()` loads a finished student, or: sets up the nets
    (`_build`), resumes from a checkpoint (`_resume`), then each step draws noise, computes the
    student's x0 and its loss (`_warmup_loss` for the first `warmup` steps, `_distillation_loss`
    after), updates the student, then the LoRA teacher (`_update_lora_teacher`) and the moving
    average (`_follow_average`), and records (`_after_step`); at the end `_save_final`.
    `evaluate_fn(unet) -> dict` gives the curve."""

    def __init__(self, name: str, cfg: ModelConfig, s: StudentSettings, teacher: UNet, text: TextEncoder, ae: AutoEncoder,
                 work: Path, evaluate_fn=None, checkpoint_every: int = 100, scene_clip: SceneCLIP | None = None,
                 paired: PairedTargets | None = None, removal: RemovalTargets | None = None):
        self.name, self.cfg, self.s, self.teacher, self.text, self.ae = name, cfg, s, teacher, text, ae
        self.evaluate_fn, self.checkpoint_every, self.scene_clip = evaluate_fn, checkpoint_every, scene_clip
        self.paired = paired if s.paired_weight > 0 else None
        if s.paired_weight > 0 and paired is None:
            raise ValueError("paired_weight > 0 needs the paired targets (stages/paired.py)")
        self.removal = removal if s.removal_weight > 0 else None
        if s.removal_weight > 0 and removal is None:
            raise ValueError("removal_weight > 0 needs the removal pairs (stages/removal.py)")
        if s.paired_weight > 0 and s.grounding > 0:
            raise ValueError("the student's grounding loss needs the scenes of its batch; stored pairs have none: use one or the other")
        self.final, self.ckpt = work / f"{name}.pt", work / f"{name}.ckpt"
        self.curve: list[dict] = []

    def run(self) -> StudentResult:
        self.student = UNet(self.cfg)
        for path in (self.final, self.ckpt):
            set_aside_if_other_recipe(path, self.name, self.s.paired_weight, self.s.removal_weight)
        finished = self._finished_or_extend()
        if finished is not None:
            return finished
        self._build()
        start = self._resume()
        self._prepare_losses()
        s = self.s
        self.progress = Progress(self.name, s.steps, start)
        if start == 0 and self.evaluate_fn is not None:
            self.curve.append({"step": 0, **self.evaluate_fn(self.average)})
            log(self.name, f"step 0: {self.curve[-1]}")
        self.budget = StepBudget(self.name, s, start, self.progress, probe=s.warmup + 250, skip=s.warmup + 50)
        data = scenes.ahead(scenes.captions, ((s.seed, k * s.batch, s.batch) for k in range(start, s.steps)), s.workers)
        for step, (captions, batch_scenes) in zip(range(start, s.steps), data):
            if step >= s.steps:  # shortened by the time budget
                break
            self._step(step, captions, batch_scenes)
        if self.grounding is not None:
            self.grounding.close()
        self._save_final()
        return StudentResult(self.average, self.curve, s.steps, s.batch)

    def _finished_or_extend(self) -> StudentResult | None:
        """The finished student when its final file reached the steps asked for; a final file asked
        to train longer becomes the checkpoint to carry on from."""
        if not self.final.exists():
            return None
        state = device.load(self.final)
        done = int(state.get("step", self.s.steps))
        if student_finished(state, self.s.steps):
            self.student.load_state_dict(state["unet"])
            return StudentResult(self.student.to(device.current()), state["curve"], done, state.get("settings", {}).get("batch", self.s.batch))
        log(self.name, f"extending from step {done} to {self.s.steps}")
        save_atomic(state, self.ckpt)
        self.final.unlink()
        return None

    def _build(self) -> None:
        """The student starts as the teacher; a frozen copy and a LoRA copy of the teacher judge it."""
        s = self.s
        self.student.load_state_dict(self.teacher.state_dict())
        torch.manual_seed(s.seed)  # the LoRA initialisation
        self.frozen_teacher = copy.deepcopy(self.teacher).eval().requires_grad_(False)
        self.lora_teacher = copy.deepcopy(self.teacher)
        lora_params = add_lora(self.lora_teacher, s.lora_rank, s.lora_scale)
        self.lora_teacher.to(device.current()), self.student.to(device.current())
        self.opt = torch.optim.Adam(self.student.parameters(), lr=s.lr, betas=(0.0, 0.999))
        self.lora_opt = torch.optim.Adam(lora_params, lr=s.lora_lr)
        # `average` is the student that is evaluated, saved as "unet" and exported; `student` trains.
        self.average = copy.deepcopy(self.student).requires_grad_(False) if s.ema > 0 else self.student

    def _resume(self) -> int:
        if not self.ckpt.exists():
            return 0
        state = device.load(self.ckpt)
        self.student.load_state_dict(state.get("training_unet", state["unet"]))
        self.average.load_state_dict(state["unet"])
        self.lora_teacher.load_state_dict(state["lora_teacher"])
        self.opt.load_state_dict(state["opt"])
        self.lora_opt.load_state_dict(state["lora_opt"])
        self.curve, start = state["curve"], int(state["step"])
        log(self.name, f"resuming from step {start}")
        return start

    def _prepare_losses(self) -> None:
        s = self.s
        self.grounding = Grounding(self.student) if s.grounding > 0 else None  # after the copy: the average records nothing
        self.encode = CaptionEncoder(self.text)
        self.uncond_one = self.encode([""])
        if s.clip_weight > 0:
            if self.scene_clip is None:
                raise ValueError("clip_weight > 0 needs the SceneCLIP model")
            self.ae.requires_grad_(False)
            self.pooled = CaptionPooler(self.text)

    def _step(self, step: int, captions: list[str], batch_scenes: list[scenes.Scene]) -> None:
        s = self.s
        for group in self.opt.param_groups:
            group["lr"] = student_lr(s, step)
        g = step_generator(s.seed, step)
        z = device.put(torch.randn((s.batch, self.cfg.latent_channels, 8, 8), generator=g))
        target = None
        if self.paired is not None:  # the first entries become stored pairs: their caption, their noise, the teacher's sample
            pair_captions, z_pairs, target = self.paired.draw(s.batch if step < s.warmup else min(s.paired_batch, s.batch), g)
            captions = pair_captions + list(captions[len(pair_captions):])
            z = torch.cat([z_pairs, z[len(pair_captions):]])
        cond = self.encode(captions)
        uncond = self.uncond_one.expand(s.batch, -1, -1)
        x0 = one_step(self.student, z, cond)
        metrics: dict[str, float] = {}
        if step < s.warmup:
            loss = self._warmup_loss(x0, z, cond, target)
        else:
            loss = self._distillation_loss(x0, z, cond, uncond, captions, batch_scenes, g, metrics)
            if target is not None:
                paired = paired_loss(x0[: len(target)], target, s.batch)
                loss = loss + s.paired_weight * paired
                metrics["paired"] = paired.item()
            if self.removal is not None:
                removal = self._removal_loss(g)
                loss = loss + s.removal_weight * removal
                metrics["removal"] = removal.item()
        self.opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.student.parameters(), 1.0)
        self.opt.step()
        for _ in range(s.lora_updates if step >= s.warmup else 0):
            self._update_lora_teacher(x0, cond, uncond, g, metrics)
        self._follow_average(step)
        self._after_step(step, loss, metrics)

    def _warmup_loss(self, x0: torch.Tensor, z: torch.Tensor, cond: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
        """The student predicts x0 and starts from the ε-predicting teacher's weights: first it learns
        the teacher's DDIM samples of the stored pairs (`target`, the whole batch); without pairs
        (the v4 recipe), what the teacher's one-step estimate gives, which barely depends on z."""
        if target is not None:
            return paired_loss(x0, target, self.s.batch)
        with torch.no_grad():
            target = teacher_one_step(self.frozen_teacher, z, cond)
        return F.mse_loss(x0, target)

    def _removal_loss(self, g: torch.Generator) -> torch.Tensor:
        """Removal pairs: the student with the serving NASA edit (prompt, negative phrase, α) regresses
        onto the teacher's sample of the kept objects from the same noise (removal.py), at the paired
        regression's scale."""
        s = self.s
        prompts, negatives, z, target = self.removal.draw(s.removal_batch, g)
        alpha = torch.full((len(prompts),), s.removal_alpha, device=z.device)
        x0 = one_step(self.student, z, self.encode(prompts), negative_context=self.encode(negatives), nasa_alpha=alpha,
                      nasa_projection=s.removal_projection)
        return paired_loss(x0, target, s.batch)

    def _distillation_loss(self, x0, z, cond, uncond, captions, batch_scenes, g: torch.Generator, metrics: dict) -> torch.Tensor:
        """VSD against the frozen teacher and the LoRA teacher at a random t, plus the CLIP loss and
        (optionally) the grounding loss on the student's own output."""
        s = self.s
        t = device.put(torch.randint(s.t_min, s.t_max + 1, (s.batch,), generator=g))
        noise = device.put(torch.randn(x0.shape, generator=g))
        kappa_real, kappa_fake = sample_kappa(s, g)
        with torch.no_grad():
            xt = add_noise(x0.detach(), noise, t)
            real = x0_from_eps(xt, guided_eps(self.frozen_teacher, xt, t, cond, uncond, kappa_real), t)
            fake = x0_from_eps(xt, guided_eps(self.lora_teacher, xt, t, cond, uncond, kappa_fake), t)
        loss = vsd_loss(x0, vsd_gradient(x0.detach(), real, fake))
        metrics["kappa"] = kappa_real
        if s.clip_weight > 0:
            clip_term = clip_margin_loss(self.scene_clip, self.ae, x0, self.pooled(captions))
            loss = loss + s.clip_weight * clip_term
            metrics["clip"] = clip_term.item()
        if self.grounding is not None:
            # The student's attention should follow what it drew: each object's words at the
            # pixels of that object's colour in its own output (grounding.py).
            images = to_uint8(decode_latents(self.ae, x0.detach()).cpu().numpy())
            objects = [sc.objects for sc in batch_scenes]
            masks = [colour_masks(image, named) for image, named in zip(images, objects)]
            t999 = torch.full((s.batch,), ONE_STEP_TIMESTEP, dtype=torch.long, device=z.device)
            ground = self.grounding.loss(captions, objects, masks) + self.grounding.phrase_loss(self.student, z, t999, captions, objects, masks, self.encode)
            loss = loss + s.grounding * ground
            metrics["grounding"] = ground.item()
        return loss

    def _update_lora_teacher(self, x0, cond, uncond, g: torch.Generator, metrics: dict) -> None:
        """The LoRA teacher learns to denoise the student's current outputs (with caption dropout)."""
        s = self.s
        t2 = device.put(torch.randint(0, NUM_TRAIN_TIMESTEPS, (s.batch,), generator=g))
        noise2 = device.put(torch.randn(x0.shape, generator=g))
        drop = device.put(torch.rand(s.batch, generator=g) < s.caption_dropout).view(-1, 1, 1)
        lora_ctx = torch.where(drop, uncond, cond)
        lora_loss = F.mse_loss(self.lora_teacher(add_noise(x0.detach(), noise2, t2), t2, lora_ctx), noise2)
        self.lora_opt.zero_grad()
        lora_loss.backward()
        self.lora_opt.step()
        metrics["lora"] = lora_loss.item()

    def _follow_average(self, step: int) -> None:
        if self.average is not self.student:  # the average equals the student until the warm-up ends
            since = step + 1 - self.s.warmup
            follow_average(self.average, self.student, 0.0 if since <= 0 else min(self.s.ema, since / (10 + since)))

    def _after_step(self, step: int, loss: torch.Tensor, metrics: dict) -> None:
        """Time budget, progress line, curve point and checkpoint after step `step`."""
        s = self.s
        self.budget.after(step + 1)
        if step + 1 == s.warmup:
            self.progress.restart(step + 1)  # the time left from the VSD steps' speed
        if (step + 1) % report_every(s.steps) == 0:
            self.progress.line(step + 1, loss=loss.item(), **metrics)
        if self.evaluate_fn is not None and ((step + 1) % s.eval_every == 0 or step + 1 == s.steps):
            self.curve.append({"step": step + 1, **self.evaluate_fn(self.average)})
            last = f" (last weights: {self.evaluate_fn(self.student)})" if self.average is not self.student else ""
            log(self.name, f"step {step + 1}: {self.curve[-1]}{last}")
        if (step + 1) % self.checkpoint_every == 0:
            save_atomic(self._state(step + 1), self.ckpt)

    def _save_final(self) -> None:
        # The final file keeps the whole training state, so a later run with more steps can extend it.
        save_atomic(self._state(self.s.steps), self.final)
        self.ckpt.unlink(missing_ok=True)
        log(self.name, "done")

    def _state(self, step: int) -> dict:
        """"unet": the student to evaluate and export (the average); "training_unet": the weights that
        train on, when they differ."""
        state = {"step": step, "prediction": STUDENT_PREDICTION, "unet": self.average.state_dict(), "lora_teacher": self.lora_teacher.state_dict(),
                 "opt": self.opt.state_dict(), "lora_opt": self.lora_opt.state_dict(), "curve": self.curve, "settings": self.s.__dict__}
        if self.average is not self.student:
            state["training_unet"] = self.student.state_dict()
        return state


def train_student(name: str, cfg: ModelConfig, s: StudentSettings, teacher: UNet, text: TextEncoder, ae: AutoEncoder,
                  work: Path, evaluate_fn=None, checkpoint_every: int = 100, scene_clip: SceneCLIP | None = None,
                  paired: PairedTargets | None = None, removal: RemovalTargets | None = None) -> StudentResult:
    """VSD distillation of the teacher into a one-step generator (StudentTraining)."""
    return StudentTraining(name, cfg, s, teacher, text, ae, work, evaluate_fn, checkpoint_every, scene_clip, paired, removal).run()
