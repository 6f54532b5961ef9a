"""The autoencoder stage: 32×32×3 images ↔ 8×8×4 latents, with the latents' scaling factor."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .. import device, scenes
from ..checkpoint import Progress, log, save_atomic, step_generator
from ..nets import AutoEncoder, ModelConfig
from .common import resume


@dataclass
class AutoencoderSettings:
    steps: int = 2500
    batch: int = 64
    lr: float = 2e-3
    latent_noise: float = 0.1
    seed: int = 1


def train_autoencoder(cfg: ModelConfig, s: AutoencoderSettings, work: Path, checkpoint_every: int = 250, on_step=None) -> AutoEncoder:
    final = work / "autoencoder.pt"
    torch.manual_seed(s.seed)  # the initial weights do not depend on which stages ran before
    ae = AutoEncoder(cfg)
    if final.exists():
        ae.load_state_dict(device.load(final)["model"])
        return ae.to(device.current())
    ae.to(device.current())
    opt = torch.optim.Adam(ae.parameters(), lr=s.lr)
    start = resume(work / "autoencoder.ckpt", {"model": ae, "opt": opt})
    progress = Progress("autoencoder", s.steps, start)
    for step in range(start, s.steps):
        if on_step is not None:
            on_step(step)  # tests interrupt here
        for group in opt.param_groups:
            group["lr"] = s.lr * 0.5 * (1 + math.cos(math.pi * step / s.steps))
        images, _, _ = scenes.batch(s.seed, step * s.batch, s.batch)
        x = device.put(torch.from_numpy(images))
        z = ae.encoder(x)
        g = step_generator(s.seed, step)
        recon = ae.decoder(z + s.latent_noise * device.put(torch.randn(z.shape, generator=g)))
        loss = F.l1_loss(recon, x) + F.mse_loss(recon, x) + 1e-4 * z.pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if (step + 1) % 100 == 0:
            progress.line(step + 1, loss=loss.item())
        if (step + 1) % checkpoint_every == 0:
            save_atomic({"step": step + 1, "model": ae.state_dict(), "opt": opt.state_dict()}, work / "autoencoder.ckpt")
    with torch.no_grad():
        images, _, _ = scenes.batch(s.seed + 100, 0, 1024, caption_variants=False)
        x = device.put(torch.from_numpy(images))
        z = ae.encoder(x)
        ae.scaling_factor.fill_(1.0 / z.std().item())
        error = (ae.decoder(z) - x).abs().mean().item()
    log("autoencoder", f"done: scaling factor {ae.scaling_factor.item():.4f}, mean reconstruction error {error:.4f} (of 2)")
    save_atomic({"model": ae.state_dict(), "reconstruction_error": error}, final)
    (work / "autoencoder.ckpt").unlink(missing_ok=True)
    return ae


def encode_latents(ae: AutoEncoder, images: np.ndarray) -> torch.Tensor:
    with torch.no_grad():
        return ae.encoder(device.put(torch.from_numpy(images))) * ae.scaling_factor


def decode_latents(ae: AutoEncoder, latents: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return ae.decoder(latents / ae.scaling_factor)
