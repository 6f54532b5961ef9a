"""The noise schedule the bundles declare (SD's scaled_linear, 1000 steps; the teacher predicts ε), forward
noising, DDIM sampling with classifier-free guidance for the teacher, and the students' one-step x0."""
from __future__ import annotations

import torch

NUM_TRAIN_TIMESTEPS = 1000
BETA_START, BETA_END = 0.00085, 0.012
ONE_STEP_TIMESTEP = NUM_TRAIN_TIMESTEPS - 1

_betas = torch.linspace(BETA_START**0.5, BETA_END**0.5, NUM_TRAIN_TIMESTEPS, dtype=torch.float64) ** 2
ALPHAS_CUMPROD = torch.cumprod(1 - _betas, dim=0).float()


def alpha_bar(t: torch.Tensor) -> torch.Tensor:
    return ALPHAS_CUMPROD.to(t.device)[t.long()].view(-1, 1, 1, 1)


def add_noise(x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    a = alpha_bar(t)
    return a.sqrt() * x0 + (1 - a).sqrt() * noise


def x0_from_eps(xt: torch.Tensor, eps: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    a = alpha_bar(t)
    return (xt - (1 - a).sqrt() * eps) / a.sqrt()


def guided_eps(unet, xt, t, cond, uncond, kappa) -> torch.Tensor:
    """ε_uncond + κ (ε_cond − ε_uncond), both branches in one batch. κ: float or (B,) tensor."""
    b = xt.shape[0]
    eps = unet(torch.cat([xt, xt]), torch.cat([t, t]), torch.cat([cond, uncond]))
    e_c, e_u = eps[:b], eps[b:]
    k = torch.as_tensor(kappa, dtype=xt.dtype, device=xt.device).reshape(-1, 1, 1, 1)
    return e_u + k * (e_c - e_u)


# The students predict the image latent itself (the bundle declares prediction_type "sample"): measured
# on this model, an ε-predicting student (SwiftBrush's convention, x0 = (z − √(1−ᾱ)·ε̂)/√ᾱ at t = 999,
# which multiplies every error of ε̂ by 14.6) reached 14% adherence after 500 steps and 55% after
# 5,000; predicting x0 directly reached 60% 500 steps after a 300-step warm-up.
STUDENT_PREDICTION = "sample"


def one_step(unet, z, cond, **nasa) -> torch.Tensor:
    """A student's one-step generation: pure noise z at t = 999 in, the image latent x0 out."""
    t = torch.full((z.shape[0],), ONE_STEP_TIMESTEP, dtype=torch.long, device=z.device)
    return unet(z, t, cond, **nasa)


def teacher_one_step(unet, z, cond) -> torch.Tensor:
    """The ε-predicting teacher's x0 estimate from pure noise at t = 999 (where a student starts)."""
    t = torch.full((z.shape[0],), ONE_STEP_TIMESTEP, dtype=torch.long, device=z.device)
    return x0_from_eps(z, unet(z, t, cond), t)


@torch.no_grad()
def ddim_sample(unet, z, cond, uncond, steps: int = 25, kappa: float = 3.0) -> torch.Tensor:
    """Deterministic DDIM (η = 0) with trailing timestep spacing and classifier-free guidance."""
    ts = torch.linspace(NUM_TRAIN_TIMESTEPS - 1, 0, steps + 1).round().long()[:-1]
    x = z
    for i, t in enumerate(ts):
        tb = t.expand(z.shape[0]).to(z.device)
        eps = guided_eps(unet, x, tb, cond, uncond, kappa)
        x0 = x0_from_eps(x, eps, tb)
        if i + 1 < len(ts):
            a_next = ALPHAS_CUMPROD[ts[i + 1]].to(z.device)
            x = a_next.sqrt() * x0 + (1 - a_next).sqrt() * eps
        else:
            x = x0
    return x
