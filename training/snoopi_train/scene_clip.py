"""A small CLIP for the shapes domain, for the CLIP loss of the PG-SB recipe.

The paper's students add a CLIP loss (weight 0.1, margin τ = 0.37 on SD: the student is pushed until
its image–caption cosine reaches τ). No CLIP image model can be downloaded here, so this one is
trained contrastively on the domain's rendered images and their captions: an image tower (a small
CNN on the 32×32 RGB image) and a text head on the frozen teacher text encoder's end-of-text feature
(as CLIP pools its text). Its margin is set the way τ relates to real images: the mean cosine of
real rendered images with their own captions. It never sees the evaluation detector's code or output.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from . import device, scenes
from .checkpoint import Progress, log, save_atomic
from .text_features import CaptionPooler

EMBED = 64


@dataclass
class ClipSettings:
    steps: int = 1500
    batch: int = 128
    lr: float = 2e-3
    seed: int = 5
    workers: int = 0


class SceneCLIP(nn.Module):
    def __init__(self, text_width: int):
        super().__init__()
        block = lambda cin, cout, stride: [nn.Conv2d(cin, cout, 3, stride=stride, padding=1), nn.GroupNorm(8, cout), nn.SiLU()]  # noqa: E731
        self.image_tower = nn.Sequential(
            *block(3, 32, 1), *block(32, 64, 2), *block(64, 64, 1), *block(64, 128, 2), *block(128, 128, 1), *block(128, 128, 2),
            nn.Flatten(), nn.Linear(128 * 4 * 4, 256), nn.SiLU(), nn.Linear(256, EMBED),
        )
        self.text_head = nn.Sequential(nn.Linear(text_width, 128), nn.SiLU(), nn.Linear(128, EMBED))
        self.logit_scale = nn.Parameter(torch.tensor(math.log(10.0)))
        self.register_buffer("margin", torch.tensor(0.0))

    def embed_images(self, images: torch.Tensor) -> torch.Tensor:
        """Images (N, 3, 32, 32) in [-1, 1] → unit vectors."""
        return F.normalize(self.image_tower(images), dim=-1)

    def embed_text(self, pooled: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.text_head(pooled), dim=-1)


def same_scene_targets(scene_list) -> torch.Tensor:
    """Row-normalised targets: images and captions of the same object multiset are all positives."""
    keys = [tuple(sorted(s.objects)) for s in scene_list]
    same = torch.tensor([[a == b for b in keys] for a in keys], dtype=torch.float32)
    return device.put(same / same.sum(dim=1, keepdim=True))


def clip_loss(model: SceneCLIP, images: torch.Tensor, pooled: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    logits = model.logit_scale.exp().clamp(max=100) * model.embed_images(images) @ model.embed_text(pooled).T
    return 0.5 * (torch.sum(-targets * logits.log_softmax(dim=1), dim=1).mean() + torch.sum(-targets.T * logits.T.log_softmax(dim=1), dim=1).mean())


def train_scene_clip(s: ClipSettings, text_encoder, work: Path, checkpoint_every: int = 250) -> SceneCLIP:
    final = work / "scene_clip.pt"
    torch.manual_seed(s.seed)
    model = SceneCLIP(text_encoder.final_norm.normalized_shape[0])
    if final.exists():
        model.load_state_dict(device.load(final)["model"])
        return model.to(device.current()).eval().requires_grad_(False)
    model.to(device.current())
    pool = CaptionPooler(text_encoder)
    opt = torch.optim.AdamW(model.parameters(), lr=s.lr, weight_decay=1e-4)
    progress = Progress("scene_clip", s.steps, 0)
    data = scenes.ahead(scenes.batch, ((s.seed, k * s.batch, s.batch) for k in range(s.steps)), s.workers)
    for step, (images, captions, scene_list) in enumerate(data):
        for group in opt.param_groups:
            group["lr"] = s.lr * 0.5 * (1 + math.cos(math.pi * step / s.steps))
        loss = clip_loss(model, device.put(torch.from_numpy(images)), pool(captions), same_scene_targets(scene_list))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if (step + 1) % 100 == 0:
            progress.line(step + 1, loss=loss.item())
    model.eval().requires_grad_(False)
    report = measure_scene_clip(model, pool, s.seed + 100)
    model.margin.fill_(report["matched_cosine"])
    log("scene_clip", f"done: {report}")
    save_atomic({"model": model.state_dict(), **report}, final)
    return model


@torch.no_grad()
def measure_scene_clip(model: SceneCLIP, pool: CaptionPooler, seed: int, size: int = 512) -> dict:
    """On fresh rendered scenes: the mean cosine of images with their own captions (the margin),
    with other scenes' captions, and how often an image's best caption among the batch has its objects."""
    images, _, scene_list = scenes.batch(seed, 0, size, caption_variants=False)
    image_emb = model.embed_images(device.put(torch.from_numpy(images)))
    text_emb = model.embed_text(pool([s.caption for s in scene_list]))
    cos = image_emb @ text_emb.T
    same = same_scene_targets(scene_list) > 0
    best = cos.argmax(dim=1)
    return {
        "matched_cosine": float(cos.diagonal().mean()),
        "unmatched_cosine": float(cos[~same].mean()),
        "retrieval": float(same[torch.arange(size, device=same.device), best].float().mean()),
    }
