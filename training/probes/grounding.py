"""The grounding probes of training/results/HISTORY.md ("Grounded recipe probes"): short runs that test a
change to the teacher or the student for NASA, against a control, in about 30 minutes each on two cores.

    cd training
    python3 probes/grounding.py finetune zeropad --zero-padding             # teacher: 2,000 steps from the plain one
    python3 probes/grounding.py finetune grounded --zero-padding --grounding 0.02 --phrase
    python3 probes/grounding.py student grounded                             # a 1,200-step PG-SB student of it
    python3 probes/grounding.py student control --teacher plain              # the control: the unchanged teacher
    python3 probes/grounding.py eval grounded                                # adherence, eight pairs, survey
    python3 probes/grounding.py teacher grounded                             # the teacher's own adherence ('plain' too)

--work is a work folder of the plain recipe with its autoencoder, teacher and SceneCLIP (default
../.cache/training); results go to --out (default ../.cache/probes). One run each is noisy: two
students of the same teacher differed by 19 points on the eight pairs.
"""
from __future__ import annotations

import argparse
import copy
import os
import sys
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from snoopi_train import scenes  # noqa: E402
from snoopi_train.checkpoint import step_generator  # noqa: E402
from snoopi_train.diffusion import NUM_TRAIN_TIMESTEPS, add_noise  # noqa: E402
from snoopi_train.evaluate import adherence, eval_set, one_step_images, removal_rates, survey_pairs, teacher_images  # noqa: E402
from snoopi_train.grounding import Grounding, scene_masks  # noqa: E402
from snoopi_train.nets import AutoEncoder, ModelConfig, TextEncoder, UNet  # noqa: E402
from snoopi_train.scene_clip import SceneCLIP  # noqa: E402
from snoopi_train.stages.autoencoder import encode_latents  # noqa: E402
from snoopi_train.stages.student import StudentSettings, train_student  # noqa: E402
from snoopi_train.text_features import CaptionEncoder  # noqa: E402


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=("finetune", "student", "eval", "teacher"))
    p.add_argument("name", help="the probe's name (its files in --out)")
    p.add_argument("--work", type=Path, default=Path("../.cache/training"))
    p.add_argument("--out", type=Path, default=Path("../.cache/probes"))
    p.add_argument("--steps", type=int, default=None, help="finetune 2000, student 1200")
    p.add_argument("--zero-padding", action="store_true", help="finetune: the text encoder zeroes the padding")
    p.add_argument("--grounding", type=float, default=0.0, help="finetune: weight of the grounding loss")
    p.add_argument("--phrase", action="store_true", help="finetune: add the one-phrase pass to the grounding loss")
    p.add_argument("--teacher", default=None, help="student: the fine-tuned teacher's name, or 'plain' (default: the probe's name)")
    p.add_argument("--student-grounding", type=float, default=0.0, help="student: grounding on its own output's colours")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    return p.parse_args()


def load_plain(work: Path, zero_padding: bool):
    cfg = ModelConfig(zero_padding=zero_padding)
    ae, text, teacher = AutoEncoder(cfg), TextEncoder(cfg), UNet(cfg)
    ae.load_state_dict(torch.load(work / "autoencoder.pt")["model"])
    state = torch.load(work / "teacher.pt")
    text.load_state_dict(state["text_encoder"])
    teacher.load_state_dict(state["unet"])
    return cfg, ae, text, teacher


def finetune(args, out: Path) -> None:
    cfg, ae, text, teacher = load_plain(args.work, args.zero_padding)
    encode, steps, batch, seed = CaptionEncoder(text), args.steps or 2000, 64, 77
    unet = copy.deepcopy(teacher).train().requires_grad_(True)
    grounding = Grounding(unet) if args.grounding > 0 else None
    opt = torch.optim.AdamW(unet.parameters(), lr=2e-4, weight_decay=0.0)
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = 2e-4 * min(1.0, (steps - step) / (steps / 2))
        images, captions, batch_scenes = scenes.batch(seed, step * batch, batch)
        g = step_generator(seed, step)
        drop = torch.rand(batch, generator=g) < 0.1
        captions = ["" if d else c for c, d in zip(captions, drop.tolist())]
        x0 = encode_latents(ae, images)
        noise = torch.randn(x0.shape, generator=g)
        t = torch.randint(0, NUM_TRAIN_TIMESTEPS, (batch,), generator=g)
        noisy = add_noise(x0, noise, t)
        loss = denoising = F.mse_loss(unet(noisy, t, encode(captions)), noise)
        if grounding is not None:
            objects, masks = [s.objects for s in batch_scenes], [scene_masks(s) for s in batch_scenes]
            ground = grounding.loss(captions, objects, masks)
            if args.phrase:
                ground = ground + grounding.phrase_loss(unet, noisy, t, captions, objects, masks, encode)
            loss = loss + args.grounding * ground
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        opt.step()
        if step % 100 == 0:
            print(f"[finetune {args.name}] step {step}/{steps} denoising {denoising.item():.4f} total {loss.item():.4f}", flush=True)
    if grounding is not None:
        grounding.close()
    torch.save({"unet": unet.state_dict(), "zero_padding": args.zero_padding}, out / f"teacher-{args.name}.pt")


