"""The networks: a small autoencoder, a CLIP-style text encoder over CLIP token ids, and a latent
diffusion UNet built from Stable Diffusion's block types (ResNet blocks with a time embedding, and
transformer blocks with self-attention, cross-attention to the text and a GEGLU feed-forward), so the
exported graph has the cross-attention NASA edits. Attention is written out (MatMul/Softmax), the
form `snoopi nasa-rewrite` recognises; `negative_context`/`nasa_alpha` implement NASA in PyTorch too.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

CLIP_VOCAB_SIZE = 49408
MAX_TOKENS = 77


@dataclass
class ModelConfig:
    latent_channels: int = 4
    ae_channels: tuple[int, ...] = (32, 64, 64)  # 3 levels: 32×32 → 8×8 (scale factor 4)
    text_width: int = 64
    text_token_width: int = 32
    text_layers: int = 2
    text_heads: int = 2
    unet_channels: tuple[int, int] = (64, 96)
    head_dim: int = 32
    norm_groups: int = 16
    ff_mult: int = 4
    # Transformer blocks (self + cross-attention) on the 8×8 level too; off by default: on two CPU
    # cores, attention over 64 tokens cost more than the rest of the step.
    attention_on_high_level: bool = False
    # The grounded recipe (`--grounded`): the text encoder zeroes the positions after the first
    # end-of-text token (see words_mask).
    zero_padding: bool = False

    def to_json(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------- autoencoder

class Encoder(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        c0, c1, c2 = cfg.ae_channels
        self.net = nn.Sequential(
            nn.Conv2d(3, c0, 3, padding=1), nn.SiLU(),
            nn.Conv2d(c0, c1, 3, stride=2, padding=1), nn.SiLU(),
            nn.Conv2d(c1, c1, 3, padding=1), nn.SiLU(),
            nn.Conv2d(c1, c2, 3, stride=2, padding=1), nn.SiLU(),
            nn.Conv2d(c2, c2, 3, padding=1), nn.SiLU(),
            nn.Conv2d(c2, cfg.latent_channels, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Decoder(nn.Module):
    """Latent (4, 8, 8) → image (3, 32, 32) in about [-1, 1]; exported as `vae_decoder`."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        c0, c1, c2 = cfg.ae_channels
        self.net = nn.Sequential(
            nn.Conv2d(cfg.latent_channels, c2, 3, padding=1), nn.SiLU(),
            nn.Conv2d(c2, c2, 3, padding=1), nn.SiLU(),
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(c2, c1, 3, padding=1), nn.SiLU(),
            nn.Conv2d(c1, c1, 3, padding=1), nn.SiLU(),
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(c1, c0, 3, padding=1), nn.SiLU(),
            nn.Conv2d(c0, 3, 3, padding=1),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class AutoEncoder(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)
        # 1 / std of the training latents, fixed after training (`scaling_factor` in the bundle).
        self.register_buffer("scaling_factor", torch.tensor(1.0))


# ---------------------------------------------------------------- attention

class Attention(nn.Module):
    """Multi-head attention written as MatMul → Softmax → MatMul. With `negative_context` and
    `nasa_alpha` (per row) it returns Z+ − α·Z− before the output projection (NASA); with
    `nasa_projection`, Z+ − α·max(0, ⟨Z+, Z−⟩/‖Z−‖²)·Z− per token (NASA with projection, the serving
    rewrite's `nasa-proj`)."""

    def __init__(self, dim: int, context_dim: int | None, heads: int):
        super().__init__()
        context_dim = context_dim or dim
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_k = nn.Linear(context_dim, dim, bias=False)
        self.to_v = nn.Linear(context_dim, dim, bias=False)
        self.to_out = nn.Linear(dim, dim)
        self.keep_probs = False  # keep the last attention map in `probs` (the teacher's grounding loss reads it)
        self.probs: torch.Tensor | None = None

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        return x.reshape(b, n, self.heads, d // self.heads).transpose(1, 2)

    def _attend(self, q: torch.Tensor, context: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        k, v = self._split(self.to_k(context)), self._split(self.to_v(context))
        scores = torch.matmul(q, k.transpose(-1, -2)) * self.scale
        if mask is not None:
            scores = scores + mask
        probs = scores.softmax(dim=-1)
        if self.keep_probs:
            self.probs = probs
        z = torch.matmul(probs, v)
        b, h, n, d = z.shape
        return z.transpose(1, 2).reshape(b, n, h * d)

    def forward(self, x, context=None, mask=None, negative_context=None, nasa_alpha=None, nasa_projection=False):
        q = self._split(self.to_q(x))
        z = self._attend(q, x if context is None else context, mask)
        if negative_context is not None:
            negative = self._attend(q, negative_context)
            scale = nasa_alpha.view(-1, 1, 1)
            if nasa_projection:
                along = (z * negative).sum(dim=-1, keepdim=True) / ((negative * negative).sum(dim=-1, keepdim=True) + 1e-6)
                scale = scale * along.clamp_min(0)
            z = z - scale * negative
        return self.to_out(z)


class GEGLU(nn.Module):
    def __init__(self, dim: int, inner: int):
        super().__init__()
        self.proj = nn.Linear(dim, inner * 2)

    def forward(self, x):
        a, gate = self.proj(x).chunk(2, dim=-1)
        return a * F.gelu(gate)


class TransformerBlock(nn.Module):
    def __init__(self, dim: int, context_dim: int, heads: int, ff_mult: int):
        super().__init__()
        self.norm1, self.attn1 = nn.LayerNorm(dim), Attention(dim, None, heads)
        self.norm2, self.attn2 = nn.LayerNorm(dim), Attention(dim, context_dim, heads)
        self.norm3 = nn.LayerNorm(dim)
        self.ff = nn.Sequential(GEGLU(dim, dim * ff_mult), nn.Linear(dim * ff_mult, dim))

    def forward(self, x, context, negative_context=None, nasa_alpha=None, nasa_projection=False):
        x = x + self.attn1(self.norm1(x))
        x = x + self.attn2(self.norm2(x), context, negative_context=negative_context, nasa_alpha=nasa_alpha, nasa_projection=nasa_projection)
        return x + self.ff(self.norm3(x))


class SpatialTransformer(nn.Module):
    """Stable Diffusion's Transformer2DModel with a linear projection in and out."""

    def __init__(self, channels: int, context_dim: int, cfg: ModelConfig):
        super().__init__()
        self.norm = nn.GroupNorm(cfg.norm_groups, channels, eps=1e-6)
        self.proj_in = nn.Linear(channels, channels)
        self.block = TransformerBlock(channels, context_dim, channels // cfg.head_dim, cfg.ff_mult)
        self.proj_out = nn.Linear(channels, channels)

    def forward(self, x, context, negative_context=None, nasa_alpha=None, nasa_projection=False):
        b, c, h, w = x.shape
        y = self.norm(x).reshape(b, c, h * w).transpose(1, 2)
        y = self.block(self.proj_in(y), context, negative_context, nasa_alpha, nasa_projection)
        y = self.proj_out(y).transpose(1, 2).reshape(b, c, h, w)
        return x + y


class ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, temb: int, groups: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps=1e-5)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.time = nn.Linear(temb, cout)
        self.norm2 = nn.GroupNorm(groups, cout, eps=1e-5)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding as in diffusers (flip_sin_to_cos=True, shift 0)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class UNet(nn.Module):
    """ε-prediction UNet on (4, 8, 8) latents: two levels (8×8, 4×4), a transformer after every
    ResNet block, a mid block, skip connections."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        c0, c1 = cfg.unet_channels
        ctx, g, temb = cfg.text_width, cfg.norm_groups, cfg.unet_channels[0] * 4
        self.c0 = c0
        self.time_mlp = nn.Sequential(nn.Linear(c0, temb), nn.SiLU(), nn.Linear(temb, temb))
        self.conv_in = nn.Conv2d(cfg.latent_channels, c0, 3, padding=1)
        high = (lambda: SpatialTransformer(c0, ctx, cfg)) if cfg.attention_on_high_level else (lambda: None)
        self.down0_res, self.down0_attn = ResBlock(c0, c0, temb, g), high()
        self.downsample = nn.Conv2d(c0, c0, 3, stride=2, padding=1)
        self.down1_res, self.down1_attn = ResBlock(c0, c1, temb, g), SpatialTransformer(c1, ctx, cfg)
        self.mid_res1, self.mid_attn, self.mid_res2 = ResBlock(c1, c1, temb, g), SpatialTransformer(c1, ctx, cfg), ResBlock(c1, c1, temb, g)
        self.up1_res, self.up1_attn = ResBlock(c1 + c1, c1, temb, g), SpatialTransformer(c1, ctx, cfg)
        self.upsample = nn.Conv2d(c1, c1, 3, padding=1)
        self.up0_res, self.up0_attn = ResBlock(c1 + c0, c0, temb, g), high()
        self.norm_out = nn.GroupNorm(g, c0, eps=1e-5)
        self.conv_out = nn.Conv2d(c0, cfg.latent_channels, 3, padding=1)

    def forward(self, sample, timestep, context, negative_context=None, nasa_alpha=None, nasa_projection=False):
        nasa = dict(negative_context=negative_context, nasa_alpha=nasa_alpha, nasa_projection=nasa_projection)
        if timestep.dim() == 0:
            timestep = timestep.expand(sample.shape[0])
        temb = self.time_mlp(timestep_embedding(timestep, self.c0))
        h = self.conv_in(sample)
        h = self._attend(self.down0_attn, self.down0_res(h, temb), context, nasa)
        skip0 = h
        h = self.downsample(h)
        h = self.down1_attn(self.down1_res(h, temb), context, **nasa)
        skip1 = h
        h = self.mid_res2(self.mid_attn(self.mid_res1(h, temb), context, **nasa), temb)
        h = self.up1_attn(self.up1_res(torch.cat([h, skip1], dim=1), temb), context, **nasa)
        h = self.upsample(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        h = self._attend(self.up0_attn, self.up0_res(torch.cat([h, skip0], dim=1), temb), context, nasa)
        return self.conv_out(F.silu(self.norm_out(h)))

    @staticmethod
    def _attend(block, h, context, nasa):
        return h if block is None else block(h, context, **nasa)


# ---------------------------------------------------------------- text encoder

class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class TextLayer(nn.Module):
    def __init__(self, width: int, heads: int):
        super().__init__()
        self.norm1, self.attn = nn.LayerNorm(width), Attention(width, None, heads)
        self.norm2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, width * 4), QuickGELU(), nn.Linear(width * 4, width))

    def forward(self, x, mask):
        x = x + self.attn(self.norm1(x), mask=mask)
        return x + self.mlp(self.norm2(x))


class TextEncoder(nn.Module):
    """CLIP-style: token + position embeddings, causal pre-LN transformer, final LayerNorm. The token
    table is narrow (32) and projected to the width, to keep the committed bundle small."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.token_embedding = nn.Embedding(CLIP_VOCAB_SIZE, cfg.text_token_width)
        self.token_projection = nn.Linear(cfg.text_token_width, cfg.text_width, bias=False)
        self.position_embedding = nn.Parameter(torch.randn(MAX_TOKENS, cfg.text_width) * 0.01)
        self.layers = nn.ModuleList([TextLayer(cfg.text_width, cfg.text_heads) for _ in range(cfg.text_layers)])
        self.final_norm = nn.LayerNorm(cfg.text_width)
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        self.register_buffer("causal_mask", torch.full((MAX_TOKENS, MAX_TOKENS), -1e9).triu(1), persistent=False)
        self.zero_padding = cfg.zero_padding

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        x = self.token_projection(self.token_embedding(input_ids.long())) + self.position_embedding
        for layer in self.layers:
            x = layer(x, self.causal_mask)
        hidden = self.final_norm(x)
        return hidden * words_mask(input_ids)[:, :, None] if self.zero_padding else hidden


def words_mask(input_ids: torch.Tensor) -> torch.Tensor:
    """1.0 up to and including the first end-of-text token (the largest id in CLIP's vocabulary), 0.0
    after it. With `zero_padding` the text encoder zeroes the padding: a causal encoder fills it with a
    summary of the whole prompt, and a UNet then reads the prompt from there rather than from its
    words, which made NASA subtract the negative prompt everywhere instead of where its object is (see
    grounding.py). Zero vectors give the cross-attention a place to put weight that adds nothing. Part
    of the exported text encoder, so serving sees the same context."""
    first_end = input_ids.to(torch.float32).argmax(dim=-1, keepdim=True)  # ids < 2^24: exact; ArgMax on floats runs everywhere
    positions = torch.arange(input_ids.shape[-1], device=input_ids.device)[None, :]
    return (positions <= first_end).to(torch.float32)


# ---------------------------------------------------------------- LoRA

class LoRALinear(nn.Module):
    """y = W x + scale · B A x, with B zero at the start (the LoRA teacher starts as the teacher)."""

    def __init__(self, base: nn.Linear, rank: int, scale: float):
        super().__init__()
        self.base = base
        self.down = nn.Linear(base.in_features, rank, bias=False)
        self.up = nn.Linear(rank, base.out_features, bias=False)
        self.scale = scale
        nn.init.normal_(self.down.weight, std=1 / rank)
        nn.init.zeros_(self.up.weight)

    def forward(self, x):
        return self.base(x) + self.scale * self.up(self.down(x))


def add_lora(model: nn.Module, rank: int, scale: float) -> list[nn.Parameter]:
    """Wraps every Linear inside the transformer blocks with LoRA; freezes everything else.
    Returns the LoRA parameters."""
    for p in model.parameters():
        p.requires_grad_(False)
    params: list[nn.Parameter] = []
    for module in list(model.modules()):
        if not isinstance(module, (Attention, TransformerBlock, GEGLU)):
            continue
        for name, child in list(module.named_children()):
            if isinstance(child, nn.Linear):
                wrapped = LoRALinear(child, rank, scale)
                setattr(module, name, wrapped)
                params += [wrapped.down.weight, wrapped.up.weight]
    # The feed-forward's second Linear sits in an nn.Sequential.
    for module in list(model.modules()):
        if isinstance(module, TransformerBlock) and isinstance(module.ff[1], nn.Linear):
            wrapped = LoRALinear(module.ff[1], rank, scale)
            module.ff[1] = wrapped
            params += [wrapped.down.weight, wrapped.up.weight]
    return params


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
