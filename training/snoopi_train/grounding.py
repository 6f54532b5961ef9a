"""The grounded recipe (`--grounded`, experimental): cross-attention that reads each object's words
where that object is.

NASA (paper/NOTES.md) subtracts the negative prompt's cross-attention output Z− from the positive's
Z+. In Stable Diffusion that is a spatial edit because its cross-attention maps are localised: the
cells of a "blue square" attend to "blue" and "square". The small teacher trained here on the
denoising loss alone learnt nearly flat maps that mostly read the padding (which a causal text
encoder fills with a summary of the whole prompt), so NASA subtracted the negative's summary
everywhere and often broke the object it should keep. The grounded recipe zeroes the padding (nets.
words_mask) and, since the data set knows where every shape is, teaches localised maps directly, as
TokenCompose (Wang et al., CVPR 2024) does with segmentation masks: for every object, the attention
mass on its colour and shape tokens is pushed inside the object's cells, both as a share of that
token pair's spatial map (token term) and cell by cell (a binary cross-entropy against the cells);
a second pass does the same with one object's phrase alone as the context, the form a negative
prompt has. Students can add the same loss against the colours of their own output.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import device
from .clip_ids import caption_words
from .detector import palette_index, palette_pixels
from .nets import Attention, SpatialTransformer
from .scenes import IMAGE_SIZE, Scene, object_phrase, shape_coverage

CELL_THRESHOLD = 0.05  # a cell belongs to an object when the shape covers more than 5% of it


def object_token_positions(caption: str, objects: list[tuple[str, str]]) -> list[tuple[int, int]]:
    """The token positions (in the 77 ids, after the start token) of each object's colour and shape
    words, in the order the caption names them (the order of `objects`)."""
    words = caption_words(caption)
    positions, i = [], 0
    for colour, kind in objects:
        while i + 1 < len(words) and not (words[i] == colour and words[i + 1] == kind):
            i += 1
        if i + 1 >= len(words):
            raise ValueError(f"{colour} {kind!r} not named in the caption {caption!r}")
        positions.append((i + 1, i + 2))
        i += 2
    return positions


def scene_masks(scene: Scene) -> np.ndarray:
    """(objects, 32, 32): how much of each pixel each shape of a training scene covers."""
    masks = np.zeros((len(scene.shapes), IMAGE_SIZE, IMAGE_SIZE), np.float32)
    for k, shape in enumerate(scene.shapes):
        rows, cols, inside = shape_coverage(shape)
        masks[k, rows, cols] = inside
    return masks


def colour_masks(image: np.ndarray, objects: list[tuple[str, str]]) -> np.ndarray | None:
    """(objects, 32, 32): where a generated uint8 image (32, 32, 3) shows each object's colour (the
    detector's nearest-palette rule), or None when two objects share a colour (which is which is unknown)."""
    colours = [colour for colour, _ in objects]
    if len(set(colours)) < len(colours):
        return None
    nearest, near_enough = palette_pixels(image)
    return np.stack([(nearest == palette_index(colour)) & near_enough for colour in colours]).astype(np.float32)


def to_cells(masks: np.ndarray, cells: int) -> np.ndarray:
    """(objects, 32, 32) coverage → (objects, cells²) in {0, 1}: the cells each object covers."""
    size = IMAGE_SIZE // cells
    per_cell = masks.reshape(len(masks), cells, size, cells, size).mean(axis=(2, 4))
    return (per_cell > CELL_THRESHOLD).astype(np.float32).reshape(len(masks), -1)


def grounding_term(probs: torch.Tensor, tokens: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
    """probs (K, heads, queries, 77): one cross-attention map per object; tokens (K, 2): its colour and
    shape positions; cells (K, queries): its cells. Returns the mean of the token and pixel terms."""
    maps = probs.mean(dim=1)  # (K, queries, 77)
    index = tokens[:, None, :].expand(-1, maps.shape[1], -1)
    mass = maps.gather(2, index).sum(dim=-1).clamp(1e-4, 1 - 1e-4)  # (K, queries): attention on the object's words
    inside = (mass * cells).sum(dim=-1) / mass.sum(dim=-1)
    return ((1 - inside) ** 2).mean() + F.binary_cross_entropy(mass, cells)


class Grounding:
    """Records the UNet's cross-attention maps during a forward pass and turns them into the loss.
    `objects[b]` are the objects row b's caption names, in order; `masks[b]` their (objects, 32, 32)
    pixel masks, or None for a row not to ground."""

    def __init__(self, unet: nn.Module):
        self.layers: list[Attention] = [m.block.attn2 for m in unet.modules() if isinstance(m, SpatialTransformer)]
        for layer in self.layers:
            layer.keep_probs = True

    def close(self) -> None:
        for layer in self.layers:
            layer.keep_probs = False
            layer.probs = None

    def _maps_loss(self, rows: list[int], tokens: list[tuple[int, int]], masks: list[np.ndarray]) -> torch.Tensor:
        """The grounding term of the last forward pass, over (row of the batch, token pair, pixel mask) triples."""
        at = device.current()
        index, pairs = torch.tensor(rows, device=at), torch.tensor(tokens, device=at)
        stacked, by_grid = np.stack(masks), {}
        total = torch.zeros((), device=at)
        for layer in self.layers:
            cells = int(round(layer.probs.shape[2] ** 0.5))  # the layers at one resolution share the cell masks
            if cells not in by_grid:
                by_grid[cells] = torch.from_numpy(to_cells(stacked, cells)).to(at)
            total = total + grounding_term(layer.probs[index], pairs, by_grid[cells])
        return total / len(self.layers)

    def loss(self, captions: list[str], objects: list[list[tuple[str, str]]], masks: list[np.ndarray | None]) -> torch.Tensor:
        """The loss of the maps of the last forward pass over a batch with these captions (an empty
        caption, dropped for classifier-free guidance, has no words to ground)."""
        rows, tokens, pixel_masks = [], [], []
        for b, (caption, named, mask) in enumerate(zip(captions, objects, masks)):
            if caption and mask is not None:
                for pair, object_mask in zip(object_token_positions(caption, named), mask):
                    rows.append(b)
                    tokens.append(pair)
                    pixel_masks.append(object_mask)
        if not rows:
            return torch.zeros((), device=device.current())
        return self._maps_loss(rows, tokens, pixel_masks)

    def phrase_loss(self, unet: nn.Module, noisy: torch.Tensor, t: torch.Tensor, captions: list[str],
                    objects: list[list[tuple[str, str]]], masks: list[np.ndarray | None], encode) -> torch.Tensor:
        """A second pass over the rows with two or more objects, with one object's phrase alone as the
        context ("red circle", the form of a negative prompt): its words should be attended at that
        object's cells and nowhere else. The main pass cannot teach "nowhere else" in absolute terms,
        as there the other objects' words compete for the weight; NASA's negative branch has no such
        competitor, and without this pass it read the negative's words at the kept object's cells as
        much as anywhere. `encode(captions)` gives the context (the current text features)."""
        rows, phrases, pixel_masks = [], [], []
        for b, (caption, named, mask) in enumerate(zip(captions, objects, masks)):
            if caption and mask is not None and len(named) >= 2:
                k = b % len(named)
                rows.append(b)
                phrases.append(object_phrase(named[k], article=False))
                pixel_masks.append(mask[k])
        if not rows:
            return torch.zeros((), device=device.current())
        index = torch.tensor(rows, device=noisy.device)
        unet(noisy[index], t[index], encode(phrases))
        return self._maps_loss(list(range(len(rows))), [(1, 2)] * len(rows), pixel_masks)  # start token, colour, shape