def probe_models(args, name: str):
    """The plain stages with the probe's teacher (or the plain one) and matching text encoder."""
    teacher_file = args.out / f"teacher-{name}.pt"
    zero_padding = name != "plain" and torch.load(teacher_file)["zero_padding"]
    cfg, ae, text, teacher = load_plain(args.work, zero_padding)
    if name != "plain":
        teacher.load_state_dict(torch.load(teacher_file)["unet"])
    return cfg, ae, text, teacher


def student(args) -> None:
    teacher_name = args.teacher or args.name
    cfg, ae, text, teacher = probe_models(args, teacher_name)
    scene_clip = SceneCLIP(cfg.text_width)
    scene_clip.load_state_dict(torch.load(args.work / "scene_clip.pt")["model"])
    scene_clip.eval().requires_grad_(False)
    encode = CaptionEncoder(text)
    captions, objects, seeds = eval_set("held_out", 8, 500_000)
    curve = lambda unet: {"held_out": adherence(one_step_images(unet, ae, encode, captions, seeds), objects)}  # noqa: E731
    settings = StudentSettings(steps=args.steps or 1200, eval_every=400, grounding=args.student_grounding)
    torch.save({"teacher": teacher_name}, args.out / f"{args.name}.teacher")
    train_student(args.name, cfg, settings, teacher, text, ae, args.out, curve, 100, scene_clip)


def evaluate(args) -> None:
    teacher_name = torch.load(args.out / f"{args.name}.teacher")["teacher"]
    cfg, ae, text, _ = probe_models(args, teacher_name)
    unet = UNet(cfg)
    unet.load_state_dict(torch.load(args.out / f"{args.name}.pt")["unet"])
    encode = CaptionEncoder(text)
    captions, objects, seeds = eval_set("held_out", 25)
    print(f"{args.name} held-out adherence {adherence(one_step_images(unet, ae, encode, captions, seeds), objects):.3f}", flush=True)
    for alpha in (0.75, 1.0, 1.5):
        pairs = removal_rates(unet, ae, encode, list(range(100_000, 100_040)), alpha)
        survey = removal_rates(unet, ae, encode, list(range(200_000, 200_010)), alpha, pairs=survey_pairs())
        print(f"{args.name} α={alpha} eight pairs success {pairs['success']:.3f} (removed {pairs['removed']:.3f} kept {pairs['kept']:.3f}) | "
              f"survey success {survey['success']:.3f} (removed {survey['removed']:.3f} kept {survey['kept']:.3f}) "
              f"pairs ≥ 90%: {sum(p >= 0.9 for p in survey['per_pair'])}", flush=True)


def teacher_adherence(args) -> None:
    """The probe's teacher (or 'plain') as a multi-step model: 25 DDIM steps, CFG 3, 200 held-out images."""
    _, ae, text, teacher = probe_models(args, args.name)
    captions, objects, seeds = eval_set("held_out", 10)
    images = teacher_images(teacher, ae, CaptionEncoder(text), captions, seeds, 25, 3.0)
    print(f"teacher {args.name} held-out adherence {adherence(images, objects):.3f} (25 DDIM steps, CFG 3, {len(captions)} images)", flush=True)


def main() -> None:
    args = parse()
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    {"finetune": lambda: finetune(args, args.out), "student": lambda: student(args), "eval": lambda: evaluate(args),
     "teacher": lambda: teacher_adherence(args)}[args.mode]()


if __name__ == "__main__":
    main()
