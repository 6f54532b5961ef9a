"""A work folder's PG-SB student evaluated as the recipe does (adherence on 500 + 500 images; each NASA
form's α tuned on seeds 100000+, then eight pairs × 100 seeds and the survey of the 105 untuned pairs; seed diversity too), without the teacher and
SwiftBrush rows — for a run that trained only that student (`--only pgsb`), e.g. the grounded one:

    cd training && python3 probes/student_eval.py ../.cache/training-grounded [--projection-only]

(`--projection-only`: NASA with projection alone, the removal pairs' form; about half the time.)

The survey is also reported in two halves: the combinations a `--removal` student's removal pairs may
use as prompts, and the untouched ones (stages/removal.py).
"""
import os
import sys
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from pathlib import Path
import torch
from snoopi_train.evaluate import eval_set, one_step_images, removal_images, removal_rates, removal_summary, split_metrics, survey_pairs
from snoopi_train.recipe import ALPHA_CANDIDATES, PROJECTION_ALPHA_CANDIDATES
from snoopi_train.stages.removal import removal_training_combo
from snoopi_train.stages.student import load_student
from snoopi_train.text_features import CaptionEncoder
torch.set_num_threads(2)
w = Path(sys.argv[1])
ae, text, unet = load_student(w)
encode = CaptionEncoder(text)
print("recipe", "grounded" if text.zero_padding else "plain", flush=True)
for split in ("held_out", "seen"):
    captions, objects, seeds = eval_set(split, 25)
    m = split_metrics(one_step_images(unet, ae, encode, captions, seeds), objects, captions)
    a, d = m["adherence_interval"], m["diversity_interval"]
    print(split, f"adherence {a['mean']:.3f} ({a['low']:.2f}–{a['high']:.2f}) diversity {d['mean']:.3f} ({d['low']:.2f}–{d['high']:.2f})", flush=True)
tuning = list(range(100_000, 100_040))
SURVEY_SEEDS = list(range(200_000, 200_010))
# The survey's halves: the combinations removal pairs may use as prompts (`--removal`) and the untouched ones.
trained_half = [pair for pair in survey_pairs(untuned=True) if removal_training_combo(pair[0])]
untouched_half = [pair for pair in survey_pairs(untuned=True) if not removal_training_combo(pair[0])]
forms = ((False, ALPHA_CANDIDATES), (True, PROJECTION_ALPHA_CANDIDATES))
for projection, cands in forms[1:] if "--projection-only" in sys.argv[2:] else forms:
    sweep = [removal_rates(unet, ae, encode, tuning, a, projection=projection) for a in cands]
    best = max(sweep, key=lambda r: (r["success"], -r["alpha"]))
    print("projection" if projection else "plain", "sweep", [(r["alpha"], round(r["success"], 2)) for r in sweep], "→", best["alpha"], flush=True)
    r = removal_rates(unet, ae, encode, list(range(100)), best["alpha"], projection=projection)
    # The survey's images once, the two halves in a row: the whole survey and each half are summaries of them.
    images, keeps, removes = removal_images(unet, ae, encode, SURVEY_SEEDS, best["alpha"], trained_half + untouched_half, projection)
    s = removal_summary(images, keeps, removes, len(trained_half) + len(untouched_half), len(SURVEY_SEEDS), best["alpha"], projection)
    print(f"  eight pairs × 100: removed {r['removed']:.3f} kept {r['kept']:.3f} success {r['success']:.3f} clean {r['clean']:.3f} per pair {[round(x, 2) for x in r['per_pair']]}", flush=True)
    print(f"  survey: removed {s['removed']:.3f} kept {s['kept']:.3f} success {s['success']:.3f} clean {s['clean']:.3f} exact {s['exact']:.3f} ≥90%: {sum(x >= 0.9 for x in s['per_pair'])}", flush=True)
    split = len(trained_half) * len(SURVEY_SEEDS)
    for half, pairs, part in (("removal-pair combos", trained_half, slice(0, split)), ("untouched combos", untouched_half, slice(split, None))):
        h = removal_summary(images[part], keeps[part], removes[part], len(pairs), len(SURVEY_SEEDS), best["alpha"], projection)
        print(f"    {half} ({len(pairs)} pairs): success {h['success']:.3f} ({h['success_interval']['low']:.2f}–{h['success_interval']['high']:.2f}) "
              f"clean {h['clean']:.3f} ({h['clean_interval']['low']:.2f}–{h['clean_interval']['high']:.2f}) exact {h['exact']:.3f}", flush=True)
