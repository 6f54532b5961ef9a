"""The training recipe as one resumable command."""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from . import device
from .checkpoint import log
from .nets import ModelConfig
from .scene_clip import ClipSettings, train_scene_clip
from .stages.autoencoder import AutoencoderSettings, train_autoencoder
from .stages.paired import PairedSettings
from .stages.removal import REMOVAL_WEIGHT, RemovalSettings
from .stages.student import StudentSettings
from .stages.teacher import TeacherSettings, train_teacher

if TYPE_CHECKING:
    from .recipe import RunOptions

STAGES = ("autoencoder", "teacher", "scene_clip", "pairs", "pgsb", "swiftbrush", "evaluate", "export")
STUDENTS = ("pgsb", "swiftbrush")

# The GPU profile: the same recipe with 4–8× larger batches and more steps. A 1.9M-parameter UNet on
# 8×8 latents leaves a GPU mostly idle at the CPU profile's batch sizes, so it takes more samples per
# step instead; on the CPU it would take days.
GPU_PROFILE = {
    "teacher": dict(steps=30000, text_steps=8000, batch=256, lr=5e-4, warmup=500, ema=0.9995, decay_from=0.6),
    "students": dict(steps=6000, batch=256, lr=4e-4, eval_every=1000, paired_batch=128),
}


# The grounded recipe's loss weights (grounding.py).
GROUNDED = {"teacher": 0.02, "students": 0.0}


def apply_profile(profile: str, teacher_s: TeacherSettings, students: list[StudentSettings]) -> None:
    if profile == "cpu":
        return
    for key, value in GPU_PROFILE["teacher"].items():
        setattr(teacher_s, key, value)
    for s in students:
        for key, value in GPU_PROFILE["students"].items():
            setattr(s, key, value)


def parse_budgets(values: list[str]) -> dict[str, float]:
    budgets = {}
    for value in values:
        stage, _, seconds = value.partition("=")
        if stage not in ("teacher", *STUDENTS) or not seconds.replace(".", "", 1).isdigit():
            raise SystemExit(f"--budget {value!r}: expected STAGE=SECONDS with STAGE one of teacher, pgsb, swiftbrush")
        budgets[stage] = float(seconds)
    return budgets


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python3 -m snoopi_train",
        description="Train the built-in default model: autoencoder → teacher → SceneCLIP (for the CLIP loss) → the teacher's samples of stored noise → PG-SB and fixed-κ SwiftBrush "
        "students → evaluation → ONNX bundle export. Rerun the same command to resume after an interruption.",
    )
    p.add_argument("--work", type=Path, default=Path("../.cache/training"), help="checkpoints and stage outputs (default ../.cache/training)")
    p.add_argument("--out", type=Path, default=Path("../gpu-service/assets/default-bundle"), help="where the exported bundle goes")
    p.add_argument("--results", type=Path, default=Path("results"), help="evaluation tables, curves and plot (default training/results)")
    p.add_argument("--until", choices=STAGES, default="export",
                   help="stop after this stage (pairs: the teacher's samples the students regress onto, e.g. before training students "
                   "in separate work folders)")
    p.add_argument("--student-steps", type=int, default=None,
                   help=f"training steps of each student (default {StudentSettings().steps}); raising it later extends finished students")
    p.add_argument("--quick", action="store_true", help="a few steps per stage (for tests); never for the real model")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="PyTorch threads (default: all cores)")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, or auto (cuda when PyTorch sees a GPU)")
    p.add_argument("--profile", choices=("cpu", "gpu"), default="cpu",
                   help="cpu: the recipe sized for two CPU cores (about 2 h); gpu: larger batches and more steps (for --device cuda)")
    p.add_argument("--only", choices=STUDENTS, default=None,
                   help="train only this student and stop (to train both students at once in two processes)")
    p.add_argument("--students", choices=("together", "one-by-one"), default="together",
                   help="together (default): the two students at once, one process each with half the threads "
                   "(measured 64 instead of ~80 min for 5,000-step students on two cores); one-by-one: in this process, one after the other")
    p.add_argument("--budget", action="append", default=[], metavar="STAGE=SECONDS",
                   help="cap a stage's wall time: after 250 steps (a student's after its warm-up) its step count is lowered to what fits "
                   "(teacher, pgsb, swiftbrush)")
    p.add_argument("--workers", type=int, default=0, help="processes drawing training batches ahead of a GPU (default 0)")
    p.add_argument("--grounded", action="store_true",
                   help="the grounded recipe (experimental, for NASA): the text encoder zeroes the padding and the teacher "
                   "learns cross-attention that reads each object's words at that object (training/README.md); a work folder's plain "
                   "teacher and students are moved aside, not mixed in")
    p.add_argument("--removal", action="store_true",
                   help="removal pairs (experimental, for NASA): the students also regress, with the serving NASA edit, onto the "
                   "teacher's samples of the kept objects (stages/removal.py); use its own --work folder")
    p.add_argument("--removal-weight", type=float, default=None, metavar="W",
                   help=f"the removal pairs' loss weight (default {REMOVAL_WEIGHT}; implies --removal)")
    args = p.parse_args(argv)
    if args.removal_weight is not None:
        if not args.removal_weight > 0:
            p.error("--removal-weight must be above 0")
        args.removal = True
    return args


