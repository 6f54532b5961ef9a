"""Resumable stages: periodic checkpoints written atomically, a final artefact per stage, and
progress lines with throughput and time left."""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import torch


def save_atomic(obj, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


class Progress:
    def __init__(self, stage: str, total: int, start: int):
        self.stage, self.total, self.start = stage, total, start
        self.started = time.monotonic()

    def restart(self, step: int) -> None:
        """Measure the speed from `step` on (after warm-up steps that ran at another speed)."""
        self.start, self.started = step, time.monotonic()

    def line(self, step: int, **metrics: float) -> None:
        elapsed = time.monotonic() - self.started
        done = step - self.start
        shown = " ".join(f"{k} {v:.4f}" for k, v in metrics.items())
        if done <= 0 or elapsed <= 0:  # just (re)started: no speed to tell yet
            print(f"[{self.stage}] step {step}/{self.total} {shown} · measuring speed", flush=True)
            return
        rate = done / elapsed
        print(f"[{self.stage}] step {step}/{self.total} {shown} · {rate:.2f} steps/s · {(self.total - step) / rate / 60:.1f} min left", flush=True)


def log(stage: str, message: str) -> None:
    print(f"[{stage}] {message}", flush=True)
    sys.stdout.flush()


def step_generator(seed: int, step: int, salt: int = 0) -> torch.Generator:
    """The random stream of one training step, independent of how the run was interrupted."""
    return torch.Generator().manual_seed((seed * 1_000_003 + step * 7919 + salt) % (2**63))


def write_json(path: Path, value) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2) + "\n")
