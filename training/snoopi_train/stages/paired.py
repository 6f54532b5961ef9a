"""DMD's paired regression targets: the frozen teacher's multi-step samples (25-step DDIM with CFG)
from stored noise, so a student can regress noise → image onto a real mapping.

Why (issue 22): at t = 999 the teacher's one-step x0 estimate is close to the caption's mean picture
and barely a function of the noise; a student that regresses onto it (the old warm-up), then follows
VSD's mode seeking and the CLIP loss, draws one layout per caption whatever the seed. A teacher's
DDIM sample does depend on its noise (another z, another layout), and a student that keeps
regressing onto such pairs during VSD keeps that dependence (DMD: Yin et al. 2024, weight 0.25 on
its regression term; here the term is scaled like the VSD surrogate, see `paired_loss`)."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch

from .. import device, scenes
from ..checkpoint import Progress, log, save_atomic
from ..diffusion import ddim_sample
from ..evaluate import latent_noise
from ..nets import UNet
from ..text_features import CaptionEncoder

FILE_NAME = "paired-targets.pt"


@dataclass
class PairedSettings:
    count: int = 8192  # pairs; a student step draws `StudentSettings.paired_batch` of them
    steps: int = 25  # the teacher's DDIM steps (the evaluation's teacher row uses the same)
    kappa: float = 3.0  # the teacher's CFG scale for the targets (the evaluation's teacher row uses the same)
    seed: int = 17  # the caption stream (scenes.captions) and the noise
    chunk: int = 256  # pairs computed (and checkpointed) at a time


@dataclass
class PairedTargets:
    """`count` stored (caption, noise z, teacher sample x0) triples."""
    captions: list[str]
    z: torch.Tensor  # (N, C, 8, 8), on the CPU
    x0: torch.Tensor  # (N, C, 8, 8): ddim_sample(teacher, z, caption)

    def __len__(self) -> int:
        return len(self.captions)

    def draw(self, count: int, generator: torch.Generator) -> tuple[list[str], torch.Tensor, torch.Tensor]:
        """`count` pairs drawn uniformly with replacement (captions, z, x0), z and x0 on the training device."""
        index = torch.randint(len(self), (count,), generator=generator)
        return [self.captions[i] for i in index.tolist()], device.put(self.z[index]), device.put(self.x0[index])


def pair_noise(s: PairedSettings, start: int, size: int, channels: int) -> torch.Tensor:
    """The noise of pairs start..start+size-1, on the CPU: each pair's is the evaluation's latent noise of
    its own seed (a pure function of the settings' seed and the pair's index)."""
    return latent_noise([s.seed * 1_000_003 + i for i in range(start, start + size)], channels).cpu()


def make_paired_targets(teacher: UNet, encode: CaptionEncoder, channels: int, work: Path, s: PairedSettings | None = None) -> PairedTargets:
    """The pairs of `work/paired-targets.pt`, computed (resumably, a chunk at a time) when missing or
    made with other settings."""
    s = s or PairedSettings()
    all_captions, _ = scenes.captions(s.seed, 0, s.count)  # one draw of the caption variants, whatever the chunks
    z, x0 = teacher_samples("paired", teacher, encode, channels, work / FILE_NAME, s, all_captions)
    return PairedTargets(all_captions, z, x0)


def teacher_samples(stage: str, teacher: UNet, encode: CaptionEncoder, channels: int, path: Path, s: PairedSettings,
                    conditions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """(z, x0) of the teacher's DDIM + CFG samples of `conditions[i]` from `pair_noise(s, i)`, kept in
    `path` and computed (resumably, a chunk at a time) when missing or made with other settings or
    another teacher."""
    made_by = {"settings": s.__dict__, "teacher": fingerprint(teacher)}
    state = device.load(path) if path.exists() else None
    if state is not None and {key: state.get(key) for key in made_by} != made_by:
        log(stage, f"{path.name} was made with other settings or another teacher: computing again")
        state = None
    if state is None:
        state = {**made_by, "captions": [], "z": [], "x0": []}
    done = len(state["captions"])
    if done < s.count:
        teacher = teacher.eval()
        uncond_one = encode([""])
        progress = Progress(stage, s.count, done)
        log(stage, f"the teacher's {s.steps}-step DDIM samples (CFG κ = {s.kappa}) of {s.count:,} (caption, noise) pairs, from {done:,}")
        for start in range(done, s.count, s.chunk):
            size = min(s.chunk, s.count - start)
            captions = conditions[start : start + size]
            z = pair_noise(s, start, size, channels)
            cond = encode(captions)
            with torch.no_grad():
                x0 = ddim_sample(teacher, device.put(z), cond, uncond_one.expand_as(cond), steps=s.steps, kappa=s.kappa)
            state["captions"] += captions
            state["z"].append(z)
            state["x0"].append(x0.cpu())
            save_atomic(state, path)
            progress.line(start + size)
    return torch.cat(state["z"]), torch.cat(state["x0"])


def fingerprint(unet: UNet) -> str:
    """SHA-256 of the teacher's weights: samples of another teacher are never reused."""
    digest = hashlib.sha256()
    for name, tensor in unet.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def paired_loss(x0: torch.Tensor, target: torch.Tensor, batch: int) -> torch.Tensor:
    """0.5 |x0 − target|² summed per sample and divided by the step's batch: the same scale as the VSD
    surrogate (`distillation.vsd_loss`), whose gradient per element is O(1) / batch."""
    return 0.5 * ((x0 - target) ** 2).sum() / batch
