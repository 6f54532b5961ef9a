"""After the teacher: both students, the evaluation (tables, NASA α tuning, curves) and the export."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import device
from .checkpoint import log, write_json
from .evaluate import REMOVAL_PAIRS, eval_set, one_step_images, removal_rates, split_metrics, student_curve_point, survey_pairs, teacher_images
from .export import export_bundle, reference_images
from .nets import AutoEncoder, ModelConfig, TextEncoder, UNet
from .plot import plot_curves
from .scene_clip import SceneCLIP
from .stages.paired import PairedSettings, make_paired_targets
from .stages.removal import REMOVAL_WEIGHT, RemovalSettings, make_removal_targets
from .stages.student import StudentResult, StudentSettings, student_finished, train_student
from .text_features import CaptionEncoder

ALPHA_CANDIDATES = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
PROJECTION_ALPHA_CANDIDATES = (0.75, 1.0, 1.25, 1.5, 1.75, 2.0)  # NASA with projection removes less per unit α (the API allows α ≤ 2)
TEACHER_STEPS, TEACHER_KAPPA = 25, 3.0
BUNDLE_VERSION = "shapes-pgsb-v4"  # the v4 recipe (one-step warm-up, no paired regression); the paired recipe's bundles: PAIRED_BUNDLE_VERSION
PAIRED_BUNDLE_VERSION = "shapes-pgsb-v5"
SURVEY_SEEDS = 10  # per pair of the NASA survey (112 pairs)
EVALUATION_VERSION = 6  # bump when evaluate_all measures something new, so cached evaluations are redone


@dataclass
class RunOptions:
    """What the run was asked for (the command line's choices, `cli.run_options`) and each student's settings."""
    work: Path
    results: Path
    out: Path
    until: str = "export"  # the last stage to run (cli.STAGES)
    only: str | None = None  # train this student alone and stop
    students: str = "together"  # or "one-by-one"
    profile: str = "cpu"
    device: str = "cpu"
    threads: int = 1
    workers: int = 0
    budgets: tuple[str, ...] = ()  # "STAGE=SECONDS", as given on the command line
    student_steps: int | None = None
    quick: bool = False
    grounded: bool = False
    pgsb: StudentSettings = field(default_factory=lambda: StudentSettings(kappa_mode="random"))
    swiftbrush: StudentSettings = field(default_factory=lambda: StudentSettings(kappa_mode="fixed"))
    paired: PairedSettings = field(default_factory=PairedSettings)
    removal: RemovalSettings | None = None  # the removal pairs (`--removal`); None: none

    def student(self, name: str) -> StudentSettings:
        return {"pgsb": self.pgsb, "swiftbrush": self.swiftbrush}[name]


@dataclass
class Trained:
    """What the stages before the students made."""
    cfg: ModelConfig
    ae: AutoEncoder
    teacher: UNet
    text: TextEncoder
    scene_clip: SceneCLIP


def finish(run: RunOptions, models: Trained) -> None:
    encode = CaptionEncoder(models.text)
    curve_fn = lambda unet: student_curve_point(unet, models.ae, encode)  # noqa: E731
    every = 1000 if device.current().type == "cuda" else 100  # a GPU step takes milliseconds
    # The teacher's DDIM samples the students regress onto, made once before the student processes start (they load them).
    paired = (make_paired_targets(models.teacher, encode, models.cfg.latent_channels, run.work, run.paired)
              if run.pgsb.paired_weight > 0 or run.swiftbrush.paired_weight > 0 else None)
    removal = (make_removal_targets(models.teacher, encode, models.cfg.latent_channels, run.work, run.removal)
               if run.removal is not None else None)
    if run.until == "pairs":
        return

    def train(name: str) -> StudentResult:
        return train_student(name, models.cfg, run.student(name), models.teacher, models.text, models.ae, run.work, curve_fn, every,
                             models.scene_clip, paired, removal)

    if run.only is not None:
        train(run.only)
        return
    if run.students == "together" and run.until != "pgsb":
        train_students_together(run)
    pgsb = train("pgsb")
    if run.until == "pgsb":
        return
    swiftbrush = train("swiftbrush")
    if run.until == "swiftbrush":
        return

    evaluation_file = run.work / "evaluation.json"
    trained = {"pgsb": pgsb.trained, "swiftbrush": swiftbrush.trained, "profile": run.profile, "evaluation": EVALUATION_VERSION}
    cached = json.loads(evaluation_file.read_text()) if evaluation_file.exists() else None
    if cached is not None and cached.get("trained") == trained:
        results = cached
    else:
        results = evaluate_all(run, models, pgsb, swiftbrush, encode)
        results["trained"] = trained
        write_json(evaluation_file, results)
    write_results(run.results, results)
    if run.until == "evaluate":
        return

    nasa = results["nasa"]
    projection = nasa.get("default") == "projection"
    alpha = nasa["projection_alpha"] if projection else nasa["alpha"]
    staging = run.out.with_name(run.out.name + ".staging")
    export_bundle(staging, models.cfg, models.text, pgsb.unet, models.ae, nasa["alpha"],
                  version=bundle_version(pgsb.batch, models.cfg.zero_padding, projection, paired=run.pgsb.paired_weight > 0,
                                         removal=run.pgsb.removal_weight), trained=pgsb.trained,
                  nasa_projection_alpha=alpha if projection else None)
    write_json(staging / "reference-images.json", reference_images(models.text, pgsb.unet, models.ae, alpha, projection=projection))
    log("export", f"bundle written to {staging} (tokenizer files and the final move are done by scripts/train-default.ts)")


def bundle_version(student_batch: int, grounded: bool, projection: bool = False, paired: bool = False, removal: float = 0.0) -> str:
    """The exported bundle's version: it names what decides the images, because the edge caches
    images under it. The committed default's PG-SB student trained at the GPU profile's batch (256),
    a CPU retrain's at 32 (`-cpu`); the grounded recipe adds `-grounded`; a bundle whose negative
    prompts use NASA with projection by default adds `-nasa-proj` (the same weights with plain NASA by
    default draw other images for the same request); a student of the paired recipe is `v5`; one
    trained with removal pairs (`--removal`, the weight `removal`) adds `-removal` (`-removal0.5` at another weight than 1)."""
    return ((PAIRED_BUNDLE_VERSION if paired else BUNDLE_VERSION) + ("-cpu" if student_batch <= StudentSettings().batch else "") + ("-grounded" if grounded else "")
            + (("-removal" if removal == 1 else f"-removal{removal:g}") if removal > 0 else "") + ("-nasa-proj" if projection else ""))


TRAINING_DIR = Path(__file__).resolve().parent.parent


def student_command(run: RunOptions, name: str, threads: int) -> list[str]:
    """This run's command line for one student alone (`--only`), with `threads` threads."""
    command = [sys.executable, "-m", "snoopi_train", "--only", name, "--threads", str(threads), "--work", str(run.work.resolve()),
               "--results", str(run.results.resolve()), "--out", str(run.out.resolve()), "--device", run.device,
               "--profile", run.profile, "--workers", str(run.workers)]
    command += [part for budget in run.budgets for part in ("--budget", budget)]
    if run.student_steps is not None:
        command += ["--student-steps", str(run.student_steps)]
    if run.quick:
        command.append("--quick")
    if run.grounded:  # without it the child would take the grounded teacher for another recipe's and set it aside
        command.append("--grounded")
    if run.removal is not None:  # and its weight, where it is not the default
        command += ["--removal"] if run.pgsb.removal_weight == REMOVAL_WEIGHT else ["--removal-weight", repr(run.pgsb.removal_weight)]
    return command


def train_students_together(run: RunOptions) -> None:
    """The unfinished students at once, one process each with an equal share of the threads (on two
    cores the 5,000-step v3 students took 64 min this way, ~80 min one after the other). A rerun
    resumes each from its checkpoint."""
    pending = [name for name in ("pgsb", "swiftbrush")
               if not (run.work / f"{name}.pt").exists() or not student_finished(device.load(run.work / f"{name}.pt"), run.student(name).steps)]
    if not pending:
        return
    threads = max(1, run.threads // len(pending))
    log("train", f"training {' and '.join(pending)} at once, one process each with {threads} thread(s)")
    children = [subprocess.Popen(student_command(run, name, threads), cwd=TRAINING_DIR) for name in pending]
    try:
        codes = [child.wait() for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.terminate()
                child.wait()
    failed = [f"{name} (exit {code})" for name, code in zip(pending, codes) if code != 0]
    if failed:
        raise SystemExit(f"student training stopped: {', '.join(failed)}; run the same command again to resume")


def evaluate_all(run: RunOptions, models: Trained, pgsb_result: StudentResult, swiftbrush_result: StudentResult, encode: CaptionEncoder) -> dict:
    ae, teacher, pgsb_s, sb_s = models.ae, models.teacher, run.pgsb, run.swiftbrush
    seeds_per_caption = 4 if run.quick else 25
    pgsb, swiftbrush = pgsb_result.unet, swiftbrush_result.unet
    results: dict = {"adherence": [], "curves": {f"PG-SB (κ ~ U({pgsb_s.kappa_min:g}, {pgsb_s.kappa_max:g}); {pgsb_result.trained})": pgsb_result.curve,
                                                 f"SwiftBrush (fixed κ = {sb_s.kappa_fixed:g}; {swiftbrush_result.trained})": swiftbrush_result.curve}}
    for split in ("held_out", "seen"):
        captions, objects, seeds = eval_set(split, seeds_per_caption)
        started = time.monotonic()
        rows = [
            (f"teacher ({TEACHER_STEPS} DDIM steps, CFG κ = {TEACHER_KAPPA})", 2 * TEACHER_STEPS,
             teacher_images(teacher, ae, encode, captions, seeds, TEACHER_STEPS, TEACHER_KAPPA)),
            (f"PG-SB student (one step; {pgsb_result.trained})", 1, one_step_images(pgsb, ae, encode, captions, seeds)),
            (f"SwiftBrush student, fixed κ (one step; {swiftbrush_result.trained})", 1, one_step_images(swiftbrush, ae, encode, captions, seeds)),
        ]
        for name, evals, images in rows:
            # Adherence and seed diversity (the fraction of seed pairs whose layouts differ), each with a 95%
            # interval over the captions; the teacher's diversity is the anchor the students are held to.
            results["adherence"].append({"model": name, "split": split, "unet_evaluations": evals, "images": len(captions),
                                         "seeds_per_caption": seeds_per_caption, **split_metrics(images, objects, captions)})
        log("evaluate", f"{split}: {[(r['model'], round(r['adherence'], 3)) for r in results['adherence'] if r['split'] == split]} "
            f"({time.monotonic() - started:.0f} s)")

    # NASA α of each form (plain, with projection): tuned on seeds 100000+ (not the reported ones), then
    # measured on seeds 0..99. The form that succeeded more often on the tuning seeds is the bundle's default.
    tuning_seeds = list(range(100_000, 100_000 + (8 if run.quick else 40)))
    sweep = [removal_rates(pgsb, ae, encode, tuning_seeds, a) for a in ALPHA_CANDIDATES]
    projection_sweep = [removal_rates(pgsb, ae, encode, tuning_seeds, a, projection=True) for a in PROJECTION_ALPHA_CANDIDATES]
    best, best_projection = (max(s, key=lambda r: (r["success"], -r["alpha"])) for s in (sweep, projection_sweep))
    default = "projection" if best_projection["success"] > best["success"] else "plain"
    for name, s, b in (("NASA", sweep, best), ("NASA with projection", projection_sweep, best_projection)):
        log("evaluate", f"{name} α sweep: " + ", ".join(f"α={r['alpha']}: {r['success']:.2f}" for r in s) + f" → α = {b['alpha']}")
    log("evaluate", f"the bundle's default: {'NASA with projection' if default == 'projection' else 'NASA'}")
    a, ap = best["alpha"], best_projection["alpha"]
    report_seeds = list(range(10 if run.quick else 100))
    forms = (("without", pgsb, 0.0, False), ("with", pgsb, a, False), ("with_projection", pgsb, ap, True),
             ("swiftbrush_without", swiftbrush, 0.0, False), ("swiftbrush_with", swiftbrush, a, False),
             ("swiftbrush_with_projection", swiftbrush, ap, True))
    results["nasa"] = {
        "alpha": a, "projection_alpha": ap, "default": default, "sweep": sweep, "projection_sweep": projection_sweep,
        "pairs": [{"prompt": " and ".join(f"{c} {s}" for c, s in objs), "negative": f"{r[0]} {r[1]}"} for objs, r in REMOVAL_PAIRS],
        "seeds": len(report_seeds),
        **{key: removal_rates(unet, ae, encode, report_seeds, alpha, projection=p) for key, unet, alpha, p in forms},
    }
    n = results["nasa"]
    log("evaluate", f"removal success without NASA {n['without']['success']:.3f}, with NASA {n['with']['success']:.3f}, "
        f"with projection {n['with_projection']['success']:.3f}")
    # The survey: the seen two-object pairs α was not tuned on (the eight pairs' seven two-object ones left out).
    survey, survey_seeds = survey_pairs(untuned=True), list(range(200_000, 200_000 + (2 if run.quick else SURVEY_SEEDS)))
    results["nasa_survey"] = {"pairs": len(survey), "seeds": len(survey_seeds), "untuned": True, **{
        key: removal_rates(unet, ae, encode, survey_seeds, alpha, pairs=survey, projection=p) for key, unet, alpha, p in forms}}
    sv = results["nasa_survey"]
    log("evaluate", f"the {len(survey)} seen two-object pairs α was not tuned on: success without NASA {sv['without']['success']:.3f}, "
        f"with NASA {sv['with']['success']:.3f}, with projection {sv['with_projection']['success']:.3f}")
    results["settings"] = {"pgsb": pgsb_s.__dict__, "swiftbrush": sb_s.__dict__, "seeds_per_caption": seeds_per_caption}
    return results


def clean(rates: dict) -> str:
    return f"{rates['clean']:.1%}" if "clean" in rates else "–"  # evaluations before it was measured


def removal_cells(r: dict, exact: bool) -> list[str]:
    success = interval_text({**r["success_interval"], "mean": r["success"]}) if exact else f"{r['success']:.1%}"
    return [f"{r['removed']:.1%}", f"{r['kept']:.1%}", success, clean(r)] + ([f"{r['exact']:.1%}"] if exact else [])


def interval_text(interval: dict) -> str:
    """"84.0% (71–97)": the mean and its 95% interval, in percent."""
    return f"{interval['mean']:.1%} ({100 * interval['low']:.0f}–{100 * interval['high']:.0f})"


def write_results(folder: Path, results: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / "evaluation.json", results)
    series = {name: [(p["step"], p["held_out"]) for p in curve] for name, curve in results["curves"].items()}
    plot_curves(folder / "adherence-curve.png", series, "One-step students on held-out caption combinations (detector-judged)")
    models = dict.fromkeys(r["model"] for r in results["adherence"])
    with_diversity = all("diversity" in r for r in results["adherence"])  # evaluations before version 5 have neither it nor intervals
    if with_diversity:
        lines = ["Adherence and seed diversity (the fraction of seed pairs of a caption whose detected layouts differ: other objects, or one "
                 "moved more than 3 px), mean over captions with a 95% t-interval over the captions:", "",
                 "| model | UNet evaluations | held-out combinations | seen combinations | diversity, held-out | diversity, seen |",
                 "| --- | --- | --- | --- | --- | --- |"]
    else:
        lines = ["| model | UNet evaluations | held-out combinations | seen combinations |", "| --- | --- | --- | --- |"]
    for model in models:
        by_split = {r["split"]: r for r in results["adherence"] if r["model"] == model}
        held, seen = by_split["held_out"], by_split["seen"]
        if with_diversity:
            cells = [interval_text(held["adherence_interval"]), interval_text(seen["adherence_interval"]),
                     interval_text(held["diversity_interval"]), interval_text(seen["diversity_interval"])]
            lines.append(f"| {model} | {held['unet_evaluations']} | " + " | ".join(cells) + " |")
        else:
            lines.append(f"| {model} | {held['unet_evaluations']} | {held['adherence']:.1%} | {seen['adherence']:.1%} |")
    nasa = results["nasa"]
    a, ap = nasa["alpha"], nasa.get("projection_alpha")
    projected = "with_projection" in nasa  # evaluations before NASA with projection have no such rows
    default = "NASA with projection" if nasa.get("default") == "projection" else "NASA"
    exact_rows = "exact" in nasa["without"]  # evaluations before version 5 did not count it
    lines += ["", f"Negative-prompt removal, PG-SB student, {len(nasa['pairs'])} prompt/negative pairs × {nasa['seeds']} seeds "
              f"(success = the named object gone and the other objects kept; clean = success with nothing but the kept kinds of object in the image; "
              f"each form's α tuned on other seeds; the bundle's default: {default}"
              + ("; exact = exactly the kept objects, no copies; success's 95% interval over the pairs" if exact_rows else "") + "):", "",
              "| | removed | kept | success | clean | exact |" if exact_rows else "| | removed | kept | success | clean |",
              "| --- | --- | --- | --- | --- | --- |" if exact_rows else "| --- | --- | --- | --- | --- |"]
    rows = [("without NASA", "without"), (f"with NASA (α = {a})", "with")]
    rows += [(f"with NASA + projection (α = {ap})", "with_projection")] if projected else []
    rows += [("SwiftBrush student without NASA", "swiftbrush_without"), (f"SwiftBrush student with NASA (α = {a})", "swiftbrush_with")]
    rows += [(f"SwiftBrush student with NASA + projection (α = {ap})", "swiftbrush_with_projection")] if projected else []
    for label, key in rows:
        lines.append(f"| {label} | " + " | ".join(removal_cells(nasa[key], exact_rows)) + " |")
    lines += ["", "Per pair, PG-SB student (success):", "",
              "| prompt | negative | without | NASA | NASA + projection |" if projected else "| prompt | negative | without | with NASA |",
              "| --- | --- | --- | --- | --- |" if projected else "| --- | --- | --- | --- |"]
    for i, pair in enumerate(nasa["pairs"]):
        cells = [nasa[key]["per_pair"][i] for key in ("without", "with", "with_projection") if key in nasa]
        lines.append(f"| {pair['prompt']} | {pair['negative']} | " + " | ".join(f"{c:.0%}" for c in cells) + " |")
    survey = results["nasa_survey"]
    lines += ["", "NASA beyond those pairs: every seen two-object caption with each of its objects as the negative "
              + ("but the tuning pairs above, " if survey.get("untuned") else "")
              + f"({survey['pairs']} pairs × {survey['seeds']} seeds, the α values above):", "",
              "| | removed | kept | success | clean | exact | pairs with success ≥ 90% |" if exact_rows else
              "| | removed | kept | success | clean | pairs with success ≥ 90% |",
              "| --- | --- | --- | --- | --- | --- | --- |" if exact_rows else "| --- | --- | --- | --- | --- | --- |"]
    for label, key in (("PG-SB without NASA", "without"), ("PG-SB with NASA", "with"), ("PG-SB with NASA + projection", "with_projection"),
                       ("SwiftBrush without NASA", "swiftbrush_without"), ("SwiftBrush with NASA", "swiftbrush_with"),
                       ("SwiftBrush with NASA + projection", "swiftbrush_with_projection")):
        if key not in survey:
            continue
        r = survey[key]
        at_goal = sum(p >= 0.9 for p in r["per_pair"])
        lines.append(f"| {label} | " + " | ".join(removal_cells(r, exact_rows)) + f" | {at_goal} of {survey['pairs']} |")
    (folder / "results.md").write_text("\n".join(lines) + "\n")
