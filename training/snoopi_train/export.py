"""Export to the bundle layout `optimum-cli export onnx` writes for Stable Diffusion, plus
`snoopi.json`, and reference images the TypeScript pipeline must reproduce for the same seeds.
The tokenizer files are written by the TypeScript side (scripts/train-default.ts), from the same
vendored CLIP merge list."""
from __future__ import annotations

import base64
from pathlib import Path

import torch

from .checkpoint import write_json
from .clip_ids import caption_ids
from .detector import to_uint8
from .diffusion import BETA_END, BETA_START, NUM_TRAIN_TIMESTEPS, ONE_STEP_TIMESTEP, STUDENT_PREDICTION, one_step
from .nets import ModelConfig, TextEncoder, UNet
from .noise import gaussian_noise

OPSET = 17


def export_bundle(out: Path, cfg: ModelConfig, text: TextEncoder, unet: UNet, ae, nasa_alpha: float, version: str, trained: str = "",
                  nasa_projection_alpha: float | None = None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    text, unet, ae = text.cpu().eval(), unet.cpu().eval(), ae.cpu().eval()  # the ONNX export traces on the CPU
    ids = torch.tensor([caption_ids("a red circle")], dtype=torch.int32)
    (out / "text_encoder").mkdir(exist_ok=True)
    torch.onnx.export(text, (ids,), str(out / "text_encoder" / "model.onnx"), opset_version=OPSET,
                      input_names=["input_ids"], output_names=["last_hidden_state"],
                      dynamic_axes={"input_ids": {0: "batch"}, "last_hidden_state": {0: "batch"}}, do_constant_folding=True)
    sample = torch.randn(1, cfg.latent_channels, 8, 8)
    timestep = torch.tensor([ONE_STEP_TIMESTEP], dtype=torch.int64)
    context = text(ids.long()).detach()
    (out / "unet").mkdir(exist_ok=True)
    torch.onnx.export(unet, (sample, timestep, context), str(out / "unet" / "model.onnx"), opset_version=OPSET,
                      input_names=["sample", "timestep", "encoder_hidden_states"], output_names=["out_sample"],
                      dynamic_axes={"sample": {0: "batch"}, "timestep": {0: "batch"}, "encoder_hidden_states": {0: "batch"}, "out_sample": {0: "batch"}},
                      do_constant_folding=True)
    (out / "vae_decoder").mkdir(exist_ok=True)
    torch.onnx.export(ae.decoder, (sample,), str(out / "vae_decoder" / "model.onnx"), opset_version=OPSET,
                      input_names=["latent_sample"], output_names=["sample"],
                      dynamic_axes={"latent_sample": {0: "batch"}, "sample": {0: "batch"}}, do_constant_folding=True)

    write_json(out / "model_index.json", {
        "_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.31.0",
        "feature_extractor": [None, None], "requires_safety_checker": False, "safety_checker": [None, None],
        "scheduler": ["diffusers", "EulerDiscreteScheduler"], "text_encoder": ["transformers", "CLIPTextModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"], "unet": ["diffusers", "UNet2DConditionModel"],
        "vae_decoder": ["diffusers", "AutoencoderKL"],
    })
    write_json(out / "scheduler" / "scheduler_config.json", {
        "_class_name": "EulerDiscreteScheduler", "_diffusers_version": "0.31.0", "beta_start": BETA_START, "beta_end": BETA_END,
        "beta_schedule": "scaled_linear", "num_train_timesteps": NUM_TRAIN_TIMESTEPS, "prediction_type": STUDENT_PREDICTION,
        "steps_offset": 1, "timestep_spacing": "trailing",
    })
    write_json(out / "text_encoder" / "config.json", {
        "architectures": ["CLIPTextModel"], "hidden_size": cfg.text_width, "num_hidden_layers": cfg.text_layers,
        "num_attention_heads": cfg.text_heads, "hidden_act": "quick_gelu", "max_position_embeddings": 77, "vocab_size": 49408,
    })
    write_json(out / "unet" / "config.json", {
        "_class_name": "UNet2DConditionModel", "sample_size": 8, "in_channels": cfg.latent_channels, "out_channels": cfg.latent_channels,
        "block_out_channels": list(cfg.unet_channels), "layers_per_block": 1, "cross_attention_dim": cfg.text_width,
        "attention_head_dim": cfg.head_dim, "norm_num_groups": cfg.norm_groups, "use_linear_projection": True,
        "snoopi_trained_by": f"training/ (PG-SB student{', ' + trained if trained else ''})",
    })
    write_json(out / "vae_decoder" / "config.json", {
        "_class_name": "AutoencoderKL", "latent_channels": cfg.latent_channels, "block_out_channels": list(cfg.ae_channels),
        "scaling_factor": float(ae.scaling_factor), "snoopi_note": "a small deterministic autoencoder trained on the shapes domain",
    })
    write_json(out / "snoopi.json", {
        "display_name": "SNOOPI shapes 32×32 (PG-SB one-step student, trained by training/)",
        "version": version, "backbone": "unknown", "one_step_timestep": ONE_STEP_TIMESTEP,
        "nasa_alpha": round(float(nasa_alpha), 4), "sizes": ["32x32"],
        # Present: a negative prompt uses NASA with projection by default, at this α (it measured better).
        **({} if nasa_projection_alpha is None else {"nasa_projection_alpha": round(float(nasa_projection_alpha), 4)}),
    })


# Cases the TypeScript pipeline must reproduce from the exported files (gpu-service test).
REFERENCE_CASES = [
    {"prompt": "a red circle and a blue square on a white background", "seed": 7},
    {"prompt": "a yellow triangle", "seed": 12345678901234567890},
    {"prompt": "a green square, a blue circle and a red triangle on a white background", "seed": 0},
    {"prompt": "a red circle and a blue square on a white background", "negative_prompt": "blue square", "seed": 7},
]


@torch.no_grad()
def reference_images(text: TextEncoder, unet: UNet, ae, alpha: float, cases=REFERENCE_CASES, projection: bool = False) -> list[dict]:
    out = []
    for case in cases:
        z = torch.from_numpy(gaussian_noise(case["seed"], 4 * 8 * 8)).reshape(1, 4, 8, 8)
        context = text(torch.tensor([caption_ids(case["prompt"])]))
        nasa = {}
        if "negative_prompt" in case:
            nasa = dict(negative_context=text(torch.tensor([caption_ids(case["negative_prompt"])])), nasa_alpha=torch.tensor([alpha]),
                        nasa_projection=projection)
        x0 = one_step(unet, z, context, **nasa)
        pixels = to_uint8(ae.decoder(x0 / ae.scaling_factor).numpy())[0]
        out.append({**case, "seed": str(case["seed"]), **({"alpha": alpha, "projection": projection} if nasa else {}),
                    "rgb_base64": base64.b64encode(pixels.tobytes()).decode()})
    return out
