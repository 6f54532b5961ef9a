"""What the stages share: resuming from a checkpoint, moving averages of weights, the time budget
and how often a stage prints a progress line."""
from __future__ import annotations

import time
from pathlib import Path

import torch

from .. import device
from ..checkpoint import Progress, log


def report_every(steps: int) -> int:
    """A progress line every 50 steps, or about a hundred lines for long stages."""
    return max(50, steps // 100 // 50 * 50)


def resume(path: Path, objects: dict) -> int:
    """Loads each object's state from the checkpoint `path` (when there is one) and returns its step (0: none)."""
    if not path.exists():
        return 0
    state = device.load(path)
    for key, obj in objects.items():
        obj.load_state_dict(state[key])
    log(path.stem, f"resuming from step {state['step']} ({path.name})")
    return int(state["step"])


@torch.no_grad()
def follow_average(average: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    """One step of an exponential moving average of `model`'s weights: a ← decay·a + (1 − decay)·p."""
    for a, p in zip(average.parameters(), model.parameters()):
        a.lerp_(p, 1 - decay)


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
