"""Hand labels of the committed default bundle's own images (training/labels/default-bundle.json and
.png), and how well a detector agrees with them: object by object (colour, shape, position) on the
images whose labels are all sure, and outcome by outcome (adherence to the prompt; the negative
prompt's removal) wherever the labels settle the outcome.

    cd training && python3 -m snoopi_train.labels            # the agreement of the detector
    python3 -m snoopi_train.labels --check-images             # also redraw the images from the bundle
"""
from __future__ import annotations

import argparse
import itertools
import json
from collections import Counter
from pathlib import Path

import numpy as np

from .detector import OTHER, Found, objects as detect_objects

LABELS = Path(__file__).resolve().parent.parent / "labels" / "default-bundle.json"
BUNDLE = Path(__file__).resolve().parent.parent.parent / "gpu-service" / "assets" / "default-bundle"
POSITION_TOLERANCE = 4.0  # pixels between a labelled centre and the detected one
SHAPES = ("circle", "square", "triangle", OTHER)


def load(path: Path = LABELS) -> list[dict]:
    return json.loads(path.read_text())["items"]


def images(path: Path = LABELS) -> np.ndarray:
    """The labelled images, (N, 32, 32, 3) uint8, from the PNG beside the labels."""
    from PIL import Image

    grid = np.asarray(Image.open(path.with_suffix(".png")).convert("RGB"))
    n = len(load(path))
    return np.stack([grid[(i // 16) * 32 : (i // 16 + 1) * 32, (i % 16) * 32 : (i % 16 + 1) * 32] for i in range(n)])


def regenerate(items: list[dict], bundle: Path = BUNDLE) -> np.ndarray:
    """The images of `items` drawn again from the bundle's ONNX weights (needs python3-onnx)."""
    from .bundle import load_bundle
    from .evaluate import one_step_images
    from .text_features import CaptionEncoder

    ae, text, unet = load_bundle(bundle)
    encode = CaptionEncoder(text)
    out = []
    for item in items:
        nasa = dict(negatives=[item["negative"]], alpha=item["alpha"], projection=item["projection"]) if "negative" in item else {}
        out.append(one_step_images(unet, ae, encode, [item["prompt"]], [item["seed"]], **nasa)[0])
    return np.stack(out)


def _sure(obj: dict) -> bool:
    return not obj.get("colour_unsure") and (obj["shape"] is not None or obj["colour"] == OTHER)


def _readings(obj: dict) -> list[tuple[str, str]]:
    """Every (colour, shape) the label allows; off-palette objects are all alike for the outcomes."""
    colours = [obj["colour"], OTHER] if obj.get("colour_unsure") else [obj["colour"]]
    return sorted({(OTHER, OTHER) if c == OTHER else (c, s) for c in colours for s in ([obj["shape"]] if obj["shape"] else SHAPES)})


def outcome(item: dict, kinds: Counter) -> tuple[bool, ...]:
    """What the evaluation reads from an image's objects: (adheres) for a prompt; (removed, kept,
    only kept kinds, exactly the kept objects) for a prompt with a negative prompt."""
    requested = [tuple(o) for o in item["requested"]]
    if "negative" not in item:
        return (kinds == Counter(requested),)
    remove = tuple(item["negative"].split())
    keep = [o for o in requested if o != remove]
    return kinds[remove] == 0, all(kinds[k] >= 1 for k in keep), set(kinds) <= set(keep), kinds == Counter(keep)


def labelled_outcomes(item: dict) -> set[tuple[bool, ...]]:
    """The outcomes the labels allow (one when they settle it)."""
    return {outcome(item, Counter(reading)) for reading in itertools.product(*(_readings(o) for o in item["objects"]))}


def _same_objects(labelled: list[dict], found: list[Found]) -> bool:
    if len(labelled) != len(found):
        return False
    for order in itertools.permutations(found):
        if all((f.colour == OTHER if o["colour"] == OTHER else (f.colour, f.shape) == (o["colour"], o["shape"]))
               and abs(f.cx - o["x"]) <= POSITION_TOLERANCE and abs(f.cy - o["y"]) <= POSITION_TOLERANCE for o, f in zip(labelled, order)):
            return True
    return False


def agreement(items: list[dict], pictures: np.ndarray, find=detect_objects) -> dict:
    """The detector (`find(image) -> list[Found]`) against the labels."""
    sure = same = 0
    mismatches = []
    confusion = {"prompt": Counter(), "negative prompt (success)": Counter(), "negative prompt (only kept kinds)": Counter(),
                 "negative prompt (exactly the kept objects)": Counter()}
    unsettled = Counter()
    for item, picture in zip(items, pictures):
        found = find(picture)
        if all(_sure(o) for o in item["objects"]):
            sure += 1
            if _same_objects(item["objects"], found):
                same += 1
            else:
                mismatches.append(item["index"])
        detected = outcome(item, Counter((OTHER, OTHER) if f.colour == OTHER else (f.colour, f.shape) for f in found))
        allowed = labelled_outcomes(item)
        reads = [("prompt", lambda o: o[0])] if "negative" not in item else [
            ("negative prompt (success)", lambda o: o[0] and o[1]), ("negative prompt (only kept kinds)", lambda o: o[0] and o[1] and o[2]),
            ("negative prompt (exactly the kept objects)", lambda o: o[3])]
        for name, read in reads:
            truth = {read(o) for o in allowed}
            if len(truth) > 1:
                unsettled[name] += 1
                continue
            confusion[name][(next(iter(truth)), read(detected))] += 1
    report = {"images": len(items), "sure_images": sure, "same_objects": same, "object_agreement": same / max(sure, 1), "mismatches": mismatches}
    for name, c in confusion.items():
        n = sum(c.values())
        report[name] = {"settled": n, "unsettled": unsettled[name], "agree": (c[(True, True)] + c[(False, False)]) / max(n, 1),
                        "true passes": c[(True, True)], "true fails": c[(False, False)],
                        "false passes": c[(False, True)], "false fails": c[(True, False)]}
    return report


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--check-images", action="store_true", help="redraw the images from the committed bundle and compare them with the PNG")
    args = p.parse_args()
    items, pictures = load(), images()
    if args.check_images:
        drawn = regenerate(items)
        print(f"redrawn from {BUNDLE}: {int((drawn != pictures).any(axis=(1, 2, 3)).sum())} of {len(items)} images differ")
    print(json.dumps(agreement(items, pictures), indent=1))


if __name__ == "__main__":
    main()
