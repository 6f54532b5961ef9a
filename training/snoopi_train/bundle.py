"""An exported bundle's ONNX weights back in the recipe's PyTorch modules, so the evaluation can
measure a bundle whose training files are not at hand (the committed default bundle: its PG-SB
student trained on a lent GPU, and only the ONNX files were kept).

The ONNX exporter renames some weights (MatMul weights are stored transposed, GroupNorm's scale and
shift become Mul/Add constants). To find where each PyTorch weight went, modules of the same
configuration with distinct random values in every weight are exported the same way and each weight
is looked up by value; the bundle's initializer of that name, transformed back, is the weight.
`check_reference_images` then asks the loaded modules to redraw the bundle's reference images."""
from __future__ import annotations

import base64
import json
import tempfile
from pathlib import Path

import numpy as np
import torch

from .clip_ids import caption_ids
from .detector import to_uint8
from .diffusion import one_step
from .export import export_bundle
from .nets import AutoEncoder, ModelConfig, TextEncoder, UNet
from .noise import gaussian_noise

PARTS = ("text_encoder", "unet", "vae_decoder")


def _initializers(path: Path) -> dict[tuple[int, int], tuple[str, np.ndarray]]:
    """The graph's weights by where they are first used: (node index, input slot) → (name, array).
    Generated names (`onnx::MatMul_1361`) can differ between two exports of the same graph; the
    place in the graph does not."""
    import onnx  # Debian's python3-onnx; only this module needs it
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    arrays = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    places = {}
    for index, node in enumerate(graph.node):
        for slot, name in enumerate(node.input):
            if name in arrays and name not in places.values():
                places[(index, slot)] = name
    if len(places) != len(arrays):
        raise ValueError(f"{path}: {len(arrays) - len(places)} weights are not an input of any node")
    return {place: (name, arrays[name]) for place, name in places.items()}


def _where_each_weight_went(module: torch.nn.Module, exported: dict) -> dict[str, tuple[tuple[int, int], str]]:
    """state-dict key → (its place in the graph, "same" | "transposed" | "reshaped"), by value."""
    found = {}
    for key, value in module.state_dict().items():
        v = value.detach().cpu().numpy()
        for place, (_, array) in exported.items():
            if array.shape == v.shape and np.array_equal(array, v):
                found[key] = (place, "same")
            elif v.ndim == 2 and array.shape == v.T.shape and np.array_equal(array, v.T):
                found[key] = (place, "transposed")
            elif array.size == v.size and array.shape != v.shape and np.array_equal(array.reshape(v.shape), v):
                found[key] = (place, "reshaped")
            else:
                continue
            break
        else:
            raise ValueError(f"{key}: no initializer of the exported graph holds it")
    return found


def load_bundle(bundle: Path) -> tuple[AutoEncoder, TextEncoder, UNet]:
    """(autoencoder with the bundle's decoder and scaling factor — its encoder is not in a bundle —,
    text encoder, UNet) of an exported bundle, on the CPU, in eval mode."""
    version = json.loads((bundle / "snoopi.json").read_text())["version"]
    cfg = ModelConfig(zero_padding="-grounded" in version)
    generator = torch.Generator().manual_seed(0)
    modules = {"text_encoder": TextEncoder(cfg), "unet": UNet(cfg), "vae_decoder": AutoEncoder(cfg)}
    with torch.no_grad():
        for module in modules.values():
            for tensor in module.state_dict().values():
                if tensor.is_floating_point():
                    tensor.copy_(torch.randn(tensor.shape, generator=generator))
    ae = modules["vae_decoder"]
    with tempfile.TemporaryDirectory() as tmp:
        export_bundle(Path(tmp), cfg, modules["text_encoder"], modules["unet"], ae, nasa_alpha=1.0, version="probe")
        fresh = {part: _initializers(Path(tmp) / part / "model.onnx") for part in PARTS}
    for part in PARTS:
        module = ae.decoder if part == "vae_decoder" else modules[part]
        mapping = _where_each_weight_went(module, fresh[part])
        weights = _initializers(bundle / part / "model.onnx")
        state = {}
        for key, (place, how) in mapping.items():
            shape = module.state_dict()[key].shape
            name, array = weights[place]
            if array.shape != fresh[part][place][1].shape:
                raise ValueError(f"{bundle / part}: {name} has shape {array.shape}, the recipe's {key} needs {fresh[part][place][1].shape}")
            array = array.T if how == "transposed" else array.reshape(shape)
            state[key] = torch.from_numpy(np.array(array))
        module.load_state_dict(state)
    ae.scaling_factor.fill_(json.loads((bundle / "vae_decoder" / "config.json").read_text())["scaling_factor"])
    return ae.eval(), modules["text_encoder"].eval(), modules["unet"].eval()


@torch.no_grad()
def check_reference_images(bundle: Path, ae: AutoEncoder, text: TextEncoder, unet: UNet) -> int:
    """The largest pixel difference between the bundle's reference images (drawn in PyTorch at export)
    and the same cases drawn by the loaded modules."""
    worst = 0
    for case in json.loads((bundle / "reference-images.json").read_text()):
        z = torch.from_numpy(gaussian_noise(int(case["seed"]), 4 * 8 * 8)).reshape(1, 4, 8, 8)
        nasa = {}
        if "negative_prompt" in case:
            nasa = dict(negative_context=text(torch.tensor([caption_ids(case["negative_prompt"])])), nasa_alpha=torch.tensor([case["alpha"]]),
                        nasa_projection=case.get("projection", False))
        x0 = one_step(unet, z, text(torch.tensor([caption_ids(case["prompt"])])), **nasa)
        pixels = to_uint8(ae.decoder(x0 / ae.scaling_factor).numpy())[0].astype(int)
        expected = np.frombuffer(base64.b64decode(case["rgb_base64"]), np.uint8).reshape(pixels.shape).astype(int)
        worst = max(worst, int(np.abs(pixels - expected).max()))
    return worst
