"""A work folder's PG-SB student exported as a bundle, as the recipe's export stage does, at a given
NASA α and form (e.g. the α `probes/student_eval.py` tuned), for a contact sheet
(`python3 -m snoopi_train.samples --bundle OUT`) or for `npm run train:default`'s checks by hand.
The tokenizer files are not written (scripts/train/train-default.ts adds them when it installs).

    cd training && python3 probes/export_student.py ../.cache/training-removal ../.cache/bundles/removal --alpha 1.25 --projection
"""
import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import torch  # noqa: E402

from snoopi_train import device  # noqa: E402
from snoopi_train.export import export_bundle, reference_images  # noqa: E402
from snoopi_train.nets import ModelConfig  # noqa: E402
from snoopi_train.recipe import bundle_version  # noqa: E402
from snoopi_train.stages.student import StudentResult, load_student  # noqa: E402

p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
p.add_argument("work", type=Path)
p.add_argument("out", type=Path)
p.add_argument("--alpha", type=float, required=True, help="the NASA α the bundle defaults to")
p.add_argument("--projection", action="store_true", help="NASA with projection by default (else plain NASA)")
args = p.parse_args()
torch.set_num_threads(2)
ae, text, unet = load_student(args.work)
state = device.load(args.work / "pgsb.pt")
settings = state["settings"]
cfg = ModelConfig(zero_padding=text.zero_padding)
version = bundle_version(settings["batch"], cfg.zero_padding, args.projection, paired=settings.get("paired_weight", 0) > 0,
                         removal=settings.get("removal_weight", 0))
trained = StudentResult(unet, steps=int(state["step"]), batch=settings["batch"]).trained
export_bundle(args.out, cfg, text, unet, ae, args.alpha, version=version, trained=trained,
              nasa_projection_alpha=args.alpha if args.projection else None)
(args.out / "reference-images.json").write_text(json.dumps(reference_images(text, unet, ae, args.alpha, projection=args.projection)))
print(f"{args.out}: {version}, {trained}")
