"""Text features of captions from the frozen text encoder, computed once per caption and cached."""
from __future__ import annotations

import torch

from . import device
from .clip_ids import caption_ids


class CaptionEncoder:
    """The encoder's whole hidden-state sequence per caption (the UNet's cross-attention context)."""

    def __init__(self, text_encoder):
        self.text_encoder = text_encoder.eval()
        self.cache: dict[str, torch.Tensor] = {}

    @torch.no_grad()
    def __call__(self, captions: list[str]) -> torch.Tensor:
        missing = sorted({c for c in captions if c not in self.cache})
        if missing:
            ids = torch.tensor([caption_ids(c) for c in missing])
            self.cache.update(zip(missing, self._features(ids, self.text_encoder(device.put(ids)))))
        return torch.stack([self.cache[c] for c in captions])

    def _features(self, ids: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        return hidden


class CaptionPooler(CaptionEncoder):
    """The feature at each caption's first end-of-text token, as CLIP pools its text."""

    def _features(self, ids: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        return hidden[torch.arange(len(ids), device=hidden.device), ids.argmax(dim=-1).to(hidden.device)]
