"""The committed default bundle evaluated with the fixed detector (training/README.md, "Corrected
evaluation"): its ONNX weights loaded back into the recipe's modules (snoopi_train.bundle, checked
against the bundle's reference images), then the recipe's own evaluation sets and seeds — adherence
and seed diversity on the held-out and seen captions (25 seeds each), the eight NASA pairs × 100
seeds and the survey's 105 pairs α was not tuned on × 10 seeds, without NASA, with plain NASA and with projection at
the bundle's α — with 95% intervals over captions (pairs). No training; about 5 minutes on two cores.

    cd training && python3 probes/bundle_eval.py [BUNDLE] [OUT.json]
"""
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from snoopi_train.bundle import check_reference_images, load_bundle  # noqa: E402
from snoopi_train.evaluate import REMOVAL_PAIRS, eval_set, one_step_images, removal_rates, split_metrics, survey_pairs  # noqa: E402
from snoopi_train.text_features import CaptionEncoder  # noqa: E402

SEEDS_PER_CAPTION, REPORT_SEEDS, SURVEY_SEEDS = 25, range(100), range(200_000, 200_010)  # as recipe.evaluate_all


def pixel_spread(images: np.ndarray, seeds_per_caption: int) -> dict:
    """Mean absolute pixel difference (of 255) between two seeds of one caption, and between two captions at one seed."""
    per_caption = images.reshape(-1, seeds_per_caption, *images.shape[1:]).astype(np.float32)
    seeds = np.abs(per_caption[:, 1:] - per_caption[:, :1]).mean()
    captions = np.abs(per_caption[1:, 0] - per_caption[:-1, 0]).mean()
    return {"between_seeds": float(seeds), "between_captions": float(captions)}


def main(bundle: Path, out: Path) -> None:
    torch.set_num_threads(2)
    started = time.monotonic()
    snoopi = json.loads((bundle / "snoopi.json").read_text())
    ae, text, unet = load_bundle(bundle)
    worst = check_reference_images(bundle, ae, text, unet)
    print(f"{bundle}: {snoopi['version']}; the loaded weights redraw its reference images to within {worst} (of 255)", flush=True)
    if worst > 1:
        raise SystemExit("the loaded weights do not reproduce the bundle")
    encode = CaptionEncoder(text)
    results = {"bundle": snoopi["version"], "reference_images_max_difference": worst, "seeds_per_caption": SEEDS_PER_CAPTION}
    for split in ("held_out", "seen"):
        captions, objects, seeds = eval_set(split, SEEDS_PER_CAPTION)
        images = one_step_images(unet, ae, encode, captions, seeds)
        m = split_metrics(images, objects, captions)
        results[split] = {**m, "pixel_spread": pixel_spread(images, SEEDS_PER_CAPTION)}
        a, d = m["adherence_interval"], m["diversity_interval"]
        print(f"{split}: adherence {a['mean']:.1%} (95% over {a['units']} captions: {a['low']:.1%}–{a['high']:.1%}, se {a['se']:.1%}); "
              f"diversity {d['mean']:.1%} ({d['low']:.1%}–{d['high']:.1%}); pixels {results[split]['pixel_spread']}", flush=True)
    forms = (("without", 0.0, False), ("with", snoopi["nasa_alpha"], False), ("with_projection", snoopi.get("nasa_projection_alpha", 0.0), True))
    results["nasa"] = {"pairs": len(REMOVAL_PAIRS), "seeds": len(REPORT_SEEDS)}
    survey = survey_pairs(untuned=True)  # as recipe.evaluate_all: the seen two-object pairs but the tuning ones
    results["nasa_survey"] = {"pairs": len(survey), "seeds": len(SURVEY_SEEDS), "untuned": True}
    for key, alpha, projection in forms:
        for name, pairs, seeds in (("nasa", REMOVAL_PAIRS, REPORT_SEEDS), ("nasa_survey", survey, SURVEY_SEEDS)):
            r = removal_rates(unet, ae, encode, list(seeds), alpha, pairs=pairs, projection=projection)
            results[name][key] = r
            s = r["success_interval"]
            print(f"{name} {key} (α {alpha}): removed {r['removed']:.1%} kept {r['kept']:.1%} success {r['success']:.1%} "
                  f"(95% over {s['units']} pairs: {s['low']:.1%}–{s['high']:.1%}) only kept kinds {r['clean']:.1%} exactly kept {r['exact']:.1%}; "
                  f"pairs ≥ 90%: {sum(p >= 0.9 for p in r['per_pair'])}", flush=True)
    results["seconds"] = round(time.monotonic() - started)
    out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"written {out} ({results['seconds']} s)")


if __name__ == "__main__":
    here = Path(__file__).resolve().parent.parent
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else here.parent / "gpu-service/assets/default-bundle",
         Path(sys.argv[2]) if len(sys.argv) > 2 else here / "results-gpu/corrected-evaluation.json")
