"""The students' losses: VSD's gradient and its surrogate, and the paper's CLIP margin loss."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..nets import AutoEncoder
from ..scene_clip import SceneCLIP


def vsd_gradient(x0: torch.Tensor, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """VSD's gradient with respect to the student's x0: the LoRA teacher's denoised estimate minus
    the frozen teacher's (so a descent step moves x0 towards the teacher's and away from the
    student's own distribution), normalised per sample by |x0 − real| as in DMD."""
    weight = 1.0 / (x0 - real).abs().mean(dim=(1, 2, 3), keepdim=True).clamp_min(1e-4)
    return (fake - real) * weight


def vsd_loss(x0: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """A surrogate whose gradient with respect to x0 is `grad` / batch."""
    return 0.5 * F.mse_loss(x0, (x0 - grad).detach(), reduction="sum") / x0.shape[0]


def clip_margin_loss(scene_clip: SceneCLIP, ae: AutoEncoder, x0: torch.Tensor, pooled_text: torch.Tensor) -> torch.Tensor:
    """The CLIP loss of the paper's recipe: mean max(0, margin − cos(image, caption)), through the
    (frozen) decoder, so the student's latents move towards images the SceneCLIP matches to the caption."""
    images = ae.decoder(x0 / ae.scaling_factor)
    cos = (scene_clip.embed_images(images) * scene_clip.embed_text(pooled_text)).sum(dim=-1)
    return F.relu(scene_clip.margin - cos).mean()
