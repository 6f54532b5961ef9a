"""The contact sheet of a bundle: 6 prompts × 4 seeds, without a negative prompt (left) and with one
(right, the bundle's default NASA form at its α), so both seed diversity and removal are visible.

    cd training && python3 -m snoopi_train.samples [--bundle DIR] [--out PNG]

(defaults: the installed default bundle, results/samples.png). The bundle's ONNX weights are loaded
into the recipe's modules (bundle.py) and checked against its reference images first."""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from PIL import Image, ImageDraw, ImageFont  # noqa: E402

from .evaluate import one_step_images  # noqa: E402
from .text_features import CaptionEncoder  # noqa: E402

PAIRS = [
    ("a red circle and a blue square on a white background", "blue square"),
    ("a green triangle and a yellow circle on a white background", "yellow circle"),
    ("a blue circle and a red triangle on a white background", "red triangle"),
    ("a red square and a blue triangle on a white background", "red square"),
    ("a green square and a yellow triangle on a white background", "green square"),
    ("a yellow square and a green circle on a white background", "green circle"),
]
SEEDS = (0, 1, 2, 3)
SCALE, GAP, LABEL_WIDTH, HEADER = 3, 16, 300, 40
TRAINING_DIR = Path(__file__).resolve().parent.parent
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"  # Debian's fonts-dejavu-core


def font(size: int):
    return ImageFont.truetype(FONT, size) if Path(FONT).exists() else ImageFont.load_default()


def sheet(without: np.ndarray, with_negative: np.ndarray, title_right: str) -> Image.Image:
    """Images (prompts × seeds, 32, 32, 3) in two panels with the prompts on the left."""
    side = without.shape[2] * SCALE
    rows, cols = len(PAIRS), len(SEEDS)
    width = LABEL_WIDTH + 2 * cols * side + GAP + 8
    canvas = Image.new("RGB", (width, HEADER + rows * side), "white")
    draw, small = ImageDraw.Draw(canvas), font(12)
    draw.text((LABEL_WIDTH, 4), f"no negative prompt · seeds {', '.join(map(str, SEEDS))}", fill="black", font=small)
    draw.text((LABEL_WIDTH + cols * side + GAP, 4), title_right, fill="black", font=small)
    for r, (prompt, negative) in enumerate(PAIRS):
        y = HEADER + r * side
        short = prompt.removeprefix("a ").removesuffix(" on a white background")
        draw.text((6, y + side // 2 - 16), short, fill="black", font=small)
        draw.text((6, y + side // 2 + 2), f"negative: {negative}", fill=(120, 120, 120), font=small)
        for c in range(cols):
            for panel, images in enumerate((without, with_negative)):
                tile = Image.fromarray(images[r, c]).resize((side, side), Image.NEAREST)
                canvas.paste(tile, (LABEL_WIDTH + panel * (cols * side + GAP) + c * side, y))
    return canvas


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python3 -m snoopi_train.samples", description=__doc__.split("\n\n")[0])
    p.add_argument("--bundle", type=Path, default=TRAINING_DIR.parent / "gpu-service/assets/default-bundle", help="an exported bundle")
    p.add_argument("--out", type=Path, default=TRAINING_DIR / "results/samples.png", help="the PNG to write")
    args = p.parse_args(argv)
    from .bundle import check_reference_images, load_bundle

    snoopi = json.loads((args.bundle / "snoopi.json").read_text())
    ae, text, unet = load_bundle(args.bundle)
    worst = check_reference_images(args.bundle, ae, text, unet)
    if worst > 1:
        raise SystemExit(f"{args.bundle}: the loaded weights do not redraw its reference images (off by {worst} of 255)")
    projection = "nasa_projection_alpha" in snoopi
    alpha = snoopi["nasa_projection_alpha"] if projection else snoopi["nasa_alpha"]
    encode = CaptionEncoder(text)
    prompts = [prompt for prompt, _ in PAIRS for _ in SEEDS]
    negatives = [negative for _, negative in PAIRS for _ in SEEDS]
    seeds = [seed for _ in PAIRS for seed in SEEDS]
    shape = (len(PAIRS), len(SEEDS), 32, 32, 3)
    without = one_step_images(unet, ae, encode, prompts, seeds).reshape(shape)
    with_negative = one_step_images(unet, ae, encode, prompts, seeds, negatives=negatives, alpha=alpha, projection=projection).reshape(shape)
    form = "NASA with projection" if projection else "NASA"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet(without, with_negative, f"with the negative prompt ({form}, α {alpha:g})").save(args.out)
    print(f"{args.out}: {snoopi['version']}, {len(PAIRS)} prompts × {len(SEEDS)} seeds, without and with the negative prompt")


if __name__ == "__main__":
    main()
