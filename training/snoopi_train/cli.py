"""The training recipe as one resumable command."""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch

from .checkpoint import log
from .nets import ModelConfig
from .stages import AutoencoderSettings, StudentSettings, TeacherSettings, train_autoencoder, train_teacher

STAGES = ("autoencoder", "teacher", "pgsb", "swiftbrush", "evaluate", "export")


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python3 -m snoopi_train",
        description="Train the built-in default model: autoencoder → teacher → PG-SB and fixed-κ SwiftBrush "
        "students → evaluation → ONNX bundle export. Rerun the same command to resume after an interruption.",
    )
    p.add_argument("--work", type=Path, default=Path("../.cache/training"), help="checkpoints and stage outputs (default ../.cache/training)")
    p.add_argument("--out", type=Path, default=Path("../gpu-service/assets/default-bundle"), help="where the exported bundle goes")
    p.add_argument("--results", type=Path, default=Path("results"), help="evaluation tables, curves and plot (default training/results)")
    p.add_argument("--until", choices=STAGES, default="export", help="stop after this stage")
    p.add_argument("--student-steps", type=int, default=None,
                   help=f"training steps of each student (default {StudentSettings().steps}); raising it later extends finished students")
    p.add_argument("--quick", action="store_true", help="a few steps per stage (for tests); never for the real model")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="PyTorch threads (default: all cores)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    args.work.mkdir(parents=True, exist_ok=True)
    cfg = ModelConfig()
    ae_s, teacher_s = AutoencoderSettings(), TeacherSettings()
    pgsb_s, sb_s = StudentSettings(kappa_mode="random"), StudentSettings(kappa_mode="fixed")
    if args.student_steps is not None:
        if args.student_steps < 1:
            raise SystemExit("--student-steps must be at least 1")
        pgsb_s.steps = sb_s.steps = args.student_steps
    if args.quick:
        ae_s.steps, teacher_s.steps, teacher_s.text_steps, teacher_s.warmup = 20, 30, 15, 5
        for s in (pgsb_s, sb_s):
            s.steps, s.eval_every = 10, 5
    started = time.monotonic()
    log("train", f"work dir {args.work.resolve()}, {args.threads} threads, torch {torch.__version__}")
    ae = train_autoencoder(cfg, ae_s, args.work)
    if args.until == "autoencoder":
        return 0
    teacher, text = train_teacher(cfg, teacher_s, ae, args.work)
    if args.until == "teacher":
        return 0
    from .recipe import finish  # students, evaluation and export

    finish(args, cfg, ae, teacher, text, pgsb_s, sb_s)
    log("train", f"all stages done in {(time.monotonic() - started) / 60:.1f} min")
    return 0