def run_options(args: argparse.Namespace, pgsb: StudentSettings, swiftbrush: StudentSettings) -> RunOptions:
    """The command line's choices as the recipe's typed options (the recipe's module loads when it is needed)."""
    from .recipe import RunOptions

    paired = PairedSettings(count=24, steps=3, chunk=8) if args.quick else PairedSettings()
    removal = None if not args.removal else RemovalSettings(count=24, steps=3, chunk=8) if args.quick else RemovalSettings()
    return RunOptions(work=args.work, results=args.results, out=args.out, until=args.until, only=args.only, students=args.students,
                      profile=args.profile, device=args.device, threads=args.threads, workers=args.workers, budgets=tuple(args.budget),
                      student_steps=args.student_steps, quick=args.quick, grounded=args.grounded, pgsb=pgsb, swiftbrush=swiftbrush,
                      paired=paired, removal=removal)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    where = device.use(args.device)
    budgets = parse_budgets(args.budget)
    args.work.mkdir(parents=True, exist_ok=True)
    cfg = ModelConfig(zero_padding=args.grounded)
    ae_s, teacher_s = AutoencoderSettings(), TeacherSettings()
    pgsb_s, sb_s = StudentSettings(kappa_mode="random"), StudentSettings(kappa_mode="fixed")
    if args.grounded:
        teacher_s.grounding = GROUNDED["teacher"]
        pgsb_s.grounding = sb_s.grounding = GROUNDED["students"]
    if args.removal:
        pgsb_s.removal_weight = sb_s.removal_weight = args.removal_weight or REMOVAL_WEIGHT
    apply_profile(args.profile, teacher_s, [pgsb_s, sb_s])
    for stage, settings in (("teacher", teacher_s), ("pgsb", pgsb_s), ("swiftbrush", sb_s)):
        settings.time_budget_s = budgets.get(stage, 0.0)
        settings.workers = args.workers
    clip_s = ClipSettings(workers=args.workers)
    if args.quick:
        ae_s.steps, teacher_s.steps, teacher_s.text_steps, teacher_s.warmup, clip_s.steps = 20, 30, 15, 5, 20
        for s in (pgsb_s, sb_s):
            s.steps, s.eval_every, s.warmup, s.paired_batch, s.removal_batch = 10, 5, 3, 2, 2
    if args.student_steps is not None:
        if args.student_steps < 1:
            raise SystemExit("--student-steps must be at least 1")
        pgsb_s.steps = sb_s.steps = args.student_steps
    started = time.monotonic()
    log("train", f"work dir {args.work.resolve()}, {args.threads} threads, torch {torch.__version__}, device {where}, profile {args.profile}")
    ae = train_autoencoder(cfg, ae_s, args.work)
    if args.until == "autoencoder":
        return 0
    teacher, text = train_teacher(cfg, teacher_s, ae, args.work)
    if args.until == "teacher":
        return 0
    scene_clip = train_scene_clip(clip_s, text, args.work)
    if args.until == "scene_clip":
        return 0
    from .recipe import Trained, finish  # students, evaluation and export

    finish(run_options(args, pgsb_s, sb_s), Trained(cfg, ae, teacher, text, scene_clip))
    log("train", f"all stages done in {(time.monotonic() - started) / 60:.1f} min")
    return 0
