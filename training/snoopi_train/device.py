"""Where the tensors live: the CPU by default, a CUDA GPU when the command asks for one.

Random numbers are always drawn on the CPU from per-step generators and then moved, so a stage's
random stream is the same on either device (the float results still differ in the last bits)."""
from __future__ import annotations

import torch

_device = torch.device("cpu")


def use(name: str) -> torch.device:
    """`cpu`, `cuda` or `auto` (a GPU when PyTorch sees one)."""
    global _device
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit(f"--device {name}: PyTorch sees no CUDA GPU here (torch {torch.__version__})")
    _device = torch.device(name)
    return _device


def current() -> torch.device:
    return _device


def put(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.to(_device, non_blocking=True)


def load(path) -> dict:
    """A checkpoint, onto the CPU whichever device wrote it (modules are moved after loading)."""
    return torch.load(path, map_location="cpu")
