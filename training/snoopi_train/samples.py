"""A picture of what the default model draws: prompts in the top row, the same seeds with a negative
prompt below — plain NASA in the middle row, NASA with projection in the bottom row, each at its tuned α. `python3 -m snoopi_train.samples [WORK] [RESULTS]` after training
(defaults ../.cache/training and results)."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from .evaluate import one_step_images  # noqa: E402
from .stages.student import load_student  # noqa: E402
from .text_features import CaptionEncoder  # noqa: E402

PAIRS = [
    ("a red circle and a blue square on a white background", "blue square"),
    ("a green triangle and a yellow circle on a white background", "yellow circle"),
    ("a blue circle and a red triangle on a white background", "red triangle"),
    ("a red square and a blue triangle on a white background", "red square"),
    ("a green square and a yellow triangle on a white background", "green square"),
    ("a blue triangle and a yellow square on a white background", "yellow square"),
    ("a yellow square and a green circle on a white background", "green circle"),  # the pair plain NASA fails
]


def main(work: Path, results: Path) -> None:
    ae, text, unet = load_student(work)
    nasa = json.loads((results / "evaluation.json").read_text())["nasa"]
    encode = CaptionEncoder(text)
    prompts = [p for p, _ in PAIRS for _ in range(2)]
    negatives = [n for _, n in PAIRS for _ in range(2)]
    seeds = list(range(len(prompts)))
    plain = one_step_images(unet, ae, encode, prompts, seeds)
    rows = [plain, one_step_images(unet, ae, encode, prompts, seeds, negatives=negatives, alpha=nasa["alpha"])]
    if "projection_alpha" in nasa:
        rows.append(one_step_images(unet, ae, encode, prompts, seeds, negatives=negatives, alpha=nasa["projection_alpha"], projection=True))
    grid = np.concatenate([np.concatenate(list(row), axis=1) for row in rows], axis=0)
    Image.fromarray(grid).resize((grid.shape[1] * 4, grid.shape[0] * 4), Image.NEAREST).save(results / "samples.png")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../.cache/training"), Path(sys.argv[2] if len(sys.argv) > 2 else "results"))
